"""HPA ``behavior`` in the simulator: Kubernetes' defaults and how the controller completes a behavior block.

The behavior types live in ``workloads/hpa_behavior.py`` and the stack's derived defaults
(``default_behavior``) in ``stack/decisions.py``, which the deployed program reads without importing
the simulator; both are re-exported here for the simulator and its callers.
"""

from __future__ import annotations

from stack.decisions import (
    DEFAULT_SCALE_DOWN_WINDOW_SECONDS,
    SCALE_DOWN_POD_PERIOD_SECONDS,
    SCALE_UP_PERIOD_SECONDS,
    default_behavior,
)
from workloads.hpa_behavior import HpaBehavior, ScalingPolicy, ScalingRules, SelectPolicy

__all__ = [
    "DEFAULT_SCALE_DOWN_RULES", "DEFAULT_SCALE_DOWN_WINDOW_SECONDS", "DEFAULT_SCALE_UP_RULES",
    "KUBERNETES_DEFAULT_BEHAVIOR", "SCALE_DOWN_POD_PERIOD_SECONDS", "SCALE_UP_PERIOD_SECONDS", "HpaBehavior",
    "ScalingPolicy", "ScalingRules", "SelectPolicy", "default_behavior", "generate_scale_down_rules",
    "generate_scale_up_rules",
]  # fmt: skip

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
