"""No resource of a stack deployed from round 1 changes its URN by accident.

A URN is ``<ancestor types>$<type>::<name>``; a changed one makes ``pulumi up`` delete the old
resource and create a new one. ``urns-round1/<stack>.txt`` lists every URN the round-1 render had
(commit 609932f). Each must still be rendered, be carried over by an ``aliases`` entry (recorded in
resources.json), or be listed below as removed on purpose, with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stack.render import render_stack

BASELINE = Path(__file__).parent / "urns-round1"

REMOVED_ON_PURPOSE = {
    "prod": {
        "gke-inference:infra:ModelDisk::weights-disk": "Hyperdisk ML is now filled by GKE's Volume Populator "
        "(GCPDataSource + PVC dataSourceRef) instead of disks cloned from a snapshot nothing made",
        "gke-inference:infra:ModelDisk$gcp:compute/disk:Disk::weights-disk-us-central1-a": "as above",
        "gke-inference:infra:ModelDisk$gcp:compute/disk:Disk::weights-disk-us-central1-c": "as above",
        "gke-inference:workloads:ModelVolume::model-weights-6f6073b4": "as above (static PV/PVC of those disks)",
        "gke-inference:workloads:ModelVolume$kubernetes:core/v1:PersistentVolume::model-weights-6f6073b4-pv":
            "as above",
        "gke-inference:workloads:ModelVolume$kubernetes:core/v1:PersistentVolumeClaim::model-weights-6f6073b4-pvc":
            "as above",
    },
}


def qualified_urns(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``<ancestor types>$<type>::<name>`` → record, for every resource of a render."""
    by_name = {r["name"]: r for r in resources}

    def chain(name: str | None) -> list[str]:
        types: list[str] = []
        while name:
            types.insert(0, by_name[name]["type"])
            name = by_name[name]["parent"]
        return types

    return {"$".join([*chain(r["parent"]), r["type"]]) + "::" + r["name"]: r for r in resources} | {
        "$".join([*chain(alias["parent"]), alias["type"]]) + "::" + alias["name"]: r
        for r in resources
        for alias in r.get("aliases", [])
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_round1_urns_survive(stack):
    now = qualified_urns(render_stack(stack).resources)
    removed = REMOVED_ON_PURPOSE.get(stack, {})
    lost = [urn for urn in (BASELINE / f"{stack}.txt").read_text().split() if urn not in now and urn not in removed]
    assert lost == [], "URNs that would be replaced (add aliases, or list them with a reason):\n" + "\n".join(lost)
    still_there = [urn for urn in removed if urn in now]
    assert still_there == [], f"listed as removed but still rendered: {still_there}"


def test_the_moved_hub_token_secret_is_aliased():
    """The hub-token Secret left the VllmServer (the download Jobs must wait for it); its old URN maps onto it."""
    now = qualified_urns(render_stack("dev").resources)
    old = "gke-inference:workloads:VllmServer$kubernetes:core/v1:Secret::vllm-hf-token"
    assert now[old]["name"] == "vllm-hf-token" and now[old]["parent"] is None
