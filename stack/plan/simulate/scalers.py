"""Autoscalers as the simulator drives them: the HPA on per-pod metrics, KEDA, fixed replicas, a schedule."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from stack.plan.simulate.behavior import HpaBehavior
from stack.plan.simulate.fleet import to_milli
from stack.plan.simulate.hpa import (
    HpaController,
    NoMetrics,
    Tolerances,
    external_per_pod_replicas,
    plain_metric_replicas,
    resource_replicas,
)
from stack.plan.simulate.keda import KedaActivation


@dataclass
class FixedScaler:
    """No autoscaling: ``replicas`` pods."""

    name: str
    replicas: int
    period: float = 15.0

    def initial_replicas(self) -> int:
        return self.replicas

    def tick(self, now: float, sim) -> int | None:
        return None


@dataclass
class HpaScaler:
    """An autoscaling/v2 HPA with Pods metrics (AverageValue) or a CPU Resource metric (Utilization).

    ``behavior`` None is an HPA without a behavior block: the controller's legacy path.
    """

    name: str
    metrics: list[tuple[str, float]]
    """(metric, per-pod target); metric is queue, running, kvCache, gpuDutyCycle or cpu (percent)."""
    min_replicas: int
    max_replicas: int
    behavior: HpaBehavior | None
    tolerance: float = 0.1
    period: float = 15.0
    controller: HpaController = field(init=False)

    def __post_init__(self) -> None:
        self.controller = HpaController(self.min_replicas, self.max_replicas, self.behavior)

    def initial_replicas(self) -> int:
        return self.min_replicas

    def warm(self, now: float, replicas: int) -> None:
        """The controller's first look at the target (``recordInitialRecommendation``)."""
        self.controller.record_initial_recommendation(now, replicas)

    def tick(self, now: float, sim) -> int | None:
        tolerances = Tolerances(self.tolerance, self.tolerance)
        proposals: list[int | None] = []
        for metric, target in self.metrics:
            pods = sim.pod_samples(metric)
            try:
                if metric == "cpu":
                    replicas, _ = resource_replicas(pods, sim.spec, round(target), now, tolerances)
                else:
                    replicas, _ = plain_metric_replicas(pods, sim.spec, to_milli(target), now, tolerances)
                proposals.append(replicas)
            except NoMetrics:
                proposals.append(None)
        return self.controller.reconcile(now, sim.spec, proposals)


@dataclass
class KedaScaler:
    """A KEDA ScaledObject: KEDA handles 0 ↔ 1, the HPA it creates (External, AverageValue) 1 ↔ max.

    ``signal`` says what the triggers read:

    * ``pods``: as the stack renders them, ``sum(<vLLM metric>)`` over the serving pods for both
      activation and scaling. At zero replicas the query is empty, so nothing wakes the target
      (KEDA's and Dynamo's documented limitation) unless a cron window does;
    * ``gateway``: a query that also counts requests held in front of the Service (a gateway or
      load-balancer metric that exists at zero replicas); activation on in-flight requests.
    """

    name: str
    metrics: list[tuple[str, float]]
    min_replicas: int
    max_replicas: int
    activation_threshold: float
    cooldown_seconds: float
    behavior: HpaBehavior | None
    tolerance: float = 0.1
    period: float = 15.0
    signal: str = "pods"
    activation: KedaActivation = field(init=False)
    controller: HpaController = field(init=False)

    def __post_init__(self) -> None:
        self.activation = KedaActivation(self.min_replicas, self.activation_threshold, self.cooldown_seconds)
        self.controller = HpaController(max(1, self.min_replicas), self.max_replicas, self.behavior)

    def initial_replicas(self) -> int:
        return self.min_replicas

    def warm(self, now: float, replicas: int) -> None:
        """Start from a fleet that has been serving: the HPA's first look at the target
        (``recordInitialRecommendation``) and, with replicas running, KEDA's ``lastActiveTime``.

        A ScaledObject that was never active is scaled in after ``initialCooldownPeriod`` (default
        0) instead; the simulated fleet's metrics only become visible after the pipeline delay, so
        without this the first poll would read a warm, loaded fleet as never active.
        """
        self.controller.record_initial_recommendation(now, replicas)
        if replicas > 0:
            self.activation.last_active = now

    def _value(self, sim, metric: str) -> float | None:
        if self.signal == "gateway" and metric == "queue":
            return sim.gateway_value(0)
        values = [pod.value for pod in sim.pod_samples(metric) if pod.value is not None]
        return sum(values) / 1000 if values else None

    def tick(self, now: float, sim) -> int | None:
        usages = [self._value(sim, metric) for metric, _ in self.metrics]
        if self.signal == "gateway":
            activation = sim.gateway_value(1) or 0.0
        else:
            activation = max((u for u in usages if u is not None), default=0.0)
        override = self.activation.poll(now, sim.spec, activation)
        if override is not None:
            return override
        if sim.spec == 0:
            return None
        tolerances = Tolerances(self.tolerance, self.tolerance)
        proposals = [
            None if usage is None else external_per_pod_replicas(usage, target, sim.status_replicas(), tolerances)
            for usage, (_, target) in zip(usages, self.metrics, strict=True)
        ]
        return self.controller.reconcile(now, sim.spec, proposals)


@dataclass
class ScheduleScaler:
    """Replicas from a precomputed schedule: ``replicas[i]`` from ``times[i]`` on (the oracle limit)."""

    name: str
    times: list[float]
    replicas: list[int]
    period: float = 15.0

    def initial_replicas(self) -> int:
        return self.replicas[0] if self.replicas else 0

    def tick(self, now: float, sim) -> int | None:
        index = bisect.bisect_right(self.times, now) - 1
        return self.replicas[max(index, 0)]
