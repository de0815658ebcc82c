"""Open-loop arrival schedule, as `vllm bench serve` draws it (vllm/benchmarks/serve.py)."""

from __future__ import annotations

import numpy as np


def arrival_times(n: int, request_rate: float, burstiness: float = 1.0,
                  seed: int = 0) -> list[float]:
    """Send offsets (s) of n requests, as vLLM's `get_request` computes them.

    `inf` rate: all at 0. Otherwise gamma(shape=burstiness, scale=1/(rate*burstiness)) gaps,
    cumulated, then rescaled so the last offset is exactly n/rate (vllm/benchmarks/serve.py).
    """
    if burstiness <= 0:
        raise ValueError(f"--burstiness must be > 0, got {burstiness}")
    if request_rate == float("inf"):
        return [0.0] * n
    rs = np.random.RandomState(seed)
    gaps = rs.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=n)
    offsets = np.cumsum(gaps)
    if offsets[-1] != 0:
        offsets = offsets * ((n / request_rate) / offsets[-1])
    return offsets.tolist()
