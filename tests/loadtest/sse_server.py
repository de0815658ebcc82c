"""A real local HTTP/1.1 server with an OpenAI-style streaming completions endpoint.

Threads, keep-alive, chunked SSE; it counts the connections it accepts and the requests in
flight, so harness tests can check what the harness did on the wire without vLLM.

Two faults can be switched on (attributes, set before the harness starts):
- `keepalive_timeout_s`: after each response the connection waits this long *without reading*,
  then the server closes it, dropping a request that arrived meanwhile unread (counted in
  `dropped`). That is vLLM's keep-alive timer (uvicorn closes a connection idle for
  `VLLM_HTTP_TIMEOUT_KEEP_ALIVE` s) firing on a starved server before its event loop read the
  request already in the socket; a client that sends its next request at once always loses
  this race, so the fault is deterministic.
- `cut`: {request number (1-based, over the server's life): where the response stops before
  the connection closes}: `"nothing"` (not a byte), `"status"` (the status line only),
  `"headers"` (status and headers) or `"first_token"` (headers and one token message).
"""

from __future__ import annotations

import json
import select
import socket
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
        self.keepalive_timeout_s: float | None = None
        self.dropped = 0
        self.cut: dict[int, str] = {}

    def track(self, step: int) -> int:
        """Count a request starting (+1) or ending (-1); return the number of requests so far."""
        with self.lock:
            self.in_flight += step
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.requests += step > 0
            return self.requests


class SSEHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: CountingSSEServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format, *args) -> None:
        pass

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            if self.server.keepalive_timeout_s is not None:
                time.sleep(self.server.keepalive_timeout_s)
                if self._request_waiting():
                    with self.server.lock:
                        self.server.dropped += 1
                return  # socketserver closes the connection, unread request and all
            self.handle_one_request()

    def _request_waiting(self) -> bool:
        """Whether the client has sent bytes this server has not read (not just a FIN)."""
        if not select.select([self.connection], [], [], 0)[0]:
            return False
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:
            return False

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tokens = int(body.get("max_tokens") or body.get("max_completion_tokens"))
        number = self.server.track(+1)
        cut = self.server.cut.get(number)
        try:
            if cut in ("nothing", "status"):
                self.wfile.write(b"HTTP/1.1 200 OK\r\n" if cut == "status" else b"")
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(tokens):
                if cut == "headers" or (cut == "first_token" and i == 1):
                    self.close_connection = True
                    return
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
