"""Autoscaling simulator: the Kubernetes HPA algorithm, KEDA scale-to-zero, and a discrete-event
model of the vLLM fleet (arrivals, per-replica batching, metrics delay, cold starts, GPU nodes).

``default_behavior`` (``stack.plan.simulate.behavior``) is the one place the stack's HPA ``behavior``
defaults are derived; the autoscaling component renders what it returns.
"""

from stack.plan.simulate.behavior import (
    KUBERNETES_DEFAULT_BEHAVIOR,
    HpaBehavior,
    ScalingPolicy,
    ScalingRules,
    default_behavior,
)

__all__ = ["KUBERNETES_DEFAULT_BEHAVIOR", "HpaBehavior", "ScalingPolicy", "ScalingRules", "default_behavior"]
