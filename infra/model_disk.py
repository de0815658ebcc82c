"""Pre-populated model disks: pd-ssd / pd-balanced or Hyperdisk ML, created from a snapshot or image.

Zones. A Kubernetes claim binds one PersistentVolume, and a PV names one volume handle:

* ``hyperdisk-ml``: one disk **per zone**, all with the same name, each labelled
  ``goog-gke-multi-zone: "true"``, addressed by one multi-zone handle
  ``projects/P/zones/multi-zone/disks/NAME``. The PD CSI driver picks the disk in the node's zone and
  refuses the multi-zone handle unless the volume is read-only and the disks carry that label
  (driver ``pkg/common/constants.go`` MultiZoneValue / MultiZoneLabel, and its e2e tests; GKE's
  ``enable-multi-zone-provisioning`` StorageClass produces the same handles, anchors §3.9 / §5.4).
  A single zone uses the plain zonal handle.
* ``pd-ssd`` / ``pd-balanced``: **one zone only**. The driver enables the multi-zone handle per disk
  type by flag and GKE documents it for Hyperdisk ML only, so a PD model disk lives in one zone and the
  PV's node affinity keeps every replica there (the scheduler and cluster autoscaler honour it).
  Read-only PD multi-attach is also capped (anchors §5.4: 10 instances per PD CSI #1591, unverified).
  Use hyperdisk-ml for multi-zone or large fleets.

The disk name embeds the model revision, so a new revision makes a new disk (created before the old
one is deleted) instead of replacing one that pods still have attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

from infra.options import inherited_depends_on

MULTI_ZONE_LABEL = "goog-gke-multi-zone"
"""Label the PD CSI driver requires on every disk behind a multi-zone handle (MultiZoneLabel)."""
HYPERDISK_ML = "hyperdisk-ml"
HYPERDISK_ML_MIN_THROUGHPUT_MIBPS = 400
"""Lowest provisioned throughput the config allows for Hyperdisk ML (HyperdiskMlOptions.throughputMibps)."""
PD_TYPES = ("pd-ssd", "pd-balanced")

DiskType = Literal["pd-ssd", "pd-balanced", "hyperdisk-ml"]


@dataclass(frozen=True)
class ModelDiskArgs:
    project: str
    """GCP project id."""
    disk_name: str
    """GCE disk name (the same in every zone); 1–63 chars, lowercase letters, digits, dashes."""
    zones: tuple[str, ...]
    """Zones to create a copy in; pd-* types take exactly one."""
    disk_type: DiskType
    """pd-ssd, pd-balanced or hyperdisk-ml."""
    size_gb: int
    """Disk size in GB (at least the source's size)."""
    snapshot: str | None = None
    """Source snapshot (``global/snapshots/NAME`` or ``projects/P/global/snapshots/NAME``)."""
    image: str | None = None
    """Source image instead of a snapshot."""
    provisioned_throughput_mibps: int | None = None
    """Hyperdisk ML provisioned throughput in MiB/s (required for hyperdisk-ml, refused for pd-*)."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels."""

    def __post_init__(self) -> None:
        if self.disk_type not in (*PD_TYPES, HYPERDISK_ML):
            raise ValueError(f"disk_type: '{self.disk_type}' is not pd-ssd, pd-balanced or hyperdisk-ml")
        if (self.snapshot is None) == (self.image is None):
            raise ValueError("snapshot/image: give exactly one source holding the model")
        if not self.zones:
            raise ValueError("zones: give at least one zone")
        if len(set(self.zones)) != len(self.zones):
            raise ValueError(f"zones: {list(self.zones)} repeats a zone")
        if self.disk_type in PD_TYPES and len(self.zones) != 1:
            raise ValueError(
                f"zones: a {self.disk_type} model disk lives in one zone (a claim binds one zonal PV); "
                f"got {list(self.zones)}. Pick one zone, or use hyperdisk-ml for a multi-zone read-only volume"
            )
        if self.disk_type == HYPERDISK_ML:
            if (
                self.provisioned_throughput_mibps is None
                or self.provisioned_throughput_mibps < HYPERDISK_ML_MIN_THROUGHPUT_MIBPS
            ):
                raise ValueError(
                    "provisioned_throughput_mibps: hyperdisk-ml needs at least "
                    f"{HYPERDISK_ML_MIN_THROUGHPUT_MIBPS} MiB/s"
                )
        elif self.provisioned_throughput_mibps is not None:
            raise ValueError(f"provisioned_throughput_mibps: only hyperdisk-ml takes it, not {self.disk_type}")

    @property
    def multi_zone(self) -> bool:
        return self.disk_type == HYPERDISK_ML and len(self.zones) > 1


def volume_handle(project: str, zones: tuple[str, ...], disk_name: str, multi_zone: bool) -> str:
    """The PD CSI volume handle: zonal, or ``zones/multi-zone`` for same-named disks in several zones."""
    zone = "multi-zone" if multi_zone else zones[0]
    return f"projects/{project}/zones/{zone}/disks/{disk_name}"


class ModelDisk(pulumi.ComponentResource):
    """A read-only model disk in one or more zones, ready to back a static ReadOnlyMany PV."""

    disks: list[gcp.compute.Disk]
    disk_name: str
    zones: tuple[str, ...]
    volume_handle: pulumi.Output[str]
    multi_zone: bool

    def __init__(self, name: str, args: ModelDiskArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:ModelDisk", name, {}, opts)
        after = inherited_depends_on(opts)
        self.disk_name = args.disk_name
        self.zones = args.zones
        self.multi_zone = args.multi_zone
        handle = volume_handle(args.project, args.zones, args.disk_name, args.multi_zone)
        labels = {**args.labels, **({MULTI_ZONE_LABEL: "true"} if args.multi_zone else {})}
        hyperdisk = args.disk_type == HYPERDISK_ML
        self.disks = [
            gcp.compute.Disk(
                f"{name}-{zone}",
                project=args.project,
                name=args.disk_name,
                zone=zone,
                type=args.disk_type,
                size=args.size_gb,
                snapshot=args.snapshot,
                image=args.image,
                # Hyperdisk must be READ_ONLY_MANY before several VMs attach it (anchors §5.4);
                # PD attaches read-only to many VMs without an access mode.
                access_mode="READ_ONLY_MANY" if hyperdisk else None,
                provisioned_throughput=args.provisioned_throughput_mibps if hyperdisk else None,
                labels=labels or None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
            for zone in args.zones
        ]
        # An Output of the disks, so a PV built from it is created after them.
        self.volume_handle = pulumi.Output.all(*[d.id for d in self.disks]).apply(lambda _: handle)
        self.register_outputs(
            {"diskName": self.disk_name, "zones": list(self.zones), "volumeHandle": self.volume_handle}
        )


# --------------------------------------------------------------------------------------------
# The node pool GKE's Volume Populator transfer Job runs on
# --------------------------------------------------------------------------------------------

TRANSFER_COMPUTE_CLASS = "gcs-to-hdml-compute-class"
"""ComputeClass name the Volume Populator's transfer Job selects; it "must be specified exactly"
(GKE how-to "Automate data transfer from Cloud Storage to a Hyperdisk ML volume using GKE Volume Populator")."""
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"


@dataclass(frozen=True)
class TransferNodePoolArgs:
    """A scale-from-zero pool for the Volume Populator's transfer Job on a Standard cluster without node
    auto-provisioning: the how-to's manual pool, labelled and tainted with the compute class."""

    project: str
    """GCP project id."""
    cluster: pulumi.Input[str]
    """Cluster id (``projects/P/locations/L/clusters/C``)."""
    location: str
    """Cluster location."""
    node_locations: tuple[str, ...]
    """Zones with a Hyperdisk ML copy: the transfer runs in each of them."""
    service_account: pulumi.Input[str]
    """Node service account email (not the Compute Engine default)."""
    machine_type: str = "c3-standard-44"
    """The how-to's transfer machine; the Job requests 24 vCPU by default, and the machine must support
    Hyperdisk ML (C3/C3D and newer families)."""
    max_nodes_per_zone: int = 1
    """Transfer nodes per zone (one transfer Job per zone)."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP resource labels."""

    def __post_init__(self) -> None:
        if not self.node_locations:
            raise ValueError("node_locations: give at least one zone")
        if self.max_nodes_per_zone < 1:
            raise ValueError(f"max_nodes_per_zone: {self.max_nodes_per_zone} must be at least 1")

    @property
    def machine_family(self) -> str:
        return self.machine_type.split("-")[0]


class TransferNodePool(pulumi.ComponentResource):
    """Nodes for ``gcs-to-hdml-compute-class``: 0 until a transfer Job is pending, then scaled back to 0."""

    pool: gcp.container.NodePool

    def __init__(self, name: str, args: TransferNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:TransferNodePool", name, {}, opts)
        C = gcp.container
        self.pool = C.NodePool(
            f"{name}-pool",
            project=args.project,
            cluster=args.cluster,
            location=args.location,
            name="hdml-transfer",
            node_locations=list(args.node_locations),
            initial_node_count=0,
            autoscaling=C.NodePoolAutoscalingArgs(min_node_count=0, max_node_count=args.max_nodes_per_zone),
            management=C.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=C.NodePoolNodeConfigArgs(
                machine_type=args.machine_type,
                disk_type="pd-balanced",
                image_type="COS_CONTAINERD",
                service_account=args.service_account,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                workload_metadata_config=C.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=C.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                metadata={"disable-legacy-endpoints": "true"},
                labels={COMPUTE_CLASS_LABEL: TRANSFER_COMPUTE_CLASS},
                taints=[
                    C.NodePoolNodeConfigTaintArgs(
                        key=COMPUTE_CLASS_LABEL, value=TRANSFER_COMPUTE_CLASS, effect="NO_SCHEDULE"
                    )
                ],
                resource_labels=args.labels or None,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=inherited_depends_on(opts)),
        )
        self.register_outputs({"name": self.pool.name})
