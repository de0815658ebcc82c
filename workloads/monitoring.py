"""Managed Prometheus scraping of the vLLM pods: one ``PodMonitoring`` (monitoring.googleapis.com/v1).

Facts this follows (../shared/reference/gke-iac-reference.md §6.1, §8 item 12):
* ``endpoints[].interval`` is required from prometheus-engine v0.17 with no default, so it is set;
  ``timeout`` must not exceed ``interval`` (a CEL rule of the CRD, checked here eagerly);
* the port is the *named* serving port (vLLM serves ``/metrics`` on it), so the ``container``
  target label is populated;
* ``pod`` stays in ``targetLabels.metadata``: the Stackdriver adapter's Pods-metric filter matches
  ``metric.labels.pod``;
* GKE owns the CRD; only the custom resource is created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems
from workloads import metrics
from workloads.arg_rules import label_selector, namespace_name, object_name
from workloads.awaiting import await_annotations

API_VERSION = "monitoring.googleapis.com/v1"
KIND = "PodMonitoring"
READY_CONDITION = "ConfigurationCreateSuccess"
"""The only status condition of a PodMonitoring: the operator turned it into collector config
(GoogleCloudPlatform/prometheus-engine pkg/operator/apis/monitoring/v1, ``MonitoringConditionType``);
``pulumi up`` waits for it (``pulumi.com/waitFor``), so scraping is configured when ``up`` ends."""
ALLOWED_TARGET_LABELS = ("container", "node", "pod", "top_level_controller_name", "top_level_controller_type")
"""``targetLabels.metadata`` values the v1 CRD accepts for a PodMonitoring."""
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(value: str) -> float:
    """Seconds in a simple Prometheus duration (``500ms``, ``15s``, ``1m``, ``1h``)."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a Prometheus duration like 15s or 1m")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class VllmPodMonitoringArgs:
    namespace: pulumi.Input[str]
    """Namespace of the vLLM pods (a PodMonitoring selects pods in its own namespace)."""
    selector_labels: Mapping[str, str]
    """Labels that select the vLLM pods (the workload's selector)."""
    port: str = "http"
    """Named container port that serves ``/metrics`` (vLLM's serving port)."""
    name: str = "vllm"
    """Name of the PodMonitoring object."""
    path: str = "/metrics"
    """Metrics path."""
    interval: str = "15s"
    """Scrape interval (required by the CRD since v0.17). 15 s = the HPA sync period."""
    timeout: str = "10s"
    """Scrape timeout, at most ``interval``."""
    target_labels: tuple[str, ...] = ("pod", "container", "node", "top_level_controller_name")
    """Pod metadata copied onto every series; must contain ``pod`` (the adapter filters on it)."""
    keep_only_registered: bool = False
    """Keep only the vLLM series of the metric registry (cuts ingestion cost; drops the rest)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on the PodMonitoring object."""



def validate_vllm_pod_monitoring_args(args: VllmPodMonitoringArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): selector, port name, durations, target labels, names."""
    problems = type_problems(args, VllmPodMonitoringArgs)
    if problems:
        return problems
    problems = label_selector("selector_labels", args.selector_labels, "a PodMonitoring")
    if not args.port or args.port.isdigit():
        problems.append(Problem("port", f"{args.port!r}; use the container port's name (e.g. http) so `container` is "
                                        "labelled"))
    durations = {}
    for path in ("interval", "timeout"):
        try:
            durations[path] = duration_seconds(getattr(args, path))
        except ValueError as err:
            problems.append(Problem(path, str(err)))
    if len(durations) == 2 and durations["timeout"] > durations["interval"]:
        problems.append(Problem("timeout", f"{args.timeout} exceeds {{interval}} {args.interval}; the CRD requires "
                                           "timeout <= interval"))
    if "pod" not in args.target_labels:
        problems.append(Problem("target_labels", "must include 'pod' (the custom-metrics adapter matches "
                                                 "metric.labels.pod)"))
    unknown = sorted(set(args.target_labels) - set(ALLOWED_TARGET_LABELS))
    if unknown:
        problems.append(Problem("target_labels", f"{unknown} not allowed; choose from "
                                                 f"{', '.join(ALLOWED_TARGET_LABELS)}"))
    problems += object_name("name", args.name, "PodMonitoring name") + namespace_name("namespace", args.namespace)
    return problems + kubernetes_labels("labels", args.labels)


def keep_registered_relabeling() -> list[dict[str, Any]]:
    """A ``metricRelabeling`` rule keeping only registered vLLM series (histogram series included)."""
    names = "|".join(re.escape(m.name) for m in metrics.VLLM_METRICS)
    return [{"action": "keep", "sourceLabels": ["__name__"], "regex": f"({names})(_bucket|_sum|_count)?"}]


def pod_monitoring_spec(args: VllmPodMonitoringArgs) -> dict[str, Any]:
    """The PodMonitoring ``spec`` (pure; raises ComponentArgsError on invalid args)."""
    raise_if_problems("VllmPodMonitoring", args.name, validate_vllm_pod_monitoring_args(args))
    endpoint: dict[str, Any] = {
        "port": args.port,
        "path": args.path,
        "scheme": "http",
        "interval": args.interval,
        "timeout": args.timeout,
    }
    if args.keep_only_registered:
        endpoint["metricRelabeling"] = keep_registered_relabeling()
    return {
        "selector": {"matchLabels": dict(args.selector_labels)},
        "endpoints": [endpoint],
        "targetLabels": {"metadata": list(args.target_labels)},
    }


class VllmPodMonitoring(pulumi.ComponentResource):
    """Managed Prometheus scrapes vLLM's ``/metrics``. Pass an explicit Kubernetes provider in ``opts``."""

    name: str
    resource: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: VllmPodMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("VllmPodMonitoring", name, validate_vllm_pod_monitoring_args(args))
        spec = pod_monitoring_spec(args)
        super().__init__("gke-inference:workloads:VllmPodMonitoring", name, {}, opts)
        self.name = args.name
        self.resource = k8s.apiextensions.CustomResource(
            f"{name}-podmonitoring",
            api_version=API_VERSION,
            kind=KIND,
            metadata={
                "name": args.name,
                "namespace": args.namespace,
                "labels": {"app.kubernetes.io/component": "metrics", **args.labels},
                "annotations": await_annotations(READY_CONDITION),
            },
            spec=spec,
            opts=child_options(self, opts),
        )
        self.register_outputs({"name": args.name})
