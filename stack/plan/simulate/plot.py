"""A PNG of load, replicas and latency over time, one line per preset."""

from __future__ import annotations

from pathlib import Path

from stack.plan.simulate.presets import Comparison


def plot_comparison(comparison: Comparison, path: Path, title: str) -> Path:
    """Write ``path``: arrivals (req/s), replicas (Ready solid, spec dotted), p95 queue wait per 10 s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (load, replicas, wait) = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    first = comparison.results[0].series
    load.plot(first["t"] / 60, first["arrivals_per_s"], color="black", linewidth=1)
    load.set_ylabel("arrivals (req/s)")
    load.set_title(title)
    for index, result in enumerate(comparison.results):
        s = result.series
        color = f"C{index}"
        replicas.step(s["t"] / 60, s["ready"], where="post", color=color, label=result.name)
        replicas.step(s["t"] / 60, s["spec"], where="post", color=color, linestyle=":", linewidth=1)
        wait.plot(s["t"] / 60, s["wait_p95"], color=color, linewidth=1)
    replicas.set_ylabel("replicas (Ready; spec dotted)")
    replicas.legend(fontsize=8, loc="upper right")
    wait.set_yscale("symlog", linthresh=1.0)
    wait.set_ylabel("p95 queue wait per 10 s (s)")
    wait.set_xlabel("minutes")
    wait.axhline(y=comparison.slo_wait, color="grey", linestyle="--", linewidth=1, label="SLO")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

