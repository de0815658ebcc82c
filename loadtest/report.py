"""Write a load test's results: `report.json`, `requests.jsonl` and PNG plots.

report.json = {"config": run settings, "summary": vLLM-shaped metrics (loadtest.metrics),
"slos_ms": the goodput SLOs, "errors": {message: count}, "connection_retries": requests resent
on a fresh connection, "time_series": per-second buckets, "files": the other files written}.
Secrets (the API key) are never written.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from loadtest.metrics import METRICS, RequestRecord, compute_metrics, percentile_key, time_series

LATENCY_PLOT = "latency_distributions.png"
TIMELINE_PLOT = "throughput_concurrency.png"


def build_report(records: list[RequestRecord], duration: float, config: dict[str, Any], *,
                 percentiles: list[float], slos_ms: dict[str, float] | None) -> dict[str, Any]:
    """The report dict (see module docstring) for `records` over `duration` seconds."""
    errors = Counter(r.error.splitlines()[0][:200] if r.error else "unknown"
                     for r in records if not r.success)
    return {
        "config": {k: v for k, v in config.items() if "key" not in k.lower()},
        "summary": compute_metrics(records, duration, percentiles, slos_ms),
        "slos_ms": slos_ms or {},
        "errors": dict(errors),
        # Requests resent once on a fresh connection after a reused one closed before any
        # response byte (loadtest/connections.py); each is counted once in `summary`.
        "connection_retries": sum(r.retries for r in records),
        "time_series": time_series(records),
    }


def write_report(out_dir: Path, records: list[RequestRecord], duration: float,
                 config: dict[str, Any], *, percentiles: list[float],
                 slos_ms: dict[str, float] | None, plots: bool = True) -> dict[str, Any]:
    """Write report.json, requests.jsonl and (if `plots`) the PNGs into `out_dir`; return the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(records, duration, config, percentiles=percentiles, slos_ms=slos_ms)
    with open(out_dir / "requests.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r.to_json()) + "\n")
    files = ["report.json", "requests.jsonl"]
    if plots and any(r.success for r in records):
        plot_latencies(records, report["summary"], percentiles, out_dir / LATENCY_PLOT)
        plot_timeline(report["time_series"], out_dir / TIMELINE_PLOT)
        files += [LATENCY_PLOT, TIMELINE_PLOT]
    report["files"] = files
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _latency_lists(records: list[RequestRecord]) -> dict[str, list[float]]:
    from loadtest.metrics import output_len

    ok = [r for r in records if r.success]
    return {
        "ttft": [r.ttft * 1000 for r in ok],
        "tpot": [(r.latency - r.ttft) / (output_len(r) - 1) * 1000 for r in ok if output_len(r) > 1],
        "itl": [g * 1000 for r in ok for g in r.itl],
        "e2el": [r.latency * 1000 for r in ok],
    }


def plot_latencies(records: list[RequestRecord], summary: dict[str, Any],
                   percentiles: list[float], path: Path) -> None:
    """Histograms of TTFT, TPOT, ITL and E2E latency with their percentiles marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = _latency_lists(records)
    titles = {"ttft": "Time to first token", "tpot": "Time per output token",
              "itl": "Inter-token latency", "e2el": "End-to-end latency"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, name in zip(axes.flat, METRICS, strict=False):
        values = data[name]
        if values:
            ax.hist(values, bins=min(50, max(5, len(values) // 4)), color="#4878a8")
        for p, style in zip(percentiles, ("-", "--", ":", "-."), strict=False):
            v = summary[f"p{percentile_key(p)}_{name}_ms"]
            ax.axvline(v, color="#c44e52", linestyle=style, label=f"p{percentile_key(p)} {v:.1f} ms")
        ax.set_title(f"{titles[name]} (n={len(values)})")
        ax.set_xlabel("ms")
        ax.set_ylabel("count")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_timeline(series: dict[str, list[float]], path: Path) -> None:
    """Output tokens/s, completed requests/s and concurrent requests per second of the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    t = series["t"]
    ax1.plot(t, series["output_tokens"], color="#4878a8", label="output tokens/s")
    ax1.set_ylabel("tokens/s")
    ax1b = ax1.twinx()
    ax1b.plot(t, series["completed_requests"], color="#55a868", label="completed requests/s")
    ax1b.set_ylabel("requests/s")
    ax1.set_title("Throughput over time")
    lines = ax1.get_legend_handles_labels()
    lines2 = ax1b.get_legend_handles_labels()
    ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper right")
    ax2.step(t, series["concurrent_requests"], where="post", color="#c44e52")
    ax2.set_ylabel("requests in flight")
    ax2.set_xlabel("seconds since the first request")
    ax2.set_title("Concurrency over time")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
