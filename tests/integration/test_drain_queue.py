"""A saturated server keeps a queue; the rendered preStop hook lets it empty before SIGTERM.

vLLM refuses requests still waiting to be scheduled at SIGTERM (HTTP 500, see test_drain.py),
and a pod is usually removed exactly when it is saturated (scale-down after a peak, rollout).
Here a server from the rendered spec, with `--max-num-seqs 2` so that requests queue, is
deleted like a pod while six users keep it busy; the load stops when the endpoints would stop
routing to it (`DRAIN_MIN_SECONDS` into the deletion). Every request sent must complete in full.

Own server (the shared one has room for every request, so it never queues).
"""

from __future__ import annotations

import copy
import dataclasses
import signal
import threading

import pytest

from tests.integration.conftest import start_server, wait_until
from tests.integration.loadgen import read_records, server_counters, start_loadtest

pytestmark = pytest.mark.integration

USERS = 6
MAX_NUM_SEQS = 2
OUTPUT_LEN = 256


def with_max_num_seqs(spec, value: int):
    """The same serving spec with `--max-num-seqs value` in the container's args."""
    container = copy.deepcopy(spec.container)
    args = container["args"]
    if "--max-num-seqs" in args:
        args[args.index("--max-num-seqs") + 1] = str(value)
    else:
        args += ["--max-num-seqs", str(value)]
    return dataclasses.replace(spec, container=container)


@pytest.fixture
def queueing_server(spec, tiny_model_dir, serve_python, tmp_path_factory):
    server = start_server(with_max_num_seqs(spec, MAX_NUM_SEQS), tiny_model_dir, serve_python,
                          tmp_path_factory.mktemp("vllm-queue"))
    yield server
    server.stop()


def test_prestop_waits_for_the_queue_so_nothing_is_refused(queueing_server, tmp_path):
    server = queueing_server
    env = {e["name"]: e.get("value") for e in server.spec.container["env"]}
    endpoints_gone_after = float(env["DRAIN_MIN_SECONDS"])
    harness = start_loadtest(server, tmp_path, "--dataset", "random", "--num-prompts", "5000",
                             "--input-len", "32", "--output-len", str(OUTPUT_LEN),
                             "--users", str(USERS), "--duration", "300", "--no-plots")
    said: list[str] = []
    try:
        assert wait_until(
            lambda: server_counters(server)["vllm:num_requests_waiting"] >= USERS - MAX_NUM_SEQS - 1,
            120), "requests never queued"
        queued_at_deletion = server_counters(server)["vllm:num_requests_waiting"]
        server.say = said.append
        # The load balancer stops sending when the endpoint removal has propagated.
        stop_load = threading.Timer(endpoints_gone_after - 1.0, harness.send_signal,
                                    args=(signal.SIGTERM,))
        stop_load.start()
        result = server.drain()
        out, _ = harness.communicate(timeout=300)
    finally:
        if harness.poll() is None:
            harness.kill()
    records = read_records(tmp_path)
    hook_line = next(line for line in said if line.startswith("preStop exit"))
    print(f"\n[drain-queue] {queued_at_deletion:g} waiting at deletion; {hook_line}; "
          f"{len(records)} requests, {sum(not r['success'] for r in records)} failed; vLLM exit "
          f"{result.returncode} {result.exit_after_sigterm:.1f}s after SIGTERM, preStop "
          f"{result.prestop_seconds:.1f}s, grace {result.grace_period_seconds:g}s")
    assert queued_at_deletion >= 1
    assert hook_line.startswith("preStop exit 0: drain: queue empty after "), hook_line
    # The hook outlasted the fixed delay only as long as the queue needed, within its bound.
    assert endpoints_gone_after <= result.prestop_seconds <= float(env["DRAIN_MAX_SECONDS"]) + 5
    # Every request the harness sent completed in full: none refused, none cut off.
    assert records and all(r["success"] for r in records), \
        [r["error"] for r in records if not r["success"]][:3]
    assert all(r["output_tokens"] == OUTPUT_LEN and r["finish_reason"] == "length"
               for r in records)
    assert result.killed is False and result.returncode == 0
    assert result.total_seconds <= result.grace_period_seconds
    assert ", 0 failed in" in out
