"""Run Kubernetes probes against a local process the way the kubelet does.

Semantics copied from the kubelet (k8s.io/kubernetes pkg/kubelet/prober): a probe waits
`initialDelaySeconds`, then runs every `periodSeconds`; each run has `timeoutSeconds`; a state
flips to failed after `failureThreshold` consecutive failures and to succeeded after
`successThreshold` consecutive successes. httpGet succeeds on 200 <= status < 400; exec on exit 0.
Liveness and readiness start only once the startup probe has succeeded. Defaults are the API's:
period 10 s, timeout 1 s, failureThreshold 3, successThreshold 1.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stack.project import PACKAGE_ROOT

#: Where the probe scripts are mounted in the pod (ConfigMap) and where they live here (checkout or wheel).
POD_PROBE_DIR = "/etc/vllm-probe/"
LOCAL_PROBE_DIR = PACKAGE_ROOT / "workloads" / "probes"


@dataclass
class ProbeSpec:
    """One Kubernetes probe, resolved for a local run."""

    kind: str  # "startup" | "readiness" | "liveness"
    handler: str  # "httpGet" | "exec"
    path: str = "/"
    port: int = 0
    command: list[str] = field(default_factory=list)
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1

    @classmethod
    def from_k8s(cls, kind: str, probe: dict[str, Any], resolve_port: Callable[[Any], int],
                 local_port: int) -> ProbeSpec:
        """Build from a container's probe dict; the container's port is mapped to `local_port`.

        Args:
            kind: startup, readiness or liveness.
            probe: the probe as rendered (`httpGet` or `exec`, plus timing fields).
            resolve_port: maps a named or numbered container port to its number.
            local_port: the port the local server listens on (the container port's stand-in).
        """
        timing: dict[str, Any] = dict(
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
            success_threshold=int(probe.get("successThreshold", 1)),
        )
        if "httpGet" in probe:
            get = probe["httpGet"]
            resolve_port(get["port"])  # fails early on a port name the container lacks
            return cls(kind, "httpGet", path=get.get("path", "/"), port=local_port, **timing)
        if "exec" in probe:
            command = [localize_probe_path(c) for c in probe["exec"]["command"]]
            return cls(kind, "exec", command=command, port=local_port, **timing)
        raise ValueError(f"{kind}Probe: only httpGet and exec probes are supported locally")

    def describe(self) -> str:
        what = f"GET {self.path}" if self.handler == "httpGet" else " ".join(self.command)
        return (f"{self.kind}: {what} every {self.period:g}s, timeout {self.timeout:g}s, "
                f"failureThreshold {self.failure_threshold}")


def localize_probe_path(word: str) -> str:
    """Map a probe script's in-pod path (`/etc/vllm-probe/x.py`) to `workloads/probes/x.py`, and the pod's
    `python3` (the image's interpreter, a binary) to this one: on PATH here it may be a pyenv shim, a bash
    script that takes seconds to tens of seconds to start on a loaded machine (measured 0.3-32 s with vLLM
    busy on 2 cores, docs/drain.md), which a pod never pays."""
    if word == "python3":
        return sys.executable
    if word.startswith(POD_PROBE_DIR):
        return str(LOCAL_PROBE_DIR / word[len(POD_PROBE_DIR):])
    return word


def run_probe_once(probe: ProbeSpec, env: dict[str, str], host: str = "127.0.0.1") -> tuple[bool, str]:
    """Run one probe attempt with the kubelet's success rules; return (ok, detail).

    Args:
        probe: what to run.
        env: the container environment (exec probes run with it, as in the pod).
        host: the address httpGet probes connect to.
    """
    if probe.handler == "httpGet":
        conn = http.client.HTTPConnection(host, probe.port, timeout=probe.timeout)
        try:
            conn.request("GET", probe.path, headers={"User-Agent": "kube-probe/local"})
            status = conn.getresponse().status
            return 200 <= status < 400, f"HTTP {status}"
        except OSError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
    returncode, detail = run_exec(probe.command, env, probe.timeout)
    return returncode == 0, detail


def run_exec(command: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run an exec handler (probe or lifecycle hook) as the kubelet does.

    Returns (exit code, its last output line), or (None, why) when it outran `timeout`.
    """
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g}s"
    out = (proc.stdout + proc.stderr).strip().splitlines()
    return proc.returncode, (out[-1] if out else f"exit {proc.returncode}")


@dataclass
class ProbeEvent:
    """One probe attempt: when (seconds since the runner started), which, result, detail."""

    t: float
    kind: str
    ok: bool
    detail: str


class ProbeRunner:
    """Runs startup, then readiness and liveness probes in threads, like the kubelet.

    State: `started` (startup succeeded), `ready`, `live` (False once liveness failed
    `failureThreshold` times in a row), `startup_failed`. `on_liveness_failure` and
    `on_startup_failure` are called once when those states flip (the kubelet would restart
    the container). `events` keeps every attempt.
    """

    def __init__(self, probes: list[ProbeSpec], env: dict[str, str], *,
                 on_liveness_failure: Callable[[], None] | None = None,
                 on_startup_failure: Callable[[], None] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.probes = {p.kind: p for p in probes}
        self.env = env
        self.on_liveness_failure = on_liveness_failure
        self.on_startup_failure = on_startup_failure
        self.log = log or (lambda _msg: None)
        self.events: list[ProbeEvent] = []
        self.started = "startup" not in self.probes
        self.ready = False
        self.live = True
        self.startup_failed = False
        self.time_started: float | None = None
        self.time_ready: float | None = None
        self.time_liveness_failed: float | None = None
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._started_event = threading.Event()
        self._ready_event = threading.Event()
        self._not_ready_forced = False
        self._threads: list[threading.Thread] = []
        self._stopped_kinds: set[str] = set()
        self._paused_kinds: set[str] = set()
        self._running: dict[str, bool] = {}
        if self.started:
            self._started_event.set()

    def start(self) -> None:
        """Start the probe threads; the clock starts now (i.e. at container start)."""
        self._t0 = time.monotonic()
        if "startup" not in self.probes and "readiness" not in self.probes:
            self._set_ready()
        for kind in ("startup", "readiness", "liveness"):
            if kind in self.probes:
                t = threading.Thread(target=self._loop, args=(self.probes[kind],),
                                     name=f"probe-{kind}", daemon=True)
                t.start()
                self._threads.append(t)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def mark_terminating(self) -> None:
        """Pod deletion: readiness goes false at once and stays false (endpoints removed)."""
        self._not_ready_forced = True
        self.ready = False
        self._ready_event.clear()

    def stop_kind(self, kind: str) -> None:
        """Stop one probe's loop (e.g. liveness while terminating: no restart of a dying pod)."""
        self._stopped_kinds.add(kind)

    def pause(self, kind: str, timeout: float = 30.0) -> None:
        """Skip `kind`'s runs until `resume`; returns once no run of it is in progress.

        For measurements that must not see the probe's own traffic (the idle liveness
        probe sends a 1-token request)."""
        self._paused_kinds.add(kind)
        deadline = time.monotonic() + timeout
        while self._running.get(kind) and time.monotonic() < deadline:
            time.sleep(0.05)

    def resume(self, kind: str) -> None:
        self._paused_kinds.discard(kind)

    def stop(self) -> None:
        """Stop probing (container gone)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_ready(self, timeout: float) -> bool:
        """Block until ready or `timeout` seconds; True if ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready_event.wait(timeout=0.2):
                return True
            if self.startup_failed or not self.live:
                return False
        return self.ready

    def _loop(self, probe: ProbeSpec) -> None:
        if probe.kind != "startup":
            while not self._started_event.wait(timeout=0.2):
                if self._stop.is_set() or self.startup_failed:
                    return
        if self._stop.wait(probe.initial_delay):
            return
        successes = failures = 0
        while not self._stop.is_set():
            t_run = time.monotonic()
            if probe.kind in self._paused_kinds:
                self._stop.wait(0.2)
                continue
            self._running[probe.kind] = True
            try:
                ok, detail = run_probe_once(probe, self.env)
            finally:
                self._running[probe.kind] = False
            if self._stop.is_set() or probe.kind in self._stopped_kinds:
                return
            self.events.append(ProbeEvent(self.elapsed(), probe.kind, ok, detail))
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.log(f"{probe.kind} probe failed ({failures}/{probe.failure_threshold}): {detail}")
            if self._transition(probe, ok, successes, failures):
                return
            # Period runs from the start of one attempt to the start of the next.
            self._stop.wait(max(0.0, probe.period - (time.monotonic() - t_run)))

    def _set_ready(self) -> None:
        self.ready = True
        if self.time_ready is None:
            self.time_ready = self.elapsed()
            self.log(f"ready at {self.time_ready:.1f}s")
        self._ready_event.set()

    def _transition(self, probe: ProbeSpec, ok: bool, successes: int, failures: int) -> bool:
        """Apply a result; return True when this probe's loop is done."""
        if probe.kind == "startup":
            if ok and successes >= probe.success_threshold:
                self.started, self.time_started = True, self.elapsed()
                self.log(f"startup probe succeeded at {self.time_started:.1f}s")
                self._started_event.set()
                if "readiness" not in self.probes:
                    self._set_ready()  # no readiness probe: ready once started
                return True
            if failures >= probe.failure_threshold:
                self.startup_failed = True
                self.log("startup probe failed: the kubelet would kill and restart the container")
                if self.on_startup_failure:
                    self.on_startup_failure()
                return True
        elif probe.kind == "readiness":
            if self._not_ready_forced:
                return False
            if ok and successes >= probe.success_threshold and not self.ready:
                self._set_ready()
            elif failures >= probe.failure_threshold and self.ready:
                self.ready = False
                self._ready_event.clear()
                self.log("readiness failed: the pod leaves the Service endpoints")
        elif probe.kind == "liveness" and failures >= probe.failure_threshold:
            self.live = False
            self.time_liveness_failed = self.elapsed()
            self.log(f"liveness failed at {self.time_liveness_failed:.1f}s: the kubelet "
                     "would kill and restart the container")
            if self.on_liveness_failure:
                self.on_liveness_failure()
            return True
        return False
