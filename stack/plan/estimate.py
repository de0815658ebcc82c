"""Cold-start and cost estimates of a stack, before anything is paid for (``gke-infer estimate``).

The cold start is the pure calculation of ``stack/cold_start.py`` (the deployed program reads it too),
re-exported here: ``estimate_cold_start(config)`` adds up what one new replica waits for, term by term.

``estimate_cost(config)`` prices every pool at its minimum and maximum size, storage, and (given a
throughput) dollars per million output tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stack import prices
from stack.cold_start import (
    CAPACITY_BUFFER_DOC,
    CLUSTER_AUTOSCALER_SCAN_SECONDS,
    COMPILE_COLD_LARGE,
    COMPILE_COLD_SMALL,
    COMPILE_WARM,
    DRIVER_INSTALL_SECONDS,
    ENGINE_INIT_SECONDS,
    GRAPHS_COLD,
    GRAPHS_WARM,
    LARGE_MODEL_BILLIONS,
    NODE_CREATE_SECONDS,
    POD_SNAPSHOTS_README,
    SNAPSHOT_RESTORE_L4_SECONDS,
    SNAPSHOT_RESTORE_SECONDS,
    STANDBY_RESUME_SECONDS,
    ColdStartEstimate,
    NodeSource,
    Phase,
    SnapshotRefused,
    Term,
    estimate_cold_start,
    network_gbps,
    planning_of,
    snapshot_refusal,
)
from stack.config import StackConfig
from stack.config.serving import WeightsBackend

__all__ = [
    "CAPACITY_BUFFER_DOC", "CLUSTER_AUTOSCALER_SCAN_SECONDS", "COMPILE_COLD_LARGE", "COMPILE_COLD_SMALL",
    "COMPILE_WARM", "DRIVER_INSTALL_SECONDS", "ENGINE_INIT_SECONDS", "GRAPHS_COLD", "GRAPHS_WARM",
    "LARGE_MODEL_BILLIONS", "NODE_CREATE_SECONDS", "POD_SNAPSHOTS_README", "SNAPSHOT_RESTORE_L4_SECONDS",
    "SNAPSHOT_RESTORE_SECONDS", "STANDBY_RESUME_SECONDS", "ColdStartEstimate", "CostEstimate", "CostLine",
    "NodeSource", "Phase", "PoolPrice", "ReportError", "SnapshotRefused", "Term", "Throughput",
    "estimate_cold_start", "estimate_cost", "machine_price", "network_gbps", "place_replicas", "planning_of",
    "pool_node_bounds", "read_report", "resolve_throughput", "snapshot_refusal",
    "storage_price",
]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------

TP_EFFICIENCY = 0.8
"""Throughput kept per GPU when a replica spans several GPUs (assumption)."""
DECODE_BANDWIDTH_EFFICIENCY = 0.6
"""Share of HBM bandwidth a single decode stream reaches (assumption)."""
PREFILL_TO_DECODE = 10.0
"""Prefill tokens/s per output token/s when nothing better is known (assumption)."""

_REPORT_KEYS = {
    "output_tokens_per_second": (
        "output_throughput",
        "output_tokens_per_second",
        "outputTokensPerSecond",
        "output_token_throughput",
        "outputTokenThroughput",
        "output_tok_s",
        "output_tokens_per_s",
    ),
    "concurrency": (
        "max_concurrent_requests",
        "maxConcurrentRequests",
        "max_concurrency",
        "maxConcurrency",
        "concurrency",
        "users",
        "num_users",
        "numUsers",
    ),
    "replicas": ("replicas", "num_replicas", "numReplicas"),
    "total_output_tokens": ("total_output_tokens", "totalOutputTokens", "total_output"),
    "duration": ("duration", "duration_s", "durationSeconds", "duration_seconds"),
}


@dataclass(frozen=True)
class Throughput:
    """What one replica serves, and where each number came from."""

    output_tokens_per_second: float
    concurrency: int
    single_stream_tokens_per_second: float
    prefill_tokens_per_second: float
    source: str

    def step_seconds(self) -> tuple[float, float]:
        """Decode step time model ``t0 + n·t1`` (per running request n), fitted so a full batch of
        ``concurrency`` produces ``output_tokens_per_second`` and one request alone at most
        ``single_stream_tokens_per_second``."""
        full = self.concurrency / self.output_tokens_per_second
        t0 = min(1 / self.single_stream_tokens_per_second, 0.5 * full)
        return t0, (full - t0) / self.concurrency

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReportError(ValueError):
    """A load-test report that cannot be read."""


def _find(document: Any, keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` (in order of preference) found anywhere in a nested
    JSON document (breadth first), numbers only."""
    for key in keys:
        queue = [document]
        while queue:
            node = queue.pop(0)
            if isinstance(node, dict):
                value = node.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return value
                queue.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                queue.extend(v for v in node if isinstance(v, (dict, list)))
    return None


def read_report(path: str) -> dict[str, float]:
    """Per-replica throughput from a load-test ``report.json``.

    Tolerant of the shape: looks (at any nesting depth) for ``output_throughput`` (the
    ``vllm bench serve`` key, also ``summary.output_throughput`` of loadtest/'s report.json) or its
    camelCase/alias forms, else ``total_output_tokens / duration``; for the concurrency, the observed
    ``max_concurrent_requests`` (loadtest/) first, then ``max_concurrency``/``concurrency``/``users``;
    and divides both by ``replicas`` when present.
    """
    import json
    from pathlib import Path

    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ReportError(f"--report {path}: {err}") from None
    found: dict[str, float] = {}
    tps = _find(document, _REPORT_KEYS["output_tokens_per_second"])
    if tps is None:
        total, duration = (
            _find(document, _REPORT_KEYS["total_output_tokens"]),
            _find(document, _REPORT_KEYS["duration"]),
        )
        if total is not None and duration:
            tps = total / duration
    if tps is None or tps <= 0:
        raise ReportError(
            f"--report {path}: no output token throughput "
            f"(looked for {', '.join(_REPORT_KEYS['output_tokens_per_second'])} "
            "or total_output_tokens/duration)"
        )
    replicas = _find(document, _REPORT_KEYS["replicas"]) or 1
    found["output_tokens_per_second"] = tps / replicas
    concurrency = _find(document, _REPORT_KEYS["concurrency"])
    if concurrency:
        found["concurrency"] = max(1, round(concurrency / replicas))
    return found


def resolve_throughput(config: StackConfig, report: str | None = None) -> Throughput:
    """Per-replica throughput: ``report`` (the CLI's --report) wins, then ``planning.throughput``
    fields, then ``planning.throughput.report``, then the GPU table of stack/prices.py."""
    wanted = planning_of(config).throughput
    from_report = read_report(report) if report else {}
    from_config_report = read_report(wanted.report) if wanted.report and not report else {}
    machine = config.gpu_pools[config.serving.pool].machine()
    gpus = config.gpus_per_replica()
    sources = []

    def pick(name: str, configured: Any, default: Any, default_source: str) -> Any:
        for value, source in (
            (from_report.get(name), f"report {report}"),
            (configured, f"planning.throughput.{name}"),
            (from_config_report.get(name), f"report {wanted.report}"),
        ):
            if value is not None:
                sources.append(f"{name}: {source}")
                return value
        sources.append(f"{name}: {default_source}")
        return default

    per_gpu = prices.OUTPUT_TOKENS_PER_GPU_8B.get(machine.accelerator, 1000.0)
    scale = 8.0 / config.model.parameters_billions * gpus * (TP_EFFICIENCY if gpus > 1 else 1.0)
    tps = pick(
        "output_tokens_per_second",
        wanted.output_tokens_per_second,
        per_gpu * scale,
        "[Mem] GPU table × 8B/params × GPUs",
    )
    concurrency = pick("concurrency", wanted.concurrency, config.serving.vllm.max_num_seqs, "serving.vllm.maxNumSeqs")
    hbm = prices.HBM_GBPS.get(machine.accelerator, 1000.0) * gpus * DECODE_BANDWIDTH_EFFICIENCY
    hbm *= TP_EFFICIENCY if gpus > 1 else 1.0
    single = pick(
        "single_stream_tokens_per_second",
        wanted.single_stream_tokens_per_second,
        hbm * prices.GB / config.effective_weight_bytes(),
        "HBM bandwidth ÷ weight bytes (roofline)",
    )
    prefill = pick(
        "prefill_tokens_per_second",
        wanted.prefill_tokens_per_second,
        PREFILL_TO_DECODE * tps,
        "10 × output tokens/s (assumption)",
    )
    return Throughput(float(tps), int(concurrency), float(single), float(prefill), "; ".join(sources))


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolPrice:
    """Per-node hourly prices of a pool's machine type."""

    on_demand: float | None
    spot: float | None
    source: str

    def billed(self, spot: bool) -> float | None:
        return self.spot if spot else self.on_demand


def machine_price(config: StackConfig, machine_type: str) -> PoolPrice:
    """Hourly node price: ``planning.prices`` override, else the table in stack/prices.py."""
    row = prices.MACHINE_PRICES.get(machine_type)
    override = planning_of(config).prices.get(machine_type)
    on_demand = row.on_demand if row else None
    spot = row.spot if row else None
    source = f"{row.source} ({prices.PRICES_AS_OF})" if row else "no built-in price"
    if override is not None:
        if override.on_demand_hourly is not None:
            on_demand = override.on_demand_hourly
        if override.spot_hourly is not None:
            spot = override.spot_hourly
        source = f"planning.prices.{machine_type}" + (f"; else {source}" if row else "")
    return PoolPrice(on_demand, spot, source)


def storage_price(config: StackConfig, key: str) -> tuple[float, str]:
    """(USD, source) of a storage price key such as ``hyperdiskMlGbMonth``."""
    from pydantic.alias_generators import to_snake

    override = getattr(planning_of(config).storage_prices, to_snake(key))
    if override is not None:
        return override, f"planning.storagePrices.{key}"
    row = prices.STORAGE_PRICES[key]
    return row.value, f"{row.source} ({prices.PRICES_AS_OF})"


def pool_node_bounds(config: StackConfig, name: str) -> tuple[int, int]:
    """(min, max) nodes of a pool in total (per-zone limits × zones)."""
    pool = config.gpu_pools[name]
    zones = len(config.pool_zones(name)) if pool.autoscaling.per_zone else 1
    return pool.autoscaling.min_nodes * zones, pool.autoscaling.max_nodes * zones


def place_replicas(config: StackConfig, replicas: int) -> dict[str, int]:
    """Serving nodes per pool for ``replicas``: the serving pool's minimum nodes first, then the
    Spot pool (preferred by node affinity), then the serving pool up to its maximum."""
    per_node = config.replicas_per_node()
    units = math.ceil(replicas / per_node)
    width = config.serving.nodes_per_replica
    main, spot = config.serving.pool, config.serving.spot_pool
    main_min, main_max = pool_node_bounds(config, main)
    placed = {main: 0} | ({spot: 0} if spot else {})
    order = [(main, main_min // width)]
    if spot:
        order.append((spot, pool_node_bounds(config, spot)[1] // width))
    order.append((main, main_max // width - main_min // width))
    for pool, room in order:
        take = min(units, room)
        placed[pool] += take * width
        units -= take
    placed[main] += units * width  # beyond every maximum: shown, though the autoscaler would refuse
    return placed


@dataclass
class CostLine:
    """One priced line: a pool, the system pool, the cluster fee, or storage."""

    item: str
    detail: str
    hourly_at_min: float | None
    hourly_at_max: float | None
    source: str
    nodes_at_min: int | None = None
    nodes_at_max: int | None = None
    on_demand_node_hourly: float | None = None
    spot_node_hourly: float | None = None
    spot: bool | None = None

    def monthly(self, hourly: float | None) -> float | None:
        return None if hourly is None else hourly * prices.HOURS_PER_MONTH

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item": self.item,
            "detail": self.detail,
            "hourly": {"min": _r(self.hourly_at_min), "max": _r(self.hourly_at_max)},
            "monthly": {"min": _r(self.monthly(self.hourly_at_min)), "max": _r(self.monthly(self.hourly_at_max))},
            "source": self.source,
        }
        if self.nodes_at_min is not None:
            out["nodes"] = {"min": self.nodes_at_min, "max": self.nodes_at_max}
        if self.on_demand_node_hourly is not None or self.spot_node_hourly is not None:
            out |= {
                "spot": self.spot,
                "nodeHourly": {"onDemand": _r(self.on_demand_node_hourly), "spot": _r(self.spot_node_hourly)},
                "hourlyIfOnDemand": {
                    "min": _times(self.on_demand_node_hourly, self.nodes_at_min),
                    "max": _times(self.on_demand_node_hourly, self.nodes_at_max),
                },
                "hourlyIfSpot": {
                    "min": _times(self.spot_node_hourly, self.nodes_at_min),
                    "max": _times(self.spot_node_hourly, self.nodes_at_max),
                },
            }
        return out


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _times(price: float | None, count: int | None) -> float | None:
    if price is None:
        return None
    assert count is not None, "a line with a node price has node counts"
    return round(price * count, 4)


@dataclass
class ModelCost:
    """What one model of the stack costs: the serving nodes its replicas take, its capacity buffer and storage."""

    key: str
    served_model_name: str
    replicas: tuple[int, int]
    nodes: tuple[int, int]
    """Serving nodes at the minimum and maximum replicas (every pool it runs on)."""
    hourly_at_min: float
    hourly_at_max: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.key,
            "servedModelName": self.served_model_name,
            "replicas": {"min": self.replicas[0], "max": self.replicas[1]},
            "nodes": {"min": self.nodes[0], "max": self.nodes[1]},
            "hourly": {"min": _r(self.hourly_at_min), "max": _r(self.hourly_at_max)},
            "monthly": {"min": _r(self.hourly_at_min * prices.HOURS_PER_MONTH, 2),
                        "max": _r(self.hourly_at_max * prices.HOURS_PER_MONTH, 2)},
        }


@dataclass
class CostEstimate:
    """The stack's cost at its minimum and maximum size."""

    lines: list[CostLine]
    replicas: tuple[int, int]
    """The top-level model's replicas."""
    throughput: Throughput
    per_replica_hourly: dict[str, float | None]
    missing: list[str] = field(default_factory=list)
    models: list[ModelCost] = field(default_factory=list)
    """Per model (``StackConfig.model_views``); what no model owns (system pool, cluster fee, nodes pool minimums keep
    beyond the replicas' needs) is :meth:`shared`."""

    def shared(self, which: Literal["min", "max"]) -> float:
        """The stack's cost no single model causes."""
        return self.total(which) - sum(m.hourly_at_min if which == "min" else m.hourly_at_max for m in self.models)

    def total(self, which: Literal["min", "max"]) -> float:
        return sum((line.hourly_at_min if which == "min" else line.hourly_at_max) or 0.0 for line in self.lines)

    def dollars_per_million_tokens(self) -> dict[str, float | None]:
        """Serving cost per million output tokens at full replica throughput."""
        tokens_per_hour = self.throughput.output_tokens_per_second * 3600
        return {k: (None if v is None else v / tokens_per_hour * 1e6) for k, v in self.per_replica_hourly.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicas": {"min": self.replicas[0], "max": self.replicas[1]},
            "lines": [line.as_dict() for line in self.lines],
            "total": {
                "hourly": {"min": _r(self.total("min")), "max": _r(self.total("max"))},
                "monthly": {
                    "min": _r(self.total("min") * prices.HOURS_PER_MONTH, 2),
                    "max": _r(self.total("max") * prices.HOURS_PER_MONTH, 2),
                },
            },
            "hoursPerMonth": prices.HOURS_PER_MONTH,
            "pricesAsOf": prices.PRICES_AS_OF,
            "throughput": self.throughput.as_dict(),
            "perReplicaHourly": {k: _r(v) for k, v in self.per_replica_hourly.items()},
            "dollarsPerMillionOutputTokens": {k: _r(v) for k, v in self.dollars_per_million_tokens().items()},
            "missingPrices": self.missing,
            "models": [m.as_dict() for m in self.models],
            "shared": {"hourly": {"min": _r(self.shared("min")), "max": _r(self.shared("max"))}},
        }


def estimate_cost(config: StackConfig, report: str | None = None) -> CostEstimate:
    """Price the stack at its minimum and maximum replicas/nodes, storage included, in total and per model.

    GPU pools hold ``max(pool minimum, nodes every model's replicas need)`` nodes (models sharing a pool are placed
    side by side, never packed onto one another's nodes); pools that serve nothing (e.g. a batch-only pool) are
    priced at their own minimum and maximum.
    """
    low, high = config.min_replicas(), config.max_replicas()
    views = config.model_views()
    placements = {key: (place_replicas(v, v.min_replicas()), place_replicas(v, v.max_replicas()))
                  for key, v in views.items()}
    at_min = _summed(placed for placed, _ in placements.values())
    at_max = _summed(placed for _, placed in placements.values())
    lines: list[CostLine] = []
    missing: list[str] = []
    node_hourly: dict[str, float] = {}
    for name, pool in config.gpu_pools.items():
        lo, hi = pool_node_bounds(config, name)
        nodes_min = max(lo, at_min.get(name, 0))
        nodes_max = max(nodes_min, min(hi, at_max.get(name, hi))) if name in at_max else hi
        price = machine_price(config, pool.machine_type)
        billed = price.billed(pool.spot)
        node_hourly[name] = billed or 0.0
        if billed is None:
            missing.append(f"planning.prices.{pool.machine_type}.{'spotHourly' if pool.spot else 'onDemandHourly'}")
        role = _pool_role(config, name)
        lines.append(
            CostLine(
                f"pool {name}",
                f"{pool.machine_type} × nodes ({'spot' if pool.spot else 'on-demand'}; {role}; limits {lo}–{hi})",
                None if billed is None else billed * nodes_min,
                None if billed is None else billed * nodes_max,
                price.source,
                nodes_min,
                nodes_max,
                price.on_demand,
                price.spot,
                pool.spot,
            )
        )
    system = config.cluster.system_pool
    system_price = prices.SYSTEM_MACHINE_PRICES.get(system.machine_type)
    zones = len(config.zones) if config.cluster.location is None or config.cluster.location == config.region else 1
    if system_price is None:
        missing.append(f"system pool {system.machine_type} (no built-in price)")
    lines.append(
        CostLine(
            "system pool",
            f"{system.machine_type} × {system.min_nodes}–{system.max_nodes} per zone × {zones} zone(s)",
            None if system_price is None else system_price * system.min_nodes * zones,
            None if system_price is None else system_price * system.max_nodes * zones,
            "[Mem] compute/vm-instance-pricing",
            system.min_nodes * zones,
            system.max_nodes * zones,
        )
    )
    if config.cluster.mode == "create":
        fee = prices.GKE_CLUSTER_FEE_HOURLY
        lines.append(CostLine("GKE cluster fee", "one cluster", fee, fee, "[Mem] kubernetes-engine/pricing"))
    label = len(views) > 1
    own = {key: _buffer_lines(v, key if label else None) + _storage_lines(v, key if label else None)
           for key, v in views.items()}
    lines += [line for key in views for line in own[key]]
    models = [_model_cost(key, v, placements[key], own[key], node_hourly) for key, v in views.items()]
    price = machine_price(config, config.gpu_pools[config.serving.pool].machine_type)
    share = config.serving.nodes_per_replica / config.replicas_per_node()
    per_replica = {
        "onDemand": None if price.on_demand is None else price.on_demand * share,
        "spot": None if price.spot is None else price.spot * share,
    }
    return CostEstimate(lines, (low, high), resolve_throughput(config, report), per_replica, missing, models)


def _summed(placements: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for placed in placements:
        for pool, nodes in placed.items():
            total[pool] = total.get(pool, 0) + nodes
    return total


def _pool_role(config: StackConfig, name: str) -> str:
    """What a pool does for the stack's models: serving, Spot overflow, or other."""
    views = config.model_views().values()
    if any(name == v.serving.pool for v in views):
        return "serving"
    return "serving overflow (spot)" if any(name == v.serving.spot_pool for v in views) else "other"


def _model_cost(key: str, view: StackConfig, placed: tuple[dict[str, int], dict[str, int]],
                own: list[CostLine], node_hourly: dict[str, float]) -> ModelCost:
    """One model: its placed serving nodes at each pool's billed node price (``node_hourly``, the pool lines'),
    plus its buffer and storage lines."""
    def serving(nodes: dict[str, int]) -> float:
        return sum(node_hourly[p] * n for p, n in nodes.items())

    extra_min = sum(line.hourly_at_min or 0.0 for line in own)
    extra_max = sum(line.hourly_at_max or 0.0 for line in own)
    return ModelCost(key, view.served_model_name(), (view.min_replicas(), view.max_replicas()),
                     (sum(placed[0].values()), sum(placed[1].values())),
                     serving(placed[0]) + extra_min, serving(placed[1]) + extra_max)


@dataclass(frozen=True)
class HeadroomCost:
    """The idle capacity buffer's price."""

    replicas: int
    strategy: Literal["active", "standby"]
    nodes: int
    node_hourly: float | None
    hourly: float | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "strategy": self.strategy,
            "nodes": self.nodes,
            "nodeHourly": self.node_hourly,
            "hourly": None if self.hourly is None else round(self.hourly, 4),
            "source": self.source,
        }


def headroom_cost(config: Any, replicas: int, strategy: Literal["active", "standby"]) -> HeadroomCost:
    """Hourly price of a buffer of ``replicas`` replicas on the serving pool.

    Active buffer nodes run and are billed as any node. Suspended (standby) VMs "have no compute
    costs (cores or RAM), and incur only storage charges for the saved VM memory and localSSD data"
    (Compute Engine API, instances.suspend); that storage is not priced here.
    """
    pool = config.gpu_pools[config.serving.pool]
    price = machine_price(config, pool.machine_type)
    billed = price.billed(pool.spot)
    nodes = config.nodes_for(replicas)
    if strategy == "standby":
        return HeadroomCost(
            replicas,
            strategy,
            nodes,
            billed,
            0.0,
            "suspended VMs bill no cores/RAM/GPUs, only the storage of their memory (not priced; Compute Engine "
            f"instances.suspend); {CAPACITY_BUFFER_DOC}",
        )
    return HeadroomCost(
        replicas,
        strategy,
        nodes,
        billed,
        None if billed is None else billed * nodes,
        f"{pool.machine_type} {'spot' if pool.spot else 'on-demand'}: {price.source}",
    )


def _buffer_lines(config: StackConfig, model: str | None = None) -> list[CostLine]:
    """The idle nodes of ``serving.capacityBuffer``, priced by ``headroom_cost`` (items prefixed by ``model``)."""
    buffer = config.serving.capacity_buffer
    if not buffer.replicas:
        return []
    cost = headroom_cost(config, buffer.replicas, buffer.strategy)
    machine = config.gpu_pools[config.serving.pool].machine_type
    detail = f"{buffer.replicas} replica(s), {buffer.strategy}: {cost.nodes} × {machine} kept idle"
    return [CostLine(_item("capacity buffer", model), detail, cost.hourly, cost.hourly, cost.source, cost.nodes,
                     cost.nodes)]


def _item(item: str, model: str | None) -> str:
    return item if model is None else f"{model}: {item}"


def _storage_lines(config: StackConfig, model: str | None = None) -> list[CostLine]:
    """The model's bytes in the bucket and its backend's disks or share (items prefixed by ``model``)."""
    def monthly_line(item: str, detail: str, monthly: float, source: str) -> CostLine:
        hourly = monthly / prices.HOURS_PER_MONTH
        return CostLine(_item(item, model), detail, hourly, hourly, source)

    lines = []
    model_gib = config.model.weight_bytes() / prices.GIB
    bucket, source = storage_price(config, "bucketGbMonth")
    lines.append(monthly_line("model bucket", f"{model_gib:.1f} GiB Standard", model_gib * bucket, source))
    weights = config.model.weights
    serving_zones = set(config.pool_zones(config.serving.pool))
    if config.serving.spot_pool:
        serving_zones |= set(config.pool_zones(config.serving.spot_pool))
    disks = len(serving_zones)
    if weights.backend is WeightsBackend.HYPERDISK_ML:
        hd_disk = weights.hyperdisk_ml
        gb_price, gb_source = storage_price(config, "hyperdiskMlGbMonth")
        tp_price, tp_source = storage_price(config, "hyperdiskMlMibpsMonth")
        monthly = disks * (hd_disk.size_gb * gb_price + hd_disk.throughput_mibps * tp_price)
        detail = f"{disks} zonal disk(s) × ({hd_disk.size_gb} GiB + {hd_disk.throughput_mibps} MiB/s)"
        lines.append(monthly_line("Hyperdisk ML", detail, monthly, f"{gb_source}; {tp_source}"))
    elif weights.backend is WeightsBackend.PERSISTENT_DISK:
        disk = weights.persistent_disk
        key = "pdSsdGbMonth" if disk.disk_type == "pd-ssd" else "pdBalancedGbMonth"
        gb_price, gb_source = storage_price(config, key)
        lines.append(
            monthly_line(
                "model disk",
                f"{disks} zonal {disk.disk_type} × {disk.size_gb} GiB",
                disks * disk.size_gb * gb_price,
                gb_source,
            )
        )
    elif weights.backend is WeightsBackend.FILESTORE:
        share = weights.filestore
        gb_price, gb_source = storage_price(config, prices.FILESTORE_TIER_KEY[share.tier])
        lines.append(
            monthly_line("Filestore", f"{share.tier} {share.capacity_gb} GiB", share.capacity_gb * gb_price, gb_source)
        )
    return lines
