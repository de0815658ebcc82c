"""A Cloud Monitoring dashboard and alert policies whose every query is PromQL (Managed Prometheus).

This module knows Cloud Monitoring's shapes, not what is charted: callers pass panels and rules
(stack/program/observability.py builds them from the metric registry, workloads/metrics.py).

Shapes (pulumi-gcp 10.2.0 ``gcp.monitoring.Dashboard(dashboard_json=...)`` and
``gcp.monitoring.AlertPolicy(conditions=[{condition_prometheus_query_language: ...}])``; Cloud
Monitoring dashboards API: ``gridLayout.widgets[].xyChart.dataSets[].timeSeriesQuery.prometheusQuery``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import Problem, project_id, raise_if_problems, type_problems


@dataclass(frozen=True)
class Series:
    """One line on a chart."""

    legend: str
    """Legend text; empty lets Cloud Monitoring list the series' labels (for grouped queries)."""
    promql: str
    """PromQL query."""


@dataclass(frozen=True)
class Panel:
    """One chart."""

    title: str
    """Chart title."""
    series: tuple[Series, ...]
    """Lines on it."""
    unit: str = "1"
    """Unit of the values (UCUM, e.g. ``s``, ``1``, ``10^2.%``, ``MiBy``)."""
    y_label: str = ""
    """Y-axis label."""


@dataclass(frozen=True)
class AlertRule:
    """An alert whose condition is a PromQL expression (it fires while the expression returns series)."""

    name: str
    """Short id (logical resource name suffix)."""
    display_name: str
    """Title shown in Cloud Monitoring."""
    promql: str
    """Boolean PromQL, e.g. ``histogram_quantile(...) > 5``."""
    duration_seconds: int
    """How long the expression must hold before the alert fires."""
    severity: Literal["CRITICAL", "ERROR", "WARNING"]
    """Alert severity."""
    documentation: str
    """What it means and what to do (markdown)."""


def _data_set(series: Series, unit: str) -> dict[str, Any]:
    data_set: dict[str, Any] = {
        "timeSeriesQuery": {"prometheusQuery": series.promql, "unitOverride": unit},
        "plotType": "LINE",
        "targetAxis": "Y1",
    }
    if series.legend:
        data_set["legendTemplate"] = series.legend
    return data_set


def dashboard_json(display_name: str, panels: Sequence[Panel], columns: int = 2) -> str:
    """The ``dashboard_json`` of a grid of PromQL line charts (``panels`` as ``validate_observability_dashboard_args``
    accepts them)."""
    widgets = []
    for panel in panels:
        widgets.append(
            {
                "title": panel.title,
                "xyChart": {
                    "dataSets": [_data_set(s, panel.unit) for s in panel.series],
                    "yAxis": {"label": panel.y_label or panel.unit, "scale": "LINEAR"},
                    "chartOptions": {"mode": "COLOR"},
                },
            }
        )
    return json.dumps(
        {"displayName": display_name, "gridLayout": {"columns": str(columns), "widgets": widgets}}, sort_keys=True
    )


@dataclass(frozen=True)
class ObservabilityDashboardArgs:
    project: str
    """GCP project of the dashboard and policies."""
    display_name: str
    """Dashboard title (also prefixes alert names)."""
    panels: Sequence[Panel]
    """Charts."""
    alerts: Sequence[AlertRule] = ()
    """Alert policies, one per rule."""
    notification_channels: Sequence[pulumi.Input[str]] = ()
    """Notification channel ids the alerts notify."""
    evaluation_interval_seconds: int = 60
    """How often Cloud Monitoring evaluates each PromQL condition."""
    auto_close_seconds: int = 1800
    """Close an incident this long after the condition stops holding."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """User labels on the alert policies."""


SEVERITIES = ("CRITICAL", "ERROR", "WARNING")
"""``AlertPolicy.severity`` values the stack uses (Cloud Monitoring API v3; SEVERITY_UNSPECIFIED is left out)."""
EVALUATION_STEP_SECONDS = 30
"""``PrometheusQueryLanguageCondition.evaluationInterval``: "Must be a positive multiple of 30 seconds"
(Cloud Monitoring API v3 discovery document, vendored in infra/discovery/monitoring.v3.json)."""


def validate_observability_dashboard_args(args: ObservabilityDashboardArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, a dashboard with charts that all have series, unique alert
    names, and an evaluation interval Cloud Monitoring accepts."""
    problems = type_problems(args, ObservabilityDashboardArgs)
    if problems:
        return problems
    problems += project_id("project", args.project)
    if not args.display_name.strip():
        problems.append(Problem("display_name", "empty; give the dashboard a title"))
    if not args.panels:
        problems.append(Problem("panels", "empty; a dashboard needs at least one chart"))
    for index, panel in enumerate(args.panels):
        if not panel.series:
            problems.append(Problem(f"panels.{index}.series", f"panel {panel.title!r} has no series; give it a query"))
    for index, rule in enumerate(args.alerts):
        if rule.severity not in SEVERITIES:
            problems.append(Problem(f"alerts.{index}.severity", (
                f"{rule.severity!r} is not a Cloud Monitoring severity; use one of {', '.join(SEVERITIES)}")))
    names = [rule.name for rule in args.alerts]
    for index, rule in enumerate(args.alerts):
        if names.count(rule.name) > 1 and names.index(rule.name) < index:
            problems.append(Problem(f"alerts.{index}.name", f"{rule.name!r} is used twice; it names a resource"))
    interval = args.evaluation_interval_seconds
    if interval < EVALUATION_STEP_SECONDS or interval % EVALUATION_STEP_SECONDS:
        problems.append(Problem("evaluation_interval_seconds", (
            f"{interval} must be a positive multiple of {EVALUATION_STEP_SECONDS} seconds (Cloud Monitoring refuses "
            "other PromQL evaluation intervals)")))
    if args.auto_close_seconds < 1:
        problems.append(Problem("auto_close_seconds", f"{args.auto_close_seconds} must be ≥ 1"))
    return problems


class ObservabilityDashboard(pulumi.ComponentResource):
    """A Cloud Monitoring dashboard plus PromQL alert policies."""

    dashboard_id: pulumi.Output[str]
    alert_policies: list[gcp.monitoring.AlertPolicy]

    def __init__(self, name: str, args: ObservabilityDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("ObservabilityDashboard", name, validate_observability_dashboard_args(args))
        body = dashboard_json(args.display_name, args.panels)
        super().__init__("gke-inference:infra:ObservabilityDashboard", name, {}, opts)
        child = child_options(self, opts)
        dashboard = gcp.monitoring.Dashboard(f"{name}-dashboard", project=args.project, dashboard_json=body, opts=child)
        self.dashboard_id = dashboard.id
        self.alert_policies = [self._policy(name, args, rule, child) for rule in args.alerts]
        self.register_outputs({"dashboardId": self.dashboard_id})

    @staticmethod
    def _policy(
        name: str, args: ObservabilityDashboardArgs, rule: AlertRule, child: pulumi.ResourceOptions
    ) -> gcp.monitoring.AlertPolicy:
        M = gcp.monitoring
        return M.AlertPolicy(
            f"{name}-{rule.name}",
            project=args.project,
            display_name=f"{args.display_name}: {rule.display_name}",
            combiner="OR",
            severity=rule.severity,
            conditions=[
                M.AlertPolicyConditionArgs(
                    display_name=rule.display_name,
                    condition_prometheus_query_language=M.AlertPolicyConditionConditionPrometheusQueryLanguageArgs(
                        query=rule.promql,
                        duration=f"{rule.duration_seconds}s",
                        evaluation_interval=f"{args.evaluation_interval_seconds}s",
                        labels={"severity": rule.severity.lower()},
                    ),
                )
            ],
            documentation=M.AlertPolicyDocumentationArgs(content=rule.documentation, mime_type="text/markdown"),
            alert_strategy=M.AlertPolicyAlertStrategyArgs(auto_close=f"{args.auto_close_seconds}s"),
            notification_channels=list(args.notification_channels) or None,
            user_labels=dict(args.labels) or None,
            opts=child,
        )
