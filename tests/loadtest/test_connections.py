"""The harness reuses keep-alive connections the way vLLM's aiohttp client does.

A request opens a new connection only when every open one is busy, so the number of
connections never exceeds the peak number of requests in flight. Checked against a real
local HTTP/1.1 server (threads, chunked SSE) that counts the connections it accepts; vLLM
itself is not needed for this (its own run is in tests/integration/test_loadtest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.loadtest.sse_server import CountingSSEServer

REPO = Path(__file__).resolve().parents[2]


def run_loadtest(server: CountingSSEServer, out: Path, *mode: str) -> dict:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    proc = subprocess.run(
        [sys.executable, "-m", "stack.cli", "loadtest", "--url", url, "--model", "m",
         "--dataset", "conversations", "--num-prompts", "30", "--output-len", "8",
         "--out", str(out), "--no-plots", "--quiet", *mode],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((out / "report.json").read_text())["summary"]


# The server counts a request done once it has written the last byte; the harness frees the
# connection once it has read it. Responses in that window are in flight for the harness but
# not for the server, so the harness may need a few more connections than the server's peak
# (11 against 10 in one CI run).
READ_LAG_SLACK = 3


def test_open_loop_opens_no_more_connections_than_requests_in_flight(sse_server, tmp_path):
    summary = run_loadtest(sse_server, tmp_path, "--request-rate", "100")
    assert (summary["completed"], summary["failed"]) == (30, 0)
    assert sse_server.requests == 30
    # 30 requests, 30 waiting users: one connection each would be 30.
    assert sse_server.peak_in_flight < 30
    assert 1 <= sse_server.connections <= sse_server.peak_in_flight + READ_LAG_SLACK


def test_closed_loop_keeps_one_connection_per_user(sse_server, tmp_path):
    summary = run_loadtest(sse_server, tmp_path, "--users", "3")
    assert (summary["completed"], summary["failed"]) == (30, 0)
    assert sse_server.peak_in_flight == 3
    assert sse_server.connections == 3


def test_pool_never_reuses_a_connection_idle_longer_than_max_idle(sse_server):
    """vLLM closes keep-alive connections idle for 5 s; the pool retires them sooner."""
    from loadtest.connections import SharedConnectionPool

    pool = SharedConnectionPool(max_idle=0.5, concurrency=2, network_timeout=10.0)
    client = pool.get_client(f"http://127.0.0.1:{sse_server.server_address[1]}/")
    body = json.dumps({"max_tokens": 2}).encode()
    try:
        for pause in (0.0, 0.1, 1.0, 0.1):
            time.sleep(pause)
            response = client.post("/v1/completions", body=body,
                                   headers={"Content-Type": "application/json"})
            assert response.status_code == 200
            assert b"[DONE]" in response.read()
            response.release()
    finally:
        pool.close()
    # Requests 1-2 share a connection, the 1 s pause retires it, requests 3-4 share the next.
    assert (sse_server.requests, sse_server.connections) == (4, 2)
