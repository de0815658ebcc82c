"""Every custom resource the stack can render has a controller, named in one table (issue 16 item 5).

Each variant below is rendered for real; a kind outside Kubernetes' built-in API groups that is not
in ``workloads.custom_resources.CUSTOM_RESOURCES`` fails the test, and so does an object whose
stack-installed controller it does not wait for, or a missing/incorrect ``pulumi.com/waitFor``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from stack.render import load_stack_config, render_config
from tests.serving.test_lws_operator import LWS_OVERRIDES
from workloads.awaiting import WAIT_FOR
from workloads.custom_resources import (
    CUSTOM_RESOURCES,
    GKE,
    as_data,
    custom_kinds,
    is_builtin,
    unlisted,
)

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace")
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dev": ("dev", ()),
    "prod": ("prod", ()),
    "prod-multi-node": ("prod", LWS_OVERRIDES),
    "dev-keda": ("dev", ("autoscaling.mode=keda",)),
    "prod-keda": ("prod", ("autoscaling.mode=keda",)),
    **{f"dev-{backend}": ("dev", (f"model.weights.backend={backend}",)) for backend in BACKENDS},
}
_RENDERS: dict[str, object] = {}


def rendered(variant: str):
    if variant not in _RENDERS:
        stack, overrides = VARIANTS[variant]
        _RENDERS[variant] = render_config(load_stack_config(stack, list(overrides)), stack)
    return _RENDERS[variant]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_custom_resource_kind_is_in_the_controller_table(variant):
    assert unlisted(rendered(variant).manifests) == []


def test_the_table_covers_the_kinds_the_variants_render():
    """The variants exercise LWS, KEDA and GMP, so a table entry is proven by a render, not only listed."""
    seen = set().union(*(custom_kinds(rendered(v).manifests) for v in VARIANTS))
    assert {"LeaderWorkerSet", "ScaledObject", "TriggerAuthentication", "PodMonitoring"} <= {k for _, k in seen}


def test_an_unlisted_kind_is_reported_with_its_api_version():
    manifests = [
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        {"apiVersion": "keda.sh/v1beta9", "kind": "ScaledObject", "metadata": {"name": "s"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
    ]
    assert unlisted(manifests) == [
        "example.com/v1 Widget: no entry in workloads/custom_resources.CUSTOM_RESOURCES",
        "keda.sh/v1beta9 ScaledObject: listed as keda.sh/v1alpha1",
    ]


@pytest.mark.parametrize(
    ("api_version", "builtin"),
    [
        ("v1", True),
        ("apps/v1", True),
        ("apiregistration.k8s.io/v1", True),
        ("storage.k8s.io/v1", True),
        ("snapshot.storage.k8s.io/v1", False),
        ("monitoring.googleapis.com/v1", False),
    ],
)
def test_builtin_groups_are_the_api_servers_own(api_version, builtin):
    assert is_builtin(api_version) is builtin


def _ancestors(result, name: str) -> list[str]:
    """Types of a resource and of every component above it."""
    types, current = [], result.named(name)
    while True:
        types.append(current["type"])
        if current["parent"] is None:
            return types
        current = result.named(current["parent"])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_objects_wait_for_the_component_that_installs_their_controller(variant):
    result = rendered(variant)
    for resource in result.resources:
        entry = CUSTOM_RESOURCES.get(resource["inputs"].get("kind", ""))
        if entry is None or entry.component is None or resource.get("read"):
            continue
        installers = [d for d in resource["dependencies"] if entry.component in _ancestors(result, d)]
        assert installers, f"{resource['name']} ({entry.kind}) does not wait for {entry.component}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_custom_resources_carry_the_await_the_table_promises(variant):
    for manifest in rendered(variant).manifests:
        entry = CUSTOM_RESOURCES.get(manifest["kind"])
        if entry is None or is_builtin(manifest["apiVersion"]):
            continue
        promised = re.fullmatch(r"pulumi\.com/waitFor: (\S+)", entry.ready_when)
        annotation = manifest["metadata"].get("annotations", {}).get(WAIT_FOR)
        if promised:
            assert annotation == promised.group(1), manifest["metadata"]["name"]


@pytest.mark.parametrize(
    ("kind", "wait_for"),
    [
        ("LeaderWorkerSet", "condition=Available"),
        ("ScaledObject", "condition=Ready"),
        ("PodMonitoring", "condition=ConfigurationCreateSuccess"),
    ],
)
def test_exact_wait_for_annotations(kind, wait_for):
    variant = {"LeaderWorkerSet": "prod-multi-node", "ScaledObject": "dev-keda", "PodMonitoring": "dev"}[kind]
    manifests = rendered(variant).manifests_of_kind(kind)  # one per model
    assert manifests and all(m["metadata"]["annotations"][WAIT_FOR] == wait_for for m in manifests)


def test_trigger_authentication_has_no_status_condition_to_wait_for():
    crd = (REPO / "stack" / "schemas" / "keda" / "keda.sh_triggerauthentications.yaml").read_text()
    (version,) = [v for v in yaml.safe_load(crd)["spec"]["versions"] if v["name"] == "v1alpha1"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert "conditions" not in status
    manifests = rendered("dev-keda").manifests_of_kind("TriggerAuthentication")  # one per model
    assert manifests and all(WAIT_FOR not in m["metadata"].get("annotations", {}) for m in manifests)


def test_table_entries_are_complete_and_sourced():
    for kind, entry in CUSTOM_RESOURCES.items():
        assert entry.kind == kind
        assert not is_builtin(entry.api_version), kind
        assert entry.installed_by == GKE or (entry.component and entry.component.startswith("gke-inference:")), kind
        assert entry.source and entry.installed_what and entry.ready_when, kind
        if entry.min_gke_version is not None:
            assert re.fullmatch(r"1\.\d+\.\d+-gke\.\d+", entry.min_gke_version), kind
    assert as_data()["LeaderWorkerSet"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "installedBy": "stack:gke-inference:workloads:LwsOperator",
        "installedWhat": "Helm chart oci://registry.k8s.io/lws/charts/lws 0.10.0 in lws-system",
        "minGkeVersion": None,
        "requires": "serving.nodesPerReplica > 1 (the only case that renders one)",
        "readyWhen": "pulumi.com/waitFor: condition=Available",
        "source": CUSTOM_RESOURCES["LeaderWorkerSet"].source,
    }


def test_docs_list_every_kind_with_its_api_version_and_installer():
    doc = (REPO / "docs" / "controllers.md").read_text()
    rows = {
        cells[0].strip("` "): [c.strip("` ") for c in cells]
        for line in doc.splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }
    for kind, entry in CUSTOM_RESOURCES.items():
        assert kind in rows, f"docs/controllers.md has no row for {kind}"
        row = rows[kind]
        assert row[1] == entry.api_version, kind
        assert (entry.component or "GKE").split(":")[-1] in row[2], kind
        if entry.min_gke_version:
            assert entry.min_gke_version in row[3], kind
