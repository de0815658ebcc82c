"""The dashboard and alert policies rendered for the dev stack: exact PromQL from the registry."""

from __future__ import annotations

import json

from tests.observability.test_observability_program import render

V = 'cluster="inference-dev",namespace="llm",model_name="llama-3.1-8b"'
G = 'cluster="inference-dev",exported_namespace="llm"'


def _conditions(rec):
    return {
        r["name"]: (r["inputs"]["severity"], r["inputs"]["conditions"][0]["conditionPrometheusQueryLanguage"])
        for r in rec.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    }


def test_alert_policies_exact(dev_config):
    rec = render(dev_config())
    conditions = _conditions(rec)
    assert {name: (sev, c["query"], c["duration"]) for name, (sev, c) in conditions.items()} == {
        "observability-queue-time": (
            "WARNING",
            f"histogram_quantile(0.9, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{{{V}}}[5m]))) > 5",
            "300s",
        ),
        "observability-no-replicas": ("CRITICAL", f"absent(vllm:num_requests_running{{{V}}})", "300s"),
        "observability-kv-cache": ("WARNING", f"max by (pod) (vllm:kv_cache_usage_perc{{{V}}}) > 0.95", "600s"),
        "observability-gpu-memory": (
            "WARNING",
            f"max(dcgm_fi_dev_fb_used{{{G}}} / (dcgm_fi_dev_fb_used{{{G}}} + dcgm_fi_dev_fb_free{{{G}}})) > 0.97",
            "600s",
        ),
    }
    assert all(c["evaluationInterval"] == "60s" for _, c in conditions.values())
    policy = rec.named("observability-queue-time")["inputs"]
    assert policy["combiner"] == "OR" and policy["project"] == "gke-inference-dev"
    assert policy["documentation"]["mimeType"] == "text/markdown"


def test_scale_to_zero_has_no_absent_alert(dev_config):
    rec = render(dev_config("autoscaling.mode=keda"))
    assert "observability-no-replicas" not in _conditions(rec)
    rec = render(dev_config("autoscaling.mode=keda", "autoscaling.keda.minReplicas=1"))
    assert "observability-no-replicas" in _conditions(rec)


def test_dashboard_panels(dev_config):
    rec = render(dev_config())
    (board,) = rec.of_type("gcp:monitoring/dashboard:Dashboard")
    body = json.loads(board["inputs"]["dashboardJson"])
    assert body["displayName"] == "gke-inference dev: llama-3.1-8b"
    widgets = {
        w["title"]: [d["timeSeriesQuery"]["prometheusQuery"] for d in w["xyChart"]["dataSets"]]
        for w in body["gridLayout"]["widgets"]
    }
    assert list(widgets) == [
        "Requests finished /s",
        "Tokens /s",
        "Time to first token",
        "Inter-token latency",
        "End-to-end latency",
        "Queue time",
        "Waiting requests (queue depth)",
        "Running requests (batch)",
        "KV-cache usage",
        "Preemptions /s",
        "GPU utilisation (duty cycle)",
        "GPU memory",
        "GPU memory used (fraction, max GPU)",
        "Replicas scraped",
    ]
    assert widgets["Requests finished /s"] == [
        f"sum by (finished_reason) (rate(vllm:request_success_total{{{V}}}[5m]))"
    ]
    assert widgets["Time to first token"] == [
        f"histogram_quantile({q}, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{{{V}}}[5m])))"
        for q in ("0.5", "0.9", "0.99")
    ]
    assert widgets["Inter-token latency"][2] == (
        f"histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{{{V}}}[5m])))"
    )
    assert widgets["Waiting requests (queue depth)"] == [f"sum by (pod) (vllm:num_requests_waiting{{{V}}})"]
    assert widgets["GPU utilisation (duty cycle)"] == [
        f"avg (dcgm_fi_dev_gpu_util{{{G}}})",
        f"max (dcgm_fi_dev_gpu_util{{{G}}})",
    ]
    assert widgets["Replicas scraped"] == [f"count(count by (pod) (vllm:num_requests_running{{{V}}}))"]
