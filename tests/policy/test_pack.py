"""The CrossGuard pack wires the same rules: run its validators the way the policy engine calls them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
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
from tests.policy.conftest import GOOD_BUCKET, GOOD_CLUSTER, GOOD_DEPLOYMENT

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


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Pulumi's sentinel for a value not known until apply


@pytest.fixture(scope="module")
def analyzer():
    """The pack started the way the Pulumi CLI starts it: `python __main__.py` in policy/, gRPC on a port."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=ROOT / "policy", stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _analyze(stub, token: str, props: dict):
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    struct = struct_pb2.Struct()
    struct.update(props)
    request = analyzer_pb2.AnalyzeRequest(type=token, properties=struct, name="r",
                                          urn=f"urn:pulumi:prod::gke-inference::{token}::r")
    return [(d.policyName, d.message.splitlines()[-1]) for d in stub.Analyze(request).diagnostics]


def test_running_pack_lists_every_policy(analyzer):
    from google.protobuf import empty_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "gke-inference-guardrails"
    assert [p.name for p in info.policies] == [p.name for p in build_policies()]


def test_running_pack_reports_violations(analyzer):
    assert _analyze(analyzer, "gcp:storage/bucket:Bucket", GOOD_BUCKET) == []
    assert _analyze(analyzer, "gcp:storage/bucket:Bucket", dict(GOOD_BUCKET, versioning={"enabled": True})) == [
        ("bucket-hns-create-rules", "versioning.enabled: must be false on a hierarchical-namespace bucket (Cloud "
         "Storage refuses the pair): set modelStorage.versioning: false, or modelStorage.hierarchicalNamespace: "
         "false to keep versioning")]


def test_unknown_inputs_only_matter_where_a_rule_reads_them(analyzer):
    # In a first preview, ids of resources created in the same update are unknown.
    cluster = dict(GOOD_CLUSTER, network=UNKNOWN, subnetwork=UNKNOWN)
    assert _analyze(analyzer, "gcp:container/cluster:Cluster", cluster) == []
    cluster["workloadIdentityConfig"] = {"workloadPool": UNKNOWN}
    (diagnostic,) = _analyze(analyzer, "gcp:container/cluster:Cluster", cluster)
    assert diagnostic[0] == "gke-workload-identity" and "during preview" in diagnostic[1]


def test_readme_lists_every_policy():
    readme = (ROOT / "policy" / "README.md").read_text()
    assert [line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")] == [
        p.name for p in build_policies()]
