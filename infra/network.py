"""VPC, subnet with pod/service secondary ranges, and Cloud Router + NAT for private nodes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import (
    Problem,
    ipv4_network,
    no_overlaps,
    project_id,
    raise_if_problems,
    rfc1035_name,
    type_problems,
)

PODS_RANGE = "pods"
SERVICES_RANGE = "services"
PROXY_ONLY_PURPOSE = "REGIONAL_MANAGED_PROXY"
PROXY_ONLY_ROLE = "ACTIVE"
"""compute.v1 discovery ``Subnetwork.purpose`` ("Subnetwork used for Regional Envoy-based Load Balancing") and
``Subnetwork.role`` (ACTIVE: "currently being used for Envoy-based load balancers in a region"). One ACTIVE
REGIONAL_MANAGED_PROXY subnet per VPC and region serves every regional Envoy-based load balancer, GKE's
``gke-l7-rilb`` and ``gke-l7-regional-external-managed`` Gateways included
(https://cloud.google.com/load-balancing/docs/proxy-only-subnets)."""
PROXY_ONLY_MAX_PREFIX = 26
"""A proxy-only subnet needs at least 64 addresses, a /26 (same page, "Plan the size of your proxy-only subnet";
its example range is 10.129.0.0/23)."""


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
    proxy_only_subnet_cidr: str | None = None
    """Range of a proxy-only subnet (REGIONAL_MANAGED_PROXY, ACTIVE) for regional Envoy-based load balancers such as
    GKE Gateways; None creates none. At least a /26."""


class Network(pulumi.ComponentResource):
    """A VPC-native network for a GKE cluster."""

    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    pods_range_name: str = PODS_RANGE
    services_range_name: str = SERVICES_RANGE

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("Network", name, validate_network_args(args))
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
            name=subnet_name(args),
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
        if args.proxy_only_subnet_cidr is not None:
            # No flow logs or Private Google Access: neither applies to a proxy-only subnet (its addresses are the
            # load balancer's proxies, never VMs).
            gcp.compute.Subnetwork(
                f"{name}-proxy-only",
                project=args.project,
                name=proxy_only_subnet_name(args),
                region=args.region,
                network=vpc.id,
                ip_cidr_range=args.proxy_only_subnet_cidr,
                purpose=PROXY_ONLY_PURPOSE,
                role=PROXY_ONLY_ROLE,
                opts=child,
            )
        self.network_id = vpc.id
        self.subnetwork_id = subnet.id
        self.register_outputs({"networkId": self.network_id, "subnetworkId": self.subnetwork_id})


def subnet_name(args: NetworkArgs) -> str:
    """The subnet's name: ``<network_name>-<region>``."""
    return f"{args.network_name}-{args.region}"


def proxy_only_subnet_name(args: NetworkArgs) -> str:
    """The proxy-only subnet's name: ``<network_name>-proxy-<region>``."""
    return f"{args.network_name}-proxy-{args.region}"


def proxy_only_range(path: str, value: str) -> tuple[ipaddress.IPv4Network | None, list[Problem]]:
    """A proxy-only subnet range: an IPv4 CIDR of at least 64 addresses."""
    network, problems = ipv4_network(path, value, "range")
    if network is not None and network.prefixlen > PROXY_ONLY_MAX_PREFIX:
        problems.append(Problem(path, f"{network} is a /{network.prefixlen}; a proxy-only subnet needs at least 64 "
                                      f"addresses (/{PROXY_ONLY_MAX_PREFIX} or larger)"))
    return network, problems


def validate_network_args(args: NetworkArgs) -> list[Problem]:
    """Problems Compute Engine would refuse at create time (pure).

    Names: compute.v1 discovery ``Network.name`` / ``Subnetwork.name`` / ``Router.name`` /
    ``RouterNat.name`` pattern, 1–63 characters, also for the names derived from ``network_name``.
    Ranges: ``Subnetwork.ipCidrRange`` and ``SubnetworkSecondaryRange.ipCidrRange`` ("Ranges must be unique
    and non-overlapping with all primary and secondary IP ranges within a network").
    """
    problems = type_problems(args, NetworkArgs)
    if problems:
        return problems
    problems = project_id("project", args.project)
    if not args.region:
        problems.append(Problem("region", "required: the subnet's region, e.g. us-central1"))
    problems += rfc1035_name("network_name", args.network_name, "VPC name")
    derived = {"subnet": subnet_name(args)}
    if args.proxy_only_subnet_cidr is not None:
        derived["proxy-only subnet"] = proxy_only_subnet_name(args)
    if args.nat:
        derived |= {"router": f"{args.network_name}-router", "NAT": f"{args.network_name}-nat"}
    for what, derived_name in derived.items():
        if len(derived_name) > 63:
            problems.append(Problem("network_name", f"the {what} name '{derived_name}' derived from it is "
                                                    f"{len(derived_name)} characters; Compute Engine allows 63"))
    ranges = {}
    for field in ("subnet_cidr", "pods_cidr", "services_cidr"):
        ranges[field], found = ipv4_network(field, getattr(args, field), "range")
        problems += found
    if args.proxy_only_subnet_cidr is not None:
        path = "proxy_only_subnet_cidr"
        ranges[path], found = proxy_only_range(path, args.proxy_only_subnet_cidr)
        problems += found
    problems += no_overlaps(ranges, "a subnet's primary and secondary ranges")
    return problems
