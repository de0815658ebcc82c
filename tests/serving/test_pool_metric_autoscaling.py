"""Autoscaling on the endpoint picker's pool averages (issue 18 item 5): ``autoscaling.metrics`` ``poolQueue`` /
``poolKvCache`` rendered on dev (gateway on, two models), the refusals, the component rules and ``simulate``.

The pool gauges (``llm_d_epp_average_queue_size``, ``llm_d_epp_average_kv_cache_utilization``; label ``name`` = the
InferencePool) are already per-replica averages: the HPA reads them as an External metric with a ``Value`` target
and KEDA's trigger has ``metricType: Value`` (workloads/autoscaling.py, workloads/keda.py). Every other part of the
autoscaler is the one a vLLM metric renders, so each exact test compares with the ``queue`` render.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stack.checks.crds import validate_custom
from stack.checks.validate import validate_manifests
from stack.cli import main
from stack.render import RenderResult, load_stack_config, render_config
from workloads import metrics as M
from workloads.autoscaling import MetricGoal, metric_spec

POOL_QUEUE = "autoscaling.metrics=[{metric: poolQueue, target: 5}]"
VLLM_QUEUE = "autoscaling.metrics=[{metric: queue, target: 5}]"
KEDA = ("autoscaling.mode=keda", "autoscaling.keda.minReplicas=1")
GMP = "https://monitoring.googleapis.com/v1/projects/gke-inference-dev/location/global/prometheus"
MODELS = ("vllm", "qwen")
"""Dev's models by server name: the top-level one and ``models.qwen`` (each InferencePool is named after it)."""


def render(*overrides: str) -> RenderResult:
    return render_config(load_stack_config("dev", list(overrides)), "dev")


def by_name(result: RenderResult, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in result.manifests_of_kind(kind)}


def pool_external(metric: str, pool: str, value: str) -> dict[str, Any]:
    return {
        "type": "External",
        "external": {
            "metric": {
                "name": f"prometheus.googleapis.com|{metric}|gauge",
                "selector": {"matchLabels": {
                    "resource.labels.cluster": "inference-dev",
                    "resource.labels.namespace": "llm",
                    "metric.labels.name": pool,
                    "reducer": "REDUCE_MAX",
                }},
            },
            "target": {"type": "Value", "value": value},
        },
    }


@pytest.fixture(scope="module")
def hpa_pool() -> RenderResult:
    return render(POOL_QUEUE)


@pytest.fixture(scope="module")
def hpa_vllm() -> RenderResult:
    return render(VLLM_QUEUE)


@pytest.fixture(scope="module")
def keda_pool() -> RenderResult:
    return render(*KEDA, "autoscaling.metrics=[{metric: poolQueue, target: 5}, {metric: poolKvCache, target: 0.8}]")


@pytest.fixture(scope="module")
def keda_vllm() -> RenderResult:
    return render(*KEDA, "autoscaling.metrics=[{metric: queue, target: 5}, {metric: kvCache, target: 0.8}]")


def test_each_models_hpa_reads_its_own_pool_average_as_an_external_value(hpa_pool, hpa_vllm):
    pool_hpas, vllm_hpas = by_name(hpa_pool, "HorizontalPodAutoscaler"), by_name(hpa_vllm, "HorizontalPodAutoscaler")
    assert set(pool_hpas) == set(vllm_hpas) == set(MODELS)
    for model in MODELS:
        assert pool_hpas[model]["spec"]["metrics"] == [pool_external("llm_d_epp_average_queue_size", model, "5")]
        # Everything else is the vLLM-metric HPA: name, target, replica limits, behavior.
        assert vllm_hpas[model]["spec"]["metrics"] == [{"type": "Pods", "pods": {
            "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
            "target": {"type": "AverageValue", "averageValue": "5"}}}]
        assert {**pool_hpas[model], "spec": {**pool_hpas[model]["spec"], "metrics": None}} == {
            **vllm_hpas[model], "spec": {**vllm_hpas[model]["spec"], "metrics": None}}


def test_the_selected_pool_is_the_inference_pool_of_the_scaled_deployment(hpa_pool):
    pools, deployments = by_name(hpa_pool, "InferencePool"), by_name(hpa_pool, "Deployment")
    for hpa in hpa_pool.manifests_of_kind("HorizontalPodAutoscaler"):
        (metric,) = hpa["spec"]["metrics"]
        pool = pools[metric["external"]["metric"]["selector"]["matchLabels"]["metric.labels.name"]]
        scaled = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
        pod_labels = scaled["spec"]["template"]["metadata"]["labels"]
        assert pool["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        # ...and no other model's pods: the two pools select disjoint pods.
        others = [d for name, d in deployments.items() if name in MODELS and d is not scaled]
        assert all(not pool["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"][
            "labels"].items() for d in others)


def test_rendered_pool_hpas_pass_the_kubernetes_schema(hpa_pool):
    assert validate_manifests(hpa_pool.manifests_of_kind("HorizontalPodAutoscaler"), "1.33") == []


def test_keda_triggers_query_the_pool_average_as_a_value(keda_pool, keda_vllm):
    pool_objects, vllm_objects = by_name(keda_pool, "ScaledObject"), by_name(keda_vllm, "ScaledObject")
    assert set(pool_objects) == set(MODELS)
    for model in MODELS:
        def trigger(name: str, metric: str, threshold: str, model: str = model) -> dict[str, Any]:
            return {
                "type": "prometheus",
                "name": name,
                "metricType": "Value",
                "metadata": {
                    "serverAddress": GMP,
                    "query": f'max ({metric}{{cluster="inference-dev",namespace="llm",name="{model}"}})',
                    "threshold": threshold,
                    "activationThreshold": "0.5",
                },
                "authenticationRef": {"name": f"{model}-gmp", "kind": "TriggerAuthentication"},
            }

        assert pool_objects[model]["spec"]["triggers"] == [
            trigger("poolqueue", "llm_d_epp_average_queue_size", "5"),
            trigger("poolkvcache", "llm_d_epp_average_kv_cache_utilization", "0.8"),
        ]
        # vLLM triggers keep KEDA's default AverageValue (no metricType: the renders before pool metrics).
        assert all("metricType" not in t for t in vllm_objects[model]["spec"]["triggers"])
        assert {**pool_objects[model], "spec": {**pool_objects[model]["spec"], "triggers": None}} == {
            **vllm_objects[model], "spec": {**vllm_objects[model]["spec"], "triggers": None}}
        assert validate_custom(pool_objects[model]) == []


def test_no_rendered_name_outside_the_registry(keda_pool):
    text = json.dumps(keda_pool.manifests_of_kind("ScaledObject"))
    assert set(M.METRIC_TOKEN.findall(text)) == {"llm_d_epp_average_queue_size",
                                                 "llm_d_epp_average_kv_cache_utilization"}
    assert M.unregistered_names(text) == set()


@pytest.mark.parametrize(("overrides", "first_line"), [
    ((POOL_QUEUE, "gateway.enabled=false"),
     "error: platform.autoscaling.metrics.0.metric: poolQueue is the Gateway's endpoint picker's average over this "
     "model's InferencePool, and gateway.enabled is false, so no picker exports it: set gateway.enabled true, or "
     "scale on vLLM's own queue"),
    (("models.qwen.autoscaling.metrics=[{metric: poolKvCache, target: 0.8}]", "gateway.enabled=false"),
     "error: platform.models.qwen.autoscaling.metrics.0.metric: poolKvCache is the Gateway's endpoint picker's "
     "average over this model's InferencePool, and gateway.enabled is false, so no picker exports it: set "
     "gateway.enabled true, or scale on vLLM's own kvCache"),
    (("autoscaling.metrics=[{metric: poolKvCache, target: 80}]",),
     "error: platform.autoscaling.metrics.0.target: poolKvCache is a fraction 0–1; use e.g. 0.8"),
])
def test_pool_metrics_that_cannot_work_exit_2_naming_the_field(overrides, first_line, tmp_path, capsys):
    argv = ["render", "dev", *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0] == first_line, err
    assert not (tmp_path / "out").exists()


def test_the_component_needs_the_pool_for_a_pool_gauge_and_refuses_it_elsewhere():
    with pytest.raises(ValueError, match="needs the cluster, the serving namespace and the pool"):
        metric_spec(MetricGoal(M.POOL_AVERAGE_QUEUE_SIZE, 5), cluster="c", namespace="llm")
    with pytest.raises(ValueError, match="pool gauges only"):
        metric_spec(MetricGoal(M.NUM_REQUESTS_WAITING, 5, pool="vllm"))
    assert metric_spec(MetricGoal(M.POOL_AVERAGE_KV_CACHE, 0.8, pool="p"), cluster="inference-dev",
                       namespace="llm") == pool_external("llm_d_epp_average_kv_cache_utilization", "p", "800m")


def simulated(overrides: str, out, capsys) -> dict[str, Any]:
    assert main(["simulate", "dev", "--set", overrides, "--duration", "600", "--out", str(out), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_simulate_runs_a_pool_metric_as_its_vllm_gauge_and_says_so(tmp_path, capsys):
    pool = simulated(POOL_QUEUE, tmp_path / "pool", capsys)
    vllm = simulated(VLLM_QUEUE, tmp_path / "vllm", capsys)
    assert pool["notes"][0] == (
        "autoscaling.metrics.0 poolQueue: simulated as queue (vllm:num_requests_waiting per replica) with the same "
        "target: llm_d_epp_average_queue_size is the picker's mean of it over the pool's ready replicas, and the "
        "autoscaler holds that mean at the target (External Value: ceil(mean / target × ready pods)); the picker's "
        "refresh and scrape, one step more than vLLM's own series, are not modelled")
    assert not any("simulated as" in note for note in vllm["notes"])
    # Same seed, same numbers: the pool preset is the queue preset under its own name.
    (stack_pool,) = [r for r in pool["ranking"] if r["preset"].startswith("stack: ")]
    (stack_vllm,) = [r for r in vllm["ranking"] if r["preset"].startswith("stack: ")]
    assert stack_pool["preset"].startswith("stack: HPA poolQueue>5 + behavior")
    assert {**stack_pool, "preset": "", "startup": None, "dominatedBy": None} == {
        **stack_vllm, "preset": "", "startup": None, "dominatedBy": None}
