"""Zero loss through a rollout or scale-in: the real vLLM is deleted like a pod while load goes on.

What runs: `LocalServer` is the pod from the rendered spec (its probes, its preStop hook
workloads/probes/drain_wait.py, SIGTERM, SIGKILL at terminationGracePeriodSeconds). Deletion makes
it not ready at once (the endpoints controller drops a terminating pod), runs the hook, then
SIGTERM.

What is modelled, and how: a client of a Service stops sending to a pod once the EndpointSlice
change for it has reached the client's proxy (kube-proxy, the gateway). Here the load generator
is the Service's traffic to this pod: `ServiceModel` watches the pod's readiness and, once it is
false, waits `PROPAGATION_SECONDS` and stops the generator (it sends nothing new; requests in
flight go on). Until then the load continues through the deletion, the hook included. Requests a
real Service would send to other replicas after that are not sent. Not modelled: a keep-alive
connection opened through a ClusterIP before the removal keeps reaching the pod (conntrack) —
the gateway routes each request and has no such issue (docs/drain.md).

Asserted: every request the load sent got its full answer — 0 refused (vLLM's HTTP 500 "cannot
schedule new futures after shutdown" for anything not yet running at SIGTERM), 0 cut.

It ends the shared server, so it is marked `drains_server` and runs after every other test."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.integration.conftest import wait_until
from tests.integration.loadgen import read_records, server_counters, start_loadtest

pytestmark = [pytest.mark.integration, pytest.mark.drains_server]

USERS = 4
OUTPUT_LEN = 768  # a few seconds per request
PROPAGATION_SECONDS = 2.0
"""How long an endpoint removal takes to reach the clients in this model (kube-proxy applies
EndpointSlice changes in about a second; the hook's quiet period is longer than both)."""


class ServiceModel:
    """Stops sending to the pod `PROPAGATION_SECONDS` after its readiness went false."""

    def __init__(self, server, harness) -> None:
        self.server, self.harness = server, harness
        self.stopped_at: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while self.server.probes.ready:
            time.sleep(0.05)
        time.sleep(PROPAGATION_SECONDS)
        self.stopped_at = time.time()
        self.harness.send_signal(signal.SIGTERM)  # send nothing new; requests in flight go on


def test_deletion_under_continuing_load_refuses_and_cuts_nothing(vllm_server, tmp_path):
    server = vllm_server
    env = {e["name"]: e.get("value") for e in server.spec.container["env"]}
    harness = start_loadtest(server, tmp_path, "--dataset", "random", "--num-prompts", "5000",
                             "--input-len", "32", "--output-len", str(OUTPUT_LEN),
                             "--users", str(USERS), "--duration", "300", "--no-plots")
    said: list[str] = []
    marks: dict[str, float] = {}
    try:
        assert wait_until(
            lambda: server_counters(server)["vllm:num_requests_running"] >= USERS, 90), \
            "the harness never reached steady load"
        time.sleep(2)
        server.say = said.append
        service = ServiceModel(server, harness)
        deletion_began = time.time()
        result = server.drain(on_sigterm=lambda: marks.setdefault("sigterm", time.time()))
        out, _ = harness.communicate(timeout=300)
    finally:
        if harness.poll() is None:
            harness.kill()
    records = read_records(tmp_path)
    hook_line = next(line for line in said if line.startswith("preStop exit"))
    t_sig = marks["sigterm"]
    assert service.stopped_at is not None
    during = [r for r in records if r["start"] >= deletion_began]
    open_at_sigterm = [r for r in records if r["start"] + r["latency"] >= t_sig]
    refused = [r for r in records if not r["success"] and r["ttft"] == 0]
    cut = [r for r in records if (r["success"] and (r["output_tokens"] != OUTPUT_LEN
                                                    or r["finish_reason"] != "length"))
           or (not r["success"] and r["ttft"] > 0)]
    print(f"\n[drain] {len(records)} requests, {len(during)} sent after deletion began (load stopped "
          f"{service.stopped_at - deletion_began:.1f}s in), {len(open_at_sigterm)} open at SIGTERM; "
          f"{hook_line}; {len(refused)} refused, {len(cut)} cut; vLLM exit {result.returncode} "
          f"{result.exit_after_sigterm:.1f}s after SIGTERM, preStop {result.prestop_seconds:.1f}s "
          f"(min {env['DRAIN_MIN_SECONDS']}s, quiet {env['DRAIN_QUIET_SECONDS']}s, max "
          f"{env['DRAIN_MAX_SECONDS']}s), grace {result.grace_period_seconds:g}s")
    assert server.probes.ready is False
    assert during, "the load must continue into the deletion"
    assert refused == [], [(round(r["start"] - deletion_began, 1), r["error"]) for r in refused[:3]]
    assert cut == [], cut[:2]
    assert all(r["success"] for r in records)
    # The hook let SIGTERM through only once nothing arrived and nothing was in flight.
    assert hook_line.startswith("preStop exit 0: drain outcome=quiet "), hook_line
    assert t_sig >= service.stopped_at
    assert result.killed is False and result.returncode == 0
    assert result.total_seconds <= result.grace_period_seconds
    assert ", 0 failed in" in out
