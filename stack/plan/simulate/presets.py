"""Side-by-side autoscaling presets for one stack, run on the same requests.

1. ``stack``: what this stack renders (config.autoscaling with ``default_behavior``);
2. ``k8s-defaults``: the same metrics without a behavior block (Google's reference manifests), so
   the controller's legacy path: 5-minute downscale stabilization, at most ``max(2 × current, 4)``
   replicas per sync;
3. ``cpu-80``: a CPU-utilisation HPA without a behavior block (common Helm charts; vLLM's CPU
   stays low, so it rarely scales);
4. ``KEDA min 0``: KEDA scale-to-zero with the stack's KEDA settings, triggers as the stack renders
   them (sums of pod metrics: nothing to read at zero replicas);
5. the same with a gateway-side signal that exists at zero (requests held in front of the Service);
6. the stack's autoscaling with headroom (a GKE capacity buffer of ``planning.simulation.headroomReplicas``
   replicas, active and standby) and with replicas restored from a Pod snapshot (listed as not
   applicable, with the reason, where the model does not allow it: tensor parallel > 1, GCS FUSE).

The ``stack`` preset starts its replicas as ``stack_startup(config)`` says (stack/plan/simulate/startup.py).
Two limits are printed beside the presets, not ranked with them: *static peak* (maxReplicas all the
time) and an *oracle* that knows the trace and starts each replica one cold start before it is needed.
The ComputeClass fallback chain (reservation → on-demand → flex-start → Spot) is not a preset: no
published obtainability figures exist to model a stockout with, so the fleet assumes capacity.

Same config, requests and seed ⇒ the same numbers.

The endpoint picker's pool averages (``autoscaling.metrics`` ``poolQueue``, ``poolKvCache``) are simulated as the
vLLM gauge each averages (``queue``, ``kvCache``; workloads/metrics.py ``vllm_equivalent``), and the notes say so:
the picker's mean over the ready replicas against a ``Value`` target gives the proposal the Pods average gives
(workloads/autoscaling.py), up to the picker's own refresh and the ready-pod count the HPA multiplies by.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from stack.config import StackConfig
from stack.plan.estimate import (
    Throughput,
    estimate_cold_start,
    machine_price,
    planning_of,
    pool_node_bounds,
    resolve_throughput,
    snapshot_refusal,
)
from stack.plan.simulate.behavior import HpaBehavior, default_behavior
from stack.plan.simulate.fleet import FleetParams, PoolSpec, Scaler, SimResult, Simulation
from stack.plan.simulate.scalers import FixedScaler, HpaScaler, KedaScaler, ScheduleScaler
from stack.plan.simulate.startup import Startup, stack_startup
from stack.plan.simulate.traffic import Requests, generate
from workloads.metrics import AUTOSCALING_METRICS, vllm_equivalent

CPU_REQUEST_SHARE = 0.8
"""The vLLM container requests this share of the node's vCPUs (assumption)."""
CPU_IDLE_CORES = 0.2
"""Cores an idle vLLM server uses (assumption)."""


def _with_new_node(config: StackConfig) -> StackConfig:
    planning = planning_of(config)
    cold = planning.cold_start.model_copy(update={"new_node": True})
    return config.model_copy(update={"planning": planning.model_copy(update={"cold_start": cold})})


def fleet_params(config: StackConfig, throughput: Throughput, startup: Startup | None = None) -> FleetParams:
    """The simulator's view of the stack: capacity, start-up times, pools, metrics pipeline, SLOs.

    Args:
        config: the stack.
        throughput: one replica's serving capacity.
        startup: capacity buffer and Pod snapshots (default: none).
    """
    startup = startup or Startup()
    params = _plain_fleet_params(config, throughput)
    if startup.buffer_replicas:
        resume = estimate_cold_start(config, node="standbyBuffer").terms[0].seconds
        params = replace(
            params,
            buffer_replicas=startup.buffer_replicas,
            buffer_standby=startup.buffer_strategy == "standby",
            resume_seconds=resume,
        )
    if startup.snapshots:
        restored = estimate_cold_start(config, node="warm", snapshot=True)
        restore = restored.container_seconds
        params = replace(
            params, image_seconds=restored.term("image pull").seconds, container_seconds=lambda _loading: restore
        )
    return params


def _plain_fleet_params(config: StackConfig, throughput: Throughput) -> FleetParams:
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
    per_group = config.replicas_per_node()
    pools = []
    for name in [config.serving.pool] + ([config.serving.spot_pool] if config.serving.spot_pool else []):
        pool = config.gpu_pools[name]
        low, high = pool_node_bounds(config, name)
        high = max(0, high - config.pool_reserved(name))  # the pool's other models keep their minimum
        low = min(low, high)
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
    """(simulated metric, target) per ``autoscaling.metrics`` entry: a pool average as the vLLM gauge it averages."""
    return [(vllm_equivalent(m.metric.value), m.target) for m in config.autoscaling.metrics]


def _metric_names(config: StackConfig) -> str:
    return "+".join(f"{m.metric.value}>{m.target:g}" for m in config.autoscaling.metrics)


def pool_metric_notes(config: StackConfig) -> list[str]:
    """One line per ``autoscaling.metrics`` entry on the picker's pool averages: what the simulation runs instead."""
    out = []
    for index, m in enumerate(config.autoscaling.metrics):
        key = m.metric.value
        equivalent = vllm_equivalent(key)
        if equivalent == key:
            continue
        out.append(
            f"autoscaling.metrics.{index} {key}: simulated as {equivalent} "
            f"({AUTOSCALING_METRICS[equivalent].name} per replica) with the same target: "
            f"{AUTOSCALING_METRICS[key].name} is the picker's mean of it over the pool's ready replicas, and the "
            "autoscaler holds that mean at the target (External Value: ceil(mean / target × ready pods)); the "
            "picker's refresh and scrape, one step more than vLLM's own series, are not modelled"
        )
    return out


def _keda_scaler(
    config: StackConfig, behavior: HpaBehavior, label: str, min_replicas: int, activation: str
) -> KedaScaler:
    keda, sim = config.autoscaling.keda, planning_of(config).simulation
    return KedaScaler(label, _metrics(config), min_replicas, config.max_replicas(),
                      keda.activation_threshold, keda.cooldown_seconds, behavior, sim.hpa_tolerance,
                      float(keda.polling_seconds), activation)  # fmt: skip


def stack_scaler(config: StackConfig, behavior: HpaBehavior, prefix: str = "stack: ", suffix: str = "") -> Scaler:
    """The autoscaling the stack renders (fresh controller state), named ``prefix`` + what it is + ``suffix``."""
    scaling = config.autoscaling
    sim = planning_of(config).simulation
    if scaling.mode == "none":
        replicas = config.serving.replicas
        return FixedScaler(f"{prefix}fixed {replicas}{suffix}", replicas, sim.hpa_sync_seconds)
    if scaling.mode == "keda":
        label = f"{prefix}KEDA {_metric_names(config)} + behavior{suffix}"
        return _keda_scaler(config, behavior, label, scaling.keda.min_replicas, "pods")
    return HpaScaler(
        f"{prefix}HPA {_metric_names(config)} + behavior{suffix}",
        _metrics(config),
        max(config.min_replicas(), 1),
        config.max_replicas(),
        behavior,
        sim.hpa_tolerance,
        sim.hpa_sync_seconds,
    )


def build_scalers(config: StackConfig, cold_start_seconds: float) -> list:
    """Today's presets for ``config`` (fresh controller state each call); the stack's is first."""
    scaling = config.autoscaling
    planning = planning_of(config)
    tolerance, period = planning.simulation.hpa_tolerance, planning.simulation.hpa_sync_seconds
    behavior = default_behavior(config, cold_start_seconds)
    low = max(scaling.min_replicas, 1)
    high = config.max_replicas()
    metric_names = _metric_names(config)

    def keda_scaler(label: str, min_replicas: int, activation: str) -> KedaScaler:
        return _keda_scaler(config, behavior, label, min_replicas, activation)

    return [
        stack_scaler(config, behavior, suffix=stack_startup(config).label()),
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


@dataclass(frozen=True)
class Preset:
    """One row of the comparison: an autoscaler and how its replicas start.

    Args:
        scaler: the autoscaler (fresh state).
        startup: capacity buffer and Pod snapshots of this row's fleet.
        limit: a bound to measure against (static peak, oracle), not ranked with the presets.
    """

    scaler: Scaler
    startup: Startup = field(default_factory=Startup)
    limit: bool = False


@dataclass(frozen=True)
class NotApplicable:
    """A preset that cannot run for this stack, and why."""

    name: str
    reason: str


def oracle_schedule(
    config: StackConfig, requests: Requests, throughput: Throughput, duration: float
) -> tuple[list[float], list[int], float]:
    """The oracle's replicas over time: (step start times, replicas, lead seconds).

    ``needed(t)``: replicas that serve the next minute's output tokens of the trace at
    ``planning.simulation.oracleUtilisation`` of their capacity (at least 1, at most maxReplicas).
    The oracle runs ``max(needed)`` over ``[t - 1 min, t + lead]``: each replica starts one cold start
    before it is needed and stays while it is (the minute before t covers load still running at t).
    ``lead`` is a new-node cold start with the weight loads the schedule itself runs at once (shared
    storage split between zones), found by one refinement.
    """
    sim = planning_of(config).simulation
    step, window = sim.hpa_sync_seconds, 60.0
    high = config.max_replicas()
    starts = np.arange(0.0, duration, step)
    tokens = np.concatenate(([0.0], np.cumsum(requests.output_tokens.astype(float))))
    lo = np.searchsorted(requests.arrival, starts, side="left")
    hi = np.searchsorted(requests.arrival, starts + window, side="left")
    rate = (tokens[hi] - tokens[lo]) / window
    needed = np.clip(np.ceil(rate / (throughput.output_tokens_per_second * sim.oracle_utilisation)), 1, high)
    zones = len(set(config.pool_zones(config.serving.pool)))
    new_node = _with_new_node(config)

    back = math.ceil(window / step)  # a window that began before t saw load that is still running at t

    def schedule(lead: float) -> np.ndarray:
        ahead = math.ceil(lead / step)
        padded = np.concatenate((np.full(back, needed[0]), needed, np.full(ahead, needed[-1])))
        return np.array([padded[i : i + back + ahead + 1].max() for i in range(len(needed))])

    lead = estimate_cold_start(new_node).total_seconds
    replicas = schedule(lead)
    ahead = math.ceil(lead / step)
    at_once = max(1, int(max((replicas[i + ahead] - replicas[i] for i in range(len(replicas) - ahead)), default=1)))
    lead = estimate_cold_start(new_node, concurrent_loads=math.ceil(at_once / zones)).total_seconds
    replicas = schedule(lead)
    return starts.tolist(), [int(r) for r in replicas], lead


def build_presets(
    config: StackConfig, cold_start_seconds: float, requests: Requests, throughput: Throughput, duration: float
) -> tuple[list[Preset], list[NotApplicable]]:
    """Every row for ``config``: today's presets, the headroom and snapshot variants of the stack's
    autoscaling, and the two limits; plus the variants that cannot run here, with the reason."""
    sim = planning_of(config).simulation
    behavior = default_behavior(config, cold_start_seconds)
    own = stack_startup(config)
    today = build_scalers(config, cold_start_seconds)
    presets = [Preset(today[0], own)] + [Preset(scaler) for scaler in today[1:]]
    skipped = []
    variants = [
        replace(own, buffer_replicas=sim.headroom_replicas, buffer_strategy="active"),
        replace(own, buffer_replicas=sim.headroom_replicas, buffer_strategy="standby"),
        replace(own, snapshots=True),
    ]
    for startup in variants:
        if startup == own:
            continue
        scaler = stack_scaler(config, behavior, prefix="", suffix=startup.label())
        refusal = snapshot_refusal(config) if startup.snapshots else None
        if refusal:
            skipped.append(NotApplicable(scaler.name, refusal))
        else:
            presets.append(Preset(scaler, startup))
    high = config.max_replicas()
    times, replicas, lead = oracle_schedule(config, requests, throughput, duration)
    presets += [
        Preset(FixedScaler(f"limit: static peak ({high} replicas)", high, sim.hpa_sync_seconds), limit=True),
        Preset(
            ScheduleScaler(
                f"limit: oracle (knows the trace, starts each replica {lead:.0f} s ahead)",
                times,
                replicas,
                sim.hpa_sync_seconds,
            ),
            limit=True,
        ),
    ]
    return presets, skipped


@dataclass
class Comparison:
    """Every preset's result on the same requests, ranked, and the limits beside them."""

    results: list[SimResult]
    requests: Requests
    duration: float
    seed: int
    cold_start_seconds: float
    throughput: Throughput
    slo_target: float
    slo_wait: float
    slo_ttft: float
    limit_names: set[str] = field(default_factory=set)
    not_applicable: list[NotApplicable] = field(default_factory=list)
    startups: dict[str, Startup] = field(default_factory=dict)

    def ranked(self) -> list[SimResult]:
        """The presets (limits left out), best first: higher SLO attainment (to 0.1 %), then fewer GPU-hours."""
        presets = [r for r in self.results if r.name not in self.limit_names]
        return sorted(presets, key=lambda r: (-round(r.attainment, 3), r.gpu_hours))

    def limits(self) -> list[SimResult]:
        """Static peak and oracle, in that order."""
        return [r for r in self.results if r.name in self.limit_names]

    def dominated_by(self, result: SimResult) -> list[SimResult]:
        """Presets with higher SLO attainment (to 0.1 %) *and* fewer GPU-hours (to 0.1) than ``result``."""
        return [
            other
            for other in self.ranked()
            if round(other.attainment, 3) > round(result.attainment, 3)
            and round(other.gpu_hours, 1) < round(result.gpu_hours, 1)
        ]


def compare(
    config: StackConfig, requests: Requests, duration: float, seed: int, report: str | None = None
) -> Comparison:
    """Run every preset and limit on ``requests`` for ``duration`` seconds."""
    throughput = resolve_throughput(config, report)
    cold_start = estimate_cold_start(_with_new_node(config)).total_seconds
    presets, skipped = build_presets(config, cold_start, requests, throughput, duration)
    warm = warm_replicas(requests, throughput)
    high = config.max_replicas()
    params = {startup: fleet_params(config, throughput, startup) for startup in {p.startup for p in presets}}
    simulations = [
        Simulation(
            params[preset.startup],
            preset.scaler,
            requests,
            duration,
            seed,
            min(high, max(preset.scaler.initial_replicas(), warm)),
        )
        for preset in presets
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
        {p.scaler.name for p in presets if p.limit},
        skipped,
        {p.scaler.name: p.startup for p in presets},
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
    out = pool_metric_notes(config)
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
    stack = comparison.results[0]
    better = comparison.dominated_by(stack)
    if better:
        out.append(
            f"{stack.name} is dominated (higher SLO attainment with fewer GPU-hours) by: "
            f"{'; '.join(r.name for r in better)}"
        )
    for skipped in comparison.not_applicable:
        out.append(f"{skipped.name}: not applicable: {skipped.reason}")
    slow = [r.name for r in comparison.ranked() if r.p95_wait > comparison.cold_start_seconds]
    if slow:
        out.append(
            f"p95 queue wait exceeds one replica cold start ({comparison.cold_start_seconds:.0f} s) "
            f"for: {'; '.join(slow)}. "
            "The fleet fell behind by more than a cold start: raise minReplicas, shorten the cold start (weights "
            "backend throughput, compile cache), or keep warm capacity"
        )
    return out
