"""Pure parts of the components: behavior derivation, PodMonitoring rules, quantities, dashboard JSON."""

from __future__ import annotations

import json

import pytest

from infra.dashboard import Panel, Series, dashboard_json
from infra.validation import ComponentArgsError
from workloads import metrics as M
from workloads.autoscaling import (
    MetricGoal,
    ScaleTarget,
    VllmAutoscalerArgs,
    hpa_spec,
    quantity,
    validate_behavior,
)
from workloads.keda import (
    PrometheusTrigger,
    VllmScaledObjectArgs,
    gmp_server_address,
    number,
    scaled_object_spec,
)
from workloads.monitoring import (
    VllmPodMonitoringArgs,
    duration_seconds,
    keep_registered_relabeling,
    pod_monitoring_spec,
)

BEHAVIOR = {
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 600,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
    },
}


def test_behavior_validation():
    assert validate_behavior(BEHAVIOR) == BEHAVIOR
    cases = [
        ({"scaleUp": BEHAVIOR["scaleUp"]}, "behavior.scaleDown: missing"),
        ({**BEHAVIOR, "scaleDown": {**BEHAVIOR["scaleDown"], "stabilizationWindowSeconds": 120}}, "at least 300"),
        ({**BEHAVIOR, "scaleDown": {**BEHAVIOR["scaleDown"], "stabilizationWindowSeconds": 4000}}, "0..3600"),
        (
            {
                **BEHAVIOR,
                "scaleDown": {
                    **BEHAVIOR["scaleDown"],
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
            "one pod per period",
        ),
        (
            {
                **BEHAVIOR,
                "scaleUp": {**BEHAVIOR["scaleUp"], "policies": [{"type": "Pods", "value": 4, "periodSeconds": 3600}]},
            },
            "periodSeconds: 3600",
        ),
    ]
    for behavior, message in cases:
        with pytest.raises(ValueError, match=message):
            validate_behavior(behavior)


def test_quantities_and_keda_numbers():
    assert [quantity(v) for v in (5, 5.0, 0.8, 0.85, 1.5, 560)] == ["5", "5", "800m", "850m", "1500m", "560"]
    with pytest.raises(ValueError):
        quantity(0)
    assert [number(v) for v in (5.0, 0.5, 0.85, 560)] == ["5", "0.5", "0.85", "560"]
    assert (
        gmp_server_address("p-123456")
        == "https://monitoring.googleapis.com/v1/projects/p-123456/location/global/prometheus"
    )


def _hpa_args(**changes):
    base = {
        "namespace": "llm",
        "target": ScaleTarget("apps/v1", "Deployment", "vllm"),
        "min_replicas": 1,
        "max_replicas": 3,
        "goals": [MetricGoal(M.NUM_REQUESTS_WAITING, 5)],
        "behavior": BEHAVIOR,
    }
    base.update(changes)
    return VllmAutoscalerArgs(**base)


def test_hpa_args_validation():
    with pytest.raises(ComponentArgsError, match="min_replicas: 0"):
        hpa_spec(_hpa_args(min_replicas=0))
    with pytest.raises(ComponentArgsError, match="max_replicas: 1 is below"):
        hpa_spec(_hpa_args(min_replicas=2, max_replicas=1))
    with pytest.raises(ComponentArgsError, match="appears twice"):
        hpa_spec(_hpa_args(goals=[MetricGoal(M.NUM_REQUESTS_WAITING, 5), MetricGoal(M.NUM_REQUESTS_WAITING, 3)]))
    with pytest.raises(ComponentArgsError, match="needs the cluster"):
        hpa_spec(_hpa_args(goals=[MetricGoal(M.DCGM_GPU_UTIL, 70)], workload_namespace="llm"))
    spec = hpa_spec(_hpa_args(goals=[MetricGoal(M.NUM_REQUESTS_RUNNING, 32)]))
    assert spec["metrics"][0]["pods"]["metric"]["name"] == "prometheus.googleapis.com|vllm:num_requests_running|gauge"


def test_scaled_object_validation():
    args = VllmScaledObjectArgs(
        namespace="llm",
        target=ScaleTarget("apps/v1", "Deployment", "vllm"),
        project="p-123456",
        triggers=[PrometheusTrigger("queue", "sum (vllm:num_requests_waiting)", 5, 0.5)],
        min_replicas=0,
        max_replicas=0,
        behavior=BEHAVIOR,
    )
    with pytest.raises(ComponentArgsError, match="max_replicas: 0"):
        scaled_object_spec(args, "auth")


def test_pod_monitoring_rules():
    ok = VllmPodMonitoringArgs(namespace="llm", selector_labels={"app": "vllm"})
    assert pod_monitoring_spec(ok)["endpoints"][0] == {
        "port": "http",
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "timeout": "10s",
    }
    cases = [
        ({"timeout": "20s"}, "timeout: 20s exceeds interval 15s"),
        ({"interval": "1m", "timeout": "90s"}, "exceeds interval"),
        ({"target_labels": ("container", "node")}, "must include 'pod'"),
        ({"target_labels": ("pod", "namespace")}, "not allowed"),
        ({"port": "8000"}, "container port's name"),
        ({"selector_labels": {}}, "selector_labels"),
        ({"interval": "15 seconds"}, "Prometheus duration"),
    ]
    for change, message in cases:
        args = VllmPodMonitoringArgs(**{"namespace": "llm", "selector_labels": {"app": "vllm"}, **change})
        with pytest.raises(ComponentArgsError, match=message):
            pod_monitoring_spec(args)
    assert duration_seconds("500ms") == 0.5 and duration_seconds("2m") == 120


def test_keep_only_registered_relabeling():
    spec = pod_monitoring_spec(
        VllmPodMonitoringArgs(namespace="llm", selector_labels={"app": "vllm"}, keep_only_registered=True)
    )
    (rule,) = spec["endpoints"][0]["metricRelabeling"]
    assert rule == keep_registered_relabeling()[0]
    import re

    pattern = re.compile(f"^{rule['regex']}$")
    assert pattern.match("vllm:time_to_first_token_seconds_bucket")
    assert pattern.match("vllm:num_requests_waiting")
    assert not pattern.match("vllm:num_requests_waiting_by_reason")
    assert not pattern.match("vllm:gpu_cache_usage_perc")


def test_dashboard_json_shape():
    body = json.loads(
        dashboard_json(
            "t",
            [
                Panel(
                    "Queue",
                    (Series("", "sum (vllm:num_requests_waiting)"), Series("max", "max (vllm:num_requests_waiting)")),
                )
            ],
        )
    )
    assert body["displayName"] == "t" and body["gridLayout"]["columns"] == "2"
    (widget,) = body["gridLayout"]["widgets"]
    assert widget["xyChart"]["dataSets"] == [
        {
            "timeSeriesQuery": {"prometheusQuery": "sum (vllm:num_requests_waiting)", "unitOverride": "1"},
            "plotType": "LINE",
            "targetAxis": "Y1",
        },
        {
            "timeSeriesQuery": {"prometheusQuery": "max (vllm:num_requests_waiting)", "unitOverride": "1"},
            "plotType": "LINE",
            "targetAxis": "Y1",
            "legendTemplate": "max",
        },
    ]
    with pytest.raises(ValueError, match="panels: empty"):
        dashboard_json("t", [])
