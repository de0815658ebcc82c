"""Cost lines, totals, overrides, throughput and load-test report reading."""

from __future__ import annotations

import json

import pytest

from stack import prices
from stack.plan.estimate import ReportError, estimate_cost, read_report, resolve_throughput
from stack.render import load_stack_config

A3 = prices.MACHINE_PRICES["a3-highgpu-8g"]
G2 = prices.MACHINE_PRICES["g2-standard-8"]
E2_16 = prices.SYSTEM_MACHINE_PRICES["e2-standard-16"]


def _line(cost, item):
    return next(line for line in cost.lines if line.item == item)


def test_prod_pools_at_min_and_max_replicas():
    cost = estimate_cost(load_stack_config("prod"))
    assert cost.replicas == (6, 10)
    main, spot = _line(cost, "pool h100"), _line(cost, "pool h100-spot")
    # 6 replicas: the on-demand pool's 2-node minimum + 4 Spot (preferred); 10 = 2 + 6 Spot + 2 more on-demand.
    assert (main.nodes_at_min, main.nodes_at_max) == (2, 4)
    assert (spot.nodes_at_min, spot.nodes_at_max) == (4, 6)
    assert main.hourly_at_min == pytest.approx(2 * A3.on_demand)
    assert main.hourly_at_max == pytest.approx(4 * A3.on_demand)
    assert spot.hourly_at_max == pytest.approx(6 * A3.spot)
    assert main.as_dict()["hourlyIfSpot"]["max"] == pytest.approx(4 * A3.spot, abs=1e-4)
    assert main.as_dict()["monthly"]["max"] == pytest.approx(4 * A3.on_demand * 730, abs=1e-3)


def test_prod_storage_and_totals():
    cost = estimate_cost(load_stack_config("prod"))
    # two zonal Hyperdisk ML volumes of 300 GiB and 2400 MiB/s each
    # the 70B (key vllm): two zonal Hyperdisk ML volumes of 300 GiB and 2400 MiB/s each, its bytes in the bucket
    hdml = _line(cost, "vllm: Hyperdisk ML")
    assert hdml.monthly(hdml.hourly_at_min) == pytest.approx(2 * (300 * 0.08 + 2400 * 0.12))
    bucket = _line(cost, "vllm: model bucket")
    assert bucket.monthly(bucket.hourly_at_min) == pytest.approx(141.2e9 / 2**30 * 0.020)
    small = _line(cost, "llama-8b: model bucket")  # the 8B streams from the bucket (gcsfuse): no disk line
    assert small.monthly(small.hourly_at_min) == pytest.approx(16.06e9 / 2**30 * 0.020)
    system = _line(cost, "system pool")
    assert system.hourly_at_min == pytest.approx(3 * E2_16) and system.hourly_at_max == pytest.approx(9 * E2_16)
    # serving at 6 replicas (2 on-demand + 4 Spot nodes) and the active buffer's one idle on-demand node; the 8B's
    # one on-demand L4 node
    buffer = _line(cost, "vllm: capacity buffer")
    assert (buffer.nodes_at_min, buffer.hourly_at_min) == (1, pytest.approx(A3.on_demand))
    assert _line(cost, "pool l4").hourly_at_min == pytest.approx(G2.on_demand)
    storage = 624 + (141.2e9 + 16.06e9) / 2**30 * 0.02
    expected_min = 3 * A3.on_demand + 4 * A3.spot + G2.on_demand + 3 * E2_16 + 0.10 + storage / 730
    assert cost.total("min") == pytest.approx(expected_min)
    document = cost.as_dict()
    assert document["total"]["monthly"]["min"] == pytest.approx(expected_min * 730, abs=0.01)
    assert document["missingPrices"] == []


def test_price_overrides():
    config = load_stack_config(
        "prod",
        [
            "planning.prices={a3-highgpu-8g: {onDemandHourly: 50, spotHourly: 10}}",
            "planning.storagePrices.hyperdiskMlMibpsMonth=0",
        ],
    )
    cost = estimate_cost(config)
    assert _line(cost, "pool h100").hourly_at_max == 200
    assert _line(cost, "pool h100-spot").hourly_at_max == 60
    assert _line(cost, "pool h100").source.startswith("planning.prices.a3-highgpu-8g")
    hdml = _line(cost, "vllm: Hyperdisk ML")
    assert hdml.monthly(hdml.hourly_at_min) == pytest.approx(2 * 300 * 0.08)


def test_unknown_price_is_reported_not_guessed():
    config = load_stack_config(
        "prod", ["gpuPools.h100.machineType=a3-megagpu-8g", "gpuPools.h100-spot.machineType=a3-megagpu-8g"]
    )
    cost = estimate_cost(config)
    assert _line(cost, "pool h100-spot").hourly_at_max is None
    assert "planning.prices.a3-megagpu-8g.spotHourly" in cost.missing


def test_dollars_per_million_tokens_from_planning_throughput():
    config = load_stack_config("prod", ["planning.throughput.outputTokensPerSecond=1000"])
    per_million = estimate_cost(config).dollars_per_million_tokens()
    assert per_million["onDemand"] == pytest.approx(A3.on_demand / 3.6e6 * 1e6)
    assert per_million["spot"] == pytest.approx(A3.spot / 3.6e6 * 1e6)


def test_dev_filestore_and_pd_storage_lines():
    filestore = estimate_cost(load_stack_config("dev", ["model.weights.backend=filestore"]))
    line = _line(filestore, "vllm: Filestore")  # the top-level model's; dev's qwen streams from the bucket
    assert line.monthly(line.hourly_at_min) == pytest.approx(1024 * 0.25)
    pd = estimate_cost(load_stack_config("dev", ["model.weights.backend=persistentDisk"]))
    line = _line(pd, "vllm: model disk")
    assert line.monthly(line.hourly_at_min) == pytest.approx(3 * 500 * 0.17)  # one pd-ssd per zone


def test_reports_of_several_shapes(tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"output_throughput": 2400.0, "max_concurrency": 64, "mean_ttft_ms": 80}))
    assert read_report(str(bench)) == {"output_tokens_per_second": 2400.0, "concurrency": 64}
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"config": {"replicas": 2, "users": 100}, "summary": {"outputTokensPerSecond": 3000}}))
    assert read_report(str(nested)) == {"output_tokens_per_second": 1500.0, "concurrency": 50}
    loadtest = tmp_path / "loadtest.json"  # loadtest/report.py: config + vLLM-shaped summary
    loadtest.write_text(
        json.dumps(
            {
                "config": {"users": 512, "mode": "open", "request_rate": 4.0},
                "summary": {
                    "duration": 60.0,
                    "total_output_tokens": 90000,
                    "output_throughput": 1500.0,
                    "max_concurrent_requests": 40,
                },
                "time_series": {"t": [0, 1], "output_tokens": [10.0, 20.0]},
            }
        )
    )
    assert read_report(str(loadtest)) == {"output_tokens_per_second": 1500.0, "concurrency": 40}
    totals = tmp_path / "totals.json"
    totals.write_text(json.dumps({"total_output_tokens": 60000, "duration": 30}))
    assert read_report(str(totals)) == {"output_tokens_per_second": 2000.0}
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(ReportError, match="no output token throughput"):
        read_report(str(empty))


def test_report_wins_over_the_table(tmp_path):
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"output_throughput": 1234.0, "max_concurrency": 32}))
    config = load_stack_config("dev")
    throughput = resolve_throughput(config, str(report))
    assert (throughput.output_tokens_per_second, throughput.concurrency) == (1234.0, 32)
    assert "report" in throughput.source
    table = resolve_throughput(config)
    assert table.output_tokens_per_second == pytest.approx(900 * 8 / 8.03)
    assert table.concurrency == 64
