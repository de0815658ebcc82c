"""HorizontalPodAutoscaler (autoscaling/v2) on vLLM's own metrics or the endpoint picker's pool averages.

The ``behavior`` block comes in as plain values: ``stack.plan.simulate.default_behavior(config,
cold_start_seconds)`` is the one derivation (from the replica cold start), and the fleet simulator
replays the same rules; this module only checks the block before rendering it.

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

The endpoint picker's pool gauges (``llm_d_epp_average_*``, workloads/metrics.py) are already a per-replica
average, one value per InferencePool: an External metric selecting the pool by ``metric.labels.name`` in the
cluster and namespace, with target type ``Value``. For an External ``Value`` target the HPA computes
``ceil(value / target × ready pods)`` (kubernetes ``pkg/controller/podautoscaler/replica_calculator.go``,
``GetExternalMetricReplicas`` → ``getUsageRatioReplicaCount``), the same proposal as a Pods ``AverageValue`` on
the vLLM gauge the picker averages; ``AverageValue`` would divide the pool average by the replicas a second
time. Every picker replica exports the gauge (its metrics logger runs without leader election), so the
selector adds the adapter's ``reducer: REDUCE_MAX`` (one value, whatever the picker's replicas; the adapter
passes it as the Cloud Monitoring cross-series reducer: k8s-stackdriver @673c7dd8
``custom-metrics-stackdriver-adapter/pkg/adapter/translator/query_builder.go``, ``allowedReducers`` and
``createListTimeseriesRequestProject``; ``reducer`` and the ``metric.labels.*`` / ``resource.labels.*`` keys are
the External selector keys it allows, same file l.40–41).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems
from workloads import metrics
from workloads.arg_rules import at_least, namespace_name, object_name
from workloads.metrics import Metric

HPA_MIN_SCALE_DOWN_WINDOW = 300
"""The HPA's default scale-down stabilization window (design.md §6); a behavior never goes below it."""
MAX_STABILIZATION_SECONDS = 3600
"""API limit of ``stabilizationWindowSeconds`` (KEDA's CRD patch enforces the same bound)."""
MAX_POLICY_PERIOD_SECONDS = 1800
"""API limit of a scaling policy's ``periodSeconds``."""
POOL_SERIES_LABEL = f"metric.labels.{metrics.POOL_LABEL}"
"""The picker's pool gauges name their InferencePool in label ``name`` (workloads/metrics.py)."""
POOL_REDUCER = "REDUCE_MAX"
"""One value across the picker replicas' identical series (module doc)."""
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
    """Per-replica average value (waiting requests, running requests, KV fraction, GPU duty %); for a picker pool
    gauge (source ``epp``) the pool average itself, held as is (not multiplied by the replicas)."""
    pool: str | None = None
    """The InferencePool whose picker exports the series: required for a pool gauge, refused for any other."""

    @property
    def target_type(self) -> Literal["AverageValue", "Value"]:
        """``Value`` for a pool gauge (already an average over the replicas), else ``AverageValue`` (module doc)."""
        return "Value" if self.metric.source == "epp" else "AverageValue"


def validate_behavior(behavior: Mapping[str, Any]) -> dict[str, Any]:
    """Check an HPA ``behavior`` block (``stack.plan.simulate.default_behavior(...).to_manifest()``) and return it.

    Rules: both directions set with at least one policy; windows within 0..3600 s and the scale-down
    window at least the HPA's 300 s; policy periods within 1..1800 s; scale-down removes at most one
    pod per period (a GPU replica removed by mistake costs a full cold start to bring back).
    """
    for direction in ("scaleUp", "scaleDown"):
        rules = behavior.get(direction)
        if not rules or not rules.get("policies"):
            raise ValueError(f"behavior.{direction}: missing or without policies; GPU replicas need explicit behavior")
        window = rules.get("stabilizationWindowSeconds")
        if window is None or not 0 <= window <= MAX_STABILIZATION_SECONDS:
            raise ValueError(
                f"behavior.{direction}.stabilizationWindowSeconds: {window}; must be 0..{MAX_STABILIZATION_SECONDS}"
            )
        for index, policy in enumerate(rules["policies"]):
            if not 1 <= policy.get("periodSeconds", 0) <= MAX_POLICY_PERIOD_SECONDS:
                raise ValueError(
                    f"behavior.{direction}.policies[{index}].periodSeconds: {policy.get('periodSeconds')}; "
                    f"must be 1..{MAX_POLICY_PERIOD_SECONDS}"
                )
            if policy.get("type") not in ("Pods", "Percent") or policy.get("value", 0) < 1:
                raise ValueError(f"behavior.{direction}.policies[{index}]: {policy}; type Pods|Percent, value ≥ 1")
    down = behavior["scaleDown"]
    if down["stabilizationWindowSeconds"] < HPA_MIN_SCALE_DOWN_WINDOW:
        raise ValueError(
            f"behavior.scaleDown.stabilizationWindowSeconds: {down['stabilizationWindowSeconds']}; at least "
            f"{HPA_MIN_SCALE_DOWN_WINDOW} (the HPA default) for replicas that take minutes to start"
        )
    if any(p["type"] != "Pods" or p["value"] != 1 for p in down["policies"]):
        raise ValueError("behavior.scaleDown.policies: remove at most one pod per period (a Pods policy of value 1)")
    return {direction: behavior[direction] for direction in ("scaleUp", "scaleDown")}


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


def metric_spec(
    goal: MetricGoal, gpus_per_replica: int = 1, cluster: str | None = None, namespace: str | None = None
) -> dict[str, Any]:
    """One ``spec.metrics[]`` entry: Pods for vLLM series, External for DCGM and the picker's pool gauges (see
    module doc)."""
    if goal.pool is not None and goal.metric.source != "epp":
        raise ValueError(f"{goal.metric.name}: a pool applies to the picker's pool gauges only; leave it unset")
    if goal.metric.source == "epp":
        return pool_metric_spec(goal, cluster, namespace)
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
    return _external(goal.metric.adapter_name,
                     {"resource.labels.cluster": cluster, DCGM_WORKLOAD_NAMESPACE_LABEL: namespace},
                     {"type": "AverageValue", "averageValue": quantity(goal.target * gpus_per_replica)})


def _external(name: str, match_labels: dict[str, str], target: dict[str, Any]) -> dict[str, Any]:
    """An HPA ``External`` metric entry: the adapter's metric ``name`` selected by ``match_labels``."""
    return {"type": "External",
            "external": {"metric": {"name": name, "selector": {"matchLabels": match_labels}}, "target": target}}


def pool_metric_spec(goal: MetricGoal, cluster: str | None, namespace: str | None) -> dict[str, Any]:
    """The External ``Value`` entry of a picker pool gauge: this pool's series in the cluster and namespace."""
    if not goal.pool or namespace is None or cluster is None:
        raise ValueError(f"{goal.metric.name}: a pool gauge needs the cluster, the serving namespace and the pool")
    labels = {"resource.labels.cluster": cluster, "resource.labels.namespace": namespace,
              POOL_SERIES_LABEL: goal.pool, "reducer": POOL_REDUCER}
    return _external(goal.metric.adapter_name, labels, {"type": "Value", "value": quantity(goal.target)})


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
    behavior: Mapping[str, Any]
    """``spec.behavior`` (``stack.plan.simulate.default_behavior(config, cold_start).to_manifest()``)."""
    cluster: str | None = None
    """Cluster name (selects DCGM and picker series; needed only for GPU and pool goals)."""
    workload_namespace: str | None = None
    """The namespace as a plain string (selects DCGM and picker series; needed only for GPU and pool goals)."""
    gpus_per_replica: int = 1
    """GPUs of one replica (scales the DCGM target)."""
    name: str | None = None
    """HPA name; defaults to the target's name."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on the HPA."""



def replica_limit_problems(min_replicas: int, max_replicas: int) -> list[Problem]:
    """The HPA's replica limits (pure): min ≥ 1, max ≥ min. The stack config runs it on
    ``autoscaling.minReplicas`` / ``maxReplicas`` (stack/config/serving.py)."""
    problems = []
    if min_replicas < 1:
        problems.append(Problem("min_replicas", f"{min_replicas}; an HPA needs ≥ 1 (use KEDA to scale to zero)"))
    if max_replicas < min_replicas:
        problems.append(Problem("max_replicas", f"{max_replicas} is below {{min_replicas}} {min_replicas}"))
    return problems


def validate_vllm_autoscaler_args(args: VllmAutoscalerArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): replica limits, goals, behavior, DCGM goals' selectors, names."""
    problems = type_problems(args, VllmAutoscalerArgs)
    if problems:
        return problems
    problems += replica_limit_problems(args.min_replicas, args.max_replicas)
    if not args.goals:
        problems.append(Problem("goals", "empty; give at least one metric target"))
    names = [g.metric.name for g in args.goals]
    if len(names) != len(set(names)):
        problems.append(Problem("goals", f"a metric appears twice ({', '.join(names)}); keep one target per metric"))
    for index, goal in enumerate(args.goals):
        try:
            metrics.lookup(goal.metric.name)
            metric_spec(goal, args.gpus_per_replica, args.cluster, args.workload_namespace)
        except (KeyError, ValueError) as err:
            problems.append(Problem(f"goals.{index}", str(err).strip("'\"")))
    try:
        validate_behavior(args.behavior)
    except ValueError as err:  # "behavior.scaleUp...: reason"
        path, _, reason = str(err).partition(": ")
        problems.append(Problem(path, reason))
    problems += at_least("gpus_per_replica", args.gpus_per_replica, 1)
    if args.name is not None:
        problems += object_name("name", args.name, "HorizontalPodAutoscaler name")
    return problems + namespace_name("namespace", args.namespace) + kubernetes_labels("labels", args.labels)


def hpa_spec(args: VllmAutoscalerArgs) -> dict[str, Any]:
    """The HPA ``spec`` (pure; raises ComponentArgsError on invalid args)."""
    raise_if_problems("VllmAutoscaler", args.name or args.target.name, validate_vllm_autoscaler_args(args))
    return {
        "scaleTargetRef": args.target.ref(),
        "minReplicas": args.min_replicas,
        "maxReplicas": args.max_replicas,
        "metrics": [metric_spec(g, args.gpus_per_replica, args.cluster, args.workload_namespace) for g in args.goals],
        "behavior": validate_behavior(args.behavior),
    }


class VllmAutoscaler(pulumi.ComponentResource):
    """An autoscaling/v2 HPA on the vLLM target. Pass an explicit Kubernetes provider in ``opts``."""

    name: str
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler

    def __init__(self, name: str, args: VllmAutoscalerArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("VllmAutoscaler", name, validate_vllm_autoscaler_args(args))
        super().__init__("gke-inference:workloads:VllmAutoscaler", name, {}, opts)
        self.name = args.name or args.target.name
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(  # type: ignore[call-overload]  # spec is a plain dict
            f"{name}-hpa",
            metadata={
                "name": self.name,
                "namespace": args.namespace,
                "labels": {"app.kubernetes.io/component": "autoscaler", **args.labels},
            },
            spec=hpa_spec(args),
            opts=child_options(self, opts),
        )
        self.register_outputs({"name": self.name})
