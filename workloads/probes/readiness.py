#!/usr/bin/env python3
"""Readiness exec probe for the vLLM container: ready while `/health` answers, not ready once draining.

Why not `httpGet /health`: vLLM's `/health` stays 200 while it drains (vLLM 0.32/0.33,
`entrypoints/serve/instrumentator/health.py`; real-vllm-on-cpu.md), so it cannot take a pod out
of the endpoints. A deleted pod leaves them anyway (its deletion marks it terminating), but a
pod on a Spot VM being preempted is not deleted: the kubelet's graceful node shutdown runs its
preStop hook and stops it, and only a failing readiness probe removes it from the Service's
EndpointSlices (kubernetes/kubernetes#116965; the kubelet keeps running readiness probes while
a pod terminates since kubernetes/kubernetes#110191). So the preStop hook (drain_wait.py) first
writes a drain marker, and this probe fails on its next run.

One run = one kubelet probe (stdlib only; `python3 /etc/vllm-probe/readiness.py`):
1. The drain marker `$PROBE_STATE_DIR/vllm-draining-<port>` exists and is newer than the
   container's main process (PID 1; a restarted container ignores and removes a stale one):
   not ready, at once (the kubelet's `failureThreshold` is 1).
2. Else GET `/health` within 2 s: 200 is ready. A failure counts in
   `$PROBE_STATE_DIR/vllm-readiness-<port>.json`; only HEALTH_FAILURES in a row make the pod not
   ready, so one slow answer does not flap it out of the endpoints.

Exit 0 ready, 1 not; one line on stdout says why. Environment: PROBE_PORT (8000),
PROBE_HOST (127.0.0.1), PROBE_STATE_DIR (/tmp).

Start-up is kept light: `urllib.request` (~21 of this module's ~23 ms of imports on CPython
3.11, `python3 -X importtime`) is imported only when `/health` is asked, so a draining pod's probe
answers without it and the preStop hook, which imports `mark_draining` from here, writes its
marker before paying for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

HEALTH_FAILURES = 3
"""Consecutive `/health` failures before not ready (the kubelet default failureThreshold, 3)."""
HEALTH_TIMEOUT_SECONDS = 2.0


def drain_marker(env: dict[str, str]) -> Path:
    """Where the preStop hook marks that the server is draining (per port, in the probe state dir)."""
    return Path(env.get("PROBE_STATE_DIR", "/tmp")) / f"vllm-draining-{int(env.get('PROBE_PORT', '8000'))}"


def main_process_started_at() -> float:
    """Wall-clock start of PID 1 (the container's main process): /proc/1/stat field 22 + boot time."""
    with open("/proc/1/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[19])  # field 22 of the whole line; fields[0] is field 3 (state)
    with open("/proc/stat") as proc_stat:
        boot = next(int(line.split()[1]) for line in proc_stat if line.startswith("btime "))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def draining(env: dict[str, str]) -> bool:
    """True when this container is draining: a drain marker written since its main process started."""
    marker = drain_marker(env)
    try:
        written = marker.stat().st_mtime
    except OSError:
        return False
    try:
        stale = written < main_process_started_at()
    except (OSError, ValueError, StopIteration):
        stale = False
    if stale:  # left by a container that was restarted since: this one is not draining
        marker.unlink(missing_ok=True)
    return not stale


def mark_draining(env: dict[str, str]) -> None:
    """Write the drain marker (readiness fails from its next run on)."""
    marker = drain_marker(env)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{time.time():.3f}\n")


def readiness(env: dict[str, str]) -> tuple[bool, str]:
    """Run one readiness check; return (ready, why)."""
    if draining(env):
        return False, "draining: out of the endpoints until the container stops"
    import urllib.request  # only now: see the module docstring

    base = f"http://{env.get('PROBE_HOST', '127.0.0.1')}:{int(env.get('PROBE_PORT', '8000'))}"
    state = Path(env.get("PROBE_STATE_DIR", "/tmp")) / f"vllm-readiness-{int(env.get('PROBE_PORT', '8000'))}.json"
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=HEALTH_TIMEOUT_SECONDS) as response:
            ok, detail = response.status == 200, f"/health {response.status}"
    except OSError as err:
        ok, detail = False, f"/health: {err}"
    try:
        failures = 0 if ok else json.loads(state.read_text()).get("failures", 0) + 1
    except (OSError, ValueError):
        failures = 0 if ok else 1
    with contextlib.suppress(OSError):
        state.write_text(json.dumps({"failures": failures}))
    if ok:
        return True, detail
    return failures < HEALTH_FAILURES, f"{detail} ({failures}/{HEALTH_FAILURES} in a row)"


if __name__ == "__main__":
    ready, why = readiness(dict(os.environ))
    print(("ready: " if ready else "not ready: ") + why, flush=True)
    sys.exit(0 if ready else 1)
