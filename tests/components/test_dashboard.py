"""ObservabilityDashboard on its own: the Cloud Monitoring dashboard and one PromQL alert policy per rule, and its
refusal. (The stack's panels and alerts: tests/observability/test_dashboard_alerts.py.)"""

from __future__ import annotations

import json

from infra.dashboard import AlertRule, ObservabilityDashboard, ObservabilityDashboardArgs, Panel, Series

QUEUE = Panel("Queue", (Series("", "sum (vllm:num_requests_waiting)"),))
RULE = AlertRule("queue-high", "Queue high", "sum (vllm:num_requests_waiting) > 10", 300, "WARNING", "Scale up.")
CHANNEL = "projects/p-123456/notificationChannels/1"


def args(**change) -> ObservabilityDashboardArgs:
    base = {"project": "p-123456", "display_name": "gke-inference dev: m", "panels": [QUEUE]}
    return ObservabilityDashboardArgs(**{**base, **change})


def test_dashboard_and_one_policy_per_rule(recorder):
    rec = recorder.run(lambda: ObservabilityDashboard("obs", args(alerts=[RULE], notification_channels=[CHANNEL],
                                                                  labels={"team": "ml"})))
    assert rec.tree() == {
        ("gke-inference:infra:ObservabilityDashboard", "obs", None),
        ("gcp:monitoring/dashboard:Dashboard", "obs-dashboard", "obs"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "obs-queue-high", "obs"),
    }
    dashboard = rec.inputs("obs-dashboard")
    assert dashboard["project"] == "p-123456"
    body = json.loads(dashboard["dashboardJson"])
    assert body["displayName"] == "gke-inference dev: m"
    assert [w["title"] for w in body["gridLayout"]["widgets"]] == ["Queue"]
    assert rec.inputs("obs-queue-high") == {
        "project": "p-123456",
        "displayName": "gke-inference dev: m: Queue high",
        "combiner": "OR",
        "severity": "WARNING",
        "conditions": [{
            "displayName": "Queue high",
            "conditionPrometheusQueryLanguage": {"query": "sum (vllm:num_requests_waiting) > 10",
                                                 "duration": "300s", "evaluationInterval": "60s",
                                                 "labels": {"severity": "warning"}},
        }],
        "documentation": {"content": "Scale up.", "mimeType": "text/markdown"},
        "alertStrategy": {"autoClose": "1800s"},
        "notificationChannels": [CHANNEL],
        "userLabels": {"team": "ml"},
    }


def test_no_rules_no_policies(recorder):
    rec = recorder.run(lambda: ObservabilityDashboard("obs", args()))
    assert rec.names() == ["obs", "obs-dashboard"]


def test_a_dashboard_without_panels_is_refused_before_anything_is_created(recorder):
    assert recorder.refused(lambda: ObservabilityDashboard("obs", args(panels=[]))) == [
        ("panels", "empty; a dashboard needs at least one chart"),
    ]


def test_every_problem_is_named_at_once(recorder):
    empty = Panel("Empty", ())
    assert recorder.refused(lambda: ObservabilityDashboard("obs", args(
        project="Bad_Project", display_name=" ", panels=[QUEUE, empty], alerts=[RULE, RULE],
        evaluation_interval_seconds=45, auto_close_seconds=0,
    ))) == [
        ("project", "'Bad_Project' is not a GCP project id: 6–30 characters, lowercase letters, digits and hyphens, "
                    "starting with a letter"),
        ("display_name", "empty; give the dashboard a title"),
        ("panels.1.series", "panel 'Empty' has no series; give it a query"),
        ("alerts.1.name", "'queue-high' is used twice; it names a resource"),
        # monitoring.v3 discovery: evaluationInterval "Must be a positive multiple of 30 seconds".
        ("evaluation_interval_seconds", "45 must be a positive multiple of 30 seconds (Cloud Monitoring refuses "
                                        "other PromQL evaluation intervals)"),
        ("auto_close_seconds", "0 must be ≥ 1"),
    ]


def test_an_alert_severity_cloud_monitoring_does_not_know_is_named(recorder):
    loud = AlertRule("queue-high", "Queue high", "sum (vllm:num_requests_waiting) > 10", 300, "LOUD", "Scale up.")
    assert recorder.refused(lambda: ObservabilityDashboard("obs", args(alerts=[RULE, loud]))) == [
        ("alerts.1.severity", "'LOUD' is not a Cloud Monitoring severity; use one of CRITICAL, ERROR, WARNING"),
        ("alerts.1.name", "'queue-high' is used twice; it names a resource"),
    ]


def test_the_evaluation_step_is_the_one_the_api_documents():
    from infra import discovery
    from infra.dashboard import EVALUATION_STEP_SECONDS

    text = discovery.field("monitoring.v3", "PrometheusQueryLanguageCondition.evaluationInterval")["description"]
    assert f"positive multiple of {EVALUATION_STEP_SECONDS} seconds" in text


def test_a_wrong_argument_type_is_named(recorder):
    assert recorder.refused(lambda: ObservabilityDashboard("obs", args(evaluation_interval_seconds="60s"))) == [
        ("evaluation_interval_seconds", "expected int, got str '60s'"),
    ]
