#!/usr/bin/env python3
"""Liveness exec probe for the vLLM container: is the *engine* alive, not just the API server?

Why not `httpGet /health`: vLLM's API server answers `/health` from its own process. When the
EngineCore process hangs (measured: SIGSTOP on it), `/health` keeps answering 200 in ~1 ms
while every completion waits forever. A liveness probe must therefore see the engine work.

How (one run = one kubelet probe; stdlib only, runs as
`python3 /etc/vllm-probe/engine_liveness.py` from a ConfigMap):
1. GET `/metrics` (open even with `--api-key`). Read the in-flight gauges
   `vllm:num_requests_running` + `vllm:num_requests_waiting` and a progress signature made of
   counters that only move when the engine completes steps: `vllm:iteration_tokens_total_count`,
   `vllm:generation_tokens_total`, `vllm:prompt_tokens_total`, `vllm:request_success_total`
   (each summed over its label sets).
2. Busy (in-flight > 0): healthy only if the signature advanced since the previous probe run.
   The previous run's signature is kept in `$PROBE_STATE_DIR/vllm-liveness-<port>.json`. A
   busy engine runs many steps per second, so one probe period without a single step means it
   is stuck. The first busy run (no previous state) passes and records its signature.
3. Idle and draining (the preStop hook's marker, readiness.py): healthy without a request; the
   hook is waiting for traffic to stop, and a ping would look like traffic.
4. Idle (nothing in flight): the counters cannot move by themselves, so send a 1-token
   `/v1/completions` request (Bearer `$VLLM_API_KEY` if set) and require an answer within
   `$PROBE_TIMEOUT_SECONDS`. That request is tiny and counted in the metrics like any other.
5. Anything else (metrics unreachable, a non-200, a timeout) is unhealthy.

Exit 0 healthy, 1 not; one line on stdout says why (the kubelet puts it in the pod events).
The kubelet's `failureThreshold` x `periodSeconds` sets how long a hang lasts before a restart;
`timeoutSeconds` of the probe must exceed `$PROBE_TIMEOUT_SECONDS`.

Environment:
  PROBE_PORT (8000), PROBE_HOST (127.0.0.1), PROBE_MODEL (served model name; default: first
  id from /v1/models), VLLM_API_KEY (optional), PROBE_STATE_DIR (/tmp),
  PROBE_TIMEOUT_SECONDS (5).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

from readiness import draining  # same ConfigMap directory

INFLIGHT_GAUGES = ("vllm:num_requests_running", "vllm:num_requests_waiting")
PROGRESS_COUNTERS = (
    "vllm:iteration_tokens_total_count",
    "vllm:generation_tokens_total",
    "vllm:prompt_tokens_total",
    "vllm:request_success_total",
)


def parse_metrics(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """Sum each named sample over all its label sets in Prometheus text exposition `text`."""
    sums = {name: 0.0 for name in names}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        brace, space = line.find("{"), line.find(" ")
        if 0 <= brace < space or (brace >= 0 and space < 0):
            name, rest = line[:brace], line[line.rfind("}") + 1:]
        elif space > 0:
            name, rest = line[:space], line[space:]
        else:
            continue
        if name in sums:
            try:
                sums[name] += float(rest.split()[0])
            except (ValueError, IndexError):
                continue
    return sums


class Probe:
    """One probe run against `http://host:port` (configured from the environment)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env.get("PROBE_PORT", "8000"))
        self.base = f"http://{env.get('PROBE_HOST', '127.0.0.1')}:{self.port}"
        self.model = env.get("PROBE_MODEL") or None
        self.api_key = env.get("VLLM_API_KEY") or None
        self.timeout = float(env.get("PROBE_TIMEOUT_SECONDS", "5"))
        state_dir = env.get("PROBE_STATE_DIR", "/tmp")
        self.state_path = os.path.join(state_dir, f"vllm-liveness-{self.port}.json")

    def _request(self, path: str, body: dict | None = None) -> bytes:
        headers = {"Content-Type": "application/json"}
        if self.api_key and path.startswith("/v1"):
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return resp.read()

    def _load_state(self) -> list[float] | None:
        try:
            with open(self.state_path) as f:
                return json.load(f)["progress"]
        except (OSError, ValueError, KeyError):
            return None

    def _save_state(self, progress: list[float]) -> None:
        tmp = f"{self.state_path}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump({"progress": progress, "time": time.time()}, f)
        os.replace(tmp, self.state_path)

    def _ping_engine(self) -> tuple[bool, str]:
        model = self.model
        if model is None:
            models = json.loads(self._request("/v1/models"))
            model = models["data"][0]["id"]
        start = time.monotonic()
        body = {"model": model, "prompt": "ping", "max_tokens": 1, "temperature": 0}
        answer = json.loads(self._request("/v1/completions", body))
        if not answer.get("choices"):
            return False, "idle: 1-token completion returned no choices"
        return True, f"idle: 1-token completion in {1000 * (time.monotonic() - start):.0f} ms"

    def run(self) -> tuple[bool, str]:
        """Return (healthy, reason)."""
        try:
            text = self._request("/metrics").decode()
        except (OSError, urllib.error.URLError) as exc:
            return False, f"/metrics unreachable: {exc}"
        values = parse_metrics(text, INFLIGHT_GAUGES + PROGRESS_COUNTERS)
        inflight = sum(values[g] for g in INFLIGHT_GAUGES)
        progress = [values[c] for c in PROGRESS_COUNTERS]
        previous = self._load_state()
        self._save_state(progress)
        if inflight > 0:
            if previous is None:
                return True, f"busy ({inflight:.0f} in flight): first sample recorded"
            if progress != previous and all(p >= q for p, q in zip(progress, previous, strict=False)):
                return True, f"busy ({inflight:.0f} in flight): engine made progress"
            if progress != previous:
                # Counters went backwards: the server restarted; start over from here.
                return True, f"busy ({inflight:.0f} in flight): counters reset, re-baselined"
            return False, (f"busy ({inflight:.0f} in flight) but no engine progress since "
                           "the previous probe: engine hung")
        if draining(self.env):
            # The preStop hook waits for traffic to stop; a ping would look like traffic.
            return True, "idle and draining: no 1-token ping"
        try:
            return self._ping_engine()
        except (OSError, urllib.error.URLError, ValueError, KeyError, IndexError) as exc:
            return False, f"idle: 1-token completion failed: {exc}"


def main() -> int:
    healthy, reason = Probe(dict(os.environ)).run()
    print(("ok: " if healthy else "FAIL: ") + reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
