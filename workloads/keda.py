"""KEDA: the operator from its Helm chart, and a ScaledObject on Managed Prometheus for vLLM.

Facts (../shared/reference/gke-iac-reference.md §6.2; kedacore/keda v2.20.2 and kedacore/charts
tag v2.20.2, read from their sources):
* chart ``keda`` 2.20.2 (appVersion 2.20.2, the CRDs vendored in stack/schemas/keda) from
  https://kedacore.github.io/charts; value ``podIdentity.gcp.{enabled,gcpIAMServiceAccount}``
  annotates the operator KSA ``keda-operator`` for Workload Identity;
* the ``prometheus`` scaler reads ``serverAddress`` + ``/api/v1/query``; with a TriggerAuthentication
  ``podIdentity.provider: gcp`` it wraps its client in a GCP OAuth2 transport with the monitoring-read
  scope (pkg/scalers/prometheus_scaler.go), so Managed Prometheus's query API works when the operator
  GSA holds ``roles/monitoring.viewer``;
* the trigger's metric type defaults to AverageValue: KEDA divides the query result by the replica
  count, so ``threshold`` is a per-replica target exactly like the HPA's; a query that already returns a
  per-replica average (the endpoint picker's pool gauges) sets the trigger's ``metricType: Value`` (ScaledObject
  CRD ``triggers[].metricType`` enum AverageValue|Value, stack/schemas/keda), and the HPA KEDA creates compares
  the value itself with ``threshold`` (``ceil(value / threshold × ready pods)``, workloads/autoscaling.py);
* KEDA's metrics server claims ``v1beta1.external.metrics.k8s.io``: never install the Stackdriver
  adapter beside it, and never put our own HPA on the same target (KEDA creates one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, object_name
from workloads.autoscaling import ScaleTarget, validate_behavior
from workloads.awaiting import await_annotations

CHART = "keda"
CHART_REPO = "https://kedacore.github.io/charts"
CHART_VERSION = "2.20.2"
"""kedacore/charts tag v2.20.2: Chart.yaml version 2.20.2, appVersion 2.20.2 (matches the vendored CRDs)."""
NAMESPACE = "keda"
OPERATOR_SERVICE_ACCOUNT = "keda-operator"
"""Chart value ``serviceAccount.operator.name`` default."""
API_VERSION = "keda.sh/v1alpha1"
READY_CONDITION = "Ready"
"""ScaledObject status condition "defined correctly and ready for scaling" (kedacore/keda
apis/keda/v1alpha1/condition_types.go, ``ConditionReady``); ``pulumi up`` waits for it
(``pulumi.com/waitFor``). TriggerAuthentication has no conditions (usable once created)."""
GMP_QUERY_URL = "https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"
"""Managed Prometheus's Prometheus-compatible query API (the scaler appends /api/v1/query)."""


def gmp_server_address(project: str) -> str:
    """Managed Prometheus query endpoint of ``project``."""
    if not project:
        raise ValueError("project: empty; the Managed Prometheus query URL needs the GCP project id")
    return GMP_QUERY_URL.format(project=project)


def number(value: float) -> str:
    """KEDA trigger metadata is map[string]string: ``5.0`` → ``"5"``, ``0.8`` → ``"0.8"``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class KedaOperatorArgs:
    google_service_account: pulumi.Input[str]
    """GSA email (``roles/monitoring.viewer``) the operator KSA impersonates."""
    chart_version: str = CHART_VERSION
    """Helm chart version (keep in step with the CRD schemas in stack/schemas/keda)."""
    namespace: str = NAMESPACE
    """Namespace the chart installs into (created here)."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Extra chart values, merged over ours at the top level."""


def operator_values(args: KedaOperatorArgs) -> dict[str, Any]:
    """Chart values: Workload Identity on the operator KSA (chart v2.20.2 ``podIdentity.gcp``)."""
    return {
        "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": args.google_service_account}},
        **dict(args.values),
    }


class KedaOperator(pulumi.ComponentResource):
    """KEDA from its Helm chart at a pinned version. Pass an explicit Kubernetes provider in ``opts``."""

    namespace: str
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: KedaOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("KedaOperator", name, validate_keda_operator_args(args))
        super().__init__("gke-inference:workloads:KedaOperator", name, {}, opts)
        self.namespace = args.namespace
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": args.namespace, "labels": {"app.kubernetes.io/part-of": "keda"}},
            opts=child_options(self, opts),
        )
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            chart=CHART,
            version=args.chart_version,
            namespace=args.namespace,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=CHART_REPO),
            values=operator_values(args),
            opts=child_options(self, opts, depends_on=[ns]),
        )
        self.register_outputs({"namespace": args.namespace})


@dataclass(frozen=True)
class PrometheusTrigger:
    """One prometheus trigger: a PromQL query whose value KEDA divides by the replica count."""

    name: str
    """Trigger name (shows in KEDA's metric names and events)."""
    query: str
    """PromQL from the registry helpers (workloads/metrics.py)."""
    threshold: float
    """Per-replica target value."""
    activation_threshold: float
    """Above this the target wakes from zero (KEDA activation phase)."""
    metric_type: Literal["AverageValue", "Value"] = "AverageValue"
    """``AverageValue``: the query is a total KEDA divides by the replicas; ``Value``: the query is already a
    per-replica average (the picker's pool gauges), held as is."""


@dataclass(frozen=True)
class CronTrigger:
    """Hold at least ``replicas`` between ``start`` and ``end``."""

    timezone: str
    start: str
    end: str
    replicas: int


@dataclass(frozen=True)
class VllmScaledObjectArgs:
    namespace: pulumi.Input[str]
    """Namespace of the target."""
    target: ScaleTarget
    """The vLLM Deployment or LeaderWorkerSet."""
    project: str
    """GCP project whose Managed Prometheus is queried."""
    triggers: Sequence[PrometheusTrigger]
    """Metric triggers (KEDA's HPA takes the largest proposal)."""
    min_replicas: int
    """Replicas when idle; 0 scales to zero."""
    max_replicas: int
    """Maximum replicas."""
    behavior: Mapping[str, Any]
    """HPA ``behavior`` KEDA passes to the HPA it creates (``default_behavior(...).to_manifest()``)."""
    cooldown_seconds: int = 900
    """Idle time before scaling to zero."""
    polling_seconds: int = 15
    """How often KEDA queries (and checks activation)."""
    cron: Sequence[CronTrigger] = ()
    """Time-of-day capacity windows."""
    name: str | None = None
    """ScaledObject name; defaults to the target's name."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on both objects."""



def replica_limit_problems(min_replicas: int, max_replicas: int) -> list[Problem]:
    """The ScaledObject's replica limits (pure): min ≥ 0 (0 scales to zero), max ≥ 1 and ≥ min. The stack config
    runs it on ``autoscaling.keda.minReplicas`` / ``autoscaling.maxReplicas`` (stack/config/serving.py)."""
    problems = at_least("min_replicas", min_replicas, 0)
    if max_replicas < max(1, min_replicas):
        problems.append(Problem("max_replicas", f"{max_replicas}; must be ≥ 1 and ≥ {{min_replicas}} {min_replicas}"))
    return problems


def validate_vllm_scaled_object_args(args: VllmScaledObjectArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): replica limits, triggers, polling, cron windows, behavior, names."""
    problems = type_problems(args, VllmScaledObjectArgs)
    if problems:
        return problems
    problems = replica_limit_problems(args.min_replicas, args.max_replicas)
    if not args.triggers:
        problems.append(Problem("triggers", "empty; give at least one metric trigger"))
    for index, trigger in enumerate(args.triggers):
        if trigger.metric_type not in ("AverageValue", "Value"):
            problems.append(Problem(f"triggers.{index}.metric_type", f"{trigger.metric_type!r}; AverageValue or Value"))
    problems += at_least("polling_seconds", args.polling_seconds, 1) + at_least("cooldown_seconds",
                                                                              args.cooldown_seconds, 0)
    for index, window in enumerate(args.cron):
        if window.replicas > args.max_replicas:
            problems.append(Problem(f"cron.{index}.replicas", f"a window holds {window.replicas} replicas, above "
                                                              f"{{max_replicas}} {args.max_replicas}"))
    if not args.project:
        problems.append(Problem("project", "empty; the Managed Prometheus query URL needs the GCP project id"))
    try:
        validate_behavior(args.behavior)
    except ValueError as err:  # "behavior.scaleUp...: reason"
        path, _, reason = str(err).partition(": ")
        problems.append(Problem(path, reason))
    if args.name is not None:
        problems += object_name("name", args.name, "ScaledObject name")
    return problems + namespace_name("namespace", args.namespace) + kubernetes_labels("labels", args.labels)


def validate_keda_operator_args(args: KedaOperatorArgs) -> list[Problem]:
    """Problems with the KEDA install's arguments (pure)."""
    problems = type_problems(args, KedaOperatorArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace)
    if not args.chart_version or args.chart_version.startswith("v"):
        problems.append(Problem("chart_version", f"{args.chart_version!r}; give the chart version without 'v' "
                                                 f"(e.g. {CHART_VERSION})"))
    return problems


def trigger_authentication_spec() -> dict[str, Any]:
    """Workload Identity of the KEDA operator (GCP pod identity)."""
    return {"podIdentity": {"provider": "gcp"}}


def scaled_object_spec(args: VllmScaledObjectArgs, auth_name: str) -> dict[str, Any]:
    """The ScaledObject ``spec`` (pure; validated)."""
    raise_if_problems("VllmScaledObject", args.name or args.target.name, validate_vllm_scaled_object_args(args))
    server = gmp_server_address(args.project)
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": t.name,
            # AverageValue is KEDA's default: left out, as the renders before metricType existed
            **({"metricType": t.metric_type} if t.metric_type != "AverageValue" else {}),
            "metadata": {
                "serverAddress": server,
                "query": t.query,
                "threshold": number(t.threshold),
                "activationThreshold": number(t.activation_threshold),
            },
            "authenticationRef": {"name": auth_name, "kind": "TriggerAuthentication"},
        }
        for t in args.triggers
    ]
    triggers += [
        {
            "type": "cron",
            "name": f"cron-{index}",
            "metadata": {
                "timezone": window.timezone,
                "start": window.start,
                "end": window.end,
                "desiredReplicas": str(window.replicas),
            },
        }
        for index, window in enumerate(args.cron)
    ]
    return {
        "scaleTargetRef": args.target.ref(),
        "minReplicaCount": args.min_replicas,
        "maxReplicaCount": args.max_replicas,
        "pollingInterval": args.polling_seconds,
        "cooldownPeriod": args.cooldown_seconds,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": validate_behavior(args.behavior)}},
        "triggers": triggers,
    }


class VllmScaledObject(pulumi.ComponentResource):
    """A KEDA ScaledObject + TriggerAuthentication. Pass an explicit Kubernetes provider in ``opts``;
    put the KEDA chart in ``opts.depends_on`` when this stack installs it (the CRDs come with it)."""

    name: str
    scaled_object: k8s.apiextensions.CustomResource
    trigger_authentication: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: VllmScaledObjectArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("VllmScaledObject", name, validate_vllm_scaled_object_args(args))
        super().__init__("gke-inference:workloads:VllmScaledObject", name, {}, opts)
        self.name = args.name or args.target.name
        auth_name = f"{self.name}-gmp"
        labels = {"app.kubernetes.io/component": "autoscaler", **args.labels}
        self.trigger_authentication = k8s.apiextensions.CustomResource(
            f"{name}-triggerauth",
            api_version=API_VERSION,
            kind="TriggerAuthentication",
            metadata={"name": auth_name, "namespace": args.namespace, "labels": labels},
            spec=trigger_authentication_spec(),
            opts=child_options(self, opts),
        )
        self.scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-scaledobject",
            api_version=API_VERSION,
            kind="ScaledObject",
            metadata={
                "name": self.name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": await_annotations(READY_CONDITION),
            },
            spec=scaled_object_spec(args, auth_name),
            opts=child_options(self, opts, depends_on=[self.trigger_authentication]),
        )
        self.register_outputs({"name": self.name})
