"""The load-test harness against the real server: its token counts match the server's."""

from __future__ import annotations

import pytest

from tests.integration.loadgen import read_records, run_loadtest, server_counters

pytestmark = pytest.mark.integration


@pytest.fixture
def quiet_server(vllm_server):
    """The shared server with its liveness probe paused (its idle ping is a real request)."""
    vllm_server.probes.pause("liveness")
    yield vllm_server
    vllm_server.probes.resume("liveness")


def test_open_loop_random_dataset(quiet_server, tmp_path):
    before = server_counters(quiet_server)
    code, report = run_loadtest(
        quiet_server, tmp_path, "--dataset", "random", "--num-prompts", "40",
        "--input-len", "64", "--output-len", "32", "--request-rate", "10",
        "--slo", "ttft:60000", "--slo", "tpot:60000")
    after = server_counters(quiet_server)
    s = report["summary"]
    print(f"\n[loadtest] open loop 10 req/s: {s['request_throughput']:.2f} req/s, "
          f"median TTFT {s['median_ttft_ms']:.1f} ms, median TPOT {s['median_tpot_ms']:.2f} ms")
    assert code == 0
    assert (s["completed"], s["failed"]) == (40, 0)
    assert s["total_output_tokens"] == 40 * 32  # ignore_eos: exact output lengths
    # The server counted exactly the tokens and requests the harness reported.
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 1280
    assert after["vllm:prompt_tokens_total"] - before["vllm:prompt_tokens_total"] == \
        s["total_input_tokens"]
    assert after["vllm:request_success_total"] - before["vllm:request_success_total"] == 40
    # (Prompt tokens are the server's count: like vLLM's random dataset, a decoded prompt can
    # re-tokenize to a few tokens more or less than --input-len.)
    assert abs(s["total_input_tokens"] - 40 * 64) <= 40 * 2
    assert s["request_goodput"] == pytest.approx(s["request_throughput"])  # lax SLOs: all good
    for name in ("ttft", "tpot", "itl", "e2el"):
        assert 0 <= s[f"p50_{name}_ms"] <= s[f"p90_{name}_ms"] <= s[f"p99_{name}_ms"], name
        assert s[f"mean_{name}_ms"] > 0, name
    # (ITL gaps can be 0: messages that arrive in one network read share a timestamp, in
    # vLLM's client too.)
    assert s["median_ttft_ms"] < s["median_e2el_ms"]
    assert report["config"]["mode"] == "open" and report["config"]["request_rate"] == 10.0
    for name in report["files"]:
        assert (tmp_path / name).stat().st_size > 0


def test_closed_loop_chat_conversations(quiet_server, tmp_path):
    before = server_counters(quiet_server)
    code, report = run_loadtest(
        quiet_server, tmp_path, "--endpoint", "chat", "--dataset", "conversations",
        "--num-prompts", "12", "--output-len", "16", "--users", "4", "--no-plots")
    after = server_counters(quiet_server)
    s = report["summary"]
    assert code == 0
    assert (s["completed"], s["failed"], s["total_output_tokens"]) == (12, 0, 192)
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 192
    assert report["config"]["users"] == 4 and report["config"]["mode"] == "closed"
    # Closed loop: never more than 4 requests in flight at once (vLLM's per-second
    # max_concurrent_requests counts every request active within a second, so it can be more).
    records = read_records(tmp_path)
    edges = sorted([(r["start"], 1) for r in records] +
                   [(r["start"] + r["latency"], -1) for r in records], key=lambda e: (e[0], e[1]))
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak == 4
    assert report["files"] == ["report.json", "requests.jsonl"]


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "stack.cli", "loadtest", "--url",
                           "http://127.0.0.1:9", "--model", "m", "--dataset", "random",
                           "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--dataset random needs --tokenizer" in proc.stderr
    assert not (tmp_path / "x").exists()
