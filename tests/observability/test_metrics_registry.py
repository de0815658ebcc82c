"""The metric registry: names, adapter names, config mapping and PromQL helpers."""

from __future__ import annotations

import pytest

from stack.config.serving import AutoscalingMetric
from workloads import metrics as M


def test_registry_holds_each_name_once_and_sources_split():
    names = [m.name for m in M.ALL_METRICS]
    assert len(names) == len(set(names))
    assert {m.source for m in M.VLLM_METRICS} == {"vllm"}
    assert {m.source for m in M.DCGM_METRICS} == {"dcgm"}
    assert all(m.name.startswith("vllm:") for m in M.VLLM_METRICS)
    assert all(m.name.startswith("dcgm_fi_") and m.name == m.name.lower() for m in M.DCGM_METRICS)


def test_removed_vllm_names_are_not_registered():
    # Removed by vLLM 0.12/0.13 (gke-inference-anchors.md §5.11); absent from a 0.32 /metrics.
    for gone in ("vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds", "vllm:num_requests_swapped"):
        assert gone not in M.BY_NAME


def test_adapter_name_format():
    assert M.NUM_REQUESTS_WAITING.adapter_name == "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"
    assert (
        M.adapter_metric_name(M.GENERATION_TOKENS_TOTAL)
        == "prometheus.googleapis.com|vllm:generation_tokens_total|counter"
    )
    assert M.TIME_TO_FIRST_TOKEN_SECONDS.cloud_monitoring_type == (
        "prometheus.googleapis.com/vllm:time_to_first_token_seconds/histogram"
    )
    assert M.DCGM_GPU_UTIL.adapter_name == "prometheus.googleapis.com|dcgm_fi_dev_gpu_util|gauge"


def test_counter_family_drops_total():
    assert M.PROMPT_TOKENS_TOTAL.family == "vllm:prompt_tokens"
    assert M.KV_CACHE_USAGE_PERC.family == "vllm:kv_cache_usage_perc"
    with pytest.raises(ValueError, match="_total"):
        M.Metric("vllm:x", "counter", (), "1", "", "vllm")


@pytest.mark.parametrize(
    ("config_metric", "name"),
    [
        (AutoscalingMetric.QUEUE, "vllm:num_requests_waiting"),
        (AutoscalingMetric.RUNNING, "vllm:num_requests_running"),
        (AutoscalingMetric.KV_CACHE, "vllm:kv_cache_usage_perc"),
        (AutoscalingMetric.GPU_DUTY_CYCLE, "dcgm_fi_dev_gpu_util"),
        (AutoscalingMetric.POOL_QUEUE, "llm_d_epp_average_queue_size"),
        (AutoscalingMetric.POOL_KV_CACHE, "llm_d_epp_average_kv_cache_utilization"),
    ],
)
def test_every_config_autoscaling_metric_maps(config_metric, name):
    assert M.for_autoscaling(config_metric).name == name
    assert M.for_autoscaling(config_metric.value).name == name


def test_config_enum_and_mapping_agree():
    assert set(M.AUTOSCALING_METRICS) == {m.value for m in AutoscalingMetric}


def test_promql_helpers():
    sel = {"namespace": "llm", "model_name": "llama-3.1-8b"}
    assert M.aggregate("sum", M.NUM_REQUESTS_WAITING, sel) == (
        'sum (vllm:num_requests_waiting{namespace="llm",model_name="llama-3.1-8b"})'
    )
    assert M.rate(M.GENERATION_TOKENS_TOTAL, "1m", sel, by=("pod",)) == (
        'sum by (pod) (rate(vllm:generation_tokens_total{namespace="llm",model_name="llama-3.1-8b"}[1m]))'
    )
    assert M.histogram_quantile(0.99, M.TIME_TO_FIRST_TOKEN_SECONDS, "5m", {"namespace": "llm"}) == (
        'histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace="llm"}[5m])))'
    )
    assert M.histogram_mean(M.REQUEST_QUEUE_TIME_SECONDS, "5m") == (
        "sum (rate(vllm:request_queue_time_seconds_sum[5m])) / sum (rate(vllm:request_queue_time_seconds_count[5m]))"
    )
    assert M.selector(M.NUM_REQUESTS_RUNNING, {"model_name": 'a"b'}) == 'vllm:num_requests_running{model_name="a\\"b"}'


def test_promql_helpers_refuse_wrong_types():
    with pytest.raises(ValueError, match="only counters"):
        M.rate(M.NUM_REQUESTS_WAITING)
    with pytest.raises(ValueError, match="not a histogram"):
        M.histogram_quantile(0.5, M.NUM_REQUESTS_WAITING)
    with pytest.raises(ValueError, match="gauges"):
        M.aggregate("sum", M.PROMPT_TOKENS_TOTAL)
    with pytest.raises(ValueError, match="between 0 and 1"):
        M.histogram_quantile(1.5, M.TIME_TO_FIRST_TOKEN_SECONDS)


def test_lookup_and_unregistered_scan():
    assert M.lookup("vllm:time_to_first_token_seconds_bucket") is M.TIME_TO_FIRST_TOKEN_SECONDS
    with pytest.raises(KeyError):
        M.lookup("vllm:num_requests_waiting_bucket")
    text = "sum(vllm:num_requests_waiting) + vllm:gpu_cache_usage_perc + dcgm_fi_dev_gpu_temp"
    assert M.unregistered_names(text) == {"vllm:gpu_cache_usage_perc", "dcgm_fi_dev_gpu_temp"}


def test_picker_pool_gauges_as_upstream_declares_them():
    # llm-d/llm-d-router v0.10.0 (71f4f099) pkg/epp/metrics/llm_d_router_metrics.go: GaugeVecs, subsystem
    # llm_d_epp, poolLabels ["name"]; Managed Prometheus stores them as prometheus.googleapis.com/<name>/gauge.
    for metric, name in ((M.POOL_AVERAGE_QUEUE_SIZE, "llm_d_epp_average_queue_size"),
                         (M.POOL_AVERAGE_KV_CACHE, "llm_d_epp_average_kv_cache_utilization")):
        assert (metric.name, metric.type, metric.labels, metric.source) == (name, "gauge", ("name",), "epp")
        assert metric.adapter_name == f"prometheus.googleapis.com|{name}|gauge"
    assert M.POOL_AVERAGE_KV_CACHE.unit == "ratio"  # the mean of vllm:kv_cache_usage_perc, 0-1


def test_pool_metrics_average_their_vllm_gauges():
    assert M.POOL_AVERAGE_OF == {M.POOL_AVERAGE_QUEUE_SIZE: M.NUM_REQUESTS_WAITING,
                                 M.POOL_AVERAGE_KV_CACHE: M.KV_CACHE_USAGE_PERC}
    assert [M.vllm_equivalent(k) for k in ("poolQueue", "poolKvCache", "queue", "gpuDutyCycle")] == [
        "queue", "kvCache", "queue", "gpuDutyCycle"]


def test_scan_catches_the_pickers_deprecated_and_unknown_names():
    # inference_pool_* is the pre-rename prefix (still emitted at v0.10.0, deprecated): never rendered.
    text = "max(llm_d_epp_average_queue_size) + inference_pool_average_queue_size + llm_d_epp_ready_pods"
    assert M.unregistered_names(text) == {"inference_pool_average_queue_size", "llm_d_epp_ready_pods"}
