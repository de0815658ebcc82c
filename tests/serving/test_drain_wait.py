"""The preStop hook (workloads/probes/drain_wait.py) run as the kubelet runs it: a process with
the container's environment, against an HTTP `/metrics` endpoint whose queue gauge we set."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workloads.vllm_server import DRAIN_SCRIPT


class QueueMetrics(ThreadingHTTPServer):
    """Serves vLLM-style gauges; `waiting` yields one value per scrape (the last repeats)."""

    daemon_threads = True

    def __init__(self, waiting: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), MetricsHandler)
        self.waiting = list(waiting)
        self.scrapes: list[float] = []


class MetricsHandler(BaseHTTPRequestHandler):
    server: QueueMetrics

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.scrapes.append(time.monotonic())
        waiting = self.server.waiting.pop(0) if len(self.server.waiting) > 1 else self.server.waiting[0]
        body = (f'# TYPE vllm:num_requests_waiting gauge\n'
                f'vllm:num_requests_waiting{{engine="0",model_name="m"}} {waiting}.0\n'
                f'vllm:num_requests_running{{engine="0",model_name="m"}} 4.0\n').encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run_hook(port: int, **env: str) -> tuple[str, float]:
    environment = {"PROBE_PORT": str(port), "DRAIN_POLL_SECONDS": "0.1", **env}
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(DRAIN_SCRIPT)], env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), time.monotonic() - t0


@pytest.fixture
def metrics(request):
    server = QueueMetrics(request.param)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("metrics", [[3, 2, 1, 0, 0]], indirect=True)
def test_waits_out_the_minimum_then_until_the_queue_is_empty_twice(metrics):
    line, took = run_hook(metrics.server_address[1], DRAIN_MIN_SECONDS="1",
                          DRAIN_MAX_SECONDS="30")
    assert line.startswith("drain: queue empty after ") and line.endswith("(4 running)"), line
    assert len(metrics.scrapes) == 5  # 3, 2, 1, then 0 twice in a row
    assert 1.0 <= took < 10


@pytest.mark.parametrize("metrics", [[0, 5, 0, 0]], indirect=True)
def test_a_queue_that_grows_again_restarts_the_count(metrics):
    line, _ = run_hook(metrics.server_address[1], DRAIN_MIN_SECONDS="0", DRAIN_MAX_SECONDS="30")
    assert line.startswith("drain: queue empty after "), line
    assert len(metrics.scrapes) == 4


@pytest.mark.parametrize("metrics", [[7]], indirect=True)
def test_gives_up_at_the_maximum_and_says_so(metrics):
    line, took = run_hook(metrics.server_address[1], DRAIN_MIN_SECONDS="0",
                          DRAIN_MAX_SECONDS="1.5")
    assert line.startswith("drain: 7 still waiting after "), line
    assert "DRAIN_MAX_SECONDS=1.5" in line
    assert 1.0 <= took < 10


def test_unreachable_metrics_end_the_wait_at_once():
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        port = placeholder.server_address[1]  # bound, then closed: nothing listens there
    line, took = run_hook(port, DRAIN_MIN_SECONDS="0", DRAIN_MAX_SECONDS="30")
    assert line.startswith("drain: metrics unreachable"), line
    assert took < 10
