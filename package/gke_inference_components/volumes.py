"""Facades of the model-storage components: a Filestore share, a model disk (Persistent Disk or Hyperdisk ML)
and its transfer pool, Anywhere Cache in front of the bucket, and the Kubernetes volumes the server mounts
(a Hyperdisk ML volume filled from the bucket, a static claim).

Pass the cluster's Kubernetes provider to the Kubernetes ones. Each refuses what its Python component refuses
(same message; FilestoreShare and ModelDisk check their arguments when built, with ``ValueError``) before
registering anything.
"""

from typing import Any, NotRequired, TypedDict

import pulumi

from infra import filestore, model_disk, rapid_cache
from workloads import disk_hydrate, weights

from .convert import Block, block_args
from .facade import expose
from .platform import _no_validator


class FilestoreShareArgs(TypedDict):
    """Arguments of one Filestore instance with one share."""

    project: str
    """GCP project id."""
    instance_name: str
    """Filestore instance name."""
    location: str
    """A zone for BASIC_HDD/BASIC_SSD/ZONAL, a region for REGIONAL/ENTERPRISE."""
    network: pulumi.Input[str]
    """VPC name, or `projects/P/global/networks/N` for a Shared VPC."""
    tier: NotRequired[str]
    """Service tier: BASIC_HDD, BASIC_SSD, ZONAL (default), REGIONAL or ENTERPRISE."""
    capacity_gb: NotRequired[int]
    """Share capacity in GB. Default 1024."""
    share_name: NotRequired[str]
    """NFS export name (the mount path is `/<shareName>`). Default models."""
    labels: NotRequired[dict[str, str]]
    """GCP labels."""


class FilestoreShare(pulumi.ComponentResource):
    """One Filestore instance with one share on the VPC (direct peering, IPv4)."""

    ip_address: pulumi.Output[str]
    """The instance's IP address (the NFS server)."""
    share_name: str
    """The share's name."""

    def __init__(self, name: str, args: FilestoreShareArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("FilestoreShare", name, args, Block(FilestoreShareArgs, filestore.FilestoreShareArgs),
                          _no_validator)
        expose(self, "FilestoreShare", name, opts, lambda child: filestore.FilestoreShare(name, real, child),
               lambda made: {"ip_address": made.ip_address, "share_name": made.share_name})


class ModelDiskArgs(TypedDict):
    """Arguments of a read-only model disk in one or more zones."""

    project: str
    """GCP project id."""
    disk_name: str
    """GCE disk name (the same in every zone); 1–63 chars, lowercase letters, digits, dashes."""
    zones: list[str]
    """Zones to create a copy in; pd-* types take exactly one."""
    disk_type: str
    """pd-ssd, pd-balanced or hyperdisk-ml."""
    size_gb: int
    """Disk size in GB (at least the source's size)."""
    snapshot: NotRequired[str]
    """Source snapshot (`global/snapshots/NAME` or `projects/P/global/snapshots/NAME`)."""
    image: NotRequired[str]
    """Source image instead of a snapshot."""
    provisioned_throughput_mibps: NotRequired[int]
    """Hyperdisk ML provisioned throughput in MiB/s (required for hyperdisk-ml, refused for pd-*)."""
    labels: NotRequired[dict[str, str]]
    """GCP labels."""


class ModelDisk(pulumi.ComponentResource):
    """A read-only model disk (from a snapshot or image) in one or more zones, ready to back a static
    ReadOnlyMany PersistentVolume."""

    disk_name: str
    """The disks' name."""
    zones: list[str]
    """Zones holding a copy."""
    volume_handle: pulumi.Output[str]
    """The PD CSI volume handle (zonal, or `zones/multi-zone`)."""
    multi_zone: bool
    """Several same-named zonal disks behind one multi-zone handle."""

    def __init__(self, name: str, args: ModelDiskArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ModelDisk", name, args, Block(ModelDiskArgs, model_disk.ModelDiskArgs), _no_validator)
        expose(self, "ModelDisk", name, opts, lambda child: model_disk.ModelDisk(name, real, child),
               lambda made: {"disk_name": made.disk_name, "zones": list(made.zones),
                             "volume_handle": made.volume_handle, "multi_zone": made.multi_zone})


class TransferNodePoolArgs(TypedDict):
    """Arguments of the node pool the Hyperdisk ML transfer Jobs run on."""

    project: str
    """GCP project id."""
    cluster: pulumi.Input[str]
    """Cluster id (`projects/P/locations/L/clusters/C`)."""
    location: str
    """Cluster location."""
    node_locations: list[str]
    """Zones with a Hyperdisk ML copy: the transfer runs in each of them."""
    service_account: pulumi.Input[str]
    """Node service account email (not the Compute Engine default)."""
    machine_type: NotRequired[str]
    """Transfer machine; must support Hyperdisk ML (C3/C3D and newer). Default c3-standard-44."""
    max_nodes_per_zone: NotRequired[int]
    """Transfer nodes per zone (one transfer Job per zone). Default 1."""
    labels: NotRequired[dict[str, str]]
    """GCP resource labels."""


class TransferNodePool(pulumi.ComponentResource):
    """A scale-from-zero CPU pool labelled and tainted for `gcs-to-hdml-compute-class`: the nodes the Hyperdisk ML
    transfer Jobs run on."""

    pool_name: pulumi.Output[str]
    """The node pool's name."""

    def __init__(self, name: str, args: TransferNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("TransferNodePool", name, args, Block(TransferNodePoolArgs,
                          model_disk.TransferNodePoolArgs), _no_validator)
        expose(self, "TransferNodePool", name, opts, lambda child: model_disk.TransferNodePool(name, real, child),
               lambda made: {"pool_name": made.pool.name})


class RapidCacheArgs(TypedDict):
    """Arguments of Anywhere Cache (Rapid Cache) in front of the model bucket."""

    bucket: pulumi.Input[str]
    """Name of the bucket to cache (pass the ModelBucket's `bucketName` so the caches wait for it)."""
    bucket_location: str
    """The bucket's location, e.g. us-central1 (zones are checked against it when it is a region)."""
    zones: list[str]
    """Zones to cache in: those of the serving node pools."""
    ttl_seconds: NotRequired[int]
    """How long an entry stays cached without reads. Default 86400."""
    admission_policy: NotRequired[str]
    """admit-on-first-miss or unset (the same: the service default); accepted for clarity, never sent."""
    ingest_on_write: NotRequired[bool]
    """Cache objects as they are written (the downloader's writes warm the cache). Default false."""


class RapidCache(pulumi.ComponentResource):
    """One Anywhere Cache per zone in front of the model bucket."""

    zones: list[str]
    """Zones with a cache."""

    def __init__(self, name: str, args: RapidCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args(rapid_cache.TYPE, name, args, Block(RapidCacheArgs, rapid_cache.RapidCacheArgs),
                          rapid_cache.validate_rapid_cache_args)
        expose(self, "RapidCache", name, opts, lambda child: rapid_cache.RapidCache(name, real, child),
               lambda made: {"zones": list(made.caches)})


class HyperdiskMlVolumeArgs(TypedDict):
    """Arguments of a Hyperdisk ML volume GKE fills from Cloud Storage (GCPDataSource)."""

    namespace: str
    """Namespace of the claim and the GCPDataSource (must be the workload's)."""
    claim_name: str
    """Name of the ReadOnlyMany claim the pods mount."""
    source_uri: pulumi.Input[str]
    """`gs://bucket/prefix/` (trailing slash: a folder)."""
    service_account_name: str
    """KSA the transfer Job authenticates as (its own: the doc warns against sharing it)."""
    gcp_service_account: pulumi.Input[str]
    """GSA email the KSA impersonates (roles/storage.objectViewer on the bucket)."""
    zones: list[str]
    """Zones of the readers; several make a multi-zone volume (one disk per zone, one claim)."""
    size_gb: int
    """Disk size (must exceed the model; Hyperdisk ML takes more than 4 GiB)."""
    throughput_mibps: int
    """Provisioned throughput on create."""
    timeout_seconds: int
    """How long `up` waits for the claim to bind (the transfer)."""
    transfer_path: NotRequired[str]
    """Folder inside the volume the data lands in; empty = the root."""
    cpu_request: NotRequired[str]
    """Transfer Job CPU request; unset keeps GKE's default (24 vCPU)."""
    compute_class_families: NotRequired[list[str]]
    """Machine families of `gcs-to-hdml-compute-class` (default c3, c3d); empty creates no class."""
    node_pool_auto_creation: NotRequired[bool]
    """`nodePoolAutoCreation` on the class: only with node auto-provisioning (else a `TransferNodePool` serves
    the class). Default false."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""


class HyperdiskMlVolume(pulumi.ComponentResource):
    """A ReadOnlyMany Hyperdisk ML claim GKE fills from `gs://` before it binds (the weights' `hyperdiskMl`
    backend mounts it)."""

    claim_name: str
    """The claim's name."""

    def __init__(self, name: str, args: HyperdiskMlVolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("HyperdiskMlVolume", name, args, Block(HyperdiskMlVolumeArgs,
                          disk_hydrate.HyperdiskMlVolumeArgs), disk_hydrate.validate_hyperdisk_ml_volume_args)
        expose(self, "HyperdiskMlVolume", name, opts,
               lambda child: disk_hydrate.HyperdiskMlVolume(name, real, child),
               lambda made: {"claim_name": made.claim_name})


class ModelVolumeArgs(TypedDict):
    """Arguments of a static PersistentVolume and its claim over an existing disk or share."""

    namespace: str
    """Namespace of the claim (the serving namespace)."""
    capacity_gb: int
    """Capacity recorded on the PV/PVC (the disk or share size)."""
    access_mode: str
    """Access mode of PV and PVC: ReadOnlyMany, ReadWriteOnce or ReadWriteMany."""
    source: dict[str, Any]
    """The PV's volume source, e.g. `{"csi": {...}}` (a `ModelDisk`'s `volumeHandle`) or `{"nfs": {...}}` (a
    `FilestoreShare`'s `ipAddress` and `/<shareName>`)."""
    zones: NotRequired[list[str]]
    """Zones whose nodes can attach it (PV node affinity); empty = any."""
    mount_options: NotRequired[list[str]]
    """`spec.mountOptions` of the PV."""
    labels: NotRequired[dict[str, str]]
    """Labels on PV and PVC."""


class ModelVolume(pulumi.ComponentResource):
    """A static PersistentVolume bound to its claim (the weights' `persistentDisk` and `filestore` backends mount
    the claim)."""

    claim_name: str
    """The claim's name."""
    volume_name: str
    """The PersistentVolume's name."""

    def __init__(self, name: str, args: ModelVolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ModelVolume", name, args, Block(ModelVolumeArgs, weights.ModelVolumeArgs),
                          weights.validate_model_volume_args)
        expose(self, "ModelVolume", name, opts, lambda child: weights.ModelVolume(name, real, child),
               lambda made: {"claim_name": made.claim_name, "volume_name": made.volume_name})
