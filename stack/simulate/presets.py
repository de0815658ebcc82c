"""Side-by-side autoscaling presets for one stack, run on the same requests.

1. ``stack``: what this stack renders (config.autoscaling with ``default_behavior``);
2. ``k8s-defaults``: the same metrics without a behavior block (Google's reference manifests), so
   the controller's legacy path: 5-minute downscale stabilization, at most ``max(2 × current, 4)``
   replicas per sync;
3. ``cpu-80``: a CPU-utilisation HPA without a behavior block (common Helm charts; vLLM's CPU
   stays low, so it rarely scales);
4. ``KEDA min 0``: KEDA scale-to-zero with the stack's KEDA settings, triggers as the stack renders
   them (sums of pod metrics: nothing to read at zero replicas);
5. the same with a gateway-side signal that exists at zero (requests held in front of the Service).

Same config, requests and seed ⇒ the same numbers.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from dataclasses import dataclass
from functools import cache

from stack.config import StackConfig
from stack.estimate import (
    Throughput,
    estimate_cold_start,
    machine_price,
    planning_of,
    pool_node_bounds,
    replicas_per_node,
    resolve_throughput,
)
from stack.simulate.behavior import default_behavior
from stack.simulate.fleet import FleetParams, PoolSpec, Scaler, SimResult, Simulation
from stack.simulate.scalers import FixedScaler, HpaScaler, KedaScaler
from stack.simulate.traffic import Requests, generate

CPU_REQUEST_SHARE = 0.8
"""The vLLM container requests this share of the node's vCPUs (assumption)."""
CPU_IDLE_CORES = 0.2
"""Cores an idle vLLM server uses (assumption)."""


def _with_new_node(config: StackConfig) -> StackConfig:
    planning = planning_of(config)
    cold = planning.cold_start.model_copy(update={"new_node": True})
    return config.model_copy(update={"planning": planning.model_copy(update={"cold_start": cold})})


def fleet_params(config: StackConfig, throughput: Throughput) -> FleetParams:
    """The simulator's view of the stack: capacity, start-up times, pools, metrics pipeline, SLOs."""
    planning = planning_of(config)
    sim, slo = planning.simulation, planning.slo
    new_node = _with_new_node(config)
    cold_new = estimate_cold_start(new_node)

    # Zonal disks (Hyperdisk ML, PD) exist once per zone: concurrent loads spread over the zones.
    zones = len(set(config.pool_zones(config.serving.pool)))

    @cache
    def container_seconds(loading: int) -> float:
        return estimate_cold_start(new_node, concurrent_loads=max(1, math.ceil(loading / zones))).container_seconds

    width = config.serving.nodes_per_replica
    per_group = replicas_per_node(config)
    pools = []
    for name in [config.serving.pool] + ([config.serving.spot_pool] if config.serving.spot_pool else []):
        pool = config.gpu_pools[name]
        low, high = pool_node_bounds(config, name)
        price = machine_price(config, pool.machine_type).billed(pool.spot) or 0.0
        pools.append(
            PoolSpec(
                name, low // width, high // width, price * width, pool.machine().gpu_count * width, pool.spot, width
            )
        )
    machine = config.gpu_pools[config.serving.pool].machine()
    t0, t1 = throughput.step_seconds()
    node_terms = [t for t in cold_new.terms if t.phase == "node"]
    return FleetParams(
        concurrency=throughput.concurrency,
        step_t0=t0,
        step_t1=t1,
        prefill_tokens_per_second=throughput.prefill_tokens_per_second,
        kv_capacity_tokens=throughput.concurrency * (sim.input_tokens + sim.output_tokens),
        node_seconds=sum(t.seconds for t in node_terms),
        node_billing_delay=node_terms[0].seconds if node_terms else 0.0,
        image_seconds=cold_new.term("image pull").seconds,
        container_seconds=container_seconds,
        pools=tuple(pools),
        replicas_per_group=per_group,
        scrape_interval=sim.scrape_interval_seconds,
        metrics_delay=sim.metrics_delay_seconds,
        node_scale_down_seconds=sim.node_scale_down_seconds,
        routing=sim.routing,
        cpu_request_cores=machine.vcpu * CPU_REQUEST_SHARE / per_group,
        cpu_idle_cores=CPU_IDLE_CORES,
        cpu_busy_cores=1.0 + config.gpus_per_replica(),
        slo_wait=slo.queue_wait_seconds,
        slo_ttft=slo.ttft_seconds,
    )


def _metrics(config: StackConfig) -> list[tuple[str, float]]:
    return [(m.metric.value, m.target) for m in config.autoscaling.metrics]


def build_scalers(config: StackConfig, cold_start_seconds: float) -> list:
    """The presets for ``config`` (fresh controller state each call)."""
    scaling = config.autoscaling
    planning = planning_of(config)
    tolerance, period = planning.simulation.hpa_tolerance, planning.simulation.hpa_sync_seconds
    behavior = default_behavior(config, cold_start_seconds)
    low = max(scaling.min_replicas, 1)
    high = config.max_replicas()
    keda = scaling.keda
    metric_names = "+".join(f"{m}>{t:g}" for m, t in _metrics(config))

    def keda_scaler(label: str, min_replicas: int, activation: str) -> KedaScaler:
        return KedaScaler(label, _metrics(config), min_replicas, high,
                          keda.activation_threshold, keda.cooldown_seconds, behavior, tolerance,
                          float(keda.polling_seconds), activation)

    stack: Scaler
    if scaling.mode == "none":
        stack = FixedScaler(f"stack: fixed {config.serving.replicas}", config.serving.replicas, period)
    elif scaling.mode == "keda":
        stack = keda_scaler(f"stack: KEDA {metric_names} + behavior", keda.min_replicas, "pods")
    else:
        stack = HpaScaler(
            f"stack: HPA {metric_names} + behavior", _metrics(config), low, high, behavior, tolerance, period
        )
    return [
        stack,
        HpaScaler(
            f"k8s defaults: HPA {metric_names}, no behavior",
            _metrics(config),
            low,
            high,
            None,
            tolerance,
            period,
        ),
        HpaScaler(
            f"Helm-style: HPA cpu>{planning.simulation.cpu_target_percent}%",
            [("cpu", float(planning.simulation.cpu_target_percent))],
            low,
            high,
            None,
            tolerance,
            period,
        ),
        *(
            keda_scaler(label, 0, activation)
            for label, activation in (
                (f"KEDA min 0, pod-metric triggers {metric_names}", "pods"),
                ("KEDA min 0, gateway queue + in-flight activation", "gateway"),
            )
        ),
    ]


def synthetic_requests(
    config: StackConfig, throughput: Throughput, pattern: str, duration: float, seed: int
) -> Requests:
    """Requests for ``pattern``, scaled to the fleet: base/peak are shares of maxReplicas' capacity."""
    sim = planning_of(config).simulation
    per_replica = throughput.output_tokens_per_second / sim.output_tokens
    capacity = per_replica * config.max_replicas()
    return generate(
        pattern,
        base_rps=sim.base_load * capacity,
        peak_rps=sim.peak_load * capacity,
        duration=duration,
        seed=seed,
        input_tokens=sim.input_tokens,
        output_tokens=sim.output_tokens,
    )


@dataclass
class Comparison:
    """Every preset's result on the same requests, ranked."""

    results: list[SimResult]
    requests: Requests
    duration: float
    seed: int
    cold_start_seconds: float
    throughput: Throughput
    slo_target: float
    slo_wait: float
    slo_ttft: float

    def ranked(self) -> list[SimResult]:
        """Best first: higher SLO attainment (to 0.1 %), then fewer GPU-hours."""
        return sorted(self.results, key=lambda r: (-round(r.attainment, 3), r.gpu_hours))


def compare(
    config: StackConfig, requests: Requests, duration: float, seed: int, report: str | None = None
) -> Comparison:
    """Run every preset on ``requests`` for ``duration`` seconds."""
    throughput = resolve_throughput(config, report)
    params = fleet_params(config, throughput)
    cold_start = estimate_cold_start(_with_new_node(config)).total_seconds
    scalers = build_scalers(config, cold_start)
    warm = warm_replicas(requests, throughput)
    high = config.max_replicas()
    simulations = [
        Simulation(params, scaler, requests, duration, seed, min(high, max(scaler.initial_replicas(), warm)))
        for scaler in scalers
    ]
    results = run_all(simulations)
    slo = planning_of(config).slo
    return Comparison(
        results,
        requests,
        duration,
        seed,
        cold_start,
        throughput,
        slo.attainment,
        slo.queue_wait_seconds,
        slo.ttft_seconds,
    )


WARM_UTILISATION = 0.8
"""Replicas at t=0 serve the first minute's load at this utilisation (a fleet in steady state)."""


def warm_replicas(requests: Requests, throughput: Throughput, window: float = 60.0) -> int:
    """Replicas a steady fleet would run for the first ``window`` seconds of ``requests``.

    Every preset starts from the same warm fleet (at least its own minimum), so the ranking
    compares reactions to the load, not start-up transients.
    """
    first = requests.arrival < window
    count = int(first.sum())
    if count == 0:
        return 0
    tokens_per_second = float(requests.output_tokens[first].sum()) / window
    return math.ceil(tokens_per_second / (throughput.output_tokens_per_second * WARM_UTILISATION))


_PENDING: list[Simulation] = []


def _run_pending(index: int) -> SimResult:
    return _PENDING[index].run()


def run_all(simulations: list[Simulation]) -> list[SimResult]:
    """Run independent simulations, in forked worker processes when there are several CPUs.

    Each simulation owns its state and seed, so the results do not depend on how they are run.
    """
    workers = min(len(simulations), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [sim.run() for sim in simulations]
    global _PENDING
    _PENDING = simulations  # inherited by the forked workers; nothing is pickled but the results
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_run_pending, range(len(simulations)))
    finally:
        _PENDING = []


def duration_default(requests_duration: float | None, duration: float | None) -> float:
    """Simulated seconds: ``--duration``, else the trace's length (rounded up to a minute)."""
    if duration:
        return float(duration)
    return float(math.ceil((requests_duration or 3600.0) / 60.0) * 60)


def notes(config: StackConfig, comparison: Comparison) -> list[str]:
    """Findings worth a line under the table (each names what to change)."""
    out = []
    for result in comparison.results:
        if result.unserved and result.series["spec"].size and result.series["spec"][-1] == 0:
            out.append(
                f"{result.name}: ended at 0 replicas with {result.unserved} requests never served; a trigger that "
                "sums pod metrics reads nothing at zero replicas, so only a signal that exists at zero (a gateway or "
                "load-balancer request metric) or a KEDA cron window can wake it"
            )
    if any(r.name.startswith("KEDA") for r in comparison.results):
        kept = [
            name
            for name, pool in config.gpu_pools.items()
            if name in (config.serving.pool, config.serving.spot_pool) and pool.autoscaling.min_nodes > 0
        ]
        if kept:
            out.append(
                "scale-to-zero frees no GPU nodes while "
                f"{', '.join(f'gpuPools.{n}.autoscaling.minNodes' for n in kept)} > 0"
            )
    slow = [r.name for r in comparison.results if r.p95_wait > comparison.cold_start_seconds]
    if slow:
        out.append(
            f"p95 queue wait exceeds one replica cold start ({comparison.cold_start_seconds:.0f} s) "
            f"for: {'; '.join(slow)}. "
            "The fleet fell behind by more than a cold start: raise minReplicas, shorten the cold start (weights "
            "backend throughput, compile cache), or keep warm capacity"
        )
    return out
