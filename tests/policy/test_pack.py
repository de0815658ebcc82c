"""The CrossGuard pack wires the same rules: run its validators the way the policy engine calls them."""

from __future__ import annotations

from pathlib import Path

import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.pack import build_policies
from policy.rules import RESOURCE_RULES, STACK_RULES
from tests.policy.conftest import GOOD_BUCKET, GOOD_DEPLOYMENT

ROOT = Path(__file__).resolve().parents[2]


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])


def _run_resource_policies(token: str, props: dict) -> list[tuple[str, str]]:
    reported = []
    for policy in build_policies():
        if isinstance(policy, ResourceValidationPolicy):
            args = ResourceValidationArgs(token, props, f"urn:pulumi:prod::gke-inference::{token}::x", "x",
                                          _opts(), None)
            policy.validate(args, lambda message, urn=None, name=policy.name: reported.append((name, message)))
    return reported


def test_pack_has_one_policy_per_rule():
    names = [p.name for p in build_policies()]
    assert names == [r.name for r in RESOURCE_RULES] + list(STACK_RULES)


def test_resource_validators_report_through_the_engine_callback():
    assert _run_resource_policies("gcp:storage/bucket:Bucket", GOOD_BUCKET) == []
    bad = dict(GOOD_BUCKET, publicAccessPrevention="inherited")
    assert _run_resource_policies("gcp:storage/bucket:Bucket", bad) == [
        ("bucket-public-access-prevention", "publicAccessPrevention: is 'inherited'; set 'enforced'")]


def test_stack_validator_reports_missing_pdb():
    stack_policy = next(p for p in build_policies() if isinstance(p, StackValidationPolicy))
    deployment = PolicyResource("kubernetes:apps/v1:Deployment", GOOD_DEPLOYMENT, "urn:x", "vllm", _opts(),
                                None, None, [], {})
    reported: list[str] = []
    stack_policy.validate(StackValidationArgs([deployment], None), lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and reported[0].startswith("Deployment/llm/vllm: can run more than one replica")


def test_pulumi_policy_yaml_points_at_the_project_venv():
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    assert (ROOT / "policy" / pack["runtime"]["options"]["virtualenv"] / "bin" / "python").exists()
