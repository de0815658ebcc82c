"""Helpers to run the load-test harness (`gke-infer loadtest`) against a test server.

The harness runs in its own process: locust monkey-patches the process it is imported in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def loadtest_command(server, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "stack.cli", "loadtest", "--url", server.base_url,
            "--model", server.served_model_name, "--tokenizer", str(server.model_dir),
            "--out", str(out), "--quiet", *extra]


def loadtest_env(server) -> dict[str, str]:
    env = dict(os.environ)
    if server.api_key:
        env["VLLM_API_KEY"] = server.api_key
    return env


def run_loadtest(server, out: Path, *extra: str, timeout: float = 600) -> tuple[int, dict]:
    """Run the harness to completion; return (exit code, report.json)."""
    proc = subprocess.run(loadtest_command(server, out, *extra), env=loadtest_env(server),
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    report_path = out / "report.json"
    assert report_path.exists(), proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(report_path.read_text())


def start_loadtest(server, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(loadtest_command(server, out, *extra), env=loadtest_env(server),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]


def server_counters(server) -> dict[str, float]:
    """Sums of vLLM's token and request counters from /metrics."""
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    sums = {"vllm:generation_tokens_total": 0.0, "vllm:prompt_tokens_total": 0.0,
            "vllm:request_success_total": 0.0, "vllm:num_requests_running": 0.0,
            "vllm:num_requests_waiting": 0.0}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            sums[name] += float(line.rsplit(" ", 1)[1])
    return sums
