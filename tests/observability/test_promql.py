"""Every PromQL query the stack renders (dashboard, alerts, KEDA triggers) parses as PromQL."""

from __future__ import annotations

import json

import promql_parser
import pytest

from tests.observability.test_observability_program import render

ALL_SIGNALS = (
    "autoscaling.metrics=[{metric: queue, target: 5}, {metric: running, target: 32},"
    " {metric: kvCache, target: 0.8}, {metric: gpuDutyCycle, target: 70}]"
)


def rendered_queries(rec) -> list[str]:
    queries = []
    for board in rec.of_type("gcp:monitoring/dashboard:Dashboard"):
        for widget in json.loads(board["inputs"]["dashboardJson"])["gridLayout"]["widgets"]:
            queries += [d["timeSeriesQuery"]["prometheusQuery"] for d in widget["xyChart"]["dataSets"]]
    for policy in rec.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        queries += [c["conditionPrometheusQueryLanguage"]["query"] for c in policy["inputs"]["conditions"]]
    for so in rec.kind("ScaledObject"):
        queries += [t["metadata"]["query"] for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
    return queries


@pytest.mark.parametrize("mode", ["hpa", "keda"])
def test_every_query_parses(dev_config, mode):
    rec = render(dev_config(f"autoscaling.mode={mode}", "autoscaling.keda.minReplicas=1", ALL_SIGNALS))
    queries = rendered_queries(rec)
    # 14 panels (25 series) + 4 alerts, plus 4 KEDA triggers in keda mode.
    assert len(queries) == 25 + 4 + (4 if mode == "keda" else 0)
    for query in queries:
        promql_parser.parse(query)  # raises ValueError on a syntax or type error


def test_parser_rejects_what_it_should():
    for bad in ('sum (vllm:num_requests_waiting{a="b"', "rate(vllm:prompt_tokens_total)", "histogram_quantile(0.9)"):
        with pytest.raises(ValueError):
            promql_parser.parse(bad)


def test_pool_metric_triggers_parse(dev_config):
    rec = render(dev_config(*("autoscaling.mode=keda", "autoscaling.keda.minReplicas=1"),
                            "autoscaling.metrics=[{metric: poolQueue, target: 5}, {metric: poolKvCache, target: 0.8}]"))
    (so,) = rec.kind("ScaledObject")
    queries = [t["metadata"]["query"] for t in so["spec"]["triggers"]]
    assert queries == [
        'max (llm_d_epp_average_queue_size{cluster="inference-dev",namespace="llm",name="vllm"})',
        'max (llm_d_epp_average_kv_cache_utilization{cluster="inference-dev",namespace="llm",name="vllm"})',
    ]
    for query in queries:
        promql_parser.parse(query)
