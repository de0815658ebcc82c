"""CompactPlacement: the resource policy it registers, the URN it keeps from the top-level policy the stack
created before the component existed, and what it refuses."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pytest

from infra.placement import CompactPlacement, CompactPlacementArgs
from stack.render import load_stack_config, render_config

ARGS = CompactPlacementArgs(project="p-test", region="us-central1", policy_name="l4-compact")
POLICY = "gcp:compute/resourcePolicy:ResourcePolicy"


def test_exact_inputs_and_tree(recorder):
    rec = recorder.run(lambda: CompactPlacement("l4-placement", ARGS))
    assert rec.tree() == {
        ("gke-inference:infra:CompactPlacement", "l4-placement", None),
        (POLICY, "l4-placement-policy", "l4-placement"),
    }
    assert rec.inputs("l4-placement-policy") == {
        "project": "p-test",
        "region": "us-central1",
        "name": "l4-compact",
        "groupPlacementPolicy": {"collocation": "COLLOCATED"},
    }
    assert rec.resolve(rec.value.policy_name) == "l4-compact"


def test_child_aliases_the_urn_of_the_former_top_level_policy(recorder):
    """stack/program.py used to register ``gcp.compute.ResourcePolicy("<pool>-placement")`` with no parent; the
    component's child names exactly that URN as its alias, so ``pulumi up`` adopts the existing policy."""

    def old_and_new():
        old = gcp.compute.ResourcePolicy(
            "l4-placement",
            project="p-test",
            region="us-central1",
            name="l4-compact",
            group_placement_policy=gcp.compute.ResourcePolicyGroupPlacementPolicyArgs(collocation="COLLOCATED"),
        )
        # Registered only to learn the URN the stack gave the policy before the component existed.
        return old, CompactPlacement("l4-placement", ARGS)

    rec = recorder.run(old_and_new)
    old, new = rec.value
    # The mock monitor spells a top-level resource's parent type (pulumi:pulumi:Stack) into its URN; the engine
    # does not (URN form urn:pulumi:<stack>::<project>::<parent types$>type::name, the root stack type left out:
    # pulumi/pulumi sdk/go/common/resource/urn, pkg/resource/deploy step_generator generateURN).
    old_urn = rec.resolve(old.urn).replace("pulumi:pulumi:Stack$", "")
    assert old_urn == f"urn:pulumi:test::gke-inference::{POLICY}::l4-placement"
    assert [rec.resolve(alias) for alias in new.policy._aliases] == [old_urn]
    assert rec.resolve(new.policy.urn) == (
        f"urn:pulumi:test::gke-inference::gke-inference:infra:CompactPlacement${POLICY}::l4-placement-policy"
    )
    policy = next(r for r in rec.resources if r["name"] == "l4-placement-policy")
    assert policy["aliases"] == [{"name": "l4-placement", "type": POLICY, "parent": None}]


def test_waits_for_what_the_component_waits_for(recorder):
    def program():
        apis = pulumi.CustomResource("test:index:Apis", "apis", {})
        return CompactPlacement("l4-placement", ARGS, opts=pulumi.ResourceOptions(depends_on=[apis]))

    rec = recorder.run(program)
    assert rec.named("l4-placement-policy")["dependencies"] == ["apis"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (dict(policy_name="L4_compact"), [("policy_name", "'L4_compact' is not a valid resource policy name: 1–63 "
                                                          "characters, lowercase letters, digits and hyphens, starting "
                                                          "with a letter and ending with a letter or digit")]),
        (dict(region="us-central1-a"), [("region", "'us-central1-a' is not a region (e.g. us-central1)")]),
        (dict(project="P"), [("project", "'P' is not a GCP project id: 6–30 characters, lowercase letters, digits "
                                         "and hyphens, starting with a letter")]),
        (dict(policy_name=3), [("policy_name", "expected str, got int 3")]),
    ],
)
def test_refusals(recorder, change, expected):
    args = CompactPlacementArgs(**{**ARGS.__dict__, **change})
    assert recorder.refused(lambda: CompactPlacement("l4-placement", args)) == expected


def test_stack_pool_with_compact_placement():
    """The dev pool made compact: its policy is a CompactPlacement that waits for the APIs, named for the pool."""
    config = load_stack_config(
        "dev", ["gpuPools.l4-spot.compactPlacement=true", "gpuPools.l4-spot.zones=[us-central1-a]"]
    )
    result = render_config(config, "dev")
    component = result.named("l4-spot-placement")
    assert component["type"] == "gke-inference:infra:CompactPlacement"
    policy = result.named("l4-spot-placement-policy")
    assert policy["parent"] == "l4-spot-placement"
    assert policy["inputs"]["name"] == "l4-spot-compact"
    assert "apis-compute" in policy["dependencies"]
    assert policy["aliases"] == [{"name": "l4-spot-placement", "type": POLICY, "parent": None}]
    pool = result.named("l4-spot-pool")
    assert pool["inputs"]["placementPolicy"] == {"type": "COMPACT", "policyName": "l4-spot-compact"}
    assert "l4-spot-placement-policy" in pool["dependencies"]
