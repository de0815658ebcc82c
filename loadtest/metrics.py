"""Per-request records and the benchmark metrics, defined exactly as `vllm bench serve` does.

Source: vllm 0.32 `vllm/benchmarks/serve.py::calculate_metrics` and
`vllm/benchmarks/lib/endpoint_request_func.py` (read in .venv-serve), summarised in
/work/shared/reference/serving-peers.md §3(c):

- TTFT: time from sending the request to the first streamed message that has `choices`.
- ITL: every gap between consecutive messages with `choices`, pooled over all requests.
- E2EL (latency): send -> last message with `choices` (the trailing usage message is excluded).
- TPOT: per request, (E2EL - TTFT) / (output_tokens - 1), only for output_tokens > 1;
  for goodput a request with <= 1 output token has TPOT 0.
- output_tokens: `usage.completion_tokens` of the final message (`stream_options.include_usage`).
- Throughputs divide by the benchmark duration (first send -> last completion).
- Goodput: requests meeting *every* given SLO (ttft/tpot/e2el, ms) per second.
- Percentiles: numpy's default (linear) `np.percentile`; mean/median/std over the same lists.

Result keys follow vLLM's result JSON (`mean_ttft_ms`, `median_tpot_ms`, `p99_itl_ms`,
`output_throughput`, ...) so the two tools' outputs can be diffed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

METRICS = ("ttft", "tpot", "itl", "e2el")
DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)


@dataclass
class RequestRecord:
    """One request as the client saw it (times in seconds).

    start: wall-clock send time (`time.time()`), for time series and for matching to events
    such as a SIGTERM; ttft/itl/latency are from a monotonic clock.
    """

    start: float
    success: bool = False
    ttft: float = 0.0
    itl: list[float] = field(default_factory=list)
    latency: float = 0.0
    output_tokens: int | None = None
    prompt_len: int = 0
    error: str = ""
    finish_reason: str | None = None
    endpoint: str = ""
    expected_output_len: int | None = None
    retries: int = 0  # resends on a fresh connection (loadtest/connections.py)

    @property
    def end(self) -> float:
        return self.start + self.latency

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile_key(p: float) -> str:
    """vLLM's key word for a percentile: 99 -> "99", 99.9 -> "99.9"."""
    return str(int(p)) if int(p) == p else str(p)


def output_len(record: RequestRecord) -> int:
    """Output tokens of a successful request: usage, else the number of token messages."""
    if record.output_tokens:
        return int(record.output_tokens)
    # vLLM falls back to re-tokenizing the text; with include_usage the server always reports
    # usage, so this only applies to servers that do not (one message per token assumed).
    return len(record.itl) + 1


def compute_metrics(
    records: Iterable[RequestRecord],
    duration: float,
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
    goodput_slos_ms: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The `vllm bench serve` metrics of `records` over `duration` seconds.

    Args:
        records: one per request sent (failed ones included).
        duration: benchmark duration in seconds (first send to last completion).
        percentiles: which percentiles to report (default 50, 90, 99).
        goodput_slos_ms: optional SLOs in milliseconds, keys among ttft, tpot, e2el.
    Returns: a dict with vLLM's result keys (ms for latencies, per second for throughputs).
    """
    if duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    records = list(records)
    percentiles = list(percentiles)
    slos = dict(goodput_slos_ms or {})
    unknown = set(slos) - {"ttft", "tpot", "e2el"}
    if unknown:
        raise ValueError(f"goodput SLO keys must be ttft, tpot or e2el; got {sorted(unknown)}")

    ttfts: list[float] = []
    tpots: list[float] = []
    all_tpots: list[float] = []
    itls: list[float] = []
    e2els: list[float] = []
    total_input = total_output = completed = 0
    for r in records:
        if not r.success:
            continue
        n_out = output_len(r)
        total_output += n_out
        total_input += r.prompt_len
        tpot = 0.0
        if n_out > 1:
            tpot = (r.latency - r.ttft) / (n_out - 1)
            tpots.append(tpot)
        all_tpots.append(tpot)
        itls += r.itl
        ttfts.append(r.ttft)
        e2els.append(r.latency)
        completed += 1

    good = 0
    if slos:
        columns = {"ttft": ttfts, "tpot": all_tpots, "e2el": e2els}
        chosen = [(columns[k], slos[k] / 1000.0) for k in ("ttft", "tpot", "e2el") if k in slos]
        for values in zip(*(c for c, _ in chosen), strict=True):
            if all(v <= limit for v, (_, limit) in zip(values, chosen, strict=True)):
                good += 1

    result: dict[str, Any] = {
        "duration": duration,
        "completed": completed,
        "failed": len(records) - completed,
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": completed / duration,
        "request_goodput": (good / duration) if slos else None,
        "output_throughput": total_output / duration,
        "total_token_throughput": (total_input + total_output) / duration,
    }
    for name, samples in (("ttft", ttfts), ("tpot", tpots), ("itl", itls), ("e2el", e2els)):
        arr = np.asarray(samples or [0.0], dtype=float) * 1000.0
        result[f"mean_{name}_ms"] = float(np.mean(arr))
        result[f"median_{name}_ms"] = float(np.median(arr))
        result[f"std_{name}_ms"] = float(np.std(arr))
        for p in percentiles:
            result[f"p{percentile_key(p)}_{name}_ms"] = float(np.percentile(arr, p))
    series = time_series(records)
    result["max_output_tokens_per_s"] = float(max(series["output_tokens"], default=0.0))
    result["max_concurrent_requests"] = int(max(series["concurrent_requests"], default=0))
    return result


def time_series(records: Iterable[RequestRecord]) -> dict[str, list[float]]:
    """Per-second buckets over successful requests, as vLLM computes them.

    output_tokens: token messages per second (first at start+ttft, then +each ITL);
    concurrent_requests: requests active at any time within each second;
    completed_requests: requests finishing in each second. Bucket 0 starts at the first send.
    """
    ok = [r for r in records if r.success]
    if not ok:
        return {"t": [], "output_tokens": [], "concurrent_requests": [], "completed_requests": []}
    t0 = min(r.start for r in ok)
    n = int(np.ceil(max(r.end for r in ok) - t0)) + 1
    tokens = np.zeros(n)
    concurrent = np.zeros(n)
    completed = np.zeros(n)
    for r in ok:
        t = r.start + r.ttft
        times = [t]
        for gap in r.itl:
            t += gap
            times.append(t)
        for tt in times:
            b = int(tt - t0)
            if 0 <= b < n:
                tokens[b] += 1
        for s in range(int(r.start - t0), int(r.end - t0) + 1):
            concurrent[s] += 1
        completed[min(int(r.end - t0), n - 1)] += 1
    return {
        "t": list(range(n)),
        "output_tokens": tokens.tolist(),
        "concurrent_requests": concurrent.tolist(),
        "completed_requests": completed.tolist(),
    }
