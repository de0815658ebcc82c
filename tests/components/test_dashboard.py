"""ObservabilityDashboard on its own: the Cloud Monitoring dashboard and one PromQL alert policy per rule, and its
refusal. (The stack's panels and alerts: tests/observability/test_dashboard_alerts.py.)"""

from __future__ import annotations

import json

import pytest

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
    with pytest.raises(ValueError, match=r"^panels: empty; a dashboard needs at least one chart$"):
        recorder.run(lambda: ObservabilityDashboard("obs", args(panels=[])))
    assert recorder.registered_by_last_run() == []
