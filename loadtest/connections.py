"""The keep-alive connection pool the harness's users share.

vLLM's own client (aiohttp) reuses an idle keep-alive connection before opening a new one, so
it holds about as many connections as it has requests in flight. A connection per locust user
would instead open one per request in open loop (each waiting user takes about one request):
extra accept and setup work for the server, and a TCP handshake inside every TTFT.

Reusing idle connections races with the server closing them: vLLM closes a connection idle for
`VLLM_HTTP_TIMEOUT_KEEP_ALIVE` seconds (default 5, vllm/envs.py). A request written as that
timer fires (likely when the server is briefly starved of CPU) fails with no response, and a
POST cannot be retried safely. So the pool drops connections it has left idle for longer than
`max_idle` seconds, well under the server's timeout, instead of reusing them.
"""

from __future__ import annotations

import time
from typing import Any

from geventhttpclient.client import HTTPClient, HTTPClientPool

DEFAULT_MAX_IDLE_S = 2.0  # < vLLM's default keep-alive of 5 s


class _IdleExpiry:
    """Mixin for a geventhttpclient ConnectionPool: never reuse a socket idle > max_idle."""

    max_idle: float
    _idle_since: dict[Any, float]

    def return_socket(self, sock) -> None:
        self._idle_since[sock] = time.monotonic()
        super().return_socket(sock)  # type: ignore[misc]

    def release_socket(self, sock) -> None:
        self._idle_since.pop(sock, None)
        super().release_socket(sock)  # type: ignore[misc]

    def _is_socket_alive(self, sock) -> bool:
        # Called by get_socket for each pooled socket before reuse; False closes it.
        since = self._idle_since.pop(sock, None)
        if since is not None and time.monotonic() - since > self.max_idle:
            return False
        return super()._is_socket_alive(sock)  # type: ignore[misc]


class SharedConnectionPool(HTTPClientPool):
    """An HTTPClientPool (one client per host) whose connections expire after `max_idle` s.

    Args:
        max_idle: seconds a connection may sit idle in the pool and still be reused.
        **kw: HTTPClient arguments (concurrency, network_timeout, connection_timeout, ...).
    """

    def __init__(self, *, max_idle: float = DEFAULT_MAX_IDLE_S, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_idle = max_idle

    def get_client(self, url) -> HTTPClient:
        client = super().get_client(url)
        pool = client._connection_pool
        if not isinstance(pool, _IdleExpiry):
            # geventhttpclient builds the (plain or TLS) pool itself; extend that class.
            pool.__class__ = type(f"IdleExpiring{type(pool).__name__}",
                                  (_IdleExpiry, type(pool)), {})
            pool.max_idle = self.max_idle  # type: ignore[attr-defined]
            pool._idle_since = {}  # type: ignore[attr-defined]
        return client

