"""Facades of the serving components: the vLLM server on a GPU pool, and its HorizontalPodAutoscaler.

Pass the Kubernetes provider of the cluster in the resource options (``providers``/``provider``); the
components create every Kubernetes object through it.
"""

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, NotRequired, TypedDict, cast

import pulumi

from infra.gpu_node_pool import PoolShape, spot_pod_grace_seconds
from infra.options import child_options
from infra.validation import Problem, raise_if_problems
from workloads import autoscaling, metrics, vllm_server, weights
from workloads.gateway import lora
from workloads.vllm_args import EngineSettings

from .convert import missing, nested_problems, picked


class ServingPool(TypedDict):
    """A GPU node pool the server runs on (e.g. a `GpuNodePool` of this package, or one made elsewhere with this
    project's taints: `nvidia.com/gpu=present:NoSchedule`, plus `cloud.google.com/gke-spot` on Spot)."""

    name: str
    """The node pool's name (`cloud.google.com/gke-nodepool` label)."""
    machine_type: str
    """Its machine type; GPUs per pod and the pod's CPU and memory follow from it."""
    gpu_count: NotRequired[int]
    """Only for N1 machines: GPUs per node."""
    spot: NotRequired[bool]
    """The pool runs Spot VMs (pods tolerate its Spot taint). Default false."""
    ephemeral_local_ssd: NotRequired[bool]
    """Node ephemeral storage sits on Local SSD (needed by a Local SSD file cache). Default false."""
    spot_shutdown_grace_seconds: NotRequired[int]
    """The Spot pool's graceful shutdown on preemption (its `spotShutdownGraceSeconds`); sizes the drain."""


class WeightsBackend(Enum):
    """Where the serving pod reads the model weights from."""

    GCSFUSE = "gcsfuse"
    """The model bucket through Cloud Storage FUSE (read-only, any number of replicas); set `gcsfuse`."""
    RUNAI_STREAMER = "runaiStreamer"
    """`gs://` streamed straight into GPU memory by vLLM's Run:ai Model Streamer; set `runaiStreamer`."""
    HUGGING_FACE = "huggingFace"
    """Downloaded from the Hugging Face hub at every pod start (slow baseline, dev only); set `huggingFace`."""
    PERSISTENT_DISK = "persistentDisk"
    """A pre-populated Persistent Disk behind an existing claim; set `claim`."""
    HYPERDISK_ML = "hyperdiskMl"
    """A Hyperdisk ML volume (READ_ONLY_MANY) behind an existing claim; set `claim`."""
    FILESTORE = "filestore"
    """A Filestore share behind an existing claim; set `claim`."""


class GcsFuseFileCache(Enum):
    """Where gcsfuse caches the files it read."""

    LOCAL_SSD = "localSsd"
    """Node ephemeral storage on Local SSD (the pool needs `ephemeralLocalSsd`)."""
    MEMORY = "memory"
    """A RAM disk sized to the model."""
    NONE = "none"
    """No file cache."""


class GcsFuseWeights(TypedDict):
    """The model bucket mounted read-only through the Cloud Storage FUSE CSI driver."""

    bucket_name: pulumi.Input[str]
    """The model bucket."""
    prefix: str
    """Object prefix of the model revision (e.g. `models/<id>/<revision>`)."""
    file_cache: GcsFuseFileCache
    """Where the file cache lives."""
    model_bytes: float
    """Size of the weights in bytes; sizes the cache and the sidecar's requests."""
    parallel_downloads: NotRequired[bool]
    """Parallel downloads into the file cache. Default true."""
    metadata_prefetch: NotRequired[bool]
    """Prefetch metadata at mount. Default true."""
    sidecar_cpu_limit: NotRequired[str]
    """The gcsfuse sidecar's CPU limit; "0" (default) is unbounded."""
    sidecar_memory_limit: NotRequired[str]
    """The sidecar's memory limit; "0" (default) is unbounded."""
    sidecar_ephemeral_storage_limit: NotRequired[str]
    """The sidecar's ephemeral-storage limit; "0" (default) is unbounded (a Local SSD cache counts against it)."""


class RunaiStreamerWeights(TypedDict):
    """vLLM's Run:ai Model Streamer reading safetensors straight from `gs://`."""

    bucket_name: pulumi.Input[str]
    """The model bucket (read through Workload Identity: set `googleServiceAccount`)."""
    prefix: str
    """Object prefix of the model revision."""
    concurrency: NotRequired[int]
    """Parallel readers (RUNAI_STREAMER_CONCURRENCY). Default 16."""
    memory_limit_bytes: NotRequired[int]
    """CPU staging buffer (RUNAI_STREAMER_MEMORY_LIMIT); -1 (default) is unlimited."""
    distributed: NotRequired[bool]
    """Each tensor-parallel rank streams its share. Default false."""


class HuggingFaceWeights(TypedDict):
    """An init container downloads a pinned revision from the Hugging Face hub at every pod start."""

    repo_id: str
    """Hub repository, e.g. Qwen/Qwen2.5-1.5B-Instruct."""
    revision: str
    """The pinned commit."""
    model_bytes: float
    """Size of the weights in bytes; sizes the download volume."""
    image: NotRequired[pulumi.Input[str]]
    """Image with Python and huggingface_hub, pinned by digest; default the serving image."""
    token_secret: NotRequired[str]
    """Secret holding the hub token (gated models); unset for public models."""
    token_key: NotRequired[str]
    """Key of the token in that Secret. Default `token`."""


class ClaimWeights(TypedDict):
    """Weights on an existing PersistentVolumeClaim, mounted read-only."""

    claim_name: str
    """The claim, in the server's namespace."""
    model_subpath: str
    """Where the model sits inside the volume (e.g. `models/<id>/<revision>`)."""
    read_only_many: NotRequired[bool]
    """Many replicas may mount the claim at once. Default true."""


class Weights(TypedDict):
    """The weights backend and its settings: set the block named like the backend (`claim` for the disk and
    Filestore backends)."""

    backend: WeightsBackend
    """The backend."""
    gcsfuse: NotRequired[GcsFuseWeights]
    """Settings of the gcsfuse backend."""
    runai_streamer: NotRequired[RunaiStreamerWeights]
    """Settings of the runaiStreamer backend."""
    hugging_face: NotRequired[HuggingFaceWeights]
    """Settings of the huggingFace backend."""
    claim: NotRequired[ClaimWeights]
    """The claim of the persistentDisk, hyperdiskMl and filestore backends."""


class Engine(TypedDict):
    """vLLM engine settings; unset ones keep the component's defaults."""

    served_model_name: str
    """Name clients send as `model`."""
    tensor_parallel_size: NotRequired[int]
    """--tensor-parallel-size (× pipelineParallelSize must equal a replica's GPUs). Default 1."""
    pipeline_parallel_size: NotRequired[int]
    """--pipeline-parallel-size. Default 1."""
    max_model_len: NotRequired[int]
    """--max-model-len; unset leaves the model's."""
    gpu_memory_utilization: NotRequired[float]
    """--gpu-memory-utilization. Default 0.9."""
    max_num_seqs: NotRequired[int]
    """--max-num-seqs."""
    max_num_batched_tokens: NotRequired[int]
    """--max-num-batched-tokens."""
    enable_prefix_caching: NotRequired[bool]
    """Prefix caching. Default true."""
    enable_chunked_prefill: NotRequired[bool]
    """Chunked prefill. Default true."""
    quantization: NotRequired[str]
    """--quantization (e.g. fp8)."""
    kv_cache_dtype: NotRequired[str]
    """--kv-cache-dtype. Default auto."""
    dtype: NotRequired[str]
    """--dtype. Default auto."""
    shutdown_timeout_seconds: NotRequired[int]
    """--shutdown-timeout: how long vLLM finishes in-flight requests after SIGTERM. Default 60."""
    distributed_executor_backend: NotRequired[str]
    """--distributed-executor-backend."""
    extra: NotRequired[list[str]]
    """Extra vLLM flags, appended in order (may not redefine a typed setting)."""


_ENGINE_KEYS = tuple(Engine.__annotations__)


class LoraAdapters(TypedDict):
    """LoRA adapters served beside the base model, each under its own name; an init container fetches them into
    the pod before vLLM starts."""

    adapters: dict[str, str]
    """Served name (what clients send as `model`) → `gs://BUCKET/PATH` or `ORG/REPO@<40-hex commit>`."""
    fetch_image: pulumi.Input[str]
    """The model-downloader image, pinned by digest (it fetches the adapters)."""
    max_loras: NotRequired[int]
    """Adapters in one batch (--max-loras). Default: the number of adapters."""
    max_lora_rank: NotRequired[int]
    """The highest adapter rank served (--max-lora-rank). Default 16."""
    hf_token_secret: NotRequired[str]
    """Secret (key `token`) with the hub token for gated hub adapters; mounted into the fetching init container
    only."""
    adapters_dir: NotRequired[str]
    """Absolute pod path the adapters are fetched into. Default /adapters."""
    size_limit: NotRequired[str]
    """Size limit of the adapters' emptyDir. Default 10Gi."""


class VllmServerArgs(TypedDict):
    """Arguments of one model served by vLLM on a GPU pool."""

    namespace: pulumi.Input[str]
    """Namespace (created by the caller)."""
    image: pulumi.Input[str]
    """Serving image, pinned by digest (`vllm/vllm-openai@sha256:...`)."""
    engine: Engine
    """vLLM engine settings."""
    weights: Weights
    """Where the weights come from."""
    pool: ServingPool
    """The GPU pool replicas run on."""
    overflow_pool: NotRequired[ServingPool]
    """A second pool with the same GPUs (e.g. Spot) replicas may also use; `pool` stays preferred."""
    compute_class: NotRequired[str]
    """A custom ComputeClass the replicas select instead of `pool` (GKE places them by its fallback order; `pool`
    still sizes the pod, so the class's shapes must carry its GPUs)."""
    name: NotRequired[str]
    """Name of the Deployment/Service and prefix of every object; default the component's name."""
    google_service_account: NotRequired[pulumi.Input[str]]
    """GSA email for Workload Identity (needed by the bucket-reading backends)."""
    weight_bytes: NotRequired[float]
    """Bytes the weights take in GPU memory; given, the server checks they leave room for KV cache."""
    replicas: NotRequired[int]
    """Replicas (the autoscaler's minimum when one manages them). Default 1."""
    max_replicas: NotRequired[int]
    """The most replicas that can run; their nodes must fit the pools where the pools' maximum is known. Default 1."""
    model_context_length: NotRequired[int]
    """The model's longest context (its config's max_position_embeddings); given, maxModelLen may not exceed it."""
    autoscaled: NotRequired[bool]
    """An autoscaler owns the replica count (left out of the spec). Default false."""
    startup_budget_seconds: NotRequired[int]
    """Cold-start budget the startup probe allows. Default 600."""
    pre_stop_seconds: NotRequired[int]
    """Delay before SIGTERM so the pod leaves Service endpoints first. Default 15."""
    drain_queue_seconds: NotRequired[int]
    """Then wait up to this long for vLLM's queue to empty before SIGTERM. Default 60."""
    api_key: NotRequired[pulumi.Input[str]]
    """API key (pass a secret); stored in a Secret and passed as VLLM_API_KEY."""
    cache_size_limit: NotRequired[str]
    """Size limit of the cache emptyDir. Default 100Gi."""
    client_label: NotRequired[str]
    """Pods labelled `<clientLabel>: "true"` may call the server. Default gke-inference/client."""
    ingress_ip_blocks: NotRequired[list[str]]
    """IPv4 CIDRs admitted on the serving port besides labelled pods: a load balancer's proxy-only subnet and
    Google's health-check ranges when an InferencePool (a `ModelPool`) fronts the server."""
    pod_snapshots: NotRequired[bool]
    """Pods GKE can checkpoint and restore (see `PodSnapshots`): gVisor runtime, vLLM sleep mode, the service
    account token mounted. The pools must run gVisor; one GPU per replica, no gcsfuse weights. Default false."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""
    lora: NotRequired[LoraAdapters]
    """LoRA adapters served beside the base model (bucket adapters are read as `googleServiceAccount`)."""


_SERVER_BLOCKS = ("engine", "weights", "pool", "overflow_pool", "lora")
"""Arguments converted into the objects the component takes; every other argument is passed as it is."""
_SERVER_KEYS = tuple(key for key in VllmServerArgs.__annotations__ if key not in _SERVER_BLOCKS)
_BACKEND_BLOCK = {
    WeightsBackend.GCSFUSE: "gcsfuse",
    WeightsBackend.RUNAI_STREAMER: "runai_streamer",
    WeightsBackend.HUGGING_FACE: "hugging_face",
    WeightsBackend.PERSISTENT_DISK: "claim",
    WeightsBackend.HYPERDISK_ML: "claim",
    WeightsBackend.FILESTORE: "claim",
}
_BLOCK_TYPE: dict[str, Any] = {
    "gcsfuse": GcsFuseWeights, "runai_streamer": RunaiStreamerWeights, "hugging_face": HuggingFaceWeights,
    "claim": ClaimWeights,
}


def _pool_shape(pool: ServingPool) -> PoolShape:
    shape = PoolShape.existing(pool["name"], pool["machine_type"], **picked(pool, *_POOL_SHAPE_KEYS))
    if pool.get("spot_shutdown_grace_seconds") is None:
        return shape
    grace = spot_pod_grace_seconds(pool.get("spot", False), pool["spot_shutdown_grace_seconds"])
    return dataclasses.replace(shape, spot_pod_grace_seconds=grace)


_POOL_SHAPE_KEYS = ("gpu_count", "spot", "ephemeral_local_ssd")
"""``PoolShape.existing``'s keyword arguments; the Spot shutdown grace is set on the shape after."""


def _block_problems(spec: Mapping[str, Any]) -> tuple[str | None, list[Problem]]:
    """(the block the backend reads, problems): exactly that block, with its required keys."""
    backend = spec.get("backend")
    if not isinstance(backend, WeightsBackend):
        choices = ", ".join(b.value for b in WeightsBackend)
        return None, [Problem("weights.backend", f"{backend!r} is not a backend; one of {choices}")]
    block = _BACKEND_BLOCK[backend]
    problems = [
        Problem(f"weights.{other}", f"set only `{block}` for the {backend.value} backend")
        for other in _BLOCK_TYPE if other != block and spec.get(other) is not None
    ]
    values = spec.get(block)
    if values is None:
        problems.append(Problem(f"weights.{block}", f"required with the {backend.value} backend"))
    else:
        problems += missing(values, _BLOCK_TYPE[block], f"weights.{block}.")
    return block, problems


def weights_mount(weights_args: Weights, image: pulumi.Input[str]) -> tuple[weights.WeightsMount | None, list[Problem]]:
    """The backend's ``WeightsMount`` from the facade's weights block, or None and the problems (under
    ``weights.<block>``, the backend's own validator run on the block)."""
    spec = cast(Mapping[str, Any], weights_args)
    block, problems = _block_problems(spec)
    if problems or block is None:
        return None, problems
    values, backend, prefix = spec[block], spec["backend"].value, f"weights.{block}"
    if block == "gcsfuse":
        gcs = weights.GcsFuseArgs(**picked(values, *GcsFuseWeights.__annotations__))
        problems = nested_problems(prefix, weights.validate_gcs_fuse_args(gcs))
        return (None if problems else weights.gcsfuse_weights(gcs)), problems
    if block == "runai_streamer":
        runai = weights.RunaiStreamerArgs(**picked(values, *RunaiStreamerWeights.__annotations__))
        problems = nested_problems(prefix, weights.validate_runai_streamer_args(runai))
        return (None if problems else weights.runai_streamer_weights(runai)), problems
    if block == "hugging_face":
        hub = weights.HuggingFaceArgs(**{"image": image, **picked(values, *HuggingFaceWeights.__annotations__)})
        return weights.hugging_face_weights(hub), []
    claim = picked(values, *ClaimWeights.__annotations__)
    return weights.claim_weights(
        backend, claim["claim_name"], claim["model_subpath"], claim.get("read_only_many", True), []
    ), []


def vllm_server_args(name: str, args: VllmServerArgs) -> vllm_server.VllmServerArgs:
    """The component's validated-args dataclass for these facade arguments (refuses missing or contradictory
    blocks first, under their argument paths)."""
    problems = missing(args, VllmServerArgs) + missing(args.get("engine") or {}, Engine, "engine.")
    for key, pool in (("pool", args.get("pool")), ("overflow_pool", args.get("overflow_pool"))):
        if pool is not None:
            problems += missing(pool, ServingPool, f"{key}.")
    if args.get("lora") is not None:
        problems += missing(args["lora"], LoraAdapters, "lora.")
    mount, weight_problems = weights_mount(args["weights"], args["image"]) if not problems else (None, [])
    raise_if_problems("VllmServer", name, problems + weight_problems)
    assert mount is not None  # no problems: the backend's block was there and valid
    overflow = args.get("overflow_pool")
    return vllm_server.VllmServerArgs(
        **picked(args, *_SERVER_KEYS),
        engine=EngineSettings(**picked(args["engine"], *_ENGINE_KEYS)),
        weights=mount,
        pool=_pool_shape(args["pool"]),
        overflow_pool=_pool_shape(overflow) if overflow is not None else None,
        lora=lora.LoraAdapters(**picked(args["lora"], *LoraAdapters.__annotations__)) if args.get("lora") else None,
    )


class VllmServer(pulumi.ComponentResource):
    """One model served by vLLM: service account, probe script, Deployment (or LeaderWorkerSet), Service,
    PodDisruptionBudget and NetworkPolicy, with a startup budget, a liveness probe that sees a hung engine and a
    drain that finishes in-flight requests. Pass the cluster's Kubernetes provider in the options."""

    service_url: pulumi.Output[str]
    """`http://<service>.<namespace>.svc.cluster.local:8000`."""
    served_model_name: str
    """Name clients send as `model`."""
    object_name: str
    """Name of the Deployment/Service."""
    target_api_version: str
    """apiVersion of the object an autoscaler scales (apps/v1 or leaderworkerset.x-k8s.io/v1)."""
    target_kind: str
    """Kind of that object (Deployment or LeaderWorkerSet)."""
    target_name: str
    """Name of that object."""
    gpus_per_node: int
    """`nvidia.com/gpu` per pod."""

    def __init__(self, name: str, args: VllmServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = vllm_server_args(name, args)
        raise_if_problems("VllmServer", name, vllm_server.validate_vllm_server_args(real, name))
        super().__init__("gke-inference:index:VllmServer", name, {}, opts)
        server = vllm_server.VllmServer(name, real, child_options(self, opts))
        self.service_url = server.service_url
        self.served_model_name = server.served_model_name
        self.object_name = server.object_name
        self.target_api_version = server.target_api_version
        self.target_kind = server.target_kind
        self.target_name = server.target_name
        self.gpus_per_node = server.gpus_per_node
        self.register_outputs({"serviceUrl": self.service_url})


class ScaleTarget(TypedDict):
    """The object the autoscaler scales (a `VllmServer`'s targetApiVersion, targetKind and targetName)."""

    api_version: str
    """e.g. apps/v1."""
    kind: str
    """e.g. Deployment."""
    name: str
    """Object name in the autoscaler's namespace."""


class MetricGoal(TypedDict):
    """One signal and the per-replica average to hold."""

    metric: str
    """A vLLM, DCGM or endpoint-picker metric name, e.g. vllm:num_requests_waiting (workloads/metrics.py lists them)."""
    target: float
    """Per-replica average value to hold; for a picker pool gauge (llm_d_epp_average_*) the pool average itself."""
    pool: NotRequired[str]
    """The InferencePool whose picker exports the series: required for a pool gauge, refused for any other."""


class VllmAutoscalerArgs(TypedDict):
    """Arguments of the HorizontalPodAutoscaler on vLLM's own metrics."""

    namespace: pulumi.Input[str]
    """Namespace of the target."""
    target: ScaleTarget
    """The vLLM Deployment or LeaderWorkerSet."""
    min_replicas: int
    """Minimum replicas (at least 1)."""
    max_replicas: int
    """Maximum replicas."""
    goals: list[MetricGoal]
    """Signals; with several, the HPA takes the largest replica proposal."""
    behavior: dict[str, Any]
    """HPA `spec.behavior`: scaleUp and scaleDown with policies; scale-down window ≥ 300 s, one pod per period."""
    cluster: NotRequired[str]
    """Cluster name (selects DCGM series; only for GPU goals)."""
    workload_namespace: NotRequired[str]
    """The namespace as a plain string (selects DCGM series; only for GPU goals)."""
    gpus_per_replica: NotRequired[int]
    """GPUs of one replica (scales a DCGM target). Default 1."""
    name: NotRequired[str]
    """HPA name; default the target's name."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on the HPA."""


def vllm_autoscaler_args(name: str, args: VllmAutoscalerArgs) -> autoscaling.VllmAutoscalerArgs:
    """The component's validated-args dataclass for these facade arguments (unknown metrics refused by path)."""
    problems = missing(args, VllmAutoscalerArgs) + missing(args.get("target") or {}, ScaleTarget, "target.")
    goals = []
    for index, goal in enumerate(args.get("goals") or []):
        problems += missing(goal, MetricGoal, f"goals.{index}.")
        try:
            goals.append(autoscaling.MetricGoal(metrics.lookup(goal["metric"]), goal["target"], goal.get("pool")))
        except KeyError as err:
            problems.append(Problem(f"goals.{index}.metric", err.args[0]))
    raise_if_problems("VllmAutoscaler", name, problems)
    return autoscaling.VllmAutoscalerArgs(
        **picked(args, "namespace", "min_replicas", "max_replicas", "cluster", "workload_namespace",
                 "gpus_per_replica", "name", "labels"),
        target=autoscaling.ScaleTarget(**picked(args["target"], *ScaleTarget.__annotations__)),
        goals=tuple(goals),
        behavior=args["behavior"],
    )


class VllmAutoscaler(pulumi.ComponentResource):
    """An autoscaling/v2 HorizontalPodAutoscaler on vLLM's own metrics (queue, running requests, KV cache) or GPU
    duty cycle, with an explicit behavior. Pass the cluster's Kubernetes provider in the options."""

    hpa_name: str
    """The HPA's name."""

    def __init__(self, name: str, args: VllmAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = vllm_autoscaler_args(name, args)
        raise_if_problems("VllmAutoscaler", name, autoscaling.validate_vllm_autoscaler_args(real))
        super().__init__("gke-inference:index:VllmAutoscaler", name, {}, opts)
        hpa = autoscaling.VllmAutoscaler(name, real, child_options(self, opts))
        self.hpa_name = hpa.name
        self.register_outputs({"hpaName": self.hpa_name})
