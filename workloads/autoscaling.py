"""HorizontalPodAutoscaler (autoscaling/v2) on vLLM's own metrics, and the behavior derived from the
replica cold start (the one implementation of that derivation; stack/ code imports it from here).

Facts (../shared/design.md §6, gke-iac-reference.md §7, gke-inference-anchors.md §2.9 and §5.10):
* HPA syncs every 15 s with tolerance 0.1; its default scale-down window is 300 s;
* a GPU replica takes minutes to start, so ``behavior`` is always set: scale up at once, scale down
  slowly and one replica at a time (queue-only scaling otherwise flaps: the queue drains, the
  metric drops to 0, replicas go, the queue returns — the "up and down behavior" ACP documents);
* metric names through the Stackdriver adapter are ``prometheus.googleapis.com|<metric>|<kind>``
  (taken from the registry, workloads/metrics.py).

vLLM metrics are Pods metrics: the adapter averages the series of the target's pods (matched on
``metric.labels.pod``, which the PodMonitoring keeps). DCGM series are written by GKE's DCGM
exporter pods, so their ``pod`` label is the exporter's, not vLLM's: the GPU signal is an External
metric summed over the serving namespace's GPUs, and its per-replica target is multiplied by the
GPUs of one replica (HPA AverageValue divides the sum by the replica count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from workloads import metrics
from workloads.metrics import Metric

HPA_MIN_SCALE_DOWN_WINDOW = 300
"""The HPA's default scale-down stabilization window (design.md §6); never go below it."""
MAX_STABILIZATION_SECONDS = 3600
"""API limit of ``stabilizationWindowSeconds``."""
MAX_POLICY_PERIOD_SECONDS = 1800
"""API limit of a scaling policy's ``periodSeconds``."""
DEFAULT_SCALE_UP_PODS = 4
"""Replicas added per scale-up period at most (Pods policy), with…"""
DEFAULT_SCALE_UP_PERCENT = 100
"""…the Percent policy (doubling); ``selectPolicy: Max`` takes the larger."""
DEFAULT_SCALE_UP_PERIOD = 60
"""Seconds per scale-up policy period: four HPA syncs, and about the Managed Prometheus ingestion delay."""
MIN_SCALE_DOWN_PERIOD = 60
DCGM_WORKLOAD_NAMESPACE_LABEL = "metric.labels.exported_namespace"
"""Label on DCGM series naming the namespace of the pod using the GPU. The exporter sets
``namespace``; Managed Prometheus renames it ``exported_namespace`` because its own target label
``namespace`` (the exporter's) collides [Mem: verify on a cluster with managed DCGM]."""


@dataclass(frozen=True)
class ScaleTarget:
    """The object an autoscaler scales (needs a ``scale`` subresource)."""

    api_version: str
    """e.g. ``apps/v1`` or ``leaderworkerset.x-k8s.io/v1``."""
    kind: str
    """e.g. ``Deployment`` or ``LeaderWorkerSet``."""
    name: str
    """Object name in the autoscaler's namespace."""

    def ref(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class MetricGoal:
    """One signal and the per-replica average to hold."""

    metric: Metric
    """A registered metric (workloads/metrics.py)."""
    target: float
    """Per-replica average value (waiting requests, running requests, KV fraction, GPU duty %)."""


@dataclass(frozen=True)
class Behavior:
    """HPA ``behavior``: fast up, slow down, one replica at a time."""

    scale_up_stabilization_seconds: int
    scale_up_pods: int
    scale_up_percent: int
    scale_up_period_seconds: int
    scale_down_stabilization_seconds: int
    scale_down_period_seconds: int
    scale_down_pods: int = 1

    def validate(self) -> None:
        if not HPA_MIN_SCALE_DOWN_WINDOW <= self.scale_down_stabilization_seconds <= MAX_STABILIZATION_SECONDS:
            raise ValueError(
                f"scale_down_stabilization_seconds: {self.scale_down_stabilization_seconds}; must be "
                f"{HPA_MIN_SCALE_DOWN_WINDOW}..{MAX_STABILIZATION_SECONDS} (GPU replicas are slow to bring back)"
            )
        if not 0 <= self.scale_up_stabilization_seconds <= MAX_STABILIZATION_SECONDS:
            raise ValueError(f"scale_up_stabilization_seconds: {self.scale_up_stabilization_seconds}; must be 0..3600")
        for name in ("scale_up_period_seconds", "scale_down_period_seconds"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_POLICY_PERIOD_SECONDS:
                raise ValueError(f"{name}: {value}; must be 1..{MAX_POLICY_PERIOD_SECONDS}")
        if self.scale_up_pods < 1 or self.scale_up_percent < 1 or self.scale_down_pods < 1:
            raise ValueError("scale_up_pods, scale_up_percent and scale_down_pods must be at least 1")

    def to_k8s(self) -> dict[str, Any]:
        """The ``spec.behavior`` object (also KEDA's ``horizontalPodAutoscalerConfig.behavior``)."""
        self.validate()
        return {
            "scaleUp": {
                "stabilizationWindowSeconds": self.scale_up_stabilization_seconds,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": self.scale_up_pods, "periodSeconds": self.scale_up_period_seconds},
                    {"type": "Percent", "value": self.scale_up_percent, "periodSeconds": self.scale_up_period_seconds},
                ],
            },
            "scaleDown": {
                "stabilizationWindowSeconds": self.scale_down_stabilization_seconds,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": self.scale_down_pods, "periodSeconds": self.scale_down_period_seconds}
                ],
            },
        }


def derive_behavior(
    cold_start_seconds: float,
    *,
    scale_up_stabilization_seconds: int | None = None,
    scale_down_stabilization_seconds: int | None = None,
    scale_up_pods: int | None = None,
    scale_up_percent: int | None = None,
    scale_up_period_seconds: int | None = None,
    scale_down_period_seconds: int | None = None,
) -> Behavior:
    """Behavior from the replica cold start; every keyword not None overrides its derived value.

    Derivation (``C`` = cold start, seconds from scheduling to Ready):
    * scale up: window 0, Pods ``4`` or Percent ``100`` per 60 s, whichever adds more;
    * scale-down window ``max(300, ceil(C))`` capped at 3600: a replica removed is only worth
      removing if load stayed low for at least as long as it takes to bring it back;
    * scale down one replica per ``clamp(ceil(C), 60, 1800)`` s, so a mistaken removal costs
      at most one replica per cold start.

    Args:
        cold_start_seconds: replica cold start (``stack.estimate.estimate_cold_start(config).total_seconds``).
        scale_up_stabilization_seconds .. scale_down_period_seconds: explicit overrides (config
            ``autoscaling.behavior``).
    """
    if cold_start_seconds <= 0:
        raise ValueError(f"cold_start_seconds: {cold_start_seconds}; must be positive (seconds until a replica is Ready)")
    cold = math.ceil(cold_start_seconds)
    behavior = Behavior(
        scale_up_stabilization_seconds=_pick(scale_up_stabilization_seconds, 0),
        scale_up_pods=_pick(scale_up_pods, DEFAULT_SCALE_UP_PODS),
        scale_up_percent=_pick(scale_up_percent, DEFAULT_SCALE_UP_PERCENT),
        scale_up_period_seconds=_pick(scale_up_period_seconds, DEFAULT_SCALE_UP_PERIOD),
        scale_down_stabilization_seconds=_pick(
            scale_down_stabilization_seconds, min(max(HPA_MIN_SCALE_DOWN_WINDOW, cold), MAX_STABILIZATION_SECONDS)
        ),
        scale_down_period_seconds=_pick(
            scale_down_period_seconds, min(max(MIN_SCALE_DOWN_PERIOD, cold), MAX_POLICY_PERIOD_SECONDS)
        ),
    )
    behavior.validate()
    return behavior


def _pick(override: int | None, derived: int) -> int:
    return derived if override is None else override


def quantity(value: float) -> str:
    """A Kubernetes quantity for a metric target: ``5`` → ``"5"``, ``0.8`` → ``"800m"``."""
    if value <= 0:
        raise ValueError(f"target {value} must be positive")
    if float(value).is_integer():
        return str(int(value))
    milli = round(value * 1000)
    if milli == 0:
        raise ValueError(f"target {value} is below the 1m resolution of a Kubernetes quantity")
    return f"{milli}m"


def metric_spec(goal: MetricGoal, gpus_per_replica: int = 1, cluster: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    """One ``spec.metrics[]`` entry: Pods for vLLM series, External for DCGM (see module doc)."""
    if goal.metric.source == "vllm":
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": goal.metric.adapter_name},
                "target": {"type": "AverageValue", "averageValue": quantity(goal.target)},
            },
        }
    if namespace is None or cluster is None:
        raise ValueError(f"{goal.metric.name}: an External DCGM metric needs the cluster and the serving namespace")
    return {
        "type": "External",
        "external": {
            "metric": {
                "name": goal.metric.adapter_name,
                "selector": {
                    "matchLabels": {"resource.labels.cluster": cluster, DCGM_WORKLOAD_NAMESPACE_LABEL: namespace}
                },
            },
            "target": {"type": "AverageValue", "averageValue": quantity(goal.target * gpus_per_replica)},
        },
    }


@dataclass(frozen=True)
class VllmAutoscalerArgs:
    namespace: pulumi.Input[str]
    """Namespace of the target (an HPA scales objects in its own namespace)."""
    target: ScaleTarget
    """The vLLM Deployment or LeaderWorkerSet."""
    min_replicas: int
    """Minimum replicas (≥ 1; scale to zero needs KEDA)."""
    max_replicas: int
    """Maximum replicas."""
    goals: Sequence[MetricGoal]
    """Signals; with several, the HPA takes the largest replica proposal."""
    behavior: Behavior
    """From :func:`derive_behavior`."""
    cluster: str | None = None
    """Cluster name (selects DCGM series; needed only for GPU goals)."""
    gpus_per_replica: int = 1
    """GPUs of one replica (scales the DCGM target)."""
    name: str | None = None
    """HPA name; defaults to the target's name."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on the HPA."""

    def validate(self) -> None:
        if self.min_replicas < 1:
            raise ValueError(f"min_replicas: {self.min_replicas}; an HPA needs ≥ 1 (use KEDA to scale to zero)")
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas: {self.max_replicas} is below min_replicas {self.min_replicas}")
        if not self.goals:
            raise ValueError("goals: empty; give at least one metric target")
        names = [g.metric.name for g in self.goals]
        if len(names) != len(set(names)):
            raise ValueError(f"goals: a metric appears twice ({', '.join(names)}); keep one target per metric")
        for goal in self.goals:
            metrics.lookup(goal.metric.name)


def hpa_spec(args: VllmAutoscalerArgs, namespace: str | None = None) -> dict[str, Any]:
    """The HPA ``spec`` (pure; validated). ``namespace`` is needed only for DCGM goals."""
    args.validate()
    return {
        "scaleTargetRef": args.target.ref(),
        "minReplicas": args.min_replicas,
        "maxReplicas": args.max_replicas,
        "metrics": [metric_spec(g, args.gpus_per_replica, args.cluster, namespace) for g in args.goals],
        "behavior": args.behavior.to_k8s(),
    }


class VllmAutoscaler(pulumi.ComponentResource):
    """An autoscaling/v2 HPA on the vLLM target. Pass an explicit Kubernetes provider in ``opts``."""

    name: str
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler

    def __init__(self, name: str, args: VllmAutoscalerArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("gke-inference:workloads:VllmAutoscaler", name, {}, opts)
        self.name = args.name or args.target.name
        spec = pulumi.Output.from_input(args.namespace).apply(lambda ns: hpa_spec(args, ns))
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={
                "name": self.name,
                "namespace": args.namespace,
                "labels": {"app.kubernetes.io/component": "autoscaler", **args.labels},
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.name})
