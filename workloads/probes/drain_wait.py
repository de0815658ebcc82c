#!/usr/bin/env python3
"""preStop hook for the vLLM container: leave the endpoints, serve until the traffic has stopped
and nothing is in flight, then let SIGTERM through. No fixed sleep.

Why: on SIGTERM vLLM (0.32, `--shutdown-timeout`) finishes what its engine runs but refuses
everything else with HTTP 500 "cannot schedule new futures after shutdown", nothing streamed:
requests still waiting for the engine, requests still in the API server's pre-processing, and
every request that still arrives (measured: tests/integration/test_drain.py). So SIGTERM may come
only once nothing reaches the server any more and nothing it accepted is short of a response.

What it does (stdlib only; `python3 /etc/vllm-probe/drain_wait.py` from the probe ConfigMap,
with the container's environment):
1. Write the drain marker, first of all (the HTTP imports come after it, at the first poll): the
   readiness probe (readiness.py) fails from its next run, so the pod leaves the Service's
   endpoints even when it is not deleted (Spot preemption: the kubelet's graceful node shutdown).
   A deleted pod has left them already.
2. Every `$DRAIN_POLL_SECONDS`, read what is in flight: the API server's own count of requests
   between arrival and last byte (`/load`, with `--enable-server-load-tracking`; it counts the
   pre-processing that vLLM's engine gauges do not see) and `vllm:num_requests_running` +
   `vllm:num_requests_waiting`; and an activity signature (`vllm:prompt_tokens_total` +
   `vllm:request_success_total`) that moves whenever a request is prefilled or finishes, so a
   short request between two polls is seen too.
3. Return once, for `$DRAIN_QUIET_SECONDS`, nothing was in flight and nothing moved (the clients
   have stopped sending here: the endpoint removal has reached them), and at least
   `$DRAIN_MIN_SECONDS` have passed (the slowest endpoint propagation expected, for sparse
   traffic where quiet alone proves little). The kubelet sends SIGTERM next; vLLM has nothing left
   to refuse, and finishes anything still running within `--shutdown-timeout`.
4. At `$DRAIN_MAX_SECONDS` return regardless, counting what is still in flight.
   Unreachable metrics end the wait at once: there is nothing left to measure.

Counting what a preemption cuts: a Spot node's shutdown ends the hook early (15 s by default) and
the kubelet SIGKILLs what still runs. So every change of the in-flight counts is logged (and
flushed) as `drain progress elapsed_s=.. in_flight=.. running=.. waiting=..`; the last such line
before the container's end counts the requests the preemption cut (0 when it ended with
`outcome=quiet`). That count never under-reports once the hook has polled after the endpoint
removal reached the clients: nothing arrives after that, so what is in flight only shrinks until
the kill (it over-reports requests that finish after the last poll). Hence the marker first and a
poll every `$DRAIN_POLL_SECONDS` to the end: hook start-up + one readiness period + endpoint
propagation + one poll must fit the notice. A reading taken before the traffic stopped is no
bound (measured on a loaded 2-core machine, where the hook took 5-7 s to start: it read 0 between
two requests and was killed with 4 running; docs/drain.md).
The outcome is `drain outcome=<quiet|deadline|unreachable> elapsed_s=.. [counts]: ...`. Lines go
to stdout and, in the pod, to the container's log (`/proc/1/fd/1`, when PID 1 is the vLLM
server) so that Cloud Logging keeps them (a preStop hook's own output is not logged).

Environment: PROBE_PORT (8000), PROBE_HOST (127.0.0.1), PROBE_STATE_DIR,
DRAIN_MIN_SECONDS (15), DRAIN_QUIET_SECONDS (5), DRAIN_MAX_SECONDS (75), DRAIN_POLL_SECONDS (0.5).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from readiness import mark_draining  # same ConfigMap directory; light (no urllib)

WAITING = "vllm:num_requests_waiting"
RUNNING = "vllm:num_requests_running"
ACTIVITY = ("vllm:prompt_tokens_total", "vllm:request_success_total")
CONTAINER_LOG = "/proc/1/fd/1"


@dataclass(frozen=True)
class Snapshot:
    """What the server holds at one poll."""

    api_load: float | None
    """Requests between arrival and last byte at the API server (`/load`); None without load tracking."""
    running: float
    waiting: float
    activity: float
    """Moves whenever a request is prefilled or finishes."""

    @property
    def in_flight(self) -> float:
        return max(self.api_load or 0.0, self.running + self.waiting)


def read_snapshot(base: str) -> Snapshot:
    """Poll `/metrics` and `/load`; raises OSError when the server is unreachable."""
    import urllib.error  # here, not at the top: the drain marker is written before these imports
    import urllib.request

    from engine_liveness import parse_metrics  # imports urllib.request too

    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        values = parse_metrics(response.read().decode(), (WAITING, RUNNING, *ACTIVITY))
    api_load: float | None = None
    try:
        with urllib.request.urlopen(f"{base}/load", timeout=5) as response:
            api_load = float(json.loads(response.read()).get("server_load", 0))
    except urllib.error.HTTPError:
        api_load = None  # no /load on this server: the engine gauges alone
    except ValueError:
        api_load = None
    return Snapshot(api_load, values[RUNNING], values[WAITING], sum(values[name] for name in ACTIVITY))


@dataclass(frozen=True)
class Budget:
    """The hook's timings (seconds), from the environment the pod spec renders."""

    minimum: float
    quiet: float
    maximum: float
    poll: float

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Budget:
        minimum = float(env.get("DRAIN_MIN_SECONDS", "15"))
        return cls(minimum, float(env.get("DRAIN_QUIET_SECONDS", "5")),
                   max(minimum, float(env.get("DRAIN_MAX_SECONDS", "75"))),
                   float(env.get("DRAIN_POLL_SECONDS", "0.5")))


def counts_text(snap: Snapshot | None) -> str:
    """` in_flight=N running=N waiting=N` (key=value, for log-based metrics); empty without a snapshot."""
    if snap is None:
        return ""
    return f" in_flight={snap.in_flight:g} running={snap.running:g} waiting={snap.waiting:g}"


def outcome_line(outcome: str, elapsed: float, snap: Snapshot | None, detail: str) -> str:
    """The line that ends the hook."""
    return f"drain outcome={outcome} elapsed_s={elapsed:.1f}{counts_text(snap)}: {detail}"


def report(line: str, log_path: str = CONTAINER_LOG, pid1_cmdline: str = "/proc/1/cmdline") -> None:
    """Print the line, and append it to the container's log when PID 1 is the vLLM server (in the pod)."""
    print(line, flush=True)
    try:
        if b"vllm" not in Path(pid1_cmdline).read_bytes():
            return  # not in the serving container (a local run): PID 1 is someone else's
        with open(log_path, "a") as log:
            log.write(line + "\n")
    except OSError:
        pass


def drain_wait(env: dict[str, str], clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep,
               read: Callable[[str], Snapshot] = read_snapshot,
               progress: Callable[[str], None] = report) -> str:
    """Run the hook (module docstring); report each change of the in-flight counts through ``progress``;
    return the outcome line."""
    start = clock()
    base = f"http://{env.get('PROBE_HOST', '127.0.0.1')}:{int(env.get('PROBE_PORT', '8000'))}"
    budget = Budget.from_env(env)
    mark_draining(env)
    quiet_since: float | None = None
    last_activity: float | None = None
    last_counts: tuple[float, float, float] | None = None
    while True:
        try:
            snap = read(base)
        except OSError as err:
            return outcome_line("unreachable", clock() - start, None, f"metrics unreachable ({err}); stop waiting")
        elapsed = clock() - start
        counts = (snap.in_flight, snap.running, snap.waiting)
        if counts != last_counts:
            progress(f"drain progress elapsed_s={elapsed:.1f}{counts_text(snap)}")
            last_counts = counts
        idle = snap.in_flight <= 0 and snap.activity == last_activity
        last_activity = snap.activity
        quiet_since = (quiet_since if quiet_since is not None else elapsed) if idle else None
        if quiet_since is not None and elapsed - quiet_since >= budget.quiet and elapsed >= budget.minimum:
            return outcome_line("quiet", elapsed, snap, (
                f"nothing in flight or arriving for {elapsed - quiet_since:.1f}s; SIGTERM next"))
        if elapsed + budget.poll > budget.maximum:
            return outcome_line("deadline", elapsed, snap, (
                f"DRAIN_MAX_SECONDS={budget.maximum:g} reached; the requests in flight are cut unless "
                "they finish before the grace period ends"))
        sleep(budget.poll)


if __name__ == "__main__":
    report(drain_wait(dict(os.environ)))
    sys.exit(0)
