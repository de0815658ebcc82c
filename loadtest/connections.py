"""The keep-alive connection pool the harness's users share, and its one safe retry.

vLLM's own client (aiohttp) reuses an idle keep-alive connection before opening a new one, so
it holds about as many connections as it has requests in flight. A connection per locust user
would instead open one per request in open loop (each waiting user takes about one request):
extra accept and setup work for the server, and a TCP handshake inside every TTFT.

Reusing idle connections races with the server closing them: vLLM closes a connection idle for
`VLLM_HTTP_TIMEOUT_KEEP_ALIVE` seconds (default 5, vllm/envs.py). Two defences:

1. The pool drops connections it has left idle for longer than `max_idle` seconds, well under
   the server's timeout, instead of reusing them.
2. A request written on a *reused* connection that the server closes before sending a single
   response byte is sent once more, on a fresh connection. That is the server's keep-alive
   timer firing as the request arrived (a starved server's event loop runs the timer before it
   reads the socket): the server closed the connection without reading the request, so it
   never ran it. geventhttpclient raises `HTTPConnectionClosed` exactly then: its
   `_read_headers` (geventhttpclient 2.6.1, response.py) raises it only while no byte of the
   response has arrived (EOF or ECONNRESET on the first read, also after a send that hit a
   reset); a close after a partial status line raises plain `HTTPParseError`, and a close
   after the headers surfaces while the body is read. Neither of those is retried: the server
   may already be generating, and a second send would run the generation twice. RFC 9112
   §9.3.1 allows a client to retry a non-idempotent request when it can tell the original was
   never applied; geventhttpclient itself does not retry POSTs at all (RFC 9110 §9.2.2), nor
   does aiohttp (it retries a reused connection only for idempotent methods), which is why
   `vllm bench serve` loses such requests (bench/README.md, second session, point 2).
   A request on a fresh connection that fails the same way is not retried either: the server
   refused a new connection's first request, which is not the keep-alive race.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.response import HTTPConnectionClosed
from geventhttpclient.url import URL

DEFAULT_MAX_IDLE_S = 2.0  # < vLLM's default keep-alive of 5 s


class _TrackedPool:
    """Mixin for a geventhttpclient ConnectionPool: expires idle sockets, remembers per
    greenlet whether the socket it last took had served a request before, and can hand a
    greenlet a new connection however many idle ones the pool holds."""

    max_idle: float
    _idle_since: dict[Any, float]
    _new: set[Any]  # sockets created and not yet returned to the pool once
    _reused_by: dict[Any, bool]  # greenlet -> its last socket had been used before
    _want_fresh: set[Any]  # greenlets whose next get_socket must connect anew

    def _init_tracking(self, max_idle: float) -> None:
        self.max_idle = max_idle
        self._idle_since = {}
        self._new = set()
        self._reused_by = {}
        self._want_fresh = set()

    def get_socket(self):
        me = gevent.getcurrent()
        if me in self._want_fresh:
            self._want_fresh.discard(me)
            sock = self._fresh_socket()
        else:
            sock = super().get_socket()  # type: ignore[misc]
        self._reused_by[me] = sock not in self._new
        return sock

    def _fresh_socket(self):
        """A new connection, counted against the pool's size like any other."""
        self._semaphore.acquire()  # type: ignore[attr-defined]
        if self._closed:  # type: ignore[attr-defined]
            self._semaphore.release()  # type: ignore[attr-defined]
            raise RuntimeError("connection pool closed")
        try:
            return self._create_socket()
        except BaseException:
            self._semaphore.release()  # type: ignore[attr-defined]
            raise

    def _create_socket(self):
        sock = super()._create_socket()  # type: ignore[misc]
        self._new.add(sock)
        return sock

    def return_socket(self, sock) -> None:
        self._new.discard(sock)
        self._idle_since[sock] = time.monotonic()
        super().return_socket(sock)  # type: ignore[misc]

    def release_socket(self, sock) -> None:
        self._new.discard(sock)
        self._idle_since.pop(sock, None)
        super().release_socket(sock)  # type: ignore[misc]

    def _is_socket_alive(self, sock) -> bool:
        # Called by get_socket for each pooled socket before reuse; False closes it.
        since = self._idle_since.pop(sock, None)
        if since is not None and time.monotonic() - since > self.max_idle:
            return False
        return super()._is_socket_alive(sock)  # type: ignore[misc]

    def took_reused_socket(self) -> bool:
        """Whether the current greenlet's last socket had served a request before (and forget)."""
        return self._reused_by.pop(gevent.getcurrent(), False)

    def next_socket_fresh(self) -> None:
        """Make the current greenlet's next get_socket open a new connection."""
        self._want_fresh.add(gevent.getcurrent())


class RetryingHTTPClient(HTTPClient):
    """An HTTPClient that resends a request once, on a new connection, when a reused
    connection closed before any response byte (see the module docstring for why that is safe).

    `retries` (set by SharedConnectionPool) counts the resends per greenlet.
    """

    retries: dict[Any, int]

    def request(self, method, request_uri, body=b"", headers=None):
        pool = self._connection_pool
        assert isinstance(pool, _TrackedPool)
        try:
            return super().request(method, request_uri, body=body, headers=headers)
        except HTTPConnectionClosed:
            # A file or iterator body was consumed by the first try: it cannot be resent.
            resendable = body is None or isinstance(body, bytes | bytearray | memoryview | str)
            if not (pool.took_reused_socket() and resendable):
                raise
        me = gevent.getcurrent()
        self.retries[me] = self.retries.get(me, 0) + 1
        pool.next_socket_fresh()
        try:
            return super().request(method, request_uri, body=body, headers=headers)
        finally:
            pool._want_fresh.discard(me)  # unused if the request failed before get_socket
            pool._reused_by.pop(me, None)


class SharedConnectionPool(HTTPClientPool):
    """An HTTPClientPool (one client per host) whose connections expire after `max_idle` s
    and whose clients retry a request once when a reused connection closed before any
    response byte.

    Args:
        max_idle: seconds a connection may sit idle in the pool and still be reused.
        **kw: HTTPClient arguments (concurrency, network_timeout, connection_timeout, ...).
    """

    def __init__(self, *, max_idle: float = DEFAULT_MAX_IDLE_S, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_idle = max_idle
        self.retries: dict[Any, int] = {}

    def get_client(self, url) -> HTTPClient:
        if not isinstance(url, URL):
            url = URL(url)
        key = url.host, url.port
        client = self.clients.get(key)
        if client is None:
            client = RetryingHTTPClient.from_url(url, **self.client_args)
            assert isinstance(client, RetryingHTTPClient)
            client.retries = self.retries
            pool = client._connection_pool
            # geventhttpclient builds the (plain or TLS) pool itself; extend that class.
            pool.__class__ = type(f"Tracked{type(pool).__name__}", (_TrackedPool, type(pool)), {})
            pool._init_tracking(self.max_idle)  # type: ignore[attr-defined]
            self.clients[key] = client
        return client

    def take_retries(self) -> int:
        """Resends made for the current greenlet since it last asked (and reset them)."""
        return self.retries.pop(gevent.getcurrent(), 0)
