"""HPA ``behavior`` as typed values (autoscaling/v2 ``HorizontalPodAutoscalerBehavior``).

The stack derives its behavior once (``stack/decisions.py:default_behavior``) and the autoscaling
components receive ``HpaBehavior.to_manifest()``; the simulator (``stack/plan/simulate/``) runs the same
values through its model of the HPA controller. Moved here unchanged from ``stack/plan/simulate/behavior.py``,
which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SelectPolicy = Literal["Max", "Min", "Disabled"]


@dataclass(frozen=True)
class ScalingPolicy:
    """``HPAScalingPolicy``: change at most ``value`` pods (or percent) per ``period_seconds``."""

    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int

    def to_manifest(self) -> dict[str, Any]:
        return {"type": self.type, "value": self.value, "periodSeconds": self.period_seconds}


@dataclass(frozen=True)
class ScalingRules:
    """``HPAScalingRules`` for one direction.

    ``stabilization_window_seconds`` None is the API's nil: the controller uses its
    ``--horizontal-pod-autoscaler-downscale-stabilization`` (horizontal.go
    ``maybeInitScaleDownStabilizationWindow``). Empty ``policies`` is the API's nil: defaulting fills
    them in (``generate_scale_up_rules`` / ``generate_scale_down_rules``).
    """

    stabilization_window_seconds: int | None
    policies: tuple[ScalingPolicy, ...]
    select_policy: SelectPolicy = "Max"

    def to_manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.stabilization_window_seconds is not None:
            out["stabilizationWindowSeconds"] = self.stabilization_window_seconds
        out["selectPolicy"] = self.select_policy
        out["policies"] = [p.to_manifest() for p in self.policies]
        return out


@dataclass(frozen=True)
class HpaBehavior:
    """``HorizontalPodAutoscalerBehavior``."""

    scale_up: ScalingRules
    scale_down: ScalingRules

    def to_manifest(self) -> dict[str, Any]:
        """The ``spec.behavior`` object of an autoscaling/v2 HorizontalPodAutoscaler."""
        return {"scaleUp": self.scale_up.to_manifest(), "scaleDown": self.scale_down.to_manifest()}
