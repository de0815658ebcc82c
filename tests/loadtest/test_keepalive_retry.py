"""A request on a reused keep-alive connection that the server closes before any response
byte is sent again, once, on a new connection; anything that fails later is not.

Against the local server of tests/loadtest/sse_server.py with its faults switched on: the
keep-alive timer that fires while a request waits unread (what vLLM's uvicorn does when
starved of CPU), and responses cut after 0, a few or many bytes. The server counts the
requests it read, so a second send of one request would show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loadtest.sse_server import CountingSSEServer

REPO = Path(__file__).resolve().parents[2]


def run_loadtest(server: CountingSSEServer, out: Path, prompts: int) -> tuple[int, dict, list]:
    """One user, back to back: every request after the first goes on a reused connection."""
    url = f"http://127.0.0.1:{server.server_address[1]}"
    proc = subprocess.run(
        [sys.executable, "-m", "stack.cli", "loadtest", "--url", url, "--model", "m",
         "--dataset", "conversations", "--num-prompts", str(prompts), "--output-len", "4",
         "--users", "1", "--out", str(out), "--no-plots", "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    records = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    return proc.returncode, report, records


def test_keepalive_close_racing_the_next_request_is_retried_once_on_a_new_connection(
        sse_server: CountingSSEServer, tmp_path: Path):
    # The server closes each connection 0.3 s after its response, unread request and all.
    sse_server.keepalive_timeout_s = 0.3
    code, report, records = run_loadtest(sse_server, tmp_path, prompts=6)
    summary = report["summary"]
    assert (code, summary["completed"], summary["failed"]) == (0, 6, 0)
    # Requests 2-6 each went out on the connection of the one before, which the server
    # closed without reading them: each was resent once, on a new connection.
    assert sse_server.dropped == 5
    assert report["connection_retries"] == 5
    assert [r["retries"] for r in records] == [0, 1, 1, 1, 1, 1]
    assert (sse_server.requests, sse_server.connections) == (6, 6)


@pytest.mark.parametrize(("cut", "error"), [
    # geventhttpclient 2.6.1 feeds the EOF to its parser, which refuses a half status line.
    ("status", "HTTPParseError: ('Invalid EOF state', 14)"),
    ("headers", "connection closed before the end of the response (0 token messages received)"),
    ("first_token",
     "connection closed before the end of the response (1 token messages received)"),
])
def test_a_response_cut_after_its_first_byte_is_not_retried(
        sse_server: CountingSSEServer, tmp_path: Path, cut: str, error: str):
    sse_server.cut = {2: cut}  # the second request, on the first one's (reused) connection
    code, report, records = run_loadtest(sse_server, tmp_path, prompts=3)
    summary = report["summary"]
    assert (code, summary["completed"], summary["failed"]) == (1, 2, 1)
    assert report["connection_retries"] == 0
    assert report["errors"] == {error: 1}
    assert [r["success"] for r in records] == [True, False, True]
    # Read once: the server saw 3 requests for 3 prompts.
    assert sse_server.requests == 3


def test_a_new_connection_closed_before_any_byte_is_not_retried(
        sse_server: CountingSSEServer, tmp_path: Path):
    sse_server.cut = {1: "nothing"}  # the first request, on a new connection
    code, report, records = run_loadtest(sse_server, tmp_path, prompts=2)
    assert (code, report["summary"]["failed"], report["connection_retries"]) == (1, 1, 0)
    assert report["errors"] == {"HTTPConnectionClosed: connection closed.": 1}
    assert [(r["success"], r["retries"]) for r in records] == [(False, 0), (True, 0)]
    assert sse_server.requests == 2
