"""The Kubernetes HorizontalPodAutoscaler controller, ported from kubernetes/kubernetes
``pkg/controller/podautoscaler`` (``replica_calculator.go``, ``horizontal.go``; Kubernetes 1.33+,
where tolerances are per direction). Every function names the upstream function it mirrors, and
``tests/simulate/test_hpa_upstream.py`` runs the upstream unit-test cases against it.

* ``group_pods``: Failed and deleting pods are ignored; **Pending pods are unready**; pods without
  a sample are missing; for CPU, pods not yet ready (or whose first sample predates a full window
  after readiness, during the CPU initialization period) are unready.
* ``resource_replicas`` / ``plain_metric_replicas`` (``GetResourceReplicas`` /
  ``calcPlainMetricReplicas``): on a scale-up unready pods count as 0; missing pods count 0 on a
  scale-up and, on a scale-down, the target (plain metrics) or ``max(100 %, target)`` of their
  request (CPU); at exactly the target they are left out; a change of direction keeps the current
  count; the tolerance is checked before and after.
* ``HpaController.reconcile`` (``reconcileAutoscaler``): the largest metric proposal wins; invalid
  metrics block a scale-down; an HPA **without** ``behavior`` runs ``normalizeDesiredReplicas``
  (downscale stabilization window, scale-up at most ``max(2 × current, 4)`` per sync), an HPA with
  ``behavior`` runs ``normalizeDesiredReplicasWithBehaviors`` (both stabilization windows, then the
  policies' rate limits over the scale events of each policy's period).

Metric values and targets are integer milli-units, as the controller reads them
(``Quantity.MilliValue``); times are seconds on one clock, passed in as ``now``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from stack.plan.simulate.behavior import HpaBehavior, ScalingRules

CPU_INITIALIZATION_PERIOD_SECONDS = 300.0
"""``--horizontal-pod-autoscaler-cpu-initialization-period`` default 5 min
(``pkg/controller/podautoscaler/config/v1alpha1/defaults.go``)."""
INITIAL_READINESS_DELAY_SECONDS = 30.0
"""``--horizontal-pod-autoscaler-initial-readiness-delay`` default 30 s (same file)."""
DOWNSCALE_STABILIZATION_SECONDS = 300.0
"""``--horizontal-pod-autoscaler-downscale-stabilization`` default 5 min (same file)."""
TOLERANCE = 0.1
"""``--horizontal-pod-autoscaler-tolerance`` default 0.1 (same file)."""
SCALE_UP_LIMIT_FACTOR = 2.0
"""``scaleUpLimitFactor`` (horizontal.go): the legacy path never more than doubles per sync ..."""
SCALE_UP_LIMIT_MINIMUM = 4.0
"""... or, from small counts, goes past ``scaleUpLimitMinimum`` = 4 replicas (horizontal.go)."""

Phase = Literal["Pending", "Running", "Succeeded", "Failed"]


@dataclass(frozen=True)
class PodSample:
    """One pod of the scale target as the controller sees it, with its sample from the metrics API."""

    value: int | None = None
    """The pod's metric in milli-units (CPU: milli-cores used), or None when the API has no sample."""
    phase: Phase = "Running"
    ready: bool | None = True
    """Status of the Ready condition; None when the pod has no Ready condition."""
    deleted: bool = False
    """The pod has a deletionTimestamp."""
    start_time: float | None = 0.0
    """``status.startTime`` (None: not set)."""
    ready_transition: float = 0.0
    """``lastTransitionTime`` of the Ready condition."""
    timestamp: float = 0.0
    """When the sample was taken (CPU initialization rules only)."""
    window: float = 60.0
    """The window the sample averages over (metrics-server; CPU initialization rules only)."""
    request: int = 1000
    """The pod's CPU request in milli-cores (resource metrics only)."""


class NoMetrics(Exception):
    """No usable sample: the metric is invalid this sync (``did not receive metrics for targeted pods``)."""


@dataclass(frozen=True)
class Tolerances:
    """``Tolerances`` (replica_calculator.go): no change while 1 − down ≤ ratio ≤ 1 + up."""

    scale_down: float = TOLERANCE
    scale_up: float = TOLERANCE

    def within(self, ratio: float) -> bool:
        """``isWithin``."""
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


DEFAULT_TOLERANCES = Tolerances()


@dataclass(frozen=True)
class Grouping:
    """``groupPods``' result: indices into the pod list."""

    ready_count: int
    unready: frozenset[int]
    missing: frozenset[int]
    ignored: frozenset[int]


def group_pods(
    pods: list[PodSample],
    cpu: bool,
    now: float,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD_SECONDS,
    initial_readiness_delay: float = INITIAL_READINESS_DELAY_SECONDS,
) -> Grouping:
    """``groupPods``: sort the target's pods into ready, unready, missing and ignored.

    Args:
        pods: the target's pods (by index).
        cpu: apply the CPU readiness rules (the metric is the ``cpu`` resource).
        now: the controller's clock.
        cpu_initialization_period: ``--horizontal-pod-autoscaler-cpu-initialization-period``.
        initial_readiness_delay: ``--horizontal-pod-autoscaler-initial-readiness-delay``.
    """
    ready = 0
    unready: set[int] = set()
    missing: set[int] = set()
    ignored: set[int] = set()
    for i, pod in enumerate(pods):
        if pod.deleted or pod.phase == "Failed":
            ignored.add(i)
            continue
        if pod.phase == "Pending":
            unready.add(i)
            continue
        if pod.value is None:
            missing.add(i)
            continue
        if cpu:
            if pod.ready is None or pod.start_time is None:
                not_ready = True
            elif pod.start_time + cpu_initialization_period > now:
                # Within the initialization period: unready, or no full window since the transition.
                not_ready = pod.ready is False or pod.timestamp < pod.ready_transition + pod.window
            else:
                # Afterwards: only if unready and it has never been ready.
                not_ready = pod.ready is False and pod.start_time + initial_readiness_delay > pod.ready_transition
            if not_ready:
                unready.add(i)
                continue
        ready += 1
    return Grouping(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _resource_utilization(values: dict[int, int], requests: dict[int, int], target: int) -> tuple[float, int]:
    """``GetResourceUtilizationRatio``: (usage ratio, utilization %, truncated as the controller does)."""
    total = sum(values.values())
    requested = sum(requests[i] for i in values)
    if requested == 0:
        raise NoMetrics("no metrics returned matched known pods")
    utilization = total * 100 // requested
    return utilization / target, utilization


def _metric_usage(values: dict[int, int], target: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (usage ratio, average usage in milli-units, truncated)."""
    usage = sum(values.values()) // len(values)
    return usage / target, usage


def _replicas(
    pods: list[PodSample],
    current: int,
    target: int,
    tolerances: Tolerances,
    grouping: Grouping,
    ratio_of,
    missing_fill,
) -> tuple[int, int]:
    """The part ``GetResourceReplicas`` and ``calcPlainMetricReplicas`` share (after ``groupPods``)."""
    values = {
        i: pod.value
        for i, pod in enumerate(pods)
        if pod.value is not None and i not in grouping.unready and i not in grouping.ignored
    }
    if not values:
        raise NoMetrics("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = ratio_of(values)
    scale_up_with_unready = bool(grouping.unready) and ratio > 1.0
    if not scale_up_with_unready and not grouping.missing:
        if tolerances.within(ratio):
            return current, usage
        return math.ceil(ratio * grouping.ready_count), usage
    if grouping.missing:
        if ratio < 1.0:
            values.update({i: missing_fill(pods[i]) for i in grouping.missing})
        elif ratio > 1.0:
            values.update(dict.fromkeys(grouping.missing, 0))
    if scale_up_with_unready:
        values.update(dict.fromkeys(grouping.unready, 0))
    new_ratio, _ = ratio_of(values)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, usage  # too small a change, or the direction would flip
    proposal = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current, usage  # the count of metrics would flip the direction
    return proposal, usage


def resource_replicas(
    pods: list[PodSample],
    current: int,
    target_utilization: int,
    now: float,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD_SECONDS,
    initial_readiness_delay: float = INITIAL_READINESS_DELAY_SECONDS,
) -> tuple[int, int]:
    """``GetResourceReplicas`` for ``cpu`` with a Utilization target: (replicas, utilization %).

    Missing pods on a scale-down are taken at ``max(100, target)`` % of their request.

    Args:
        pods: the target's pods; ``value`` and ``request`` in milli-cores.
        current: the scale target's spec.replicas.
        target_utilization: ``averageUtilization`` in percent.
        now: the controller's clock.
        tolerances: scale-down / scale-up tolerances.
        cpu_initialization_period: see ``group_pods``.
        initial_readiness_delay: see ``group_pods``.
    """
    grouping = group_pods(pods, True, now, cpu_initialization_period, initial_readiness_delay)
    requests = {i: pod.request for i, pod in enumerate(pods)}
    fallback = max(100, target_utilization)
    return _replicas(
        pods,
        current,
        target_utilization,
        tolerances,
        grouping,
        lambda values: _resource_utilization(values, requests, target_utilization),
        lambda pod: pod.request * fallback // 100,
    )


def plain_metric_replicas(
    pods: list[PodSample], current: int, target: int, now: float, tolerances: Tolerances = DEFAULT_TOLERANCES
) -> tuple[int, int]:
    """``GetMetricReplicas`` → ``calcPlainMetricReplicas``: a Pods metric with an AverageValue target.

    Missing pods on a scale-down are taken at the target. Returns (replicas, average usage).

    Args:
        pods: the target's pods; ``value`` in milli-units.
        current: the scale target's spec.replicas.
        target: ``averageValue`` in milli-units.
        now: the controller's clock (unused by the non-CPU rules; kept for one signature).
        tolerances: scale-down / scale-up tolerances.
    """
    grouping = group_pods(pods, False, now)
    return _replicas(
        pods, current, target, tolerances, grouping, lambda values: _metric_usage(values, target), lambda _pod: target
    )


def external_per_pod_replicas(
    usage: float, target_average: float, status_replicas: int, tolerances: Tolerances = DEFAULT_TOLERANCES
) -> int:
    """``GetExternalPerPodMetricReplicas``: an External metric with an AverageValue target (KEDA's HPA).

    Args:
        usage: the sum of the metric's series.
        target_average: the per-pod target.
        status_replicas: the scale target's status.replicas.
        tolerances: scale-down / scale-up tolerances.
    """
    # Go's float division: x / 0 is +Inf, 0 / 0 is NaN (never within the tolerance).
    zero = math.nan if usage == 0 else math.inf
    ratio = usage / (target_average * status_replicas) if status_replicas else zero
    if not tolerances.within(ratio):
        return math.ceil(usage / target_average)
    return status_replicas


# -- the controller ------------------------------------------------------------------------------


@dataclass
class Recommendation:
    """``timestampedRecommendation``."""

    replicas: int
    time: float


@dataclass
class ScaleEvent:
    """``timestampedScaleEvent``."""

    change: int
    time: float
    outdated: bool = False


def replicas_change_per_period(period: float, events: list[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``: replicas changed by events strictly after ``now − period``."""
    cutoff = now - period
    return sum(e.change for e in events if e.time > cutoff)


def scale_up_limit(current: int, factor: float = SCALE_UP_LIMIT_FACTOR, minimum: float = SCALE_UP_LIMIT_MINIMUM) -> int:
    """``calculateScaleUpLimit``: the legacy path's cap, ``max(factor × current, minimum)``."""
    return int(max(factor * current, minimum))


def convert_desired_replicas_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int, factor: float = SCALE_UP_LIMIT_FACTOR
) -> tuple[int, str]:
    """``convertDesiredReplicasWithRules``: the legacy path's bounds. Returns (replicas, condition reason)."""
    limit = scale_up_limit(current, factor)
    if max_replicas > limit:
        maximum, reason = limit, "ScaleUpLimit"
    else:
        maximum, reason = max_replicas, "TooManyReplicas"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas"
    if desired > maximum:
        return maximum, reason
    return desired, "DesiredWithinRange"


def scale_up_limit_with_rules(
    current: int, ups: list[ScaleEvent], downs: list[ScaleEvent], rules: ScalingRules, now: float
) -> int:
    """``calculateScaleUpLimitWithScalingRules``."""
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    result = -(2**31) if pick is max else 2**31 - 1
    for policy in rules.policies:
        start = current - replicas_change_per_period(policy.period_seconds, ups, now)
        start += replicas_change_per_period(policy.period_seconds, downs, now)
        proposed = start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit_with_rules(
    current: int, ups: list[ScaleEvent], downs: list[ScaleEvent], rules: ScalingRules, now: float
) -> int:
    """``calculateScaleDownLimitWithBehaviors``."""
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    result = -(2**31) if pick is max else 2**31 - 1
    for policy in rules.policies:
        start = current - replicas_change_per_period(policy.period_seconds, ups, now)
        start += replicas_change_per_period(policy.period_seconds, downs, now)
        proposed = start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))
        result = pick(result, proposed)
    return result


@dataclass
class HpaController:
    """One HPA's controller state across syncs (``recommendations``, ``scaleUpEvents``, ``scaleDownEvents``).

    ``behavior`` None is an HPA without a behavior block (legacy path); otherwise the rules as the
    API server defaulted them (``generate_scale_up_rules`` / ``generate_scale_down_rules``).
    """

    min_replicas: int
    max_replicas: int
    behavior: HpaBehavior | None
    downscale_stabilization: float = DOWNSCALE_STABILIZATION_SECONDS
    scale_up_limit_factor: float = SCALE_UP_LIMIT_FACTOR
    recommendations: list[Recommendation] = field(default_factory=list)
    up_events: list[ScaleEvent] = field(default_factory=list)
    down_events: list[ScaleEvent] = field(default_factory=list)
    initialized: bool = False

    def record_initial_recommendation(self, now: float, current: int) -> None:
        """``recordInitialRecommendation``: the first sync seeds the log with the current count."""
        if not self.initialized and not self.recommendations:
            self.recommendations.append(Recommendation(current, now))
        self.initialized = True

    def reconcile(self, now: float, current: int, proposals: list[int | None]) -> int:
        """``reconcileAutoscaler``: the new spec.replicas given each metric's proposal (None = invalid).

        A target at 0 replicas with minReplicas > 0 is left alone; replicas outside [min, max]
        are pulled in without normalization; otherwise the largest proposal is normalized.
        """
        self.record_initial_recommendation(now, current)
        if current == 0 and self.min_replicas != 0:
            return current  # ScalingDisabled
        if current > self.max_replicas:
            desired = self.max_replicas
        elif current < self.min_replicas:
            desired = self.min_replicas
        else:
            valid = [p for p in proposals if p is not None]
            # computeReplicasForMetrics: all invalid, or some invalid and the rest say scale down.
            if not valid or (len(valid) < len(proposals) and max(valid) < current):
                return current
            metric_desired = max(valid)
            if self.behavior is None:
                desired = self.normalize_legacy(now, current, metric_desired)
            else:
                desired = self.normalize_with_behaviors(now, current, metric_desired)
        if desired != current:
            self.store_scale_event(now, current, desired)
        return desired

    # -- legacy path (no behavior block) ----------------------------------------------------

    def stabilize_legacy(self, now: float, desired: int) -> int:
        """``stabilizeRecommendation``: the highest recommendation not older than the downscale window."""
        cutoff = now - self.downscale_stabilization
        highest = desired
        old_index = None
        for i, rec in enumerate(self.recommendations):
            if rec.time < cutoff:
                old_index = i
            elif rec.replicas > highest:
                highest = rec.replicas
        if old_index is not None:
            self.recommendations[old_index] = Recommendation(desired, now)
        else:
            self.recommendations.append(Recommendation(desired, now))
        return highest

    def normalize_legacy(self, now: float, current: int, desired: int) -> int:
        """``normalizeDesiredReplicas``: stabilize, then min/max and ``max(2 × current, 4)``."""
        stabilized = self.stabilize_legacy(now, desired)
        return convert_desired_replicas_with_rules(
            current, stabilized, self.min_replicas, self.max_replicas, self.scale_up_limit_factor
        )[0]

    # -- behavior path ------------------------------------------------------------------------

    def _rules(self) -> tuple[ScalingRules, ScalingRules, float]:
        assert self.behavior is not None
        down = self.behavior.scale_down
        window = down.stabilization_window_seconds
        # maybeInitScaleDownStabilizationWindow: a nil window takes the controller's flag.
        return self.behavior.scale_up, down, self.downscale_stabilization if window is None else window

    def stabilize_with_behaviors(self, now: float, current: int, desired: int) -> int:
        """``stabilizeRecommendationWithBehaviors``: lowest in the up window, highest in the down window."""
        up_rules, _, down_window = self._rules()
        up_cutoff = now - (up_rules.stabilization_window_seconds or 0)
        down_cutoff = now - down_window
        up, down = desired, desired
        old_index = None
        for i, rec in enumerate(self.recommendations):
            if rec.time > up_cutoff:
                up = min(rec.replicas, up)
            if rec.time > down_cutoff:
                down = max(rec.replicas, down)
            if rec.time < up_cutoff and rec.time < down_cutoff:
                old_index = i
        recommendation = max(current, up)
        recommendation = min(recommendation, down)
        if old_index is not None:
            self.recommendations[old_index] = Recommendation(desired, now)
        else:
            self.recommendations.append(Recommendation(desired, now))
        return recommendation

    def convert_with_behavior_rate(self, now: float, current: int, desired: int) -> tuple[int, str]:
        """``convertDesiredReplicasWithBehaviorRate``: the policies' rate limits, then min/max."""
        up_rules, down_rules, _ = self._rules()
        if desired > current:
            limit = max(scale_up_limit_with_rules(current, self.up_events, self.down_events, up_rules, now), current)
            if self.max_replicas > limit:
                maximum, reason = limit, "ScaleUpLimit"
            else:
                maximum, reason = self.max_replicas, "TooManyReplicas"
            if desired > maximum:
                return maximum, reason
        elif desired < current:
            limit = min(
                scale_down_limit_with_rules(current, self.up_events, self.down_events, down_rules, now), current
            )
            if self.min_replicas < limit:
                minimum, reason = limit, "ScaleDownLimit"
            else:
                minimum, reason = self.min_replicas, "TooFewReplicas"
            if desired < minimum:
                return minimum, reason
        return desired, "DesiredWithinRange"

    def normalize_with_behaviors(self, now: float, current: int, desired: int) -> int:
        """``normalizeDesiredReplicasWithBehaviors``: stabilize, then apply the rate limits."""
        stabilized = self.stabilize_with_behaviors(now, current, desired)
        return self.convert_with_behavior_rate(now, current, stabilized)[0]

    def store_scale_event(self, now: float, previous: int, new: int) -> None:
        """``storeScaleEvent``: remember a change for the policies' periods (none without behavior).

        Events older than the longest policy period are marked outdated; the last outdated slot is
        reused (``markScaleEventsOutdated``).
        """
        if self.behavior is None:
            return
        up = new > previous
        rules = self.behavior.scale_up if up else self.behavior.scale_down
        events = self.up_events if up else self.down_events
        longest = max((p.period_seconds for p in rules.policies), default=0)
        old_index = None
        for i, event in enumerate(events):
            if event.time < now - longest:
                event.outdated = True
            if event.outdated:
                old_index = i
        event = ScaleEvent(abs(new - previous), now)
        if old_index is not None:
            events[old_index] = event
        else:
            events.append(event)
