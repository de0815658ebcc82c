"""check_batch_input against the real thing: vLLM's batch runner (CPU build) on the tiny model.

What the check accepts, the runner answers line by line; what it refuses (a ``/v1/completions``
line), the runner aborts on. The in-pod script runs under the serving venv's interpreter too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from workloads.batch import CHECK_SCRIPT, check_batch_input

pytestmark = pytest.mark.integration

SERVED = "tiny"


@pytest.fixture(scope="module")
def serve_python() -> Path:
    from stack.local.serve_env import ensure_serve_env

    return ensure_serve_env()


@pytest.fixture(scope="module")
def tiny_model(serve_python) -> Path:
    from stack.local.tiny_model import cached_tiny_model

    return cached_tiny_model(python=serve_python)


def chat(custom_id: str) -> str:
    return json.dumps(
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": SERVED, "max_tokens": 4, "messages": [{"role": "user", "content": "Hello"}]},
        }
    )


def run_batch(python: Path, model: Path, source: Path, target: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
    }  # CPU settings: reference/real-vllm-on-cpu.md
    return subprocess.run(
        [
            str(python),
            "-m",
            "vllm.entrypoints.openai.run_batch",
            "-i",
            str(source),
            "-o",
            str(target),
            "--model",
            str(model),
            "--served-model-name",
            SERVED,
            "--gpu-memory-utilization",
            "0.3",
            "--max-model-len",
            "512",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_checked_input_runs_and_completions_input_aborts(tmp_path, serve_python, tiny_model):
    good = [chat("a"), chat("b")]
    assert check_batch_input(good, SERVED) == []
    source, target = tmp_path / "good.jsonl", tmp_path / "good-out.jsonl"
    source.write_text("\n".join(good) + "\n")
    done = run_batch(serve_python, tiny_model, source, target)
    assert done.returncode == 0, done.stderr[-3000:]
    results = {r["custom_id"]: r for r in map(json.loads, target.read_text().splitlines())}
    assert sorted(results) == ["a", "b"]
    assert all(r["response"]["status_code"] == 200 and r["error"] is None for r in results.values())

    bad = [
        chat("a"),
        json.dumps(
            {
                "custom_id": "c",
                "method": "POST",
                "url": "/v1/completions",
                "body": {"model": SERVED, "prompt": "Hello", "max_tokens": 4},
            }
        ),
    ]
    assert check_batch_input(bad, SERVED)[0].startswith("line 2: url /v1/completions")
    source, target = tmp_path / "bad.jsonl", tmp_path / "bad-out.jsonl"
    source.write_text("\n".join(bad) + "\n")
    done = run_batch(serve_python, tiny_model, source, target)
    assert done.returncode != 0
    assert "validation errors for BatchRequestInput" in done.stderr  # raised after the model loaded
    assert not target.exists()


def test_in_pod_script_runs_on_the_serving_interpreter(tmp_path, serve_python):
    source, shard = tmp_path / "in.jsonl", tmp_path / "shard.jsonl"
    source.write_text("\n".join([chat("a"), chat("b"), chat("c")]) + "\n")
    done = subprocess.run(
        [str(serve_python), "-c", CHECK_SCRIPT, str(source), str(shard), "1", "2", SERVED],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["custom_id"] for line in shard.read_text().splitlines()] == ["b"]
