"""Pure parts of the components: behavior rules, quantities, durations, dashboard JSON. The components themselves
(HPA, ScaledObject, PodMonitoring, dashboard) are tested in tests/components/."""

from __future__ import annotations

import json

import pytest

from infra.dashboard import Panel, Series, dashboard_json
from workloads.autoscaling import (
    quantity,
    validate_behavior,
)
from workloads.keda import (
    gmp_server_address,
    number,
)
from workloads.monitoring import (
    duration_seconds,
)

BEHAVIOR = {
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 600,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
    },
}


def test_behavior_validation():
    assert validate_behavior(BEHAVIOR) == BEHAVIOR
    cases = [
        ({"scaleUp": BEHAVIOR["scaleUp"]}, "behavior.scaleDown: missing"),
        ({**BEHAVIOR, "scaleDown": {**BEHAVIOR["scaleDown"], "stabilizationWindowSeconds": 120}}, "at least 300"),
        ({**BEHAVIOR, "scaleDown": {**BEHAVIOR["scaleDown"], "stabilizationWindowSeconds": 4000}}, "0..3600"),
        (
            {
                **BEHAVIOR,
                "scaleDown": {
                    **BEHAVIOR["scaleDown"],
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
            "one pod per period",
        ),
        (
            {
                **BEHAVIOR,
                "scaleUp": {**BEHAVIOR["scaleUp"], "policies": [{"type": "Pods", "value": 4, "periodSeconds": 3600}]},
            },
            "periodSeconds: 3600",
        ),
    ]
    for behavior, message in cases:
        with pytest.raises(ValueError, match=message):
            validate_behavior(behavior)


def test_quantities_and_keda_numbers():
    assert [quantity(v) for v in (5, 5.0, 0.8, 0.85, 1.5, 560)] == ["5", "5", "800m", "850m", "1500m", "560"]
    with pytest.raises(ValueError):
        quantity(0)
    assert [number(v) for v in (5.0, 0.5, 0.85, 560)] == ["5", "0.5", "0.85", "560"]
    assert duration_seconds("500ms") == 0.5 and duration_seconds("2m") == 120
    assert (
        gmp_server_address("p-123456")
        == "https://monitoring.googleapis.com/v1/projects/p-123456/location/global/prometheus"
    )


def test_dashboard_json_shape():
    body = json.loads(
        dashboard_json(
            "t",
            [
                Panel(
                    "Queue",
                    (Series("", "sum (vllm:num_requests_waiting)"), Series("max", "max (vllm:num_requests_waiting)")),
                )
            ],
        )
    )
    assert body["displayName"] == "t" and body["gridLayout"]["columns"] == "2"
    (widget,) = body["gridLayout"]["widgets"]
    assert widget["xyChart"]["dataSets"] == [
        {
            "timeSeriesQuery": {"prometheusQuery": "sum (vllm:num_requests_waiting)", "unitOverride": "1"},
            "plotType": "LINE",
            "targetAxis": "Y1",
        },
        {
            "timeSeriesQuery": {"prometheusQuery": "max (vllm:num_requests_waiting)", "unitOverride": "1"},
            "plotType": "LINE",
            "targetAxis": "Y1",
            "legendTemplate": "max",
        },
    ]
