"""Graceful drain under steady load, as a pod deletion does it.

It ends the shared server, so it is marked `drains_server` and runs after every other test."""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.conftest import wait_until
from tests.integration.loadgen import read_records, server_counters, start_loadtest

pytestmark = [pytest.mark.integration, pytest.mark.drains_server]

USERS = 6
OUTPUT_LEN = 256


def test_drain_completes_every_accepted_request(vllm_server, tmp_path):
    server = vllm_server
    shutdown_timeout = float(server.spec.args[server.spec.args.index("--shutdown-timeout") + 1])
    harness = start_loadtest(server, tmp_path, "--dataset", "random", "--num-prompts", "5000",
                             "--input-len", "32", "--output-len", str(OUTPUT_LEN),
                             "--users", str(USERS), "--duration", "240", "--no-plots")
    marks: dict[str, float] = {}
    try:
        # Steady load: every user has a request running on the server.
        assert wait_until(
            lambda: server_counters(server)["vllm:num_requests_running"] >= USERS, 90), \
            "the harness never reached steady load"
        time.sleep(2)

        def stop_harness():  # after preStop: the endpoints no longer route to this pod
            harness.send_signal(signal.SIGTERM)
            time.sleep(0.3)

        result = server.drain(before_sigterm=stop_harness,
                              on_sigterm=lambda: marks.setdefault("sigterm", time.time()))
        out, _ = harness.communicate(timeout=120)
    finally:
        if harness.poll() is None:
            harness.kill()
    records = read_records(tmp_path)
    t_sig = marks["sigterm"]
    accepted = [r for r in records if r["start"] < t_sig]
    in_flight = [r for r in accepted if r["start"] + r["latency"] > t_sig]
    late = [r for r in records if r["start"] >= t_sig]
    print(f"\n[drain] {len(accepted)} requests accepted before SIGTERM, {len(in_flight)} in "
          f"flight at SIGTERM, {len(late)} sent after; vLLM exit {result.returncode} "
          f"{result.exit_after_sigterm:.1f}s after SIGTERM, {result.total_seconds:.1f}s after "
          f"deletion began (preStop {result.prestop_seconds:g}s, grace "
          f"{result.grace_period_seconds:g}s)")
    assert server.probes.ready is False
    assert len(in_flight) >= USERS // 2, "SIGTERM must land while requests are in flight"
    cut = [r for r in accepted if not r["success"] or r["output_tokens"] != OUTPUT_LEN
           or r["finish_reason"] != "length"]
    assert cut == [], f"{len(cut)} accepted requests were cut off: {cut[:2]}"
    assert late == []  # the harness stopped before SIGTERM, as the endpoints would
    assert result.killed is False
    assert result.returncode == 0
    assert result.exit_after_sigterm <= shutdown_timeout
    assert result.total_seconds <= result.grace_period_seconds
    assert "0 failed" in out
