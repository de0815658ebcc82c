"""`gke-infer loadtest --start-on-stdin`: everything loads first, nothing is sent until told.

The fidelity bench uses it to begin our measured run at the instant `vllm bench serve` begins
its own, so neither tool's start-up lands in the other's measurement. Checked against the
local streaming server of tests/loadtest/sse_server.py, which counts the requests it gets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from loadtest.cli import READY_LINE
from tests.loadtest.sse_server import CountingSSEServer

REPO = Path(__file__).resolve().parents[2]


def start_gated(server: CountingSSEServer, out: Path) -> subprocess.Popen:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return subprocess.Popen(
        [sys.executable, "-m", "stack.cli", "loadtest", "--url", url, "--model", "m",
         "--dataset", "conversations", "--num-prompts", "10", "--output-len", "4",
         "--request-rate", "50", "--out", str(out), "--no-plots", "--quiet",
         "--start-on-stdin"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def test_nothing_is_sent_before_the_start_line_and_the_run_begins_after_it(
        sse_server: CountingSSEServer, tmp_path: Path):
    proc = start_gated(sse_server, tmp_path)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        first_line = proc.stdout.readline()
        assert first_line.startswith(READY_LINE), first_line + proc.stderr.read()
        time.sleep(1.0)
        assert sse_server.requests == 0
        released_at = time.time()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["summary"]["completed"], sse_server.requests) == (10, 10)
    assert released_at <= report["config"]["started_at"] < released_at + 5.0


def test_stdin_closed_before_the_start_line_sends_nothing_and_exits_2(
        sse_server: CountingSSEServer, tmp_path: Path):
    proc = start_gated(sse_server, tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(READY_LINE)
    out, err = proc.communicate(input="", timeout=120)  # closes stdin without a line
    assert proc.returncode == 2, out + err
    assert "--start-on-stdin: stdin closed before a start line; nothing sent" in err
    assert sse_server.requests == 0
    assert not (tmp_path / "report.json").exists()
