"""A server started from the serving spec: ready, answers, guarded by its API key, and its
liveness exec probe catches a hung engine that `/health` does not."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from stack.local.probes import ProbeRunner, run_probe_once

pytestmark = pytest.mark.integration


def call(server, path, body=None, key="__server__", timeout=30):
    """Return (status, parsed JSON or text). key: "__server__" = the server's key, None = none."""
    headers = {"Content-Type": "application/json"}
    key = server.api_key if key == "__server__" else key
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read().decode(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def test_ready_from_spec_with_its_probes(vllm_server):
    kinds = [p.kind for p in vllm_server.probe_specs]
    assert kinds == ["startup", "readiness", "liveness"]
    assert vllm_server.probes.ready is True
    assert vllm_server.probes.time_started <= vllm_server.probes.time_ready
    # GPU-only settings of the spec were adapted, and the change list says so.
    adapted = vllm_server.adapted.args
    assert adapted[adapted.index("--model") + 1] == str(vllm_server.model_dir)
    assert adapted[adapted.index("--host") + 1] == "127.0.0.1"
    assert adapted[adapted.index("--gpu-memory-utilization") + 1] == "0.3"
    assert "--tensor-parallel-size" not in adapted
    assert "fp8" not in adapted
    served = vllm_server.spec.args[vllm_server.spec.args.index("--served-model-name") + 1]
    assert vllm_server.served_model_name == served


def test_answers_a_chat_completion(vllm_server):
    status, body = call(vllm_server, "/v1/chat/completions", {
        "model": vllm_server.served_model_name,
        "messages": [{"role": "user", "content": "Hello! How are you?"}],
        "max_tokens": 12, "ignore_eos": True, "temperature": 0,
    })
    assert status == 200, body
    assert body["model"] == vllm_server.served_model_name
    assert body["usage"]["completion_tokens"] == 12
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["role"] == "assistant"


def test_api_key_guards_v1_but_not_probes(vllm_server):
    assert vllm_server.api_key, "the serving spec sets VLLM_API_KEY from a Secret"
    assert call(vllm_server, "/v1/models", key=None)[0] == 401
    assert call(vllm_server, "/v1/models", key="wrong-key")[0] == 401
    status, body = call(vllm_server, "/v1/models")
    assert status == 200
    assert [m["id"] for m in body["data"]] == [vllm_server.served_model_name]
    # /health and /metrics stay open; every rendered probe passes with the key in the env.
    assert call(vllm_server, "/health", key=None)[0] == 200
    assert call(vllm_server, "/metrics", key=None)[0] == 200
    env = vllm_server.process_env()
    for probe in vllm_server.probe_specs:
        ok, detail = run_probe_once(probe, env)
        assert ok, f"{probe.kind}: {detail}"
    # Without the key the exec liveness probe cannot reach the engine: it must fail.
    liveness = next(p for p in vllm_server.probe_specs if p.kind == "liveness")
    ok, detail = run_probe_once(liveness, {**env, "VLLM_API_KEY": ""})
    assert not ok and "401" in detail


def test_liveness_probe_catches_hung_engine_health_does_not(vllm_server, tmp_path):
    liveness = next(p for p in vllm_server.probe_specs if p.kind == "liveness")
    assert liveness.handler == "exec"
    env = {**vllm_server.process_env(), "PROBE_STATE_DIR": str(tmp_path)}
    engine = vllm_server.engine_core_pid()
    runner = ProbeRunner([liveness], env)
    health_codes = []
    os.kill(engine, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        runner.start()
        budget = liveness.failure_threshold * liveness.period + liveness.timeout + 3
        while runner.live and time.monotonic() - t0 < budget:
            # The finding is *what* /health answers with the engine stopped; on a CPU-starved 2-core
            # machine (other test processes running) its answer took over 2 s once, hence the slack.
            health_codes.append(call(vllm_server, "/health", key=None, timeout=10)[0])
            time.sleep(0.5)
        detected = time.monotonic() - t0
        runner.stop()
    finally:
        os.kill(engine, signal.SIGCONT)
    print(f"\n[hang] liveness failed {detected:.1f}s after SIGSTOP "
          f"(budget {budget:.0f}s); /health answered {set(health_codes)}")
    assert runner.live is False
    assert detected <= budget
    fails = [e for e in runner.events if not e.ok]
    assert len(fails) == liveness.failure_threshold
    assert health_codes and set(health_codes) == {200}
    # After SIGCONT the engine serves again and the probe passes.
    ok, detail = run_probe_once(liveness, env)
    assert ok, detail
