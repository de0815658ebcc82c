"""Ports of kubernetes ``pkg/controller/podautoscaler/horizontal_test.go``: each case keeps the
upstream test (and table-case) name, inputs and expected replica count.

The controller-level tests (``TestScaleUp`` …) run one sync: the replica calculator on the
case's pods, then ``HpaController.reconcile`` with the case's min/max, behavior and
recommendations. horizontal_test.go sets ``scaleUpLimitFactor = 8`` in ``init()``; so do these.
Left out: conditions, events, monitor labels, selectors, Object/External Value metrics.
"""

from __future__ import annotations

import pytest

from stack.plan.simulate.behavior import (
    HpaBehavior,
    ScalingPolicy,
    ScalingRules,
    generate_scale_down_rules,
    generate_scale_up_rules,
)
from stack.plan.simulate.hpa import (
    HpaController,
    NoMetrics,
    Recommendation,
    ScaleEvent,
    convert_desired_replicas_with_rules,
    plain_metric_replicas,
    replicas_change_per_period,
    resource_replicas,
    scale_down_limit_with_rules,
    scale_up_limit,
    scale_up_limit_with_rules,
)
from tests.simulate.upstream_cases import (
    COOL,
    HOT,
    NOW,
    TEST_CPU_INITIALIZATION_PERIOD,
    TEST_INITIAL_READINESS_DELAY,
    TEST_SCALE_UP_LIMIT_FACTOR,
    controller_pods,
    generate_events_uniform_distribution,
    generate_scaling_rules,
)

T, F = True, False
R, FAILED = "Running", "Failed"
EMPTY = "empty"
"""``recommendations: []timestampedRecommendation{}``: a log that exists but is empty (no initial entry)."""


def _controller(min_r, max_r, up_rules=None, down_rules=None, recommendations=None) -> HpaController:
    behavior = None
    if up_rules is not None or down_rules is not None:
        # SetDefaults_HorizontalPodAutoscalerBehavior fills a behavior block that sets anything.
        behavior = HpaBehavior(generate_scale_up_rules(up_rules), generate_scale_down_rules(down_rules))
    hpa = HpaController(min_r, max_r, behavior, scale_up_limit_factor=TEST_SCALE_UP_LIMIT_FACTOR)
    if recommendations == EMPTY:
        hpa.initialized = True
    elif recommendations:
        hpa.recommendations = [Recommendation(r, t) for r, t in recommendations]
    return hpa


def _cpu(pods, spec, target):
    try:
        return resource_replicas(
            pods,
            spec,
            target,
            NOW,
            cpu_initialization_period=TEST_CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay=TEST_INITIAL_READINESS_DELAY,
        )[0]
    except NoMetrics:
        return None


def _qps(pods, spec, target):
    try:
        return plain_metric_replicas(pods, spec, target, NOW)[0]
    except NoMetrics:
        return None


ONE = [1.0, 1.0, 1.0]
FIVE = [1.0] * 5
# (name, min, max, spec, status, metrics: list of ("cpu"|"qps"|"invalid", target), levels, pod options,
#  controller options, expected)
CONTROLLER_CASES = [
    ("TestScaleUp", 2, 6, 3, 3, [("cpu", 30)], [300, 500, 700], {"requests": ONE}, {}, 5),
    (
        "TestScaleUpUnreadyLessScale",
        2,
        6,
        3,
        3,
        [("cpu", 30)],
        [300, 500, 700],
        {"requests": ONE, "readiness": [F, T, T]},
        {},
        4,
    ),
    (
        "TestScaleUpHotCpuLessScale",
        2,
        6,
        3,
        3,
        [("cpu", 30)],
        [300, 500, 700],
        {"requests": ONE, "starts": [HOT, COOL, COOL]},
        {},
        4,
    ),
    (
        "TestScaleUpUnreadyNoScale",
        2,
        6,
        3,
        3,
        [("cpu", 30)],
        [400, 500, 700],
        {"requests": ONE, "readiness": [T, F, F]},
        {},
        3,
    ),
    (
        "TestScaleUpHotCpuNoScale",
        2,
        6,
        3,
        3,
        [("cpu", 30)],
        [400, 500, 700],
        {"requests": ONE, "readiness": [T, F, F], "starts": [COOL, HOT, HOT]},
        {},
        3,
    ),
    (
        "TestScaleUpIgnoresFailedPods",
        2,
        6,
        2,
        2,
        [("cpu", 30)],
        [500, 700],
        {"requests": [1.0] * 4, "readiness": [T, T, F, F], "phases": [R, R, FAILED, FAILED]},
        {},
        4,
    ),
    (
        "TestScaleUpIgnoresDeletionPods",
        2,
        6,
        2,
        2,
        [("cpu", 30)],
        [500, 700],
        {"requests": [1.0] * 4, "readiness": [T, T, F, F], "deleted": [F, F, T, T]},
        {},
        4,
    ),
    ("TestScaleUpCM", 2, 6, 3, 3, [("qps", 15000)], [20000, 10000, 30000], {"requests": ONE}, {}, 4),
    (
        "TestScaleUpCMUnreadyAndHotCpuNoLessScale",
        2,
        6,
        3,
        3,
        [("qps", 15000)],
        [50000, 10000, 30000],
        {"requests": ONE, "readiness": [T, T, F], "starts": [COOL, COOL, HOT]},
        {},
        6,
    ),
    (
        "TestScaleUpCMUnreadyandCpuHot",
        2,
        6,
        3,
        3,
        [("qps", 15000)],
        [50000, 15000, 30000],
        {"requests": ONE, "readiness": [F, T, F], "starts": [HOT, COOL, HOT]},
        {},
        6,
    ),
    (
        "TestScaleUpHotCpuNoScaleWouldScaleDown",
        2,
        6,
        3,
        3,
        [("qps", 15000)],
        [50000, 15000, 30000],
        {"requests": ONE, "starts": [HOT, COOL, HOT]},
        {},
        6,
    ),
    (
        "TestScaleDown",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE},
        {"recommendations": EMPTY},
        3,
    ),
    (
        "TestScaleDownWithScalingRules",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE},
        {"recommendations": EMPTY, "up_rules": generate_scaling_rules(0, 0, 100, 15, 30)},
        3,
    ),
    (
        "TestScaleUpOneMetricInvalid",
        2,
        6,
        3,
        3,
        [("cpu", 30), ("invalid", 0)],
        [300, 400, 500],
        {"requests": ONE},
        {},
        4,
    ),
    (
        "TestScaleUpFromZeroOneMetricInvalid",
        0,
        6,
        0,
        0,
        [("cpu", 30), ("invalid", 0)],
        [300, 400, 500],
        {"requests": ONE},
        {"recommendations": EMPTY},
        4,
    ),
    ("TestScaleUpBothMetricsEmpty", 2, 6, 3, 3, [("invalid", 0)], [], {"requests": ONE}, {}, 3),
    (
        "TestScaleDownStabilizeInitialSize",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE},
        {},
        5,
    ),
    ("TestScaleDownCM", 2, 6, 5, 5, [("qps", 20000)], [12000] * 5, {"requests": FIVE}, {"recommendations": EMPTY}, 3),
    (
        "TestScaleDownIncludeUnreadyPods",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE, "readiness": [T, T, T, F, F]},
        {"recommendations": EMPTY},
        2,
    ),
    (
        "TestScaleDownIgnoreHotCpuPods",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE, "starts": [COOL, COOL, COOL, HOT, HOT]},
        {"recommendations": EMPTY},
        2,
    ),
    (
        "TestScaleDownIgnoresFailedPods",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": [1.0] * 7, "readiness": [T] * 5 + [F, F], "phases": [R] * 5 + [FAILED, FAILED]},
        {"recommendations": EMPTY},
        3,
    ),
    (
        "TestScaleDownIgnoresDeletionPods",
        2,
        6,
        5,
        5,
        [("cpu", 50)],
        [100, 300, 500, 250, 250],
        {"requests": [1.0] * 7, "readiness": [T] * 5 + [F, F], "deleted": [F] * 5 + [T, T]},
        {"recommendations": EMPTY},
        3,
    ),
    ("TestTolerance", 1, 5, 3, 3, [("cpu", 100)], [1010, 1030, 1020], {"requests": [0.9, 1.0, 1.1]}, {}, 3),
    ("TestToleranceCM", 1, 5, 3, 3, [("qps", 20000)], [20000, 20001, 21000], {"requests": [0.9, 1.0, 1.1]}, {}, 3),
    (
        "TestMinReplicas",
        2,
        5,
        3,
        3,
        [("cpu", 90)],
        [10, 95, 10],
        {"requests": [0.9, 1.0, 1.1]},
        {"recommendations": EMPTY},
        2,
    ),
    (
        "TestZeroMinReplicasDesiredZero",
        0,
        5,
        3,
        3,
        [("cpu", 90)],
        [0, 0, 0],
        {"requests": [0.9, 1.0, 1.1]},
        {"recommendations": EMPTY},
        0,
    ),
    (
        "TestMinReplicasDesiredZero",
        2,
        5,
        3,
        3,
        [("cpu", 90)],
        [0, 0, 0],
        {"requests": [0.9, 1.0, 1.1]},
        {"recommendations": EMPTY},
        2,
    ),
    ("TestZeroReplicas", 3, 5, 0, 0, [("cpu", 90)], [], {"requests": []}, {}, 0),
    ("TestTooFewReplicas", 3, 5, 2, 2, [("cpu", 90)], [], {"requests": []}, {}, 3),
    ("TestTooManyReplicas", 3, 5, 10, 10, [("cpu", 90)], [], {"requests": []}, {}, 5),
    ("TestMaxReplicas", 2, 5, 3, 3, [("cpu", 90)], [8000, 9500, 1000], {"requests": [0.9, 1.0, 1.1]}, {}, 5),
    (
        "TestMissingMetrics",
        2,
        6,
        4,
        4,
        [("cpu", 100)],
        [400, 95],
        {"requests": [1.0] * 4},
        {"recommendations": EMPTY},
        3,
    ),
    ("TestEmptyMetrics", 2, 6, 4, 4, [("cpu", 100)], [], {"requests": [1.0] * 4}, {}, 4),
    ("TestEventCreated", 1, 5, 1, 1, [("cpu", 50)], [200], {"requests": [0.2]}, {}, 2),
    ("TestEventNotCreated", 1, 5, 2, 2, [("cpu", 50)], [200, 200], {"requests": [0.4, 0.4]}, {}, 2),
    ("TestMissingReports", 1, 5, 4, 4, [("cpu", 50)], [200], {"requests": [0.2]}, {"recommendations": EMPTY}, 2),
    (
        "TestUpscaleCap",
        1,
        100,
        3,
        3,
        [("cpu", 10)],
        [100, 200, 300],
        {"requests": [0.1] * 3},
        {"up_rules": generate_scaling_rules(0, 0, 700, 60, 0)},
        24,
    ),
    (
        "TestUpscaleCapGreaterThanMaxReplicas",
        1,
        20,
        3,
        3,
        [("cpu", 10)],
        [100, 200, 300],
        {"requests": [0.1] * 3},
        {"up_rules": generate_scaling_rules(0, 0, 700, 60, 0)},
        20,
    ),
    ("TestMoreReplicasThanSpecNoScale", 1, 8, 4, 5, [("cpu", 50)], [500] * 5, {"requests": [1.0] * 5}, {}, 4),
    (
        "TestStabilizeDownscale",
        1,
        5,
        4,
        4,
        [("cpu", 100)],
        [50, 50, 50],
        {"requests": [0.1] * 3},
        {"recommendations": [(10, NOW - 600), (4, NOW - 60)]},
        4,
    ),
    ("TestScaleUpRCImmediately", 2, 6, 1, 1, [("cpu", 80)], [0, 0, 0, 0], {"requests": [1.0] * 4}, {}, 2),
    ("TestScaleDownRCImmediately", 2, 5, 6, 6, [("cpu", 50)], [8000, 9500, 1000], {"requests": [0.9, 1.0, 1.1]}, {}, 5),
    ("TestScaleUpOneMetricEmpty", 2, 6, 3, 3, [("cpu", 30), ("invalid", 0)], [300, 400, 500], {"requests": ONE}, {}, 4),
    (
        "TestNoScaleDownOneMetricInvalid",
        2,
        6,
        5,
        5,
        [("cpu", 50), ("invalid", 0)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE},
        {"recommendations": EMPTY},
        5,
    ),
    (
        "TestNoScaleDownOneMetricEmpty",
        2,
        6,
        5,
        5,
        [("cpu", 50), ("invalid", 0)],
        [100, 300, 500, 250, 250],
        {"requests": FIVE},
        {"recommendations": EMPTY},
        5,
    ),
]


@pytest.mark.parametrize(
    ("min_r", "max_r", "spec", "status", "metrics", "levels", "pod_options", "options", "expected"),
    [case[1:] for case in CONTROLLER_CASES],
    ids=[case[0] for case in CONTROLLER_CASES],
)
def test_reconcile_autoscaler(min_r, max_r, spec, status, metrics, levels, pod_options, options, expected):
    """One ``reconcileAutoscaler`` sync: the upstream case's expectedDesiredReplicas."""
    pods = controller_pods(status, levels, **pod_options)
    hpa = _controller(min_r, max_r, **options)
    proposals = []
    for kind, target in metrics:
        if kind == "cpu":
            proposals.append(_cpu(pods, spec, target))
        elif kind == "qps":
            proposals.append(_qps(pods, spec, target))
        else:
            proposals.append(None)  # an invalid / failing metric
    assert hpa.reconcile(NOW, spec, proposals) == expected


def _computed_tolerance(margin: float) -> tuple[list, int, int]:
    used, requested, per_pod = 1500, 3000, 300
    target = abs(1 / (2.0 * (1 - 0.1))) + margin
    offsets = [100, -100, 10, -10, 2, -2, 1, -1, 0, 0]
    pods = controller_pods(10, [used // 10] * 10, requests=[(per_pod + o) / 1000 for o in offsets])
    return pods, int(target * 100), __import__("math").ceil(used / (requested * target) * 10)


def test_computed_tolerance_alg_implementation():
    """``TestComputedToleranceAlgImplementation``: just past the tolerance it scales down to
    ``finalPods``; within 0.004 of it, it keeps ``startPods``."""
    pods, target, final = _computed_tolerance(0.01)
    hpa = _controller(0, 1000, recommendations=EMPTY)
    assert hpa.reconcile(NOW, 10, [_cpu(pods, 10, target)]) == final
    pods, target, _ = _computed_tolerance(0.004)
    assert _controller(0, 1000, recommendations=EMPTY).reconcile(NOW, 10, [_cpu(pods, 10, target)]) == 10


# TestConvertDesiredReplicasWithRules: (annotation, current, desired, min, max, expected, condition)
CONVERT_CASES = [
    ("prenormalized desired replicas within range", 5, 7, 3, 8, 7, "DesiredWithinRange"),
    ("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2, "TooFewReplicas"),
    ("prenormalized desired zeroed replicas within range", 1, 0, 0, 10, 0, "DesiredWithinRange"),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, 10, "TooManyReplicas"),
    (
        "scaleUpLimit is the limit because scaleUpLimit < maxReplicas",
        3,
        1000,
        1,
        2000,
        scale_up_limit(3, TEST_SCALE_UP_LIMIT_FACTOR),
        "ScaleUpLimit",
    ),
]


@pytest.mark.parametrize(
    ("current", "desired", "min_r", "max_r", "expected", "condition"),
    [case[1:] for case in CONVERT_CASES],
    ids=[f"TestConvertDesiredReplicasWithRules/{case[0]}" for case in CONVERT_CASES],
)
def test_convert_desired_replicas_with_rules(current, desired, min_r, max_r, expected, condition):
    """``convertDesiredReplicasWithRules``: the legacy path's min/max and scale-up cap."""
    assert convert_desired_replicas_with_rules(current, desired, min_r, max_r, TEST_SCALE_UP_LIMIT_FACTOR) == (
        expected,
        condition,
    )


def test_legacy_scale_up_limit_is_double_or_four():
    """``calculateScaleUpLimit`` with the shipped ``scaleUpLimitFactor`` 2 and ``scaleUpLimitMinimum`` 4."""
    assert [scale_up_limit(n) for n in (0, 1, 2, 3, 10)] == [4, 4, 4, 6, 20]


_MIN_RULES = ScalingRules(300, (ScalingPolicy("Pods", 2, 60), ScalingPolicy("Percent", 50, 60)), "Min")


def test_calculate_scale_up_limit_with_scaling_rules():
    """``TestCalculateScaleUpLimitWithScalingRules``: selectPolicy Min from 1 replica gives 2."""
    assert scale_up_limit_with_rules(1, [], [], _MIN_RULES, NOW) == 2


def test_calculate_scale_down_limit_with_behaviors():
    """``TestCalculateScaleDownLimitWithBehaviors``: selectPolicy Min from 5 replicas gives 3."""
    assert scale_down_limit_with_rules(5, [], [], _MIN_RULES, NOW) == 3


# TestNormalizeDesiredReplicas (legacy stabilizeRecommendation, 5-minute window):
# (name, recommendations (replicas, seconds ago), desired, expected, log length)
LEGACY_CASES = [
    ("empty log", [], 5, 5, 1),
    ("stabilize", [(4, 120), (5, 60)], 3, 5, 3),
    ("no stabilize", [(1, 120), (2, 60)], 3, 3, 3),
    ("no stabilize - old recommendations", [(10, 600), (9, 540)], 3, 3, 2),
    ("stabilize - old recommendations", [(10, 600), (4, 60), (5, 120), (9, 540)], 3, 5, 4),
]


@pytest.mark.parametrize(
    ("recs", "desired", "expected", "length"),
    [case[1:] for case in LEGACY_CASES],
    ids=[f"TestNormalizeDesiredReplicas/{case[0]}" for case in LEGACY_CASES],
)
def test_normalize_desired_replicas(recs, desired, expected, length):
    """``stabilizeRecommendation``: the highest recommendation of the last 5 minutes; an old slot is reused."""
    hpa = _controller(1, 100, recommendations=[(r, NOW - ago) for r, ago in recs] or EMPTY)
    assert hpa.stabilize_legacy(NOW, desired) == expected
    assert len(hpa.recommendations) == length


# TestNormalizeDesiredReplicasWithBehavior: (name, recs, current, desired, expected, stored, up window, down window)
BEHAVIOR_STABILIZE_CASES = [
    ("empty recommendations for scaling down", [], 100, 5, 5, [5], 0, 0),
    ("simple scale down stabilization", [(4, 120), (5, 60)], 100, 3, 5, [4, 5, 3], 0, 180),
    ("simple scale up stabilization", [(4, 120), (5, 60)], 1, 7, 4, [4, 5, 7], 300, 0),
    ("no scale down stabilization", [(1, 120), (2, 60)], 100, 3, 3, [1, 2, 3], 300, 0),
    ("no scale up stabilization", [(4, 120), (5, 60)], 1, 3, 3, [4, 5, 3], 0, 300),
    ("no scale down stabilization, reuse recommendation element", [(10, 600), (9, 540)], 100, 3, 3, [10, 3], 0, 0),
    ("no scale up stabilization, reuse recommendation element", [(10, 600), (9, 540)], 1, 100, 100, [10, 100], 0, 0),
    (
        "scale down stabilization, reuse one of obsolete recommendation element",
        [(10, 600), (4, 60), (5, 120), (9, 540)],
        100,
        3,
        5,
        [10, 4, 5, 3],
        0,
        180,
    ),
    (
        "scale up stabilization, reuse one of obsolete recommendation element",
        [(10, 6000), (6, 60), (5, 120), (9, 180)],
        1,
        100,
        5,
        [100, 6, 5, 9],
        300,
        0,
    ),
    (
        "scale up and down stabilization, do not scale up when prenormalized rec goes down",
        [(2, 6000), (3, 180)],
        2,
        1,
        2,
        None,
        300,
        300,
    ),
    (
        "scale up and down stabilization, do not scale down when prenormalized rec goes up",
        [(2, 6000), (1, 180)],
        2,
        3,
        2,
        None,
        300,
        300,
    ),
]


@pytest.mark.parametrize(
    ("recs", "current", "desired", "expected", "stored", "up_window", "down_window"),
    [case[1:] for case in BEHAVIOR_STABILIZE_CASES],
    ids=[f"TestNormalizeDesiredReplicasWithBehavior/{case[0]}" for case in BEHAVIOR_STABILIZE_CASES],
)
def test_stabilize_recommendation_with_behaviors(recs, current, desired, expected, stored, up_window, down_window):
    """``stabilizeRecommendationWithBehaviors``: the stabilized count and the stored log, in order."""
    hpa = _controller(
        1,
        1000,
        ScalingRules(up_window, ()),
        ScalingRules(down_window, ()),
        [(r, NOW - ago) for r, ago in recs] or EMPTY,
    )
    assert hpa.stabilize_with_behaviors(NOW, current, desired) == expected
    if stored is not None:
        assert [r.replicas for r in hpa.recommendations] == stored


_E = generate_events_uniform_distribution
_R = generate_scaling_rules
# TestScalingWithRules: (name, up events, down events, min, max, up rules, down rules, current, desired,
#  expected, condition). The upstream case marked ``testThis`` is skipped upstream and here.
RATE_CASES = [
    ("prenormalized desired replicas within range", [], [], 3, 8, None, None, 5, 7, 7, "DesiredWithinRange"),
    ("prenormalized desired replicas < minReplicas", [], [], 2, 8, None, None, 3, 1, 2, "TooFewReplicas"),
    (
        "prenormalized desired replicas within range when minReplicas is 0",
        [],
        [],
        0,
        10,
        None,
        None,
        1,
        0,
        0,
        "DesiredWithinRange",
    ),
    (
        "maxReplicas is the limit because maxReplicas < scaleUpLimit",
        [],
        [],
        1,
        10,
        None,
        None,
        20,
        1000,
        10,
        "TooManyReplicas",
    ),
    (
        "desired replica count is more than the maximum replica count",
        [],
        [],
        100,
        150,
        None,
        None,
        100,
        1000,
        150,
        "TooManyReplicas",
    ),
    (
        "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
        [],
        [],
        1,
        2000,
        _R(0, 0, 1, 60, 0),
        None,
        3,
        1000,
        4,
        "ScaleUpLimit",
    ),
    ("scaleUp with default behavior", [], [], 1, 1000, None, None, 10, 50, 20, "ScaleUpLimit"),
    (
        "scaleUp with pods policy larger than percent policy",
        [],
        [],
        1,
        1000,
        _R(100, 60, 100, 60, 0),
        None,
        10,
        500,
        110,
        "ScaleUpLimit",
    ),
    (
        "scaleUp with percent policy larger than pods policy",
        [],
        [],
        1,
        1000,
        _R(2, 60, 100, 60, 0),
        None,
        10,
        500,
        20,
        "ScaleUpLimit",
    ),
    (
        "scaleUp with spec MaxReplicas limitation with large pod policy",
        [],
        [],
        1,
        1000,
        _R(100, 60, 0, 0, 0),
        None,
        10,
        50,
        50,
        "DesiredWithinRange",
    ),
    (
        "scaleUp with spec MaxReplicas limitation with large percent policy",
        [],
        [],
        1,
        1000,
        _R(10000, 60, 0, 0, 0),
        None,
        10,
        50,
        50,
        "DesiredWithinRange",
    ),
    ("scaleUp with pod policy limitation", [], [], 1, 1000, _R(30, 60, 0, 0, 0), None, 10, 50, 40, "ScaleUpLimit"),
    ("scaleUp with percent policy limitation", [], [], 1, 1000, _R(0, 0, 200, 60, 0), None, 10, 50, 30, "ScaleUpLimit"),
    (
        "scaleDown with percent policy larger than pod policy",
        [],
        [],
        1,
        1000,
        None,
        _R(20, 60, 1, 60, 300),
        100,
        2,
        80,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with pod policy larger than percent policy",
        [],
        [],
        1,
        1000,
        None,
        _R(2, 60, 1, 60, 300),
        100,
        2,
        98,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with spec MinReplicas=nil limitation with large pod policy",
        [],
        [],
        1,
        1000,
        None,
        _R(100, 60, 0, 0, 300),
        10,
        0,
        1,
        "TooFewReplicas",
    ),
    (
        "scaleDown with spec MinReplicas limitation with large pod policy",
        [],
        [],
        1,
        1000,
        None,
        _R(100, 60, 0, 0, 300),
        10,
        0,
        1,
        "TooFewReplicas",
    ),
    (
        "scaleDown with spec MinReplicas limitation with large percent policy",
        [],
        [],
        5,
        1000,
        None,
        _R(0, 0, 100, 60, 300),
        10,
        2,
        5,
        "TooFewReplicas",
    ),
    ("scaleDown with pod policy limitation", [], [], 1, 1000, None, _R(5, 60, 0, 0, 300), 10, 2, 5, "ScaleDownLimit"),
    (
        "scaleDown with percent policy limitation",
        [],
        [],
        1,
        1000,
        None,
        _R(0, 0, 50, 60, 300),
        10,
        5,
        5,
        "DesiredWithinRange",
    ),
    (
        "scaleUp with spec MaxReplicas limitation with large pod policy and events",
        _E([1, 5, 9], 120),
        [],
        1,
        200,
        _R(300, 60, 0, 0, 0),
        None,
        100,
        500,
        200,
        "TooManyReplicas",
    ),
    (
        "scaleUp with spec MaxReplicas limitation with large percent policy and events",
        _E([1, 5, 9], 120),
        [],
        1,
        200,
        _R(0, 0, 10000, 60, 0),
        None,
        100,
        500,
        200,
        "TooManyReplicas",
    ),
    (
        "scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
        _E([1, 5, 9], 120),
        [],
        1,
        1000,
        _R(5, 120, 0, 0, 0),
        None,
        100,
        500,
        100,
        "ScaleUpLimit",
    ),
    (
        "scaleUp with pod policy and previous scale up events",
        _E([1, 5, 9], 120),
        [],
        1,
        1000,
        _R(150, 120, 0, 0, 0),
        None,
        100,
        500,
        235,
        "ScaleUpLimit",
    ),
    (
        "scaleUp with percent policy and previous scale up events",
        _E([1, 5, 9], 120),
        [],
        1,
        1000,
        _R(0, 0, 200, 120, 0),
        None,
        100,
        500,
        255,
        "ScaleUpLimit",
    ),
    (
        "scaleUp with percent policy and previous scale up and down events",
        _E([4], 120),
        _E([2], 120),
        1,
        1000,
        _R(0, 0, 300, 300, 0),
        None,
        6,
        24,
        16,
        "ScaleUpLimit",
    ),
    (
        "scaleDown with default policy and previous events",
        [],
        _E([1, 5, 9], 120),
        1,
        1000,
        None,
        None,
        10,
        5,
        5,
        "DesiredWithinRange",
    ),
    (
        "scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events",
        [],
        _E([1, 5, 9], 120),
        1,
        1000,
        None,
        _R(115, 120, 0, 0, 300),
        100,
        0,
        1,
        "TooFewReplicas",
    ),
    (
        "scaleDown with spec MinReplicas limitation with large pod policy and previous events",
        [],
        _E([1, 5, 9], 120),
        5,
        1000,
        None,
        _R(130, 120, 0, 0, 300),
        100,
        0,
        5,
        "TooFewReplicas",
    ),
    (
        "scaleDown with spec MinReplicas limitation with large percent policy and previous events",
        [],
        _E([1, 5, 9], 120),
        5,
        1000,
        None,
        _R(0, 0, 100, 120, 300),
        100,
        2,
        5,
        "TooFewReplicas",
    ),
    (
        "scaleDown with pod policy limitation and previous events",
        [],
        _E([1, 5, 9], 120),
        1,
        1000,
        None,
        _R(5, 120, 0, 0, 300),
        100,
        2,
        100,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with percent policy limitation and previous events",
        [],
        _E([2, 4, 6], 120),
        1,
        1000,
        None,
        _R(0, 0, 50, 120, 300),
        100,
        0,
        56,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with percent policy and previous scale up and down events",
        _E([2], 120),
        _E([4], 120),
        1,
        1000,
        None,
        _R(0, 0, 50, 180, 0),
        10,
        1,
        6,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with previous events preventing further scale down",
        [],
        _E([10, 10, 10], 120),
        1,
        1000,
        None,
        _R(0, 0, 10, 120, 300),
        100,
        0,
        100,
        "ScaleDownLimit",
    ),
    (
        "scaleDown with with previous events still allowing more scale down",
        [],
        _E([10, 10, 10], 120),
        1,
        1000,
        None,
        _R(0, 0, 1000, 120, 300),
        10,
        5,
        5,
        "DesiredWithinRange",
    ),
    (
        "check 'outdated' flag for events for one behavior for up",
        _E([8, 12, 9, 11], 120),
        [],
        1,
        1000,
        _R(1000, 60, 0, 0, 0),
        None,
        100,
        200,
        200,
        "DesiredWithinRange",
    ),
    (
        "check that events were not marked 'outdated' for two different policies in the behavior for up",
        _E([8, 12, 9, 11], 120),
        [],
        1,
        1000,
        _R(1000, 120, 100, 60, 0),
        None,
        100,
        200,
        200,
        "DesiredWithinRange",
    ),
    (
        "check that events were marked 'outdated' for two different policies in the behavior for up",
        _E([8, 12, 9, 11], 120),
        [],
        1,
        1000,
        _R(1000, 30, 100, 60, 0),
        None,
        100,
        200,
        200,
        "DesiredWithinRange",
    ),
    (
        "check 'outdated' flag for events for one behavior for down",
        [],
        _E([8, 12, 9, 11], 120),
        1,
        1000,
        None,
        _R(1000, 60, 0, 0, 300),
        100,
        5,
        5,
        "DesiredWithinRange",
    ),
    (
        "check that events were not marked 'outdated' for two different policies in the behavior for down",
        [],
        _E([8, 12, 9, 11], 120),
        1,
        1000,
        None,
        _R(1000, 120, 100, 60, 300),
        100,
        5,
        5,
        "DesiredWithinRange",
    ),
    (
        "check that events were marked 'outdated' for two different policies in the behavior for down",
        [],
        _E([8, 12, 9, 11], 120),
        1,
        1000,
        None,
        _R(1000, 30, 100, 60, 300),
        100,
        5,
        5,
        "DesiredWithinRange",
    ),
]


@pytest.mark.parametrize(
    ("ups", "downs", "min_r", "max_r", "up_rules", "down_rules", "current", "desired", "expected", "condition"),
    [case[1:] for case in RATE_CASES],
    ids=[f"TestScalingWithRules/{case[0]}" for case in RATE_CASES],
)
def test_scaling_with_rules(ups, downs, min_r, max_r, up_rules, down_rules, current, desired, expected, condition):
    """``convertDesiredReplicasWithBehaviorRate`` with the defaulted rules (``GenerateHPAScale*Rules``)."""
    hpa = HpaController(
        min_r, max_r, HpaBehavior(generate_scale_up_rules(up_rules), generate_scale_down_rules(down_rules))
    )
    hpa.up_events = [ScaleEvent(e.change, e.time) for e in ups]
    hpa.down_events = [ScaleEvent(e.change, e.time) for e in downs]
    assert hpa.convert_with_behavior_rate(NOW, current, desired) == (expected, condition)


# TestStoreScaleEvents: (name, previous events (change, seconds ago), rules, change in last 60 s,
#  stored (change, outdated))
STORE_CASES = [
    ("empty entries with default behavior", [], None, 0, []),
    ("empty entries with two-policy-behavior", [], _R(10, 60, 100, 60, 0), 0, [(5, False)]),
    ("one outdated entry to be kept untouched without behavior", [(7, 61)], None, 0, [(7, False)]),
    ("one outdated entry to be replaced with behavior", [(7, 61)], _R(10, 60, 100, 60, 0), 0, [(5, False)]),
    (
        "one actual entry to be not touched with behavior",
        [(7, 58)],
        _R(10, 60, 100, 60, 0),
        7,
        [(7, False), (5, False)],
    ),
    ("two entries, one of them to be replaced", [(7, 61), (6, 59)], _R(10, 60, 0, 0, 0), 6, [(5, False), (6, False)]),
    (
        "replace one entry, use policies with different periods",
        [(8, 29), (6, 59), (7, 61), (9, 61)],
        _R(10, 60, 100, 30, 0),
        14,
        [(8, False), (6, False), (7, True), (5, False)],
    ),
    ("two entries, both actual", [(7, 58), (6, 59)], _R(10, 120, 100, 30, 0), 13, [(7, False), (6, False), (5, False)]),
]


@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize(
    ("previous", "rules", "change", "stored"),
    [case[1:] for case in STORE_CASES],
    ids=[f"TestStoreScaleEvents/{case[0]}" for case in STORE_CASES],
)
def test_store_scale_events(previous, rules, change, stored, direction):
    """``getReplicasChangePerPeriod`` over 60 s, then ``storeScaleEvent`` of a 5-replica change."""
    events = [ScaleEvent(c, NOW - ago) for c, ago in previous]
    assert replicas_change_per_period(60, events, NOW) == change
    if direction == "up":
        hpa = HpaController(1, 1000, None if rules is None else HpaBehavior(rules, ScalingRules(None, ())))
        hpa.up_events = events
        hpa.store_scale_event(NOW, 10, 15)
        got = hpa.up_events
    else:
        hpa = HpaController(1, 1000, None if rules is None else HpaBehavior(ScalingRules(None, ()), rules))
        hpa.down_events = events
        hpa.store_scale_event(NOW, 10, 5)
        got = hpa.down_events
    assert [(e.change, e.outdated) for e in got] == stored
