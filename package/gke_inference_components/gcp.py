"""Facades of the GCP components: a GPU node pool on an existing cluster, and the model bucket."""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi

from infra import gpu_node_pool, storage
from infra.options import child_options
from infra.validation import raise_if_problems

from .convert import missing, picked


class LocalSsdMode(Enum):
    """How a GPU node's Local SSDs are exposed."""

    NONE = "none"
    """No Local SSD."""
    EPHEMERAL = "ephemeral"
    """Node ephemeral storage (emptyDirs, image layers, the GCS FUSE file cache) on Local SSD."""
    NVME_BLOCK = "nvmeBlock"
    """Raw NVMe block devices."""


class SecondaryBootDiskMode(Enum):
    """What a secondary boot disk holds."""

    CONTAINER_IMAGE_CACHE = "CONTAINER_IMAGE_CACHE"
    """Preloaded container images (needs image streaming)."""
    DATA = "DATA"
    """A data disk."""


class SecondaryBootDisk(TypedDict):
    """A disk image preloaded on every node of the pool."""

    disk_image: pulumi.Input[str]
    """`global/images/NAME` or `projects/P/global/images/NAME`."""
    mode: NotRequired[SecondaryBootDiskMode]
    """Image cache (default) or data disk."""


class GpuNodePoolArgs(TypedDict):
    """Arguments of a GPU node pool on an existing GKE cluster."""

    cluster: pulumi.Input[str]
    """The existing cluster's id (`projects/P/locations/L/clusters/C`) or name."""
    project: str
    """GCP project id of the cluster."""
    location: str
    """The cluster's location (region or zone)."""
    node_locations: list[str]
    """Zones of the pool; each must offer the machine's GPU."""
    machine_type: str
    """GPU machine type (e.g. g2-standard-8, a3-highgpu-8g); the accelerator and GPU count follow from it."""
    service_account: pulumi.Input[str]
    """Email of the least-privilege node service account."""
    gpu_count: NotRequired[int]
    """Only for N1 machines: GPUs per node (1, 2 or 4 T4)."""
    min_nodes: NotRequired[int]
    """Autoscaling minimum (total unless perZoneLimits); default 0."""
    max_nodes: NotRequired[int]
    """Autoscaling maximum (total unless perZoneLimits); default 1."""
    per_zone_limits: NotRequired[bool]
    """Node limits per zone instead of in total; default false."""
    location_policy: NotRequired[str]
    """ANY (default) or BALANCED."""
    spot: NotRequired[bool]
    """Spot VMs; the pool gets the `cloud.google.com/gke-spot` taint so only tolerating pods land."""
    spot_shutdown_grace_seconds: NotRequired[int]
    """Spot only: the node's graceful shutdown on preemption, 30–120 s (default 30, of which pods get 15);
    needs GKE 1.35.0-gke.1171000 or later."""
    image_type: NotRequired[str]
    """Node image; default COS_CONTAINERD."""
    image_streaming: NotRequired[bool]
    """Image streaming (gcfs); default true."""
    local_ssd_mode: NotRequired[LocalSsdMode]
    """How Local SSDs are exposed; default ephemeral."""
    local_ssd_count: NotRequired[int]
    """375 GiB Local SSDs per node; unset takes the machine's bundled count (A2 Ultra/A3/A4), else 1."""
    secondary_boot_disks: NotRequired[list[SecondaryBootDisk]]
    """Disk images preloaded on each node (e.g. the serving image's cache)."""
    compact_placement_policy: NotRequired[pulumi.Input[str]]
    """Name of a COMPACT resource policy, for compact placement."""
    reservation_type: NotRequired[str]
    """Reservation affinity: NO_RESERVATION (default), ANY_RESERVATION or SPECIFIC_RESERVATION."""
    reservation_name: NotRequired[str]
    """The reservation, with SPECIFIC_RESERVATION."""
    queued_provisioning: NotRequired[bool]
    """DWS queued provisioning (all-or-nothing node requests); default false."""
    gpu_driver_version: NotRequired[str]
    """GKE-managed driver: DEFAULT (default), LATEST or INSTALLATION_DISABLED."""
    gpu_sharing_strategy: NotRequired[str]
    """TIME_SHARING or MPS (with maxSharedClientsPerGpu)."""
    max_shared_clients_per_gpu: NotRequired[int]
    """Clients per GPU when sharing."""
    gpu_partition_size: NotRequired[str]
    """MIG profile (e.g. 1g.10gb)."""
    disk_type: NotRequired[str]
    """Boot disk type; default pd-balanced."""
    disk_size_gb: NotRequired[int]
    """Boot disk size in GB; default 200."""
    secure_boot: NotRequired[bool]
    """Shielded VM secure boot; default true."""
    workload_metadata: NotRequired[str]
    """Metadata server mode; default GKE_METADATA (serves Workload Identity)."""
    labels: NotRequired[dict[str, str]]
    """Extra Kubernetes node labels."""
    resource_labels: NotRequired[dict[str, str]]
    """GCP labels."""
    compute_class: NotRequired[str]
    """A custom ComputeClass whose `pools` rule lists this pool: its nodes carry the class's label and taint."""
    gvisor: NotRequired[bool]
    """Run the nodes in GKE Sandbox (gVisor), as GKE Pod snapshots need; only pods with `runtimeClassName: gvisor`
    land there. Default false."""


_POOL_KEYS = tuple(key for key in GpuNodePoolArgs.__annotations__ if key != "secondary_boot_disks")


def gpu_node_pool_args(name: str, args: GpuNodePoolArgs) -> gpu_node_pool.GpuNodePoolArgs:
    """The component's validated-args dataclass for these facade arguments (refuses missing required ones)."""
    given_disks = args.get("secondary_boot_disks") or []
    problems = missing(args, GpuNodePoolArgs)
    for index, disk in enumerate(given_disks):
        problems += missing(disk, SecondaryBootDisk, f"secondary_boot_disks.{index}.")
    raise_if_problems("GpuNodePool", name, problems)
    disks = tuple(
        gpu_node_pool.SecondaryBootDiskArgs(**picked(disk, "disk_image", "mode"))
        for disk in given_disks
    )
    return gpu_node_pool.GpuNodePoolArgs(**picked(args, *_POOL_KEYS), secondary_boot_disks=disks)


class GpuNodePool(pulumi.ComponentResource):
    """A GPU node pool on an existing GKE cluster. Its shape (accelerator, GPU count, Local SSD) follows from the
    machine type; GPU and Spot taints keep other pods off. The same validation as the Python component
    (`infra.gpu_node_pool.GpuNodePool`) refuses bad arguments before anything is created."""

    pool_name: pulumi.Output[str]
    """The node pool's name (GKE's `cloud.google.com/gke-nodepool` node label)."""
    machine_type: str
    """The machine type."""
    accelerator: str
    """The GPU type GKE attaches (`cloud.google.com/gke-accelerator` node label)."""
    gpus_per_node: int
    """GPUs per node."""
    spot: bool
    """Whether the pool runs Spot VMs."""
    ephemeral_local_ssd: bool
    """Node ephemeral storage sits on Local SSD."""

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = gpu_node_pool_args(name, args)
        raise_if_problems("GpuNodePool", name, gpu_node_pool.validate_gpu_node_pool_args(real))
        super().__init__("gke-inference:index:GpuNodePool", name, {}, opts)
        pool = gpu_node_pool.GpuNodePool(name, real, child_options(self, opts))
        self.pool_name = pool.pool_name
        self.machine_type = real.machine_type
        self.accelerator = pool.machine.accelerator
        self.gpus_per_node = pool.machine.gpu_count
        self.spot = real.spot
        self.ephemeral_local_ssd = pool.ephemeral_local_ssd
        self.register_outputs({"poolName": self.pool_name})


class ModelBucketArgs(TypedDict):
    """Arguments of the model bucket."""

    project: str
    """GCP project id."""
    name: str
    """Globally unique bucket name."""
    location: str
    """Region of the bucket (the cluster's, so reads stay in-region)."""
    versioning: NotRequired[bool]
    """Object versioning; Cloud Storage refuses it with a hierarchical namespace. Default false."""
    soft_delete_days: NotRequired[int]
    """Soft-delete retention: 0 disables, else 7–90 days. Default 7."""
    hierarchical_namespace: NotRequired[bool]
    """Hierarchical namespace (faster GCS FUSE metadata; Pod snapshots need it). Default true."""
    protect: NotRequired[bool]
    """Pulumi protect: refuse to delete the bucket. Default false."""
    readers: NotRequired[list[pulumi.Input[str]]]
    """IAM members granted roles/storage.objectViewer (e.g. `serviceAccount:...`)."""
    writers: NotRequired[list[pulumi.Input[str]]]
    """IAM members granted roles/storage.objectUser."""
    labels: NotRequired[dict[str, str]]
    """GCP labels."""


def model_bucket_args(name: str, args: ModelBucketArgs) -> storage.ModelBucketArgs:
    """The component's validated-args dataclass for these facade arguments (refuses missing required ones)."""
    raise_if_problems("ModelBucket", name, missing(args, ModelBucketArgs))
    return storage.ModelBucketArgs(**picked(args, *ModelBucketArgs.__annotations__))


class ModelBucket(pulumi.ComponentResource):
    """A private GCS bucket for model weights: uniform access, public access prevention, soft delete and a
    hierarchical namespace by default; readers and writers granted non-authoritatively."""

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    url: pulumi.Output[str]
    """`gs://<bucket>`."""

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = model_bucket_args(name, args)
        raise_if_problems("ModelBucket", name, storage.validate_model_bucket_args(real))
        super().__init__("gke-inference:index:ModelBucket", name, {}, opts)
        bucket = storage.ModelBucket(name, real, child_options(self, opts))
        self.bucket_name = bucket.bucket_name
        self.url = bucket.url
        self.register_outputs({"bucketName": self.bucket_name, "url": self.url})
