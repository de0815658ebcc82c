"""Autoscalers as the simulator drives them: the HPA on per-pod metrics, KEDA, fixed replicas."""

from __future__ import annotations

from dataclasses import dataclass, field

from stack.simulate.behavior import HpaBehavior
from stack.simulate.hpa import HpaController, NoMetrics, PodSample, external_per_pod_replicas, plain_metric_replicas
from stack.simulate.keda import KedaActivation


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
    """An autoscaling/v2 HPA with Pods metrics (AverageValue) or a CPU Resource metric (Utilization)."""

    name: str
    metrics: list[tuple[str, float]]
    """(metric, per-pod target); metric is queue, running, kvCache, gpuDutyCycle or cpu."""
    min_replicas: int
    max_replicas: int
    behavior: HpaBehavior
    tolerance: float = 0.1
    period: float = 15.0
    controller: HpaController = field(init=False)

    def __post_init__(self) -> None:
        self.controller = HpaController(self.min_replicas, self.max_replicas, self.behavior)

    def initial_replicas(self) -> int:
        return self.min_replicas

    def warm(self, now: float, replicas: int) -> None:
        """Start in steady state: the controller has been recommending ``replicas``."""
        self.controller.recommendations.append((now, replicas))

    def tick(self, now: float, sim) -> int | None:
        proposals: list[int | None] = []
        for metric, target in self.metrics:
            pods = [PodSample(pending, ready, value) for pending, ready, value in sim.pod_samples(metric)]
            try:
                proposals.append(plain_metric_replicas(pods, sim.spec, target, self.tolerance, cpu=metric == "cpu"))
            except NoMetrics:
                proposals.append(None)
        return self.controller.reconcile(now, sim.spec, proposals)


@dataclass
class KedaScaler:
    """A KEDA ScaledObject: KEDA handles 0 ↔ 1 on in-flight requests (a gateway-side query that
    exists at zero replicas; assumption), its HPA (External, AverageValue) handles 1 ↔ max."""

    name: str
    metrics: list[tuple[str, float]]
    min_replicas: int
    max_replicas: int
    activation_threshold: float
    cooldown_seconds: float
    behavior: HpaBehavior
    tolerance: float = 0.1
    period: float = 15.0
    activation: KedaActivation = field(init=False)
    controller: HpaController = field(init=False)

    def __post_init__(self) -> None:
        self.activation = KedaActivation(self.min_replicas, self.activation_threshold, self.cooldown_seconds)
        self.controller = HpaController(max(1, self.min_replicas), self.max_replicas, self.behavior)

    def initial_replicas(self) -> int:
        return self.min_replicas

    def warm(self, now: float, replicas: int) -> None:
        """Start in steady state: the HPA has been recommending ``replicas``."""
        self.controller.recommendations.append((now, replicas))

    def tick(self, now: float, sim) -> int | None:
        in_flight = sim.gateway_value(1) or 0.0
        override = self.activation.poll(now, sim.spec, in_flight)
        if override is not None:
            return override
        if sim.spec == 0:
            return None
        proposals: list[int | None] = []
        for metric, target in self.metrics:
            if metric == "queue":
                usage = sim.gateway_value(0)
            else:
                values = [v for _, _, v in sim.pod_samples(metric) if v is not None]
                usage = sum(values) if values else None
            proposals.append(None if usage is None else external_per_pod_replicas(usage, target, sim.status_replicas(), self.tolerance))
        return self.controller.reconcile(now, sim.spec, proposals)
