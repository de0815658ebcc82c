"""The fidelity grid's cells, their aggregation over rounds and the table (no vLLM here).

A cell is one workload shape (input / output tokens) at one total request rate; each round
runs both tools side by side on one server (bench/harness_fidelity.py). Per cell and metric
the figure is the median over rounds of each round's ours/theirs ratio, and the spread is the
lowest and highest of those per-round ratios. Results are kept as JSON (`bench/results/`) so
that a cell re-run under less contention replaces its earlier entry, which is kept beside it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS = ("median_ttft_ms", "median_tpot_ms", "output_throughput")
TARGET = (0.9, 1.1)


class GridSpecError(ValueError):
    """A bad --cell value; the message names it and the expected form."""


@dataclass(frozen=True)
class Shape:
    input_len: int
    output_len: int

    @property
    def label(self) -> str:
        return f"{self.input_len}/{self.output_len}"


@dataclass(frozen=True)
class RateSpec:
    """A total request rate: absolute (req/s) or a fraction of the shape's measured capacity."""

    value: float
    of_capacity: bool

    def resolve(self, capacity: float | None) -> float:
        if not self.of_capacity:
            return self.value
        if capacity is None:
            raise GridSpecError(f"rate {self.value:g}x needs the shape's measured capacity")
        return round(self.value * capacity, 2)


def parse_cell_spec(text: str) -> tuple[Shape, list[RateSpec]]:
    """`"1024x128@0.2x,0.6x,1.5x"` or `"128x32@4,16"` -> (shape, rates).

    A rate ending in `x` is a fraction of the shape's capacity (closed-loop request
    throughput measured at the start of the run); otherwise total req/s (both tools together).
    """
    form = "expected INPUTxOUTPUT@RATE[,RATE...], e.g. 1024x128@0.2x,0.6x,1.5x or 128x32@4,16"
    shape_text, at, rates_text = text.partition("@")
    lengths = shape_text.lower().split("x")
    if not at or len(lengths) != 2 or not rates_text:
        raise GridSpecError(f"--cell {text!r}: {form}")
    try:
        shape = Shape(int(lengths[0]), int(lengths[1]))
    except ValueError:
        raise GridSpecError(f"--cell {text!r}: token lengths must be integers; {form}") from None
    if shape.input_len < 1 or shape.output_len < 2:
        raise GridSpecError(f"--cell {text!r}: input >= 1 and output >= 2 tokens (TPOT needs 2)")
    rates = []
    for item in rates_text.split(","):
        item = item.strip()
        relative = item.endswith("x")
        try:
            value = float(item[:-1] if relative else item)
        except ValueError:
            raise GridSpecError(f"--cell {text!r}: rate {item!r} is not a number; {form}") from None
        if value <= 0:
            raise GridSpecError(f"--cell {text!r}: rate {item!r} must be > 0")
        rates.append(RateSpec(value, relative))
    return shape, rates


def prompts_per_tool(rate: float, seconds: float, *, least: int = 16, most: int = 400) -> int:
    """Prompts each tool sends so that a round's schedule lasts about `seconds` at `rate`
    req/s in total (each tool sends half), within [least, most]."""
    return max(least, min(most, round(rate / 2 * seconds)))


def ratio_spread(key: str, ours: list[dict], theirs: list[dict]) -> dict[str, Any]:
    """Per-round ours/theirs ratios of `key`: their median, lowest and highest."""
    if not ours or len(ours) != len(theirs):
        raise ValueError(f"{key}: need as many rounds of ours as of theirs, and at least one "
                         f"(got {len(ours)} and {len(theirs)})")
    rounds = [o[key] / t[key] for o, t in zip(ours, theirs, strict=True)]
    return {"median": statistics.median(rounds), "min": min(rounds), "max": max(rounds),
            "rounds": rounds}


def fidelity_ratio(key: str, ours: list[dict], theirs: list[dict], *,
                   paired: bool) -> tuple[float, list[float]]:
    """Ours/theirs for `key` over the rounds: (the ratio, each round's ratio if `paired`).

    Side by side (`paired`), each round's two figures come from one server at the same
    moments, so the ratio is taken per round and the median over rounds returned; the
    server's speed moves several-fold between rounds here, and a ratio of medians over rounds
    would compare different rounds' servers. Sequential rounds are not paired: the ratio of
    the per-tool medians over rounds.
    """
    if paired:
        spread = ratio_spread(key, ours, theirs)
        return spread["median"], spread["rounds"]
    return (statistics.median(r[key] for r in ours) / statistics.median(r[key] for r in theirs),
            [])


def summarize_cell(ours: list[dict], theirs: list[dict]) -> dict[str, Any]:
    """A cell's ratios (see ratio_spread) and both tools' median figures over rounds."""
    return {
        "ratios": {key: ratio_spread(key, ours, theirs) for key in KEYS},
        "ours": {key: statistics.median(r[key] for r in ours) for key in KEYS},
        "theirs": {key: statistics.median(r[key] for r in theirs) for key in KEYS},
        "failed": {"ours": sum(int(r["failed"]) for r in ours),
                   "theirs": sum(int(r["failed"]) for r in theirs)},
        # Both tools' output throughput together, per round: what the server delivered.
        "served_tok_s": statistics.median(o["output_throughput"] + t["output_throughput"]
                                          for o, t in zip(ours, theirs, strict=True)),
    }


def off_target(cell: dict[str, Any], target: tuple[float, float] = TARGET) -> list[str]:
    """The keys whose median ratio lies outside `target`."""
    lo, hi = target
    return [k for k in KEYS if not lo <= cell["ratios"][k]["median"] <= hi]


def cell_key(shape_label: str, rate: float) -> str:
    return f"{shape_label}@{rate:g}"


def merge_cell(results: dict[str, Any], cell: dict[str, Any]) -> None:
    """Put `cell` into `results["cells"]`; an earlier run of the same cell moves to its
    `earlier` list (kept, not hidden)."""
    cells = results.setdefault("cells", {})
    key = cell_key(cell["shape"], cell["rate"])
    if key in cells:
        previous = cells[key]
        cell["earlier"] = [*previous.pop("earlier", []), previous]
    cells[key] = cell


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"cells": {}, "capacity": {}}


def save_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def _ratio(r: dict[str, Any]) -> str:
    return f"{r['median']:.3f} [{r['min']:.2f}–{r['max']:.2f}]"


def _sorted(cells: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def order(c: dict[str, Any]) -> tuple[int, int, float]:
        i, o = (int(x) for x in c["shape"].split("/"))
        return i, o, c["rate"]

    return sorted(cells, key=order)


WIRE_KEYS = ("wire_median_ttft_ms", "wire_median_tpot_ms")


def wire_view(cell: dict[str, Any]) -> dict[str, Any] | None:
    """What the packets say about a cell run with ``--wire`` (None without captures in every round): the
    ours/theirs ratio of the wire medians (did the server treat both tools alike?) and, per tool, the median over
    rounds of its reported TTFT minus its wire TTFT (how late the client stamps the first token)."""
    ours, theirs = cell.get("rounds_ours") or [], cell.get("rounds_theirs") or []
    if not ours or any(r.get(k) is None for r in (*ours, *theirs) for k in WIRE_KEYS):
        return None
    return {
        "ttft_ratio": ratio_spread("wire_median_ttft_ms", ours, theirs),
        "tpot_ratio": ratio_spread("wire_median_tpot_ms", ours, theirs),
        "stamp_delay_ms": {
            tool: statistics.median(r["median_ttft_ms"] - r["wire_median_ttft_ms"] for r in rounds)
            for tool, rounds in (("ours", ours), ("theirs", theirs))
        },
    }


def wire_table(results: dict[str, Any]) -> str:
    """The markdown table of the cells captured on the wire: reported and wire TTFT ratios, the wire TPOT ratio,
    and each tool's stamp delay (reported − wire median TTFT, ms)."""
    head = ("| in/out tokens | rate req/s | reported TTFT ratio | wire TTFT ratio | wire TPOT ratio "
            "| stamp delay ms ours / theirs |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for c in _sorted(results["cells"].values()):
        wire = wire_view(c)
        if wire is None:
            continue
        delay = wire["stamp_delay_ms"]
        lines.append(
            f"| {c['shape']} | {c['rate']:g} | {_ratio(c['ratios']['median_ttft_ms'])} "
            f"| {_ratio(wire['ttft_ratio'])} | {_ratio(wire['tpot_ratio'])} "
            f"| {delay['ours']:+.1f} / {delay['theirs']:+.1f} |")
    return "\n".join(lines)


def grid_table(results: dict[str, Any]) -> str:
    """The markdown table of every cell, lightest shape and rate first.

    Columns: shape, total rate, served/offered output tokens, the three ratios as
    `median [min–max]` over rounds, both tools' median TTFT and TPOT (ms), rounds, failed
    requests (ours/theirs), the 1-minute load average before and after, in target.
    """
    head = ("| in/out tokens | rate req/s | served / offered tok/s | TTFT ratio | TPOT ratio "
            "| output tok/s ratio | median TTFT ms ours / theirs | median TPOT ms ours / theirs "
            "| rounds | failed | load avg before → after | within 0.9–1.1 |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for c in _sorted(results["cells"].values()):
        offered = c["rate"] * int(c["shape"].split("/")[1])
        off = off_target(c)
        lines.append(
            f"| {c['shape']} | {c['rate']:g} | {c['served_tok_s']:.0f} / {offered:.0f} "
            f"| {_ratio(c['ratios']['median_ttft_ms'])} | {_ratio(c['ratios']['median_tpot_ms'])} "
            f"| {_ratio(c['ratios']['output_throughput'])} "
            f"| {c['ours']['median_ttft_ms']:.1f} / {c['theirs']['median_ttft_ms']:.1f} "
            f"| {c['ours']['median_tpot_ms']:.2f} / {c['theirs']['median_tpot_ms']:.2f} "
            f"| {len(c['ratios']['median_ttft_ms']['rounds'])} "
            f"| {c['failed']['ours']} / {c['failed']['theirs']} "
            f"| {c['load_before']:.1f} → {c['load_after']:.1f} "
            f"| {'yes' if not off else 'no: ' + ', '.join(k.removesuffix('_ms') for k in off)} |")
    return "\n".join(lines)
