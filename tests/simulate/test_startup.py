"""Headroom (capacity buffers), Pod-snapshot starts and the two limits (static peak, oracle)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stack.config.planning import CapacityBufferPlan, PlanningConfig
from stack.plan.estimate import estimate_cold_start, resolve_throughput
from stack.plan.simulate.fleet import SUSPENDED, Simulation
from stack.plan.simulate.presets import compare, fleet_params, synthetic_requests
from stack.plan.simulate.scalers import FixedScaler, ScheduleScaler
from stack.plan.simulate.startup import Startup, stack_startup
from stack.plan.simulate.traffic import Requests
from stack.render import load_stack_config

NO_REQUESTS = Requests(np.array([]), np.array([], dtype=np.int64), np.array([], dtype=np.int64), "none")


@pytest.fixture(scope="module")
def dev():
    # one model on a 2-node pool (the simulator runs one model's fleet)
    config = load_stack_config("dev", ["models={}", "model.weights.backend=runaiStreamer",
                                       "gpuPools.l4-spot.autoscaling.maxNodes=2"])
    return config, resolve_throughput(config)


def _second_replica_ready(config, throughput, startup: Startup) -> tuple[float, Simulation]:
    """One warm replica; the spec goes to 2 at t=15. Returns when the second replica was Ready."""
    params = fleet_params(config, throughput, startup)
    sim = Simulation(params, ScheduleScaler("step", [0.0, 15.0], [1, 2]), NO_REQUESTS, 900, seed=1)
    sim.run()
    ready = sim.pods[1].ready_at
    assert ready is not None
    return ready, sim


def test_a_buffer_node_skips_node_create_and_driver_install(dev):
    config, throughput = dev
    new = estimate_cold_start(config, node="new")
    on_buffer = estimate_cold_start(config, node="activeBuffer")
    names = {t.name for t in on_buffer.terms}
    assert not names & {"cluster autoscaler", "GPU node create", "GPU driver install"}
    node = sum(t.seconds for t in new.terms if t.phase == "node")
    assert on_buffer.total_seconds == pytest.approx(new.total_seconds - node)
    # in the fleet: the replica on the buffer node is Ready after image pull + container start only
    plain, _ = _second_replica_ready(config, throughput, Startup())
    buffered, _ = _second_replica_ready(config, throughput, Startup(1, "active"))
    params = fleet_params(config, throughput)
    assert buffered == pytest.approx(15.0 + params.image_seconds + params.container_seconds(1))
    assert plain == pytest.approx(buffered + params.node_seconds)


def test_a_standby_node_is_resumed_and_not_billed_while_suspended(dev):
    config, throughput = dev
    resume = estimate_cold_start(config, node="standbyBuffer").terms[0]
    assert resume.name == "standby node resume" and resume.seconds == 60.0 and resume.source.startswith("assumption")
    ready, _ = _second_replica_ready(config, throughput, Startup(1, "standby"))
    params = fleet_params(config, throughput)
    assert ready == pytest.approx(15.0 + 60.0 + params.image_seconds + params.container_seconds(1))
    # one replica all along: the suspended buffer node adds no GPU-hours, an active one a full node
    one = fleet_params(config, throughput, Startup(1, "standby"))
    standby = Simulation(one, FixedScaler("one", 1), NO_REQUESTS, 3600, seed=1)
    result = standby.run()
    assert [g.state for g in standby.groups] == [3, SUSPENDED] and result.gpu_hours == pytest.approx(1.0)
    active = Simulation(fleet_params(config, throughput, Startup(1, "active")), FixedScaler("one", 1), NO_REQUESTS,
                        3600, seed=1).run()  # fmt: skip
    assert active.gpu_hours == pytest.approx(2.0)


def test_measured_standby_resume_replaces_the_assumption():
    config = load_stack_config("prod", ["planning.coldStart.standbyResumeSeconds=25"])
    term = estimate_cold_start(config, node="standbyBuffer").terms[0]
    assert term.seconds == 25.0 and term.source == "planning.coldStart.standbyResumeSeconds"


def test_the_buffer_is_refilled_after_a_replica_takes_it(dev):
    config, throughput = dev  # l4-spot pool: at most 2 nodes
    _, sim = _second_replica_ready(config, throughput, Startup(1, "active"))
    # warm node + buffer node (taken by the second replica); the pool maximum leaves no room to refill
    assert len(sim.groups) == 2 and all(g.pods for g in sim.groups)
    roomy = load_stack_config(
        "dev", ["models={}", "model.weights.backend=runaiStreamer", "gpuPools.l4-spot.autoscaling.maxNodes=4"]
    )
    _, sim = _second_replica_ready(roomy, throughput, Startup(1, "active"))
    refill = sim.groups[2]
    assert refill.for_buffer and not refill.pods and refill.created == pytest.approx(20.0)  # next CA scan


def test_snapshots_restore_in_the_documented_time_and_are_refused_where_they_cannot_work(dev):
    config, throughput = dev
    restored = estimate_cold_start(config, node="warm", snapshot=True)
    assert restored.term("Pod snapshot restore").seconds == 15.0  # L4: llm-d PR #1902
    ready, _ = _second_replica_ready(config, throughput, Startup(1, "active", snapshots=True))
    assert ready == pytest.approx(15.0 + 15.0)
    h100 = load_stack_config(
        "prod",
        ["gpuPools.h100.machineType=a3-highgpu-1g", "gpuPools.h100-spot.machineType=a3-highgpu-1g",
         "serving.vllm.tensorParallelSize=1", "model.parametersBillions=8", "model.weights.backend=runaiStreamer"],
    )  # fmt: skip
    assert estimate_cold_start(h100, snapshot=True).term("Pod snapshot restore").seconds == 18.0


def test_stack_preset_follows_the_planning_knob_and_a_future_stack_setting():
    config = load_stack_config("prod", ["planning.simulation.capacityBuffer.replicas=1"])
    assert stack_startup(config) == Startup(1, "active", False)
    wired = SimpleNamespace(
        serving=SimpleNamespace(capacity_buffer=CapacityBufferPlan(replicas=3, strategy="standby"),
                                pod_snapshots=SimpleNamespace(enabled=True)),
        planning=PlanningConfig(),
    )  # fmt: skip
    assert stack_startup(wired) == Startup(3, "standby", True)


@pytest.fixture(scope="module")
def prod_comparisons():
    config = load_stack_config("prod", ["planning.simulation.capacityBuffer.replicas=1"])
    throughput = resolve_throughput(config)
    out = {}
    for pattern in ("diurnal", "burst"):
        requests = synthetic_requests(config, throughput, pattern, 3600, seed=7)
        out[pattern] = compare(config, requests, 3600, seed=7)
    return config, out


@pytest.mark.parametrize("pattern", ["diurnal", "burst"])
def test_the_oracle_beats_every_preset_and_static_peak_serves_all_at_max_gpu_hours(prod_comparisons, pattern):
    config, comparisons = prod_comparisons
    comparison = comparisons[pattern]
    static, oracle = comparison.limits()
    assert static.name == "limit: static peak (10 replicas)" and oracle.name.startswith("limit: oracle")
    assert static.attainment >= 0.999
    assert static.gpu_hours == pytest.approx(config.max_replicas() * config.gpus_per_replica())  # one hour
    presets = comparison.ranked()
    assert presets[0].name != oracle.name and all(oracle.attainment >= r.attainment for r in presets)
    assert oracle.gpu_hours < static.gpu_hours
    stack = comparison.results[0]
    assert stack.name.endswith(" + active buffer 1") and comparison.startups[stack.name] == Startup(1, "active")
