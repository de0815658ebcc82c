"""The HPA algorithm against the Kubernetes docs' worked examples and the controller's rules."""

from __future__ import annotations

import pytest

from stack.plan.simulate.behavior import (
    KUBERNETES_DEFAULT_BEHAVIOR,
    HpaBehavior,
    ScalingPolicy,
    ScalingRules,
    default_behavior,
)
from stack.plan.simulate.hpa import HpaController, PodSample, plain_metric_replicas
from stack.plan.simulate.keda import KedaActivation
from stack.render import load_stack_config


def test_simulator_pods_pending_count_zero_on_a_scale_up():
    """Divergence (a): two Pending pods beside two busy ones; upstream counts them as 0 on the way up."""
    busy = [PodSample(value=30_000), PodSample(value=30_000)]
    pending = [PodSample(phase="Pending", value=None)] * 2
    # ratio 3.0 over the ready pods; with the Pending pods at 0: [30, 30, 0, 0] → 1.5 × 4 = 6
    assert plain_metric_replicas(busy + pending, 4, 10_000, 0.0) == (6, 30_000)
    # ... and a flip keeps the count: [12, 12, 0, 0] averages 0.6 of the target, so no scale-down
    assert plain_metric_replicas([PodSample(value=12_000)] * 2 + pending, 4, 10_000, 0.0)[0] == 4


# -- controller: min/max, several metrics ------------------------------------------------------


def test_min_and_max_replicas():
    hpa = HpaController(2, 10, KUBERNETES_DEFAULT_BEHAVIOR)
    assert hpa.reconcile(0, 12, [3]) == 10  # above max: pulled to max first
    assert HpaController(2, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 1, [5]) == 2
    assert HpaController(2, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 8, [50]) == 10


def test_largest_metric_wins_and_failed_metrics_block_scale_down():
    assert HpaController(1, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 3, [2, 6]) == 6
    assert HpaController(1, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 3, [None, 1]) == 3
    assert HpaController(1, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 3, [None, 5]) == 5
    assert HpaController(1, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 3, [None, None]) == 3


def test_zero_replicas_with_nonzero_min_disables_autoscaling():
    assert HpaController(1, 10, KUBERNETES_DEFAULT_BEHAVIOR).reconcile(0, 0, [5]) == 0


# -- stabilization windows ---------------------------------------------------------------------


def _run(hpa: HpaController, current: int, desired_by_time: dict[int, int], until: int) -> dict[int, int]:
    seen = {}
    desired = None
    for now in range(0, until + 1, 15):
        desired = desired_by_time.get(now, desired)
        current = hpa.reconcile(now, current, [desired])
        seen[now] = current
    return seen


def test_scale_down_uses_the_highest_recommendation_in_the_window():
    behavior = HpaBehavior(
        KUBERNETES_DEFAULT_BEHAVIOR.scale_up, ScalingRules(300, (ScalingPolicy("Percent", 100, 15),))
    )
    seen = _run(HpaController(1, 20, behavior), 10, {0: 10, 15: 4}, 330)
    assert seen[285] == 10
    assert seen[300] == 4  # the t=0 recommendation (10) has left the 300 s window


def test_scale_up_uses_the_lowest_recommendation_in_the_window():
    behavior = HpaBehavior(
        ScalingRules(60, (ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15))),
        KUBERNETES_DEFAULT_BEHAVIOR.scale_down,
    )
    seen = _run(HpaController(1, 20, behavior), 2, {0: 2, 15: 6}, 90)
    assert seen[45] == 2
    assert seen[60] == 6


# -- policies ----------------------------------------------------------------------------------


def _down(select: str) -> HpaBehavior:
    rules = ScalingRules(0, (ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60)), select)  # type: ignore[arg-type]
    return HpaBehavior(KUBERNETES_DEFAULT_BEHAVIOR.scale_up, rules)


def test_docs_example_4_pods_or_10_percent_per_minute():
    # "if there are 80 replicas and the target has to be scaled down to 10 replicas then during the
    # first step 8 replicas will be reduced. In the next iteration when the number of replicas is
    # 72, 10% of the pods is 7.2 but the number is rounded up to 8."
    seen = _run(HpaController(1, 100, _down("Max")), 80, {0: 10}, 120)
    assert seen[0] == 72
    assert seen[15] == 72 and seen[45] == 72  # within the 60 s period
    assert seen[60] == 64
    assert seen[120] == 57  # int(64 × 0.9) = 57 beats 64 − 4


def test_percent_applies_only_above_40_replicas():
    seen = _run(HpaController(1, 100, _down("Max")), 30, {0: 10}, 60)
    assert seen[0] == 26  # 4 pods > 10 % of 30


def test_select_policy_min_takes_the_smallest_change():
    seen = _run(HpaController(1, 100, _down("Min")), 80, {0: 10}, 60)
    assert seen[0] == 76


def test_select_policy_disabled():
    seen = _run(HpaController(1, 100, _down("Disabled")), 80, {0: 10}, 120)
    assert set(seen.values()) == {80}


def test_default_scale_up_doubles_or_adds_four_every_15_seconds():
    seen = _run(HpaController(1, 100, KUBERNETES_DEFAULT_BEHAVIOR), 1, {0: 40}, 60)
    assert [seen[t] for t in (0, 15, 30, 45)] == [5, 10, 20, 40]


def test_no_behavior_scales_up_at_most_double_or_four_per_sync():
    """Divergence (b): without a behavior block, ``normalizeDesiredReplicas`` caps at max(2 × current, 4)."""
    seen = _run(HpaController(1, 100, None), 1, {0: 40}, 60)
    assert [seen[t] for t in (0, 15, 30, 45, 60)] == [4, 8, 16, 32, 40]


def test_no_behavior_scales_down_after_five_minutes_all_at_once():
    seen = _run(HpaController(1, 100, None), 10, {0: 10, 15: 2}, 330)
    # stabilizeRecommendation keeps a recommendation exactly 300 s old (``Before(cutoff)`` is strict)
    assert seen[300] == 10 and seen[315] == 2


def test_default_scale_down_drops_everything_after_five_minutes():
    seen = _run(HpaController(1, 100, KUBERNETES_DEFAULT_BEHAVIOR), 10, {0: 10, 15: 2}, 315)
    assert seen[285] == 10 and seen[300] == 2


# -- this stack's behavior ---------------------------------------------------------------------


def test_default_behavior_for_prod():
    config = load_stack_config("prod")
    behavior = default_behavior(config, 384.4)
    assert behavior.to_manifest() == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 5, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 390,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }
    assert default_behavior(config, 100).scale_down.stabilization_window_seconds == 300


def test_default_behavior_honours_overrides():
    config = load_stack_config(
        "prod",
        [
            "autoscaling.behavior.scaleDownStabilizationSeconds=900",
            "autoscaling.behavior.scaleUpPods=2",
            "autoscaling.behavior.scaleUpPeriodSeconds=60",
            "autoscaling.behavior.scaleDownPeriodSeconds=120",
            "autoscaling.behavior.scaleUpStabilizationSeconds=30",
        ],
    )
    behavior = default_behavior(config, 384.4)
    assert behavior.scale_down.stabilization_window_seconds == 900
    assert behavior.scale_down.policies == (ScalingPolicy("Pods", 1, 120),)
    assert behavior.scale_up == ScalingRules(
        30, (ScalingPolicy("Pods", 2, 60), ScalingPolicy("Percent", 100, 60)), "Max"
    )


def test_default_behavior_scales_down_one_pod_per_minute():
    behavior = default_behavior(load_stack_config("prod"), 384.4)
    hpa = HpaController(2, 10, behavior)
    seen = _run(hpa, 10, {0: 10, 15: 2}, 900)
    assert seen[375] == 10 and seen[390] == 9  # window 390 s, then one pod
    assert seen[435] == 9 and seen[450] == 8  # one per 60 s
    assert seen[840] == 2


# -- KEDA -------------------------------------------------------------------------------------


def test_keda_activates_from_zero_and_cools_down_to_zero():
    keda = KedaActivation(min_replicas=0, activation_threshold=0.5, cooldown_seconds=900)
    assert keda.poll(0, 0, 0.4) is None  # below the activation threshold, already at 0
    assert keda.poll(15, 0, 3) == 1
    assert keda.poll(30, 1, 0) is None  # inactive since 15 s: cooldown runs
    assert keda.poll(915, 1, 0) is None  # 15 + 900 is not yet passed
    assert keda.poll(930, 1, 0) == 0


def test_keda_never_active_scales_in_after_the_initial_cooldown():
    """Divergence (e): no lastActiveTime yet, so ``creationTimestamp + initialCooldownPeriod`` counts."""
    assert KedaActivation(0, 0.5, cooldown_seconds=900).poll(15, 3, 0) == 0  # default initialCooldownPeriod 0
    keda = KedaActivation(0, 0.5, cooldown_seconds=900, initial_cooldown_seconds=120, created=10)
    assert keda.poll(130, 3, 0) is None  # 10 + 120 not yet passed
    assert keda.poll(145, 3, 0) == 0


def test_keda_with_a_minimum_never_goes_to_zero():
    keda = KedaActivation(min_replicas=2, activation_threshold=0.5, cooldown_seconds=60)
    assert keda.poll(1000, 2, 0) is None
    assert keda.poll(1015, 0, 5) == 2


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_behavior_passes_the_autoscaling_components_checks(stack):
    from stack.plan.estimate import estimate_cold_start
    from workloads.autoscaling import validate_behavior

    config = load_stack_config(stack)
    manifest = default_behavior(config, estimate_cold_start(config).total_seconds).to_manifest()
    assert validate_behavior(manifest) == manifest
