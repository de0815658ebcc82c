"""A real local HTTP/1.1 server with an OpenAI-style streaming completions endpoint.

Threads, keep-alive, chunked SSE; it counts the connections it accepts and the requests in
flight, so harness tests can check what the harness did on the wire without vLLM.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class CountingSSEServer(ThreadingHTTPServer):
    """An OpenAI-style streaming endpoint that counts connections and requests in flight."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SSEHandler)
        self.lock = threading.Lock()
        self.connections = self.in_flight = self.peak_in_flight = self.requests = 0

    def track(self, step: int) -> None:
        with self.lock:
            self.in_flight += step
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.requests += step > 0


class SSEHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: CountingSSEServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format, *args) -> None:
        pass

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tokens = int(body.get("max_tokens") or body.get("max_completion_tokens"))
        self.server.track(+1)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(tokens):
                time.sleep(0.01)
                choice = {"index": 0, "text": "x", "finish_reason": "length" if i == tokens - 1
                          else None}
                self._chunk(f"data: {json.dumps({'choices': [choice]})}\n\n")
            usage = {"prompt_tokens": 5, "completion_tokens": tokens}
            self._chunk(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n")
            self._chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            self.server.track(-1)


@pytest.fixture
def sse_server():
    server = CountingSSEServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
