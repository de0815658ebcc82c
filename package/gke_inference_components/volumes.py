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
from infra.validation import Problem, raise_if_problems
from workloads import disk_hydrate, model_downloader, weights

from .convert import Block, block_args, missing, nested_problems, picked
from .facade import expose
from .jobs import DownloadBudget
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


class FillDownload(TypedDict):
    """The Job that writes the model onto the fill disk: a `ModelDownloader` (hub → disk), with the fill claim
    mounted and a `sync` before it completes (the disk is snapshotted right after it)."""

    image: pulumi.Input[str]
    """The model-downloader image, pinned by digest."""
    repo_id: str
    """Hub repository, e.g. meta-llama/Llama-3.1-8B-Instruct."""
    revision: str
    """Pinned hub commit (40 hex)."""
    model_subpath: NotRequired[str]
    """Folder on the disk the model is written to: the `modelSubpath` of the server's `claim` weights. Default
    model."""
    service_account_name: NotRequired[str]
    """Kubernetes service account of the pod (it writes to the disk only). Default default."""
    hf_token_secret: NotRequired[str]
    """Secret with the hub token under `hfTokenKey`; unset for public models."""
    hf_token_key: NotRequired[str]
    """Key of the token in that Secret. Default token."""
    node_selector: NotRequired[dict[str, str]]
    """Where it runs: the system (CPU) pool, in a zone the disk type exists in."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Tolerations, if that pool is tainted."""
    budget: NotRequired[DownloadBudget]
    """Retries, deadline and Pulumi's wait (size it from the model's bytes)."""
    scratch_gi: NotRequired[int]
    """Scratch volume for the staged snapshot: at least the model's size plus headroom. Default 30."""


class SnapshotHydratedVolumeArgs(TypedDict):
    """Arguments of a Persistent Disk claim restored from a snapshot of a disk the downloader filled."""

    namespace: str
    """Namespace of the claims, the snapshot and the fill Job."""
    claim_name: str
    """Name of the serving claim; the fill claim is `<claimName>-fill`."""
    disk_type: str
    """PD type of both disks: pd-ssd or pd-balanced."""
    zone: str
    """Zone of the serving disk (where every replica runs)."""
    size_gb: int
    """Size of both disks (must exceed the model)."""
    access_mode: str
    """Access mode of the serving claim: ReadOnlyMany (several replicas) or ReadWriteOnce."""
    timeout_seconds: int
    """How long `up` waits for the snapshot and for the restored claim each."""
    fill: FillDownload
    """The download that fills the disk."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""


_FILL_DEFAULTS = {"model_subpath": "model", "service_account_name": "default"}
"""What an unset `fill` key means (the other keys default as `ModelDownloader`'s do)."""


def snapshot_volume_args(name: str, args: SnapshotHydratedVolumeArgs) -> tuple[
        disk_hydrate.SnapshotHydratedVolumeArgs, model_downloader.ModelDownloaderArgs, str]:
    """The volume's args, its fill download's (before ``disk_hydrate.downloader_fill`` mounts the fill claim) and
    the model's subpath on the disk, refused as the two components refuse them with the claim mounted (the fill's
    problems under ``fill.``)."""
    problems = missing(args, SnapshotHydratedVolumeArgs)
    given: dict[str, Any] = {k: v for k, v in (args.get("fill") or {}).items() if v is not None}
    if args.get("fill") is not None:
        problems += missing(given, FillDownload, "fill.")
        problems += missing(given["budget"], DownloadBudget, "fill.budget.") if "budget" in given else []
    raise_if_problems("SnapshotHydratedVolume", name, problems)
    volume_keys = (key for key in SnapshotHydratedVolumeArgs.__annotations__ if key != "fill")
    volume = disk_hydrate.SnapshotHydratedVolumeArgs(**picked(args, *volume_keys))
    fill = {**_FILL_DEFAULTS, **given}
    subpath = str(fill["model_subpath"])
    settings = picked(fill, "image", "repo_id", "revision", "service_account_name", "hf_token_secret", "hf_token_key",
                      "node_selector", "tolerations", "scratch_gi")
    if "budget" in fill:
        settings["budget"] = model_downloader.DownloadBudget(**fill["budget"])
    download = model_downloader.ModelDownloaderArgs(
        namespace=volume.namespace, destination=f"{disk_hydrate.FILL_MOUNT}/{subpath}", base_name="model-fill",
        **settings)
    filled = disk_hydrate.fill_download_args(download, f"{volume.claim_name}-fill")
    problems = disk_hydrate.validate_snapshot_hydrated_volume_args(volume) + _subpath_problems(subpath)
    problems += nested_problems("fill", [p for p in model_downloader.validate_model_downloader_args(filled)
                                         if p.property_path != "namespace"])  # the volume's, named once above
    raise_if_problems("SnapshotHydratedVolume", name, problems)
    return volume, download, subpath


def _subpath_problems(subpath: str) -> list[Problem]:
    if not subpath or subpath.startswith("/") or ".." in subpath.split("/"):
        return [Problem("fill.model_subpath", f"'{subpath}' must be a relative folder without '..', like "
                                              "models/<id>/<rev> (it lands under the fill disk's mount)")]
    return []


class SnapshotHydratedVolume(pulumi.ComponentResource):
    """A Persistent Disk claim with the model on it: a `ModelDownloader` Job fills a disk, a VolumeSnapshot is
    taken, and the serving claim is restored from it in the serving zone (the weights' `persistentDisk` backend
    mounts it); `up` waits for each step."""

    claim_name: str
    """The serving claim's name."""
    fill_claim_name: str
    """The fill claim's name."""
    model_subpath: str
    """Where the model is on the disk (the server's `claim` `modelSubpath`)."""
    fill_job_name: str
    """The fill Job's name."""

    def __init__(self, name: str, args: SnapshotHydratedVolumeArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        volume, download, subpath = snapshot_volume_args(name, args)
        fill = disk_hydrate.downloader_fill(f"{name}-fill", download)
        expose(self, "SnapshotHydratedVolume", name, opts,
               lambda child: disk_hydrate.SnapshotHydratedVolume(name, volume, fill, child),
               lambda made: {"claim_name": made.claim_name, "fill_claim_name": made.fill_claim_name,
                             "model_subpath": subpath,
                             "fill_job_name": model_downloader.job_name(download.base_name, download.repo_id,
                                                                        download.revision)})


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
