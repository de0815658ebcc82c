"""HPA ``behavior``: scaling rules, Kubernetes' defaults, and this stack's derived defaults.

``default_behavior(config, cold_start_seconds)`` is the single derivation of the behavior block the
stack renders; ``workloads/`` receives its ``to_manifest()`` as plain values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

SelectPolicy = Literal["Max", "Min", "Disabled"]

DEFAULT_SCALE_DOWN_WINDOW_SECONDS = 300
"""Kubernetes' default scale-down stabilization (kube-controller-manager
--horizontal-pod-autoscaler-downscale-stabilization, and the v2 API default)."""
SCALE_DOWN_POD_PERIOD_SECONDS = 60
"""One pod per minute on the way down (anchors §9.5: "scaleDown 300 s with a 1-pod/60 s policy")."""
SCALE_UP_PERIOD_SECONDS = 15
"""One HPA sync: pods that are still starting report no metric and count as 0 on a scale-up, so
a longer period would only delay the next step."""


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


DEFAULT_SCALE_UP_RULES = ScalingRules(0, (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15)), "Max")
"""``defaultHPAScaleUpRules`` (kubernetes ``pkg/apis/autoscaling/v2/defaults.go``): no stabilization,
4 pods or 100 % per 15 s, selectPolicy Max."""
DEFAULT_SCALE_DOWN_RULES = ScalingRules(None, (ScalingPolicy("Percent", 100, 15),), "Max")
"""``defaultHPAScaleDownRules`` (same file): 100 % per 15 s, selectPolicy Max; the stabilization
window is left nil, so the controller's ``--horizontal-pod-autoscaler-downscale-stabilization``
(default 5 min) applies."""


def _fill(rules: ScalingRules | None, defaults: ScalingRules) -> ScalingRules:
    """``copyHPAScalingRules``: the fields ``rules`` sets, the defaults for the rest."""
    if rules is None:
        return defaults
    return ScalingRules(
        defaults.stabilization_window_seconds
        if rules.stabilization_window_seconds is None
        else rules.stabilization_window_seconds,
        rules.policies or defaults.policies,
        rules.select_policy,
    )


def generate_scale_up_rules(rules: ScalingRules | None) -> ScalingRules:
    """``GenerateHPAScaleUpRules`` (defaults.go): ``rules`` completed with the v2 scale-up defaults."""
    return _fill(rules, DEFAULT_SCALE_UP_RULES)


def generate_scale_down_rules(rules: ScalingRules | None) -> ScalingRules:
    """``GenerateHPAScaleDownRules`` (defaults.go): ``rules`` completed with the v2 scale-down defaults."""
    return _fill(rules, DEFAULT_SCALE_DOWN_RULES)


KUBERNETES_DEFAULT_BEHAVIOR = HpaBehavior(DEFAULT_SCALE_UP_RULES, DEFAULT_SCALE_DOWN_RULES)
"""What an HPA *with* a ``behavior`` block that sets nothing is defaulted to
(``SetDefaults_HorizontalPodAutoscalerBehavior``). An HPA *without* a behavior block keeps
``behavior: nil`` and runs the controller's legacy path instead (``HpaController(behavior=None)``)."""


def _round_up(seconds: float, step: int) -> int:
    return int(math.ceil(seconds / step) * step)


def default_behavior(config: Any, cold_start_seconds: float) -> HpaBehavior:
    """The stack's HPA behavior: fast scale-up, slow scale-down, from the replica cold start.

    * scaleUp: no stabilization; Pods ``ceil(maxReplicas / 2)`` and Percent 100 per 15 s, selectPolicy
      Max (reach the maximum in two steps).
    * scaleDown: stabilization ``max(300, cold start rounded up to 15 s)``: capacity that took a
      cold start to get is not given back before the same time has passed; then one pod per 60 s.

    ``config.autoscaling.behavior`` fields override each derived value.

    Args:
        config: the StackConfig (only ``autoscaling`` is read).
        cold_start_seconds: ``estimate_cold_start(config).total_seconds``.
    """
    scaling = config.autoscaling
    override = scaling.behavior
    up_period = override.scale_up_period_seconds or SCALE_UP_PERIOD_SECONDS
    up_window = override.scale_up_stabilization_seconds
    down_window = override.scale_down_stabilization_seconds
    return HpaBehavior(
        scale_up=ScalingRules(
            0 if up_window is None else up_window,
            (
                ScalingPolicy("Pods", override.scale_up_pods or max(1, math.ceil(scaling.max_replicas / 2)), up_period),
                ScalingPolicy("Percent", override.scale_up_percent or 100, up_period),
            ),
            "Max",
        ),
        scale_down=ScalingRules(
            down_window
            if down_window is not None
            else max(DEFAULT_SCALE_DOWN_WINDOW_SECONDS, _round_up(cold_start_seconds, 15)),
            (ScalingPolicy("Pods", 1, override.scale_down_period_seconds or SCALE_DOWN_POD_PERIOD_SECONDS),),
            "Max",
        ),
    )
