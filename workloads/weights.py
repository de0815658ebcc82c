"""Weight-loading backends behind one interface: what the vLLM pod needs to read the model.

Each backend returns a ``WeightsMount``: the volumes, mounts, pod annotations, env, extra vLLM
flags, init containers and the ``--model`` path of one way of getting weights into the pod.
The GCP side (disks, Filestore) lives in ``infra/``; the Kubernetes side of the volume-backed
backends (a static PersistentVolume bound to one claim) is ``ModelVolume`` below.

| backend          | where the bytes come from                    | replicas per volume       |
|------------------|----------------------------------------------|---------------------------|
| `gcsfuse`        | the bucket through Cloud Storage FUSE (CSI)  | any (read-only)           |
| `persistentDisk` | a pre-populated pd-ssd/pd-balanced disk      | read-only multi-attach    |
| `hyperdiskMl`    | Hyperdisk ML in READ_ONLY_MANY               | read-only multi-attach    |
| `filestore`      | a Filestore NFS share                        | any (ReadWriteMany)       |
| `runaiStreamer`  | `gs://` straight into GPU memory (no volume) | any                       |
| `huggingFace`    | the hub, at every pod start (slow baseline)  | one copy per pod          |

Sources are cited next to each value: ../shared/reference/gke-inference-anchors.md ("anchors"),
the GCS FUSE CSI driver code and GKE docs as the anchors quote them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra.options import inherited_depends_on
from infra.validation import Problem, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name
from workloads.pod_security import container_security_context

MODEL_ROOT = "/models"
"""Where every volume backend mounts the weights in the vLLM container."""
VOLUME_NAME = "model-weights"
"""Pod volume name of the weights (fixed: the lead's VllmServer and the batch Job mount it by name)."""
GIB = 1024**3
CACHE_HEADROOM = 1.1
"""Caches and scratch volumes are sized to the weights plus 10% (tokenizer, config, filesystem slack)."""

GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
PD_DRIVER = "pd.csi.storage.gke.io"
ZONE_LABEL = "topology.gke.io/zone"
"""Topology key the PD CSI driver uses (driver `common/constants.go`: TopologyKeyZone)."""
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
"""Where the hub token Secret is mounted as a file; ``HF_TOKEN_PATH`` points huggingface_hub at it
(a file, not an env var, so the token never shows in the pod spec's environment)."""
HF_TOKEN_VOLUME = "hf-token"
GCSFUSE_CACHE_VOLUME = "gke-gcsfuse-cache"
"""The sidecar's file-cache volume; the driver looks it up by this exact name (anchors §5.3)."""

Backend = Literal["gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace"]
BACKENDS: tuple[str, ...] = ("gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace")


@dataclass(frozen=True)
class WeightsMount:
    """What the vLLM pod needs to read the model, whatever the backend."""

    backend: str
    """One of ``BACKENDS``."""
    model_path: pulumi.Input[str]
    """Value of vLLM's ``--model``: a local mount path, or ``gs://bucket/prefix`` for runaiStreamer."""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    """Kubernetes Volume objects (camelCase dicts; values may be Outputs)."""
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)
    """Mounts for the vLLM container (readOnly where the weights are)."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """Pod-template annotations (e.g. the GCS FUSE sidecar injection and its resources)."""
    env: list[dict[str, Any]] = field(default_factory=list)
    """Env vars for the vLLM container."""
    vllm_args: list[str] = field(default_factory=list)
    """Extra vLLM flags, e.g. ``["--load-format", "runai_streamer"]``."""
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    """Init containers that must finish before vLLM starts (huggingFace: the download)."""
    needs_bucket_read: bool = False
    """The serving GSA needs roles/storage.objectViewer on the model bucket."""
    read_only_many: bool = True
    """The volume can back many replicas at once (a ReadWriteOnce disk backs one)."""
    dependencies: list[pulumi.Resource] = field(default_factory=list)
    """Resources the Deployment must wait for (claims, download Jobs)."""
    fuse_sidecar: bool = False
    """GKE injects the gke-gcsfuse sidecar into the pod (the pod is sized to leave it room)."""
    offline_hub: bool = True
    """The weights are local or in the bucket: vLLM runs with ``HF_HUB_OFFLINE=1`` (False: it may reach the hub)."""
    local_ssd_file_cache: bool = False
    """The backend caches on node ephemeral storage and needs the pool's Local SSD (``local_ssd_mode``
    ephemeral) behind it; the server refuses a pool without."""


class BackendTraits(TypedDict):
    needs_bucket_read: bool
    fuse_sidecar: bool
    offline_hub: bool


BACKEND_TRAITS: dict[str, BackendTraits] = {
    "gcsfuse": {"needs_bucket_read": True, "fuse_sidecar": True, "offline_hub": True},
    "runaiStreamer": {"needs_bucket_read": True, "fuse_sidecar": False, "offline_hub": True},
    "huggingFace": {"needs_bucket_read": False, "fuse_sidecar": False, "offline_hub": False},
    "persistentDisk": {"needs_bucket_read": False, "fuse_sidecar": False, "offline_hub": True},
    "hyperdiskMl": {"needs_bucket_read": False, "fuse_sidecar": False, "offline_hub": True},
    "filestore": {"needs_bucket_read": False, "fuse_sidecar": False, "offline_hub": True},
}
"""What each backend's mount asks of the pod and its identity (the one table; the builders below use it)."""


def weights_shape(backend: str, *, read_only_many: bool = True, local_ssd_file_cache: bool = False) -> WeightsMount:
    """A backend's ``WeightsMount`` flags without volumes or dependencies: what a stack config checks a
    server against before any resource exists (``validate_vllm_server_args``)."""
    return WeightsMount(
        backend=backend, model_path=MODEL_ROOT, read_only_many=read_only_many,
        local_ssd_file_cache=local_ssd_file_cache, **BACKEND_TRAITS[backend],
    )


def default_prefix(model_id: str, revision: str) -> str:
    """Object prefix of a model revision in the bucket: ``models/<model id>/<revision>``."""
    return f"models/{model_id}/{revision}"


def size_gi(size_bytes: float, headroom: float = CACHE_HEADROOM) -> int:
    """Whole GiB that hold ``size_bytes`` plus ``headroom`` (at least 1)."""
    return max(1, math.ceil(size_bytes * headroom / GIB))


def _weights_mount_entry() -> dict[str, Any]:
    return {"name": VOLUME_NAME, "mountPath": MODEL_ROOT, "readOnly": True}


# --------------------------------------------------------------------------------------------
# gcsfuse
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GcsFuseArgs:
    """Cloud Storage FUSE CSI (ephemeral inline volume) tuned for read-only model files."""

    bucket_name: pulumi.Input[str]
    """The model bucket."""
    prefix: str
    """Object prefix of the model; mounted as the volume root (``only-dir``)."""
    file_cache: Literal["localSsd", "memory", "none"]
    """Where the gcsfuse file cache lives: node ephemeral storage (Local SSD), a RAM disk, or nowhere."""
    model_bytes: float
    """Size of the weights; sizes the cache and the sidecar's resource requests."""
    parallel_downloads: bool = True
    """``file-cache:enable-parallel-downloads`` (needs the file cache; gcsfuse >= 2.4, anchors §5.3)."""
    metadata_prefetch: bool = True
    """``gcsfuseMetadataPrefetchOnMount`` volume attribute (GKE >= 1.32.1-gke.1357001 per GKE's GCS FUSE docs)."""
    sidecar_cpu_limit: str = "0"
    """``gke-gcsfuse/cpu-limit``; "0" = unbounded (anchors §5.3)."""
    sidecar_memory_limit: str = "0"
    """``gke-gcsfuse/memory-limit``; "0" = unbounded."""
    sidecar_ephemeral_storage_limit: str = "0"
    """``gke-gcsfuse/ephemeral-storage-limit``; "0" = unbounded. The Local SSD file cache counts
    against it, so anything smaller than the model evicts the sidecar (anchors §7 OOM/eviction issues)."""



def _prefix_problems(prefix: str) -> list[Problem]:
    if not prefix or prefix.startswith("/"):
        return [Problem("prefix", f"'{prefix}' must be a relative object prefix like models/<id>/<rev>")]
    return []


def validate_gcs_fuse_args(args: GcsFuseArgs) -> list[Problem]:
    """Problems with the gcsfuse backend's arguments (pure)."""
    problems = type_problems(args, GcsFuseArgs)
    if problems:
        return problems
    return _prefix_problems(args.prefix) + at_least("model_bytes", args.model_bytes, 1, "it sizes the file cache")


def gcsfuse_mount_options(args: GcsFuseArgs) -> list[str]:
    """gcsfuse mount options for immutable model files.

    ACP's tuned serving manifest (anchors §2.5) plus what metadata prefetch needs (GKE docs:
    stat/type caches unbounded, metadata TTL and kernel list cache never expire). Model files never
    change under a revision prefix, so caching metadata forever is safe.
    """
    options = [
        "implicit-dirs",
        f"only-dir={args.prefix.rstrip('/')}",  # mount the model prefix as the root (anchors §5.3)
        "metadata-cache:ttl-secs:-1",
        "metadata-cache:stat-cache-max-size-mb:-1",
        "metadata-cache:type-cache-max-size-mb:-1",
        "metadata-cache:negative-ttl-secs:0",
        "file-system:kernel-list-cache-ttl-secs:-1",
    ]
    if args.file_cache != "none":
        options += ["file-cache:max-size-mb:-1", "file-cache:cache-file-for-range-read:true"]
        if args.parallel_downloads:
            options.append("file-cache:enable-parallel-downloads:true")
    return options


def gcsfuse_weights(args: GcsFuseArgs) -> WeightsMount:
    """The model bucket mounted read-only through the GCS FUSE CSI driver, as an inline ephemeral volume.

    File cache: ``localSsd`` leaves the driver's default ``gke-gcsfuse-cache`` emptyDir in place,
    which lives on node ephemeral storage, i.e. on Local SSD when the pool has
    ``ephemeral_storage_local_ssd_config`` (anchors §5.6); ``memory`` declares that volume as a RAM
    disk sized to the model (anchors §2.5 tuned manifest). Either way the sidecar requests the cache
    size, so the scheduler reserves it.
    """
    raise_if_problems("gcsfuse_weights", args.prefix, validate_gcs_fuse_args(args))
    cache_gi = size_gi(args.model_bytes)
    attributes: dict[str, Any] = {
        "bucketName": args.bucket_name,
        "mountOptions": ",".join(gcsfuse_mount_options(args)),
    }
    if args.metadata_prefetch:
        attributes["gcsfuseMetadataPrefetchOnMount"] = "true"
    volumes: list[dict[str, Any]] = [
        {"name": VOLUME_NAME, "csi": {"driver": GCSFUSE_DRIVER, "readOnly": True, "volumeAttributes": attributes}}
    ]
    annotations = {
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/cpu-limit": args.sidecar_cpu_limit,
        "gke-gcsfuse/memory-limit": args.sidecar_memory_limit,
        "gke-gcsfuse/ephemeral-storage-limit": args.sidecar_ephemeral_storage_limit,
    }
    if args.file_cache == "memory":
        volumes.append({"name": GCSFUSE_CACHE_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": f"{cache_gi}Gi"}})
        # tmpfs pages are charged to the sidecar that writes them: reserve them on the node.
        annotations["gke-gcsfuse/memory-request"] = f"{cache_gi}Gi"
    elif args.file_cache == "localSsd":
        annotations["gke-gcsfuse/ephemeral-storage-request"] = f"{cache_gi}Gi"
    return WeightsMount(
        backend="gcsfuse",
        model_path=MODEL_ROOT,
        volumes=volumes,
        volume_mounts=[_weights_mount_entry()],
        pod_annotations=annotations,
        read_only_many=True,
        local_ssd_file_cache=args.file_cache == "localSsd",
        **BACKEND_TRAITS["gcsfuse"],
    )


# --------------------------------------------------------------------------------------------
# runaiStreamer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunaiStreamerArgs:
    """vLLM's Run:ai Model Streamer reading safetensors straight from ``gs://``."""

    bucket_name: pulumi.Input[str]
    """The model bucket (read through Workload Identity: Application Default Credentials)."""
    prefix: str
    """Object prefix of the model."""
    concurrency: int = 16
    """RUNAI_STREAMER_CONCURRENCY: parallel readers."""
    memory_limit_bytes: int = -1
    """RUNAI_STREAMER_MEMORY_LIMIT: CPU staging buffer; -1 = unlimited."""
    distributed: bool = False
    """``--model-loader-extra-config {"distributed":true}``: each tensor-parallel rank streams its share
    (ACP's llm-d path, anchors §2.5); only meaningful with more than one GPU."""



def validate_runai_streamer_args(args: RunaiStreamerArgs) -> list[Problem]:
    """Problems with the runaiStreamer backend's arguments (pure)."""
    problems = type_problems(args, RunaiStreamerArgs)
    if problems:
        return problems
    problems = _prefix_problems(args.prefix) + at_least("concurrency", args.concurrency, 1)
    if args.memory_limit_bytes < -1:
        problems.append(Problem("memory_limit_bytes", f"{args.memory_limit_bytes} must be -1 (unlimited) or a byte "
                                                      "count"))
    return problems


def gcs_url(bucket_name: pulumi.Input[str], prefix: str) -> pulumi.Input[str]:
    """``gs://<bucket>/<prefix>``; a plain string when the bucket name is one."""
    if isinstance(bucket_name, str):
        return f"gs://{bucket_name}/{prefix.strip('/')}"
    return pulumi.Output.concat("gs://", bucket_name, "/", prefix.strip("/"))


def runai_streamer_weights(args: RunaiStreamerArgs) -> WeightsMount:
    """No volume: vLLM streams tensors from ``gs://`` into GPU memory (``--load-format runai_streamer``).

    vLLM 0.32's loader reads RUNAI_STREAMER_CONCURRENCY / RUNAI_STREAMER_MEMORY_LIMIT
    (``model_executor/model_loader/runai_streamer_loader.py``); the flag is accepted by its parser
    (reference/real-vllm-on-cpu.md).
    """
    raise_if_problems("runai_streamer_weights", args.prefix, validate_runai_streamer_args(args))
    vllm_args = ["--load-format", "runai_streamer"]
    if args.distributed:
        vllm_args += ["--model-loader-extra-config", '{"distributed":true}']
    return WeightsMount(
        backend="runaiStreamer",
        model_path=gcs_url(args.bucket_name, args.prefix),
        env=[
            {"name": "RUNAI_STREAMER_CONCURRENCY", "value": str(args.concurrency)},
            {"name": "RUNAI_STREAMER_MEMORY_LIMIT", "value": str(args.memory_limit_bytes)},
        ],
        vllm_args=vllm_args,
        read_only_many=True,
        **BACKEND_TRAITS["runaiStreamer"],
    )


# --------------------------------------------------------------------------------------------
# huggingFace (slow baseline)
# --------------------------------------------------------------------------------------------

HF_DOWNLOAD_SCRIPT = (
    "import sys\n"
    "from huggingface_hub import snapshot_download\n"
    "snapshot_download(repo_id=sys.argv[1], revision=sys.argv[2], local_dir=sys.argv[3],\n"
    "                  ignore_patterns=['original/*', '*.pth'])\n"
)
"""Download one pinned revision; consolidated ``original/*.pth`` checkpoints are skipped (vLLM reads safetensors)."""


@dataclass(frozen=True)
class HuggingFaceArgs:
    """Download from the Hugging Face hub into the pod at every start. Slow baseline for dev only."""

    repo_id: str
    """Hub repository, e.g. meta-llama/Llama-3.1-8B-Instruct."""
    revision: str
    """Pinned commit."""
    image: pulumi.Input[str]
    """Image with Python and huggingface_hub (the vLLM image has both), pinned by digest."""
    model_bytes: float
    """Size of the weights; sizes the emptyDir."""
    token_secret: str | None = None
    """Secret holding the hub token under key ``token`` (``<serving name>-hf-token``); None for public models."""
    token_key: str = "token"
    """Key of the token in that Secret."""


def token_volume(secret: str, key: str = "token") -> dict[str, Any]:
    """The hub-token Secret as a volume holding one file, ``token`` (group-readable for fsGroup)."""
    return {
        "name": HF_TOKEN_VOLUME,
        "secret": {"secretName": secret, "items": [{"key": key, "path": "token"}], "defaultMode": 0o440},
    }


def hugging_face_weights(args: HuggingFaceArgs) -> WeightsMount:
    """An init container downloads the revision into an emptyDir; vLLM then reads it read-only.

    The emptyDir lives on node ephemeral storage: Local SSD on pools with
    ``ephemeral_storage_local_ssd_config`` (anchors §5.6), the boot disk otherwise.
    """
    size = size_gi(args.model_bytes)
    target = f"{MODEL_ROOT}/{args.repo_id}"
    env: list[dict[str, Any]] = [
        {"name": "HF_HOME", "value": f"{MODEL_ROOT}/.hf-home"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "TMPDIR", "value": MODEL_ROOT},  # the root filesystem is read-only
    ]
    mounts: list[dict[str, Any]] = [{"name": VOLUME_NAME, "mountPath": MODEL_ROOT}]
    volumes: list[dict[str, Any]] = [{"name": VOLUME_NAME, "emptyDir": {"sizeLimit": f"{size}Gi"}}]
    if args.token_secret:
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/token"})
        mounts.append({"name": HF_TOKEN_VOLUME, "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append(token_volume(args.token_secret, args.token_key))
    init = {
        "name": "download-weights",
        "image": args.image,
        "command": ["python3", "-c", HF_DOWNLOAD_SCRIPT, args.repo_id, args.revision, target],
        "env": env,
        "volumeMounts": mounts,
        "resources": {
            "requests": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "4", "memory": "8Gi"},
        },
        "securityContext": container_security_context(None),
    }
    return WeightsMount(
        backend="huggingFace",
        model_path=target,
        volumes=volumes,
        volume_mounts=[_weights_mount_entry()],
        init_containers=[init],
        read_only_many=True,
        **BACKEND_TRAITS["huggingFace"],
    )


# --------------------------------------------------------------------------------------------
# Volume-backed backends: persistentDisk, hyperdiskMl, filestore
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelVolumeArgs:
    """A static PersistentVolume holding the weights, pre-bound to one claim."""

    namespace: str
    """Namespace of the claim (the serving namespace)."""
    capacity_gb: int
    """Capacity recorded on the PV/PVC (the disk or share size)."""
    access_mode: Literal["ReadOnlyMany", "ReadWriteOnce", "ReadWriteMany"]
    """Access mode of PV and PVC."""
    source: dict[str, Any]
    """The PV's volume source, e.g. ``{"csi": {...}}`` or ``{"nfs": {...}}``."""
    zones: tuple[str, ...] = ()
    """Zones whose nodes can attach it (PV node affinity on ``topology.gke.io/zone``); empty = any."""
    mount_options: tuple[str, ...] = ()
    """``spec.mountOptions`` of the PV."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels on PV and PVC."""



def validate_model_volume_args(args: ModelVolumeArgs) -> list[Problem]:
    """Problems with a ModelVolume's arguments (pure)."""
    problems = type_problems(args, ModelVolumeArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace) + at_least("capacity_gb", args.capacity_gb, 1)
    if len(args.source) != 1:
        problems.append(Problem("source", "give exactly one volume source, e.g. {'csi': {...}}"))
    return problems


class ModelVolume(pulumi.ComponentResource):
    """A static PV (reclaim policy Retain: deleting it never deletes the disk) bound to one PVC.

    The PV carries ``claimRef`` and the PVC ``volumeName`` with ``storageClassName: ""``, so they
    bind only to each other and no provisioner is involved.
    """

    claim_name: str
    volume_name: str
    claim: k8s.core.v1.PersistentVolumeClaim

    def __init__(self, name: str, args: ModelVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("ModelVolume", name, validate_model_volume_args(args))
        super().__init__("gke-inference:workloads:ModelVolume", name, {}, opts)
        after = inherited_depends_on(opts)
        self.claim_name = name
        self.volume_name = f"{args.namespace}-{name}"  # PVs are cluster-scoped: namespace makes it unique
        labels = {"app.kubernetes.io/component": "model-weights", **args.labels}
        spec: Any = {
            "capacity": {"storage": f"{args.capacity_gb}Gi"},
            "accessModes": [args.access_mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "claimRef": {"namespace": args.namespace, "name": self.claim_name},
            **args.source,
        }
        if args.mount_options:
            spec["mountOptions"] = list(args.mount_options)
        if args.zones:
            spec["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": list(args.zones)}]}
                    ]
                }
            }
        # Typed as Any: mypy does not match plain dicts against pulumi-kubernetes' TypedDict inputs.
        pv_meta: Any = {"name": self.volume_name, "labels": labels}
        pvc_meta: Any = {"name": self.claim_name, "namespace": args.namespace, "labels": labels}
        pvc_spec: Any = {
            "accessModes": [args.access_mode],
            "storageClassName": "",
            "volumeName": self.volume_name,
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": f"{args.capacity_gb}Gi"}},
        }
        volume = k8s.core.v1.PersistentVolume(
            f"{name}-pv",
            metadata=pv_meta,
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        self.claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pvc",
            metadata=pvc_meta,
            spec=pvc_spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, volume]),
        )
        self.register_outputs({"claimName": self.claim_name, "volumeName": self.volume_name})


def claim_weights(
    backend: str, claim_name: str, model_subpath: str, read_only_many: bool, dependencies: list[pulumi.Resource]
) -> WeightsMount:
    """Weights on a PVC (persistentDisk, hyperdiskMl, filestore), mounted read-only at ``/models``.

    Args:
        backend: the backend name.
        claim_name: the PVC.
        model_subpath: where the model sits inside the volume (the bucket's layout, ``models/<id>/<rev>``).
        read_only_many: whether many replicas may mount the claim at once.
        dependencies: the claim (and anything populating it) the Deployment waits for.
    """
    return WeightsMount(
        backend=backend,
        model_path=f"{MODEL_ROOT}/{model_subpath.strip('/')}",
        volumes=[{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": claim_name, "readOnly": True}}],
        volume_mounts=[_weights_mount_entry()],
        read_only_many=read_only_many,
        dependencies=dependencies,
        **BACKEND_TRAITS[backend],
    )


def pd_source(volume_handle: pulumi.Input[str], fs_type: str = "ext4") -> dict[str, Any]:
    """A read-only PD CSI source. ``readOnly`` makes the driver attach the disk READ_ONLY, which lets
    many nodes attach it at once (anchors §5.4)."""
    return {"csi": {"driver": PD_DRIVER, "volumeHandle": volume_handle, "fsType": fs_type, "readOnly": True}}


PD_MOUNT_OPTIONS = ("read_ahead_kb=4096",)
"""Read-ahead for large sequential reads (ACP's PV, anchors §2.6 / §5.4)."""


def nfs_source(server: pulumi.Input[str], share_name: str) -> dict[str, Any]:
    """A read-only NFS source for a Filestore share (export path ``/<share>``)."""
    return {"nfs": {"server": server, "path": f"/{share_name}", "readOnly": True}}


def nfs_mount_options(nconnect: int) -> tuple[str, ...]:
    """NFS client options for reading large files: several TCP connections, 1 MiB transfers, read-only.

    ``nconnect`` spreads one mount over several connections (Linux >= 5.3; Filestore documents it for
    its zonal/regional/enterprise tiers); ``hard`` retries instead of returning I/O errors to vLLM.
    """
    if not 1 <= nconnect <= 16:
        raise ValueError(f"nconnect: {nconnect} must be 1–16 (the Linux client's maximum)")
    return ("ro", "hard", f"nconnect={nconnect}", "rsize=1048576", "wsize=1048576", "timeo=600", "retrans=3")
