"""``gke-infer estimate`` and ``gke-infer simulate``: planning before paying.

* ``estimate STACK [--set ...] [--report report.json] [--json]``: a replica's cold start term by
  term (each with its source and assumption), the cost of every pool at minimum and maximum
  nodes (hourly and monthly, on-demand vs Spot), storage, and dollars per million output tokens.
* ``simulate STACK [--trace FILE | --pattern poisson|burst|diurnal] [--seed N] [--duration S]
  [--out DIR] [--report report.json] [--json]``: the fleet under the autoscaling presets (the stack's,
  common alternatives, headroom and Pod-snapshot variants) on the same requests, ranked by SLO
  attainment and GPU-hours, beside the static-peak and oracle limits, plus a PNG of load, replicas and latency.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stack.cli import add_stack_arguments
from stack.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    estimate = subparsers.add_parser(
        "estimate",
        help="cold-start breakdown per replica and cost at min/max replicas",
        description="Cold start term by term with sources, and the stack's cost (hourly, monthly) at its minimum and "
        "maximum size, on-demand vs Spot, with storage and $/million output tokens.",
    )
    add_stack_arguments(estimate)
    estimate.add_argument(
        "--report", metavar="FILE", help="load-test report.json: per-replica output tokens/s (and concurrency)"
    )
    estimate.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_model_argument(estimate, "the cold start and start options of this model")
    estimate.set_defaults(func=run_estimate)

    simulate = subparsers.add_parser(
        "simulate",
        help="simulate autoscaling presets on a trace or synthetic load",
        description="Discrete-event simulation of the vLLM fleet under this stack's autoscaling, common "
        "alternatives, headroom (capacity buffers) and Pod-snapshot starts, on the same requests; ranks them by SLO "
        "attainment and GPU-hours beside two limits (static peak, an oracle that knows the trace) and plots them.",
    )
    add_stack_arguments(simulate)
    source = simulate.add_mutually_exclusive_group()
    source.add_argument("--trace", metavar="FILE", help="requests as JSON lines or CSV: t, input_tokens, output_tokens")
    source.add_argument(
        "--pattern", choices=("poisson", "burst", "diurnal"), default=None, help="synthetic load (default burst)"
    )
    simulate.add_argument("--seed", type=int, default=1, help="random seed (same seed, same numbers)")
    simulate.add_argument(
        "--duration", type=float, default=None, help="seconds to simulate (default 3600, or the trace's length)"
    )
    simulate.add_argument("--out", type=Path, default=None, help="directory for the PNG and JSON (default out/STACK)")
    simulate.add_argument("--report", metavar="FILE", help="load-test report.json for per-replica throughput")
    simulate.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_model_argument(simulate, "simulate this model's fleet (its pool, engine, autoscaling)")
    simulate.set_defaults(func=run_simulate)


def _add_model_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--model", metavar="KEY", default=None,
                        help=f"{what}: a `models` key or the top-level model's serving.name (default: the top-level "
                        "model)")


def model_view(config, key: str | None):
    """The config of the model ``key`` (``StackConfig.model_views``); the stack's own for None. ValueError naming
    the choices for an unknown key."""
    if key is None:
        return config
    views = config.model_views()
    if key not in views:
        raise ValueError(f"--model {key}: not a model of the stack; one of: {', '.join(views)}")
    return views[key]


def _input_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------------------------
# estimate
# --------------------------------------------------------------------------------------------


def run_estimate(args: argparse.Namespace) -> int:
    from stack.cli.render import print_config_errors
    from stack.plan.estimate import ReportError, estimate_cold_start, estimate_cost
    from stack.render import load_stack_config

    try:
        config = load_stack_config(args.stack, args.overrides)
    except ConfigError as err:
        return print_config_errors(err)
    from stack.plan.estimate import headroom_cost
    from stack.plan.simulate.startup import stack_startup, start_options

    try:
        view = model_view(config, args.model)
        cold = estimate_cold_start(view)
        cost = estimate_cost(config, args.report)
    except (ReportError, ValueError) as err:
        return _input_error(str(err))
    starts = start_options(view)
    headroom = _headroom_lines(view, stack_startup(view), headroom_cost)
    fallback = fallback_prices(config)
    if args.json:
        document = {
            "stack": args.stack,
            "coldStart": cold.as_dict(),
            "startOptions": [option.as_dict() for option in starts],
            "headroom": [line.as_dict() for line in headroom],
            "fallbackOrder": [rule.as_dict() for rule in fallback],
            "cost": cost.as_dict(),
        }
        print(json.dumps(document, indent=2))
        return 0
    _print_estimate(args.stack, view, cold, cost)
    _print_start_options(cold, starts, headroom)
    _print_fallback(fallback)
    return 0


def _print_model_costs(console, cost) -> None:
    """Each model's share of the total: its serving nodes, buffer and storage; the rest is shared."""
    from rich.table import Table

    from stack.prices import HOURS_PER_MONTH

    table = Table(title="Cost per model (its serving nodes, capacity buffer and storage; USD)", title_justify="left")
    for column in ("model", "served name", "replicas", "nodes", "$/h min", "$/h max", "$/month min", "$/month max"):
        table.add_column(column, justify="left" if column in ("model", "served name") else "right")
    for model in cost.models:
        low, high = model.hourly_at_min, model.hourly_at_max
        table.add_row(model.key, model.served_model_name, f"{model.replicas[0]}–{model.replicas[1]}",
                      f"{model.nodes[0]}–{model.nodes[1]}", _money(low), _money(high),
                      _money(low * HOURS_PER_MONTH, 0), _money(high * HOURS_PER_MONTH, 0))
    low, high = cost.shared("min"), cost.shared("max")
    table.add_row("shared", "system pool, cluster fee, pool minimums", "", "", _money(low), _money(high),
                  _money(low * HOURS_PER_MONTH, 0), _money(high * HOURS_PER_MONTH, 0))
    table.add_row("[bold]total[/]", "", "", "", _money(cost.total("min")), _money(cost.total("max")),
                  _money(cost.total("min") * HOURS_PER_MONTH, 0), _money(cost.total("max") * HOURS_PER_MONTH, 0))
    console.print(table)


def fallback_prices(config) -> list:
    """Hourly node price of each rule of ``serving.computeClass`` (empty without one), in the class's order."""
    from stack.config.capacity import price_fallback_order

    args = config.compute_class_args()
    if args is None:
        return []
    pools = {name: (pool.machine_type, pool.spot) for name, pool in config.gpu_pools.items()}
    return price_fallback_order(args.priorities, pools, config.planning.prices)


def _print_fallback(rules: list) -> None:
    for rule in rules:
        low, high = _money(rule.low_hourly), _money(rule.hourly)
        price = high if low == high else f"{low}–{high}"
        print(f"Fallback {rule.index + 1}: {rule.rule}: {price}/h per node ({rule.source})")


def _headroom_lines(config, own, price) -> list:
    """The stack's own buffer, or (none configured) what one of headroomReplicas would cost, active and standby."""
    if own.buffer_replicas:
        return [price(config, own.buffer_replicas, own.buffer_strategy)]
    size = config.planning.simulation.headroom_replicas
    return [price(config, size, "active"), price(config, size, "standby")]


def _print_start_options(cold, starts, headroom) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    table = Table(
        title="Cold start of one replica by how it starts (terms that differ from a new node)", title_justify="left"
    )
    for column in ("start", "total s", "term", "seconds", "source", "assumption"):
        table.add_column(column, justify="right" if column in ("total s", "seconds") else "left", overflow="fold")
    plain = {(t.name, round(t.seconds, 3)) for t in cold.terms}
    for option in starts:
        if option.estimate is None:
            table.add_row(option.label, "refused", "", "", "", option.refusal or "")
            continue
        changed = [t for t in option.estimate.terms if (t.name, round(t.seconds, 3)) not in plain]
        dropped = sorted({t.name for t in cold.terms} - {t.name for t in option.estimate.terms})
        first = True
        for term in changed or [None]:
            table.add_row(
                option.label if first else "",
                f"{option.estimate.total_seconds:.1f}" if first else "",
                "" if term is None else term.name,
                "" if term is None else f"{term.seconds:.1f}",
                "" if term is None else term.source,
                "" if term is None else term.assumption,
            )
            first = False
        if dropped:
            table.add_row("", "", "not needed", "", "", ", ".join(dropped))
    console.print(table)
    for line in headroom:
        hourly = "n/a (no price)" if line.hourly is None else f"${line.hourly:,.2f}/h"
        console.print(
            f"Headroom: CapacityBuffer of {line.replicas} replica(s), {line.strategy}: {line.nodes} node(s) idle, "
            f"{hourly} ({line.source})"
        )


def _money(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"${value:,.{digits}f}"


def _print_estimate(stack: str, config, cold, cost) -> None:
    from rich.console import Console
    from rich.table import Table

    from stack.prices import HOURS_PER_MONTH, PRICES_AS_OF

    console = Console(width=200)
    console.print(
        f"[bold]{stack}[/]: {config.model.id} ({config.model.parameters_billions:g}B {config.model.weight_dtype}, "
        f"{config.model.weight_bytes() / 1e9:.1f} GB) on {config.gpu_pools[config.serving.pool].machine_type}, "
        f"weights via {cold.backend}"
    )
    table = Table(title="Cold start of one new replica", title_justify="left")
    for column in ("term", "seconds", "source", "assumption"):
        table.add_column(column, justify="right" if column == "seconds" else "left", overflow="fold")
    for term in cold.terms:
        table.add_row(term.name, f"{term.seconds:.1f}", term.source, term.assumption)
    table.add_row(
        "[bold]total[/]",
        f"[bold]{cold.total_seconds:.1f}[/]",
        "",
        f"container start → Ready: {cold.container_seconds:.1f} s (startupProbe window)",
    )
    console.print(table)

    low, high = cost.replicas
    table = Table(
        title=f"Cost at {low} and {high} replicas (USD, prices as of {PRICES_AS_OF}; month = {HOURS_PER_MONTH:g} h)",
        title_justify="left",
    )
    for column in (
        "item",
        "detail",
        "nodes",
        "$/h min",
        "$/h max",
        "$/month min",
        "$/month max",
        "if on-demand $/h max",
        "if spot $/h max",
        "source",
    ):
        table.add_column(column, justify="left" if column in ("item", "detail", "source") else "right", overflow="fold")
    for line in cost.lines:
        nodes = "" if line.nodes_at_min is None else f"{line.nodes_at_min}–{line.nodes_at_max}"
        alt_od = (
            "" if line.on_demand_node_hourly is None else _money(line.on_demand_node_hourly * (line.nodes_at_max or 0))
        )
        alt_spot = "" if line.spot_node_hourly is None else _money(line.spot_node_hourly * (line.nodes_at_max or 0))
        table.add_row(
            line.item,
            line.detail,
            nodes,
            _money(line.hourly_at_min),
            _money(line.hourly_at_max),
            _money(line.monthly(line.hourly_at_min), 0),
            _money(line.monthly(line.hourly_at_max), 0),
            alt_od,
            alt_spot,
            line.source,
        )
    table.add_row(
        "[bold]total[/]",
        "",
        "",
        _money(cost.total("min")),
        _money(cost.total("max")),
        _money(cost.total("min") * HOURS_PER_MONTH, 0),
        _money(cost.total("max") * HOURS_PER_MONTH, 0),
        "",
        "",
        "",
    )
    console.print(table)
    if len(cost.models) > 1:
        _print_model_costs(console, cost)
    tp = cost.throughput
    per_million = cost.dollars_per_million_tokens()
    console.print(
        f"Throughput per replica: {tp.output_tokens_per_second:,.0f} output tok/s at {tp.concurrency} concurrent "
        f"({tp.source})\n"
        f"$ per million output tokens at full load: on-demand {_money(per_million['onDemand'], 3)}, "
        f"spot {_money(per_million['spot'], 3)} (replica at {_money(cost.per_replica_hourly['onDemand'])}/h on-demand, "
        f"{_money(cost.per_replica_hourly['spot'])}/h spot)"
    )
    for item in cost.missing:
        console.print(f"[yellow]warning[/]: no price for {item}; set it under planning.prices / planning.storagePrices")


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def run_simulate(args: argparse.Namespace) -> int:
    from stack.cli.render import print_config_errors
    from stack.plan.estimate import ReportError, resolve_throughput
    from stack.plan.simulate.plot import plot_comparison
    from stack.plan.simulate.presets import compare, duration_default, notes, synthetic_requests
    from stack.plan.simulate.traffic import TraceError, load_trace
    from stack.render import load_stack_config

    try:
        config = load_stack_config(args.stack, args.overrides)
    except ConfigError as err:
        return print_config_errors(err)
    try:
        config = model_view(config, args.model)
    except ValueError as err:
        return _input_error(str(err))
    if args.duration is not None and args.duration <= 0:
        return _input_error(f"--duration must be positive, got {args.duration:g}")
    try:
        throughput = resolve_throughput(config, args.report)
        sim = config.planning.simulation
        if args.trace:
            requests = load_trace(
                args.trace, input_tokens=sim.input_tokens, output_tokens=sim.output_tokens, duration=args.duration
            )
            duration = duration_default(requests.duration, args.duration)
            label = Path(args.trace).stem
        else:
            duration = duration_default(None, args.duration)
            pattern = args.pattern or "burst"
            requests = synthetic_requests(config, throughput, pattern, duration, args.seed)
            label = pattern
    except (ReportError, TraceError) as err:
        return _input_error(str(err))
    comparison = compare(config, requests, duration, args.seed, args.report)
    out_dir = args.out or Path("out") / args.stack / (config.model_key or "")
    png = plot_comparison(comparison, out_dir / f"simulate-{label}.png", f"{args.stack}: {requests.description}")
    document = _simulation_document(args.stack, comparison, png) | {"notes": notes(config, comparison)}
    (out_dir / f"simulate-{label}.json").write_text(json.dumps(document, indent=2))
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        _print_simulation(args.stack, comparison, png, document["notes"])
    return 0


def _simulation_document(stack: str, comparison, png: Path) -> dict[str, Any]:
    return {
        "stack": stack,
        "requests": comparison.requests.description,
        "durationSeconds": comparison.duration,
        "seed": comparison.seed,
        "coldStartSeconds": round(comparison.cold_start_seconds, 1),
        "throughput": comparison.throughput.as_dict(),
        "sloTarget": comparison.slo_target,
        "slo": {"queueWaitSeconds": comparison.slo_wait, "ttftSeconds": comparison.slo_ttft},
        "ranking": [_row(comparison, r) for r in comparison.ranked()],
        "limits": [_row(comparison, r) for r in comparison.limits()],
        "notApplicable": [{"preset": n.name, "reason": n.reason} for n in comparison.not_applicable],
        "plot": str(png),
    }


def _row(comparison, result) -> dict[str, Any]:
    startup = comparison.startups.get(result.name)
    return result.row() | {
        "startup": startup.as_dict() if startup else None,
        "dominatedBy": [r.name for r in comparison.dominated_by(result)],
    }


def _print_simulation(stack: str, comparison, png: Path, document_notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    tp = comparison.throughput
    console.print(
        f"[bold]{stack}[/]: {comparison.requests.description}; {len(comparison.requests)} requests; replica cold start "
        f"{comparison.cold_start_seconds:.0f} s (new node); "
        f"{tp.output_tokens_per_second:,.0f} tok/s × {tp.concurrency} per replica"
    )
    table = Table(
        title=f"Autoscaling presets, ranked (SLO target {comparison.slo_target:.0%} of requests)", title_justify="left"
    )
    for column in (
        "#",
        "preset",
        "SLO attainment",
        f"wait ≤ {comparison.slo_wait:g} s",
        f"TTFT ≤ {comparison.slo_ttft:g} s",
        "p95 wait s",
        "p95 TTFT s",
        "GPU-hours",
        "cost $",
        "max replicas",
        "scale events",
        "meets",
    ):
        table.add_column(column, justify="left" if column == "preset" else "right")
    rows = [(str(rank), result) for rank, result in enumerate(comparison.ranked(), 1)]
    rows += [("limit", result) for result in comparison.limits()]
    for index, (rank, result) in enumerate(rows):
        if index == len(comparison.ranked()):
            table.add_section()  # the limits, below the ranked presets
        table.add_row(
            rank,
            result.name,
            f"{result.attainment:.1%}",
            f"{result.wait_attainment:.1%}",
            f"{result.ttft_attainment:.1%}",
            f"{result.p95_wait:.1f}",
            f"{result.p95_ttft:.1f}",
            f"{result.gpu_hours:.1f}",
            f"{result.cost:,.2f}",
            str(result.max_replicas),
            str(result.scale_events),
            "yes" if result.attainment >= comparison.slo_target else "no",
        )
    for skipped in comparison.not_applicable:
        table.add_row("n/a", skipped.name, "not applicable", *[""] * 9)
    console.print(table)
    for note in document_notes:
        console.print(f"[yellow]note[/]: {note}")
    console.print(f"plot: {png}")
