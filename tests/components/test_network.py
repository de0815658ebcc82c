"""Network: VPC, subnet with pod/service ranges and flow logs, Cloud Router + NAT for private nodes."""

from __future__ import annotations

from dataclasses import replace

from infra.network import Network, NetworkArgs, validate_network_args

ARGS = NetworkArgs(
    project="p-test",
    region="us-central1",
    network_name="gke-inference",
    subnet_cidr="10.10.0.0/20",
    pods_cidr="10.16.0.0/14",
    services_cidr="10.20.0.0/20",
)


def test_network_exact_inputs(recorder):
    rec = recorder.run(lambda: Network("network", ARGS))
    assert rec.tree() == {
        ("gke-inference:infra:Network", "network", None),
        ("gcp:compute/network:Network", "network-vpc", "network"),
        ("gcp:compute/subnetwork:Subnetwork", "network-subnet", "network"),
        ("gcp:compute/router:Router", "network-router", "network"),
        ("gcp:compute/routerNat:RouterNat", "network-nat", "network"),
    }
    assert rec.inputs("network-vpc") == {
        "project": "p-test",
        "name": "gke-inference",
        "autoCreateSubnetworks": False,
        "routingMode": "REGIONAL",
    }
    assert rec.inputs("network-subnet") == {
        "project": "p-test",
        "name": "gke-inference-us-central1",
        "region": "us-central1",
        "network": "network-vpc-id",
        "ipCidrRange": "10.10.0.0/20",
        "privateIpGoogleAccess": True,
        "secondaryIpRanges": [
            {"rangeName": "pods", "ipCidrRange": "10.16.0.0/14"},
            {"rangeName": "services", "ipCidrRange": "10.20.0.0/20"},
        ],
        "logConfig": {
            "aggregationInterval": "INTERVAL_10_MIN",
            "flowSampling": 0.5,
            "metadata": "INCLUDE_ALL_METADATA",
        },
    }
    assert rec.inputs("network-router") == {
        "project": "p-test",
        "name": "gke-inference-router",
        "region": "us-central1",
        "network": "network-vpc-id",
    }
    assert rec.inputs("network-nat") == {
        "project": "p-test",
        "name": "gke-inference-nat",
        "region": "us-central1",
        "router": "gke-inference-router",
        "natIpAllocateOption": "AUTO_ONLY",
        "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "logConfig": {"enable": True, "filter": "ERRORS_ONLY"},
    }


def test_outputs_and_range_names(recorder):
    rec = recorder.run(lambda: Network("network", ARGS))
    network = rec.value
    assert rec.resolve(network.network_id) == "network-vpc-id"
    assert rec.resolve(network.subnetwork_id) == "network-subnet-id"
    assert (network.pods_range_name, network.services_range_name) == ("pods", "services")


def test_without_nat(recorder):
    rec = recorder.run(lambda: Network("network", replace(ARGS, nat=False)))
    assert rec.names() == ["network", "network-subnet", "network-vpc"]


# -- refused arguments ----------------------------------------------------------------------------


def test_overlapping_and_malformed_ranges(recorder):
    args = replace(ARGS, pods_cidr="10.10.8.0/21", services_cidr="10.20.0.1/20")
    assert recorder.refused(lambda: Network("network", args)) == [
        ("services_cidr", "'10.20.0.1/20' is not an IPv4 range in CIDR form with zero host bits "
                          "(10.20.0.1/20 has host bits set)"),
        ("pods_cidr", "10.10.8.0/21 overlaps subnet_cidr (10.10.0.0/20); a subnet's primary and secondary ranges "
                      "must not overlap"),
    ]


def test_names_derived_from_the_network_name_fit_63_characters(recorder):
    assert validate_network_args(replace(ARGS, network_name="n" * 51)) == []  # n…n-us-central1 is 63
    longer = replace(ARGS, network_name="n" * 52)
    assert recorder.refused(lambda: Network("network", longer)) == [
        ("network_name", f"the subnet name '{'n' * 52}-us-central1' derived from it is 64 characters; Compute Engine "
                         "allows 63"),
    ]


def test_vpc_name_pattern(recorder):
    args = replace(ARGS, network_name="GKE_net", nat=False)
    assert recorder.refused(lambda: Network("network", args)) == [
        ("network_name", "'GKE_net' is not a valid VPC name: 1–63 characters, lowercase letters, digits and hyphens, "
                         "starting with a letter and ending with a letter or digit"),
    ]
