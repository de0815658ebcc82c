"""The fidelity grid's cell specs, aggregation over rounds and table (bench/grid.py; no vLLM)."""

from __future__ import annotations

import pytest

from bench.grid import (
    GridSpecError,
    RateSpec,
    Shape,
    grid_table,
    load_results,
    merge_cell,
    off_target,
    parse_cell_spec,
    prompts_per_tool,
    save_results,
    summarize_cell,
    wire_table,
    wire_view,
)


def test_cell_spec_absolute_and_relative_rates():
    shape, rates = parse_cell_spec("1024x128@0.2x,4, 1.5x")
    assert shape == Shape(1024, 128) and shape.label == "1024/128"
    assert rates == [RateSpec(0.2, True), RateSpec(4.0, False), RateSpec(1.5, True)]
    assert [r.resolve(10.0) for r in rates] == [2.0, 4.0, 15.0]
    with pytest.raises(GridSpecError, match="needs the shape's measured capacity"):
        rates[0].resolve(None)


@pytest.mark.parametrize(("spec", "message"), [
    ("1024x128", "expected INPUTxOUTPUT@RATE"),
    ("1024@4", "expected INPUTxOUTPUT@RATE"),
    ("ax128@4", "token lengths must be integers"),
    ("128x1@4", "output >= 2 tokens"),
    ("128x32@fast", "rate 'fast' is not a number"),
    ("128x32@0", "rate '0' must be > 0"),
])
def test_bad_cell_specs_name_the_value_and_the_form(spec, message):
    with pytest.raises(GridSpecError, match=message) as err:
        parse_cell_spec(spec)
    assert f"--cell {spec!r}" in str(err.value)


def test_prompts_per_tool_follow_the_rate_within_bounds():
    assert prompts_per_tool(8.0, 15.0) == 60  # each tool sends 4 req/s for 15 s
    assert prompts_per_tool(0.5, 15.0) == 16  # at least 16
    assert prompts_per_tool(200.0, 15.0) == 400  # at most 400


def rounds(ttft, tpot, tok_s, failed=0):
    return [{"median_ttft_ms": a, "median_tpot_ms": b, "output_throughput": c, "failed": failed}
            for a, b, c in zip(ttft, tpot, tok_s, strict=True)]


OURS = rounds([40.0, 50.0, 90.0], [3.0, 3.3, 4.0], [250.0, 240.0, 260.0], failed=1)
THEIRS = rounds([42.0, 45.0, 100.0], [3.0, 3.0, 4.4], [250.0, 250.0, 250.0])


def test_cell_summary_is_the_median_of_per_round_ratios_and_their_spread():
    cell = summarize_cell(OURS, THEIRS)
    ttft = cell["ratios"]["median_ttft_ms"]
    assert ttft["rounds"] == pytest.approx([40 / 42, 50 / 45, 0.9])
    assert (ttft["median"], ttft["min"], ttft["max"]) == pytest.approx((40 / 42, 0.9, 50 / 45))
    tpot = cell["ratios"]["median_tpot_ms"]
    assert tpot["rounds"] == pytest.approx([1.0, 1.1, 4.0 / 4.4])
    assert (tpot["median"], tpot["min"], tpot["max"]) == pytest.approx((1.0, 4.0 / 4.4, 1.1))
    assert cell["ratios"]["output_throughput"]["median"] == pytest.approx(1.0)
    assert cell["ours"]["median_ttft_ms"] == 50.0 and cell["theirs"]["median_ttft_ms"] == 45.0
    assert cell["failed"] == {"ours": 3, "theirs": 0}
    assert cell["served_tok_s"] == 500.0  # both tools' throughput per round, medianed
    assert off_target(cell) == []  # medians 0.952, 1.0, 1.0
    assert off_target(cell, (0.96, 1.04)) == ["median_ttft_ms"]


def test_rounds_must_pair_up():
    with pytest.raises(ValueError, match="as many rounds of ours as of theirs"):
        summarize_cell(OURS, THEIRS[:2])


def cell_at(rate, shape="128/32"):
    return {"shape": shape, "rate": rate, **summarize_cell(OURS, THEIRS),
            "load_before": 3.2, "load_after": 4.3}


def test_a_rerun_cell_replaces_the_entry_and_keeps_the_earlier_run(tmp_path):
    path = tmp_path / "grid.json"
    results = load_results(path)
    first, second = cell_at(4.0), cell_at(4.0)
    first["load_after"] = 9.0
    merge_cell(results, first)
    merge_cell(results, cell_at(2.0))
    merge_cell(results, second)
    save_results(path, results)
    again = load_results(path)
    assert sorted(again["cells"]) == ["128/32@2", "128/32@4"]
    assert again["cells"]["128/32@4"]["load_after"] == 4.3
    assert [e["load_after"] for e in again["cells"]["128/32@4"]["earlier"]] == [9.0]


def test_table_rows_lightest_first_with_ratios_spread_and_load():
    results: dict = {"cells": {}}
    for rate, shape in ((4.0, "1024/128"), (12.0, "128/32"), (2.5, "128/32")):
        merge_cell(results, cell_at(rate, shape))
    off = cell_at(30.0, "128/32")
    off["ratios"]["median_ttft_ms"]["median"] = 0.85
    merge_cell(results, off)
    lines = grid_table(results).splitlines()
    assert len(lines) == 2 + 4
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == 13
    assert lines[2] == ("| 128/32 | 2.5 | 500 / 80 | 0.952 [0.90–1.11] | 1.000 [0.91–1.10] "
                        "| 1.000 [0.96–1.04] | 50.0 / 45.0 | 3.30 / 3.00 | 3 | 3 / 0 "
                        "| 3.2 → 4.3 | yes |")
    assert [line.split(" | ")[:2] for line in lines[3:]] == [
        ["| 128/32", "12"], ["| 128/32", "30"], ["| 1024/128", "4"]]
    assert lines[4].endswith("| no: median_ttft |")


def test_wire_view_compares_the_packets_and_each_clients_stamp_delay():
    cell = cell_at(4.0)
    assert wire_view(cell) is None  # no capture
    wired_ours = [{**r, "wire_median_ttft_ms": r["median_ttft_ms"] - 2.0, "wire_median_tpot_ms": r["median_tpot_ms"]}
                  for r in OURS]
    wired_theirs = [{**r, "wire_median_ttft_ms": w["wire_median_ttft_ms"], "wire_median_tpot_ms": r["median_tpot_ms"]}
                    for r, w in zip(THEIRS, wired_ours, strict=True)]
    cell = {**cell, "rounds_ours": wired_ours, "rounds_theirs": wired_theirs}
    wire = wire_view(cell)
    assert wire is not None
    assert wire["ttft_ratio"]["rounds"] == pytest.approx([1.0, 1.0, 1.0])  # the server answered both alike
    # ours stamps 2 ms after the packet; theirs 4, 2 and 12 ms (median 4)
    assert wire["stamp_delay_ms"] == pytest.approx({"ours": 2.0, "theirs": 4.0})
    results: dict = {"cells": {}}
    merge_cell(results, cell)
    merge_cell(results, cell_at(2.0))  # no capture: not in the wire table
    lines = wire_table(results).splitlines()
    assert len(lines) == 3
    assert lines[2] == "| 128/32 | 4 | 0.952 [0.90–1.11] | 1.000 [1.00–1.00] | 1.000 [0.91–1.10] | +2.0 / +4.0 |"
