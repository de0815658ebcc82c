"""Run the stack's rendered vLLM container for real on this machine (CPU build, tiny model).

`LocalServer` is the pod, minus Kubernetes: it starts vLLM with the rendered container's args
(adapted by `spec.adapt_args`, every change printed) and env (secretKeyRef values generated
locally, never printed), runs the rendered startup/readiness/liveness probes as the kubelet
would (`probes.ProbeRunner`), and drains on termination the way a pod is deleted:

1. readiness goes false at once (the endpoints controller removes the pod);
2. the preStop hook runs: the rendered one waits for the endpoint removal to propagate, then
   for vLLM's queue to empty (workloads/probes/drain_wait.py);
3. SIGTERM reaches vLLM, which finishes in-flight requests (`--shutdown-timeout`);
4. after `terminationGracePeriodSeconds` counted from the start of deletion (preStop included,
   as in Kubernetes), SIGKILL.

Tests use the same class (tests/integration/conftest.py), so what they prove is what
`gke-infer serve-local` runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.local.probes import ProbeRunner, ProbeSpec, localize_probe_path, run_exec
from stack.local.serve_env import ensure_serve_env
from stack.local.spec import CPU_KVCACHE_SPACE_GIB, Adapted, PreStop, ServingSpec, adapt_args

#: Env vars whose in-pod values point at pod paths or hub caches; dropped locally, as is any
#: env value that is a path inside one of the container's volumeMounts (HOME=/tmp, /cache/...).
_POD_PATH_ENV = ("VLLM_CACHE_ROOT", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE")
#: Set locally below whatever the pod says.
_PROBE_ENV = ("PROBE_STATE_DIR", "PROBE_PORT")


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalEnv:
    """The container environment resolved for a local run."""

    env: dict[str, str]
    changes: list[str] = field(default_factory=list)
    api_key: str | None = None


def resolve_env(container: dict[str, Any], *, port: int, state_dir: Path,
                secret_values: dict[tuple[str, str], str] | None = None) -> LocalEnv:
    """Resolve a container's `env` for a local process; record what differs from the pod.

    - plain `value`s are kept, except pod paths (VLLM_CACHE_ROOT/HF_HOME/..., and any value
      inside one of the container's volumeMounts, e.g. HOME=/tmp, XDG_CACHE_HOME=/cache/xdg),
      which are dropped so that local defaults (and the warm compile cache) apply;
    - `secretKeyRef` values come from `secret_values[(secret, key)]`, or are generated
      (`secrets.token_urlsafe`); they are never printed, only the variable name is;
    - `fieldRef`/`resourceFieldRef` get local stand-ins (pod IP -> 127.0.0.1);
    - PROBE_PORT and PROBE_STATE_DIR follow the local port and a writable temp dir;
    - VLLM_CPU_KVCACHE_SPACE=1 (GiB) is added for the CPU backend.

    Args:
        container: the rendered `vllm` container.
        port: local port the server binds (the container port's stand-in).
        state_dir: writable directory for the liveness probe's state file.
        secret_values: optional fixed values for secret keys (e.g. from a test).
    """
    env: dict[str, str] = {}
    changes: list[str] = []
    api_key = None
    mounts = [m["mountPath"].rstrip("/") for m in container.get("volumeMounts") or []]
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            value = str(item["value"])
            in_pod_volume = any(value == m or value.startswith(m + "/") for m in mounts)
            if (name in _POD_PATH_ENV or in_pod_volume) and name not in _PROBE_ENV:
                changes.append(f"env {name}: dropped (pod path {value}; local default used)")
                continue
            env[name] = value
            continue
        source = item.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            key = (ref.get("name", ""), ref.get("key", ""))
            value = (secret_values or {}).get(key) or secrets.token_urlsafe(24)
            env[name] = value
            changes.append(f"env {name}: from Secret {key[0]}/{key[1]} -> generated local value "
                           "(not shown)")
            if name == "VLLM_API_KEY":
                api_key = value
        elif "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            env[name] = "127.0.0.1" if path.endswith("IP") else f"local-{path.split('.')[-1]}"
            changes.append(f"env {name}: fieldRef {path} -> {env[name]}")
        elif "resourceFieldRef" in source:
            env[name] = "1"
            changes.append(f"env {name}: resourceFieldRef -> 1")
        elif "configMapKeyRef" in source:
            changes.append(f"env {name}: configMapKeyRef not available locally, unset")
    for name, value in (("PROBE_PORT", str(port)), ("PROBE_STATE_DIR", str(state_dir))):
        if env.get(name) != value:
            if name in env:
                changes.append(f"env {name}: {env[name]} -> {value}")
            env[name] = value
    env["VLLM_CPU_KVCACHE_SPACE"] = CPU_KVCACHE_SPACE_GIB
    changes.append(f"env VLLM_CPU_KVCACHE_SPACE={CPU_KVCACHE_SPACE_GIB} (GiB of KV cache on CPU)")
    return LocalEnv(env, changes, api_key)


@dataclass
class DrainResult:
    """What happened during a pod-style termination."""

    prestop_seconds: float
    grace_period_seconds: float
    exit_after_sigterm: float | None  # seconds from SIGTERM to vLLM's exit
    total_seconds: float  # from deletion start to exit
    returncode: int | None
    killed: bool  # True if the grace period ran out and SIGKILL was needed


def write_api_key(state_dir: Path, api_key: str) -> Path:
    """Store the local server's API key in ``state_dir/api-key``, readable by this user only, so a client can use
    it without it ever being printed."""
    path = state_dir / "api-key"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(api_key)
    return path


def how_to_call(server: LocalServer) -> str:
    """How to call the running server: URL, served model name, and where the API key is (never the key)."""
    auth = f' -H "Authorization: Bearer $(cat {server.api_key_file})"' if server.api_key_file else ""
    body = json.dumps({"model": server.served_model_name, "messages": [{"role": "user", "content": "Hello"}]})
    return (f"call: curl {server.base_url}/v1/chat/completions -H 'Content-Type: application/json'{auth} "
            f"-d '{body}'")


class LocalServer:
    """The rendered vLLM container running locally: start, probe, drain.

    Attributes (after `start`): `base_url`, `api_key` (None without VLLM_API_KEY in the spec), `api_key_file`
    (where that key is stored, mode 0600),
    `pid` (vLLM's API server process), `model_dir`, `served_model_name`, `adapted`
    (args + changes), `env_changes`, `probes` (the ProbeRunner), `log_path`.
    """

    def __init__(self, spec: ServingSpec, model_dir: Path, *, port: int | None = None,
                 log_path: Path | None = None, python: Path | None = None,
                 secret_values: dict[tuple[str, str], str] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.model_dir = Path(model_dir)
        self.port = port or free_port()
        self.python = python
        self.say = say or (lambda _m: None)
        self.state_dir = Path(tempfile.mkdtemp(prefix="vllm-probe-state-"))
        self.log_path = log_path or self.state_dir / "vllm.log"
        self.adapted: Adapted = adapt_args(spec.args, model_dir=self.model_dir, port=self.port)
        local = resolve_env(spec.container, port=self.port, state_dir=self.state_dir,
                            secret_values=secret_values)
        self.env_changes = local.changes
        self.container_env = local.env
        self.api_key = local.api_key
        self.api_key_file = write_api_key(self.state_dir, self.api_key) if self.api_key else None
        self.served_model_name = self.adapted.served_model_name
        self.base_url = f"http://127.0.0.1:{self.port}"
        probe_specs = []
        for kind in ("startup", "readiness", "liveness"):
            probe = spec.container.get(f"{kind}Probe")
            if probe:
                probe_specs.append(ProbeSpec.from_k8s(kind, probe, spec.container_port, self.port))
        self.probe_specs = probe_specs
        self.proc: subprocess.Popen | None = None
        self.probes: ProbeRunner | None = None
        self.started_at: float | None = None
        self._log_file: Any = None  # the log file while vLLM runs
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def process_env(self) -> dict[str, str]:
        """Environment of the vLLM process: this machine's env plus the container's."""
        env = {k: v for k, v in os.environ.items() if k not in _POD_PATH_ENV}
        env.update(self.container_env)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        return env

    def command(self) -> list[str]:
        python = self.python or ensure_serve_env()
        return [str(python), "-m", "vllm.entrypoints.openai.api_server", *self.adapted.args]

    def start(self) -> None:
        """Start vLLM (own session: terminal signals reach us, not it) and the probes."""
        cmd = self.command()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop(), outlives this call
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.process_env(), stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.probes = ProbeRunner(self.probe_specs, self.process_env(), log=self.say)
        self.probes.start()

    def wait_ready(self, timeout: float = 600) -> float:
        """Block until the readiness probe passes; return seconds since start (time-to-ready).

        Raises RuntimeError (with the log's tail) if vLLM exits, a probe gives up, or timeout.
        """
        assert self.proc is not None and self.probes is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.probes.wait_ready(timeout=1.0):
                return float(self.probes.time_ready or 0.0)
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.proc.returncode} before ready:\n"
                                   + self.log_tail())
            if self.probes.startup_failed:
                raise RuntimeError("startup probe failed before vLLM became ready:\n"
                                   + self.log_tail())
        raise RuntimeError(f"vLLM not ready after {timeout:.0f}s:\n" + self.log_tail())

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def child_pids(self) -> list[int]:
        """Direct children of vLLM's API server (EngineCore, resource tracker)."""
        out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(self.pid)],
                             capture_output=True, text=True).stdout
        return [int(line.split()[0]) for line in out.splitlines() if line.strip()]

    def engine_core_pid(self) -> int:
        """PID of the EngineCore process (a child of the API server named VLLM::EngineCore)."""
        for pid in self.child_pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "EngineCore" in cmdline:
                return pid
        raise RuntimeError("no EngineCore child process found")

    def drain(self, *, before_sigterm: Callable[[], None] | None = None,
              on_sigterm: Callable[[], None] | None = None) -> DrainResult:
        """Terminate like a pod deletion (see module docstring); return what happened.

        Args:
            before_sigterm: called after the preStop hook, just before SIGTERM (a test stops
                its load generator here: by then no endpoint routes to the pod).
            on_sigterm: called right after SIGTERM is sent to vLLM (tests mark the time).
        """
        assert self.proc is not None and self.probes is not None
        t0 = time.monotonic()
        grace = self.spec.termination_grace_period
        hook = self.spec.prestop
        self.probes.mark_terminating()
        self.say(f"terminating: not ready now; preStop {hook.describe()}, then SIGTERM; "
                 f"grace period {grace:g}s")
        self.probes.stop_kind("liveness")
        self._run_prestop(hook, grace)
        prestop = time.monotonic() - t0
        t_term = None
        killed = False
        if before_sigterm:
            before_sigterm()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            t_term = time.monotonic()
            if on_sigterm:
                on_sigterm()
            remaining = max(0.0, grace - (time.monotonic() - t0))
            try:
                self.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(f"grace period {grace:g}s over: SIGKILL")
                os.killpg(self.proc.pid, signal.SIGKILL)
                killed = True
                self.proc.wait()
        t_exit = time.monotonic()
        self.probes.stop()
        self._kill_leftovers()
        result = DrainResult(prestop, grace, (t_exit - t_term) if t_term else None,
                             t_exit - t0, self.proc.returncode, killed)
        self.say(f"vLLM exited {result.returncode} after "
                 f"{result.exit_after_sigterm or 0:.1f}s from SIGTERM "
                 f"({result.total_seconds:.1f}s since termination began"
                 f"{', SIGKILLed' if killed else ''})")
        return result

    def _run_prestop(self, hook: PreStop, grace: float) -> None:
        """Run the preStop hook as the kubelet does: before SIGTERM, within the grace period.

        An exec hook runs with the container's environment (its in-pod script path mapped to
        this repository); its last output line is printed.
        """
        if hook.command:
            command = [localize_probe_path(word) for word in hook.command]
            returncode, detail = run_exec(command, self.process_env(), grace)
            self.say(f"preStop exit {returncode}: {detail}" if returncode is not None
                     else f"preStop still running after the grace period ({grace:g}s)")
        elif hook.sleep_seconds:
            time.sleep(min(hook.sleep_seconds, grace))

    def stop(self) -> None:
        """Tear down without the drain sequence (tests' cleanup): SIGTERM, then SIGKILL after 30 s."""
        if self.probes:
            self.probes.stop()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        # The whole session is vLLM's (start_new_session): reap anything it left behind.
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log_file:
            self._log_file.close()
            self._log_file = None


def describe(server: LocalServer) -> list[str]:
    """The lines serve-local prints before starting: every change, the probes."""
    lines = ["adapted for CPU + tiny model:"]
    lines += [f"  {c}" for c in server.adapted.changes + server.env_changes]
    lines.append("probes (kubelet semantics):")
    lines += [f"  {p.describe()}" for p in server.probe_specs]
    lines.append(f"drain: preStop {server.spec.prestop.describe()}, terminationGracePeriodSeconds "
                 f"{server.spec.termination_grace_period:g}")
    return lines


def main_loop(servers: LocalServer | list[LocalServer], *, out: Callable[[str], None] = print) -> int:
    """Run every server (one per model) until SIGTERM/SIGINT (then drain them all) or one fails; return the exit
    code."""
    servers = servers if isinstance(servers, list) else [servers]
    stop = threading.Event()
    reason: list[str] = []

    def on_signal(signum, _frame):
        reason.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for server in servers:
        server.start()
        out(f"{server.spec.name}: vLLM pid {server.pid}, log {server.log_path}")
    for server in servers:
        assert server.probes is not None
        try:
            ttr = server.wait_ready()
        except RuntimeError as exc:
            out(f"error: {server.spec.name}: {exc}")
            for other in servers:
                other.stop()
            return 1
        out(f"{server.spec.name}: ready in {ttr:.1f}s (startup probe passed at "
            f"{server.probes.time_started or 0:.1f}s); serving {server.served_model_name!r} on {server.base_url}"
            + (f" (API key from the spec's Secret: generated locally, in {server.api_key_file})"
               if server.api_key_file else ""))
        out(how_to_call(server))
    out("Ctrl-C or SIGTERM drains like a pod deletion")
    while not stop.wait(1.0):
        for server in servers:
            assert server.proc is not None and server.probes is not None
            if server.proc.poll() is not None:
                out(f"{server.spec.name}: vLLM exited on its own with {server.proc.returncode}:\n{server.log_tail()}")
                for other in servers:
                    other.stop()
                return 1
            if not server.probes.live:
                out(f"{server.spec.name}: liveness probe failed; stopping (the kubelet would restart the container)")
                for other in servers:
                    other.drain()
                return 1
    out(f"{reason[0]}: draining")
    results = [server.drain() for server in servers]
    return 0 if not any(result.killed for result in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `gke-infer serve-local STACK`")
