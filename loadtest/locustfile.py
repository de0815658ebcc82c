"""Locust users for the OpenAI streaming API, and a headless runner that mirrors
`vllm bench serve`.

Importing this module imports locust, which monkey-patches the process for gevent: use it
from the `gke-infer loadtest` process (or `locust -f loadtest/locustfile.py`), never inside
another program's process.

Modes:
- closed loop (`users=N`): N users each send the next request as soon as their previous one
  finishes ("concurrency N"); measures service under a fixed concurrency.
- open loop (`request_rate=R`): a dispatcher releases request i at vLLM's schedule (gamma
  inter-arrivals with shape `burstiness`, scale 1/(R*burstiness), rescaled so the last arrival
  is at N/R; burstiness 1 = Poisson) and `max_concurrency` users take them, so a request
  waits client-side while that many are in flight, like vLLM's `--max-concurrency` semaphore
  (TTFT is timed from the actual send, as in vLLM). Measures capacity: the queue grows when
  the server cannot keep up.

Each request is streamed (`stream_options.include_usage`), timed by `loadtest.stream.StreamTimer`
from bytes as they arrive, and also reported to locust's own statistics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
import gevent.queue
from locust import FastHttpUser, constant, task
from locust.contrib.fasthttp import insecure_ssl_context_factory
from locust.exception import StopUser

from loadtest.arrivals import arrival_times
from loadtest.connections import SharedConnectionPool
from loadtest.datasets import SampleRequest, messages_as_text
from loadtest.metrics import RequestRecord
from loadtest.stream import StreamTimer

ENDPOINTS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}


@dataclass
class Plan:
    """What to send and how; shared by the users of one run."""

    requests: list[SampleRequest]
    endpoint: str  # "completions" | "chat"
    model: str
    api_key: str | None = None
    ignore_eos: bool = True
    request_rate: float | None = None  # None = closed loop
    burstiness: float = 1.0
    seed: int = 0
    duration_limit: float | None = None  # closed loop: stop sending after this many seconds
    request_timeout: float = 600.0
    records: list[RequestRecord] = field(default_factory=list)
    in_flight: int = 0
    started_at: float | None = None  # wall clock of the first dispatch
    finished_at: float | None = None

    def __post_init__(self) -> None:
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self._next = 0
        self._stopping = False
        self.done = gevent.event.Event()
        self._began = gevent.event.Event()
        self._t0 = time.monotonic()

    # -- dispatch ------------------------------------------------------------------------
    def begin(self) -> None:
        """Start dispatching (open loop: the schedule starts now)."""
        self.started_at = time.time()
        self._t0 = time.monotonic()
        if self.request_rate is not None:
            gevent.spawn(self._dispatch_open_loop)
        self._began.set()

    def _dispatch_open_loop(self) -> None:
        assert self.request_rate is not None
        offsets = arrival_times(len(self.requests), self.request_rate, self.burstiness, self.seed)
        for req, offset in zip(self.requests, offsets, strict=True):
            delay = self._t0 + offset - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if self._stopping:
                break
            self._queue.put(req)
        self._queue.put(None)

    def next_request(self) -> SampleRequest | None:
        """Block until the next request is due; None when there are no more."""
        self._began.wait()  # users are spawned before the run begins
        if self.request_rate is not None:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # wake the other users too
            return None if self._stopping else item
        if self._stopping or self._next >= len(self.requests):
            return None
        if self.duration_limit and time.monotonic() - self._t0 >= self.duration_limit:
            return None
        item = self.requests[self._next]
        self._next += 1
        return item

    def stop_dispatch(self) -> None:
        """Send nothing new; requests in flight finish (a graceful stop, e.g. on SIGTERM)."""
        self._stopping = True
        self._queue.put(None)

    @property
    def dispatched_all(self) -> bool:
        return len(self.records) + self.in_flight >= len(self.requests) or self._stopping

    # -- requests ------------------------------------------------------------------------
    def payload(self, req: SampleRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.endpoint == "chat":
            messages = req.prompt if isinstance(req.prompt, list) else [
                {"role": "user", "content": req.prompt}]
            body.update(messages=messages, max_completion_tokens=req.expected_output_len)
        else:
            prompt = req.prompt if isinstance(req.prompt, str) else messages_as_text(req.prompt)
            body.update(prompt=prompt, max_tokens=req.expected_output_len,
                        repetition_penalty=1.0)
        if self.ignore_eos:
            body["ignore_eos"] = True
        return body

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h


def _read_available(response) -> bytes:
    """Whatever body bytes have arrived (blocking until at least one, b"" at the end).

    geventhttpclient's `read(n)` waits for n bytes, which would delay token messages; this
    returns each network read at once, so every SSE message is timed when it arrives.
    """
    buf = response._body_buffer
    if buf:
        data = bytes(buf)
        del buf[:]
        return data
    if response.message_complete or response._sock is None:
        return b""
    while not buf and not response.message_complete:
        chunk = response._sock.recv(response.block_size)
        if not chunk:
            break
        response.feed(chunk)
    data = bytes(buf)
    del buf[:]
    return data


def connection_pool(plan: Plan, users: int) -> SharedConnectionPool:
    """The keep-alive pool all `users` share (loadtest/connections.py): a request opens a
    connection only when every open one is busy, as in vLLM's client."""
    return SharedConnectionPool(
        concurrency=users, network_timeout=plan.request_timeout, connection_timeout=30.0,
        insecure=True, ssl_context_factory=insecure_ssl_context_factory)


def make_user_class(plan: Plan, host: str, pool: SharedConnectionPool) -> type[FastHttpUser]:
    """A FastHttpUser subclass bound to `plan` whose users share `pool` (locust instantiates
    users from classes)."""

    class OpenAIStreamingUser(FastHttpUser):
        wait_time = constant(0)
        client_pool = pool

        @task
        def stream_requests(self) -> None:
            path = ENDPOINTS[plan.endpoint]
            while True:
                req = plan.next_request()
                if req is None:
                    raise StopUser()
                self._send(path, req)

        def _send(self, path: str, req: SampleRequest) -> None:
            record = RequestRecord(start=time.time(), prompt_len=req.prompt_len, endpoint=path,
                                   expected_output_len=req.expected_output_len)
            plan.in_flight += 1
            t_send = time.monotonic()
            timer = StreamTimer(record, t_send, chat=plan.endpoint == "chat")
            try:
                with self.client.post(path, json=plan.payload(req), headers=plan.headers(),
                                      stream=True, catch_response=True, name=path) as resp:
                    if resp.status_code == 0:  # no HTTP response: locust keeps the exception
                        record.error = f"{type(resp.error).__name__}: {resp.error}"
                        resp.failure(record.error)
                    elif resp.status_code != 200:
                        body = resp.content or b""
                        record.error = f"HTTP {resp.status_code}: {body[:200]!r}"
                        resp.failure(record.error)
                    else:
                        raw = resp._response
                        while True:
                            data = _read_available(raw)
                            if not data:
                                break
                            timer.feed(data, time.monotonic())
                        if not raw.message_complete:
                            # EOF inside the chunked body: the server cut the stream (vLLM's
                            # aiohttp client fails such a request with ClientPayloadError).
                            record.error = ("connection closed before the end of the response "
                                            f"({len(timer.text)} token messages received)")
                        timer.finish()
                        if record.success:
                            resp.success()
                        else:
                            resp.failure(record.error)
            except Exception as exc:
                record.error = f"{type(exc).__name__}: {exc}"
                record.success = False
            finally:
                record.retries = pool.take_retries()
                if not record.success and not record.latency:
                    record.latency = time.monotonic() - t_send
                plan.in_flight -= 1
                plan.records.append(record)
                if len(plan.records) >= len(plan.requests):
                    plan.done.set()

    OpenAIStreamingUser.host = host
    return OpenAIStreamingUser


def run_plan(plan: Plan, host: str, users: int, *,
             on_tick: Callable[[Plan, float], None] | None = None,
             before_begin: Callable[[], None] | None = None,
             tick_seconds: float = 0.5, drain_timeout: float = 600.0) -> float:
    """Run `plan` headless with `users` locust users; return the benchmark duration (s).

    The duration runs from the first dispatch to the last completion (vLLM's definition).
    `on_tick(plan, elapsed)` is called every `tick_seconds` (progress display);
    `before_begin()` once the users are spawned, just before the first dispatch (it may block,
    e.g. to wait for a coordinator's start signal; if it raises, nothing is sent).
    """
    import logging

    from locust.env import Environment

    # Locust warns about spawn rates > 100/s; all users start at once here on purpose.
    logging.getLogger("locust.runners").setLevel(logging.ERROR)
    pool = connection_pool(plan, users)
    user_class = make_user_class(plan, host, pool)
    env = Environment(user_classes=[user_class], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(users, 1) * 1000.0)
    if runner.spawning_greenlet is not None:
        runner.spawning_greenlet.join()
    if before_begin is not None:
        try:
            before_begin()
        except BaseException:
            runner.quit()
            pool.close()
            raise
    plan.begin()
    t0 = time.monotonic()
    stop_deadline: float | None = None
    while True:
        finished = plan.done.wait(timeout=tick_seconds)
        if on_tick:
            on_tick(plan, time.monotonic() - t0)
        if finished or runner.user_count == 0:
            break
        if plan._stopping and stop_deadline is None:
            stop_deadline = time.monotonic() + drain_timeout
        if stop_deadline and time.monotonic() > stop_deadline:
            break
    # All users have returned (or the drain timed out): collect, then stop locust.
    gevent.sleep(0)
    runner.quit()
    pool.close()
    if plan.records and plan.started_at is not None:
        duration = max(r.end for r in plan.records) - plan.started_at
    else:
        duration = time.monotonic() - t0
    plan.finished_at = time.time()
    return max(duration, 1e-9)
