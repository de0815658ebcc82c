"""`gke-infer validate prod` with a replica spanning two nodes (a LeaderWorkerSet) passes every check, with
vLLM's parser run on the leader's arguments and checkov reading the leader and worker pods (issue 20 item 2)."""

from __future__ import annotations

import copy

import pytest

from stack.checks import checkov_runner, vllm_check
from stack.checks.checkov_runner import WORKER_PROBE_SKIPS, checkov_inputs
from stack.cli import main
from stack.render import render_stack
from tests.serving.test_lws_operator import LWS_OVERRIDES

LEADER = "spec.leaderWorkerTemplate.leaderTemplate"
WORKER = "spec.leaderWorkerTemplate.workerTemplate"
needs_checkov = pytest.mark.skipif(checkov_runner.checkov_binary() is None,
                                   reason=".venv-checkov not built (make checkov-env)")
needs_serve_env = pytest.mark.skipif(not (vllm_check.SERVE_VENV / "bin" / "python").exists(),
                                     reason=f"{vllm_check.SERVE_VENV.name} not built (make serve-env)")


@pytest.fixture(scope="module")
def multi_node(tmp_path_factory):
    return render_stack("prod", list(LWS_OVERRIDES), tmp_path_factory.mktemp("prod-multi-node"))


@pytest.fixture(scope="module")
def lws(multi_node):
    (manifest,) = [m for m in multi_node.manifests if m["kind"] == "LeaderWorkerSet"]
    return manifest


def test_the_leader_runs_vllm_in_bash_and_the_worker_only_ray(multi_node, lws, tmp_path):
    report = vllm_check.check_manifests(multi_node.manifests, venv=tmp_path / "absent")
    # prod's second model (llama-8b, a Deployment on one node) is parsed beside the multi-node one
    assert [(c.object, c.path, c.name, c.launch.status) for c in report.containers] == [
        ("Deployment/llm/llama-8b", "spec.template.spec.containers[0]", "vllm", "parsed"),
        ("LeaderWorkerSet/llm/vllm", f"{LEADER}.spec.containers[0]", "vllm", "parsed"),
        ("LeaderWorkerSet/llm/vllm", f"{WORKER}.spec.containers[0]", "vllm", "not vLLM"),
    ]
    _, leader, worker = report.containers
    assert leader.launch.how.startswith("shell script, python3 -m vllm.entrypoints.openai.api_server (")
    # The script joins the rendered engine args; the shell gives vLLM exactly those, nothing re-split.
    script = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["args"][0]
    assert " ".join(leader.launch.args) == script.split("vllm.entrypoints.openai.api_server ", 1)[1]
    assert {"--pipeline-parallel-size", "--distributed-executor-backend"} <= set(leader.launch.args)
    assert worker.launch.how.startswith("runs only Ray (`ray start '--address=$(LWS_LEADER_ADDRESS):6379'")


def test_checkov_input_includes_the_leader_and_worker_pod_templates(multi_node, lws):
    objects, renames = checkov_inputs(multi_node.manifests)
    synthesized = objects[len(multi_node.manifests):]
    group = lws["spec"]["leaderWorkerTemplate"]
    assert [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in synthesized] == [
        ("Deployment", "llm", "vllm-leader"), ("Deployment", "llm", "vllm-worker")]
    assert [o["spec"]["template"] for o in synthesized] == [group["leaderTemplate"], group["workerTemplate"]]
    lws_skips = [v for k, v in lws["metadata"]["annotations"].items() if k.startswith("checkov.io/skip")]
    leader_skips, worker_skips = (list(o["metadata"]["annotations"].values()) for o in synthesized)
    assert leader_skips == lws_skips
    assert worker_skips == lws_skips + [f"{check}={reason}" for check, reason in WORKER_PROBE_SKIPS]
    assert renames == {"Deployment.llm.vllm-leader": "LeaderWorkerSet.llm.vllm leaderTemplate",
                       "Pod.llm.vllm-leader": "LeaderWorkerSet.llm.vllm leaderTemplate",
                       "Deployment.llm.vllm-worker": "LeaderWorkerSet.llm.vllm workerTemplate",
                       "Pod.llm.vllm-worker": "LeaderWorkerSet.llm.vllm workerTemplate"}


@needs_checkov
def test_checkov_fails_a_bad_leader_template_naming_the_leader_worker_set(multi_node, lws):
    bad = copy.deepcopy(lws)
    bad["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["securityContext"][
        "allowPrivilegeEscalation"] = True
    manifests = [bad if m is lws else m for m in multi_node.manifests]
    report = checkov_runner.run_checkov(manifests, checkov_runner.checkov_binary())
    assert [(v.rule, v.resource) for v in report.violations] == [
        ("checkov:CKV_K8S_20", "LeaderWorkerSet.llm.vllm leaderTemplate")]


@needs_checkov
@needs_serve_env
def test_validate_prod_with_a_two_node_replica_passes(multi_node, tmp_path, capsys):
    """The issue's gate: every check passes, vLLM's parser ran on the LWS leader, checkov read both templates."""
    args = [a for override in LWS_OVERRIDES for a in ("--set", override)]
    code = main(["validate", "prod", "--out", str(tmp_path), *args])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, "\n".join(lines)
    assert lines[-1].startswith("validate prod: PASS: 6 checks run, 0 violations")
    assert "vllm-args   ok   2 vLLM containers parsed by vLLM: 0 errors; 1 beside them run no vLLM server" in lines
    assert [line.split("': ", 1)[0] + "'" for line in lines if line.startswith(("  parsed: ", "  not vLLM: "))] == [
        "  parsed: Deployment/llm/llama-8b container 'vllm'",
        "  parsed: LeaderWorkerSet/llm/vllm leaderTemplate container 'vllm'",
        "  not vLLM: LeaderWorkerSet/llm/vllm workerTemplate container 'vllm'",
    ]
    assert "  as a Deployment: LeaderWorkerSet.llm.vllm leaderTemplate" in lines
    assert "  as a Deployment: LeaderWorkerSet.llm.vllm workerTemplate" in lines
    assert any(line.startswith("  not checked: Helm chart oci://registry.k8s.io/lws/charts/lws 0.10.0 (resource "
                               "lws-chart) — ") for line in lines)
