"""One answer for the minimum and maximum replicas (StackConfig.min_replicas / max_replicas), the same in the
program's objects, the cost estimate and the simulator; serving.replicas beside an autoscaler is refused when the
autoscaler can never run it, and warned about when it is ignored."""

from __future__ import annotations

import pytest

from stack.config import ConfigError
from stack.decisions import default_behavior
from stack.plan.estimate import estimate_cost
from stack.plan.simulate.presets import stack_scaler
from stack.render import load_stack_config, render_config


def answers(stack: str, *overrides: str) -> dict[str, object]:
    """Min/max replicas as the config, the estimate, the rendered objects and the simulator see them."""
    config = load_stack_config(stack, list(overrides))
    result = render_config(config, stack)
    kinds = {m["kind"]: m for m in result.manifests if m["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")}
    deployment = next(m for m in result.manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "vllm")
    scaler = stack_scaler(config, default_behavior(config, 300.0))
    hpa, scaled = kinds.get("HorizontalPodAutoscaler"), kinds.get("ScaledObject")
    return {
        "config": (config.min_replicas(), config.max_replicas()),
        "estimate": estimate_cost(config).replicas,
        "hpa": (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) if hpa else None,
        "keda": (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) if scaled else None,
        "deployment": deployment["spec"].get("replicas"),
        "simulator": (
            (scaler.replicas, scaler.replicas) if hasattr(scaler, "replicas")
            else (scaler.min_replicas, scaler.max_replicas)
        ),
        "warnings": [w for w in config.warnings() if "serving.replicas" in w],
    }


def test_dev_replicas_beyond_the_hpa_maximum_are_refused():
    """Before: estimate 3–3, program HPA 1–2 with a PDB for 3, no warning. Now the config refuses it."""
    with pytest.raises(ConfigError) as caught:
        load_stack_config("dev", ["serving.replicas=3"])
    assert caught.value.lines == [
        "platform.serving.replicas: 3 is outside the 1–2 replicas the hpa autoscaler runs, and ignored while "
        "autoscaling.mode is hpa; set autoscaling.minReplicas and autoscaling.maxReplicas instead (or "
        "autoscaling.mode: none for a fixed count), or drop serving.replicas"
    ]


def test_dev_replicas_inside_the_hpa_range_get_one_answer_and_a_warning():
    assert answers("dev", "serving.replicas=2") == {
        "config": (1, 2),
        "estimate": (1, 2),
        "hpa": (1, 2),
        "keda": None,
        "deployment": None,  # the HPA owns the count
        "simulator": (1, 2),
        "warnings": [
            "platform.serving.replicas: 2 is ignored while autoscaling.mode is hpa; the autoscaler runs 1–2 replicas "
            "(raise its minimum to keep more running)"
        ],
    }


def test_committed_stacks_answer_as_before():
    assert answers("dev")["config"] == answers("dev")["hpa"] == (1, 2)
    prod = answers("prod")
    assert prod["config"] == prod["estimate"] == prod["hpa"] == prod["simulator"] == (6, 10)
    assert prod["warnings"] == []


def test_keda_scale_to_zero():
    got = answers("dev", "autoscaling.mode=keda")
    assert (got["config"], got["estimate"], got["keda"]) == ((0, 2), (0, 2), (0, 2))
    assert got["simulator"] == (0, 2)
    assert got["warnings"] == [
        "platform.serving.replicas: 1 is ignored while autoscaling.mode is keda; the autoscaler runs 0–2 replicas "
        "(raise its minimum to keep more running)"
    ]


def test_fixed_count_without_autoscaler():
    # 3 fixed replicas beside dev's second model (qwen: 1 at most) need 4 nodes
    got = answers("dev", "autoscaling.mode=none", "serving.replicas=3", "gpuPools.l4-spot.autoscaling.maxNodes=4")
    assert (got["config"], got["estimate"], got["deployment"], got["simulator"]) == ((3, 3), (3, 3), 3, (3, 3))
    assert (got["hpa"], got["keda"], got["warnings"]) == (None, None, [])


def test_unset_replicas_never_warn(dev_raw):
    from stack.config import StackConfig

    del dev_raw["serving"]["replicas"]
    dev_raw["autoscaling"]["minReplicas"] = 2
    dev_raw["models"]["qwen"]["autoscaling"]["maxReplicas"] = 2  # qwen inherits the minimum
    dev_raw["gpuPools"]["l4-spot"]["autoscaling"]["maxNodes"] = 4  # both models' most replicas
    config = StackConfig.parse(dev_raw)
    assert (config.min_replicas(), config.max_replicas()) == (2, 2)
    assert [w for w in config.warnings() if "serving.replicas" in w] == []
