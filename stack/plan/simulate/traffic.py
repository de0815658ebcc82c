"""Request arrivals: synthetic patterns (poisson, burst, diurnal) and recorded traces.

Rates are given in requests/s; the presets scale them to the fleet's capacity so the same pattern
means the same thing on an L4 dev stack and an H100 prod stack.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATTERNS = ("poisson", "burst", "diurnal")
BURST_START, BURST_END = 0.2, 0.45
"""The burst holds the peak rate from 20 % to 45 % of the duration (15 minutes of an hour)."""


@dataclass(frozen=True)
class Requests:
    """Arrival times (s, sorted) and token counts of each request."""

    arrival: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    description: str

    def __len__(self) -> int:
        return len(self.arrival)

    @property
    def duration(self) -> float:
        return float(self.arrival[-1]) if len(self.arrival) else 0.0


class TraceError(ValueError):
    """A trace file that cannot be read."""


def rate_function(
    pattern: str, base_rps: float, peak_rps: float, duration: float
) -> Callable[[np.ndarray], np.ndarray]:
    """λ(t) of a named pattern.

    * poisson: constant, halfway between base and peak;
    * burst: base, then peak from 20 % to 45 % of the duration, then base;
    * diurnal: one compressed day, base at the start and end, peak in the middle (raised cosine).
    """
    if pattern == "poisson":
        mid = (base_rps + peak_rps) / 2
        return lambda t: np.full_like(t, mid, dtype=float)
    if pattern == "burst":
        return lambda t: np.where((t >= BURST_START * duration) & (t < BURST_END * duration), peak_rps, base_rps)
    if pattern == "diurnal":
        return lambda t: base_rps + (peak_rps - base_rps) * (1 - np.cos(2 * math.pi * t / duration)) / 2
    raise ValueError(f"unknown pattern '{pattern}'; one of {', '.join(PATTERNS)}")


def generate(
    pattern: str,
    *,
    base_rps: float,
    peak_rps: float,
    duration: float,
    seed: int,
    input_tokens: int,
    output_tokens: int,
) -> Requests:
    """A non-homogeneous Poisson process for ``pattern`` (thinning), fixed token counts.

    Same arguments and seed ⇒ the same arrivals.
    """
    rng = np.random.default_rng(seed)
    rate = rate_function(pattern, base_rps, peak_rps, duration)
    lam_max = max(base_rps, peak_rps, (base_rps + peak_rps) / 2)
    count = rng.poisson(lam_max * duration)
    times = np.sort(rng.uniform(0.0, duration, size=count))
    keep = rng.uniform(0.0, lam_max, size=count) < rate(times)
    times = times[keep]
    n = len(times)
    return Requests(
        times,
        np.full(n, input_tokens, dtype=np.int64),
        np.full(n, output_tokens, dtype=np.int64),
        f"{pattern}: {base_rps:.2f}–{peak_rps:.2f} req/s over {duration:g} s, seed {seed}",
    )


_TIME_KEYS = ("t", "time", "timestamp", "arrival", "arrival_time")
_INPUT_KEYS = ("input_tokens", "prompt_tokens", "inputTokens", "promptTokens", "input_len")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens", "outputTokens", "completionTokens", "output_len")


def _get(row: dict, keys: tuple[str, ...], default: float | None, where: str) -> float:
    for key in keys:
        if key in row and row[key] not in (None, ""):
            return float(row[key])
    if default is None:
        raise TraceError(f"{where}: no arrival time (one of {', '.join(keys)})")
    return default


def load_trace(path: str | Path, *, input_tokens: int, output_tokens: int, duration: float | None = None) -> Requests:
    """Read a trace: JSON lines or CSV with a header, one request per row.

    Columns: arrival time in seconds (``t``/``time``/``timestamp``; absolute times are shifted to
    start at 0), and optionally ``input_tokens``/``prompt_tokens`` and
    ``output_tokens``/``completion_tokens`` (missing ones use the planning defaults). Rows after
    ``duration`` are dropped.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise TraceError(f"--trace {path}: {err}") from None
    rows: list[dict] = []
    if path.suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as err:
                    raise TraceError(f"--trace {path}:{number}: not JSON ({err})") from None
    if not rows:
        raise TraceError(f"--trace {path}: no requests")
    times = np.array(
        [_get(r, _TIME_KEYS, None, f"--trace {path} row {i + 1}") for i, r in enumerate(rows)], dtype=float
    )
    ins = np.array([_get(r, _INPUT_KEYS, input_tokens, "") for r in rows], dtype=np.int64)
    outs = np.array([max(1.0, _get(r, _OUTPUT_KEYS, output_tokens, "")) for r in rows], dtype=np.int64)
    order = np.argsort(times, kind="stable")
    times, ins, outs = times[order] - times[order][0], ins[order], outs[order]
    if duration is not None:
        keep = times <= duration
        times, ins, outs = times[keep], ins[keep], outs[keep]
    return Requests(
        times, ins, outs, f"trace {path.name}: {len(times)} requests over {times[-1] if len(times) else 0:.0f} s"
    )
