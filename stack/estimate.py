"""Cold-start and cost estimates of a stack, before anything is paid for.

``estimate_cold_start(config)`` adds up what one new replica waits for: a GPU node, the vLLM image,
the weights through the configured backend, and engine start-up. Each term names its source (a
published measurement or a table row of ``stack/prices.py``) and the assumption that applies it to
this stack. ``VllmServer`` sizes its startupProbe from ``container_seconds`` / ``total_seconds`` and
the HPA behavior from ``total_seconds``; keep the signature stable.

``estimate_cost(config)`` prices every pool at its minimum and maximum size, storage, and (given a
throughput) dollars per million output tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stack import prices
from stack.config import GpuPoolConfig, LocalSsdMode, StackConfig
from stack.planning_config import PlanningConfig
from stack.serving_config import WeightsBackend

Phase = Literal["node", "image", "container"]

NODE_CREATE_SECONDS = 120.0
"""GPU VM create, boot and kubelet registration, [Mem] (GKE GPU nodes typically join in 1.5–3 min)."""
DRIVER_INSTALL_SECONDS = 60.0
"""GKE-managed NVIDIA driver install on COS plus device-plugin registration, [Mem]."""
CLUSTER_AUTOSCALER_SCAN_SECONDS = 10.0
"""Cluster autoscaler scan interval (default 10 s, cluster-autoscaler FAQ): worst-case wait before it acts."""

COMPILE_COLD_LARGE = 60.8
"""torch.compile, Llama-3-70B, cold: 60.8 s (anyscale ray-serve-llm-perf-examples, serving-peers §3(d))."""
COMPILE_COLD_SMALL = 52.0
"""torch.compile, Llama-3.1-8B on L40S, cold: 52 s (tensorfuse blog, serving-peers §3(d))."""
COMPILE_WARM = 23.0
"""torch.compile with a warm /root/.cache: 23 s (tensorfuse blog, same setup)."""
GRAPHS_COLD = 54.0
"""CUDA-graph capture, Llama-3.1-8B on L40S, cold: 54 s (tensorfuse blog)."""
GRAPHS_WARM = 7.0
"""CUDA-graph capture, warm cache: 7 s (tensorfuse blog)."""
ENGINE_INIT_SECONDS = 20.0
"""Memory profiling run, KV-cache allocation and API-server start, [Mem]. (tensorfuse reports an
undivided "init" of 94 s cold / 34 s warm, which overlaps the phases above.)"""
LARGE_MODEL_BILLIONS = 30.0

CAPACITY_BUFFER_DOC = "https://cloud.google.com/kubernetes-engine/docs/concepts/capacity-buffer"
STANDBY_RESUME_SECONDS = 60.0
"""Resume of a suspended standby-buffer node: an assumption. GKE publishes no figure, only that "standby
buffers resume quickly, providing faster capacity availability than fresh nodes" (CAPACITY_BUFFER_DOC);
whether GPU machine types can be standby buffers is unverified (field-2026-12.md §2.3)."""
POD_SNAPSHOTS_README = "llm-d guides/gke-pod-snapshots/README.md @1057311a"
SNAPSHOT_RESTORE_SECONDS = 18.0
"""Pod scheduled → serving-ready from a Pod snapshot: 18.0 s (4 m 38 s cold), Qwen3-32B on a3-highgpu-1g,
image streaming (llm-d guides/gke-pod-snapshots/benchmark-results/vllm-qwen3-32b-h100.md @005cf571)."""
SNAPSHOT_RESTORE_L4_SECONDS = 15.0
"""Llama-3.1-8B on L4 with image streaming + Pod snapshots: 409 s → 15 s (llm-d/llm-d PR #1902, open)."""

NodeSource = Literal["new", "warm", "activeBuffer", "standbyBuffer"]
"""Where a starting replica's node comes from: a new node, a warm node, a running (active) capacity-buffer
node, or a suspended (standby) capacity-buffer node."""


class SnapshotRefused(ValueError):
    """The model cannot start from a Pod snapshot (the message says why and what to change)."""


def snapshot_refusal(config: StackConfig) -> str | None:
    """Why this stack's replicas cannot be restored from a GKE Pod snapshot, or None if they can.

    Pod snapshots restore single-GPU pods only, and pods with GCS FUSE CSI volumes cannot be
    snapshotted (POD_SNAPSHOTS_README; field-2026-12.md §2.5).
    """
    gpus = config.gpus_per_replica()
    if gpus > 1:
        return (
            f"Pod snapshots restore single-GPU pods only ({POD_SNAPSHOTS_README}); a replica here uses {gpus} GPUs "
            f"(serving.vllm.tensorParallelSize {config.serving.vllm.tensor_parallel_size} on "
            f"{config.gpu_pools[config.serving.pool].machine_type})"
        )
    if config.model.weights.backend is WeightsBackend.GCSFUSE:
        return (
            f"pods with GCS FUSE CSI volumes cannot be snapshotted ({POD_SNAPSHOTS_README}); "
            "model.weights.backend gcsfuse must change to use Pod snapshots"
        )
    return None


@dataclass(frozen=True)
class Term:
    """One part of a replica's cold start."""

    name: str
    seconds: float
    source: str
    """Where the number comes from (a published measurement, a doc, or a [Mem] table row)."""
    assumption: str
    """How it was applied to this stack (what is assumed, what limits it)."""
    phase: Phase
    """node: before the pod can be scheduled; image: pod Pending; container: after the container starts."""


@dataclass(frozen=True)
class ColdStartEstimate:
    """A replica's cold start, term by term."""

    terms: tuple[Term, ...]
    backend: str
    weight_bytes: float

    @property
    def total_seconds(self) -> float:
        """From "replica wanted" to Ready: node, image, weights and engine."""
        return sum(t.seconds for t in self.terms)

    @property
    def container_seconds(self) -> float:
        """From container start to Ready: what a startupProbe must allow."""
        return sum(t.seconds for t in self.terms if t.phase == "container")

    @property
    def pod_seconds(self) -> float:
        """From pod scheduled (node exists) to Ready."""
        return sum(t.seconds for t in self.terms if t.phase != "node")

    def term(self, name: str) -> Term:
        return next(t for t in self.terms if t.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "weightBytes": self.weight_bytes,
            "totalSeconds": round(self.total_seconds, 1),
            "podSeconds": round(self.pod_seconds, 1),
            "containerSeconds": round(self.container_seconds, 1),
            "terms": [{**asdict(t), "seconds": round(t.seconds, 1)} for t in self.terms],
        }


def planning_of(config: StackConfig) -> PlanningConfig:
    """The stack's planning section (defaults if the config has none)."""
    return getattr(config, "planning", None) or PlanningConfig()


# --------------------------------------------------------------------------------------------
# Cold start
# --------------------------------------------------------------------------------------------


def estimate_cold_start(
    config: StackConfig, *, concurrent_loads: int = 1, node: NodeSource | None = None, snapshot: bool = False
) -> ColdStartEstimate:
    """Estimate one new replica's cold start for ``config``.

    Args:
        config: the validated stack config.
        concurrent_loads: replicas loading weights at the same time; shared storage throughput
            (Hyperdisk ML, Filestore, one PD) is split between them.
        node: where the replica's node comes from; default ``planning.coldStart.newNode`` (new or warm).
        snapshot: the replica is restored from a GKE Pod snapshot instead of loading weights and
            starting the engine; raises ``SnapshotRefused`` where the model does not allow it.
    """
    planning = planning_of(config)
    pool = config.gpu_pools[config.serving.pool]
    source: NodeSource = node or ("new" if planning.cold_start.new_node else "warm")
    terms = _node_terms(config, pool, planning, source)
    if snapshot:
        refusal = snapshot_refusal(config)
        if refusal:
            raise SnapshotRefused(refusal)
        terms += _snapshot_terms(config, pool, planning)
    else:
        terms.append(_image_term(config, pool, planning))
        terms += _weight_terms(config, pool, planning, max(1, concurrent_loads))
        terms += _engine_terms(config, planning)
    return ColdStartEstimate(tuple(terms), config.model.weights.backend.value, config.model.weight_bytes())


def _buffer_node_term(planning: PlanningConfig, source: NodeSource) -> Term:
    if source == "activeBuffer":
        return Term(
            "node provisioning",
            0.0,
            f"GKE capacity buffer, active ({CAPACITY_BUFFER_DOC})",
            "the replica lands on a running buffer node (GPU driver installed, no node create); the cluster "
            "autoscaler refills the buffer in the background",
            "node",
        )
    measured = planning.cold_start.standby_resume_seconds
    return Term(
        "standby node resume",
        STANDBY_RESUME_SECONDS if measured is None else measured,
        f"assumption: no published figure; GKE: standby buffers 'resume quickly' ({CAPACITY_BUFFER_DOC})"
        if measured is None
        else "planning.coldStart.standbyResumeSeconds",
        "a suspended buffer node is resumed (memory restored, GPU driver already installed, no node create); "
        "GPU machine types as standby buffers are unverified (field-2026-12.md §2.3)",
        "node",
    )


def _snapshot_terms(config: StackConfig, pool: GpuPoolConfig, planning: PlanningConfig) -> list[Term]:
    fast_pull = pool.image_streaming or any(d.mode == "CONTAINER_IMAGE_CACHE" for d in pool.secondary_boot_disks)
    image = (
        Term(
            "image pull",
            0.0,
            "included in the restore figure (measured with image streaming: pull 1.8 s)",
            "image streaming or a secondary boot disk on this pool",
            "image",
        )
        if fast_pull
        else _image_term(config, pool, planning)
    )
    measured = planning.cold_start.snapshot_restore_seconds
    l4 = pool.machine().accelerator == "nvidia-l4"
    if measured is not None:
        seconds, source = measured, "planning.coldStart.snapshotRestoreSeconds"
    elif l4:
        seconds, source = SNAPSHOT_RESTORE_L4_SECONDS, "llm-d/llm-d PR #1902 (open): Llama-3.1-8B on L4, 409 s → 15 s"
    else:
        seconds, source = (
            SNAPSHOT_RESTORE_SECONDS,
            "llm-d gke-pod-snapshots benchmark @005cf571: Qwen3-32B on a3-highgpu-1g, 4 m 38 s → 18.0 s",
        )
    return [
        image,
        Term(
            "Pod snapshot restore",
            seconds,
            source,
            f"pod scheduled → Ready from a snapshot in GCS (GPU memory, process state; weights are not loaded, "
            f"nothing is compiled); taken as measured, not scaled to {config.model.weight_bytes() / 1e9:.0f} GB of "
            "weights (assumption); gVisor pool, vLLM sleep mode and eager safetensors loading as the recipe "
            f"({POD_SNAPSHOTS_README})",
            "container",
        ),
    ]


def _node_terms(config: StackConfig, pool: GpuPoolConfig, planning: PlanningConfig, source: NodeSource) -> list[Term]:
    kind = "spot" if pool.spot else "on-demand"
    if source in ("activeBuffer", "standbyBuffer"):
        return [_buffer_node_term(planning, source)]
    if source == "warm":
        return [
            Term("node provisioning", 0.0, "planning.coldStart.newNode", "the replica lands on a warm node", "node")
        ]
    nodes = config.serving.nodes_per_replica
    measured_create = planning.cold_start.node_create_seconds
    measured_driver = planning.cold_start.driver_install_seconds
    where = (
        f"{pool.machine_type} ({kind}" + (", reservation" if pool.reservation.type != "NO_RESERVATION" else "") + ")"
    )
    capacity = (
        "Spot capacity can be unavailable: the wait is then unbounded"
        if pool.spot
        else (
            "queued provisioning waits for DWS capacity (not included)"
            if pool.queued_provisioning
            else "capacity assumed available"
        )
    )
    return [
        Term(
            "cluster autoscaler",
            CLUSTER_AUTOSCALER_SCAN_SECONDS,
            "cluster-autoscaler FAQ: scan-interval 10 s",
            "a pending replica waits at most one scan before a node is requested",
            "node",
        ),
        Term(
            "GPU node create",
            NODE_CREATE_SECONDS if measured_create is None else measured_create,
            "[Mem] GKE GPU node create-to-Ready 1.5–3 min"
            if measured_create is None
            else "planning.coldStart.nodeCreateSeconds",
            f"a new {where} node{'s' if nodes > 1 else ''} ({nodes} per replica, created in parallel); "
            f"{'pool scales from zero (minNodes 0); ' if pool.autoscaling.min_nodes == 0 else ''}{capacity}; "
            "secondary boot disks "
            "are provisioned in parallel and add nothing (GKE doc)",
            "node",
        ),
        Term(
            "GPU driver install",
            DRIVER_INSTALL_SECONDS if measured_driver is None else measured_driver,
            "[Mem] GKE-managed driver installer on COS + device plugin"
            if measured_driver is None
            else "planning.coldStart.driverInstallSeconds",
            f"gpuDriverVersion {pool.gpu_driver_version}; GPUs become allocatable only after it",
            "node",
        ),
    ]


def _image_term(config: StackConfig, pool: GpuPoolConfig, planning: PlanningConfig) -> Term:
    image_gb = planning.cold_start.image_gb
    plain = image_gb / prices.PLAIN_PULL_GBPS
    cache = [d for d in pool.secondary_boot_disks if d.mode == "CONTAINER_IMAGE_CACHE"]
    if cache:
        return Term(
            "image pull",
            plain / prices.SBD_SPEEDUP,
            'secondary boot disk: "up to 29x" faster than download (anchors §5.1/§7)',
            f"{image_gb:g} GB image preloaded on {cache[0].disk_image or 'the disk image the stack builds'} "
            "(must hold serving.image's digest); "
            f"plain pull {plain:.0f} s ÷ 29, the claim's upper bound",
            "image",
        )
    if pool.image_streaming:
        lazy = image_gb * planning.cold_start.image_read_at_start_share / prices.STREAMING_GBPS
        return Term(
            "image pull",
            prices.STREAMING_MOUNT_SECONDS + lazy,
            "[Mem] image streaming mount ~5 s + lazy reads at ~1 GB/s",
            f"image in Artifact Registry in {config.region} (remote-repository eligibility unverified, anchors §10); "
            f"{planning.cold_start.image_read_at_start_share:.0%} of {image_gb:g} GB read before the server is up",
            "image",
        )
    return Term(
        "image pull",
        plain,
        "[Mem] plain containerd pull ~0.1 GB/s (download + gunzip + extract)",
        f"{image_gb:g} GB compressed vLLM image, no streaming or boot-disk cache",
        "image",
    )


@dataclass(frozen=True)
class _Limit:
    name: str
    gbps: float
    source: str


def _binding(limits: list[_Limit]) -> tuple[_Limit, str]:
    best = min(limits, key=lambda lim: lim.gbps)
    others = ", ".join(f"{lim.name} {lim.gbps:.2f} GB/s" for lim in limits if lim is not best)
    return best, (f"; other limits: {others}" if others else "")


def _weight_term(name: str, weight_bytes: float, limits: list[_Limit], context: str) -> Term:
    best, others = _binding(limits)
    return Term(
        name,
        weight_bytes / (best.gbps * prices.GB),
        best.source,
        f"{weight_bytes / prices.GB:.1f} GB at {best.gbps:.2f} GB/s, bound by {best.name}{others}; {context}",
        "container",
    )


def network_gbps(pool: GpuPoolConfig) -> float:
    """Per-VM host network bandwidth in GB/s (table in stack/prices.py)."""
    return prices.NETWORK_GBPS.get(pool.machine_type, prices.DEFAULT_NETWORK_GBPS) / 8


def _weight_terms(config: StackConfig, pool: GpuPoolConfig, planning: PlanningConfig, sharing: int) -> list[Term]:
    weights = config.model.weights
    weight_bytes = config.model.weight_bytes()
    ranks = config.gpus_per_replica()
    nodes = config.serving.nodes_per_replica
    network = _Limit(
        "per-VM network", network_gbps(pool) * nodes, "[Mem] GPU VM network bandwidth table (stack/prices.py)"
    )
    loader = _Limit(
        f"vLLM safetensors loader ({ranks} rank{'s' if ranks > 1 else ''})",
        prices.DEFAULT_LOADER_GBPS_PER_RANK * ranks,
        "ACP: 141 GB in ~35 s, TP=8 → 0.50 GB/s per rank (anchors §7)",
    )
    backend = weights.backend
    shared = f"{sharing} replica(s) loading at once share it" if sharing > 1 else "one replica loading at a time"
    if backend is WeightsBackend.GCSFUSE:
        return [_gcsfuse_term(config, pool, planning, weight_bytes, network, loader)]
    if backend is WeightsBackend.PERSISTENT_DISK:
        disk = weights.persistent_disk
        rate = min(disk.size_gb * prices.PD_MBPS_PER_GB[disk.disk_type], prices.PD_MAX_MBPS[disk.disk_type]) / 1000
        pd = _Limit(
            f"{disk.disk_type} {disk.size_gb} GB",
            rate,
            "[Mem] PD read MB/s per GB and per-VM cap; anyscale PD ~0.3 GB/s (anchors §7)",
        )
        return [
            _weight_term(
                "weights: persistentDisk", weight_bytes, [pd, loader], f"{disk.access_mode}, read by one VM each"
            )
        ]
    if backend is WeightsBackend.HYPERDISK_ML:
        hd_disk = weights.hyperdisk_ml
        hdml = _Limit(
            f"Hyperdisk ML {hd_disk.throughput_mibps} MiB/s" + (f" ÷ {sharing}" if sharing > 1 else ""),
            hd_disk.throughput_mibps * 2**20 / prices.GB / sharing,
            "provisioned throughput (config); Google claims up to 11.9x faster than a registry (anchors §7)",
        )
        return [
            _weight_term("weights: hyperdiskMl", weight_bytes, [hdml, network, loader], f"READ_ONLY_MANY; {shared}")
        ]
    if backend is WeightsBackend.FILESTORE:
        share = weights.filestore
        flat, per_tib = prices.FILESTORE_READ_MBPS[share.tier]
        rate = (flat + per_tib * share.capacity_gb / 1024) / 1000 / sharing
        nfs = _Limit(f"Filestore {share.tier} {share.capacity_gb} GB", rate, "[Mem] Filestore read throughput by tier")
        return [
            _weight_term(
                "weights: filestore", weight_bytes, [nfs, network, loader], f"nconnect={share.nconnect}; {shared}"
            )
        ]
    if backend is WeightsBackend.RUNAI_STREAMER:
        per_reader = prices.RUNAI_STREAMER_GIBPS * prices.GIB / prices.GB
        streamer = _Limit(
            "Run:ai streamer per reader",
            per_reader,
            "Run:ai streamer 58.99 GiB in 58.3 s from gs:// on H100 (ACP PR #524)",
        )
        # Every TP rank streams the whole unsharded model (anyscale, serving-peers §3(d)), so the
        # VM's network carries ranks × the model.
        per_rank_net = _Limit(f"per-VM network ÷ {ranks} ranks", network.gbps / ranks, network.source)
        return [
            _weight_term(
                "weights: runaiStreamer",
                weight_bytes,
                [streamer, per_rank_net],
                f"concurrency {weights.runai_streamer.concurrency}; "
                f"each of {ranks} rank(s) streams the whole unsharded model",
            )
        ]
    hub = _Limit(
        "Hugging Face hub", prices.HF_DOWNLOAD_GBPS, "anyscale: 131.4 GiB downloaded in 196.5 s (serving-peers §3(d))"
    )
    return [
        _weight_term(
            "weights: huggingFace download",
            weight_bytes,
            [hub, network],
            "at every start; hub rate varies (tensorfuse saw 0.26 GB/s)",
        ),
        _weight_term(
            "weights: load from local disk", weight_bytes, [loader], "from the page cache / local disk just written"
        ),
    ]


def _gcsfuse_term(
    config: StackConfig,
    pool: GpuPoolConfig,
    planning: PlanningConfig,
    weight_bytes: float,
    network: _Limit,
    loader: _Limit,
) -> Term:
    options = config.model.weights.gcsfuse
    ssd_count = pool.local_ssd_count() if pool.local_ssd.mode is LocalSsdMode.EPHEMERAL else 0
    medium = options.file_cache
    if medium == "auto":
        medium = "localSsd" if ssd_count else "memory"
    if medium == "none" or not options.parallel_downloads:
        fuse = _Limit(
            "GCS FUSE without cache/parallel downloads",
            prices.FUSE_UNTUNED_GBPS,
            "ACP: Llama-3.3-70B ~1200 s untuned (anchors §7)",
        )
        return _weight_term(
            "weights: gcsfuse (untuned)",
            weight_bytes,
            [fuse, network, loader],
            f"fileCache {options.file_cache}, parallelDownloads {options.parallel_downloads}",
        )
    if planning.cold_start.gcsfuse_cache_warm:
        limits = [loader]
        if medium == "localSsd":
            limits.append(
                _Limit(
                    f"{ssd_count} Local SSD",
                    ssd_count * prices.LOCAL_SSD_GBPS_PER_DISK,
                    "anyscale: 4 NVMe ~4 GB/s (anchors §7)",
                )
            )
        return _weight_term(
            "weights: gcsfuse (cached)", weight_bytes, limits, f"file cache on {medium} already holds the model"
        )
    tuned = _Limit(
        "tuned FUSE (parallel downloads)",
        network.gbps * prices.FUSE_TUNED_NETWORK_SHARE,
        "ACP tuned FUSE: 1200 s → 35 s for 70B (anchors §7); "
        f"assumed {prices.FUSE_TUNED_NETWORK_SHARE:.0%} of the VM network",
    )
    return _weight_term(
        "weights: gcsfuse (cold)",
        weight_bytes,
        [tuned, loader],
        f"empty file cache on {medium}, parallel downloads, HNS bucket",
    )


def _engine_terms(config: StackConfig, planning: PlanningConfig) -> list[Term]:
    vllm = config.serving.vllm
    if "--enforce-eager" in vllm.extra_args:
        return [
            Term("torch.compile", 0.0, "vLLM --enforce-eager", "eager mode: no compile", "container"),
            Term(
                "CUDA graph capture",
                0.0,
                "vLLM --enforce-eager",
                "eager mode: no CUDA graphs (slower decode)",
                "container",
            ),
            Term(
                "engine init + KV cache",
                ENGINE_INIT_SECONDS,
                "[Mem]",
                "profiling run, KV allocation, API server",
                "container",
            ),
        ]
    warm = planning.cold_start.compile_cache_warm
    large = config.model.parameters_billions >= LARGE_MODEL_BILLIONS
    if warm:
        compile_term = Term(
            "torch.compile",
            COMPILE_WARM,
            "tensorfuse blog: 23 s with warm cache (serving-peers §3(d))",
            "compile cache on persistent storage",
            "container",
        )
        graphs = Term("CUDA graph capture", GRAPHS_WARM, "tensorfuse blog: 7 s warm", "warm cache", "container")
    else:
        compile_term = Term(
            "torch.compile",
            COMPILE_COLD_LARGE if large else COMPILE_COLD_SMALL,
            "anyscale: 60.8 s for Llama-3-70B" if large else "tensorfuse: 52 s for Llama-3.1-8B",
            f"{config.model.parameters_billions:g}B parameters, no compile cache",
            "container",
        )
        graphs = Term(
            "CUDA graph capture",
            GRAPHS_COLD,
            "tensorfuse blog: 54 s cold (Llama-3.1-8B, L40S)",
            f"maxNumSeqs {vllm.max_num_seqs}, cold",
            "container",
        )
    init = Term(
        "engine init + KV cache",
        ENGINE_INIT_SECONDS,
        "[Mem] profiling + KV allocation + API server",
        f"gpuMemoryUtilization {vllm.gpu_memory_utilization}, kvCacheDtype {vllm.kv_cache_dtype}",
        "container",
    )
    return [compile_term, graphs, init]


# --------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------

TP_EFFICIENCY = 0.8
"""Throughput kept per GPU when a replica spans several GPUs (assumption)."""
DECODE_BANDWIDTH_EFFICIENCY = 0.6
"""Share of HBM bandwidth a single decode stream reaches (assumption)."""
PREFILL_TO_DECODE = 10.0
"""Prefill tokens/s per output token/s when nothing better is known (assumption)."""

_REPORT_KEYS = {
    "output_tokens_per_second": (
        "output_throughput",
        "output_tokens_per_second",
        "outputTokensPerSecond",
        "output_token_throughput",
        "outputTokenThroughput",
        "output_tok_s",
        "output_tokens_per_s",
    ),
    "concurrency": (
        "max_concurrent_requests",
        "maxConcurrentRequests",
        "max_concurrency",
        "maxConcurrency",
        "concurrency",
        "users",
        "num_users",
        "numUsers",
    ),
    "replicas": ("replicas", "num_replicas", "numReplicas"),
    "total_output_tokens": ("total_output_tokens", "totalOutputTokens", "total_output"),
    "duration": ("duration", "duration_s", "durationSeconds", "duration_seconds"),
}


@dataclass(frozen=True)
class Throughput:
    """What one replica serves, and where each number came from."""

    output_tokens_per_second: float
    concurrency: int
    single_stream_tokens_per_second: float
    prefill_tokens_per_second: float
    source: str

    def step_seconds(self) -> tuple[float, float]:
        """Decode step time model ``t0 + n·t1`` (per running request n), fitted so a full batch of
        ``concurrency`` produces ``output_tokens_per_second`` and one request alone at most
        ``single_stream_tokens_per_second``."""
        full = self.concurrency / self.output_tokens_per_second
        t0 = min(1 / self.single_stream_tokens_per_second, 0.5 * full)
        return t0, (full - t0) / self.concurrency

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReportError(ValueError):
    """A load-test report that cannot be read."""


def _find(document: Any, keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` (in order of preference) found anywhere in a nested
    JSON document (breadth first), numbers only."""
    for key in keys:
        queue = [document]
        while queue:
            node = queue.pop(0)
            if isinstance(node, dict):
                value = node.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return value
                queue.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                queue.extend(v for v in node if isinstance(v, (dict, list)))
    return None


def read_report(path: str) -> dict[str, float]:
    """Per-replica throughput from a load-test ``report.json``.

    Tolerant of the shape: looks (at any nesting depth) for ``output_throughput`` (the
    ``vllm bench serve`` key, also ``summary.output_throughput`` of loadtest/'s report.json) or its
    camelCase/alias forms, else ``total_output_tokens / duration``; for the concurrency, the observed
    ``max_concurrent_requests`` (loadtest/) first, then ``max_concurrency``/``concurrency``/``users``;
    and divides both by ``replicas`` when present.
    """
    import json
    from pathlib import Path

    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ReportError(f"--report {path}: {err}") from None
    found: dict[str, float] = {}
    tps = _find(document, _REPORT_KEYS["output_tokens_per_second"])
    if tps is None:
        total, duration = (
            _find(document, _REPORT_KEYS["total_output_tokens"]),
            _find(document, _REPORT_KEYS["duration"]),
        )
        if total is not None and duration:
            tps = total / duration
    if tps is None or tps <= 0:
        raise ReportError(
            f"--report {path}: no output token throughput "
            f"(looked for {', '.join(_REPORT_KEYS['output_tokens_per_second'])} "
            "or total_output_tokens/duration)"
        )
    replicas = _find(document, _REPORT_KEYS["replicas"]) or 1
    found["output_tokens_per_second"] = tps / replicas
    concurrency = _find(document, _REPORT_KEYS["concurrency"])
    if concurrency:
        found["concurrency"] = max(1, round(concurrency / replicas))
    return found


def resolve_throughput(config: StackConfig, report: str | None = None) -> Throughput:
    """Per-replica throughput: ``report`` (the CLI's --report) wins, then ``planning.throughput``
    fields, then ``planning.throughput.report``, then the GPU table of stack/prices.py."""
    wanted = planning_of(config).throughput
    from_report = read_report(report) if report else {}
    from_config_report = read_report(wanted.report) if wanted.report and not report else {}
    machine = config.gpu_pools[config.serving.pool].machine()
    gpus = config.gpus_per_replica()
    sources = []

    def pick(name: str, configured: Any, default: Any, default_source: str) -> Any:
        for value, source in (
            (from_report.get(name), f"report {report}"),
            (configured, f"planning.throughput.{name}"),
            (from_config_report.get(name), f"report {wanted.report}"),
        ):
            if value is not None:
                sources.append(f"{name}: {source}")
                return value
        sources.append(f"{name}: {default_source}")
        return default

    per_gpu = prices.OUTPUT_TOKENS_PER_GPU_8B.get(machine.accelerator, 1000.0)
    scale = 8.0 / config.model.parameters_billions * gpus * (TP_EFFICIENCY if gpus > 1 else 1.0)
    tps = pick(
        "output_tokens_per_second",
        wanted.output_tokens_per_second,
        per_gpu * scale,
        "[Mem] GPU table × 8B/params × GPUs",
    )
    concurrency = pick("concurrency", wanted.concurrency, config.serving.vllm.max_num_seqs, "serving.vllm.maxNumSeqs")
    hbm = prices.HBM_GBPS.get(machine.accelerator, 1000.0) * gpus * DECODE_BANDWIDTH_EFFICIENCY
    hbm *= TP_EFFICIENCY if gpus > 1 else 1.0
    single = pick(
        "single_stream_tokens_per_second",
        wanted.single_stream_tokens_per_second,
        hbm * prices.GB / config.effective_weight_bytes(),
        "HBM bandwidth ÷ weight bytes (roofline)",
    )
    prefill = pick(
        "prefill_tokens_per_second",
        wanted.prefill_tokens_per_second,
        PREFILL_TO_DECODE * tps,
        "10 × output tokens/s (assumption)",
    )
    return Throughput(float(tps), int(concurrency), float(single), float(prefill), "; ".join(sources))


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolPrice:
    """Per-node hourly prices of a pool's machine type."""

    on_demand: float | None
    spot: float | None
    source: str

    def billed(self, spot: bool) -> float | None:
        return self.spot if spot else self.on_demand


def machine_price(config: StackConfig, machine_type: str) -> PoolPrice:
    """Hourly node price: ``planning.prices`` override, else the table in stack/prices.py."""
    row = prices.MACHINE_PRICES.get(machine_type)
    override = planning_of(config).prices.get(machine_type)
    on_demand = row.on_demand if row else None
    spot = row.spot if row else None
    source = f"{row.source} ({prices.PRICES_AS_OF})" if row else "no built-in price"
    if override is not None:
        if override.on_demand_hourly is not None:
            on_demand = override.on_demand_hourly
        if override.spot_hourly is not None:
            spot = override.spot_hourly
        source = f"planning.prices.{machine_type}" + (f"; else {source}" if row else "")
    return PoolPrice(on_demand, spot, source)


def storage_price(config: StackConfig, key: str) -> tuple[float, str]:
    """(USD, source) of a storage price key such as ``hyperdiskMlGbMonth``."""
    from pydantic.alias_generators import to_snake

    override = getattr(planning_of(config).storage_prices, to_snake(key))
    if override is not None:
        return override, f"planning.storagePrices.{key}"
    row = prices.STORAGE_PRICES[key]
    return row.value, f"{row.source} ({prices.PRICES_AS_OF})"


def pool_node_bounds(config: StackConfig, name: str) -> tuple[int, int]:
    """(min, max) nodes of a pool in total (per-zone limits × zones)."""
    pool = config.gpu_pools[name]
    zones = len(config.pool_zones(name)) if pool.autoscaling.per_zone else 1
    return pool.autoscaling.min_nodes * zones, pool.autoscaling.max_nodes * zones


def replicas_per_node(config: StackConfig) -> int:
    """Replicas sharing one node (1 for replicas that span one or more whole nodes)."""
    if config.serving.nodes_per_replica > 1:
        return 1
    return max(1, config.gpu_pools[config.serving.pool].machine().gpu_count // config.gpus_per_replica())


def min_replicas(config: StackConfig) -> int:
    """Fewest serving replicas: the HPA minimum, KEDA's (possibly 0), or the fixed count."""
    scaling = config.autoscaling
    if scaling.mode == "none":
        return config.serving.replicas
    if scaling.mode == "keda":
        return scaling.keda.min_replicas
    return max(scaling.min_replicas, config.serving.replicas)


def place_replicas(config: StackConfig, replicas: int) -> dict[str, int]:
    """Serving nodes per pool for ``replicas``: the serving pool's minimum nodes first, then the
    Spot pool (preferred by node affinity), then the serving pool up to its maximum."""
    per_node = replicas_per_node(config)
    units = math.ceil(replicas / per_node)
    width = config.serving.nodes_per_replica
    main, spot = config.serving.pool, config.serving.spot_pool
    main_min, main_max = pool_node_bounds(config, main)
    placed = {main: 0} | ({spot: 0} if spot else {})
    order = [(main, main_min // width)]
    if spot:
        order.append((spot, pool_node_bounds(config, spot)[1] // width))
    order.append((main, main_max // width - main_min // width))
    for pool, room in order:
        take = min(units, room)
        placed[pool] += take * width
        units -= take
    placed[main] += units * width  # beyond every maximum: shown, though the autoscaler would refuse
    return placed


@dataclass
class CostLine:
    """One priced line: a pool, the system pool, the cluster fee, or storage."""

    item: str
    detail: str
    hourly_at_min: float | None
    hourly_at_max: float | None
    source: str
    nodes_at_min: int | None = None
    nodes_at_max: int | None = None
    on_demand_node_hourly: float | None = None
    spot_node_hourly: float | None = None
    spot: bool | None = None

    def monthly(self, hourly: float | None) -> float | None:
        return None if hourly is None else hourly * prices.HOURS_PER_MONTH

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item": self.item,
            "detail": self.detail,
            "hourly": {"min": _r(self.hourly_at_min), "max": _r(self.hourly_at_max)},
            "monthly": {"min": _r(self.monthly(self.hourly_at_min)), "max": _r(self.monthly(self.hourly_at_max))},
            "source": self.source,
        }
        if self.nodes_at_min is not None:
            out["nodes"] = {"min": self.nodes_at_min, "max": self.nodes_at_max}
        if self.on_demand_node_hourly is not None or self.spot_node_hourly is not None:
            out |= {
                "spot": self.spot,
                "nodeHourly": {"onDemand": _r(self.on_demand_node_hourly), "spot": _r(self.spot_node_hourly)},
                "hourlyIfOnDemand": {
                    "min": _times(self.on_demand_node_hourly, self.nodes_at_min),
                    "max": _times(self.on_demand_node_hourly, self.nodes_at_max),
                },
                "hourlyIfSpot": {
                    "min": _times(self.spot_node_hourly, self.nodes_at_min),
                    "max": _times(self.spot_node_hourly, self.nodes_at_max),
                },
            }
        return out


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _times(price: float | None, count: int | None) -> float | None:
    if price is None:
        return None
    assert count is not None, "a line with a node price has node counts"
    return round(price * count, 4)


@dataclass
class CostEstimate:
    """The stack's cost at its minimum and maximum size."""

    lines: list[CostLine]
    replicas: tuple[int, int]
    throughput: Throughput
    per_replica_hourly: dict[str, float | None]
    missing: list[str] = field(default_factory=list)

    def total(self, which: Literal["min", "max"]) -> float:
        return sum((line.hourly_at_min if which == "min" else line.hourly_at_max) or 0.0 for line in self.lines)

    def dollars_per_million_tokens(self) -> dict[str, float | None]:
        """Serving cost per million output tokens at full replica throughput."""
        tokens_per_hour = self.throughput.output_tokens_per_second * 3600
        return {k: (None if v is None else v / tokens_per_hour * 1e6) for k, v in self.per_replica_hourly.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicas": {"min": self.replicas[0], "max": self.replicas[1]},
            "lines": [line.as_dict() for line in self.lines],
            "total": {
                "hourly": {"min": _r(self.total("min")), "max": _r(self.total("max"))},
                "monthly": {
                    "min": _r(self.total("min") * prices.HOURS_PER_MONTH, 2),
                    "max": _r(self.total("max") * prices.HOURS_PER_MONTH, 2),
                },
            },
            "hoursPerMonth": prices.HOURS_PER_MONTH,
            "pricesAsOf": prices.PRICES_AS_OF,
            "throughput": self.throughput.as_dict(),
            "perReplicaHourly": {k: _r(v) for k, v in self.per_replica_hourly.items()},
            "dollarsPerMillionOutputTokens": {k: _r(v) for k, v in self.dollars_per_million_tokens().items()},
            "missingPrices": self.missing,
        }


def estimate_cost(config: StackConfig, report: str | None = None) -> CostEstimate:
    """Price the stack at its minimum and maximum replicas/nodes, storage included.

    GPU pools hold ``max(pool minimum, nodes the serving replicas need)`` nodes; pools that serve
    nothing (e.g. a batch-only pool) are priced at their own minimum and maximum.
    """
    low, high = min_replicas(config), config.max_replicas()
    at_min, at_max = place_replicas(config, low), place_replicas(config, high)
    lines: list[CostLine] = []
    missing: list[str] = []
    for name, pool in config.gpu_pools.items():
        lo, hi = pool_node_bounds(config, name)
        nodes_min = max(lo, at_min.get(name, 0))
        nodes_max = max(nodes_min, min(hi, at_max.get(name, hi))) if name in at_max else hi
        price = machine_price(config, pool.machine_type)
        billed = price.billed(pool.spot)
        if billed is None:
            missing.append(f"planning.prices.{pool.machine_type}.{'spotHourly' if pool.spot else 'onDemandHourly'}")
        role = (
            "serving"
            if name == config.serving.pool
            else ("serving overflow (spot)" if name == config.serving.spot_pool else "other")
        )
        lines.append(
            CostLine(
                f"pool {name}",
                f"{pool.machine_type} × nodes ({'spot' if pool.spot else 'on-demand'}; {role}; limits {lo}–{hi})",
                None if billed is None else billed * nodes_min,
                None if billed is None else billed * nodes_max,
                price.source,
                nodes_min,
                nodes_max,
                price.on_demand,
                price.spot,
                pool.spot,
            )
        )
    system = config.cluster.system_pool
    system_price = prices.SYSTEM_MACHINE_PRICES.get(system.machine_type)
    zones = len(config.zones) if config.cluster.location is None or config.cluster.location == config.region else 1
    if system_price is None:
        missing.append(f"system pool {system.machine_type} (no built-in price)")
    lines.append(
        CostLine(
            "system pool",
            f"{system.machine_type} × {system.min_nodes}–{system.max_nodes} per zone × {zones} zone(s)",
            None if system_price is None else system_price * system.min_nodes * zones,
            None if system_price is None else system_price * system.max_nodes * zones,
            "[Mem] compute/vm-instance-pricing",
            system.min_nodes * zones,
            system.max_nodes * zones,
        )
    )
    if config.cluster.mode == "create":
        fee = prices.GKE_CLUSTER_FEE_HOURLY
        lines.append(CostLine("GKE cluster fee", "one cluster", fee, fee, "[Mem] kubernetes-engine/pricing"))
    lines += _storage_lines(config)
    price = machine_price(config, config.gpu_pools[config.serving.pool].machine_type)
    share = config.serving.nodes_per_replica / replicas_per_node(config)
    per_replica = {
        "onDemand": None if price.on_demand is None else price.on_demand * share,
        "spot": None if price.spot is None else price.spot * share,
    }
    return CostEstimate(lines, (low, high), resolve_throughput(config, report), per_replica, missing)


def _storage_lines(config: StackConfig) -> list[CostLine]:
    def monthly_line(item: str, detail: str, monthly: float, source: str) -> CostLine:
        hourly = monthly / prices.HOURS_PER_MONTH
        return CostLine(item, detail, hourly, hourly, source)

    lines = []
    model_gib = config.model.weight_bytes() / prices.GIB
    bucket, source = storage_price(config, "bucketGbMonth")
    lines.append(monthly_line("model bucket", f"{model_gib:.1f} GiB Standard", model_gib * bucket, source))
    weights = config.model.weights
    serving_zones = set(config.pool_zones(config.serving.pool))
    if config.serving.spot_pool:
        serving_zones |= set(config.pool_zones(config.serving.spot_pool))
    disks = len(serving_zones)
    if weights.backend is WeightsBackend.HYPERDISK_ML:
        hd_disk = weights.hyperdisk_ml
        gb_price, gb_source = storage_price(config, "hyperdiskMlGbMonth")
        tp_price, tp_source = storage_price(config, "hyperdiskMlMibpsMonth")
        monthly = disks * (hd_disk.size_gb * gb_price + hd_disk.throughput_mibps * tp_price)
        detail = f"{disks} zonal disk(s) × ({hd_disk.size_gb} GiB + {hd_disk.throughput_mibps} MiB/s)"
        lines.append(monthly_line("Hyperdisk ML", detail, monthly, f"{gb_source}; {tp_source}"))
    elif weights.backend is WeightsBackend.PERSISTENT_DISK:
        disk = weights.persistent_disk
        key = "pdSsdGbMonth" if disk.disk_type == "pd-ssd" else "pdBalancedGbMonth"
        gb_price, gb_source = storage_price(config, key)
        lines.append(
            monthly_line(
                "model disk",
                f"{disks} zonal {disk.disk_type} × {disk.size_gb} GiB",
                disks * disk.size_gb * gb_price,
                gb_source,
            )
        )
    elif weights.backend is WeightsBackend.FILESTORE:
        share = weights.filestore
        gb_price, gb_source = storage_price(config, prices.FILESTORE_TIER_KEY[share.tier])
        lines.append(
            monthly_line("Filestore", f"{share.tier} {share.capacity_gb} GiB", share.capacity_gb * gb_price, gb_source)
        )
    return lines
