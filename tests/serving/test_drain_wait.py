"""The preStop hook (workloads/probes/drain_wait.py) and the readiness probe it drives
(workloads/probes/readiness.py), run as the kubelet runs them: processes with the container's
environment, against an HTTP server whose `/metrics` and `/load` answers the test scripts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from workloads.vllm_server import DRAIN_SCRIPT, READINESS_SCRIPT

sys.path.insert(0, str(DRAIN_SCRIPT.parent))
import drain_wait


class FakeServer(ThreadingHTTPServer):
    """vLLM's drain-relevant answers. `states` yields one (api_load, running, waiting, activity)
    per /metrics scrape (the last repeats); /load answers the current state's api_load (404 when
    it is None, as without --enable-server-load-tracking); /health answers `health`."""

    daemon_threads = True

    def __init__(self, states: list[tuple[float | None, float, float, float]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.states = list(states)
        self.current = self.states[0]
        self.scrapes: list[float] = []
        self.health = 200
        self.marker: Path | None = None
        """When set: each scrape notes in `marker_seen` whether this drain marker existed then."""
        self.marker_seen: list[bool] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format, *args) -> None:
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self.server.scrapes.append(time.monotonic())
            if self.server.marker is not None:
                self.server.marker_seen.append(self.server.marker.exists())
            states = self.server.states
            self.server.current = states.pop(0) if len(states) > 1 else states[0]
            _, running, waiting, activity = self.server.current
            body = (f'vllm:num_requests_waiting{{engine="0",model_name="m"}} {waiting}\n'
                    f'vllm:num_requests_running{{engine="0",model_name="m"}} {running}\n'
                    f'vllm:prompt_tokens_total{{engine="0",model_name="m"}} {activity}\n'
                    f'vllm:request_success_total{{engine="0",finished_reason="length",model_name="m"}} 0\n')
            self._answer(200, body.encode())
        elif self.path == "/load" and self.server.current[0] is not None:
            self._answer(200, json.dumps({"server_load": self.server.current[0]}).encode())
        elif self.path == "/health":
            self._answer(self.server.health, b"")
        else:
            self._answer(404, b"{}")


@pytest.fixture
def server(request):
    fake = FakeServer(request.param)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    yield fake
    fake.shutdown()
    fake.server_close()


def hook_env(port: int, state_dir: Path, **env: str) -> dict[str, str]:
    return {"PROBE_PORT": str(port), "PROBE_STATE_DIR": str(state_dir), "DRAIN_POLL_SECONDS": "0.1",
            "DRAIN_QUIET_SECONDS": "0.5", "DRAIN_MIN_SECONDS": "0", "DRAIN_MAX_SECONDS": "30", **env}


def run_script(script: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """Run a probe script; return its exit code, its last output line (what the kubelet shows) and seconds."""
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, lines[-1] if lines else "", time.monotonic() - t0


def fields(line: str) -> dict[str, str]:
    head = line.split(":", 1)[0].split()
    assert head[0] == "drain", line
    return dict(word.split("=", 1) if "=" in word else ("kind", word) for word in head[1:])


BUSY_THEN_IDLE = [(3, 2, 1, 10), (2, 2, 0, 20), (1, 1, 0, 30), (0, 0, 0, 40)]


@pytest.mark.parametrize("server", [BUSY_THEN_IDLE], indirect=True)
def test_returns_once_nothing_is_in_flight_or_arriving_for_the_quiet_period(server, tmp_path):
    code, line, took = run_script(DRAIN_SCRIPT, hook_env(server.server_address[1], tmp_path))
    assert code == 0
    got = fields(line)
    assert (got["outcome"], got["in_flight"]) == ("quiet", "0"), line
    # 3 busy scrapes, then idle from the 5th (the 4th still shows the last request finishing),
    # then 0.5 s of idle polls.
    assert len(server.scrapes) >= 3 + 1 + 5
    assert server.scrapes[-1] - server.scrapes[4] >= 0.5
    assert took < 10


# The engine gauges say 0 throughout; the API server still holds two requests in pre-processing.
PRE_PROCESSING = [(2, 0, 0, 5)] * 8 + [(0, 0, 0, 5)]


@pytest.mark.parametrize("server", [PRE_PROCESSING], indirect=True)
def test_requests_in_pre_processing_keep_it_waiting(server, tmp_path):
    code, line, _ = run_script(DRAIN_SCRIPT, hook_env(server.server_address[1], tmp_path))
    assert code == 0 and fields(line)["outcome"] == "quiet", line
    assert len(server.scrapes) >= 8 + 5  # not quiet before /load went to 0


# Nothing in flight at any poll, but a short request finishes between polls (the counter moves).
SHORT_REQUESTS = [(0, 0, 0, 1), (0, 0, 0, 2), (0, 0, 0, 2), (0, 0, 0, 2), (0, 0, 0, 3), (0, 0, 0, 3)]


@pytest.mark.parametrize("server", [SHORT_REQUESTS], indirect=True)
def test_a_request_between_polls_restarts_the_quiet_period(server, tmp_path):
    code, line, _ = run_script(DRAIN_SCRIPT, hook_env(server.server_address[1], tmp_path))
    assert code == 0 and fields(line)["outcome"] == "quiet", line
    # Quiet counts from the first poll after the last move (the 6th scrape): 0.5 s more.
    assert server.scrapes[-1] - server.scrapes[5] >= 0.5


@pytest.mark.parametrize("server", [[(0, 0, 0, 0)]], indirect=True)
def test_serves_at_least_the_minimum_even_when_idle(server, tmp_path):
    code, line, took = run_script(DRAIN_SCRIPT, hook_env(server.server_address[1], tmp_path, DRAIN_MIN_SECONDS="2"))
    assert code == 0 and fields(line)["outcome"] == "quiet", line
    assert float(fields(line)["elapsed_s"]) >= 2.0 and took >= 2.0


@pytest.mark.parametrize("server", [[(None, 2, 1, 7)]], indirect=True)
def test_the_deadline_counts_what_is_still_in_flight(server, tmp_path):
    """Without /load (404) the engine gauges alone count; at the deadline the line says how many
    requests the grace period's end will cut (a Spot preemption's loss)."""
    code, line, took = run_script(DRAIN_SCRIPT, hook_env(server.server_address[1], tmp_path, DRAIN_MAX_SECONDS="1.5"))
    assert code == 0
    assert fields(line) == {"outcome": "deadline", "elapsed_s": fields(line)["elapsed_s"], "in_flight": "3",
                            "running": "2", "waiting": "1"}, line
    assert "DRAIN_MAX_SECONDS=1.5" in line
    assert 1.0 <= took < 10


@pytest.mark.parametrize("server", [BUSY_THEN_IDLE], indirect=True)
def test_every_change_in_flight_is_logged_so_a_preemption_cut_is_counted(server, tmp_path):
    """A preemption ends the hook early; the last progress line before that counts what was cut."""
    env = hook_env(server.server_address[1], tmp_path)
    done = subprocess.run([sys.executable, str(DRAIN_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    progress = [fields(line) for line in done.stdout.splitlines() if line.startswith("drain progress")]
    assert [(p["in_flight"], p["running"], p["waiting"]) for p in progress] == [
        ("3", "2", "1"), ("2", "2", "0"), ("1", "1", "0"), ("0", "0", "0")]


def test_unreachable_metrics_end_the_wait_at_once(tmp_path):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        port = placeholder.server_address[1]  # bound, then closed: nothing listens there
    code, line, took = run_script(DRAIN_SCRIPT, hook_env(port, tmp_path))
    assert code == 0 and fields(line)["outcome"] == "unreachable", line
    assert took < 10


@pytest.mark.parametrize("server", [[(0, 0, 0, 0)]], indirect=True)
def test_readiness_fails_from_the_moment_the_hook_starts(server, tmp_path):
    env = hook_env(server.server_address[1], tmp_path)
    assert run_script(READINESS_SCRIPT, env)[:2] == (0, "ready: /health 200")
    assert run_script(DRAIN_SCRIPT, env)[0] == 0
    code, out, _ = run_script(READINESS_SCRIPT, env)
    assert (code, out) == (1, "not ready: draining: out of the endpoints until the container stops")


@pytest.mark.parametrize("server", [[(0, 0, 0, 0)]], indirect=True)
def test_the_marker_is_written_before_the_first_poll(server, tmp_path):
    """The marker (the pod leaves the endpoints) must not wait for the hook's HTTP imports and first poll."""
    sys.path.insert(0, str(READINESS_SCRIPT.parent))
    import readiness

    env = hook_env(server.server_address[1], tmp_path)
    server.marker = readiness.drain_marker(env)
    assert run_script(DRAIN_SCRIPT, env)[0] == 0
    assert server.marker_seen and all(server.marker_seen), server.marker_seen


def test_the_hook_and_the_probe_import_no_http_client_before_the_marker():
    """Start-up matters on a loaded node (docs/drain.md): everything the hook runs before its marker is
    imported without `urllib.request` (~21 ms of the old ~32 ms, `python3 -X importtime`)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import drain_wait, readiness; "
            "print(sorted(m for m in sys.modules if m.startswith(('urllib.request', 'http', 'engine_liveness'))))")
    done = subprocess.run([sys.executable, "-c", code, str(DRAIN_SCRIPT.parent)], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("server", [[(0, 0, 0, 0)]], indirect=True)
def test_readiness_tolerates_two_health_failures_not_three(server, tmp_path):
    env = hook_env(server.server_address[1], tmp_path)
    server.health = 503
    assert [run_script(READINESS_SCRIPT, env)[0] for _ in range(3)] == [0, 0, 1]
    server.health = 200
    assert run_script(READINESS_SCRIPT, env)[0] == 0


def test_a_drain_marker_older_than_the_container_is_ignored_and_removed(tmp_path, monkeypatch):
    sys.path.insert(0, str(READINESS_SCRIPT.parent))
    import readiness

    env = {"PROBE_STATE_DIR": str(tmp_path), "PROBE_PORT": "8000"}
    readiness.mark_draining(env)
    assert readiness.draining(env) is True
    monkeypatch.setattr(readiness, "main_process_started_at", lambda: time.time() + 60)  # restarted since
    assert readiness.draining(env) is False
    assert not readiness.drain_marker(env).exists()


def test_the_line_reaches_the_container_log_only_when_pid1_is_vllm(tmp_path, capsys):
    log, cmdline = tmp_path / "log", tmp_path / "cmdline"
    cmdline.write_bytes(b"python3\0-m\0vllm.entrypoints.openai.api_server\0")
    drain_wait.report("drain outcome=quiet elapsed_s=1.0: x", str(log), str(cmdline))
    cmdline.write_bytes(b"/sbin/init\0")
    drain_wait.report("drain outcome=deadline elapsed_s=2.0: y", str(log), str(cmdline))
    assert log.read_text() == "drain outcome=quiet elapsed_s=1.0: x\n"
    assert capsys.readouterr().out.splitlines() == ["drain outcome=quiet elapsed_s=1.0: x",
                                                    "drain outcome=deadline elapsed_s=2.0: y"]
