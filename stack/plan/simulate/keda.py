"""KEDA's scale executor for a ScaledObject (kedacore/keda ``pkg/scaling/executor/scale_scaledobjects.go``
``RequestScale``, ``scaleToZeroOrIdle``, ``scaleFromZeroOrIdle``).

KEDA itself moves a ScaledObject between 0 (or ``idleReplicaCount``) and its minimum; from there
the HPA it creates does the work (minReplicas = max(1, minReplicaCount), External metrics with
AverageValue targets).

* every ``pollingInterval``: the target is *active* if any trigger's value exceeds its
  ``activationThreshold``; an active target at 0 replicas (or below the minimum in idle mode) goes
  to ``max(1, minReplicaCount)`` and ``lastActiveTime`` is set; an active target above 0 only
  refreshes ``lastActiveTime``;
* an inactive target above 0 with minReplicaCount 0 (or above ``idleReplicaCount``) goes to
  ``idleReplicaCount`` or ``minReplicaCount`` once ``lastActiveTime + cooldownPeriod`` has passed
  or, if it was **never active**, once ``creationTimestamp + initialCooldownPeriod`` has passed
  (``initialCooldownPeriod`` default 0: straight away);
* an inactive target below ``minReplicaCount`` (no idle mode) is set to the minimum.

Not modelled: the pause-scale-in/out and force-activation annotations, ``fallback`` on trigger
errors (``docs/simulator.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_COOLDOWN_SECONDS = 300.0
"""``defaultCooldownPeriod`` (keda ``pkg/scaling/executor/scale_executor.go``)."""
DEFAULT_INITIAL_COOLDOWN_SECONDS = 0.0
"""``defaultInitialCooldownPeriod`` (same file)."""


@dataclass
class KedaActivation:
    """The part of KEDA's executor that handles 0 (or idle) ↔ the minimum."""

    min_replicas: int
    activation_threshold: float
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS
    initial_cooldown_seconds: float = DEFAULT_INITIAL_COOLDOWN_SECONDS
    idle_replicas: int | None = None
    created: float = 0.0
    """``creationTimestamp`` of the ScaledObject."""
    last_active: float | None = None
    """``status.lastActiveTime``; None until a trigger has been active."""

    def request_scale(self, now: float, current: int, active: bool) -> int | None:
        """``RequestScale``: the replicas KEDA sets, or None to leave the target to the HPA.

        Args:
            now: seconds on the simulator's clock.
            current: spec.replicas of the target.
            active: any trigger is above its activation threshold.
        """
        idle = self.idle_replicas
        if active:
            self.last_active = now
            if (idle is not None and current < self.min_replicas) or current == 0:
                return self.min_replicas if self.min_replicas > 0 else 1  # scaleFromZeroOrIdle
            return None
        if (idle is not None and current > idle) or (current > 0 and self.min_replicas == 0):
            if self._cooled_down(now):  # scaleToZeroOrIdle
                return idle if idle is not None else self.min_replicas
            return None
        if idle is None and current < self.min_replicas:
            return self.min_replicas
        return None

    def _cooled_down(self, now: float) -> bool:
        if self.last_active is None:
            return self.created + self.initial_cooldown_seconds < now
        return self.last_active + self.cooldown_seconds < now

    def poll(self, now: float, current: int, value: float) -> int | None:
        """One poll with the activation metric ``value`` (active when above ``activation_threshold``)."""
        return self.request_scale(now, current, value > self.activation_threshold)
