"""report.json, requests.jsonl and the plots."""

from __future__ import annotations

import json

import pytest

from loadtest.cli import UsageError, parse_percentiles, parse_slos
from loadtest.metrics import RequestRecord
from loadtest.report import LATENCY_PLOT, TIMELINE_PLOT, write_report


def make_records():
    out = []
    for i in range(20):
        itl = [0.01 + 0.001 * (i % 3)] * 15
        out.append(RequestRecord(start=50.0 + 0.25 * i, success=True, ttft=0.05 + 0.01 * (i % 5),
                                 itl=itl, latency=0.05 + 0.01 * (i % 5) + sum(itl),
                                 output_tokens=16, prompt_len=32, endpoint="/v1/completions"))
    out[3].retries = 1  # resent once on a fresh connection, then answered
    out.append(RequestRecord(start=56.0, error="HTTP 500: b'cannot schedule new futures'\nmore",
                             latency=0.002))
    return out


def test_write_report(tmp_path):
    config = {"url": "http://127.0.0.1:1", "model": "tiny", "api_key_env": "VLLM_API_KEY"}
    report = write_report(tmp_path, make_records(), 6.0, config, percentiles=[50, 90, 99],
                          slos_ms={"ttft": 80, "tpot": 20})
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    s = on_disk["summary"]
    assert (s["completed"], s["failed"], s["total_output_tokens"]) == (20, 1, 320)
    assert s["request_throughput"] == pytest.approx(20 / 6.0)
    # ttft values cycle 50,60,70,80,90 ms: 16 of 20 meet ttft<=80; all tpot ~11 ms meet 20.
    assert s["request_goodput"] == pytest.approx(16 / 6.0)
    assert s["p50_ttft_ms"] <= s["p90_ttft_ms"] <= s["p99_ttft_ms"]
    assert on_disk["errors"] == {"HTTP 500: b'cannot schedule new futures'": 1}
    assert on_disk["connection_retries"] == 1
    assert "api_key_env" not in on_disk["config"]  # nothing key-related is written
    assert on_disk["files"] == ["report.json", "requests.jsonl", LATENCY_PLOT, TIMELINE_PLOT]
    lines = (tmp_path / "requests.jsonl").read_text().splitlines()
    assert len(lines) == 21 and json.loads(lines[0])["output_tokens"] == 16
    for name in (LATENCY_PLOT, TIMELINE_PLOT):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_cli_value_parsing():
    assert parse_slos(["ttft:500", "e2el:2000"]) == {"ttft": 500.0, "e2el": 2000.0}
    assert parse_percentiles("50,90,99.9") == [50.0, 90.0, 99.9]
    with pytest.raises(UsageError, match="--slo 'itl:5'"):
        parse_slos(["itl:5"])
    with pytest.raises(UsageError, match="not a number"):
        parse_slos(["ttft:fast"])
    with pytest.raises(UsageError, match="--percentiles"):
        parse_percentiles("0,50")
