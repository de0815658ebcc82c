"""``--set PATH=VALUE``: path parsing, YAML values, and errors that name the path."""

from __future__ import annotations

import pytest

from stack.config import ConfigError, StackConfig
from stack.config.overrides import apply_overrides, parse_path


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("region", ["region"]),
        ("gpuPools.l4-spot.autoscaling.maxNodes", ["gpuPools", "l4-spot", "autoscaling", "maxNodes"]),
        ("cluster.masterAuthorizedNetworks[0].cidr", ["cluster", "masterAuthorizedNetworks", 0, "cidr"]),
        ("autoscaling.metrics[12]", ["autoscaling", "metrics", 12]),
        ("a[0][1]", ["a", 0, 1]),
    ],
)
def test_parse_path(path, parts):
    assert parse_path(path) == parts


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a..b", "unexpected '..' in path 'a..b'"),
        ("a[x]", "unexpected '[' in path 'a[x]'"),
        ("a.", "path 'a.' is not of the form a.b[0].c"),
        ("a]", "path 'a]' is not of the form a.b[0].c"),
        ("", "path '' is not of the form a.b[0].c"),
    ],
)
def test_parse_path_errors(path, message):
    with pytest.raises(ValueError) as caught:
        parse_path(path)
    assert str(caught.value) == message


def test_values_are_yaml(dev_raw):
    result = apply_overrides(
        dev_raw,
        [
            "gpuPools.l4-spot.spot=false",
            "gpuPools.l4-spot.autoscaling.maxNodes=4",
            "serving.vllm.gpuMemoryUtilization=0.85",
            "zones=[us-central1-a, us-central1-f]",
            "labels={team: serving, cost-center: '42'}",
            "cluster.minMasterVersion='1.30'",
            "cluster.name=inference-x",
        ],
    )
    pool = result["gpuPools"]["l4-spot"]
    assert pool["spot"] is False
    assert pool["autoscaling"] == {"minNodes": 0, "maxNodes": 4}
    assert result["serving"]["vllm"]["gpuMemoryUtilization"] == 0.85
    assert result["zones"] == ["us-central1-a", "us-central1-f"]
    assert result["labels"] == {"team": "serving", "cost-center": "42"}
    assert result["cluster"]["minMasterVersion"] == "1.30"
    assert result["cluster"]["name"] == "inference-x"
    assert StackConfig.parse(result).gpu_pools["l4-spot"].autoscaling.max_nodes == 4


def test_original_is_not_modified(dev_raw):
    apply_overrides(dev_raw, ["gpuPools.l4-spot.spot=false", "cluster.masterAuthorizedNetworks[0].cidr=10.1.0.0/16"])
    assert dev_raw["gpuPools"]["l4-spot"]["spot"] is True
    assert dev_raw["cluster"]["masterAuthorizedNetworks"] == [{"cidr": "10.0.0.0/8", "name": "corp-vpn"}]


def test_list_items_replace_and_append(dev_raw):
    result = apply_overrides(
        dev_raw,
        [
            "cluster.masterAuthorizedNetworks[0].cidr=10.1.0.0/16",
            "cluster.masterAuthorizedNetworks[1]={cidr: 192.0.2.0/24, name: office}",
        ],
    )
    assert result["cluster"]["masterAuthorizedNetworks"] == [
        {"cidr": "10.1.0.0/16", "name": "corp-vpn"},
        {"cidr": "192.0.2.0/24", "name": "office"},
    ]


def test_missing_intermediate_keys_are_created(dev_raw):
    result = apply_overrides(
        dev_raw, ["network.existing.network=vpc-a", "gpuPools.l4-spot.secondaryBootDisks[0].diskImage=global/images/c"]
    )
    assert result["network"] == {"existing": {"network": "vpc-a"}}
    assert result["gpuPools"]["l4-spot"]["secondaryBootDisks"] == [{"diskImage": "global/images/c"}]


def test_value_may_contain_equals(dev_raw):
    result = apply_overrides(dev_raw, ["serving.vllm.extraArgs=[--foo=bar]"])
    assert result["serving"]["vllm"]["extraArgs"] == ["--foo=bar"]


def test_errors_name_each_bad_override(dev_raw):
    with pytest.raises(ConfigError) as caught:
        apply_overrides(
            dev_raw,
            [
                "noequals",
                "=3",
                "region.name=x",
                "zones.first=x",
                "zones[7]=us-central1-f",
                "cluster.masterAuthorizedNetworks[5].cidr=10.2.0.0/16",
                "a..b=1",
                "cluster.name=[unclosed",
            ],
        )
    assert caught.value.lines == [
        "--set 'noequals': expected PATH=VALUE, e.g. gpuPools.l4.spot=false",
        "--set '=3': expected PATH=VALUE, e.g. gpuPools.l4.spot=false",
        "platform.region.name: cannot set ('name' is inside a str, not a mapping)",
        "platform.zones.first: cannot set ('first' is inside a list, not a mapping)",
        "platform.zones[7]: cannot set (list assignment index out of range)",
        "platform.cluster.masterAuthorizedNetworks[5].cidr: cannot set (list index out of range)",
        "platform.a..b: cannot set (unexpected '..' in path 'a..b')",
        "platform.cluster.name: value '[unclosed' is not valid YAML; quote a string, e.g. --set 'cluster.name=\"...\"'",
    ]


def test_unquoted_version_becomes_a_float_and_is_refused(dev_raw):
    # YAML reads 1.30 as the float 1.3; the field must be quoted (--set "cluster.minMasterVersion='1.30'").
    with pytest.raises(ConfigError) as caught:
        StackConfig.parse(apply_overrides(dev_raw, ["cluster.minMasterVersion=1.30"]))
    assert caught.value.lines == [
        "platform.cluster.minMasterVersion: 1.3 was read as a number (1.30 would become 1.3): "
        'quote the version, e.g. "1.33"'
    ]
