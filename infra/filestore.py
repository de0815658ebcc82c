"""A Filestore instance holding model weights, shared over NFS (ReadWriteMany).

BASIC_HDD, BASIC_SSD and ZONAL instances live in a zone; REGIONAL and ENTERPRISE in a region. NFS is
reachable from every zone of the VPC, so the PersistentVolume needs no node affinity (cross-zone reads
cost inter-zone traffic; put a zonal instance in the zone of most replicas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp

from infra.options import inherited_depends_on

Tier = Literal["BASIC_HDD", "BASIC_SSD", "ZONAL", "REGIONAL", "ENTERPRISE"]
ZONAL_TIERS = ("BASIC_HDD", "BASIC_SSD", "ZONAL")
"""Tiers whose instance location is a zone; the others take a region."""
MIN_CAPACITY_GB: dict[str, int] = {
    "BASIC_HDD": 1024,
    "BASIC_SSD": 2560,
    "ZONAL": 1024,
    "REGIONAL": 1024,
    "ENTERPRISE": 1024,
}
"""Smallest share per tier (Filestore service-tiers page: Basic SSD starts at 2.5 TiB, the others at 1 TiB)."""


@dataclass(frozen=True)
class FilestoreShareArgs:
    project: str
    """GCP project id."""
    instance_name: str
    """Filestore instance name."""
    location: str
    """A zone for BASIC_HDD/BASIC_SSD/ZONAL, a region for REGIONAL/ENTERPRISE."""
    network: pulumi.Input[str]
    """VPC name, or ``projects/P/global/networks/N`` for a Shared VPC (the stack's network)."""
    tier: Tier = "ZONAL"
    """Service tier."""
    capacity_gb: int = 1024
    """Share capacity in GB."""
    share_name: str = "models"
    """NFS export name (the mount path is ``/<share_name>``)."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels."""

    def __post_init__(self) -> None:
        if self.tier not in MIN_CAPACITY_GB:
            raise ValueError(f"tier: '{self.tier}' is not one of {', '.join(MIN_CAPACITY_GB)}")
        if self.capacity_gb < MIN_CAPACITY_GB[self.tier]:
            raise ValueError(
                f"capacity_gb: {self.tier} shares start at {MIN_CAPACITY_GB[self.tier]} GB, got {self.capacity_gb}"
            )
        zonal_location = self.location.count("-") == 2  # us-central1-a vs us-central1
        if (self.tier in ZONAL_TIERS) != zonal_location:
            want = "a zone" if self.tier in ZONAL_TIERS else "a region"
            raise ValueError(f"location: a {self.tier} instance takes {want}, got '{self.location}'")


class FilestoreShare(pulumi.ComponentResource):
    """One Filestore instance with one share, on the stack's VPC (direct peering, IPv4)."""

    instance: gcp.filestore.Instance
    ip_address: pulumi.Output[str]
    share_name: str

    def __init__(self, name: str, args: FilestoreShareArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:FilestoreShare", name, {}, opts)
        self.share_name = args.share_name
        self.instance = gcp.filestore.Instance(
            f"{name}-instance",
            project=args.project,
            name=args.instance_name,
            location=args.location,
            tier=args.tier,
            file_shares=gcp.filestore.InstanceFileSharesArgs(name=args.share_name, capacity_gb=args.capacity_gb),
            networks=[
                gcp.filestore.InstanceNetworkArgs(
                    network=args.network, modes=["MODE_IPV4"], connect_mode="DIRECT_PEERING"
                )
            ],
            labels=args.labels or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=inherited_depends_on(opts)),
        )
        self.ip_address = self.instance.networks.apply(_first_ip)
        self.register_outputs({"ipAddress": self.ip_address, "shareName": self.share_name})


def _first_ip(networks: Sequence[Any]) -> str:
    ips = networks[0].ip_addresses if networks else None
    if not ips:
        raise ValueError("filestore: the instance reported no IP address on its network")
    return ips[0]
