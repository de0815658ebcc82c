"""The ``planning`` config section: inputs of ``gke-infer estimate`` and ``gke-infer simulate``.

Nothing here creates resources. Every field has a default, so stacks need not mention the section;
set fields to replace the built-in tables of ``stack/prices.py`` (prices, throughput) with your own
numbers, or to give the simulator your SLOs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stack.config.base import FieldError, Model


class MachinePriceOverride(Model):
    """Hourly price of one machine type; unset fields keep the built-in table's value."""

    on_demand_hourly: float | None = Field(default=None, ge=0, description="On-demand USD per node-hour.")
    spot_hourly: float | None = Field(default=None, ge=0, description="Spot USD per node-hour.")


class StoragePriceOverrides(Model):
    """Storage prices (USD); unset fields keep the built-in table's value (stack/prices.py)."""

    bucket_gb_month: float | None = Field(default=None, ge=0, description="GCS Standard per GiB-month.")
    pd_ssd_gb_month: float | None = Field(default=None, ge=0, description="pd-ssd per GiB-month.")
    pd_balanced_gb_month: float | None = Field(default=None, ge=0, description="pd-balanced per GiB-month.")
    hyperdisk_ml_gb_month: float | None = Field(default=None, ge=0, description="Hyperdisk ML capacity per GiB-month.")
    hyperdisk_ml_mibps_month: float | None = Field(
        default=None, ge=0, description="Hyperdisk ML throughput per MiB/s-month."
    )
    filestore_basic_hdd_gb_month: float | None = Field(
        default=None, ge=0, description="Filestore BASIC_HDD per GiB-month."
    )
    filestore_basic_ssd_gb_month: float | None = Field(
        default=None, ge=0, description="Filestore BASIC_SSD per GiB-month."
    )
    filestore_zonal_gb_month: float | None = Field(default=None, ge=0, description="Filestore ZONAL per GiB-month.")
    filestore_regional_gb_month: float | None = Field(
        default=None, ge=0, description="Filestore REGIONAL per GiB-month."
    )
    filestore_enterprise_gb_month: float | None = Field(
        default=None, ge=0, description="Filestore ENTERPRISE per GiB-month."
    )


class ThroughputConfig(Model):
    """What one replica serves. Unset values come from ``report`` if given, else from the GPU table."""

    output_tokens_per_second: float | None = Field(
        default=None, gt=0, description="Saturated output tokens/s of one replica (e.g. from a load test)."
    )
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests one replica decodes at once; unset = serving.vllm.maxNumSeqs."
    )
    single_stream_tokens_per_second: float | None = Field(
        default=None, gt=0, description="Decode rate of one request alone; unset = derived from GPU memory bandwidth."
    )
    prefill_tokens_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Prompt tokens/s one replica prefills; unset = 10 × output tokens/s (assumption).",
    )
    report: str | None = Field(
        default=None,
        description="Path to a load-test report.json (loadtest/ or `vllm bench serve`); read for the unset values.",
    )


class ColdStartAssumptions(Model):
    """Inputs of the cold-start estimate that the stack config does not fix."""

    new_node: bool = Field(
        default=True, description="The replica needs a new GPU node (scale-up past warm nodes, or from zero)."
    )
    image_gb: float = Field(
        default=10.0, gt=0, description="Compressed size of the vLLM image in GB (vllm/vllm-openai ~10 GB, [Mem])."
    )
    image_read_at_start_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the image read before the server is up (image streaming fetches lazily).",
    )
    gcsfuse_cache_warm: bool = Field(
        default=False, description="The node's GCS FUSE file cache already holds the model (restart on the same node)."
    )
    compile_cache_warm: bool = Field(
        default=False, description="torch.compile / CUDA-graph caches are on persistent storage and warm."
    )
    node_create_seconds: float | None = Field(
        default=None, ge=0, description="Measured GPU node create-to-Ready time; unset = 120 s ([Mem] 1.5–3 min)."
    )
    driver_install_seconds: float | None = Field(
        default=None, ge=0, description="Measured GPU driver install time; unset = 60 s ([Mem])."
    )
    standby_resume_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Measured resume time of a suspended standby-buffer node; unset = 60 s (assumption: GKE publishes "
        "no figure, only that standby buffers 'resume quickly').",
    )
    snapshot_restore_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Measured Pod-snapshot restore time (pod scheduled → Ready); unset = llm-d's published 18 s "
        "(H100) or 15 s (L4).",
    )


class SloConfig(Model):
    """Service-level objectives the simulator scores against."""

    queue_wait_seconds: float = Field(
        default=2.0, gt=0, description="A request should start decoding within this long."
    )
    ttft_seconds: float = Field(default=3.0, gt=0, description="Time to first token target.")
    attainment: float = Field(default=0.95, gt=0, le=1, description="Share of requests that must meet both targets.")


class CapacityBufferPlan(Model):
    """Spare GPU nodes kept for the serving Deployment (GKE ``CapacityBuffer``), sized in replicas."""

    replicas: int = Field(default=0, ge=0, description="Replicas' worth of spare nodes (0 = no buffer).")
    strategy: Literal["active", "standby"] = Field(
        default="active",
        description="active: running nodes, billed (GKE ≥ 1.35.2-gke.1842000); standby: suspended nodes resumed on "
        "demand, compute not billed while suspended (GKE ≥ 1.36.0-gke.2253000).",
    )


class SimulationConfig(Model):
    """Fleet-simulation knobs; defaults mirror Kubernetes, GKE and this stack's monitoring."""

    hpa_sync_seconds: float = Field(
        default=15, gt=0, description="HPA controller sync period (kube-controller-manager default 15 s)."
    )
    hpa_tolerance: float = Field(default=0.1, ge=0, lt=1, description="HPA tolerance (default 0.1).")
    scrape_interval_seconds: float = Field(
        default=15, gt=0, description="PodMonitoring scrape interval of vLLM /metrics."
    )
    metrics_delay_seconds: float = Field(
        default=30,
        ge=0,
        description="Scrape → Cloud Monitoring → custom-metrics adapter latency ([Mem] GMP ingestion).",
    )
    node_scale_down_seconds: float = Field(
        default=600, ge=0, description="Cluster autoscaler scale-down-unneeded-time (default 10 min)."
    )
    input_tokens: int = Field(default=1024, ge=1, description="Prompt tokens per synthetic request.")
    output_tokens: int = Field(default=256, ge=1, description="Output tokens per synthetic request.")
    routing: Literal["random", "leastRequest"] = Field(
        default="random",
        description="How the Service spreads requests: random (kube-proxy) or least outstanding requests.",
    )
    base_load: float = Field(
        default=0.15, gt=0, description="Low load as a share of the fleet's capacity at maxReplicas."
    )
    peak_load: float = Field(
        default=0.6, gt=0, description="Peak load as a share of the fleet's capacity at maxReplicas."
    )
    cpu_target_percent: int = Field(
        default=80, ge=1, le=100, description="Target of the CPU-utilisation HPA preset (Helm charts' default)."
    )
    capacity_buffer: CapacityBufferPlan = Field(
        default_factory=CapacityBufferPlan,
        description="The stack's capacity buffer as the `stack` preset simulates it, until the stack config carries "
        "one (a `serving.capacityBuffer` setting wins over this).",
    )
    pod_snapshots: bool = Field(
        default=False,
        description="The stack's replicas start from a Pod snapshot (`stack` preset), until the stack config carries "
        "the option (a `serving.podSnapshots` setting wins over this).",
    )
    headroom_replicas: int = Field(
        default=2, ge=1, description="Buffer size, in replicas, of the headroom presets (active and standby)."
    )
    oracle_utilisation: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="The oracle limit runs just enough replicas to serve the trace at this share of their capacity.",
    )

    @model_validator(mode="after")
    def _levels(self) -> SimulationConfig:
        if self.base_load > self.peak_load:
            raise FieldError("baseLoad", f"baseLoad ({self.base_load}) must be ≤ peakLoad ({self.peak_load})")
        return self


class PlanningConfig(Model):
    """Cost, cold-start and autoscaling-simulation inputs (``gke-infer estimate`` / ``simulate``)."""

    prices: dict[str, MachinePriceOverride] = Field(
        default_factory=dict, description="Price overrides by machine type, e.g. {a3-highgpu-8g: {spotHourly: 25}}."
    )
    storage_prices: StoragePriceOverrides = Field(
        default_factory=StoragePriceOverrides, description="Storage price overrides."
    )
    throughput: ThroughputConfig = Field(default_factory=ThroughputConfig, description="Per-replica serving capacity.")
    cold_start: ColdStartAssumptions = Field(
        default_factory=ColdStartAssumptions, description="Cold-start assumptions the stack does not fix."
    )
    slo: SloConfig = Field(default_factory=SloConfig, description="SLOs for the simulator.")
    simulation: SimulationConfig = Field(default_factory=SimulationConfig, description="Simulator settings.")
