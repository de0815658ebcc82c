"""Discrete-event simulation of the vLLM fleet under an autoscaler.

What is modelled, and how:

* **Requests** arrive from a ``Requests`` trace and go to a Ready replica (random, as kube-proxy
  spreads connections, or least outstanding). With no Ready replica they wait at the front (a
  gateway holding them; assumption) and are dispatched when one becomes Ready.
* **A replica** decodes up to ``concurrency`` requests at once (vLLM's running batch); the rest wait
  in its queue (``vllm:num_requests_waiting``). Decoding is processor sharing: a step takes
  ``t0 + n·t1`` seconds for n running requests and gives each one token (fitted to the
  throughput; ``Throughput.step_seconds``). Completions are processed lazily per replica, so the
  event queue only holds arrivals and control events (fast: ~1 µs-scale work per request).
* **TTFT** = queue wait + prompt tokens / prefill rate (prefill is not charged to decode; assumption).
* **Metrics**: every scrape interval each Ready pod's queue, running, KV-cache use, GPU duty cycle
  and CPU are sampled; a sample becomes visible to the autoscaler ``metrics_delay`` later. The HPA
  sees every live pod (``pod_samples``): Pending while unscheduled or pulling, Running and not
  Ready while starting (no vLLM sample yet, CPU sampled), as ``groupPods`` sorts them.
* **Pods**: Pending until a node slot exists (then the image pull: none if the node already has the
  image), then the container start (weights + engine, from ``estimate_cold_start``, with shared
  storage split between concurrent loads), then Ready. Scale-down deletes not-yet-ready pods
  first, then the newest Ready ones; a deleted Ready pod stops taking requests, hands its queue
  back to the Service, finishes its running batch, then frees its node.
* **Nodes** (groups of ``nodes_per_replica`` nodes): the pools start at their minimum, warm; a pod
  without a slot asks the cluster autoscaler for one (Spot pool first when configured, as the
  serving affinity prefers it; assumption); an empty node above the pool minimum is removed
  after ``node_scale_down_seconds``. Billing runs from VM creation to removal.
* **Capacity buffer** (GKE ``CapacityBuffer``, ``buffer_replicas`` > 0): the cluster autoscaler keeps
  that many replicas' worth of free node slots, as it does for its simulated placeholder pods: at
  each scan (10 s) it creates nodes for a shortfall (ready ``node_seconds`` less the scan later),
  and never removes an empty node the buffer still needs. *Active*: the spare nodes run (billed),
  a pod placed there skips node create and driver install. *Standby*: spare nodes are suspended
  once provisioned (no compute billed while suspended); a pod that needs one resumes it
  (``resume_seconds``); empty running nodes are not re-suspended but removed as usual. Scheduling
  order: running nodes (active buffer included), suspended nodes, nodes being created, new nodes
  (https://cloud.google.com/kubernetes-engine/docs/concepts/capacity-buffer). Buffer nodes have
  not pulled the image (image preloading DaemonSets are not modelled).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from stack.plan.simulate.hpa import PodSample
from stack.plan.simulate.traffic import Requests

PENDING, PULLING, STARTING, READY, TERMINATING, GONE, SUSPENDED = range(7)
METRIC_INDEX = {"queue": 0, "running": 1, "kvCache": 2, "gpuDutyCycle": 3, "cpu": 4}
SAMPLE_EVERY = 10.0
"""Seconds between time-series points (plots)."""
WARM_SINCE = -86400.0
"""Start and readiness time of the replicas that are Ready at t=0: a fleet long in steady state, so
the HPA's CPU initialization period (5 min) is long over for them."""


@dataclass(frozen=True)
class PoolSpec:
    """A pool as the simulator sees it: groups of nodes that each hold one or more replicas."""

    name: str
    min_groups: int
    max_groups: int
    hourly_per_group: float
    gpus_per_group: int
    spot: bool
    nodes_per_group: int = 1


@dataclass(frozen=True)
class FleetParams:
    """Everything the simulation needs about the stack (built by ``presets.fleet_params``)."""

    concurrency: int
    step_t0: float
    step_t1: float
    prefill_tokens_per_second: float
    kv_capacity_tokens: float
    node_seconds: float
    node_billing_delay: float
    image_seconds: float
    container_seconds: Callable[[int], float]
    pools: tuple[PoolSpec, ...]
    replicas_per_group: int
    scrape_interval: float
    metrics_delay: float
    node_scale_down_seconds: float
    routing: str
    cpu_request_cores: float
    cpu_idle_cores: float
    cpu_busy_cores: float
    slo_wait: float
    slo_ttft: float
    buffer_replicas: int = 0
    """Replicas' worth of spare node slots kept by a capacity buffer (0 = none)."""
    buffer_standby: bool = False
    """The buffer's nodes are suspended until a pod needs one (standby) instead of running (active)."""
    resume_seconds: float = 0.0
    """Resume time of a suspended standby node."""


def to_milli(value: float) -> int:
    """A metric value as the HPA reads it: ``Quantity.MilliValue()`` rounds up to whole milli-units."""
    return math.ceil(round(value * 1000, 6))


class Scaler(Protocol):
    """An autoscaler: called every ``period`` seconds, returns the new spec.replicas or None."""

    name: str
    period: float

    def initial_replicas(self) -> int: ...

    def tick(self, now: float, sim: Simulation) -> int | None: ...


class _Pod:
    __slots__ = (
        "busy", "busy_mark", "created", "group", "heap", "id", "last", "n", "ready_at", "samples", "started",
        "state", "sum_in", "sum_vstart", "v", "waiting",
    )  # fmt: skip

    def __init__(self, pid: int, now: float):
        self.id, self.state, self.created = pid, PENDING, now
        self.group: _Group | None = None
        self.ready_at: float | None = None
        self.started: float | None = None  # status.startTime: the kubelet took the pod
        self.v, self.last, self.n = 0.0, now, 0
        self.heap: list[tuple[float, int]] = []
        self.waiting: deque[int] = deque()
        self.sum_in, self.sum_vstart, self.busy, self.busy_mark = 0.0, 0.0, 0.0, 0.0
        self.samples: list[tuple[float, tuple]] = []


class _Group:
    __slots__ = (
        "created", "empty_since", "for_buffer", "has_image", "id", "pods", "pool", "removed", "state",
        "suspended_at", "unbilled",
    )  # fmt: skip

    def __init__(self, gid: int, pool: PoolSpec, created: float, ready: bool, for_buffer: bool = False):
        self.id, self.pool, self.created = gid, pool, created
        self.removed: float | None = None
        self.state = READY if ready else PENDING
        self.pods: list[_Pod] = []
        self.empty_since: float | None = None
        self.has_image = ready and not for_buffer
        self.for_buffer = for_buffer  # created for the capacity buffer (no pod asked for it)
        self.suspended_at: float | None = None
        self.unbilled = 0.0  # seconds spent suspended (no compute billed)

    def billed_seconds(self, end: float) -> float:
        """Seconds billed up to ``end``: from creation to removal, less time suspended."""
        stop = min(self.removed if self.removed is not None else end, end)
        suspended = self.unbilled + (max(0.0, stop - self.suspended_at) if self.suspended_at is not None else 0.0)
        return max(0.0, stop - min(self.created, end) - suspended)


@dataclass
class SimResult:
    """Outcome of one simulation."""

    name: str
    requests: int
    attainment: float
    wait_attainment: float
    ttft_attainment: float
    p50_wait: float
    p95_wait: float
    p99_wait: float
    p95_ttft: float
    unserved: int
    gpu_hours: float
    node_hours: dict[str, float]
    cost: float
    max_replicas: int
    scale_events: int
    series: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def row(self) -> dict:
        return {
            "preset": self.name,
            "requests": self.requests,
            "sloAttainment": round(self.attainment, 4),
            "waitAttainment": round(self.wait_attainment, 4),
            "ttftAttainment": round(self.ttft_attainment, 4),
            "p50WaitSeconds": round(self.p50_wait, 3),
            "p95WaitSeconds": round(self.p95_wait, 3),
            "p99WaitSeconds": round(self.p99_wait, 3),
            "p95TtftSeconds": round(self.p95_ttft, 3),
            "unserved": self.unserved,
            "gpuHours": round(self.gpu_hours, 3),
            "nodeHours": {k: round(v, 3) for k, v in self.node_hours.items()},
            "cost": round(self.cost, 2),
            "maxReplicas": self.max_replicas,
            "scaleEvents": self.scale_events,
        }


class Simulation:
    """One run of the fleet under one scaler. ``run()`` once; same inputs and seed ⇒ same result."""

    def __init__(
        self,
        params: FleetParams,
        scaler: Scaler,
        requests: Requests,
        duration: float,
        seed: int,
        initial_replicas: int | None = None,
    ):
        """Args:
        params: the stack as the simulator sees it.
        scaler: the autoscaler under test (fresh state).
        requests: arrivals; those after ``duration`` are ignored.
        duration: simulated seconds.
        seed: routing randomness.
        initial_replicas: Ready replicas at t=0 (warm start); default the scaler's minimum.
        """
        self.p, self.scaler, self.duration = params, scaler, duration
        self._t0, self._t1, self._cap = params.step_t0, params.step_t1, params.concurrency
        self._least = params.routing == "leastRequest"
        self.initial = scaler.initial_replicas() if initial_replicas is None else initial_replicas
        self.rng = random.Random(seed)
        self.arrival = requests.arrival.tolist()
        self.inp = requests.input_tokens.tolist()
        self.out = requests.output_tokens.tolist()
        n = len(self.arrival)
        self.start = [math.nan] * n
        self.finish = [math.nan] * n
        self.vstart = [0.0] * n
        self.front: deque[int] = deque()
        self.front_samples: list[tuple[float, tuple]] = []
        self.pods: list[_Pod] = []
        self.ready: list[_Pod] = []
        self.unscheduled: list[_Pod] = []
        self.groups: list[_Group] = []
        self.events: list = []
        self.seq = 0
        self.spec = 0
        self.scale_events = 0
        self.now = 0.0
        self.series: dict[str, list[float]] = {k: [] for k in ("t", "spec", "ready", "nodes", "waiting")}

    # -- events ------------------------------------------------------------------------------

    def _at(self, time: float, kind: str, obj=None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, self.seq, kind, obj))

    def run(self) -> SimResult:
        p = self.p
        for pool in p.pools:
            for _ in range(pool.min_groups):
                self._new_group(pool, 0.0, ready=True)
        self.spec = self.initial
        warm = getattr(self.scaler, "warm", None)
        if warm is not None:
            warm(0.0, self.spec)
        for _ in range(self.spec):
            pod = self._new_pod(0.0)
            self._place_warm(pod)
        self._fill_buffer(initial=True)
        self._at(0.0, "scrape")
        self._at(self.scaler.period, "scale")
        self._at(10.0, "ca")
        self._at(SAMPLE_EVERY, "sample")
        arrivals, i, n = self.arrival, 0, len(self.arrival)
        events = self.events
        handlers: dict[str, Callable[[Any], None]] = {
            "scrape": self._on_scrape,
            "scale": self._on_scale,
            "ca": self._on_ca,
            "sample": self._on_sample,
            "node_ready": self._on_node_ready,
            "pulled": self._on_pulled,
            "pod_ready": self._on_pod_ready,
            "pod_gone": self._on_pod_gone,
        }
        while True:
            t_event = events[0][0] if events else math.inf
            t_arrival = arrivals[i] if i < n else math.inf
            t = min(t_event, t_arrival)
            if t > self.duration:
                break
            self.now = t
            if t_arrival <= t_event:
                self._route(i, t)
                i += 1
            else:
                _, _, kind, obj = heapq.heappop(events)
                handlers[kind](obj)
        self.now = self.duration
        for pod in self.ready:
            self._advance(pod, self.duration)
        return self._result(i)

    # -- requests ----------------------------------------------------------------------------

    def _advance(self, pod: _Pod, t: float) -> None:
        """Process ``pod``'s completions up to ``t`` (processor sharing, lazily)."""
        heap = pod.heap
        t0, t1, cap = self._t0, self._t1, self._cap
        while pod.n:
            rate = 1.0 / (t0 + pod.n * t1)
            v_next = heap[0][0]
            t_done = pod.last + (v_next - pod.v) / rate
            if t_done > t:
                break
            pod.busy += t_done - pod.last
            pod.v, pod.last = v_next, t_done
            while heap and heap[0][0] <= v_next + 1e-9:
                _, idx = heapq.heappop(heap)
                pod.n -= 1
                self.finish[idx] = t_done
                pod.sum_in -= self.inp[idx]
                pod.sum_vstart -= self.vstart[idx]
            while pod.waiting and pod.n < cap:
                self._start(pod, pod.waiting.popleft(), t_done)
        if t == math.inf:
            return  # drained: pod.last is the last completion
        if pod.n:
            pod.v += (t - pod.last) / (t0 + pod.n * t1)
            pod.busy += t - pod.last
        pod.last = t

    def _start(self, pod: _Pod, idx: int, t: float) -> None:
        self.start[idx] = t
        self.vstart[idx] = pod.v
        heapq.heappush(pod.heap, (pod.v + self.out[idx], idx))
        pod.n += 1
        pod.sum_in += self.inp[idx]
        pod.sum_vstart += pod.v

    def _route(self, idx: int, t: float) -> None:
        ready = self.ready
        if not ready:
            self.front.append(idx)
            return
        if self._least:
            for pod in ready:
                self._advance(pod, t)
            pod = min(ready, key=lambda q: (q.n + len(q.waiting), q.id))
        else:
            pod = ready[int(self.rng.random() * len(ready))]
            if pod.n and pod.last < t:
                self._advance(pod, t)
            else:
                pod.last = t
        if pod.n < self._cap and not pod.waiting:
            self._start(pod, idx, t)
        else:
            pod.waiting.append(idx)

    # -- pods and nodes ----------------------------------------------------------------------

    def _new_pod(self, now: float) -> _Pod:
        pod = _Pod(len(self.pods), now)
        self.pods.append(pod)
        return pod

    def _new_group(self, pool: PoolSpec, created: float, ready: bool, for_buffer: bool = False) -> _Group:
        group = _Group(len(self.groups), pool, created, ready, for_buffer)
        self.groups.append(group)
        return group

    def _buffer_slots(self) -> int:
        """Free replica slots that count towards the capacity buffer.

        Active: free slots on running nodes and on nodes being created (where the cluster
        autoscaler's placeholder pods would fit). Standby: suspended nodes and buffer nodes still
        being provisioned (running empty nodes are not re-suspended).
        """
        per_group, standby = self.p.replicas_per_group, self.p.buffer_standby
        free = 0
        for group in self.groups:
            if group.removed is not None:
                continue
            if standby:
                counts = group.state == SUSPENDED or (group.state == PENDING and group.for_buffer and not group.pods)
            else:
                counts = group.state in (READY, PENDING)
            if counts:
                free += per_group - len(group.pods)
        return free

    def _fill_buffer(self, initial: bool = False) -> None:
        """Create nodes for a buffer shortfall (warm at t=0; else provisioned as the autoscaler acts now)."""
        p = self.p
        missing = p.buffer_replicas - self._buffer_slots()
        while missing > 0:
            pool = self._pool_for_new_group()
            if pool is None:
                return
            if initial:
                group = self._new_group(pool, 0.0, ready=True, for_buffer=True)
                if p.buffer_standby:
                    group.state, group.suspended_at = SUSPENDED, 0.0
            else:
                group = self._new_group(pool, self.now, ready=False, for_buffer=True)
                self._at(self.now + p.node_seconds - p.node_billing_delay, "node_ready", group)
            missing -= p.replicas_per_group

    def _buffer_allows_removal(self) -> bool:
        """An empty running node may go unless the (active) buffer still needs its slots."""
        p = self.p
        return p.buffer_standby or self._buffer_slots() - p.replicas_per_group >= p.buffer_replicas

    def _resume(self, group: _Group) -> None:
        """A suspended standby node is resumed for a pod: billed again from now, Ready after the resume."""
        assert group.suspended_at is not None
        group.unbilled += self.now - group.suspended_at
        group.suspended_at, group.state, group.for_buffer = None, PENDING, False
        self._at(self.now + self.p.resume_seconds, "node_ready", group)

    def _live_groups(self, pool: PoolSpec) -> int:
        return sum(1 for g in self.groups if g.pool is pool and g.removed is None)

    def _free_slot(self, states: tuple[int, ...]) -> _Group | None:
        for group in self.groups:
            if group.removed is None and group.state in states and len(group.pods) < self.p.replicas_per_group:
                return group
        return None

    def _place_warm(self, pod: _Pod) -> None:
        """Initial replicas: Ready at t=0 on warm nodes (created if the pool minimum is short)."""
        group = self._free_slot((READY,))
        if group is None:
            group = self._new_group(self._pool_for_new_group() or self.p.pools[0], 0.0, ready=True)
        group.pods.append(pod)
        pod.group, pod.state, pod.ready_at, pod.last = group, READY, WARM_SINCE, 0.0
        pod.started = WARM_SINCE
        self.ready.append(pod)

    def _pool_for_new_group(self) -> PoolSpec | None:
        pools = self.p.pools
        main = pools[0]
        order = ([pools[1]] if len(pools) > 1 else []) + [main]
        for pool in order:
            if self._live_groups(pool) < pool.max_groups:
                return pool
        return None

    def _schedule(self, pod: _Pod) -> bool:
        group = self._free_slot((READY,))
        if group is not None:
            group.pods.append(pod)
            group.empty_since = None
            pod.group = group
            self._pull(pod, group)
            group.has_image = True
            return True
        group = self._free_slot((SUSPENDED,))
        if group is not None:
            self._resume(group)
            group.pods.append(pod)
            pod.group = group
            return True
        group = self._free_slot((PENDING,))
        if group is None:
            pool = self._pool_for_new_group()
            if pool is None:
                return False
            group = self._new_group(pool, self.now + self.p.node_billing_delay, ready=False)
            self._at(self.now + self.p.node_seconds, "node_ready", group)
        group.pods.append(pod)
        pod.group = group
        return True

    def _pull(self, pod: _Pod, group: _Group) -> None:
        """Start the image pull; a node that already pulled the image starts the container at once."""
        pod.state = PULLING
        pod.started = self.now
        self._at(self.now + (0.0 if group.has_image else self.p.image_seconds), "pulled", pod)

    def _on_node_ready(self, group: _Group) -> None:
        if group.removed is not None:
            return
        if group.for_buffer and not group.pods and self.p.buffer_standby:
            group.state, group.suspended_at = SUSPENDED, self.now  # provisioned, then suspended
            return
        if group.for_buffer and not group.pods:
            group.state, group.empty_since = READY, self.now  # an active buffer node: up, image not pulled
            return
        group.state = READY
        for pod in group.pods:  # pods waiting for this node pull in parallel
            self._pull(pod, group)
        group.has_image = True
        if not group.pods:
            group.empty_since = self.now
        self._retry_unscheduled()

    def _on_pulled(self, pod: _Pod) -> None:
        if pod.state != PULLING:
            return
        pod.state = STARTING
        loading = sum(1 for q in self.pods if q.state == STARTING)
        self._at(self.now + self.p.container_seconds(loading), "pod_ready", pod)

    def _on_pod_ready(self, pod: _Pod) -> None:
        if pod.state != STARTING:
            return
        pod.state, pod.ready_at, pod.last = READY, self.now, self.now
        self.ready.append(pod)
        front, self.front = self.front, deque()
        for idx in front:
            self._route(idx, self.now)

    def _on_pod_gone(self, pod: _Pod) -> None:
        self._release(pod)

    def _release(self, pod: _Pod) -> None:
        pod.state = GONE
        group = pod.group
        if group is not None and pod in group.pods:
            group.pods.remove(pod)
            if not group.pods and group.state == READY:
                group.empty_since = self.now
        self._retry_unscheduled()

    def _retry_unscheduled(self) -> None:
        waiting, self.unscheduled = self.unscheduled, []
        for pod in waiting:
            if pod.state == PENDING and not self._schedule(pod):
                self.unscheduled.append(pod)

    def _scale_to(self, replicas: int) -> None:
        live = [q for q in self.pods if q.state in (PENDING, PULLING, STARTING, READY)]
        if replicas > len(live):
            for _ in range(replicas - len(live)):
                pod = self._new_pod(self.now)
                if not self._schedule(pod):
                    self.unscheduled.append(pod)
        elif replicas < len(live):
            # ReplicaSet deletion order: unscheduled, then not ready, then the most recently ready.
            ranked = sorted(
                live, key=lambda q: (q.group is not None, q.state == READY, -(q.ready_at or q.created), -q.id)
            )
            for pod in ranked[: len(live) - replicas]:
                self._delete(pod)

    def _delete(self, pod: _Pod) -> None:
        if pod.state != READY:
            if pod in self.unscheduled:
                self.unscheduled.remove(pod)
            self._release(pod)
            return
        self.ready.remove(pod)
        pod.state = TERMINATING
        self._advance(pod, self.now)
        requeue, pod.waiting = list(pod.waiting), deque()
        self._advance(pod, math.inf)  # no new work: its running batch completes on schedule
        self._at(max(self.now, pod.last), "pod_gone", pod)
        for idx in requeue:
            self._route(idx, self.now)

    # -- periodic ----------------------------------------------------------------------------

    def _on_scrape(self, _obj) -> None:
        p, now = self.p, self.now
        visible = now + p.metrics_delay
        waiting_total = len(self.front)
        in_flight = len(self.front)
        for pod in self.ready:
            self._advance(pod, now)
            duty = min(1.0, (pod.busy - pod.busy_mark) / p.scrape_interval)
            pod.busy_mark = pod.busy
            kv = (pod.sum_in + pod.n * pod.v - pod.sum_vstart) / p.kv_capacity_tokens
            cpu = (p.cpu_idle_cores + (p.cpu_busy_cores - p.cpu_idle_cores) * duty) / p.cpu_request_cores * 100
            sample = (float(len(pod.waiting)), float(pod.n), kv, duty * 100, cpu)
            pod.samples.append((visible, sample))
            if len(pod.samples) > 8:
                del pod.samples[:4]
            waiting_total += len(pod.waiting)
            in_flight += len(pod.waiting) + pod.n
        starting_cpu = p.cpu_busy_cores / p.cpu_request_cores * 100  # loading and compiling keep cores busy
        for pod in self.pods:
            if pod.state == STARTING:
                pod.samples.append((visible, (None, None, None, None, starting_cpu)))
                if len(pod.samples) > 8:
                    del pod.samples[:4]
        self.front_samples.append((visible, (float(waiting_total), float(in_flight))))
        if len(self.front_samples) > 8:
            del self.front_samples[:4]
        self._at(now + p.scrape_interval, "scrape")

    def _on_scale(self, _obj) -> None:
        desired = self.scaler.tick(self.now, self)
        if desired is not None and desired != self.spec:
            self.spec = desired
            self.scale_events += 1
        self._scale_to(self.spec)
        self._at(self.now + self.scaler.period, "scale")

    def _on_ca(self, _obj) -> None:
        now = self.now
        for group in self.groups:
            if group.removed is not None or group.state != READY:
                continue
            if group.pods:
                group.empty_since = None
                continue
            if group.empty_since is None:
                group.empty_since = now
            elif (
                now - group.empty_since >= self.p.node_scale_down_seconds
                and self._live_groups(group.pool) > group.pool.min_groups
                and self._buffer_allows_removal()
            ):
                group.removed = now
        self._retry_unscheduled()
        if self.p.buffer_replicas:
            self._fill_buffer()
        self._at(now + 10.0, "ca")

    def _on_sample(self, _obj) -> None:
        now = self.now
        s = self.series
        s["t"].append(now)
        s["spec"].append(self.spec)
        s["ready"].append(len(self.ready))
        s["nodes"].append(
            sum(1 for g in self.groups if g.removed is None and g.created <= now and g.state != SUSPENDED)
        )
        s["waiting"].append(len(self.front) + sum(len(q.waiting) for q in self.ready))
        self._at(now + SAMPLE_EVERY, "sample")

    # -- what the autoscalers read -----------------------------------------------------------

    def pod_samples(self, metric: str) -> list[PodSample]:
        """Every pod the HPA's selector lists, as the HPA controller sees it, with the latest sample
        of ``metric`` visible to it (milli-units; CPU in milli-cores with the pod's request).

        Pods without a node or pulling the image are phase Pending; a starting pod is Running and
        not Ready (its Ready condition changed when it started); vLLM serves ``/metrics`` only once
        it is up, so a starting pod has no vLLM sample, while metrics-server reports its CPU.
        Terminating pods are left out (the controller ignores pods being deleted).
        """
        index, now, out = METRIC_INDEX[metric], self.now, []
        request = to_milli(self.p.cpu_request_cores)
        window = self.p.scrape_interval
        for pod in self.pods:
            if pod.state in (GONE, TERMINATING):
                continue
            value: int | None = None
            taken = 0.0
            for stamp, sample in reversed(pod.samples):
                if stamp <= now and sample[index] is not None:
                    raw = sample[index]
                    value = to_milli(raw / 100 * self.p.cpu_request_cores) if metric == "cpu" else to_milli(raw)
                    taken = stamp - self.p.metrics_delay
                    break
            if pod.state in (PENDING, PULLING):
                out.append(PodSample(value=None, phase="Pending", ready=False, start_time=pod.started))
                continue
            ready = pod.state == READY
            changed = pod.ready_at if ready and pod.ready_at is not None else (pod.started or 0.0)
            out.append(
                PodSample(value, "Running", ready, False, pod.started, changed, taken, window, request)
            )
        return out

    def gateway_value(self, which: int) -> float | None:
        """Fleet-wide waiting (0) or in-flight (1) requests as last visible to the autoscaler."""
        for stamp, sample in reversed(self.front_samples):
            if stamp <= self.now:
                return sample[which]
        return None

    def status_replicas(self) -> int:
        return sum(1 for q in self.pods if q.state in (PENDING, PULLING, STARTING, READY))

    # -- results -----------------------------------------------------------------------------

    def _result(self, arrived: int) -> SimResult:
        p, end = self.p, self.duration
        arrival = np.asarray(self.arrival[:arrived])
        start = np.asarray(self.start[:arrived])
        unserved = int(np.isnan(start).sum())
        wait = np.where(np.isnan(start), end - arrival, start - arrival)
        ttft = wait + np.asarray(self.inp[:arrived]) / p.prefill_tokens_per_second
        ok_wait = wait <= p.slo_wait
        ok_ttft = ttft <= p.slo_ttft
        node_hours: dict[str, float] = {}
        gpu_hours = cost = 0.0
        for group in self.groups:
            hours = group.billed_seconds(end) / 3600
            node_hours[group.pool.name] = node_hours.get(group.pool.name, 0.0) + hours * group.pool.nodes_per_group
            gpu_hours += hours * group.pool.gpus_per_group
            cost += hours * group.pool.hourly_per_group
        series = {k: np.asarray(v, dtype=float) for k, v in self.series.items()}
        edges = np.append(series["t"] - SAMPLE_EVERY, series["t"][-1]) if len(series["t"]) else np.array([0.0])
        counts, _ = np.histogram(arrival, bins=edges)
        series["arrivals_per_s"] = counts / SAMPLE_EVERY
        bucket = np.clip(np.searchsorted(edges, arrival, side="right") - 1, 0, max(len(edges) - 2, 0))
        p95 = np.full(len(series["t"]), np.nan)
        if arrived and len(series["t"]):
            order = np.argsort(bucket, kind="stable")
            splits = np.searchsorted(bucket[order], np.arange(len(series["t"]) + 1))
            for b in range(len(series["t"])):
                chunk = wait[order[splits[b] : splits[b + 1]]]
                if len(chunk):
                    p95[b] = np.percentile(chunk, 95)
        series["wait_p95"] = p95

        def pct(values: np.ndarray, q: float) -> float:
            return float(np.percentile(values, q)) if len(values) else 0.0

        return SimResult(
            name=self.scaler.name,
            requests=arrived,
            attainment=float((ok_wait & ok_ttft).mean()) if arrived else 1.0,
            wait_attainment=float(ok_wait.mean()) if arrived else 1.0,
            ttft_attainment=float(ok_ttft.mean()) if arrived else 1.0,
            p50_wait=pct(wait, 50),
            p95_wait=pct(wait, 95),
            p99_wait=pct(wait, 99),
            p95_ttft=pct(ttft, 95),
            unserved=unserved,
            gpu_hours=gpu_hours,
            node_hours=node_hours,
            cost=cost,
            max_replicas=int(max(self.series["spec"], default=self.spec)),
            scale_events=self.scale_events,
            series=series,
        )
