"""A replica spanning nodes brings the LeaderWorkerSet controller with it (issue 16 item 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stack.render import load_stack_config, render_config
from workloads.awaiting import TIMEOUT_SECONDS, WAIT_FOR
from workloads.lws_operator import (
    API_VERSION,
    CHART,
    CHART_VERSION,
    NAMESPACE,
    RELEASE,
    LwsOperatorArgs,
    operator_values,
)

REPO = Path(__file__).resolve().parents[2]
LWS_OVERRIDES = ("serving.nodesPerReplica=2", "serving.vllm.pipelineParallelSize=2", "batch.enabled=false",
                 "autoscaling.minReplicas=2", "autoscaling.maxReplicas=5")
"""prod with each replica on two a3-highgpu-8g nodes: TP 8 within a node × PP 2 across = 16 GPUs
(stack/config.py: TP × PP must equal the replica's GPUs); the batch Job runs on one node, so it
cannot hold a 16-GPU model and is switched off; 2–5 replicas (plus the buffer's one) fit the pools' 12 nodes."""


def render(stack: str, *overrides: str):
    return render_config(load_stack_config(stack, list(overrides)), stack)


@pytest.fixture(scope="module")
def multi_node():
    return render("prod", *LWS_OVERRIDES)


@pytest.fixture(scope="module")
def prod():
    return render("prod")


def lws_charts(result) -> list[dict]:
    return [r for r in result.of_type("kubernetes:helm.sh/v4:Chart") if r["inputs"]["chart"] == CHART]


def test_multi_node_prod_render_installs_the_pinned_lws_chart(multi_node):
    (chart,) = lws_charts(multi_node)
    assert chart["inputs"] == {
        "chart": "oci://registry.k8s.io/lws/charts/lws",
        "version": "0.10.0",
        "name": "lws",
        "namespace": "lws-system",
        "values": {"nodeSelector": {"gke-inference/role": "system"}},
    }
    assert multi_node.named(chart["parent"])["type"] == "gke-inference:workloads:LwsOperator"
    assert "lws-ns" in chart["dependencies"]


def test_the_leader_worker_set_waits_for_the_controller_and_is_awaited_until_available(multi_node):
    (lws,) = multi_node.of_type("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet")
    assert "lws-chart" in lws["dependencies"]
    annotations = lws["inputs"]["metadata"]["annotations"]
    assert annotations[WAIT_FOR] == "condition=Available"
    budget = multi_node.outputs["startupBudgetSeconds"]
    assert annotations[TIMEOUT_SECONDS] == str(budget + 600)
    assert lws["inputs"]["apiVersion"] == API_VERSION


def test_single_node_replicas_install_no_lws_controller(prod):
    assert lws_charts(prod) == []
    assert prod.of_type("gke-inference:workloads:LwsOperator") == []
    vllm = next(m for m in prod.manifests_of_kind("Deployment") if m["metadata"]["name"] == "vllm")
    annotations = vllm["metadata"]["annotations"]
    assert WAIT_FOR not in annotations, "a Deployment has a built-in await; waitFor would replace it"
    assert annotations[TIMEOUT_SECONDS] == str(vllm["spec"]["progressDeadlineSeconds"])


def test_chart_version_is_the_release_of_the_vendored_crd():
    provenance = (REPO / "stack" / "schemas" / "PROVENANCE.md").read_text()
    line = next(line for line in provenance.splitlines() if "leaderworkerset" in line.lower() and "|" in line)
    assert re.search(rf"\bv{re.escape(CHART_VERSION)}\b", line), line
    assert (RELEASE, NAMESPACE) == ("lws", "lws-system")


def test_chart_version_must_be_a_chart_version_not_a_tag():
    from workloads.lws_operator import validate_lws_operator_args

    assert validate_lws_operator_args(LwsOperatorArgs(chart_version="v0.10.0")) == [
        ("chart_version", "'v0.10.0'; give the chart version without 'v' (e.g. 0.10.0)")
    ]


def test_operator_values_put_the_controller_on_the_system_pool_and_keep_extra_values():
    args = LwsOperatorArgs(node_selector={"pool": "system"}, values={"replicaCount": 2})
    assert operator_values(args) == {"nodeSelector": {"pool": "system"}, "replicaCount": 2}
    assert operator_values(LwsOperatorArgs()) == {}


def test_rollout_timeout_is_the_deployment_progress_deadline(prod):
    vllm = next(m for m in prod.manifests_of_kind("Deployment") if m["metadata"]["name"] == "vllm")
    assert vllm["spec"]["progressDeadlineSeconds"] == prod.outputs["startupBudgetSeconds"] + 600


def test_multi_node_pdb_covers_leaders_and_workers_and_the_render_passes_policy(multi_node):
    """The PDB selects every pod of the server (the LWS template labels, no runtime-only worker-index label):
    evicting a worker restarts its whole group, so workers must count against the budget too."""
    from policy.rules import check_stack

    (pdb,) = [p for p in multi_node.manifests_of_kind("PodDisruptionBudget") if p["metadata"]["name"] == "vllm"]
    (lws,) = multi_node.manifests_of_kind("LeaderWorkerSet")
    selector = pdb["spec"]["selector"]["matchLabels"]
    template = lws["spec"]["leaderWorkerTemplate"]
    for pod in (template["leaderTemplate"], template["workerTemplate"]):
        assert selector.items() <= pod["metadata"]["labels"].items()
    assert pdb["spec"]["maxUnavailable"] == 1
    assert check_stack(multi_node.resources) == []
