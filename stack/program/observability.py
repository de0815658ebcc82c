"""Composition of observability and autoscaling: scraping, the metrics adapter, HPA or KEDA, the
dashboard and alert policies. ``stack/program.py`` calls :func:`build_observability` once the vLLM
server exists.

Every metric name comes from the registry (workloads/metrics.py); every query is built with its
PromQL helpers. Rules: mode ``hpa`` installs the Stackdriver adapter (unless
``autoscaling.installMetricsAdapter`` is false) and one HPA; mode ``keda`` installs KEDA (unless
``keda.install`` is false) and a ScaledObject, and neither the adapter nor an HPA of ours (both
claim ``v1beta1.external.metrics.k8s.io`` / the target; gke-iac-reference.md §6.2); mode ``none``
scales nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from infra.dashboard import (
    AlertRule,
    ObservabilityDashboard,
    ObservabilityDashboardArgs,
    Panel,
    Series,
)
from infra.identity import WorkloadIdentity
from stack.config import StackConfig
from stack.decisions import default_behavior
from stack.program.identities import stack_identity
from workloads import metrics as M
from workloads.autoscaling import (
    DCGM_WORKLOAD_NAMESPACE_LABEL,
    MetricGoal,
    ScaleTarget,
    VllmAutoscaler,
    VllmAutoscalerArgs,
)
from workloads.keda import (
    NAMESPACE as KEDA_NAMESPACE,
)
from workloads.keda import (
    OPERATOR_SERVICE_ACCOUNT as KEDA_KSA,
)
from workloads.keda import (
    CronTrigger,
    KedaOperator,
    KedaOperatorArgs,
    PrometheusTrigger,
    VllmScaledObject,
    VllmScaledObjectArgs,
)
from workloads.metrics_adapter import IMAGE as ADAPTER_IMAGE
from workloads.metrics_adapter import NAME as ADAPTER_KSA
from workloads.metrics_adapter import NAMESPACE as ADAPTER_NAMESPACE
from workloads.metrics_adapter import MetricsAdapter, MetricsAdapterArgs
from workloads.monitoring import VllmPodMonitoring, VllmPodMonitoringArgs

MONITORING_VIEWER = "roles/monitoring.viewer"
"""Reading Managed Prometheus (adapter README; KEDA GMP docs)."""

QUEUE_TIME_P90_ALERT_SECONDS = 5.0
"""p90 time a request waits before it is scheduled; above this users feel it (a 5 s wait before the
first token is already most of an interactive budget)."""
KV_CACHE_ALERT_FRACTION = 0.95
"""KV cache nearly full for minutes means preemptions (recomputation) are next."""
GPU_MEMORY_HEADROOM = 0.05
"""GPU memory alert at gpuMemoryUtilization + this (vLLM preallocates up to gpuMemoryUtilization)."""
GPU_MEMORY_ALERT_CAP = 0.99
"""…but never above this fraction."""
DCGM_NAMESPACE_LABEL = DCGM_WORKLOAD_NAMESPACE_LABEL.removeprefix("metric.labels.")
"""The DCGM series' label naming the workload's namespace, in PromQL form."""


class ServingTarget(Protocol):
    """What the vLLM server exposes for observability (``workloads.vllm_server.VllmServer`` has these)."""

    namespace: pulumi.Output[str]
    selector_labels: dict[str, str]
    metrics_port_name: str
    target_api_version: str
    target_kind: str
    target_name: str
    served_model_name: str


def metric_goals(config: StackConfig) -> list[MetricGoal]:
    """Config ``autoscaling.metrics`` → registered metrics with their per-replica targets (a picker pool gauge
    with this model's InferencePool)."""
    goals = []
    for m in config.autoscaling.metrics:
        metric = M.for_autoscaling(m.metric)
        goals.append(MetricGoal(metric, m.target, pool_name(config) if metric.source == "epp" else None))
    return goals


def pool_name(config: StackConfig) -> str:
    """This model's InferencePool: named after its ``serving.name`` (``GatewayConfig.model_pool_args``)."""
    return config.serving.name


def vllm_matchers(config: StackConfig, served_model_name: str) -> dict[str, str]:
    """Label matchers selecting this stack's vLLM series in Managed Prometheus."""
    return {"cluster": config.cluster.name, "namespace": config.serving.namespace, "model_name": served_model_name}


def dcgm_matchers(config: StackConfig) -> dict[str, str]:
    """Label matchers selecting the GPUs used by the serving namespace."""
    return {"cluster": config.cluster.name, DCGM_NAMESPACE_LABEL: config.serving.namespace}


def pool_matchers(config: StackConfig) -> dict[str, str]:
    """Label matchers selecting this model's InferencePool in the picker's pool gauges (the picker runs in the
    serving namespace; its pool label is ``name``, workloads/metrics.py)."""
    return {"cluster": config.cluster.name, "namespace": config.serving.namespace, M.POOL_LABEL: pool_name(config)}


def goal_query(goal: MetricGoal, config: StackConfig, served_model_name: str) -> tuple[str, float]:
    """(PromQL, threshold) for a KEDA trigger: the total over the target's pods with the per-replica threshold, or
    for a picker pool gauge the pool average (``max`` over the picker replicas' identical series) with the pool
    target (a ``Value`` trigger, ``MetricGoal.target_type``)."""
    if goal.metric.source == "epp":
        return M.aggregate("max", goal.metric, pool_matchers(config)), goal.target
    if goal.metric.source == "dcgm":
        return M.aggregate("sum", goal.metric, dcgm_matchers(config)), goal.target * config.gpus_per_replica()
    return M.aggregate("sum", goal.metric, vllm_matchers(config, served_model_name)), goal.target


# -- dashboard and alerts ---------------------------------------------------------------------


def dashboard_panels(config: StackConfig, served_model_name: str) -> list[Panel]:
    """The charts: traffic, latency, queue/batch, KV cache, GPU, replicas — all from the registry."""
    v = vllm_matchers(config, served_model_name)
    gpu = dcgm_matchers(config)

    def quantiles(metric: M.Metric) -> tuple[Series, ...]:
        return tuple(Series(f"p{int(q * 100)}", M.histogram_quantile(q, metric, "5m", v)) for q in (0.5, 0.9, 0.99))

    fb_fraction = (
        f"{M.selector(M.DCGM_FB_USED, gpu)} / ({M.selector(M.DCGM_FB_USED, gpu)} + {M.selector(M.DCGM_FB_FREE, gpu)})"
    )
    return [
        Panel(
            "Requests finished /s",
            (Series("", M.rate(M.REQUEST_SUCCESS_TOTAL, "5m", v, by=("finished_reason",))),),
            "1/s",
        ),
        Panel(
            "Tokens /s",
            (
                Series("prompt", M.rate(M.PROMPT_TOKENS_TOTAL, "5m", v)),
                Series("generation", M.rate(M.GENERATION_TOKENS_TOTAL, "5m", v)),
            ),
            "1/s",
        ),
        Panel("Time to first token", quantiles(M.TIME_TO_FIRST_TOKEN_SECONDS), "s"),
        Panel("Inter-token latency", quantiles(M.INTER_TOKEN_LATENCY_SECONDS), "s"),
        Panel("End-to-end latency", quantiles(M.E2E_REQUEST_LATENCY_SECONDS), "s"),
        Panel("Queue time", quantiles(M.REQUEST_QUEUE_TIME_SECONDS), "s"),
        Panel(
            "Waiting requests (queue depth)", (Series("", M.aggregate("sum", M.NUM_REQUESTS_WAITING, v, by=("pod",))),)
        ),
        Panel("Running requests (batch)", (Series("", M.aggregate("sum", M.NUM_REQUESTS_RUNNING, v, by=("pod",))),)),
        Panel("KV-cache usage", (Series("", M.aggregate("max", M.KV_CACHE_USAGE_PERC, v, by=("pod",))),), "10^2.%"),
        Panel("Preemptions /s", (Series("", M.rate(M.NUM_PREEMPTIONS_TOTAL, "5m", v, by=("pod",))),), "1/s"),
        Panel(
            "GPU utilisation (duty cycle)",
            (
                Series("mean", M.aggregate("avg", M.DCGM_GPU_UTIL, gpu)),
                Series("max", M.aggregate("max", M.DCGM_GPU_UTIL, gpu)),
            ),
            "%",
        ),
        Panel(
            "GPU memory",
            (
                Series("used (max GPU)", M.aggregate("max", M.DCGM_FB_USED, gpu)),
                Series("free (min GPU)", M.aggregate("min", M.DCGM_FB_FREE, gpu)),
            ),
            "MiBy",
        ),
        Panel("GPU memory used (fraction, max GPU)", (Series("max", f"max({fb_fraction})"),), "10^2.%"),
        Panel("Replicas scraped", (Series("replicas", replicas_query(v)),)),
    ]


def replicas_query(matchers: Mapping[str, str]) -> str:
    """Serving replicas that Managed Prometheus scrapes (one series per pod and engine → count pods)."""
    return f"count(count by (pod) ({M.selector(M.NUM_REQUESTS_RUNNING, matchers)}))"


def alert_rules(config: StackConfig, served_model_name: str) -> list[AlertRule]:
    """Queue time, no replicas/no scrape, KV-cache saturation, GPU memory — all from the registry."""
    v = vllm_matchers(config, served_model_name)
    gpu = dcgm_matchers(config)
    gpu_memory_limit = min(GPU_MEMORY_ALERT_CAP, config.serving.vllm.gpu_memory_utilization + GPU_MEMORY_HEADROOM)
    rules = [
        AlertRule(
            "queue-time",
            "vLLM queue time p90 high",
            f"{M.histogram_quantile(0.9, M.REQUEST_QUEUE_TIME_SECONDS, '5m', v)} > {QUEUE_TIME_P90_ALERT_SECONDS:g}",
            300,
            "WARNING",
            f"p90 queue time of `{served_model_name}` above {QUEUE_TIME_P90_ALERT_SECONDS:g} s for 5 min: replicas are "
            "saturated. Check the autoscaler is at maxReplicas or stuck (GPU capacity, quota); raise maxReplicas "
            "or lower the queue target.",
        ),
        AlertRule(
            "kv-cache",
            "vLLM KV cache saturated",
            f"{M.aggregate('max', M.KV_CACHE_USAGE_PERC, v, by=('pod',))} > {KV_CACHE_ALERT_FRACTION:g}",
            600,
            "WARNING",
            f"KV cache above {KV_CACHE_ALERT_FRACTION:.0%} for 10 min on a replica: requests get preempted and "
            "recomputed. Scale on kvCache, lower maxNumSeqs or maxModelLen, or use fp8 KV cache.",
        ),
        AlertRule(
            "gpu-memory",
            "GPU memory nearly full",
            f"max({M.selector(M.DCGM_FB_USED, gpu)} / ({M.selector(M.DCGM_FB_USED, gpu)} + "
            f"{M.selector(M.DCGM_FB_FREE, gpu)})) > {gpu_memory_limit:g}",
            600,
            "WARNING",
            f"A serving GPU uses more than {gpu_memory_limit:.0%} of its memory (vLLM preallocates "
            f"{config.serving.vllm.gpu_memory_utilization:.0%}): another process or fragmentation; CUDA OOM is next.",
        ),
    ]
    if config.min_replicas() >= 1:  # 0 only with KEDA scale-to-zero
        rules.insert(
            1,
            AlertRule(
                "no-replicas",
                "No vLLM replica scraped",
                f"absent({M.selector(M.NUM_REQUESTS_RUNNING, v)})",
                300,
                "CRITICAL",
                f"No `{served_model_name}` pod has been scraped for 5 min: no replica is ready, or scraping is broken "
                "(PodMonitoring, NetworkPolicy). `kubectl get pods,podmonitoring -n "
                f"{config.serving.namespace}`.",
            ),
        )
    return rules


# -- identities -------------------------------------------------------------------------------


def _identity(
    name: str,
    config: StackConfig,
    stack: str,
    prefix: str,
    namespace: str,
    ksa: str,
    gcp_depends_on: Sequence[pulumi.Resource],
) -> WorkloadIdentity:
    if not config.cluster.workload_identity:
        raise ValueError(
            f"cluster.workloadIdentity: false, but {ksa} in {namespace} reads Managed Prometheus through Workload "
            "Identity; enable it, or set autoscaling.mode none"
        )
    return stack_identity(
        name, config, stack, prefix, namespace, ksa, gcp_depends_on, project_roles=(MONITORING_VIEWER,)
    ).identity


# -- the composition --------------------------------------------------------------------------


def build_observability(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    servers: Mapping[str, tuple[ServingTarget, float]],
    notification_channels: tuple[pulumi.Input[str], ...] = (),
    adapter_image: pulumi.Input[str] | None = None,
    gcp_depends_on: Sequence[pulumi.Resource] = (),
) -> dict[str, Any]:
    """Create the autoscaling controllers once, then per model its scraping, autoscaler, dashboard and alerts;
    return the exports (the top-level model's at the top level, every model's under ``models``).

    Args:
        config: the validated stack configuration.
        stack: stack name (used in GSA ids and the dashboard title).
        provider: the cluster's explicit Kubernetes provider.
        servers: per model key (``StackConfig.model_views``) its vLLM server (``VllmServer``: namespace, selector
            labels, metrics port name, scale target, served model name) and its replica cold start
            (``stack.decisions.replica_cold_start_seconds``), from which ``stack.decisions.default_behavior``
            derives the HPA/KEDA behavior.
        notification_channels: Cloud Monitoring channel ids the alerts notify.
        adapter_image: the Stackdriver adapter image pinned by digest (the program passes the one
            ``stack.program.images`` looked up); None uses the upstream tag (``workloads.metrics_adapter.IMAGE``),
            which the policy pack flags.
        gcp_depends_on: what the GCP resources here (service accounts, IAM, dashboard, alerts) wait
            for: the enabled APIs and, for Workload Identity bindings, the cluster (its identity pool).
    """
    views = config.model_views()
    exports, controllers = _controllers(config, stack, provider, adapter_image, gcp_depends_on)
    per_model = {
        key: _model_observability(views[key], stack, provider, target, cold_start, controllers.get(
            views[key].autoscaling.mode, []), notification_channels, gcp_depends_on)
        for key, (target, cold_start) in servers.items()
    }
    primary = next(iter(per_model.values()))
    return {**exports, **primary, **({"models": per_model} if len(per_model) > 1 else {})}


def _controllers(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    adapter_image: pulumi.Input[str] | None,
    gcp_depends_on: Sequence[pulumi.Resource],
) -> tuple[dict[str, Any], dict[str, list[pulumi.Resource]]]:
    """The Stackdriver adapter (a model scales with the HPA) and the KEDA operator (a model scales with KEDA), once
    for the stack; returns the exports and, per autoscaling mode, what its autoscalers wait for."""
    k8s_opts = pulumi.ResourceOptions(provider=provider)
    exports: dict[str, Any] = {}
    controllers: dict[str, list[pulumi.Resource]] = {"hpa": [], "keda": []}
    if config.uses_metrics_adapter():
        identity = _identity(
            "metrics-adapter-wi", config, stack, "cm-adapter", ADAPTER_NAMESPACE, ADAPTER_KSA, gcp_depends_on
        )
        adapter = MetricsAdapter(
            "metrics-adapter",
            MetricsAdapterArgs(google_service_account=identity.email, image=adapter_image or ADAPTER_IMAGE),
            opts=k8s_opts,
        )
        controllers["hpa"] = list(adapter.apiservices)
        exports["metricsAdapterServiceAccount"] = identity.email
    if config.uses_keda_operator():
        identity = _identity("keda-wi", config, stack, "keda", KEDA_NAMESPACE, KEDA_KSA, gcp_depends_on)
        operator = KedaOperator("keda", KedaOperatorArgs(google_service_account=identity.email), opts=k8s_opts)
        controllers["keda"] = [operator]
        exports["kedaServiceAccount"] = identity.email
    return exports, controllers


def _model_observability(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    serving: ServingTarget,
    cold_start_seconds: float,
    depends: list[pulumi.Resource],
    notification_channels: tuple[pulumi.Input[str], ...],
    gcp_depends_on: Sequence[pulumi.Resource],
) -> dict[str, Any]:
    """One model (``config`` is its view): PodMonitoring, HPA or ScaledObject, dashboard and alerts."""
    k8s_opts = pulumi.ResourceOptions(provider=provider)
    a = config.autoscaling
    exports: dict[str, Any] = {}

    monitoring = VllmPodMonitoring(
        config.resource_name("vllm-metrics"),
        VllmPodMonitoringArgs(
            namespace=serving.namespace,
            selector_labels=dict(serving.selector_labels),
            port=serving.metrics_port_name,
            name=f"{serving.target_name}-metrics",
        ),
        opts=k8s_opts,
    )
    exports["podMonitoring"] = monitoring.name

    target = ScaleTarget(serving.target_api_version, serving.target_kind, serving.target_name)
    if a.mode != "none":
        behavior = default_behavior(config, cold_start_seconds).to_manifest()
        goals = metric_goals(config)
    if a.mode == "hpa":
        hpa = VllmAutoscaler(
            config.resource_name("vllm-autoscaler"),
            VllmAutoscalerArgs(
                namespace=serving.namespace,
                target=target,
                min_replicas=a.min_replicas,
                max_replicas=a.max_replicas,
                goals=goals,
                behavior=behavior,
                cluster=config.cluster.name,
                workload_namespace=config.serving.namespace,
                gpus_per_replica=config.gpus_per_replica(),
            ),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=depends),
        )
        exports["autoscaler"] = f"HorizontalPodAutoscaler/{hpa.name}"
    elif a.mode == "keda":
        triggers = []
        for goal, source in zip(goals, a.metrics, strict=True):
            query, threshold = goal_query(goal, config, serving.served_model_name)
            triggers.append(PrometheusTrigger(source.metric.value.lower(), query, threshold,
                                              a.keda.activation_threshold, goal.target_type))
        if a.keda.wake_query is not None:
            # A signal that exists at zero replicas (vLLM's own series vanish with the last pod).
            triggers.append(PrometheusTrigger("wake", a.keda.wake_query, a.keda.wake_threshold, 0))
        scaled = VllmScaledObject(
            config.resource_name("vllm-scaledobject"),
            VllmScaledObjectArgs(
                namespace=serving.namespace,
                target=target,
                project=config.project,
                triggers=triggers,
                min_replicas=a.keda.min_replicas,
                max_replicas=a.max_replicas,
                behavior=behavior,
                cooldown_seconds=a.keda.cooldown_seconds,
                polling_seconds=a.keda.polling_seconds,
                cron=tuple(CronTrigger(c.timezone, c.start, c.end, c.replicas) for c in a.keda.cron),
            ),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=depends),
        )
        exports["autoscaler"] = f"ScaledObject/{scaled.name}"
    else:
        exports["autoscaler"] = "none"

    board = ObservabilityDashboard(
        config.resource_name("observability"),
        ObservabilityDashboardArgs(
            project=config.project,
            display_name=f"gke-inference {stack}: {serving.served_model_name}",
            panels=dashboard_panels(config, serving.served_model_name),
            alerts=alert_rules(config, serving.served_model_name),
            notification_channels=notification_channels,
            labels={"stack": stack, "managed-by": "pulumi"},
        ),
        opts=pulumi.ResourceOptions(depends_on=list(gcp_depends_on)),
    )
    exports["dashboardId"] = board.dashboard_id
    exports["alertPolicies"] = [p.display_name for p in board.alert_policies]
    return exports
