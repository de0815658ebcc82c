"""Config sections for what runs on the cluster: the model, its weights, vLLM serving, autoscaling, batch.

Cross-section rules (TP × PP against the pool's GPUs, weights fitting GPU memory, ReadWriteOnce
volumes and replicas) live on ``StackConfig`` in ``stack/config.py``, which sees every section.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from infra.images import BUILD, image_problem
from infra.rapid_cache import DEFAULT_TTL_SECONDS as DEFAULT_RAPID_CACHE_TTL
from infra.rapid_cache import RapidCacheArgs, validate_rapid_cache_args
from stack.config.base import ArgPaths, FieldError, FieldErrors, Model
from stack.config.capacity import CapacityBufferConfig, ComputeClassConfig, PodSnapshotConfig
from workloads.autoscaling import replica_limit_problems as hpa_replica_limits
from workloads.gateway.lora import DEFAULT_MAX_LORA_RANK, adapter_problems, lora_settings_problems
from workloads.keda import replica_limit_problems as keda_replica_limits

_REVISION = re.compile(r"^[0-9a-f]{40}$")

BYTES_PER_PARAMETER = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Weight bytes per parameter by storage precision (fp8/int8 one byte; AWQ/GPTQ int4 half a byte)."""


class WeightsBackend(StrEnum):
    GCSFUSE = "gcsfuse"
    PERSISTENT_DISK = "persistentDisk"
    HYPERDISK_ML = "hyperdiskMl"
    FILESTORE = "filestore"
    RUNAI_STREAMER = "runaiStreamer"
    HUGGING_FACE = "huggingFace"


class RapidCacheOptions(Model):
    """Rapid Cache (formerly Anywhere Cache): a zonal SSD read cache of the model bucket in each serving zone
    (``infra/rapid_cache.py``; docs/capacity.md)."""

    enabled: bool = Field(default=False, description="Create one cache per zone of the pools that read the weights.")
    ttl_seconds: int = Field(
        default=DEFAULT_RAPID_CACHE_TTL, ge=1, description="Seconds an entry stays cached without reads."
    )
    admission_policy: str | None = Field(
        default=None, description="`admit-on-first-miss` (the service default; the only policy not deprecated)."
    )
    ingest_on_write: bool = Field(
        default=False, description="Cache objects as they are written (the download Job's writes warm the caches)."
    )

    def to_args(self, bucket: Any, bucket_location: str, zones: tuple[str, ...]) -> RapidCacheArgs:
        """The component's arguments for ``zones`` of a bucket in ``bucket_location``."""
        return RapidCacheArgs(bucket=bucket, bucket_location=bucket_location, zones=zones,
                              ttl_seconds=self.ttl_seconds, admission_policy=self.admission_policy,
                              ingest_on_write=self.ingest_on_write)

    @model_validator(mode="after")
    def _component_rules(self) -> RapidCacheOptions:
        problems = validate_rapid_cache_args(self.to_args("stand-in", "stand-in", ("stand-in",)))
        if problems:  # stand-ins for the bucket and zones: only this section's own fields can fail
            raise FieldErrors(ArgPaths("").errors(problems))
        return self


class GcsFuseOptions(Model):
    """Cloud Storage FUSE CSI tuned for read-mostly model files."""

    file_cache: Literal["auto", "localSsd", "memory", "none"] = Field(
        default="auto",
        description="Where the FUSE file cache lives; auto = Local SSD when the pool has it, else memory.",
    )
    parallel_downloads: bool = Field(
        default=True, description="Parallel downloads into the file cache for large files."
    )
    sidecar_memory_limit: str = Field(default="0", description="gke-gcsfuse sidecar memory limit; 0 = unlimited.")
    sidecar_cpu_limit: str = Field(default="0", description="gke-gcsfuse sidecar CPU limit; 0 = unlimited.")
    rapid_cache: RapidCacheOptions = Field(
        default_factory=RapidCacheOptions, description="Rapid Cache of the model bucket in the serving zones."
    )


_OVERRIDE = (
    "An existing {what} holding the model at `bucketPrefix`'s layout, used instead of filling the disk in-stack "
    "({fill}); unset = the stack fills it."
)

VOLUME_POPULATOR_MIN_GKE_VERSION = "1.33.2-gke.4780000"
"""GKE Volume Populator (Cloud Storage → Hyperdisk ML) needs GKE 1.33.2-gke.4780000+ (GKE how-to "Automate
data transfer from Cloud Storage to a Hyperdisk ML volume using GKE Volume Populator", Requirements)."""


class PersistentDiskOptions(Model):
    """A Persistent Disk attached read-only to every replica, filled in-stack (fill Job + volume snapshot)."""

    disk_type: Literal["pd-ssd", "pd-balanced"] = Field(default="pd-ssd", description="Disk type.")
    size_gb: int = Field(default=500, ge=10, description="Disk size in GB (at least the model size).")
    source_snapshot: str | None = Field(
        default=None,
        description=_OVERRIDE.format(what="snapshot (`global/snapshots/NAME`)", fill="downloader Job, then a snapshot"),
    )
    source_image: str | None = Field(
        default=None, description=_OVERRIDE.format(what="disk image", fill="downloader Job, then a snapshot")
    )
    access_mode: Literal["ReadOnlyMany", "ReadWriteOnce"] = Field(
        default="ReadOnlyMany",
        description="ReadOnlyMany lets every replica attach it; ReadWriteOnce allows one replica only.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PersistentDiskOptions:
        if self.source_snapshot is not None and self.source_image is not None:
            raise FieldError("sourceImage", "set at most one of sourceSnapshot or sourceImage (the populated model)")
        return self

    def prefilled(self) -> bool:
        """Whether the user gave a snapshot/image (else the stack fills the disk)."""
        return self.source_snapshot is not None or self.source_image is not None


class VolumePopulatorOptions(Model):
    """Where GKE's Volume Populator runs the bucket → Hyperdisk ML transfer."""

    machine_type: str = Field(
        default="c3-standard-44",
        description="Transfer node machine type (GKE's how-to uses c3-standard-44; it must support Hyperdisk ML).",
    )
    create_node_pool: bool = Field(
        default=True,
        description="Create a scale-from-zero pool labelled and tainted `cloud.google.com/compute-class="
        "gcs-to-hdml-compute-class` (clusters without node auto-provisioning); false when one exists.",
    )
    create_compute_class: bool = Field(
        default=True,
        description="Create the ComputeClass `gcs-to-hdml-compute-class` (cluster-scoped, one per cluster); "
        "false when the cluster already has it.",
    )
    cpu_request: str | None = Field(
        default=None, description="Transfer Job CPU request annotation; unset = GKE's default (24 vCPU)."
    )


class HyperdiskMlOptions(Model):
    """Hyperdisk ML: read-only multi-attach, filled from the bucket by GKE's Volume Populator."""

    size_gb: int = Field(default=500, ge=5, description="Disk size in GB (more than 4 and than the model).")
    throughput_mibps: int = Field(default=2400, ge=400, description="Provisioned throughput in MiB/s.")
    source_snapshot: str | None = Field(
        default=None,
        description=_OVERRIDE.format(what="snapshot (`global/snapshots/NAME`)", fill="GKE Volume Populator"),
    )
    source_image: str | None = Field(
        default=None, description=_OVERRIDE.format(what="disk image", fill="GKE Volume Populator")
    )
    transfer: VolumePopulatorOptions = Field(
        default_factory=VolumePopulatorOptions, description="Where the Volume Populator's transfer Job runs."
    )

    @model_validator(mode="after")
    def _one_source(self) -> HyperdiskMlOptions:
        if self.source_snapshot is not None and self.source_image is not None:
            raise FieldError("sourceImage", "set at most one of sourceSnapshot or sourceImage (the populated model)")
        return self

    def prefilled(self) -> bool:
        """Whether the user gave a snapshot/image (else the Volume Populator fills the disk)."""
        return self.source_snapshot is not None or self.source_image is not None


class FilestoreOptions(Model):
    """A Filestore NFS share (ReadWriteMany)."""

    tier: Literal["BASIC_HDD", "BASIC_SSD", "ZONAL", "REGIONAL", "ENTERPRISE"] = Field(
        default="ZONAL", description="Filestore service tier."
    )
    capacity_gb: int = Field(default=1024, ge=1024, description="Capacity in GB (tier minimums apply).")
    share_name: str = Field(default="models", description="NFS export name.")
    nconnect: int = Field(default=16, ge=1, le=16, description="NFS `nconnect` TCP connections per mount.")


class RunaiStreamerOptions(Model):
    """vLLM's Run:ai Model Streamer reading safetensors straight from gs://."""

    concurrency: int = Field(default=16, ge=1, le=256, description="Parallel readers (RUNAI_STREAMER_CONCURRENCY).")
    memory_limit_bytes: int = Field(
        default=-1, description="CPU staging memory limit (RUNAI_STREAMER_MEMORY_LIMIT); -1 = unlimited."
    )


class WeightsConfig(Model):
    """Where the weights come from and how the pod reads them."""

    backend: WeightsBackend = Field(default=WeightsBackend.GCSFUSE, description="Weight-loading backend.")
    bucket_prefix: str | None = Field(
        default=None, description="Object prefix of the model in the bucket; unset = models/<model id>/<revision>."
    )
    gcsfuse: GcsFuseOptions = Field(default_factory=GcsFuseOptions, description="Options of the gcsfuse backend.")
    persistent_disk: PersistentDiskOptions = Field(
        default_factory=PersistentDiskOptions, description="Options of the persistentDisk backend."
    )
    hyperdisk_ml: HyperdiskMlOptions = Field(
        default_factory=HyperdiskMlOptions, description="Options of the hyperdiskMl backend."
    )
    filestore: FilestoreOptions = Field(
        default_factory=FilestoreOptions, description="Options of the filestore backend."
    )
    downloader_image: str | None = Field(
        default=BUILD,
        description="model-downloader image: `build` (the stack builds images/model-downloader with Cloud Build "
        "at `pulumi up`), NAME:TAG (resolved to its digest at preview; relative names are in the stack's "
        "registry) or NAME[:TAG]@sha256:<64 hex> (pinned, used as given); null creates no download Job.",
    )
    runai_streamer: RunaiStreamerOptions = Field(
        default_factory=RunaiStreamerOptions, description="Options of the runaiStreamer backend."
    )

    @model_validator(mode="after")
    def _downloader_image(self) -> WeightsConfig:
        if self.downloader_image is not None:
            _check_image("downloaderImage", self.downloader_image, allow_build=True)
        return self

    @model_validator(mode="after")
    def _rapid_cache_needs_gcsfuse(self) -> WeightsConfig:
        if self.gcsfuse.rapid_cache.enabled and self.backend is not WeightsBackend.GCSFUSE:
            raise FieldError("gcsfuse.rapidCache.enabled", f"the caches serve replicas that read the bucket through "
                             f"GCS FUSE at every start; backend {self.backend.value} does not: set backend gcsfuse or "
                             "turn the cache off")
        return self

    @model_validator(mode="after")
    def _pd_fill_needs_downloader(self) -> WeightsConfig:
        if (
            self.backend is WeightsBackend.PERSISTENT_DISK
            and not self.persistent_disk.prefilled()
            and self.downloader_image is None
        ):
            raise FieldError(
                "persistentDisk.sourceSnapshot",
                "the stack fills a Persistent Disk with the downloader, but downloaderImage is null: set "
                "downloaderImage, or give persistentDisk.sourceSnapshot/sourceImage holding the model",
            )
        return self


class ModelConfig(Model):
    """The model to serve."""

    id: str = Field(description="Hugging Face hub id, e.g. meta-llama/Llama-3.1-8B-Instruct.")
    revision: str = Field(description="Pinned hub commit (40 hex chars); branch names like `main` are refused.")
    parameters_billions: float = Field(gt=0, description="Parameter count in billions (sizes memory and load time).")
    weight_dtype: Literal["bfloat16", "float16", "float32", "fp8", "int8", "int4"] = Field(
        default="bfloat16", description="Precision the weights are stored and loaded in."
    )
    weights: WeightsConfig = Field(default_factory=WeightsConfig, description="Weight-loading backend and options.")

    @model_validator(mode="after")
    def _pinned(self) -> ModelConfig:
        if not _REVISION.match(self.revision):
            raise FieldError(
                "revision", f"'{self.revision}' is not a 40-hex commit; pin the hub revision for reproducible deploys"
            )
        return self

    def slug(self) -> str:
        """``meta-llama/Llama-3.1-8B-Instruct`` → ``llama-3-1-8b-instruct`` (for resource names)."""
        return re.sub(r"[^a-z0-9]+", "-", self.id.split("/")[-1].lower()).strip("-")

    def weight_bytes(self) -> float:
        """Bytes of weights (parameters × bytes per parameter)."""
        return self.parameters_billions * 1e9 * BYTES_PER_PARAMETER[self.weight_dtype]


class VllmSettings(Model):
    """Typed vLLM engine settings, rendered into container args."""

    served_model_name: str | None = Field(
        default=None, description="Name clients send as `model`; unset = the model id."
    )
    tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs a layer is split across (within a node).")
    pipeline_parallel_size: int = Field(default=1, ge=1, description="Pipeline stages (across nodes for multi-node).")
    max_model_len: int | None = Field(default=None, ge=128, description="Context length; unset = the model's.")
    gpu_memory_utilization: float = Field(
        default=0.9, gt=0.1, le=0.98, description="Fraction of GPU memory vLLM may use."
    )
    max_num_seqs: int = Field(default=256, ge=1, description="Sequences batched per step.")
    max_num_batched_tokens: int | None = Field(
        default=None, ge=64, description="Token budget per step (chunked prefill)."
    )
    enable_prefix_caching: bool = Field(default=True, description="Automatic prefix caching.")
    enable_chunked_prefill: bool = Field(default=True, description="Chunked prefill.")
    quantization: Literal["fp8", "awq", "gptq", "bitsandbytes", "compressed-tensors"] | None = Field(
        default=None, description="Quantization method (weights already quantized, or fp8 on the fly)."
    )
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field(
        default="auto", description="KV-cache precision."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(default="auto", description="Activation dtype.")
    extra_args: list[str] = Field(default_factory=list, description="More vLLM flags, appended verbatim.")


class SmokeTestConfig(Model):
    """A chat completion through the Service at the end of `pulumi up` (a Job `up` waits for)."""

    enabled: bool = Field(
        default=True,
        description="Run the smoke test Job after the server is ready; `pulumi up` fails if the model does not "
        "answer with a non-empty completion. Its latency is exported as `smokeTestLatencySeconds`.",
    )
    prompt: str = Field(
        default="Reply with one short sentence: what is 2 + 2?", min_length=1, description="The user message sent."
    )
    max_tokens: int = Field(default=16, ge=1, le=4096, description="Completion budget of the request.")
    request_timeout_seconds: int = Field(
        default=120, ge=5, description="Per-request timeout (a fresh server's first request compiles kernels)."
    )
    deadline_seconds: int = Field(
        default=600,
        ge=30,
        description="activeDeadlineSeconds of the Job (scheduling and image pull included); `up` waits this "
        "long plus two minutes.",
    )
    backoff_limit: int = Field(default=1, ge=0, le=5, description="Job retries before `pulumi up` fails.")

    @model_validator(mode="after")
    def _deadline(self) -> SmokeTestConfig:
        if self.deadline_seconds <= self.request_timeout_seconds:
            raise FieldError(
                "deadlineSeconds",
                f"{self.deadline_seconds} must exceed requestTimeoutSeconds {self.request_timeout_seconds} "
                "(the Job must outlive one request)",
            )
        return self


class AdapterConfig(Model):
    """One LoRA adapter, served under its own name next to the base model."""

    source: str = Field(
        description="`gs://BUCKET/PATH` (adapter files in a bucket the server's identity can read) or "
        "`ORG/REPO@<40-hex commit>` (a hub repository at a pinned commit)."
    )
    priority: int | None = Field(
        default=None,
        description="Priority of this adapter's requests at the Gateway (InferenceObjective); unset = none.",
    )


class LoraConfig(Model):
    """LoRA adapters on the model's servers (vLLM `--enable-lora`); routed by name to the model's pool."""

    enabled: bool = Field(default=False, description="Serve LoRA adapters (vLLM `--enable-lora`).")
    adapters: dict[str, AdapterConfig] = Field(
        default_factory=dict, description="Adapters by the name clients send as `model`."
    )
    max_loras: int | None = Field(
        default=None, description="Adapters in one batch (vLLM `--max-loras`); unset = the number of adapters."
    )
    max_lora_rank: int = Field(
        default=DEFAULT_MAX_LORA_RANK, description="Largest adapter rank (vLLM `--max-lora-rank`)."
    )

    @model_validator(mode="after")
    def _rules(self) -> LoraConfig:
        if self.enabled and not self.adapters:
            raise FieldError("adapters", "LoRA is on but no adapter is listed; add adapters or set enabled: false")
        if self.adapters and not self.enabled:
            names = ", ".join(sorted(self.adapters))
            raise FieldError("adapters", f"{names}: LoRA is off for this model; set lora.enabled: true to serve "
                                         "adapters, or remove them")
        problems = adapter_problems("adapters", {n: a.source for n, a in self.adapters.items()})
        problems += lora_settings_problems("", len(self.adapters), self.max_loras, self.max_lora_rank)
        # adapter names are map keys: kept as written (ArgPaths would camelCase them)
        errors = [(p.property_path if p.property_path.startswith("adapters.") else ArgPaths("")(p.property_path),
                   p.render()) for p in problems]
        if errors:
            raise FieldErrors(errors)
        return self

    def sources(self) -> dict[str, str]:
        """Adapter name → source, for the server (empty when LoRA is off)."""
        return {name: a.source for name, a in self.adapters.items()} if self.enabled else {}


class ServingConfig(Model):
    """How the model is served."""

    pool: str = Field(description="GPU pool (a key of gpuPools) the replicas run on.")
    spot_pool: str | None = Field(
        default=None,
        description="Optional Spot pool preferred for extra replicas (node affinity weight); must match pool's GPUs.",
    )
    namespace: str = Field(default="llm", description="Kubernetes namespace.")
    name: str = Field(default="vllm", description="Name of the Deployment/Service.")
    replicas: int = Field(
        default=1, ge=1, description="Replicas when autoscaling.mode is none (autoscaling sets them otherwise)."
    )
    nodes_per_replica: int = Field(default=1, ge=1, description=">1 runs one replica across nodes (LeaderWorkerSet).")
    image: str = Field(
        default="vllm/vllm-openai:v0.32.0",
        description="vLLM image: NAME:TAG (resolved to its digest at preview), NAME[:TAG]@sha256:<64 hex> "
        "(pinned, used as given) or `build` (the stack builds images/vllm); Docker Hub images are pulled "
        "through the registry's proxy by that digest.",
    )
    vllm: VllmSettings = Field(default_factory=VllmSettings, description="vLLM engine settings.")
    startup_budget_seconds: int | None = Field(
        default=None,
        ge=60,
        description="Cold-start budget the startupProbe allows; unset = derived from model size and backend.",
    )
    shutdown_timeout_seconds: int = Field(
        default=60, ge=5, description="vLLM --shutdown-timeout: in-flight requests get this long."
    )
    pre_stop_seconds: int = Field(
        default=15, ge=5, description="Delay before SIGTERM so the pod leaves Service endpoints first."
    )
    drain_queue_seconds: int = Field(
        default=60,
        ge=0,
        description="After that delay, wait up to this long more for vLLM's queue "
        "(`vllm:num_requests_waiting`) to empty before SIGTERM: vLLM refuses queued requests at "
        "shutdown. Counts towards terminationGracePeriodSeconds; 0 = the fixed delay alone.",
    )
    require_api_key: bool = Field(default=True, description="Serve /v1 only with the `apiKey` secret config key.")
    client_label: str = Field(
        default="gke-inference/client",
        description="Pods with this label set to `true` may reach the server (NetworkPolicy).",
    )
    smoke_test: SmokeTestConfig = Field(
        default_factory=SmokeTestConfig,
        description="Smoke test at the end of `pulumi up`: one chat completion through the Service.",
    )
    compute_class: ComputeClassConfig | None = Field(
        default=None,
        description="A ComputeClass the replicas select: the GPU fallback order (reservation, on-demand, flex-start, "
        "Spot, this stack's pools); unset = the replicas select `pool` (docs/capacity.md).",
    )
    capacity_buffer: CapacityBufferConfig = Field(
        default_factory=CapacityBufferConfig,
        description="Spare nodes for the next replicas (GKE CapacityBuffer; active ≥ 1.35.2-gke.1842000).",
    )
    pod_snapshots: PodSnapshotConfig = Field(
        default_factory=PodSnapshotConfig,
        description="Restore new replicas from a GKE Pod snapshot (gVisor; single-GPU replicas, no GCS FUSE).",
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapters served beside the model.")
    priority: int | None = Field(
        default=None,
        description="Priority of the model's requests at the Gateway (InferenceObjective; higher is served first "
        "under load); unset = none.",
    )

    @model_validator(mode="after")
    def _rules(self) -> ServingConfig:
        _check_image("image", self.image, allow_build=True)
        return self


class AutoscalingMetric(StrEnum):
    QUEUE = "queue"
    RUNNING = "running"
    KV_CACHE = "kvCache"
    GPU_DUTY_CYCLE = "gpuDutyCycle"
    POOL_QUEUE = "poolQueue"
    POOL_KV_CACHE = "poolKvCache"


POOL_METRICS = (AutoscalingMetric.POOL_QUEUE, AutoscalingMetric.POOL_KV_CACHE)
"""The endpoint picker's per-pool averages (workloads/metrics.py ``EPP_METRICS``): they need ``gateway.enabled``."""


class MetricTarget(Model):
    """One autoscaling signal and its per-replica target."""

    metric: AutoscalingMetric = Field(
        description="queue (waiting requests), running, kvCache (0–1) or gpuDutyCycle (0–100), read from vLLM and "
        "the GPUs; poolQueue (waiting requests) or poolKvCache (0–1), the Gateway's endpoint picker's averages over "
        "this model's InferencePool (llm_d_epp_average_queue_size / llm_d_epp_average_kv_cache_utilization; need "
        "gateway.enabled)."
    )
    target: float = Field(
        gt=0,
        description="Per-replica average value to hold. For poolQueue/poolKvCache the pool average itself (the "
        "picker's mean over the pool's ready replicas), not multiplied by the replicas: `{metric: poolQueue, "
        "target: 5}` adds replicas while the replicas wait on more than 5 requests each on average, as `queue: 5` "
        "does.",
    )


class BehaviorConfig(Model):
    """HPA behavior overrides; unset fields derive from the replica cold start."""

    scale_up_stabilization_seconds: int | None = Field(default=None, ge=0, le=3600, description="Scale-up window.")
    scale_down_stabilization_seconds: int | None = Field(
        default=None, ge=300, le=3600, description="Scale-down window (≥300 s)."
    )
    scale_up_pods: int | None = Field(default=None, ge=1, description="At most this many pods added per period.")
    scale_up_percent: int | None = Field(default=None, ge=1, description="At most this percent added per period.")
    scale_up_period_seconds: int | None = Field(default=None, ge=1, le=1800, description="Scale-up policy period.")
    scale_down_period_seconds: int | None = Field(
        default=None, ge=1, le=1800, description="Period of the one-pod scale-down policy."
    )


class CronWindow(Model):
    """A KEDA cron trigger: hold at least `replicas` between start and end."""

    timezone: str = Field(default="UTC", description="IANA timezone.")
    start: str = Field(description="Cron expression for the window start, e.g. `0 8 * * 1-5`.")
    end: str = Field(description="Cron expression for the window end.")
    replicas: int = Field(ge=1, description="Replicas held during the window.")


class KedaConfig(Model):
    """KEDA scale-to-zero settings."""

    install: bool = Field(default=True, description="Install KEDA from its Helm chart (false: assume it is present).")
    min_replicas: int = Field(default=0, ge=0, description="Replicas when idle (0 = scale to zero).")
    activation_threshold: float = Field(default=0.5, ge=0, description="Metric value that wakes the target from zero.")
    cooldown_seconds: int = Field(default=900, ge=60, description="Idle time before scaling to zero.")
    polling_seconds: int = Field(default=15, ge=5, description="How often KEDA queries the metric.")
    cron: list[CronWindow] = Field(default_factory=list, description="Time-of-day capacity windows.")
    wake_query: str | None = Field(
        default=None,
        description="PromQL (Managed Prometheus) that is non-zero while clients wait with no replica running, e.g. a "
        "gateway or load balancer request rate. vLLM's own metrics vanish at zero replicas, so without it (or a cron "
        "window) nothing scales the server up from zero.",
    )
    wake_threshold: float = Field(default=1.0, gt=0, description="Per-replica target of the wake query once awake.")


HPA_PATHS = ArgPaths("")
"""VllmAutoscalerArgs replica limits in the autoscaling section (min_replicas → minReplicas, max_replicas →
maxReplicas)."""
KEDA_PATHS = ArgPaths("", {"min_replicas": "keda.minReplicas"})
"""VllmScaledObjectArgs replica limits in the autoscaling section."""


class AutoscalingConfig(Model):
    """Autoscaling of the vLLM replicas on vLLM's own metrics."""

    mode: Literal["hpa", "keda", "none"] = Field(
        default="hpa", description="HPA via the metrics adapter, KEDA, or fixed replicas."
    )
    min_replicas: int = Field(default=1, ge=1, description="HPA minimum replicas (KEDA uses keda.minReplicas).")
    max_replicas: int = Field(default=4, ge=1, description="Maximum replicas.")
    metrics: list[MetricTarget] = Field(
        default_factory=lambda: [MetricTarget(metric=AutoscalingMetric.QUEUE, target=5)],
        min_length=1,
        description="Signals; several combine (the HPA takes the largest proposal).",
    )
    behavior: BehaviorConfig = Field(default_factory=BehaviorConfig, description="HPA behavior overrides.")
    keda: KedaConfig = Field(default_factory=KedaConfig, description="KEDA settings (mode keda).")
    install_metrics_adapter: bool = Field(
        default=True, description="Install the Stackdriver custom-metrics adapter (false when the cluster has one)."
    )
    metrics_adapter_image: str = Field(
        default="gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0",
        description="Stackdriver adapter image (the version GKE's managed-Prometheus HPA guide applies, "
        "k8s-stackdriver @673c7dd8): NAME:TAG, resolved to its digest at preview, or a NAME[:TAG]@sha256:<64 hex> pin.",
    )

    @model_validator(mode="after")
    def _rules(self) -> AutoscalingConfig:
        _check_image("metricsAdapterImage", self.metrics_adapter_image)
        # The replica limits are the autoscaler components' own rules, reported under this section's fields.
        limits = HPA_PATHS.errors(hpa_replica_limits(self.min_replicas, self.max_replicas))
        if self.mode == "keda":
            limits += KEDA_PATHS.errors(keda_replica_limits(self.keda.min_replicas, self.max_replicas))
        if limits:
            raise FieldErrors(limits)
        for index, m in enumerate(self.metrics):
            if m.metric in (AutoscalingMetric.KV_CACHE, AutoscalingMetric.POOL_KV_CACHE) and m.target >= 1:
                raise FieldError(f"metrics.{index}.target", f"{m.metric.value} is a fraction 0–1; use e.g. 0.8")
            if m.metric is AutoscalingMetric.GPU_DUTY_CYCLE and m.target > 100:
                raise FieldError(f"metrics.{index}.target", "gpuDutyCycle is a percentage 0–100")
        return self


class BatchConfig(Model):
    """Offline batch inference: a Job running vLLM's batch runner over JSONL in the bucket."""

    enabled: bool = Field(default=False, description="Create the batch Job.")
    pool: str | None = Field(default=None, description="GPU pool for the Job (Spot recommended); unset = serving.pool.")
    input_object: str = Field(
        default="batch/input.jsonl", description="Object in the model bucket with chat-completions lines."
    )
    output_object: str = Field(default="batch/output.jsonl", description="Object the results are written to.")
    parallelism: int = Field(default=1, ge=1, description="Pods running at once.")
    backoff_limit: int = Field(default=3, ge=0, description="Retries before the Job fails (Spot preemption retries).")
    ttl_seconds_after_finished: int = Field(
        default=86400, ge=60, description="Finished Jobs are deleted after this long."
    )


class LoadTestConfig(Model):
    """An in-cluster load test (the repository's locust harness) run as a Job at `pulumi up`."""

    enabled: bool = Field(
        default=False, description="Create the load-test Job (a new Job whenever its settings change)."
    )
    image: str = Field(
        default=BUILD,
        description="Runner image with the harness's pinned dependencies: `build` (the stack builds images/loadtest), "
        "NAME:TAG (resolved at preview; relative names are in the stack's registry) "
        "or a NAME[:TAG]@sha256:<64 hex> pin.",
    )
    harness_args: list[str] = Field(
        default_factory=lambda: ["--dataset", "conversations", "--num-prompts", "200", "--users", "8"],
        description="Arguments of `python -m loadtest` besides --url/--model/--out (dataset, mode, SLOs).",
    )
    model: str | None = Field(
        default=None,
        description="The model to load: a `models` key or the top-level model's serving.name; unset = the top-level "
        "model.",
    )

    @model_validator(mode="after")
    def _pinned(self) -> LoadTestConfig:
        _check_image("image", self.image, allow_build=True)
        return self


def _check_image(field: str, value: str, *, allow_build: bool = False) -> None:
    """Refuse untagged names and `latest` (they move without a config change), naming the field."""
    problem = image_problem(value, allow_build=allow_build)
    if problem is not None:
        raise FieldError(field, problem)
