"""Fixtures shared by the ports of the upstream HPA and KEDA unit tests.

Upstream sources (one stored version of each, read for this port):
kubernetes/kubernetes ``pkg/controller/podautoscaler/replica_calculator_test.go`` and
``horizontal_test.go``; kedacore/keda ``pkg/scaling/executor/scale_scaledobjects_test.go``.
"""

from __future__ import annotations

from stack.plan.simulate.behavior import ScalingPolicy, ScalingRules
from stack.plan.simulate.hpa import PodSample, ScaleEvent

NOW = 1_700_000_000.0
"""``time.Now()`` in the upstream tests."""
GO_ZERO_TIME = -62_135_596_800.0
"""Go's zero ``time.Time`` (0001-01-01) in Unix seconds: unset start times, transitions, timestamps."""
HOT = NOW
"""``hotCPUCreationTime()``: now (horizontal_test.go)."""
COOL = NOW - 180
"""``coolCPUCreationTime()``: 3 minutes ago (horizontal_test.go)."""
TEST_CPU_INITIALIZATION_PERIOD = 120.0
"""``defaultTestingCPUInitializationPeriod`` (replica_calculator.go): 2 min."""
TEST_INITIAL_READINESS_DELAY = 10.0
"""``defaultTestingDelayOfInitialReadinessStatus`` (replica_calculator.go): 10 s."""
TEST_SCALE_UP_LIMIT_FACTOR = 8.0
"""horizontal_test.go ``init()`` sets ``scaleUpLimitFactor = 8``."""
CONTAINERS = 2
"""``numContainersPerPod``: every fake pod has two containers with the same request and usage."""


def calc_pods(
    current: int,
    levels: list[int],
    requests: list[float] | None = None,
    readiness: list[bool] | None = None,
    phases: list[str] | None = None,
    starts: list[float] | None = None,
    deleted: list[bool] | None = None,
) -> list[PodSample]:
    """The pods ``buildFakePod`` (replica_calculator_test.go) lists for a CPU test.

    ``max(current, len(phases))`` pods; ``levels`` are per container (pod usage = 2 × level, as
    ``makePodMetricLevels``) and pods past ``len(levels)`` have no sample; ``requests`` are per
    container in cores (default 1.0). Unset start times, Ready transitions and the sample
    timestamp are Go's zero time; the window is 1 min.
    """
    count = max(current, len(phases or []))
    return [
        PodSample(
            value=CONTAINERS * levels[i] if i < len(levels) else None,
            phase=phases[i] if phases else "Running",  # type: ignore[arg-type]
            ready=readiness[i] if readiness and i < len(readiness) else True,
            deleted=bool(deleted and deleted[i]),
            start_time=starts[i] if starts else GO_ZERO_TIME,
            ready_transition=GO_ZERO_TIME,
            timestamp=GO_ZERO_TIME,
            window=60.0,
            request=round(CONTAINERS * (requests[i] if requests and i < len(requests) else 1.0) * 1000),
        )
        for i in range(count)
    ]


def controller_pods(
    status: int,
    levels: list[int],
    requests: list[float] | None = None,
    readiness: list[bool] | None = None,
    phases: list[str] | None = None,
    starts: list[float] | None = None,
    deleted: list[bool] | None = None,
) -> list[PodSample]:
    """The pods ``prepareTestClient`` (horizontal_test.go) lists: ``len(requests)`` pods (else
    ``status``), pod ``i`` reports ``levels[i]`` (milli-cores, or milli-units of a Pods metric)
    against its request; the Ready transition is the start time; samples are taken now.
    """
    count = len(requests) if requests is not None else status
    return [
        PodSample(
            value=levels[i] if i < len(levels) else None,
            phase=phases[i] if phases else "Running",  # type: ignore[arg-type]
            ready=readiness[i] if readiness else True,
            deleted=bool(deleted and deleted[i]),
            start_time=starts[i] if starts else GO_ZERO_TIME,
            ready_transition=starts[i] if starts else GO_ZERO_TIME,
            timestamp=NOW,
            window=60.0,
            request=round((requests[i] if requests else 1.0) * 1000),
        )
        for i in range(count)
    ]


def metric_pods(current: int, levels: list[int], readiness=None, starts=None, phases=None) -> list[PodSample]:
    """Pods for a Pods (custom) metric: one value per pod, as the fake custom-metrics client returns."""
    count = max(current, len(phases or []))
    return [
        PodSample(
            value=levels[i] if i < len(levels) else None,
            phase=phases[i] if phases else "Running",
            ready=readiness[i] if readiness else True,
            start_time=starts[i] if starts else GO_ZERO_TIME,
            ready_transition=GO_ZERO_TIME,
            timestamp=GO_ZERO_TIME,
        )
        for i in range(count)
    ]


def generate_scaling_rules(pods: int, pods_period: int, percent: int, percent_period: int, window: int) -> ScalingRules:
    """``generateScalingRules`` (horizontal_test.go): selectPolicy Max, the Pods then the Percent policy."""
    policies = []
    if pods:
        policies.append(ScalingPolicy("Pods", pods, pods_period))
    if percent:
        policies.append(ScalingPolicy("Percent", percent, percent_period))
    return ScalingRules(window, tuple(policies), "Max")


def generate_events_uniform_distribution(raw: list[int], period: int) -> list[ScaleEvent]:
    """``generateEventsUniformDistribution`` (horizontal_test.go): events in the middle of equal
    segments of the last ``period`` seconds, oldest first."""
    segment = period / len(raw)
    return [ScaleEvent(change, NOW - (period - segment * (i + 1) + segment / 2)) for i, change in enumerate(raw)]
