"""Composition of the weight-loading part: config → backend resources → the ``WeightsMount`` VllmServer reads.

Called from ``stack/program.py`` (the only other place that knows both config and components).
What each backend creates:

| backend          | GCP                                  | Kubernetes                                    |
|------------------|--------------------------------------|-----------------------------------------------|
| gcsfuse          | downloader GSA (bucket objectUser)   | downloader Job (the Deployment waits for it)  |
| runaiStreamer    | same                                 | same                                          |
| persistentDisk   | (the disks are CSI-provisioned)      | fill PVC + fill Job (hub → disk),             |
|                  |                                      | VolumeSnapshot, ROX PVC restored from it      |
| hyperdiskMl      | downloader GSA + populator GSA       | downloader Job, GCPDataSource, ROX PVC (Volume Populator), |
|                  | (bucket read) + transfer node pool   | ComputeClass gcs-to-hdml-compute-class, StorageClass       |
| filestore        | downloader GSA + Filestore instance  | populate Job writing the share, RWX PV + PVC  |
| huggingFace      | nothing                              | nothing (an init container in the vLLM pod)   |

The download/fill Jobs need the model-downloader image (``downloader_image``); without it no Job is
created and the weights must already be in the bucket prefix or share (a persistentDisk fill refuses the
config instead). ``pulumi up`` waits for every Job and disk (sized timeouts), and the vLLM server depends
on them, so it never starts before the weights are in place. ``model.weights.<backend>.sourceSnapshot|
sourceImage`` replaces the in-stack fill with the user's own snapshot/image (static PV on a ModelDisk);
no stack file names a snapshot the stack does not create. Details: docs/weights.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from infra.cluster import GkeCluster
from infra.filestore import ZONAL_TIERS, FilestoreShare, FilestoreShareArgs
from infra.identity import WorkloadIdentity
from infra.model_disk import ModelDisk, ModelDiskArgs, TransferNodePool, TransferNodePoolArgs
from infra.options import inherited_depends_on
from stack.config import BATCH_KSA, StackConfig
from stack.config.serving import WeightsBackend
from stack.program.identities import BucketAccess, stack_identity
from workloads import weights as w
from workloads.batch import BatchInference
from workloads.disk_hydrate import (
    HyperdiskMlVolume,
    HyperdiskMlVolumeArgs,
    SnapshotHydratedVolume,
    SnapshotHydratedVolumeArgs,
    transfer_timeout_seconds,
)
from workloads.model_downloader import (
    DOWNLOADER_UID,
    ModelDownloader,
    ModelDownloaderArgs,
    download_budget,
)
from workloads.pod_security import root_init_security_context
from workloads.vllm_server import Pool

DOWNLOADER_KSA = "model-downloader"
SHARE_MOUNT = "/share"
FILL_MOUNT = "/fill"
"""Where the PD fill Job mounts the disk it writes (the model lands at ``/fill/<prefix>``)."""
METADATA_PREFETCH_MIN_MINOR = (1, 33)
"""``gcsfuseMetadataPrefetchOnMount`` needs GKE 1.32.1-gke.1357001+ (GKE GCS FUSE docs); a minor of
1.33 guarantees it, while 1.32 may be an older patch."""


def model_prefix(config: StackConfig) -> str:
    """Object prefix of the model: ``model.weights.bucketPrefix`` or ``models/<id>/<revision>``."""
    return (config.model.weights.bucket_prefix or w.default_prefix(config.model.id, config.model.revision)).strip("/")


def weights_zones(config: StackConfig) -> list[str]:
    """Every zone a pod reading the weights may land in: serving pool, Spot pool, batch pool (ordered)."""
    zones: list[str] = []
    for pool in _reader_pools(config):
        zones += [z for z in config.pool_zones(pool) if z not in zones]
    return zones


def single_weights_zone(config: StackConfig) -> str:
    """The one zone a zonal volume (pd-*) lives in: the first zone every reader pool has.

    Raises ValueError naming the pool fields when the pools share no zone.
    """
    pools = _reader_pools(config)
    common = [z for z in config.pool_zones(pools[0]) if all(z in config.pool_zones(p) for p in pools[1:])]
    if not common:
        raise ValueError(
            f"gpuPools.*.zones: the pools reading a zonal model disk ({', '.join(pools)}) share no zone; "
            "give them a common zone, or use hyperdiskMl (one disk per zone)"
        )
    return common[0]


def _reader_pools(config: StackConfig) -> list[str]:
    pools = [config.serving.pool]
    if config.serving.spot_pool and config.serving.spot_pool not in pools:
        pools.append(config.serving.spot_pool)
    batch_pool = config.batch.pool or config.serving.pool
    if config.batch.enabled and batch_pool not in pools:
        pools.append(batch_pool)
    return pools


def gcsfuse_file_cache(config: StackConfig) -> str:
    """``gcsfuse.fileCache`` with ``auto`` resolved (``StackConfig.gcsfuse_file_cache``)."""
    return config.gcsfuse_file_cache()


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def gce_name(base: str, suffix: str, limit: int = 63) -> str:
    """A GCE resource name ``<base>-<suffix>``: lowercase, starts with a letter, at most ``limit`` chars."""
    head = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    if not head or not head[0].isalpha():
        head = f"m-{head}".rstrip("-")
    head = head[: limit - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def filestore_network(config: StackConfig) -> str:
    """The VPC for Filestore: its name in this project, or ``projects/P/global/networks/N`` (Shared VPC)."""
    if config.network.create:
        return config.network.name
    assert config.network.existing is not None  # NetworkConfig guarantees it
    given = config.network.existing.network
    match = re.search(r"projects/([^/]+)/global/networks/([^/]+)$", given)
    if not match:
        return given
    project, name = match.groups()
    return name if project == config.project else f"projects/{project}/global/networks/{name}"


def build_weights(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    bucket_name: pulumi.Input[str],
    namespace: str,
    k8s_depends_on: Sequence[pulumi.Resource],
    *,
    hf_token_secret: str | None = None,
    downloader_image: pulumi.Input[str] | None = None,
    serving_image: pulumi.Input[str] | None = None,
    gcp_depends_on: Sequence[pulumi.Resource] = (),
) -> w.WeightsMount:
    """Create the chosen backend's resources and return what the vLLM pod needs.

    Args:
        config: the validated stack config.
        stack: stack name (GSA ids, labels).
        provider: the cluster's Kubernetes provider.
        bucket_name: the model bucket; pass the plain ``config.bucket_name(stack)`` so that
            ``model_path`` (runaiStreamer) is a plain string.
        namespace: the serving namespace.
        k8s_depends_on: what the Kubernetes objects wait for: the Namespace (when the stack creates it)
            and the hub-token Secret.
        hf_token_secret: name of the Secret with the hub token under key ``token``; None for public models.
        downloader_image: the model-downloader image pinned by digest; None creates no download Job.
        serving_image: the resolved vLLM image (``NAME@sha256:...``, ``stack.program.images``); None = serving.image.
        gcp_depends_on: what GCP resources wait for (APIs, the cluster and hence its VPC).
    """
    weights = config.model.weights
    backend = weights.backend
    prefix = model_prefix(config)
    k8s_opts = pulumi.ResourceOptions(providers=[provider], depends_on=list(k8s_depends_on))
    gcp_opts = pulumi.ResourceOptions(depends_on=list(gcp_depends_on))
    labels = {**config.labels, "stack": stack, "managed-by": "pulumi"}

    if backend is WeightsBackend.HUGGING_FACE:
        return w.hugging_face_weights(
            w.HuggingFaceArgs(
                repo_id=config.model.id,
                revision=config.model.revision,
                image=serving_image if serving_image is not None else config.serving.image,
                model_bytes=config.model.weight_bytes(),
                token_secret=hf_token_secret,
            )
        )

    if backend is WeightsBackend.FILESTORE:
        return _filestore(
            config, stack, provider, namespace, prefix, labels, k8s_opts, gcp_opts, hf_token_secret, downloader_image
        )

    if backend is WeightsBackend.PERSISTENT_DISK and not weights.persistent_disk.prefilled():
        assert downloader_image is not None  # WeightsConfig refuses a PD fill without the downloader
        return _pd_hydrated(config, namespace, prefix, k8s_opts, hf_token_secret, downloader_image)

    download: list[pulumi.Resource] = []
    if downloader_image is not None:
        downloader = ModelDownloader(
            config.resource_name("weights-download"),
            ModelDownloaderArgs(
                namespace=namespace,
                image=downloader_image,
                repo_id=config.model.id,
                revision=config.model.revision,
                destination=w.gcs_url(bucket_name, prefix),
                service_account_name=config.resource_name(DOWNLOADER_KSA),
                gcp_service_account=_bucket_writer(
                    config.resource_name("weights-download-identity"),
                    config,
                    stack,
                    config.resource_name("model-dl"),
                    config.resource_name(DOWNLOADER_KSA),
                    namespace,
                    bucket_name,
                    gcp_opts,
                ).email,
                hf_token_secret=hf_token_secret,
                node_selector=_system_selector(config),
                scratch_gi=w.size_gi(config.model.weight_bytes()),
                budget=download_budget(config.model.weight_bytes()),
            ),
            opts=k8s_opts,
        )
        download = [downloader.job]

    if backend is WeightsBackend.GCSFUSE:
        g = weights.gcsfuse
        mount = w.gcsfuse_weights(
            w.GcsFuseArgs(
                bucket_name=bucket_name,
                prefix=prefix,
                file_cache=config.gcsfuse_file_cache(),
                model_bytes=config.model.weight_bytes(),
                parallel_downloads=g.parallel_downloads,
                metadata_prefetch=_minor(config.cluster.kubernetes_minor) >= METADATA_PREFETCH_MIN_MINOR,
                sidecar_cpu_limit=g.sidecar_cpu_limit,
                sidecar_memory_limit=g.sidecar_memory_limit,
            )
        )
        return _with_dependencies(mount, download)

    if backend is WeightsBackend.RUNAI_STREAMER:
        r = weights.runai_streamer
        mount = w.runai_streamer_weights(
            w.RunaiStreamerArgs(
                bucket_name=bucket_name,
                prefix=prefix,
                concurrency=r.concurrency,
                memory_limit_bytes=r.memory_limit_bytes,
                distributed=config.serving.vllm.tensor_parallel_size > 1,
            )
        )
        return _with_dependencies(mount, download)

    if backend is WeightsBackend.HYPERDISK_ML and not weights.hyperdisk_ml.prefilled():
        return _hyperdisk_ml_populated(
            config, stack, namespace, prefix, bucket_name, labels, k8s_opts, gcp_opts, download, gcp_depends_on
        )
    # A disk from the user's own snapshot/image (model.weights.<backend>.sourceSnapshot|sourceImage).
    return _model_disk(config, stack, namespace, prefix, labels, k8s_opts, gcp_opts)


def _with_dependencies(mount: w.WeightsMount, extra: list[pulumi.Resource]) -> w.WeightsMount:
    if not extra:
        return mount

    return replace(mount, dependencies=[*mount.dependencies, *extra])


def _system_selector(config: StackConfig) -> dict[str, str]:
    # The created cluster labels its CPU pool; an existing cluster's pools are unknown (GPU taints
    # keep the Job off GPU nodes either way).
    return {"gke-inference/role": "system"} if config.cluster.mode == "create" else {}


def _bucket_writer(
    name: str,
    config: StackConfig,
    stack: str,
    prefix: str,
    ksa: str,
    namespace: str,
    bucket_name: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> WorkloadIdentity:
    """A GSA that ``namespace/ksa`` impersonates, with object read/write on the model bucket only."""
    return stack_identity(
        name, config, stack, prefix, namespace, ksa, inherited_depends_on(opts),
        bucket=BucketAccess(bucket_name, "writer"),
    ).identity


def _model_disk(
    config: StackConfig,
    stack: str,
    namespace: str,
    prefix: str,
    labels: dict[str, str],
    k8s_opts: pulumi.ResourceOptions,
    gcp_opts: pulumi.ResourceOptions,
) -> w.WeightsMount:
    weights, model = config.model.weights, config.model
    rev8 = model.revision[:8]
    if weights.backend is WeightsBackend.HYPERDISK_ML:
        o = weights.hyperdisk_ml
        zones, disk_type, size, throughput, access = (
            tuple(weights_zones(config)),
            "hyperdisk-ml",
            o.size_gb,
            o.throughput_mibps,
            "ReadOnlyMany",
        )
    else:
        o = weights.persistent_disk  # type: ignore[assignment]
        zones, disk_type, size, throughput = (single_weights_zone(config),), o.disk_type, o.size_gb, None  # type: ignore[attr-defined]
        access = o.access_mode  # type: ignore[attr-defined]
    snapshot, image = o.source_snapshot, o.source_image
    disk = ModelDisk(
        config.resource_name("weights-disk"),
        ModelDiskArgs(
            project=config.project,
            disk_name=gce_name(model.slug(), rev8),
            zones=zones,
            disk_type=disk_type,  # type: ignore[arg-type]
            size_gb=size,
            snapshot=snapshot,
            image=image,
            provisioned_throughput_mibps=throughput,
            labels=labels,
        ),
        opts=gcp_opts,
    )
    volume = w.ModelVolume(
        config.resource_name(f"model-weights-{rev8}"),
        w.ModelVolumeArgs(
            namespace=namespace,
            capacity_gb=size,
            access_mode=access,  # type: ignore[arg-type]
            source=w.pd_source(disk.volume_handle),
            zones=zones,
            mount_options=w.PD_MOUNT_OPTIONS,
        ),
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=disk.disks)),
    )
    return w.claim_weights(
        weights.backend.value,
        volume.claim_name,
        prefix,
        read_only_many=access == "ReadOnlyMany",
        dependencies=[volume.claim],
    )


VOLUME_POPULATOR_KSA = "hdml-populator"
"""KSA the Volume Populator's transfer Job reads the bucket as (its own: GKE's how-to warns that any pod
using it can read the bucket)."""


def _hyperdisk_ml_populated(
    config: StackConfig,
    stack: str,
    namespace: str,
    prefix: str,
    bucket_name: pulumi.Input[str],
    labels: dict[str, str],
    k8s_opts: pulumi.ResourceOptions,
    gcp_opts: pulumi.ResourceOptions,
    download: list[pulumi.Resource],
    gcp_depends_on: Sequence[pulumi.Resource],
) -> w.WeightsMount:
    """Hyperdisk ML filled from ``gs://bucket/<prefix>/`` by GKE's Volume Populator, after the download."""
    o = config.model.weights.hyperdisk_ml
    zones = tuple(weights_zones(config))
    populator = stack_identity(
        config.resource_name("weights-populator-identity"), config, stack, config.resource_name("hdml-pop"),
        namespace, config.resource_name(VOLUME_POPULATOR_KSA),
        inherited_depends_on(gcp_opts),
        bucket=BucketAccess(bucket_name, "reader", config.resource_name("weights-populator-bucket-reader")),
    )
    identity, reader = populator.identity, populator.bucket_grant
    assert reader is not None  # stack_identity grants what ``bucket`` asks for
    after: list[pulumi.Resource] = [reader, *download]
    if o.transfer.create_node_pool:
        after.append(_transfer_pool(config, stack, zones, labels, gcp_opts, gcp_depends_on))
    rev8 = config.model.revision[:8]
    families = (_machine_family(o.transfer.machine_type),) if o.transfer.create_compute_class else ()
    uri = w.gcs_url(bucket_name, prefix)
    volume = HyperdiskMlVolume(
        config.resource_name("weights-hdml"),
        HyperdiskMlVolumeArgs(
            namespace=namespace,
            claim_name=config.resource_name(f"model-weights-{rev8}"),
            source_uri=f"{uri}/" if isinstance(uri, str) else pulumi.Output.concat(uri, "/"),
            service_account_name=config.resource_name(VOLUME_POPULATOR_KSA),
            gcp_service_account=identity.email,
            zones=zones,
            size_gb=o.size_gb,
            throughput_mibps=o.throughput_mibps,
            timeout_seconds=transfer_timeout_seconds(config.model.weight_bytes()),
            transfer_path=prefix,
            cpu_request=o.transfer.cpu_request,
            compute_class_families=families,
            labels={"gke-inference/model-revision": rev8},
        ),
        opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=after)),
    )
    return w.claim_weights(
        "hyperdiskMl", volume.claim_name, prefix, read_only_many=True, dependencies=[volume.claim, *download]
    )


def _machine_family(machine_type: str) -> str:
    return machine_type.split("-")[0]


def _transfer_pool(
    config: StackConfig,
    stack: str,
    zones: tuple[str, ...],
    labels: dict[str, str],
    gcp_opts: pulumi.ResourceOptions,
    gcp_depends_on: Sequence[pulumi.Resource],
) -> TransferNodePool:
    """The labelled, tainted scale-from-zero pool ``gcs-to-hdml-compute-class`` runs on (no NAP here)."""
    cluster = next((r for r in gcp_depends_on if isinstance(r, GkeCluster)), None)
    if cluster is None:
        raise ValueError(
            "model.weights.hyperdiskMl.transfer.createNodePool: the transfer pool needs the cluster among "
            "gcp_depends_on (build_weights' caller passes it)"
        )
    return TransferNodePool(
        config.resource_name("weights-transfer"),
        TransferNodePoolArgs(
            project=config.project,
            cluster=cluster.cluster_id,
            location=config.cluster_location(),
            node_locations=zones,
            # The stack's node service account (stack/program.py: NodeServiceAccount gke-<stack>-nodes).
            service_account=f"gke-{stack}-nodes@{config.project}.iam.gserviceaccount.com",
            machine_type=config.model.weights.hyperdisk_ml.transfer.machine_type,
            labels=labels,
        ),
        opts=gcp_opts,
    )


def _pd_hydrated(
    config: StackConfig,
    namespace: str,
    prefix: str,
    k8s_opts: pulumi.ResourceOptions,
    hf_token_secret: str | None,
    image: pulumi.Input[str],
) -> w.WeightsMount:
    """A pd-* disk the downloader fills (hub → disk), snapshotted, restored ReadOnlyMany in the serving zone."""
    o = config.model.weights.persistent_disk
    rev8 = config.model.revision[:8]
    model_bytes = config.model.weight_bytes()
    budget = download_budget(model_bytes)

    def fill(claim: str, opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return ModelDownloader(
            config.resource_name("weights-fill"),
            ModelDownloaderArgs(
                namespace=namespace,
                image=image,
                repo_id=config.model.id,
                revision=config.model.revision,
                destination=f"{FILL_MOUNT}/{prefix}",
                service_account_name="default",
                hf_token_secret=hf_token_secret,
                base_name="model-fill",
                scratch_gi=w.size_gi(model_bytes),
                node_selector=_system_selector(config),
                budget=budget,
                flush=True,
                extra_volumes=({"name": "fill", "persistentVolumeClaim": {"claimName": claim}},),
                extra_volume_mounts=({"name": "fill", "mountPath": FILL_MOUNT},),
            ),
            opts=opts,
        ).job

    volume = SnapshotHydratedVolume(
        config.resource_name("weights-pd"),
        SnapshotHydratedVolumeArgs(
            namespace=namespace,
            claim_name=config.resource_name(f"model-weights-{rev8}"),
            disk_type=o.disk_type,
            zone=single_weights_zone(config),
            size_gb=o.size_gb,
            access_mode=o.access_mode,
            timeout_seconds=transfer_timeout_seconds(model_bytes),
            labels={"gke-inference/model-revision": rev8},
        ),
        fill,
        opts=k8s_opts,
    )
    return w.claim_weights(
        "persistentDisk",
        volume.claim_name,
        prefix,
        read_only_many=o.access_mode == "ReadOnlyMany",
        dependencies=[volume.claim, volume.fill_job],
    )


def _filestore(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    namespace: str,
    prefix: str,
    labels: dict[str, str],
    k8s_opts: pulumi.ResourceOptions,
    gcp_opts: pulumi.ResourceOptions,
    hf_token_secret: str | None,
    downloader_image: pulumi.Input[str] | None,
) -> w.WeightsMount:
    o = config.model.weights.filestore
    location = weights_zones(config)[0] if o.tier in ZONAL_TIERS else config.region
    share = FilestoreShare(
        config.resource_name("weights-filestore"),
        FilestoreShareArgs(
            project=config.project,
            instance_name=gce_name(f"{config.model.slug()}-{stack}", "models"),
            location=location,
            network=filestore_network(config),
            tier=o.tier,
            capacity_gb=o.capacity_gb,
            share_name=o.share_name,
            labels=labels,
        ),
        opts=gcp_opts,
    )
    rev8 = config.model.revision[:8]
    volume = w.ModelVolume(
        config.resource_name(f"model-weights-{rev8}"),
        w.ModelVolumeArgs(
            namespace=namespace,
            capacity_gb=o.capacity_gb,
            access_mode="ReadWriteMany",
            source=w.nfs_source(share.ip_address, o.share_name),
            mount_options=w.nfs_mount_options(o.nconnect),
        ),
        opts=k8s_opts,
    )
    dependencies: list[pulumi.Resource] = [volume.claim]
    if downloader_image is not None:
        dependencies.append(
            _populate_share(config, namespace, prefix, share, k8s_opts, hf_token_secret, downloader_image).job
        )
    return w.claim_weights("filestore", volume.claim_name, prefix, read_only_many=True, dependencies=dependencies)


def _populate_share(
    config: StackConfig,
    namespace: str,
    prefix: str,
    share: FilestoreShare,
    k8s_opts: pulumi.ResourceOptions,
    hf_token_secret: str | None,
    image: pulumi.Input[str],
) -> ModelDownloader:
    """The downloader writing straight onto the share (hub → NFS); no cloud credentials needed."""
    destination = f"{SHARE_MOUNT}/{prefix}"
    # The export root belongs to root: create the model folder and hand it to the downloader's UID.
    prepare = {
        "name": "prepare-share",
        "image": image,
        "command": [
            "python3",
            "-c",
            "import os, sys; os.makedirs(sys.argv[1], exist_ok=True); "
            "os.chown(sys.argv[1], int(sys.argv[2]), int(sys.argv[2]))",
            destination,
            str(DOWNLOADER_UID),
        ],
        # Root with CHOWN only: a new Filestore share is root-owned and the downloader is not.
        "securityContext": root_init_security_context(["CHOWN"]),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "share", "mountPath": SHARE_MOUNT}],
    }
    return ModelDownloader(
        config.resource_name("weights-populate"),
        ModelDownloaderArgs(
            namespace=namespace,
            image=image,
            repo_id=config.model.id,
            revision=config.model.revision,
            destination=destination,
            service_account_name="default",
            hf_token_secret=hf_token_secret,
            base_name="model-populate",
            scratch_gi=w.size_gi(config.model.weight_bytes()),
            budget=download_budget(config.model.weight_bytes()),
            node_selector=_system_selector(config),
            init_containers=(prepare,),
            checkov_skips=(
                (
                    "CKV_K8S_25",
                    "prepare-share adds CHOWN (and nothing else) to hand the model folder on the "
                    "root-owned NFS export to the non-root downloader; kubelet applies no fsGroup to NFS",
                ),
            ),
            extra_volumes=({"name": "share", "nfs": {"server": share.ip_address, "path": f"/{share.share_name}"}},),
            extra_volume_mounts=({"name": "share", "mountPath": SHARE_MOUNT},),
        ),
        opts=k8s_opts,
    )


def build_batch(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    bucket_name: pulumi.Input[str],
    namespace: str,
    k8s_depends_on: Sequence[pulumi.Resource],
    weights: w.WeightsMount,
    pool: Pool,
    *,
    serving_image: pulumi.Input[str] | None = None,
    gcp_depends_on: Sequence[pulumi.Resource] = (),
) -> BatchInference | None:
    """The batch Job when ``batch.enabled`` (None otherwise).

    Args:
        weights: the ``WeightsMount`` from ``build_weights`` (the Job reads the same weights).
        pool: the batch pool (``batch.pool`` or ``serving.pool``): the Job's node selector and tolerations.
        k8s_depends_on: what the Job waits for: the Namespace and the batch pool its pods need.
        Other args as ``build_weights``.
    """
    batch = config.batch
    if not batch.enabled:
        return None
    gcp_opts = pulumi.ResourceOptions(depends_on=list(gcp_depends_on))
    identity = _bucket_writer(
        "batch-identity", config, stack, "vllm-batch", BATCH_KSA, namespace, bucket_name, gcp_opts
    )
    k8s_deps = list(k8s_depends_on)
    return BatchInference(
        "batch",
        config.batch_args(
            stack,
            image=serving_image if serving_image is not None else config.serving.image,
            weights=weights,
            pool=pool,
            bucket_name=bucket_name,
            gcp_service_account=identity.email,
        ),
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=k8s_deps),
    )
