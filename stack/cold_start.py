"""A replica's cold start, term by term: a pure calculation from the stack config.

``estimate_cold_start(config)`` adds up what one new replica waits for: a GPU node, the vLLM image,
the weights through the configured backend, and engine start-up. Each term names its source (a
published measurement or a table row of ``stack/prices.py``) and the assumption that applies it to
this stack.

The deployed program reads it for the startupProbe budget and the HPA scale-down window
(``stack/decisions.py``); the planner (``stack/plan/estimate.py``, ``gke-infer estimate``) and the simulator
print and vary it. It creates nothing and imports no planner module. Moved here unchanged from
``stack/plan/estimate.py``, which re-exports every public name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from stack import prices
from stack.config import GpuPoolConfig, LocalSsdMode, StackConfig
from stack.config.planning import PlanningConfig
from stack.config.serving import WeightsBackend

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
    medium = config.gcsfuse_file_cache()  # the choice the GCS FUSE mount is rendered with
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
        f"empty file cache on {medium}, parallel downloads, HNS bucket" + _rapid_cache_note(config),
    )


def _rapid_cache_note(config: StackConfig) -> str:
    """What Rapid Cache changes in the cold GCS FUSE term: where the bytes come from, not how fast one VM reads."""
    if not config.model.weights.gcsfuse.rapid_cache.enabled:
        return ""
    return ("; Rapid Cache in the serving zones: after a zone's first miss (admit-on-first-miss) reads come from its "
            "SSD cache, 100 Gbps per zone and autoscaling (field-2026-12.md §3.2, Rapid Cache docs), so concurrent "
            "replicas do not share the bucket's egress; one replica stays bound by its own VM as above (assumption: "
            "no published per-VM read rate from the cache)")


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
