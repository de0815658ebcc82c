"""Metric arithmetic of the load-test harness (vllm bench serve definitions)."""

from __future__ import annotations

import pytest

from loadtest.metrics import RequestRecord, compute_metrics, percentile_key, time_series


def rec(start, ttft, itl, out, prompt=10, success=True):
    return RequestRecord(start=start, success=success, ttft=ttft, itl=list(itl),
                         latency=ttft + sum(itl), output_tokens=out, prompt_len=prompt)


@pytest.fixture
def records():
    return [
        rec(100.0, 0.100, [0.010, 0.020, 0.030], 4),   # e2el 0.160, tpot 0.020
        rec(100.5, 0.200, [0.050], 2),                 # e2el 0.250, tpot 0.050
        rec(101.0, 0.300, [], 1),                      # e2el 0.300, no tpot (1 token)
        RequestRecord(start=101.2, success=False, error="HTTP 500", latency=0.01),
    ]


def test_counts_and_throughput(records):
    m = compute_metrics(records, duration=2.0)
    assert m["completed"] == 3
    assert m["failed"] == 1
    assert m["total_input_tokens"] == 30
    assert m["total_output_tokens"] == 7
    assert m["request_throughput"] == 1.5
    assert m["output_throughput"] == 3.5
    assert m["total_token_throughput"] == 18.5
    assert m["request_goodput"] is None


def test_latency_definitions(records):
    m = compute_metrics(records, duration=2.0)
    assert m["mean_ttft_ms"] == pytest.approx(200.0)
    assert m["median_ttft_ms"] == pytest.approx(200.0)
    # TPOT = (e2el - ttft) / (out - 1), only for out > 1: [20, 50] ms.
    assert m["mean_tpot_ms"] == pytest.approx(35.0)
    assert m["p50_tpot_ms"] == pytest.approx(35.0)
    # ITL pools every gap: [10, 20, 30, 50] ms; linear percentiles like numpy's default.
    assert m["mean_itl_ms"] == pytest.approx(27.5)
    assert m["p90_itl_ms"] == pytest.approx(44.0)
    assert m["p99_itl_ms"] == pytest.approx(49.4)
    assert m["mean_e2el_ms"] == pytest.approx(236.6666667)
    assert m["p50_e2el_ms"] == pytest.approx(250.0)
    assert m["std_ttft_ms"] == pytest.approx(81.6496581)


def test_goodput_requires_every_slo(records):
    # TPOT of the 1-token request counts as 0 for goodput (vLLM's rule).
    m = compute_metrics(records, 2.0, goodput_slos_ms={"ttft": 250, "tpot": 30})
    assert m["request_goodput"] == 0.5  # only the first request meets both
    m = compute_metrics(records, 2.0, goodput_slos_ms={"e2el": 300})
    assert m["request_goodput"] == 1.5
    m = compute_metrics(records, 2.0, goodput_slos_ms={"ttft": 99})
    assert m["request_goodput"] == 0.0


def test_bad_inputs_name_the_problem(records):
    with pytest.raises(ValueError, match="duration must be > 0"):
        compute_metrics(records, 0)
    with pytest.raises(ValueError, match="goodput SLO keys"):
        compute_metrics(records, 1.0, goodput_slos_ms={"itl": 5})


def test_all_failed_reports_zeros():
    m = compute_metrics([RequestRecord(start=0.0, error="boom")], 1.0)
    assert (m["completed"], m["failed"], m["mean_ttft_ms"], m["p99_e2el_ms"]) == (0, 1, 0.0, 0.0)


def test_time_series_buckets(records):
    s = time_series(records)
    # Span 100.0 .. 101.3 -> ceil(1.3) + 1 = 3 buckets, as vLLM computes them.
    assert s["t"] == [0, 1, 2]
    # Token messages: r1 at 100.1,.11,.13,.16; r2 at 100.7,.75; r3 at 101.3.
    assert s["output_tokens"] == [6.0, 1.0, 0.0]
    assert s["concurrent_requests"] == [2.0, 1.0, 0.0]
    assert s["completed_requests"] == [2.0, 1.0, 0.0]
    m = compute_metrics(records, 2.0)
    assert m["max_output_tokens_per_s"] == 6.0
    assert m["max_concurrent_requests"] == 2


def test_percentile_key():
    assert [percentile_key(p) for p in (50, 99.0, 99.9)] == ["50", "99", "99.9"]
