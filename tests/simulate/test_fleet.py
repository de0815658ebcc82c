"""The fleet simulation: service model, cold starts, node provisioning, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stack.plan.estimate import estimate_cold_start, resolve_throughput
from stack.plan.simulate.behavior import KUBERNETES_DEFAULT_BEHAVIOR
from stack.plan.simulate.fleet import Simulation
from stack.plan.simulate.presets import compare, fleet_params, synthetic_requests, warm_replicas
from stack.plan.simulate.scalers import FixedScaler, HpaScaler
from stack.plan.simulate.traffic import Requests, TraceError, generate, load_trace
from stack.render import load_stack_config


def _requests(times, out=256, inp=1024) -> Requests:
    n = len(times)
    return Requests(np.asarray(times, float), np.full(n, inp), np.full(n, out), "test")


@pytest.fixture(scope="module")
def dev():
    config = load_stack_config("dev")
    return config, resolve_throughput(config)


def test_one_request_alone_decodes_at_the_single_stream_step(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    sim = Simulation(params, FixedScaler("fixed", 1), _requests([1.0]), 600, seed=1)
    result = sim.run()
    t0, t1 = throughput.step_seconds()
    assert sim.finish[0] == pytest.approx(1.0 + 256 * (t0 + t1))
    assert result.attainment == 1.0 and result.p95_wait == 0.0


def test_a_full_batch_runs_at_the_rated_throughput(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    batch = throughput.concurrency
    sim = Simulation(params, FixedScaler("fixed", 1), _requests([0.0] * batch), 600, seed=1)
    sim.run()
    # `concurrency` requests of 256 tokens each, all in one batch: 256 steps of t0 + C·t1.
    assert max(sim.finish) == pytest.approx(batch * 256 / throughput.output_tokens_per_second)


def test_requests_beyond_the_batch_wait_in_the_replica_queue(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    batch = throughput.concurrency
    sim = Simulation(params, FixedScaler("fixed", 1), _requests([0.0] * (batch + 1)), 600, seed=1)
    result = sim.run()
    first_batch_done = batch * 256 / throughput.output_tokens_per_second
    assert sim.start[batch] == pytest.approx(first_batch_done)
    assert result.unserved == 0


def test_scale_up_replica_is_ready_after_node_image_and_container_start(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    # 2× the fleet's capacity from t=0. The scrape at 0 s sees an empty queue; the one at 15 s
    # sees it grow and is visible 30 s later, at the HPA sync of 45 s.
    rate = 2 * throughput.output_tokens_per_second / 256
    times = np.arange(0, 900, 1 / rate)
    scaler = HpaScaler("hpa", [("queue", 5.0)], 1, 2, KUBERNETES_DEFAULT_BEHAVIOR)
    sim = Simulation(params, scaler, _requests(times), 900, seed=1)
    sim.run()
    second = sim.pods[1]
    cold = estimate_cold_start(config)
    assert second.created == 45.0
    # the dev pool is at its 1-node minimum: a new spot node, then the pull, weights and engine
    assert second.ready_at == pytest.approx(45.0 + cold.total_seconds)
    assert len(sim.groups) == 2


def test_pool_maximum_caps_the_fleet():
    # the config's own maxReplicas fits the one node; the scaler below asks for more than the pool holds
    config = load_stack_config("dev", ["models={}", "gpuPools.l4-spot.autoscaling.maxNodes=1",
                                       "autoscaling.maxReplicas=1"])
    throughput = resolve_throughput(config)
    params = fleet_params(config, throughput)
    times = np.arange(0, 600, 0.05)
    sim = Simulation(
        params, HpaScaler("hpa", [("queue", 5.0)], 1, 2, KUBERNETES_DEFAULT_BEHAVIOR), _requests(times), 600, seed=1
    )
    result = sim.run()
    assert result.max_replicas == 2  # the HPA asks for 2 …
    assert sum(1 for p in sim.pods if p.ready_at is not None) == 1  # … but only one node exists
    assert len(sim.groups) == 1


def test_empty_nodes_above_the_minimum_are_removed_after_ten_minutes(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    rate = 2 * throughput.output_tokens_per_second / 256
    times = np.arange(0, 300, 1 / rate)  # load for 5 minutes, then nothing
    scaler = HpaScaler("hpa", [("queue", 5.0)], 1, 2, KUBERNETES_DEFAULT_BEHAVIOR)
    sim = Simulation(params, scaler, _requests(times), 3600, seed=1)
    sim.run()
    extra = sim.groups[1]
    assert sim.pods[1].state == 5  # GONE: the HPA scaled back to 1
    assert extra.removed is not None
    assert extra.removed - extra.created > params.node_scale_down_seconds
    assert sim.groups[0].removed is None  # the pool minimum stays


def test_synthetic_patterns_are_seeded_and_shaped():
    a = generate("burst", base_rps=2, peak_rps=10, duration=3600, seed=7, input_tokens=10, output_tokens=20)
    b = generate("burst", base_rps=2, peak_rps=10, duration=3600, seed=7, input_tokens=10, output_tokens=20)
    c = generate("burst", base_rps=2, peak_rps=10, duration=3600, seed=8, input_tokens=10, output_tokens=20)
    assert np.array_equal(a.arrival, b.arrival) and not np.array_equal(a.arrival, c.arrival)
    in_burst = ((a.arrival >= 720) & (a.arrival < 1620)).sum() / 900
    outside = ((a.arrival < 720) | (a.arrival >= 1620)).sum() / 2700
    assert in_burst == pytest.approx(10, rel=0.1) and outside == pytest.approx(2, rel=0.1)
    poisson = generate("poisson", base_rps=2, peak_rps=10, duration=3600, seed=7, input_tokens=10, output_tokens=20)
    assert len(poisson) / 3600 == pytest.approx(6, rel=0.05)
    diurnal = generate("diurnal", base_rps=2, peak_rps=10, duration=3600, seed=7, input_tokens=10, output_tokens=20)
    assert (diurnal.arrival < 600).sum() < (abs(diurnal.arrival - 1800) < 300).sum() / 2


def test_trace_files(tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(r)
            for r in [{"timestamp": 1000.5, "prompt_tokens": 7}, {"timestamp": 1000.0, "output_tokens": 3}]
        )
    )
    trace = load_trace(jsonl, input_tokens=100, output_tokens=50)
    assert trace.arrival.tolist() == [0.0, 0.5]
    assert trace.input_tokens.tolist() == [100, 7] and trace.output_tokens.tolist() == [3, 50]
    csv = tmp_path / "t.csv"
    csv.write_text("t,input_tokens,output_tokens\n0,5,6\n2,7,8\n9,1,1\n")
    trace = load_trace(csv, input_tokens=100, output_tokens=50, duration=5)
    assert trace.arrival.tolist() == [0.0, 2.0] and trace.output_tokens.tolist() == [6, 8]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_tokens": 3}\n')
    with pytest.raises(TraceError, match="no arrival time"):
        load_trace(bad, input_tokens=1, output_tokens=1)


def test_warm_start_serves_the_first_minute_at_80_percent(dev):
    _config, throughput = dev
    per_replica = throughput.output_tokens_per_second / 256
    requests = _requests(np.linspace(0, 59.9, int(per_replica * 60 * 1.5)))
    assert warm_replicas(requests, throughput) == 2  # 1.5 replicas of load at 80 % → 2


def test_same_seed_same_numbers_and_presets_ranked():
    config = load_stack_config("prod")
    throughput = resolve_throughput(config)
    requests = synthetic_requests(config, throughput, "burst", 900, seed=3)
    first = compare(config, requests, 900, seed=3)
    second = compare(config, requests, 900, seed=3)
    assert [r.row() for r in first.results] == [r.row() for r in second.results]
    other = compare(config, synthetic_requests(config, throughput, "burst", 900, seed=4), 900, seed=4)
    assert [r.row() for r in other.results] != [r.row() for r in first.results]
    names = [r.name for r in first.results]
    assert names[0].startswith("stack: HPA running>120 + behavior + active buffer 1")
    assert names[3].startswith("KEDA min 0, pod-metric") and names[4].startswith("KEDA min 0, gateway")
    assert names[5:7] == [
        "HPA running>120 + behavior + active buffer 2",
        "HPA running>120 + behavior + standby buffer 2",
    ]
    assert names[7] == "limit: static peak (10 replicas)" and names[8].startswith("limit: oracle")
    assert len(names) == 9
    # TP=8: the snapshot variant is listed as not applicable, with the reason
    assert [n.name for n in first.not_applicable] == ["HPA running>120 + behavior + active buffer 1 + Pod snapshots"]
    assert "single-GPU pods only" in first.not_applicable[0].reason
    ranked = first.ranked()
    assert {r.name for r in ranked} == set(names[:7])  # the limits are not ranked
    keys = [(-round(r.attainment, 3), r.gpu_hours) for r in ranked]
    assert keys == sorted(keys)
    cpu = next(r for r in first.results if r.name.startswith("Helm-style"))
    assert cpu.max_replicas == 6 and cpu.scale_events == 0  # minReplicas 6; vLLM's CPU stays far below 80 %


def _keda(signal: str):
    from stack.plan.simulate.behavior import default_behavior
    from stack.plan.simulate.scalers import KedaScaler

    config = load_stack_config("dev")
    return KedaScaler(f"keda-{signal}", [("queue", 5.0)], 0, 2, 0.5, 900, default_behavior(config, 358), signal=signal)


def test_keda_on_pod_metrics_goes_to_zero_under_load_and_never_wakes(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    # one request every 2 s: the queue stays empty, so the queue trigger is inactive …
    times = np.arange(0, 3000, 2.0)
    sim = Simulation(params, _keda("pods"), _requests(times), 3000, seed=1, initial_replicas=1)
    result = sim.run()
    assert sim.pods[0].state == 5  # … and after the 900 s cooldown the replica is gone
    assert sim.spec == 0 and len(sim.pods) == 1  # nothing at zero replicas to wake it
    assert result.unserved > 0


def test_keda_on_a_gateway_signal_wakes_from_zero(dev):
    config, throughput = dev
    params = fleet_params(config, throughput)
    times = np.arange(1200, 1500, 2.0)  # idle, then traffic
    sim = Simulation(params, _keda("gateway"), _requests(times), 2400, seed=1, initial_replicas=0)
    result = sim.run()
    # the first request (t=1200) is held at the gateway, scraped at 1200, visible to KEDA at 1230
    assert sim.pods[0].created == pytest.approx(1230.0)
    assert result.unserved == 0
