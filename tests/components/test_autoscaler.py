"""VllmAutoscaler on its own: the HPA's exact spec from typed goals, and every refusal; the stack config reports
the same replica-limit rule under its YAML paths."""

from __future__ import annotations

import dataclasses

import pytest

from stack.config import ConfigError
from stack.render import load_stack_config
from workloads import metrics as M
from workloads.autoscaling import MetricGoal, ScaleTarget, VllmAutoscaler, VllmAutoscalerArgs

BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 600, "selectPolicy": "Max",
                  "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
}
TARGET = ScaleTarget("apps/v1", "Deployment", "vllm")


def args(**change) -> VllmAutoscalerArgs:
    base = VllmAutoscalerArgs(namespace="llm", target=TARGET, min_replicas=1, max_replicas=3,
                              goals=[MetricGoal(M.NUM_REQUESTS_WAITING, 5)], behavior=BEHAVIOR)
    return dataclasses.replace(base, **change)


def test_one_hpa_on_the_target(recorder):
    rec = recorder.run(lambda: VllmAutoscaler("as", args(labels={"team": "ml"})))
    assert rec.tree() == {("gke-inference:workloads:VllmAutoscaler", "as", None),
                          ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "as-hpa", "as")}
    assert rec.inputs("as-hpa") == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "vllm", "namespace": "llm",
                     "labels": {"app.kubernetes.io/component": "autoscaler", "team": "ml"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Pods", "pods": {
                "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
                "target": {"type": "AverageValue", "averageValue": "5"}}}],
            "behavior": BEHAVIOR,
        },
    }
    assert rec.value.name == "vllm"


def test_a_gpu_goal_is_external_and_scaled_by_the_replicas_gpus(recorder):
    goals = [MetricGoal(M.DCGM_GPU_UTIL, 70)]
    rec = recorder.run(lambda: VllmAutoscaler("as", args(goals=goals, cluster="c", workload_namespace="llm",
                                                         gpus_per_replica=2, name="chat-hpa")))
    hpa = rec.inputs("as-hpa")
    assert hpa["metadata"]["name"] == "chat-hpa"
    assert hpa["spec"]["metrics"] == [{"type": "External", "external": {
        "metric": {"name": "prometheus.googleapis.com|dcgm_fi_dev_gpu_util|gauge",
                   "selector": {"matchLabels": {"resource.labels.cluster": "c",
                                                "metric.labels.exported_namespace": "llm"}}},
        "target": {"type": "AverageValue", "averageValue": "140"}}}]  # 70 % × 2 GPUs


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: VllmAutoscaler("as", args(**change)))


def test_wrong_types_are_named(recorder):
    assert refused(recorder, min_replicas="1", target=("apps/v1", "Deployment", "vllm")) == [
        ("target", "expected ScaleTarget, got tuple ('apps/v1', 'Deployment', 'vllm'): build it with ScaleTarget(...)"),
        ("min_replicas", "expected int, got str '1'"),
    ]


def test_replica_limits(recorder):
    assert refused(recorder, min_replicas=0) == [
        ("min_replicas", "0; an HPA needs ≥ 1 (use KEDA to scale to zero)"),
    ]
    assert refused(recorder, min_replicas=2, max_replicas=1) == [("max_replicas", "1 is below min_replicas 2")]


def test_goals(recorder):
    assert refused(recorder, goals=[]) == [("goals", "empty; give at least one metric target")]
    twice = [MetricGoal(M.NUM_REQUESTS_WAITING, 5), MetricGoal(M.NUM_REQUESTS_WAITING, 3)]
    assert refused(recorder, goals=twice) == [
        ("goals", "a metric appears twice (vllm:num_requests_waiting, vllm:num_requests_waiting); keep one target "
                  "per metric"),
    ]
    assert refused(recorder, goals=[MetricGoal(M.DCGM_GPU_UTIL, 70)], workload_namespace="llm") == [
        ("goals.0", "dcgm_fi_dev_gpu_util: an External DCGM metric needs the cluster and the serving namespace"),
    ]


def test_behavior_and_names(recorder):
    lazy = {**BEHAVIOR, "scaleDown": {**BEHAVIOR["scaleDown"], "stabilizationWindowSeconds": 120}}
    problems = refused(recorder, behavior=lazy, name="HPA", gpus_per_replica=0)
    assert [path for path, _ in problems] == ["behavior.scaleDown.stabilizationWindowSeconds", "gpus_per_replica",
                                              "name"]
    assert problems[1:] == [
        ("gpus_per_replica", "0 must be ≥ 1"),
        ("name", "'HPA' is not a valid HorizontalPodAutoscaler name: at most 253 lowercase letters, digits, '-' or "
                 "'.', alphanumeric at both ends"),
    ]


# -- the stack config runs the same replica-limit rules ---------------------------------------


@pytest.mark.parametrize(("overrides", "line"), [
    (["autoscaling.minReplicas=5", "autoscaling.maxReplicas=4"],
     "platform.autoscaling.maxReplicas: 4 is below minReplicas 5"),
    (["autoscaling.mode=keda", "autoscaling.keda.minReplicas=6", "autoscaling.maxReplicas=4"],
     "platform.autoscaling.maxReplicas: 4; must be ≥ 1 and ≥ keda.minReplicas 6"),
])
def test_the_stack_config_reports_the_components_rule_under_its_yaml_path(overrides, line):
    with pytest.raises(ConfigError) as err:
        load_stack_config("dev", overrides)
    assert err.value.lines == [line]
