"""VPC, subnet with pod/service secondary ranges, and Cloud Router + NAT for private nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


@dataclass(frozen=True)
class NetworkArgs:
    project: str
    """GCP project id."""
    region: str
    """Region of the subnet, router and NAT."""
    network_name: str
    """Name of the VPC to create; subnet/router/NAT names derive from it."""
    subnet_cidr: str
    """Primary range (node IPs)."""
    pods_cidr: str
    """Secondary range for pods."""
    services_cidr: str
    """Secondary range for Services."""
    nat: bool = True
    """Create Cloud Router + NAT (needed for egress from private nodes)."""


class Network(pulumi.ComponentResource):
    """A VPC-native network for a GKE cluster."""

    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    pods_range_name: str = PODS_RANGE
    services_range_name: str = SERVICES_RANGE

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:Network", name, {}, opts)
        child = child_options(self, opts)
        vpc = gcp.compute.Network(
            f"{name}-vpc",
            project=args.project,
            name=args.network_name,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            project=args.project,
            name=f"{args.network_name}-{args.region}",
            region=args.region,
            network=vpc.id,
            ip_cidr_range=args.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=args.pods_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=args.services_cidr),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_10_MIN", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
            opts=child,
        )
        if args.nat:
            router = gcp.compute.Router(
                f"{name}-router",
                project=args.project,
                name=f"{args.network_name}-router",
                region=args.region,
                network=vpc.id,
                opts=child,
            )
            gcp.compute.RouterNat(
                f"{name}-nat",
                project=args.project,
                name=f"{args.network_name}-nat",
                region=args.region,
                router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
                opts=child,
            )
        self.network_id = vpc.id
        self.subnetwork_id = subnet.id
        self.register_outputs({"networkId": self.network_id, "subnetworkId": self.subnetwork_id})
