"""The Kubernetes HorizontalPodAutoscaler algorithm, as documented and as
``pkg/controller/podautoscaler`` implements it (horizontal.go, replica_calculator.go).

* desired = ceil(current × metric / target), skipped within the tolerance (0.1);
* pods still Pending are ignored; pods without a metric count as the target on a scale-down and
  as 0 on a scale-up; for CPU, unready pods count as 0 on a scale-up;
* several metrics: the largest proposal wins; if some metrics fail and the rest propose a
  scale-down, nothing happens;
* behavior: stabilization (scale-up takes the minimum of the window's recommendations, scale-down
  the maximum), then the rate limits of the policies (selectPolicy Max/Min/Disabled) over the
  scale events of each policy's period, then min/max replicas.

Times are seconds on the simulator's clock; the controller keeps its state like the real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stack.simulate.behavior import HpaBehavior, ScalingRules


@dataclass(frozen=True)
class PodSample:
    """What the metrics API returns for one pod of the target."""

    pending: bool = False
    """Phase Pending (no node yet, or pulling the image): ignored by the HPA."""
    ready: bool = True
    value: float | None = None
    """The metric, or None when the metrics API has no sample for the pod."""


class NoMetrics(Exception):
    """No pod has a sample: the metric is invalid this sync."""


def plain_metric_replicas(
    pods: list[PodSample], current_replicas: int, target: float, tolerance: float = 0.1, cpu: bool = False
) -> int:
    """``calcPlainMetricReplicas``: a Pods (AverageValue) or Resource (cpu) metric's proposal.

    Args:
        pods: the target's pods and their samples.
        current_replicas: the scale target's spec.replicas.
        target: per-pod target (average value, or utilisation percent for cpu).
        tolerance: the controller's tolerance.
        cpu: apply the CPU readiness rules (unready pods are set aside).
    """
    ready_count = 0
    values: list[float] = []
    missing = unready = 0
    for pod in pods:
        if pod.pending:
            continue
        if pod.value is None:
            missing += 1
            continue
        if cpu and not pod.ready:
            unready += 1
            continue
        ready_count += 1
        values.append(pod.value)
    if not values:
        raise NoMetrics("no metrics returned for any pod")
    ratio = sum(values) / len(values) / target
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return current_replicas
        return math.ceil(ratio * ready_count)
    # Missing pods: the target on a scale-down, 0 on a scale-up; unready pods 0 on a scale-up.
    filled = list(values)
    filled += [target if ratio < 1.0 else 0.0] * missing
    if scale_up_with_unready:
        filled += [0.0] * unready
    new_ratio = sum(filled) / len(filled) / target
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current_replicas
    proposal = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and proposal > current_replicas) or (new_ratio > 1.0 and proposal < current_replicas):
        return current_replicas
    return proposal


def external_per_pod_replicas(usage: float, target_average: float, status_replicas: int, tolerance: float = 0.1) -> int:
    """``GetExternalPerPodMetricReplicas``: an External metric with an AverageValue target (KEDA's HPA)."""
    replicas = status_replicas
    ratio = usage / (target_average * replicas) if replicas else math.inf
    if abs(1.0 - ratio) > tolerance:
        replicas = math.ceil(usage / target_average)
    return replicas


@dataclass
class _Event:
    time: float
    change: int


@dataclass
class HpaController:
    """One HPA's state across syncs: recommendations (stabilization) and scale events (policies)."""

    min_replicas: int
    max_replicas: int
    behavior: HpaBehavior
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[_Event] = field(default_factory=list)
    down_events: list[_Event] = field(default_factory=list)

    def reconcile(self, now: float, current: int, proposals: list[int | None]) -> int:
        """One sync: the new spec.replicas given each metric's proposal (None = the metric failed).

        Mirrors ``reconcileAutoscaler``: out-of-range replicas are pulled into [min, max] first;
        a target at 0 replicas with minReplicas > 0 is left alone (autoscaling disabled).
        """
        if current == 0 and self.min_replicas != 0:
            return current
        if current > self.max_replicas:
            desired = self.max_replicas
        elif current < self.min_replicas:
            desired = self.min_replicas
        else:
            valid = [p for p in proposals if p is not None]
            if not valid:
                return current
            metric_desired = max(valid)
            if len(valid) < len(proposals) and metric_desired < current:
                return current  # some metrics failed and the rest say scale down: skip
            desired = self.normalize(now, current, metric_desired)
        if desired != current:
            self.record(now, current, desired)
        return desired

    def normalize(self, now: float, current: int, desired: int) -> int:
        """``normalizeDesiredReplicasWithBehaviors``: stabilize, then apply the rate limits."""
        stabilized = self.stabilize(now, current, desired)
        return self.limit(now, current, stabilized)

    def stabilize(self, now: float, current: int, desired: int) -> int:
        """``stabilizeRecommendationWithBehaviors``; records ``desired`` as this sync's recommendation."""
        up_cutoff = now - self.behavior.scale_up.stabilization_window_seconds
        down_cutoff = now - self.behavior.scale_down.stabilization_window_seconds
        up, down = desired, desired
        for stamp, value in self.recommendations:
            if stamp > up_cutoff:
                up = min(up, value)
            if stamp > down_cutoff:
                down = max(down, value)
        recommendation = max(current, up)
        recommendation = min(recommendation, down)
        oldest = min(up_cutoff, down_cutoff)
        self.recommendations = [r for r in self.recommendations if r[0] >= oldest]
        self.recommendations.append((now, desired))
        return recommendation

    def limit(self, now: float, current: int, desired: int) -> int:
        """``convertDesiredReplicasWithBehaviorRate``: policy rate limits and min/max replicas."""
        if desired > current:
            up_limit = _scale_up_limit(now, current, self.up_events, self.down_events, self.behavior.scale_up)
            limit = max(up_limit, current)
            return min(desired, self.max_replicas, limit)
        if desired < current:
            limit = min(
                _scale_down_limit(now, current, self.up_events, self.down_events, self.behavior.scale_down), current
            )
            return max(desired, self.min_replicas, limit)
        return desired

    def record(self, now: float, previous: int, new: int) -> None:
        """``storeScaleEvent``: remember the change for the policies' periods."""
        events = self.up_events if new > previous else self.down_events
        rules = self.behavior.scale_up if new > previous else self.behavior.scale_down
        longest = max((p.period_seconds for p in rules.policies), default=0)
        events[:] = [e for e in events if e.time > now - longest]
        events.append(_Event(now, abs(new - previous)))


def _changed(now: float, period: int, events: list[_Event]) -> int:
    cutoff = now - period
    return sum(e.change for e in events if e.time > cutoff)


def _scale_up_limit(now: float, current: int, ups: list[_Event], downs: list[_Event], rules: ScalingRules) -> int:
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    result: int | None = None
    for policy in rules.policies:
        start = current - _changed(now, policy.period_seconds, ups) + _changed(now, policy.period_seconds, downs)
        proposed = start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def _scale_down_limit(now: float, current: int, ups: list[_Event], downs: list[_Event], rules: ScalingRules) -> int:
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    result: int | None = None
    for policy in rules.policies:
        start = current - _changed(now, policy.period_seconds, ups) + _changed(now, policy.period_seconds, downs)
        proposed = start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result
