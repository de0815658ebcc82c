"""KEDA's scale-to-zero logic (keda ``pkg/scaling/executor/scale_scaledobjects.go``).

KEDA itself moves a ScaledObject between 0 and its first replica; from 1 up the HPA it creates does
the work (minReplicas = max(1, minReplicaCount), External metrics with AverageValue targets).

* every ``pollingInterval``: the target is *active* if any trigger's value exceeds its
  ``activationThreshold``; an active target at 0 replicas goes to max(1, minReplicaCount);
* an inactive target with minReplicaCount 0 goes to 0 once ``lastActiveTime + cooldownPeriod`` has
  passed (the cooldown counts from the last active poll, and from creation before any).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KedaActivation:
    """The part of KEDA's executor that handles 0 ↔ 1."""

    min_replicas: int
    activation_threshold: float
    cooldown_seconds: float
    last_active: float = 0.0

    def poll(self, now: float, current: int, value: float) -> int | None:
        """One poll: the replicas KEDA sets, or None to leave scaling to the HPA.

        Args:
            now: seconds on the simulator's clock.
            current: spec.replicas of the target.
            value: the activation metric as KEDA reads it.
        """
        active = value > self.activation_threshold
        if active:
            self.last_active = now
            if current == 0:
                return max(1, self.min_replicas)
            return None
        if current > 0 and self.min_replicas == 0 and self.last_active + self.cooldown_seconds < now:
            return 0
        if current < self.min_replicas:
            return self.min_replicas
        return None
