#!/usr/bin/env python3
"""preStop hook for the vLLM container: leave the endpoints, then let the queue empty.

Why more than a sleep: on SIGTERM vLLM (0.32, `--shutdown-timeout`) finishes the requests its
engine is running but refuses the ones still waiting to be scheduled (HTTP 500 "cannot schedule
new futures after shutdown"; measured in tests/integration/test_drain.py). A saturated server
(the moment an autoscaler or a rollout removes a pod) has a queue, so a fixed sleep loses it.

What it does (stdlib only; runs as `python3 /etc/vllm-probe/drain_wait.py` from the probe
ConfigMap, with the container's environment):
1. Sleep `$DRAIN_MIN_SECONDS`: the pod is already out of the Service's endpoints (it is
   terminating), and this covers the time the load balancers take to notice.
2. Poll `/metrics` every `$DRAIN_POLL_SECONDS` until `vllm:num_requests_waiting` is 0 on two
   polls in a row, or until `$DRAIN_MAX_SECONDS` after the hook started. Nothing new arrives
   by now, so the queue only shrinks as running requests finish and waiting ones start.
3. Exit 0 (the kubelet sends SIGTERM next; vLLM then drains what is running). Unreachable
   metrics end the wait at once: there is nothing to measure, and the grace period is finite.

One line on stdout says how it ended. Environment: PROBE_PORT (8000), PROBE_HOST (127.0.0.1),
DRAIN_MIN_SECONDS (15), DRAIN_MAX_SECONDS (75), DRAIN_POLL_SECONDS (1).
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request

from engine_liveness import parse_metrics  # same ConfigMap directory

WAITING = "vllm:num_requests_waiting"
RUNNING = "vllm:num_requests_running"


def queue(base: str) -> tuple[float, float]:
    """(waiting, running) from the server's metrics; raises OSError when unreachable."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        values = parse_metrics(response.read().decode(), (WAITING, RUNNING))
    return values[WAITING], values[RUNNING]


def drain_wait(env: dict[str, str], clock=time.monotonic, sleep=time.sleep) -> str:
    """Run the hook; return the line it prints."""
    start = clock()
    base = f"http://{env.get('PROBE_HOST', '127.0.0.1')}:{int(env.get('PROBE_PORT', '8000'))}"
    minimum = float(env.get("DRAIN_MIN_SECONDS", "15"))
    maximum = max(minimum, float(env.get("DRAIN_MAX_SECONDS", "75")))
    poll = float(env.get("DRAIN_POLL_SECONDS", "1"))
    sleep(minimum)
    empty_polls = 0
    while True:
        try:
            waiting, running = queue(base)
        except OSError as err:
            return f"drain: metrics unreachable ({err}); stop waiting"
        elapsed = clock() - start
        empty_polls = empty_polls + 1 if waiting == 0 else 0
        if empty_polls >= 2:
            return f"drain: queue empty after {elapsed:.1f}s ({running:g} running)"
        if elapsed + poll > maximum:
            return (f"drain: {waiting:g} still waiting after {elapsed:.1f}s "
                    f"(DRAIN_MAX_SECONDS={maximum:g}); SIGTERM refuses them")
        sleep(poll)


if __name__ == "__main__":
    print(drain_wait(dict(os.environ)), flush=True)
    sys.exit(0)
