"""`gke-infer serve-local dev` runs every model of the stack for real (issue 18 item 6): dev's two models, each from
its own rendered Deployment, side by side on CPU with the tiny model; each answers a chat completion by its served
name, says how to call it, and the pair drains on SIGTERM.

Own servers (two vLLM processes); runs after the shared one is drained.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from stack.local.serve import free_port

pytestmark = [pytest.mark.integration, pytest.mark.own_server]

READY = re.compile(r"^(\S+): ready in [\d.]+s .*; serving '([^']+)' on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 600.0


def chat(base_url: str, model: str) -> dict:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}).encode()
    request = urllib.request.Request(f"{base_url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def test_serve_local_dev_starts_both_models_and_each_answers_by_name(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "stack.cli", "serve-local", "dev", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    lines: list[str] = []
    ready: dict[str, tuple[str, str]] = {}
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            match = READY.match(line)
            if match:
                ready[match.group(1)] = (match.group(2), match.group(3))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(ready) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
        assert set(ready) == {"vllm", "qwen"}, "\n".join(lines[-40:])
        assert ready["vllm"][0] == "llama-3.1-8b" and ready["qwen"][0] == "qwen2.5-1.5b"
        assert {url for _, url in ready.values()} == {f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"}
        for served, url in ready.values():
            answer = chat(url, served)
            assert answer["model"] == served and answer["choices"][0]["message"]["content"] is not None
            assert any(line.startswith(f"call: curl {url}/v1/chat/completions") and served in line for line in lines)
        # each server knows only its own model: asking one for the other's name is refused (404, not served)
        (served, url), (other, _) = ready["vllm"], ready["qwen"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            chat(url, other)
        assert refused.value.code == 404
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        done.wait(10)
    assert proc.returncode == 0, "\n".join(lines[-40:])
    assert any(line.startswith("SIGTERM: draining") for line in lines)
