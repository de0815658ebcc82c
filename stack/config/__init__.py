"""Typed stack configuration: the ``gke-inference:platform`` object of each ``Pulumi.<stack>.yaml``.

One pydantic model validates the whole object before any resource is registered. Keys are
camelCase in YAML (the config's own keys, also used by ``--set``); Python attributes are snake_case.
Cross-field rules come from ../shared/reference/gke-iac-reference.md §3 and §8; each error names
the field and what to change. Secrets (API key, hub token) are separate secret config keys, never
part of this object.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from infra import catalog, gke_versions
from infra.cluster import AuthorizedNetwork as AuthorizedNetworkArgs
from infra.cluster import ExistingClusterArgs, GkeClusterArgs, SystemPoolArgs, validate_gke_cluster_args
from infra.gpu_node_pool import (
    GpuNodePoolArgs,
    PoolShape,
    SecondaryBootDiskArgs,
    effective_local_ssd_count,
    gpu_sharing,
    pool_scheduling,
    validate_gpu_node_pool_args,
)
from infra.identity import NodeServiceAccountArgs, validate_node_service_account_args
from infra.images import BUILD
from infra.network import PODS_RANGE, SERVICES_RANGE, NetworkArgs, validate_network_args
from infra.placement import CompactPlacementArgs, validate_compact_placement_args
from infra.registry import ImageRegistryArgs
from infra.storage import ModelBucketArgs, validate_model_bucket_args
from stack.config import bounds
from stack.config.base import ArgPaths, FieldError, FieldErrors, Model
from stack.config.gateway import GatewayConfig
from stack.config.models import ExtraModel, ModelKey, entry_error, stack_wide_errors, view_raw
from stack.config.planning import PlanningConfig
from stack.config.serving import (
    VOLUME_POPULATOR_MIN_GKE_VERSION,
    AutoscalingConfig,
    AutoscalingMetric,
    BatchConfig,
    LoadTestConfig,
    ModelConfig,
    ServingConfig,
    WeightsBackend,
)
from workloads import weights as w
from workloads.batch import BatchInferenceArgs, validate_batch_inference_args
from workloads.capacity_buffer import BufferChunk, CapacityBufferArgs, ScalableRef, validate_capacity_buffer_args
from workloads.compute_class import ComputeClassArgs
from workloads.gateway.lora import LoraAdapters
from workloads.vllm_args import EngineSettings, engine_flags
from workloads.vllm_server import Pool, VllmServerArgs, pod_size, validate_vllm_server_args

CONFIG_NAMESPACE = "gke-inference"
CONFIG_KEY = "platform"
SECRET_KEYS = ("apiKey", "hfToken")
"""Secret config keys read beside the platform object (``pulumi config set --secret gke-inference:apiKey``)."""

SBD_MIN_GKE_VERSION = "1.28.3-gke.1067000"
"""Secondary boot disks on Standard need GKE 1.28.3-gke.1067000+ (data-container-image-preloading doc)."""

QUEUE_TARGET_SANE = (1, 50)
"""Waiting requests per replica outside this range get a warning (not an error)."""



class ConfigError(ValueError):
    """A configuration error carrying one line per problem, each naming the full field path."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


# --------------------------------------------------------------------------------------------
# Network and cluster
# --------------------------------------------------------------------------------------------


class ExistingNetwork(Model):
    """A VPC and subnet that already exist (``network.create: false``)."""

    network: str = Field(description="Self link or name of the existing VPC network.")
    subnetwork: str = Field(description="Self link or name of the existing subnet in the stack's region.")
    pods_range_name: str = Field(description="Name of the subnet's secondary range for pods.")
    services_range_name: str = Field(description="Name of the subnet's secondary range for services.")


class NetworkConfig(Model):
    """The VPC the cluster lives in."""

    create: bool = Field(default=True, description="Create a VPC, subnet, Cloud Router and NAT. False uses `existing`.")
    name: str = Field(
        default="gke-inference", description="Name of the VPC (and prefix of the subnet/router/NAT) to create."
    )
    subnet_cidr: str = Field(default="10.10.0.0/20", description="Primary range of the subnet (node IPs).")
    pods_cidr: str = Field(default="10.16.0.0/14", description="Secondary range for pod IPs.")
    services_cidr: str = Field(default="10.20.0.0/20", description="Secondary range for Service ClusterIPs.")
    existing: ExistingNetwork | None = Field(
        default=None, description="The existing network to use when `create` is false."
    )

    @model_validator(mode="after")
    def _existing_when_not_created(self) -> NetworkConfig:
        if not self.create and self.existing is None:
            raise FieldError("existing", "required when network.create is false: name the VPC, subnet and ranges")
        return self

    def to_args(self, project: str, region: str, nat: bool) -> NetworkArgs:
        """The Network arguments of this section (``create: true``)."""
        return NetworkArgs(
            project=project,
            region=region,
            network_name=self.name,
            subnet_cidr=self.subnet_cidr,
            pods_cidr=self.pods_cidr,
            services_cidr=self.services_cidr,
            nat=nat,
        )


NETWORK_PATHS = ArgPaths(
    "network", {"project": "project", "region": "region", "network_name": "network.name", "nat": "cluster.privateNodes"}
)
"""NetworkArgs paths in the stack YAML."""



class ReleaseChannel(StrEnum):
    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"
    EXTENDED = "EXTENDED"


class AuthorizedNetwork(Model):
    """A CIDR allowed to reach the control plane."""

    cidr: str = Field(description="CIDR block, e.g. 203.0.113.0/24.")
    name: str = Field(description="Display name of the block.")


class SystemPool(Model):
    """The small CPU pool that replaces the default node pool (system pods, adapter, KEDA)."""

    machine_type: str = Field(default="e2-standard-4", description="Machine type of system nodes.")
    min_nodes: int = Field(default=1, ge=0, description="Minimum nodes per zone.")
    max_nodes: int = Field(default=3, ge=1, description="Maximum nodes per zone.")
    disk_size_gb: int = Field(default=100, ge=20, description="Boot disk size in GB.")


class MonitoringComponent(StrEnum):
    SYSTEM_COMPONENTS = "SYSTEM_COMPONENTS"
    APISERVER = "APISERVER"
    SCHEDULER = "SCHEDULER"
    CONTROLLER_MANAGER = "CONTROLLER_MANAGER"
    STORAGE = "STORAGE"
    HPA = "HPA"
    POD = "POD"
    DAEMONSET = "DAEMONSET"
    DEPLOYMENT = "DEPLOYMENT"
    STATEFULSET = "STATEFULSET"
    KUBELET = "KUBELET"
    CADVISOR = "CADVISOR"
    DCGM = "DCGM"
    JOBSET = "JOBSET"


class ClusterConfig(Model):
    """The GKE Standard cluster: created by the stack, or an existing one."""

    mode: Literal["create", "existing"] = Field(
        default="create",
        description="`create` a new cluster, or use an `existing` one by name and location (creates nothing).",
    )
    name: str = Field(description="Cluster name (created, or existing).")
    location: str | None = Field(
        default=None, description="Region (regional cluster) or zone (zonal). Defaults to the stack's region."
    )
    release_channel: ReleaseChannel = Field(default=ReleaseChannel.REGULAR, description="GKE release channel.")
    min_master_version: str | None = Field(
        default=None,
        description="Minimum control-plane version (e.g. 1.33). Unset follows the release channel's default.",
    )
    private_nodes: bool = Field(default=True, description="Nodes get no public IPs; egress goes through Cloud NAT.")
    private_endpoint: bool = Field(default=False, description="Control plane reachable only from inside the VPC.")
    master_ipv4_cidr: str = Field(default="172.16.0.0/28", description="/28 for the control plane's private endpoint.")
    master_authorized_networks: list[AuthorizedNetwork] = Field(
        default_factory=list, description="CIDRs allowed to reach the control plane; empty allows none but Google's."
    )
    deletion_protection: bool = Field(
        default=True, description="Refuse `pulumi destroy` of the cluster (set false for dev)."
    )
    workload_identity: bool = Field(default=True, description="Enable Workload Identity (`<project>.svc.id.goog`).")
    managed_prometheus: bool = Field(
        default=True, description="Google Cloud Managed Service for Prometheus (managed collection)."
    )
    monitoring_components: list[MonitoringComponent] = Field(
        default_factory=lambda: [MonitoringComponent.SYSTEM_COMPONENTS, MonitoringComponent.DCGM],
        description="Cloud Monitoring components; must include SYSTEM_COMPONENTS; DCGM exports GPU metrics.",
    )
    network_policy: bool = Field(default=True, description="Enforce Kubernetes NetworkPolicy (Dataplane V2).")
    hpa_profile: Literal["PERFORMANCE", "NONE"] = Field(
        default="PERFORMANCE",
        description="Cluster HPA profile; PERFORMANCE raises HPA scale and metric-collection speed.",
    )
    system_pool: SystemPool = Field(default_factory=SystemPool, description="The CPU pool for system workloads.")
    kubernetes_minor: str = Field(
        default="1.33", description="Kubernetes minor version the rendered manifests are validated against."
    )

    @field_validator("min_master_version", "kubernetes_minor", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        """`--set cluster.minMasterVersion=1.33` arrives as a YAML number; versions are text."""
        if isinstance(value, float):
            raise ValueError(f'{value!r} was read as a number (1.30 would become 1.3): quote the version, e.g. "1.33"')
        return value

    @model_validator(mode="after")
    def _rules(self) -> ClusterConfig:
        if self.min_master_version is not None and gke_versions.parse(self.min_master_version) is None:
            raise ValueError(f"'{self.min_master_version}' is not a GKE version like 1.31 or 1.31.5-gke.1014000")
        return self

    def to_args(
        self, project: str, location: str, network: NetworkRefs, node_service_account: str, labels: dict[str, str]
    ) -> GkeClusterArgs | ExistingClusterArgs:
        """The GkeCluster arguments of this section (ExistingClusterArgs in ``existing`` mode)."""
        if self.mode == "existing":
            return ExistingClusterArgs(project=project, name=self.name, location=location)
        pool = self.system_pool
        return GkeClusterArgs(
            project=project,
            name=self.name,
            location=location,
            network=network.network,
            subnetwork=network.subnetwork,
            pods_range_name=network.pods_range_name,
            services_range_name=network.services_range_name,
            node_service_account=node_service_account,
            release_channel=self.release_channel.value,
            min_master_version=self.min_master_version,
            private_nodes=self.private_nodes,
            private_endpoint=self.private_endpoint,
            master_ipv4_cidr=self.master_ipv4_cidr,
            master_authorized_networks=tuple(
                AuthorizedNetworkArgs(n.cidr, n.name) for n in self.master_authorized_networks
            ),
            deletion_protection=self.deletion_protection,
            managed_prometheus=self.managed_prometheus,
            monitoring_components=tuple(m.value for m in self.monitoring_components),
            network_policy=self.network_policy,
            hpa_profile=self.hpa_profile,
            system_pool=SystemPoolArgs(pool.machine_type, pool.min_nodes, pool.max_nodes, pool.disk_size_gb),
            labels=labels,
        )


class NetworkRefs(NamedTuple):
    """The VPC, subnet and secondary range names a created cluster uses."""

    network: Any
    subnetwork: Any
    pods_range_name: str
    services_range_name: str


CLUSTER_PATHS = ArgPaths("cluster", {"project": "project", "location": "cluster.location", "labels": "labels",
                                     "pods_range_name": "network.existing.podsRangeName",
                                     "services_range_name": "network.existing.servicesRangeName"})
"""GkeClusterArgs paths in the stack YAML."""


# --------------------------------------------------------------------------------------------
# GPU node pools
# --------------------------------------------------------------------------------------------


class LocalSsdMode(StrEnum):
    NONE = "none"
    EPHEMERAL = "ephemeral"
    """Local SSDs back emptyDir, kubelet and containerd (``ephemeral_storage_local_ssd_config``)."""
    NVME_BLOCK = "nvmeBlock"
    """Local SSDs exposed as raw block devices (``local_nvme_ssd_block_config``)."""


class LocalSsd(Model):
    """Local SSD on each node. One mode only (GKE rejects mixing them)."""

    mode: LocalSsdMode = Field(
        default=LocalSsdMode.EPHEMERAL, description="`none`, `ephemeral` (backs emptyDir) or `nvmeBlock`."
    )
    count: int | None = Field(
        default=None,
        ge=0,
        description="Disks of 375 GiB; unset uses the machine's bundled count (A2 Ultra/A3/A4) or 1.",
    )


class SecondaryBootDisk(Model):
    """A disk image attached to every node, e.g. a cache of container images."""

    disk_image: str | None = Field(
        default=None,
        description="Unset (CONTAINER_IMAGE_CACHE): the stack builds a disk image caching serving.image's exact "
        "digest at `pulumi up`. Set to pin an existing image: `global/images/NAME` or `projects/P/global/images/NAME`.",
    )
    mode: Literal["CONTAINER_IMAGE_CACHE", "DATA"] = Field(
        default="CONTAINER_IMAGE_CACHE",
        description="CONTAINER_IMAGE_CACHE preloads images; DATA mounts the disk for hostPath.",
    )

    @model_validator(mode="after")
    def _data_disk_names_its_image(self) -> SecondaryBootDisk:
        """The stack builds only image caches; the image format itself is checked by GpuNodePool's validator."""
        if self.disk_image is None and self.mode == "DATA":
            raise FieldError(
                "diskImage", "a DATA disk needs its image: global/images/NAME or projects/P/global/images/NAME"
            )
        return self


class Autoscaling(Model):
    """Cluster-autoscaler limits, total across zones (default) or per zone."""

    min_nodes: int = Field(default=0, ge=0, description="Minimum nodes (0 lets the pool scale to zero).")
    max_nodes: int = Field(default=1, ge=1, description="Maximum nodes.")
    per_zone: bool = Field(default=False, description="Limits count per zone (min/max_node_count) instead of in total.")
    location_policy: Literal["ANY", "BALANCED"] = Field(
        default="ANY", description="ANY prefers zones with capacity/reservations (recommended for GPUs and Spot)."
    )


class Reservation(Model):
    """Which Compute Engine reservations the pool consumes."""

    type: Literal["NO_RESERVATION", "ANY_RESERVATION", "SPECIFIC_RESERVATION"] = Field(
        default="NO_RESERVATION", description="Reservation affinity."
    )
    name: str | None = Field(default=None, description="Reservation name; required for SPECIFIC_RESERVATION only.")


class GpuSharing(Model):
    """Share each GPU between containers."""

    strategy: Literal["TIME_SHARING", "MPS"] = Field(description="GPU sharing strategy.")
    max_shared_clients_per_gpu: int = Field(ge=2, le=48, description="Containers per GPU (2–48).")


class GpuPoolConfig(Model):
    """One GPU node pool. The accelerator type and GPU count follow from the machine type."""

    machine_type: str = Field(description="GPU machine type, e.g. g2-standard-8 (1×L4) or a3-highgpu-8g (8×H100).")
    gpu_count: int | None = Field(
        default=None, ge=1, description="GPUs per node; only for N1 (1, 2 or 4 T4s). Fixed by the shape elsewhere."
    )
    spot: bool = Field(
        default=False, description="Spot VMs (preemptible, ~60–91% cheaper); cannot consume reservations."
    )
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Cluster-autoscaler limits.")
    zones: list[str] | None = Field(
        default=None, description="Zones of the pool (node_locations). Unset uses the stack's `zones`."
    )
    image_type: Literal["COS_CONTAINERD", "UBUNTU_CONTAINERD"] = Field(
        default="COS_CONTAINERD", description="Node OS image; image streaming needs COS_CONTAINERD."
    )
    image_streaming: bool = Field(default=True, description="GKE image streaming (gcfs) for Artifact Registry images.")
    local_ssd: LocalSsd = Field(default_factory=LocalSsd, description="Local SSD mode and count.")
    secondary_boot_disks: list[SecondaryBootDisk] = Field(
        default_factory=list, description="Disk images preloaded on every node (container image cache)."
    )
    compact_placement: bool = Field(default=False, description="COMPACT placement policy (one zone only).")
    reservation: Reservation = Field(default_factory=Reservation, description="Reservation affinity.")
    queued_provisioning: bool = Field(
        default=False, description="Dynamic Workload Scheduler queued provisioning (ProvisioningRequest API only)."
    )
    gpu_driver_version: Literal["DEFAULT", "LATEST", "INSTALLATION_DISABLED"] = Field(
        default="DEFAULT",
        description="GKE-managed NVIDIA driver; INSTALLATION_DISABLED means you install it (no DCGM).",
    )
    gpu_sharing: GpuSharing | None = Field(default=None, description="Time-sharing or MPS; unset gives whole GPUs.")
    gpu_partition_size: str | None = Field(default=None, description="MIG profile, e.g. 1g.10gb (A100/H100/H200 only).")
    disk_type: Literal["pd-balanced", "pd-ssd", "hyperdisk-balanced"] = Field(
        default="pd-balanced", description="Boot disk type (secondary boot disks use the same type)."
    )
    disk_size_gb: int = Field(default=200, ge=50, description="Boot disk size in GB.")
    secure_boot: bool = Field(default=True, description="Shielded VM secure boot (works with GKE-managed drivers).")
    workload_metadata: Literal["GKE_METADATA", "GCE_METADATA"] = Field(
        default="GKE_METADATA",
        description="GKE_METADATA serves Workload Identity to pods; needs cluster Workload Identity.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra Kubernetes node labels.")

    def machine(self) -> catalog.MachineType:
        """The catalog row of this pool's machine type (raises UnknownMachineType)."""
        return catalog.lookup(self.machine_type, self.gpu_count)

    def local_ssd_count(self) -> int:
        """Effective Local SSD count (0 when the mode is ``none``)."""
        return effective_local_ssd_count(self.local_ssd.mode.value, self.local_ssd.count, self.machine())

    def to_args(
        self, project: str, cluster: Any, location: str, zones: list[str], service_account: Any,
        placement_policy: Any, labels: dict[str, str], built_disk_image: Any = None,
    ) -> GpuNodePoolArgs:
        """The GpuNodePool arguments of this pool (the pool's rules live in ``validate_gpu_node_pool_args``).

        ``built_disk_image`` is the disk image the stack builds (``BootDiskImage.disk_image``), used by a
        secondary boot disk without ``diskImage``; None stands in ``BUILT_DISK_IMAGE``.
        """
        built = BUILT_DISK_IMAGE if built_disk_image is None else built_disk_image
        return GpuNodePoolArgs(
            project=project,
            cluster=cluster,
            location=location,
            node_locations=tuple(zones),
            machine_type=self.machine_type,
            service_account=service_account,
            gpu_count=self.gpu_count,
            min_nodes=self.autoscaling.min_nodes,
            max_nodes=self.autoscaling.max_nodes,
            per_zone_limits=self.autoscaling.per_zone,
            location_policy=self.autoscaling.location_policy,
            spot=self.spot,
            image_type=self.image_type,
            image_streaming=self.image_streaming,
            local_ssd_mode=self.local_ssd.mode.value,
            local_ssd_count=self.local_ssd.count,
            secondary_boot_disks=tuple(
                SecondaryBootDiskArgs(d.disk_image or built, d.mode) for d in self.secondary_boot_disks
            ),
            compact_placement_policy=placement_policy,
            reservation_type=self.reservation.type,
            reservation_name=self.reservation.name,
            queued_provisioning=self.queued_provisioning,
            gpu_driver_version=self.gpu_driver_version,
            gpu_sharing_strategy=self.gpu_sharing.strategy if self.gpu_sharing else None,
            max_shared_clients_per_gpu=self.gpu_sharing.max_shared_clients_per_gpu if self.gpu_sharing else None,
            gpu_partition_size=self.gpu_partition_size,
            disk_type=self.disk_type,
            disk_size_gb=self.disk_size_gb,
            secure_boot=self.secure_boot,
            workload_metadata=self.workload_metadata,
            labels=dict(self.labels),
            resource_labels=labels,
        )


BUILT_DISK_IMAGE = "global/images/built-by-the-stack"
"""Stands in for the disk image the stack builds (no diskImage) when the config's pool rules run."""


def pool_paths(name: str, own_zones: bool = True) -> ArgPaths:
    """GpuNodePoolArgs paths of pool ``name`` in the stack YAML (its zones are the stack's ``zones`` unless
    ``own_zones``)."""
    pool = f"gpuPools.{name}"
    return ArgPaths(pool, {
        "project": "project", "cluster": "cluster.name", "location": "cluster.location", "resource_labels": "labels",
        "node_locations": f"{pool}.zones" if own_zones else "zones", "service_account": "stack",
        "min_nodes": f"{pool}.autoscaling.minNodes", "max_nodes": f"{pool}.autoscaling.maxNodes",
        "per_zone_limits": f"{pool}.autoscaling.perZone", "location_policy": f"{pool}.autoscaling.locationPolicy",
        "local_ssd_mode": f"{pool}.localSsd.mode", "local_ssd_count": f"{pool}.localSsd.count",
        "compact_placement_policy": f"{pool}.compactPlacement",
        "reservation_type": f"{pool}.reservation.type", "reservation_name": f"{pool}.reservation.name",
        "gpu_sharing_strategy": f"{pool}.gpuSharing.strategy",
        "max_shared_clients_per_gpu": f"{pool}.gpuSharing.maxSharedClientsPerGpu",
    })


SERVER_PATHS = ArgPaths("serving", {
    "engine": "serving.vllm", "engine.shutdown_timeout_seconds": "serving.shutdownTimeoutSeconds",
    "engine.extra": "serving.vllm.extraArgs", "model_context_length": "model.id",
    "engine.model": "model.id", "weight_bytes": "model.parametersBillions", "weights": "model.weights",
    "weights.read_only_many": "model.weights.persistentDisk.accessMode",
    "weights.local_ssd_file_cache": "model.weights.gcsfuse.fileCache",
    "google_service_account": "cluster.workloadIdentity", "overflow_pool": "serving.spotPool",
    "compute_class": "serving.computeClass.name",
    "max_replicas": "autoscaling.maxReplicas", "lora": "serving.lora",
    "lora.fetch_image": "model.weights.downloaderImage",
})
"""VllmServerArgs paths in the stack YAML."""
BATCH_PATHS = ArgPaths("batch", {
    "pool": "batch.pool", "gpus": "batch.pool", "cpu": "batch.pool", "memory": "batch.pool",
    "image": "serving.image", "weights": "model.weights", "engine_args": "serving.vllm",
    "served_model_name": "serving.vllm.servedModelName", "namespace": "serving.namespace",
    "bucket_name": "modelStorage.name", "gcp_service_account": "cluster.workloadIdentity",
})
"""BatchInferenceArgs paths in the stack YAML."""
CAPACITY_CONTEXT = {
    "gke_version": "cluster.minMasterVersion", "model_bytes": "model.parametersBillions",
    "gpus_per_replica": "serving.vllm.tensorParallelSize", "weights_backend": "model.weights.backend",
    "gpu_memory_utilization": "serving.vllm.gpuMemoryUtilization",
}
"""Arguments of the capacity components that come from elsewhere in the stack, and their YAML paths."""
BATCH_KSA = "vllm-batch"
"""Kubernetes service account of the batch Job."""
STAND_IN_IMAGE = "stand-in/resolved-at-preview@sha256:" + "0" * 64
"""Stands in for the serving image (resolved or built at preview) when the config's server rules run."""


def placement_paths(name: str) -> ArgPaths:
    """CompactPlacementArgs paths of pool ``name`` in the stack YAML (the policy is named after the pool)."""
    return ArgPaths(f"gpuPools.{name}", {"project": "project", "region": "region",
                                         "policy_name": f"gpuPools.{name}.compactPlacement"})


# --------------------------------------------------------------------------------------------
# Storage and registry
# --------------------------------------------------------------------------------------------


class BucketConfig(Model):
    """The model bucket (weights, batch input/output, load-test reports).

    Defaults to a hierarchical namespace without versioning: Cloud Storage refuses versioning on an
    HNS bucket, GCS FUSE reads faster from HNS and GKE Pod snapshots need it (infra/storage.py).
    Soft delete keeps deleted and overwritten objects recoverable; ``protect`` guards the bucket itself.
    """

    name: str | None = Field(default=None, description="Bucket name; unset derives `<project>-<stack>-models`.")
    versioning: bool = Field(
        default=False,
        description="Object versioning. Cloud Storage refuses it on a hierarchical-namespace bucket: set "
        "hierarchicalNamespace: false to use it.",
    )
    soft_delete_days: int = Field(
        default=7, ge=0, le=90, description="Soft-delete retention in days: 0 disables, else 7–90."
    )
    hierarchical_namespace: bool = Field(
        default=True,
        description="HNS bucket (faster GCS FUSE listing and metadata; GKE Pod snapshots need it). Excludes "
        "versioning; always with uniform bucket-level access.",
    )
    readers: list[str] = Field(default_factory=list, description="Extra IAM members given roles/storage.objectViewer.")
    writers: list[str] = Field(default_factory=list, description="Extra IAM members given roles/storage.objectUser.")
    protect: bool = Field(default=False, description="Pulumi `protect`: refuse to delete the bucket (set on prod).")

    def to_args(self, project: str, location: str, name: str, labels: dict[str, str]) -> ModelBucketArgs:
        """The ModelBucket arguments of this section."""
        return ModelBucketArgs(
            project=project,
            name=name,
            location=location,
            versioning=self.versioning,
            soft_delete_days=self.soft_delete_days,
            hierarchical_namespace=self.hierarchical_namespace,
            protect=self.protect,
            readers=tuple(self.readers),
            writers=tuple(self.writers),
            labels=labels,
        )


BUCKET_PATHS = ArgPaths("modelStorage", {"project": "project", "location": "region", "labels": "labels"})
"""ModelBucketArgs paths in the stack YAML."""


class RegistryConfig(Model):
    """Artifact Registry repositories in the stack's region (image streaming needs the same region)."""

    repository_id: str = Field(default="inference", description="Standard Docker repository for our own images.")
    docker_hub_proxy_id: str = Field(
        default="dockerhub", description="Remote repository proxying Docker Hub, so vllm/vllm-openai is streamable."
    )

    def to_args(self, project: str, location: str, reader: Any) -> ImageRegistryArgs:
        """The ImageRegistry arguments of this section; ``reader`` is the IAM member that pulls (the nodes)."""
        return ImageRegistryArgs(
            project=project,
            location=location,
            repository_id=self.repository_id,
            docker_hub_proxy_id=self.docker_hub_proxy_id,
            reader=reader,
        )


# --------------------------------------------------------------------------------------------
# The whole stack
# --------------------------------------------------------------------------------------------

NODE_SA_PATHS = ArgPaths("", {"project": "project", "account_id": "stack"})
"""NodeServiceAccountArgs paths: its id derives from the stack name."""

PoolName = Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")]


class StackConfig(Model):
    """The whole `gke-inference:platform` object."""

    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", description="GCP project id.")
    region: str = Field(description="GCP region of the cluster, bucket and registry, e.g. us-central1.")
    zones: list[str] = Field(min_length=1, description="Zones for node pools, all inside `region`.")
    environment: Literal["dev", "prod"] = Field(
        description="prod requires cluster.deletionProtection, modelStorage.protect and "
        "serving.requireApiKey (no default: deleting the key must not drop prod's guards).",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="GCP labels on every labelable resource.")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="VPC to create or reuse.")
    cluster: ClusterConfig = Field(description="The GKE cluster.")
    gpu_pools: dict[PoolName, GpuPoolConfig] = Field(min_length=1, description="GPU node pools by name.")
    model_storage: BucketConfig = Field(default_factory=BucketConfig, description="The model bucket.")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="Artifact Registry repositories.")
    model: ModelConfig = Field(description="The model to serve and where its weights come from.")
    serving: ServingConfig = Field(description="vLLM serving: pool, replicas, engine settings, lifecycle.")
    autoscaling: AutoscalingConfig = Field(
        default_factory=AutoscalingConfig, description="HPA or KEDA on vLLM metrics."
    )
    batch: BatchConfig = Field(default_factory=BatchConfig, description="Offline batch inference Job.")
    loadtest: LoadTestConfig = Field(default_factory=LoadTestConfig, description="In-cluster load test Job.")
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="GKE Inference Gateway (off by default).")
    models: dict[ModelKey, ExtraModel] = Field(
        default_factory=dict,
        description="More models beside the top-level one, by key (a DNS label of ≤ 12 characters that names their "
        "objects); each inherits the top-level serving and autoscaling and overrides what differs (docs/models.md).",
    )
    planning: PlanningConfig = Field(
        default_factory=PlanningConfig,
        description="Cost, cold-start and autoscaling-simulation inputs (estimate/simulate only; creates nothing).",
    )

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> StackConfig:
        for zone in self.zones:
            if not zone.startswith(self.region + "-"):
                raise FieldError("zones", f"'{zone}' is not in region {self.region}")
        bounds.check(bounds.stack_zone_errors(self))
        errors = self.component_errors((info.context or {}).get("stack"))
        if errors:
            raise FieldErrors(errors)
        for name, pool in self.gpu_pools.items():
            if pool.workload_metadata == "GKE_METADATA" and not self.cluster.workload_identity:
                raise FieldError(
                    f"gpuPools.{name}.workloadMetadata", "GKE_METADATA needs cluster.workloadIdentity: true"
                )
            version = self.cluster.min_master_version
            if pool.secondary_boot_disks and version and not gke_versions.at_least(version, SBD_MIN_GKE_VERSION):
                raise FieldError(
                    f"gpuPools.{name}.secondaryBootDisks",
                    "need GKE 1.28.3-gke.1067000+; raise cluster.minMasterVersion",
                )
            if (
                pool.gpu_driver_version == "INSTALLATION_DISABLED"
                and MonitoringComponent.DCGM in self.cluster.monitoring_components
            ):
                raise FieldError(
                    f"gpuPools.{name}.gpuDriverVersion",
                    "INSTALLATION_DISABLED: managed DCGM needs GKE-managed drivers; "
                    "use DEFAULT or drop DCGM from cluster.monitoringComponents",
                )
        # before the server's own rules, for messages in YAML terms
        bounds.check(bounds.model_errors(self) + bounds.node_errors(self) + bounds.engine_errors(self)
                     + bounds.time_errors(self) + bounds.pool_errors(self))
        self._check_serving((info.context or {}).get("stack") or "stack")
        self._check_capacity()
        self._check_replicas()
        self._check_volume_populator()
        self._check_environment()
        bounds.check(self.gateway.stack_errors(self))
        bounds.check(bounds.bound_errors(self))
        self._check_models((info.context or {}).get("stack"))
        return self

    _model_key: str | None = PrivateAttr(default=None)
    _views: dict[str, StackConfig] = PrivateAttr(default_factory=dict)
    _pool_reserved: dict[str, int] = PrivateAttr(default_factory=dict)

    # -- many models ----------------------------------------------------------------------------

    def _check_models(self, stack: str | None) -> None:
        """Each ``models`` entry validated as a stack of its own, then the rules between models."""
        if self.models:
            self._build_views(stack)
            self._reserve_pools()
        bounds.check(self._between_models())

    def _build_views(self, stack: str | None) -> None:
        """Each ``models`` entry as a stack of its own (``model_views``), or FieldErrors under ``models.<key>``."""
        errors = [e for key, entry in self.models.items() for e in stack_wide_errors(key, entry)]
        if self.serving.pod_snapshots.enabled:
            errors.append(("serving.podSnapshots.enabled", "Pod snapshots cover the top-level model only (one "
                                                           "snapshot bucket and policy); turn them off to add models"))
        if errors:
            raise FieldErrors(errors)
        top = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        views: dict[str, StackConfig] = {}
        for key, entry in self.models.items():
            try:
                view = StackConfig.parse(view_raw(top, key, entry), stack)
            except ConfigError as err:
                errors += [entry_error(key, line, CONFIG_KEY) for line in err.lines]
                continue
            view._model_key = key
            views[key] = view
        if errors:
            raise FieldErrors(errors)
        self._views = views

    def _reserve_pools(self) -> None:
        """Tell each model the nodes the stack's other models keep on its pools (their minimum replicas)."""
        views = self.model_views()
        floor = {key: (v.serving.pool, v.nodes_for(v.min_replicas())) for key, v in views.items()}
        for key, view in views.items():
            reserved: dict[str, int] = {}
            for other, (pool, nodes) in floor.items():
                if other != key:
                    reserved[pool] = reserved.get(pool, 0) + nodes
            view._pool_reserved = reserved

    def pool_reserved(self, pool: str) -> int:
        """Nodes of ``pool`` the stack's other models keep at their minimum replicas (0 with one model): what the
        simulator leaves to them when it runs this model's fleet."""
        return self._pool_reserved.get(pool, 0)

    def _between_models(self) -> list[tuple[str, str]]:
        """Names two models would share (served names and adapters, server names), and one Gateway route for all."""
        errors: list[tuple[str, str]] = []
        served: dict[str, str] = {}
        servers: dict[str, str] = {}
        for key, view in self.model_views().items():
            where = view.yaml_prefix
            names = {f"{where}serving.vllm.servedModelName": view.served_model_name(),
                     **{f"{where}serving.lora.adapters.{n}": n for n in view.serving.lora.sources()}}
            for path, name in names.items():
                if name in served:
                    errors.append((path, f"'{name}' is already served by {served[name]}; every model and adapter "
                                         "needs its own served name (clients pick by it)"))
                served.setdefault(name, f"model '{key}'")
            if view.serving.name in servers:
                errors.append((f"{where}serving.name", f"'{view.serving.name}' is already the server of "
                                                       f"{servers[view.serving.name]}; give each model its own"))
            servers.setdefault(view.serving.name, f"model '{key}'")
        images = {i for v in self.model_views().values() if (i := v.model.weights.downloader_image) is not None}
        if len(images) > 1:
            errors.append(("models", f"the models name different downloader images ({', '.join(sorted(images))}); "
                                     "the stack builds or resolves one: give every model the same "
                                     "model.weights.downloaderImage"))
        if self.loadtest.model is not None and self.loadtest.model not in self.model_views():
            errors.append(("loadtest.model", f"'{self.loadtest.model}' is not a model of the stack; one of: "
                                             f"{', '.join(self.model_views())}"))
        rapid = [key for key, view in self.model_views().items() if view.model.weights.gcsfuse.rapid_cache.enabled]
        errors += [(f"models.{key}.model.weights.gcsfuse.rapidCache.enabled",
                    f"the bucket's Rapid Cache is already enabled by model '{rapid[0]}' (one cache per zone serves "
                    "every model of the bucket)") for key in rapid[1:]]
        errors += bounds.shared_pool_errors(self.model_views())
        if self.gateway.enabled and len(self.model_views()) > 1 and not self.gateway.body_based_routing:
            errors.append(("gateway.bodyBasedRouting", f"{len(self.model_views())} models share the Gateway: set it "
                                                       "true so each request reaches its model by name (without it "
                                                       "every route takes every request)"))
        return errors

    def downloader_image(self) -> str | None:
        """The model-downloader image of the stack (``model.weights.downloaderImage``; one for every model): None when
        no model downloads and no model serves LoRA adapters (their init container is the downloader)."""
        views = self.model_views().values()
        chosen = next((v.model.weights.downloader_image for v in views if v.model.weights.downloader_image), None)
        if chosen is None and any(v.serving.lora.enabled for v in views):
            return BUILD
        return chosen

    def uses_priorities(self) -> bool:
        """A model or adapter of the stack has a Gateway priority (the InferenceObjective CRD is then installed)."""
        return any(
            view.serving.priority is not None
            or any(a.priority is not None for a in view.serving.lora.adapters.values())
            for view in self.model_views().values()
        )

    def loadtest_model_key(self) -> str:
        """The key (``model_views``) of the model the load test targets."""
        return self.loadtest.model or self.serving.name

    def uses_metrics_adapter(self) -> bool:
        """A model scales with the HPA through the Stackdriver adapter the stack installs (one for every model)."""
        return any(v.autoscaling.mode == "hpa" and v.autoscaling.install_metrics_adapter
                   for v in self.model_views().values())

    def uses_keda_operator(self) -> bool:
        """A model scales with KEDA through the operator the stack installs (one for every model)."""
        return any(v.autoscaling.mode == "keda" and v.autoscaling.keda.install for v in self.model_views().values())

    @property
    def yaml_prefix(self) -> str:
        """Where this model's blocks are in the stack YAML: empty for the top-level model, ``models.<key>.`` for an
        entry."""
        return "" if self._model_key is None else f"models.{self._model_key}."

    @property
    def model_key(self) -> str | None:
        """The ``models`` key of this view; None for the top-level model (and a stack's own config)."""
        return self._model_key

    def model_views(self) -> dict[str, StackConfig]:
        """Every model of the stack as a config of its own: the top-level model (keyed by its server name, this
        config itself) first, then each ``models`` entry by key (docs/models.md)."""
        return {self.serving.name: self, **self._views}

    def resource_name(self, base: str) -> str:
        """A Pulumi name of this model's resources: ``base`` for the top-level model (the names it always had),
        ``<key>-<base>`` for a ``models`` entry."""
        return base if self._model_key is None else f"{self._model_key}-{base}"

    def component_errors(self, stack: str | None = None) -> list[tuple[str, str]]:
        """What the components would refuse, under YAML paths: the components' own validators, run on the
        arguments this config gives them (``stack`` is needed for names derived from it)."""
        labels = self.resource_labels(stack or "stack")
        bucket = self.model_storage.to_args(self.project, self.region, self.bucket_name(stack or "stack"), labels)
        problems = validate_model_bucket_args(bucket)
        if stack is None and self.model_storage.name is None:  # the derived name is known only with the stack
            problems = [p for p in problems if p.property_path != "name"]
        errors = BUCKET_PATHS.errors(problems)
        if self.cluster.mode == "create" and self.network.create:
            network = self.network.to_args(self.project, self.region, nat=self.cluster.private_nodes)
            errors += NETWORK_PATHS.errors(validate_network_args(network))
        errors += CLUSTER_PATHS.errors(validate_gke_cluster_args(self.cluster_args(stack or "stack")))
        for name, pool in self.gpu_pools.items():
            problems = validate_gpu_node_pool_args(self.pool_args(name, stack or "stack"))
            errors += pool_paths(name, pool.zones is not None).errors(problems)
            if pool.compact_placement:
                placement = validate_compact_placement_args(self.compact_placement_args(name))
                errors += placement_paths(name).errors(placement)
        if stack is not None:
            errors += NODE_SA_PATHS.errors(validate_node_service_account_args(self.node_service_account_args(stack)))
        return list(dict.fromkeys(errors))  # shared arguments (labels) are reported once

    def cluster_args(
        self, stack: str, network: NetworkRefs | None = None, node_service_account: Any = None
    ) -> GkeClusterArgs | ExistingClusterArgs:
        """The cluster's arguments; without ``network``/``node_service_account`` (Outputs at deploy time) their
        config-side names stand in."""
        if network is None:
            net = self.network.existing
            network = (
                NetworkRefs(net.network, net.subnetwork, net.pods_range_name, net.services_range_name)
                if not self.network.create and net is not None
                else NetworkRefs(self.network.name, f"{self.network.name}-{self.region}", PODS_RANGE, SERVICES_RANGE)
            )
        account = node_service_account or f"gke-{stack}-nodes@{self.project}.iam.gserviceaccount.com"
        labels = self.resource_labels(stack)
        args = self.cluster.to_args(self.project, self.cluster_location(), network, account, labels)
        if isinstance(args, GkeClusterArgs) and self.serving.pod_snapshots.enabled:
            args = replace(args, pod_snapshots=True)
        return args

    def pool_args(
        self, name: str, stack: str, cluster: Any = None, service_account: Any = None, placement_policy: Any = None,
        built_disk_image: Any = None,
    ) -> GpuNodePoolArgs:
        """Pool ``name``'s arguments; without the Outputs (cluster id, node account, placement policy, the disk
        image the stack builds) their config-side names stand in."""
        pool = self.gpu_pools[name]
        if placement_policy is None and pool.compact_placement:
            placement_policy = self.placement_policy_name(name)
        args = pool.to_args(
            self.project, cluster or self.cluster.name, self.cluster_location(), self.pool_zones(name),
            service_account or f"gke-{stack}-nodes@{self.project}.iam.gserviceaccount.com", placement_policy,
            self.resource_labels(stack), built_disk_image,
        )
        return replace(args, compute_class=self.pool_compute_class(name), gvisor=name in self.sandbox_pools())

    def sandbox_pools(self) -> list[str]:
        """Pools that run GKE Sandbox (gVisor) for ``serving.podSnapshots``: every pool a serving replica may land on
        (``pool``, ``spotPool``, the pools a ComputeClass lists); none without Pod snapshots."""
        serving = self.serving
        if not serving.pod_snapshots.enabled:
            return []
        listed = [p for rule in serving.compute_class.priorities for p in rule.pools] if serving.compute_class else []
        return list(dict.fromkeys([serving.pool, *([serving.spot_pool] if serving.spot_pool else []), *listed]))

    def pool_compute_class(self, pool: str) -> str | None:
        """The ComputeClass whose ``pools`` rule lists ``pool`` (its nodes then carry the class's label and taint)."""
        section = self.serving.compute_class
        if section is not None and any(pool in rule.pools for rule in section.priorities):
            return section.name
        return None

    def placement_policy_name(self, pool: str) -> str:
        """Name of pool ``pool``'s compact placement resource policy: ``<pool>-compact``."""
        return f"{pool}-compact"

    def compact_placement_args(self, pool: str) -> CompactPlacementArgs:
        """The CompactPlacement arguments of pool ``pool`` (``compactPlacement: true``)."""
        return CompactPlacementArgs(
            project=self.project, region=self.region, policy_name=self.placement_policy_name(pool)
        )

    def node_service_account_args(self, stack: str) -> NodeServiceAccountArgs:
        """The nodes' service account: ``gke-<stack>-nodes``."""
        return NodeServiceAccountArgs(project=self.project, account_id=f"gke-{stack}-nodes")

    def resource_labels(self, stack: str) -> dict[str, str]:
        """GCP labels on every labelable resource: the config's plus ``stack`` and ``managed-by``."""
        return {**self.labels, "stack": stack, "managed-by": "pulumi"}

    def uses_volume_populator(self) -> bool:
        """hyperdiskMl filled by GKE's Volume Populator (no sourceSnapshot/sourceImage override)."""
        weights = self.model.weights
        return weights.backend is WeightsBackend.HYPERDISK_ML and not weights.hyperdisk_ml.prefilled()

    def _check_volume_populator(self) -> None:
        """The Volume Populator needs GKE 1.33.2-gke.4780000+ (VOLUME_POPULATOR_MIN_GKE_VERSION's source).
        A version alias like "1.33" passes: GKE picks the highest patch of that minor (Cluster.initialClusterVersion,
        container v1 discovery document)."""
        version = self.cluster.min_master_version
        minimum = VOLUME_POPULATOR_MIN_GKE_VERSION
        if self.uses_volume_populator() and version and not gke_versions.at_least(version, minimum):
            raise FieldError(
                "cluster.minMasterVersion",
                f"'{version}' is older than 1.33.2-gke.4780000, which the GKE Volume Populator filling "
                "model.weights.hyperdiskMl needs; raise it, or give model.weights.hyperdiskMl.sourceSnapshot",
            )

    def _check_environment(self) -> None:
        """prod stacks keep their safety guards on; dev may drop them to stay disposable."""
        if self.environment != "prod":
            return
        guards = {
            "cluster.deletionProtection": self.cluster.deletion_protection,
            "modelStorage.protect": self.model_storage.protect,
            "serving.requireApiKey": self.serving.require_api_key,
        }
        for field, enabled in guards.items():
            if not enabled:
                raise FieldError(
                    field, "must be true when environment is prod (set environment: dev for a disposable stack)"
                )

    def _check_serving(self, stack: str) -> None:
        serving, vllm = self.serving, self.serving.vllm
        if serving.pool not in self.gpu_pools:
            raise FieldError(
                "serving.pool", f"'{serving.pool}' is not a gpuPools key; one of: {', '.join(self.gpu_pools)}"
            )
        if serving.spot_pool is not None and serving.spot_pool not in self.gpu_pools:
            raise FieldError("serving.spotPool", f"'{serving.spot_pool}' is not a gpuPools key")
        errors = SERVER_PATHS.errors(validate_vllm_server_args(self.server_args(stack), serving.name))
        if errors:
            raise FieldErrors(errors)
        if self.batch.enabled:
            if self.batch_pool_name() not in self.gpu_pools:
                raise FieldError("batch.pool", f"'{self.batch_pool_name()}' is not a gpuPools key")
            errors = BATCH_PATHS.errors(validate_batch_inference_args(self.batch_args(stack)))
            if errors:
                raise FieldErrors(errors)
        for index, target in enumerate(self.autoscaling.metrics):
            if target.metric is AutoscalingMetric.RUNNING and target.target >= vllm.max_num_seqs:
                raise FieldError(
                    f"autoscaling.metrics.{index}.target",
                    f"a running-requests target of {target.target:g} never triggers: a replica batches at most "
                    f"maxNumSeqs={vllm.max_num_seqs}; use a value below it",
                )

    def server_args(
        self, stack: str, *, image: Any = STAND_IN_IMAGE, weights: w.WeightsMount | None = None,
        pool: Pool | None = None, overflow_pool: Pool | None = None, google_service_account: Any = None,
        replicas: int = 1, startup_budget_seconds: int | None = None, api_key: Any = None,
        workload_depends_on: tuple[Any, ...] = (), fetch_image: Any = STAND_IN_IMAGE,
        hf_token_secret: str | None = None,
    ) -> VllmServerArgs:
        """The VllmServer arguments of ``serving`` (its rules live in ``validate_vllm_server_args``).

        Without the deploy-time objects (resolved image, the backend's mount, the pools, the identity's
        email) their config-side shapes stand in: a pinned stand-in image, ``weights_shape`` of the backend,
        the pools' ``PoolShape`` and ``vllm-<stack>@`` when the cluster has Workload Identity.
        """
        serving = self.serving
        if google_service_account is None and self.cluster.workload_identity:
            google_service_account = f"vllm-{stack}@{self.project}.iam.gserviceaccount.com"
        return VllmServerArgs(
            namespace=serving.namespace,
            name=serving.name,
            image=image,
            engine=self.engine_settings(),
            weights=weights if weights is not None else self.weights_shape(),
            pool=pool if pool is not None else self.pool_shape(serving.pool),
            overflow_pool=(
                overflow_pool if overflow_pool is not None or serving.spot_pool is None
                else self.pool_shape(serving.spot_pool)
            ),
            compute_class=serving.compute_class.name if serving.compute_class else None,
            model_context_length=bounds.MODEL_CONTEXT.get(self.model.id),
            google_service_account=google_service_account,
            weight_bytes=self.effective_weight_bytes(),
            replicas=replicas,
            max_replicas=self.max_replicas(),
            autoscaled=self.autoscaling.mode != "none",
            nodes_per_replica=serving.nodes_per_replica,
            workload_depends_on=workload_depends_on,
            startup_budget_seconds=startup_budget_seconds or serving.startup_budget_seconds or 600,
            pre_stop_seconds=serving.pre_stop_seconds,
            drain_queue_seconds=serving.drain_queue_seconds,
            api_key=api_key,
            client_label=serving.client_label,
            ingress_ip_blocks=self.gateway.ingress_ip_blocks(),
            pod_snapshots=serving.pod_snapshots.enabled,
            lora=self.lora_args(fetch_image, hf_token_secret),
        )

    def lora_args(self, fetch_image: Any = STAND_IN_IMAGE, hf_token_secret: str | None = None) -> LoraAdapters | None:
        """The server's LoRA adapters (``serving.lora``; None when off), fetched by ``fetch_image`` (the stack's
        model-downloader image) with the hub token in ``hf_token_secret`` when there is one."""
        lora = self.serving.lora
        if not lora.enabled:
            return None
        return LoraAdapters(adapters=lora.sources(), fetch_image=fetch_image, max_loras=lora.max_loras,
                            max_lora_rank=lora.max_lora_rank, hf_token_secret=hf_token_secret)

    def _check_capacity(self) -> None:
        """The ComputeClass, CapacityBuffer and Pod-snapshot components' rules with this stack's values."""
        serving = self.serving
        errors: list[tuple[str, str]] = []
        if serving.compute_class is not None:
            for index, rule in enumerate(serving.compute_class.priorities):
                errors += [(f"serving.computeClass.priorities.{index}.pools", f"'{pool}' is not a gpuPools key")
                           for pool in rule.pools if pool not in self.gpu_pools]
            errors += serving.compute_class.component_errors(
                "serving.computeClass", CAPACITY_CONTEXT, **self._compute_class_stack_values())
        if serving.capacity_buffer.replicas:
            errors += ArgPaths("serving.capacityBuffer", CAPACITY_CONTEXT).errors(
                validate_capacity_buffer_args(self.buffer_args()))
        errors += serving.pod_snapshots.component_errors(
            "serving.podSnapshots", CAPACITY_CONTEXT, namespace=serving.namespace, name=serving.name,
            bucket="stand-in", selector={"app": "stand-in"}, weights_backend=self.model.weights.backend.value,
            gpus_per_replica=self.gpus_per_replica(), gke_version=self.cluster.min_master_version,
        )
        if self.batch.enabled and (self.batch.pool or serving.pool) in self.sandbox_pools():
            errors.append(("batch.pool", "the pool runs GKE Sandbox (gVisor) for serving.podSnapshots, and GKE's "
                                         "sandbox taint keeps the batch Job's pods off it: set batch.pool to another "
                                         "GPU pool"))
        if serving.pod_snapshots.enabled and not self.cluster.workload_identity:
            errors.append(("cluster.workloadIdentity", "Pod snapshots reach their bucket through Workload Identity "
                                                       "(GKE how-to pod-snapshots): set it true"))
        if errors:
            raise FieldErrors(errors)

    def _compute_class_stack_values(self) -> dict[str, Any]:
        """What ``ComputeClassConfig.to_args`` takes from the rest of the stack."""
        return {
            "gke_version": self.cluster.min_master_version, "model_bytes": self.effective_weight_bytes(),
            "gpus_per_replica": self.gpus_per_replica(),
            "gpu_memory_utilization": self.serving.vllm.gpu_memory_utilization,
        }

    def compute_class_args(self, labels: dict[str, str] | None = None) -> ComputeClassArgs | None:
        """The ComputeClass of ``serving.computeClass`` (None when unset)."""
        section = self.serving.compute_class
        if section is None:
            return None
        return section.to_args(**self._compute_class_stack_values(), labels=labels)

    def buffer_args(self, *, image: Any = STAND_IN_IMAGE, labels: dict[str, str] | None = None) -> CapacityBufferArgs:
        """The serving replicas' CapacityBuffer (``serving.capacityBuffer``).

        One replica on one node: chunks are the serving Deployment's pod (``scalableRef``), exact by construction.
        A replica spanning nodes is a LeaderWorkerSet, which the cluster autoscaler may not read without an RBAC
        grant, so its chunks are PodTemplates of one pod's requests on the serving pool, ``nodesPerReplica`` per
        replica.
        """
        serving = self.serving
        section = serving.capacity_buffer
        name, version = f"{serving.name}-headroom", self.cluster.min_master_version
        if serving.nodes_per_replica == 1:
            return section.to_args(namespace=serving.namespace, name=name, gke_version=version, labels=labels,
                                   scalable_ref=ScalableRef(kind="Deployment", name=serving.name))
        shape = self.pool_shape(serving.pool)
        size = pod_size(self.server_args("stack"))
        chunk = BufferChunk(
            requests={"cpu": size.cpu, "memory": size.memory, "nvidia.com/gpu": str(shape.machine.gpu_count)},
            image=image, node_selector=dict(shape.scheduling.node_selector),
            tolerations=tuple(shape.scheduling.tolerations),
        )
        args = section.to_args(namespace=serving.namespace, name=name, gke_version=version, labels=labels, chunk=chunk)
        return replace(args, replicas=section.replicas * serving.nodes_per_replica)

    def batch_pool_name(self) -> str:
        """The pool of the batch Job: ``batch.pool``, else the serving pool."""
        return self.batch.pool or self.serving.pool

    def batch_args(
        self, stack: str, *, image: Any = STAND_IN_IMAGE, weights: w.WeightsMount | None = None,
        pool: Pool | None = None, bucket_name: Any = None, gcp_service_account: Any = None,
        service_account_name: str = BATCH_KSA,
    ) -> BatchInferenceArgs:
        """The BatchInference arguments of ``batch`` (its rules live in ``validate_batch_inference_args``).

        The Job runs the served engine on one node (no multi-node executor). Without the deploy-time
        objects their config-side shapes stand in, as in ``server_args``.
        """
        batch, vllm = self.batch, self.serving.vllm
        if gcp_service_account is None and self.cluster.workload_identity:
            gcp_service_account = f"vllm-batch-{stack}@{self.project}.iam.gserviceaccount.com"
        engine = replace(self.engine_settings(), distributed_executor_backend=None)
        return BatchInferenceArgs(
            namespace=self.serving.namespace,
            image=image,
            weights=weights if weights is not None else self.weights_shape(),
            bucket_name=bucket_name if bucket_name is not None else self.bucket_name(stack),
            served_model_name=self.served_model_name(),
            pool=pool if pool is not None else self.pool_shape(self.batch_pool_name()),
            gpus=vllm.tensor_parallel_size * vllm.pipeline_parallel_size,
            input_object=batch.input_object,
            output_object=batch.output_object,
            engine_args=tuple(engine_flags(engine)),
            service_account_name=service_account_name,
            gcp_service_account=gcp_service_account,
            parallelism=batch.parallelism,
            backoff_limit=batch.backoff_limit,
            ttl_seconds_after_finished=batch.ttl_seconds_after_finished,
        )

    def engine_settings(self) -> EngineSettings:
        """The vLLM engine of ``serving.vllm``: the server's, and (on one node) the batch Job's."""
        serving, vllm = self.serving, self.serving.vllm
        return EngineSettings(
            served_model_name=self.served_model_name(),
            tensor_parallel_size=vllm.tensor_parallel_size,
            pipeline_parallel_size=vllm.pipeline_parallel_size,
            max_model_len=vllm.max_model_len,
            gpu_memory_utilization=vllm.gpu_memory_utilization,
            max_num_seqs=vllm.max_num_seqs,
            max_num_batched_tokens=vllm.max_num_batched_tokens,
            enable_prefix_caching=vllm.enable_prefix_caching,
            enable_chunked_prefill=vllm.enable_chunked_prefill,
            quantization=vllm.quantization,
            kv_cache_dtype=vllm.kv_cache_dtype,
            dtype=vllm.dtype,
            shutdown_timeout_seconds=serving.shutdown_timeout_seconds,
            distributed_executor_backend="ray" if serving.nodes_per_replica > 1 else None,
            extra=tuple(vllm.extra_args),
        )

    def pool_shape(self, name: str) -> PoolShape:
        """What a workload sees of pool ``name`` before it exists (``GpuNodePool`` yields the same)."""
        pool = self.gpu_pools[name]
        ephemeral = pool.local_ssd.mode is LocalSsdMode.EPHEMERAL and pool.local_ssd_count() > 0
        scheduling = pool_scheduling(name, pool.machine(), pool.spot, self.pool_compute_class(name))
        shared = gpu_sharing(pool.gpu_partition_size, pool.gpu_sharing.strategy if pool.gpu_sharing else None)
        return PoolShape(pool.machine(), scheduling, ephemeral, shared_gpus=shared,
                         queued_provisioning=pool.queued_provisioning, max_nodes=bounds.pool_max_nodes(self, name))

    def gcsfuse_file_cache(self) -> Literal["localSsd", "memory", "none"]:
        """``gcsfuse.fileCache``, with ``auto`` resolved: Local SSD when the serving pool backs ephemeral
        storage with it, else memory."""
        choice = self.model.weights.gcsfuse.file_cache
        if choice != "auto":
            return choice
        return "localSsd" if self.pool_shape(self.serving.pool).ephemeral_local_ssd else "memory"

    def weights_shape(self) -> w.WeightsMount:
        """The backend's ``WeightsMount`` flags (``workloads.weights.weights_shape``) under this config."""
        weights = self.model.weights
        backend = weights.backend
        return w.weights_shape(
            backend.value,
            read_only_many=not (
                backend is WeightsBackend.PERSISTENT_DISK and weights.persistent_disk.access_mode == "ReadWriteOnce"
            ),
            local_ssd_file_cache=backend is WeightsBackend.GCSFUSE and self.gcsfuse_file_cache() == "localSsd",
        )

    def gpus_per_replica(self) -> int:
        """GPUs one replica gets: the serving pool's GPUs per node × nodes per replica."""
        return self.gpu_pools[self.serving.pool].machine().gpu_count * self.serving.nodes_per_replica

    def replicas_per_node(self) -> int:
        """Replicas sharing one node (1 for replicas that span one or more whole nodes)."""
        if self.serving.nodes_per_replica > 1:
            return 1
        return max(1, self.gpu_pools[self.serving.pool].machine().gpu_count // self.gpus_per_replica())

    def nodes_for(self, replicas: int) -> int:
        """Nodes of the serving pool that hold ``replicas`` replicas."""
        return -(-replicas // self.replicas_per_node()) * self.serving.nodes_per_replica

    def min_replicas(self) -> int:
        """The fewest serving replicas: the HPA's ``autoscaling.minReplicas``, KEDA's ``autoscaling.keda.minReplicas``
        (0 scales to zero), or ``serving.replicas`` when nothing autoscales. The one answer the program (HPA, PDB,
        alerts), the estimate and the simulator use; ``serving.replicas`` counts only in mode ``none``."""
        mode = self.autoscaling.mode
        if mode == "hpa":
            return self.autoscaling.min_replicas
        if mode == "keda":
            return self.autoscaling.keda.min_replicas
        return self.serving.replicas

    def max_replicas(self) -> int:
        """The most replicas that can run at once: ``autoscaling.maxReplicas``, or ``serving.replicas`` when nothing
        autoscales (see :meth:`min_replicas`)."""
        if self.autoscaling.mode == "none":
            return self.serving.replicas
        return self.autoscaling.max_replicas

    def _check_replicas(self) -> None:
        """``serving.replicas`` set beside an autoscaler: the autoscaler owns the count, so a value it can never run
        is refused (the old answers drifted: the estimate priced it, the HPA ignored it)."""
        if self.autoscaling.mode == "none" or "replicas" not in self.serving.model_fields_set:
            return
        low, high = self.min_replicas(), self.max_replicas()
        if not low <= self.serving.replicas <= high:
            owner = "autoscaling.keda.minReplicas" if self.autoscaling.mode == "keda" else "autoscaling.minReplicas"
            raise FieldError(
                "serving.replicas",
                f"{self.serving.replicas} is outside the {low}–{high} replicas the {self.autoscaling.mode} autoscaler "
                f"runs, and ignored while autoscaling.mode is {self.autoscaling.mode}; set {owner} and "
                "autoscaling.maxReplicas instead (or autoscaling.mode: none for a fixed count), or drop "
                "serving.replicas",
            )

    def effective_weight_bytes(self) -> float:
        """Weight bytes in GPU memory (fp8 quantization on the fly halves 16-bit weights)."""
        weight_bytes = self.model.weight_bytes()
        if self.serving.vllm.quantization == "fp8" and self.model.weight_dtype in ("bfloat16", "float16"):
            return weight_bytes / 2
        return weight_bytes

    def served_model_name(self) -> str:
        return self.serving.vllm.served_model_name or self.model.id

    def warnings(self) -> list[str]:
        """Legal but suspicious settings, printed by render and validate."""
        notes = []
        for index, target in enumerate(self.autoscaling.metrics):
            if (
                target.metric is AutoscalingMetric.QUEUE
                and not QUEUE_TARGET_SANE[0] <= target.target <= QUEUE_TARGET_SANE[1]
            ):
                notes.append(
                    f"{CONFIG_KEY}.autoscaling.metrics.{index}.target: a queue target of {target.target:g} is outside "
                    f"{QUEUE_TARGET_SANE[0]}–{QUEUE_TARGET_SANE[1]} waiting requests per replica "
                    "(GKE's autoscaling guide "
                    "starts from a small queue); expect flapping (low) or long waits (high)"
                )
        keda = self.autoscaling.keda
        if self.autoscaling.mode == "keda" and keda.min_replicas == 0 and keda.wake_query is None:
            notes.append(
                f"{CONFIG_KEY}.autoscaling.keda.wakeQuery: minReplicas 0 with only vLLM pod metrics: at zero replicas "
                "those series vanish (the picker's pool averages freeze), so nothing scales the server back up"
                + (" outside the cron windows" if keda.cron else "")
                + "; set wakeQuery to a signal that exists at zero (gateway/load balancer request rate)"
            )
        if self.uses_volume_populator() and self.cluster.min_master_version is None:
            notes.append(
                f"{CONFIG_KEY}.cluster.minMasterVersion: unset, so the cluster runs the "
                f"{self.cluster.release_channel.value} channel's default version, which may be older than "
                "1.33.2-gke.4780000 (GKE Volume Populator, model.weights.hyperdiskMl); set it to \"1.33\" or newer"
            )
        if (
            self.autoscaling.mode != "none"
            and "replicas" in self.serving.model_fields_set
            and self.serving.replicas != self.min_replicas()
        ):
            notes.append(
                f"{CONFIG_KEY}.serving.replicas: {self.serving.replicas} is ignored while autoscaling.mode is "
                f"{self.autoscaling.mode}; the autoscaler runs {self.min_replicas()}–{self.max_replicas()} replicas "
                "(raise its minimum to keep more running)"
            )
        if self.model.weights.backend is WeightsBackend.HUGGING_FACE:
            notes.append(
                f"{CONFIG_KEY}.model.weights.backend: huggingFace downloads at every start (slow baseline, dev only)"
            )
        return notes

    def pool_zones(self, pool_name: str) -> list[str]:
        """Zones a pool runs in: its own, else the stack's."""
        return list(self.gpu_pools[pool_name].zones or self.zones)

    def cluster_location(self) -> str:
        return self.cluster.location or self.region

    def bucket_name(self, stack: str) -> str:
        return self.model_storage.name or f"{self.project}-{stack}-models"

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, raw: Any, stack: str | None = None) -> StackConfig:
        """Validate a raw config object, raising ConfigError with one line per problem.

        ``stack`` (the Pulumi stack name) lets names derived from it be checked too (the bucket name, labels).
        """
        try:
            return cls.model_validate(raw, context={"stack": stack})
        except ValidationError as err:
            raise ConfigError(format_errors(err)) from None

    @classmethod
    def from_pulumi(cls) -> StackConfig:
        """Read and validate ``gke-inference:platform`` from the current Pulumi stack."""
        import pulumi

        raw = pulumi.Config(CONFIG_NAMESPACE).require_object(CONFIG_KEY)
        try:
            return cls.parse(raw, pulumi.get_stack())
        except ConfigError as err:
            raise pulumi.RunError(
                f"invalid {CONFIG_NAMESPACE}:{CONFIG_KEY} in Pulumi.{pulumi.get_stack()}.yaml:\n{err}"
            ) from None


def format_errors(err: ValidationError) -> list[str]:
    """One line per error: ``platform.gpuPools.l4.machineType: <message>``."""
    lines: list[str] = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, FieldErrors):
            lines.extend(f"{'.'.join((CONFIG_KEY, *loc, field))}: {message}" for field, message in cause.errors)
            continue
        if isinstance(cause, FieldError):
            loc.append(cause.field)
        path = ".".join((CONFIG_KEY, *loc))
        message = e["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines
