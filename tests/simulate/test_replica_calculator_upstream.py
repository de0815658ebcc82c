"""Ports of kubernetes ``pkg/controller/podautoscaler/replica_calculator_test.go``: each case keeps
the upstream test (and table-case) name, inputs and expected replica count (and usage).

Left out: container-resource cases (the simulator's HPAs use pod-level metrics), Object and
External Value targets, overflow cases and request arithmetic (``TestCalculateRequests``): the
simulator has none of these (docs/simulator.md, "Not modelled").
"""

from __future__ import annotations

import math

import pytest

from stack.plan.simulate.hpa import (
    DEFAULT_TOLERANCES,
    NoMetrics,
    PodSample,
    Tolerances,
    external_per_pod_replicas,
    group_pods,
    plain_metric_replicas,
    resource_replicas,
)
from tests.simulate.upstream_cases import (
    COOL,
    GO_ZERO_TIME,
    HOT,
    NOW,
    TEST_CPU_INITIALIZATION_PERIOD,
    TEST_INITIAL_READINESS_DELAY,
    calc_pods,
    metric_pods,
)

T, F = True, False
R, P, FAILED = "Running", "Pending", "Failed"


def _resource(pods, current, target, tolerances=DEFAULT_TOLERANCES):
    return resource_replicas(
        pods, current, target, NOW, tolerances, TEST_CPU_INITIALIZATION_PERIOD, TEST_INITIAL_READINESS_DELAY
    )


# (name, current, levels, pod options, target %, expected replicas, expected utilization %)
RESOURCE_CASES = [
    # TestReplicaCalcResourceScale (table): the pod-level cases
    ("TestReplicaCalcResourceScale/scale up", 3, [300, 500, 700], {}, 30, 5, 50),
    (
        "TestReplicaCalcResourceScale/scale up: unready pod scales less",
        3,
        [300, 500, 700],
        {"readiness": [F, T, T]},
        30,
        4,
        60,
    ),
    (
        "TestReplicaCalcResourceScale/scale up: hot-CPU pod scales less",
        3,
        [300, 500, 700],
        {"starts": [HOT, COOL, COOL]},
        30,
        4,
        60,
    ),
    (
        "TestReplicaCalcResourceScale/no scale: unready pods ignored",
        3,
        [400, 500, 700],
        {"readiness": [T, F, F]},
        30,
        3,
        40,
    ),
    (
        "TestReplicaCalcResourceScale/no scale: hot-CPU pods ignored",
        3,
        [400, 500, 700],
        {"readiness": [T, F, F], "starts": [COOL, HOT, HOT]},
        30,
        3,
        40,
    ),
    (
        "TestReplicaCalcResourceScale/scale up: failed pods ignored",
        2,
        [500, 700],
        {"readiness": [T, T, F, F], "phases": [R, R, FAILED, FAILED]},
        30,
        4,
        60,
    ),
    (
        "TestReplicaCalcResourceScale/scale up: pods being deleted are ignored",
        2,
        [500, 700],
        {"readiness": [T, T, F, F], "phases": [R, R, R, R], "deleted": [F, F, T, T]},
        30,
        4,
        60,
    ),
    ("TestReplicaCalcResourceScale/scale down", 5, [100, 300, 500, 250, 250], {}, 50, 3, 28),
    (
        "TestReplicaCalcResourceScale/scale down: exclude unready pods",
        5,
        [100, 300, 500, 250, 250],
        {"readiness": [T, T, T, F, F]},
        50,
        2,
        30,
    ),
    (
        "TestReplicaCalcResourceScale/scale down: exclude unscheduled pods",
        5,
        [100],
        {"readiness": [T, F, F, F, F], "phases": [R, P, P, P, P]},
        50,
        1,
        10,
    ),
    (
        "TestReplicaCalcResourceScale/scale down: ignore hot-CPU pods",
        5,
        [100, 300, 500, 250, 250],
        {"starts": [COOL, COOL, COOL, HOT, HOT]},
        50,
        2,
        30,
    ),
    (
        "TestReplicaCalcResourceScale/scale down: failed pods ignored",
        5,
        [100, 300, 500, 250, 250],
        {"readiness": [T] * 5 + [F, F], "phases": [R] * 5 + [FAILED, FAILED]},
        50,
        3,
        28,
    ),
    (
        "TestReplicaCalcResourceScale/scale down: pods being deleted are ignored",
        5,
        [100, 300, 500, 250, 250],
        {"readiness": [T] * 5 + [F, F], "phases": [R] * 7, "deleted": [F] * 5 + [T, T]},
        50,
        3,
        28,
    ),
    ("TestReplicaCalcTolerance", 3, [1010, 1030, 1020], {"requests": [0.9, 1.0, 1.1]}, 100, 3, 102),
    ("TestReplicaCalcMissingMetrics", 4, [400, 95], {}, 100, 3, 24),
    # Missing metrics at exactly the target: nothing changes.
    ("TestReplicaCalcMissingMetricsNoChangeEq", 2, [1000], {}, 100, 2, 100),
    ("TestReplicaCalcMissingMetricsNoChangeGt", 2, [1900], {}, 100, 2, 190),
    ("TestReplicaCalcMissingMetricsNoChangeLt", 2, [600], {}, 100, 2, 60),
    ("TestReplicaCalcMissingMetricsUnreadyChange", 3, [100, 450], {"readiness": [F, T, T]}, 50, 3, 45),
    ("TestReplicaCalcMissingMetricsHotCpuNoChange", 3, [100, 450], {"starts": [HOT, COOL, COOL]}, 50, 3, 45),
    ("TestReplicaCalcMissingMetricsUnreadyScaleUp", 3, [100, 2000], {"readiness": [F, T, T]}, 50, 4, 200),
    (
        "TestReplicaCalcMissingMetricsHotCpuScaleUp",
        3,
        [100, 2000],
        {"readiness": [F, T, T], "starts": [HOT, COOL, COOL]},
        50,
        4,
        200,
    ),
    ("TestReplicaCalcMissingMetricsUnreadyScaleDown", 4, [100, 100, 100], {"readiness": [F, T, T, T]}, 50, 3, 10),
    # Missing CPU on a scale-down counts max(100 %, target) of the request.
    (
        "TestReplicaCalcMissingMetricsScaleDownTargetOver100",
        4,
        [200, 100, 100],
        {"readiness": [F, T, T, T], "requests": [1.0, 1.0, 2.0, 2.0]},
        300,
        2,
        6,
    ),
    ("TestReplicaCalcDuringRollingUpdateWithMaxSurge", 2, [100, 100], {"phases": [R, R, R]}, 50, 2, 10),
]


@pytest.mark.parametrize(
    ("current", "levels", "options", "target", "replicas", "utilization"),
    [case[1:] for case in RESOURCE_CASES],
    ids=[case[0] for case in RESOURCE_CASES],
)
def test_get_resource_replicas(current, levels, options, target, replicas, utilization):
    """``GetResourceReplicas``: the upstream case's replicas and utilization."""
    assert _resource(calc_pods(current, levels, **options), current, target) == (replicas, utilization)


# TestReplicaCalcConfigurableTolerance (table): requests 0.9/1.0/1.1, target 100 %.
TOLERANCE_CASES = [
    ("Outside of a 0% tolerance", Tolerances(0.0, 0.0), [909, 1010, 1111], 4, 101),
    ("Within a 200% scale-up tolerance", Tolerances(0.1, 2.0), [1890, 1910, 1900], 3, 190),
    (
        "Outside 8% scale-up tolerance (and superfuous scale-down tolerance)",
        Tolerances(2.0, 0.08),
        [1100, 1080, 1090],
        4,
        109,
    ),
    ("Within a 36% scale-down tolerance", Tolerances(0.36, 0.1), [660, 640, 650], 3, 65),
    ("Outside a 34% scale-down tolerance", Tolerances(0.34, 0.1), [660, 640, 650], 2, 65),
]


@pytest.mark.parametrize(
    ("tolerances", "levels", "replicas", "utilization"),
    [case[1:] for case in TOLERANCE_CASES],
    ids=[f"TestReplicaCalcConfigurableTolerance/{case[0]}" for case in TOLERANCE_CASES],
)
def test_configurable_tolerance(tolerances, levels, replicas, utilization):
    """``GetResourceReplicas`` with per-direction tolerances (``Tolerances.isWithin``)."""
    pods = calc_pods(3, levels, requests=[0.9, 1.0, 1.1])
    assert _resource(pods, 3, 100, tolerances) == (replicas, utilization)


def _computed_tolerance_case(margin: float) -> tuple[list[PodSample], int, int]:
    """The inputs of ``TestReplicaCalcComputedToleranceAlgImplementation`` for one target margin."""
    start_pods = 10
    used = start_pods * 150
    requested = 2 * used
    requested_to_used = float(requested // used)
    per_pod = requested // start_pods
    target = abs(1 / (requested_to_used * (1 - 0.1))) + margin
    levels = [used // 10 // 2] * 10  # per container: the pod uses used / 10
    offsets = [100, -100, 10, -10, 2, -2, 1, -1, 0, 0]
    pods = calc_pods(10, levels, requests=[(per_pod + o) / 2 / 1000 for o in offsets])
    final = math.ceil(used / (requested * target) * start_pods)
    return pods, int(target * 100), final


def test_computed_tolerance_alg_implementation():
    """``TestReplicaCalcComputedToleranceAlgImplementation``: just past the tolerance it scales to
    ``ceil(used / (requested × target) × 10)``; 0.004 inside it, it keeps 10."""
    pods, target, final = _computed_tolerance_case(0.01)
    assert _resource(pods, 10, target)[0] == final == 9
    pods, target, _ = _computed_tolerance_case(0.004)
    assert _resource(pods, 10, target)[0] == 10


def test_empty_metrics_are_an_error():
    """``TestReplicaCalcEmptyMetrics``: no sample for any pod is an error, not a proposal."""
    with pytest.raises(NoMetrics):
        _resource(calc_pods(4, [], requests=[1.0, 1.0, 1.0]), 4, 100)


# (name, current, levels, pod options, target, expected replicas, expected usage), milli-units
METRIC_CASES = [
    ("TestReplicaCalcScaleUpCM", 3, [20000, 10000, 30000], {}, 15000, 4, 20000),
    (
        "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
        3,
        [50000, 10000, 30000],
        {"readiness": [T, T, F], "starts": [COOL, COOL, HOT]},
        15000,
        6,
        30000,
    ),
    (
        "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
        3,
        [50000, 15000, 30000],
        {"readiness": [F, T, F], "starts": [HOT, COOL, HOT]},
        15000,
        7,
        31666,
    ),
    ("TestReplicaCalcScaleDownCM", 5, [12000] * 5, {}, 20000, 3, 12000),
    ("TestReplicaCalcToleranceCM", 3, [20000, 21000, 21000], {}, 20000, 3, 20666),
    ("TestPlainMetricReplicaCalcMissingMetricsNoChangeEq", 5, [20000, 19000, 21000], {}, 20000, 5, 20000),
    ("TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM", 2, [10000, 10000], {"phases": [R, R, R]}, 17000, 2, 10000),
]


@pytest.mark.parametrize(
    ("current", "levels", "options", "target", "replicas", "usage"),
    [case[1:] for case in METRIC_CASES],
    ids=[case[0] for case in METRIC_CASES],
)
def test_get_metric_replicas(current, levels, options, target, replicas, usage):
    """``GetMetricReplicas`` → ``calcPlainMetricReplicas``: a Pods metric ignores readiness."""
    assert plain_metric_replicas(metric_pods(current, levels, **options), current, target, NOW) == (replicas, usage)


def test_configurable_tolerance_cm():
    """``TestReplicaCalcConfigurableToleranceCM``: a 1 % scale-up tolerance lets 20666 of 20000 scale."""
    pods = metric_pods(3, [20000, 21000, 21000])
    assert plain_metric_replicas(pods, 3, 20000, NOW, Tolerances(0.1, 0.01)) == (4, 20666)


# (name, status replicas, usage, per-pod target, tolerances, expected replicas)
EXTERNAL_PER_POD_CASES = [
    ("TestReplicaCalcScaleUpPerPodCMExternal", 3, 8600, 2150, Tolerances(), 4),
    ("TestReplicaCalcScaleDownPerPodCMExternal", 5, 8600, 2867, Tolerances(), 3),
    ("TestReplicaCalcTolerancePerPodCMExternal", 3, 8600, 2900, Tolerances(), 3),
    ("TestReplicaCalcConfigurableTolerancePerPodCMExternal", 3, 8600, 2800, Tolerances(0.1, 0.01), 4),
]


@pytest.mark.parametrize(
    ("status", "usage", "target", "tolerances", "replicas"),
    [case[1:] for case in EXTERNAL_PER_POD_CASES],
    ids=[case[0] for case in EXTERNAL_PER_POD_CASES],
)
def test_get_external_per_pod_metric_replicas(status, usage, target, tolerances, replicas):
    """``GetExternalPerPodMetricReplicas`` (the metric type of KEDA's HPA)."""
    assert external_per_pod_replicas(usage, target, status, tolerances) == replicas


def _pod(**kwargs) -> PodSample:
    base = {
        "value": None,
        "start_time": None,
        "ready": None,
        "ready_transition": GO_ZERO_TIME,
        "timestamp": GO_ZERO_TIME,
        "window": 0.0,
    }
    base.update(kwargs)
    return PodSample(**base)


# TestGroupPods (table): (name, pods, cpu, ready count, unready, missing, ignored)
GROUP_CASES = [
    ("void", [], True, 0, set(), set(), set()),
    (
        "count in a ready pod - memory",
        [_pod(phase="Succeeded", value=1, timestamp=NOW, window=60)],
        False,
        1,
        set(),
        set(),
        set(),
    ),
    (
        "unready a pod without ready condition - CPU",
        [_pod(phase="Succeeded", start_time=NOW, value=1)],
        True,
        0,
        {0},
        set(),
        set(),
    ),
    (
        "count in a ready pod with fresh metrics during initialization period - CPU",
        [
            _pod(
                phase="Succeeded",
                start_time=NOW - 60,
                ready=True,
                ready_transition=NOW - 30,
                value=1,
                timestamp=NOW,
                window=30,
            )
        ],
        True,
        1,
        set(),
        set(),
        set(),
    ),
    (
        "unready a ready pod without fresh metrics during initialization period - CPU",
        [
            _pod(
                phase="Succeeded",
                start_time=NOW - 60,
                ready=True,
                ready_transition=NOW - 30,
                value=1,
                timestamp=NOW,
                window=60,
            )
        ],
        True,
        0,
        {0},
        set(),
        set(),
    ),
    (
        "unready an unready pod during initialization period - CPU",
        [_pod(phase="Succeeded", start_time=NOW - 600, ready=False, ready_transition=NOW - 594, value=1)],
        True,
        0,
        {0},
        set(),
        set(),
    ),
    (
        "count in a ready pod without fresh metrics after initialization period - CPU",
        [
            _pod(
                phase="Succeeded",
                start_time=NOW - 180,
                ready=True,
                ready_transition=NOW - 180,
                value=1,
                timestamp=NOW - 120,
                window=60,
            )
        ],
        True,
        1,
        set(),
        set(),
        set(),
    ),
    (
        "count in an unready pod that was ready after initialization period - CPU",
        [_pod(phase="Succeeded", start_time=NOW - 600, ready=False, ready_transition=NOW - 540, value=1)],
        True,
        1,
        set(),
        set(),
        set(),
    ),
    (
        "unready pod that has never been ready after initialization period - CPU",
        [_pod(phase="Succeeded", start_time=NOW - 600, ready=False, ready_transition=NOW - 590, value=1)],
        True,
        1,
        set(),
        set(),
        set(),
    ),
    ("a missing pod", [_pod(phase="Succeeded", start_time=NOW - 180)], True, 0, set(), {0}, set()),
    (
        "several pods",
        [
            _pod(phase="Succeeded", start_time=NOW, value=1),
            _pod(phase="Succeeded", start_time=NOW - 180, ready=True, ready_transition=NOW - 180, value=1),
            _pod(phase="Succeeded", start_time=NOW - 180),
        ],
        True,
        1,
        {0},
        {2},
        set(),
    ),
    # Pending pods are unready (they count as 0 on a scale-up), not dropped.
    ("pending pods are unreadied", [_pod(phase="Pending")], True, 0, {0}, set(), set()),
    (
        "ignore pods with deletion timestamps",
        [_pod(phase="Pending", deleted=True, value=1)],
        True,
        0,
        set(),
        set(),
        {0},
    ),
    ("ignore pods in a failed state", [_pod(phase="Failed", value=1)], True, 0, set(), set(), {0}),
]


@pytest.mark.parametrize(
    ("pods", "cpu", "ready", "unready", "missing", "ignored"),
    [case[1:] for case in GROUP_CASES],
    ids=[f"TestGroupPods/{case[0]}" for case in GROUP_CASES],
)
def test_group_pods(pods, cpu, ready, unready, missing, ignored):
    """``groupPods``: the upstream case's ready count and unready / missing / ignored sets."""
    grouping = group_pods(pods, cpu, NOW, TEST_CPU_INITIALIZATION_PERIOD, TEST_INITIAL_READINESS_DELAY)
    assert (grouping.ready_count, set(grouping.unready), set(grouping.missing), set(grouping.ignored)) == (
        ready,
        unready,
        missing,
        ignored,
    )
