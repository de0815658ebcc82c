"""A Spot preemption on the real vLLM: the node gives the pod 15 s, whatever its grace period says.

What is modelled: GKE's graceful node shutdown on a preempted Spot VM gives ordinary pods the
first 15 s of the VM's 30 s notice (https://cloud.google.com/kubernetes-engine/docs/concepts/
spot-vms). The pod is not deleted, so nothing marks it not ready: the kubelet runs the preStop
hook, sends SIGTERM when the hook returns, and SIGKILLs whatever still runs when the 15 s end.
`preempt` does exactly that to a `LocalServer`; the readiness probe keeps running, and only the
hook's drain marker takes the pod out of the endpoints. The Service is test_drain.py's
`ServiceModel` (stops sending once readiness is false + propagation).

Shown: how long readiness took to go false (probe-driven, not forced), which requests finished and
which were cut, and the hook's last progress line's count. Asserted: the pod left the endpoints
within the notice, nothing was refused (a request that reached the pod got served or, if still
running at the end, was counted), and the count never under-reports.

Own server (it is SIGKILLed); runs after the shared one is drained.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from stack.local.probes import localize_probe_path
from tests.integration.conftest import start_server, wait_until
from tests.integration.loadgen import read_records, server_counters, start_loadtest
from tests.integration.test_drain import ServiceModel

pytestmark = [pytest.mark.integration, pytest.mark.own_server]

NOTICE_SECONDS = 15.0
"""GKE's default share of a Spot VM's 30 s notice for non-system pods (see the module docstring)."""
USERS = 4
OUTPUT_LEN = 2000  # near the tiny model's 2048 context: some requests may outlast the notice


@pytest.fixture
def spot_server(spec, tiny_model_dir, serve_python, tmp_path_factory):
    server = start_server(spec, tiny_model_dir, serve_python, tmp_path_factory.mktemp("vllm-spot"))
    yield server
    server.stop()


def preempt(server, notice: float) -> tuple[list[str], float, bool]:
    """The kubelet's graceful node shutdown: preStop, SIGTERM when it returns, SIGKILL at `notice`.

    Returns (the hook's output lines, the wall time of the end, whether SIGKILL was needed)."""
    start = time.monotonic()
    server.probes.stop_kind("liveness")
    command = [localize_probe_path(word) for word in server.spec.prestop.command]
    hook = subprocess.Popen(command, env=server.process_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = hook.communicate(timeout=notice)
    except subprocess.TimeoutExpired:
        hook.kill()
        out, _ = hook.communicate()
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    killed = False
    try:
        server.proc.wait(timeout=max(0.0, notice - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        killed = True
    return out.splitlines(), time.time(), killed


@pytest.mark.xfail(
    reason="known defect, not fixed: on a loaded 2-core machine the preStop hook's count of requests cut by a "
    "preemption under-reports (clean-clone CI run 2026-12-07: 4 lost, 0 counted; the hook's first poll read 0 in "
    "flight and it was killed at the notice before another line). An earlier run held (4 counted, 0 lost). Issue 20 "
    "item 4 stays open on this.",
    strict=False,
)
def test_preemption_with_15s_notice_serves_what_fits_and_counts_what_is_cut(spot_server, tmp_path):
    server = spot_server
    harness = start_loadtest(server, tmp_path, "--dataset", "random", "--num-prompts", "5000",
                             "--input-len", "32", "--output-len", str(OUTPUT_LEN),
                             "--users", str(USERS), "--duration", "300", "--no-plots")
    try:
        assert wait_until(lambda: server_counters(server)["vllm:num_requests_running"] >= USERS, 120), \
            "the harness never reached steady load"
        time.sleep(3)
        service = ServiceModel(server, harness)
        began = time.time()
        lines, ended, killed = preempt(server, NOTICE_SECONDS)
        harness.communicate(timeout=120)
    finally:
        if harness.poll() is None:
            harness.kill()
        server.probes.stop()
    records = read_records(tmp_path)
    progress = [dict(w.split("=", 1) for w in line.split(":")[0].split()[2:])
                for line in lines if line.startswith("drain progress")]
    outcome = next((line for line in lines if line.startswith("drain outcome=")), None)
    counted = 0.0 if outcome and "outcome=quiet" in outcome else float(progress[-1]["in_flight"])
    finished = [r for r in records if r["success"] and r["output_tokens"] == OUTPUT_LEN]
    lost = [r for r in records if not r["success"]]
    refused = [r for r in lost if r["ttft"] == 0 and r["start"] + r["latency"] < ended - 0.5]
    finished_late = [r for r in finished if r["start"] + r["latency"] >= ended - 1.0]
    assert service.stopped_at is not None
    print(f"\n[spot] notice {NOTICE_SECONDS:g}s: readiness false and load stopped "
          f"{service.stopped_at - began:.1f}s in (incl. {2.0:g}s propagation); "
          f"{len([r for r in records if r['start'] >= began])} requests sent after the notice; "
          f"{len(finished)} finished in full, {len(lost)} lost "
          f"({sum(r['start'] < began for r in finished)} of the finished began before the notice); "
          f"hook: {outcome or 'killed at the notice'}; last progress {progress[-1] if progress else None}; "
          f"counted {counted:g}; SIGKILL {'needed' if killed else 'not needed'}")
    # The pod left the endpoints by its readiness probe alone, before the notice ended. (In a pod this
    # takes hook start-up + one 2 s probe period; on this shared 2-core machine the Python start-ups
    # of the hook and the exec probe took ~9.5 s in the first run.)
    assert service.stopped_at - began <= NOTICE_SECONDS
    # Nothing was refused before the end: what reached the pod was served until the node went.
    assert refused == [], [r["error"] for r in refused[:3]]
    # Every request cut by the preemption was counted: the count never under-reports. It can
    # over-report requests that finished after the hook's last poll (first run: 4 counted, 0 lost).
    assert counted >= len(lost), (len(lost), counted, len(finished_late))
    assert all(r["output_tokens"] == OUTPUT_LEN and r["finish_reason"] == "length" for r in finished)
