"""Model disks the stack fills itself: Hyperdisk ML through GKE's Volume Populator, Persistent Disk through
a fill Job and a CSI volume snapshot. Both end in a ReadOnlyMany claim that ``pulumi up`` waits for.

Hyperdisk ML (``HyperdiskMlVolume``), facts from GKE's how-to "Automate data transfer from Cloud Storage to
a Hyperdisk ML volume using GKE Volume Populator" (field-2026-12.md §3.1):

* a ``GCPDataSource`` (``datalayer.gke.io/v1``, in the workload's namespace) names the bucket folder
  (``gs://bucket/prefix/``, trailing slash) and a KSA whose Workload Identity may read it;
* a ``ReadOnlyMany`` claim of a ``hyperdisk-ml`` StorageClass with ``dataSourceRef`` to it; with
  ``volumeBindingMode: Immediate`` the transfer starts at claim creation and the claim binds when the data
  is on the disk in every zone of the class, so ``pulumi.com/waitFor: jsonpath={.status.phase}=Bound``
  makes ``up`` wait for the transfer (field-2026-12.md §7.2);
* the transfer Job runs on nodes of the ComputeClass named exactly ``gcs-to-hdml-compute-class``;
* delete the claim before the data source, or deletion hangs: the claim depends on the data source, so
  Pulumi deletes it first.

Persistent Disk (``SnapshotHydratedVolume``): the Volume Populator targets Hyperdisk ML and Parallelstore
only (https://cloud.google.com/kubernetes-engine/docs/concepts/about-volume-populator), so the stack does
the same in three awaited steps: a ReadWriteOnce claim of the pd-* type that a fill Job (the downloader)
writes, a ``VolumeSnapshot`` of it (``snapshot.storage.k8s.io/v1``; the snapshot CRDs and controller are
GKE-managed, PD CSI snapshots from GKE 1.17.6-gke.4,
https://cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/backup-pd-volume-snapshots), and
the serving claim restored from that snapshot, ReadOnlyMany in the serving zone (GKE documents ROX PD
claims restored from a VolumeSnapshot: …/persistent-volumes/readonlymany-disks).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes import _utilities as k8s_utilities

from infra.model_disk import HYPERDISK_ML_MIN_THROUGHPUT_MIBPS, TRANSFER_COMPUTE_CLASS
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems, unique
from workloads.arg_rules import at_least, namespace_name, object_name
from workloads.model_downloader import ModelDownloader, ModelDownloaderArgs, await_timeouts
from workloads.service_account import workload_identity_service_account
from workloads.weights import PD_DRIVER, ZONE_LABEL, inherited_depends_on

CPU_REQUEST_ANNOTATION = "volume-populator.datalayer.gke.io/cpu-request"
"""PVC annotation: CPU request of the transfer Job (GKE's default is 24 vCPU)."""
TRANSFER_PATH_ANNOTATION = "volume-populator.datalayer.gke.io/transfer-path"
"""PVC annotation: where inside the volume the data lands (default: the volume root)."""
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT = "pulumi.com/timeoutSeconds"
BOUND = "jsonpath={.status.phase}=Bound"
READY_TO_USE = "jsonpath={.status.readyToUse}=true"
SNAPSHOT_API = "snapshot.storage.k8s.io"

TRANSFER_GBPS = 0.03
"""Write rate the transfer timeout assumes (GB/s). No Volume Populator timing is published
(field-2026-12.md §3.6); the slowest published in-cluster hydrate is ACP's PD/Hyperdisk ML Job, "~10 min"
for Gemma-2-9B (≈18.5 GB, anchors §2.6/§7) ≈ 0.03 GB/s. A timeout only has to be long enough."""
TRANSFER_FLOOR_SECONDS = 1800
NODE_SLACK_SECONDS = 900
"""Creating the transfer node (scale-up from zero), the disks in every zone, and the binding."""


def transfer_timeout_seconds(model_bytes: float, rate_gbps: float = TRANSFER_GBPS) -> int:
    """How long ``up`` waits for a disk to be filled/restored: bytes / rate (floored) + node slack."""
    if model_bytes <= 0 or rate_gbps <= 0:
        raise ValueError("model_bytes and rate_gbps must be > 0")
    copy = max(TRANSFER_FLOOR_SECONDS, math.ceil(model_bytes / (rate_gbps * 1e9) / 60) * 60)
    return copy + NODE_SLACK_SECONDS


def waited(annotations: dict[str, str], condition: str, timeout_seconds: int) -> dict[str, str]:
    """Annotations that make pulumi-kubernetes wait for ``condition`` (field-2026-12.md §7.2)."""
    return {**annotations, WAIT_FOR: condition, TIMEOUT: str(timeout_seconds)}


def pd_storage_class(
    name: str,
    disk_type: str,
    zones: tuple[str, ...],
    binding: Literal["Immediate", "WaitForFirstConsumer"],
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A PD CSI StorageClass (``metadata``-less body: name, provisioner, parameters, binding, topology)."""
    body: dict[str, Any] = {
        "provisioner": PD_DRIVER,
        "parameters": {"type": disk_type, **(parameters or {})},
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": False,
        "volumeBindingMode": binding,
    }
    if zones:
        body["allowedTopologies"] = [{"matchLabelExpressions": [{"key": ZONE_LABEL, "values": list(zones)}]}]
    return {"metadata": {"name": name}, **body}


def _storage_class(resource_name: str, spec: dict[str, Any], labels: dict[str, str], opts: pulumi.ResourceOptions):
    meta: Any = {**spec["metadata"], "labels": labels}
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata=meta,
        provisioner=spec["provisioner"],
        parameters=spec["parameters"],
        reclaim_policy=spec["reclaimPolicy"],
        allow_volume_expansion=spec["allowVolumeExpansion"],
        volume_binding_mode=spec["volumeBindingMode"],
        allowed_topologies=spec.get("allowedTopologies"),
        opts=opts,
    )


class TopLevelObject(pulumi.CustomResource):
    """A custom-resource object whose fields sit beside ``metadata`` rather than under ``spec`` (e.g.
    VolumeSnapshotClass's ``driver``/``deletionPolicy``), which ``apiextensions.CustomResource`` cannot
    express. Registered exactly as pulumi-kubernetes registers a CustomResource: ``kubernetes:<apiVersion>:<kind>``."""

    def __init__(self, resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(version=k8s_utilities.get_version()))
        super().__init__(f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}", resource_name, dict(manifest), opts)


# --------------------------------------------------------------------------------------------
# Hyperdisk ML via the GKE Volume Populator
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HyperdiskMlVolumeArgs:
    namespace: str
    """Namespace of the claim and the GCPDataSource (must be the workload's)."""
    claim_name: str
    """Name of the ReadOnlyMany claim the pods mount."""
    source_uri: pulumi.Input[str]
    """``gs://bucket/prefix/`` (trailing slash: a folder)."""
    service_account_name: str
    """KSA the transfer Job authenticates as (its own: the doc warns against sharing it)."""
    gcp_service_account: pulumi.Input[str]
    """GSA email the KSA impersonates (roles/storage.objectViewer on the bucket)."""
    zones: tuple[str, ...]
    """Zones of the readers; several make a multi-zone volume (one disk per zone, one claim)."""
    size_gb: int
    """Disk size (must exceed the model; Hyperdisk ML takes more than 4 GiB)."""
    throughput_mibps: int
    """Provisioned throughput on create (``provisioned-throughput-on-create``)."""
    timeout_seconds: int
    """How long ``up`` waits for the claim to bind (the transfer)."""
    transfer_path: str = ""
    """Folder inside the volume the data lands in; empty = the root."""
    cpu_request: str | None = None
    """Transfer Job CPU request; None keeps GKE's default (24 vCPU)."""
    compute_class_families: tuple[str, ...] = ("c3", "c3d")
    """Machine families of ``gcs-to-hdml-compute-class`` (the how-to's c3/c3d); empty creates no class."""
    node_pool_auto_creation: bool = False
    """``nodePoolAutoCreation`` on the class: only with node auto-provisioning (the stack's clusters have
    none; a labelled, tainted transfer pool serves the class instead)."""
    labels: dict[str, str] = field(default_factory=dict)


HYPERDISK_ML_MIN_GB = 4
"""A Hyperdisk ML volume must be larger than 4 GiB: the rule this component always applied and the stack config
applies to ``model.weights.hyperdiskMl.sizeGb`` (≥ 5); no published source beyond that is vendored here."""


def _volume_names(namespace: str, claim_name: str) -> list[Problem]:
    return namespace_name("namespace", namespace) + object_name("claim_name", claim_name, "claim name")


def validate_hyperdisk_ml_volume_args(args: HyperdiskMlVolumeArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, the bucket folder, zones, size, throughput, timeout."""
    problems = type_problems(args, HyperdiskMlVolumeArgs)
    if problems:
        return problems
    problems = _volume_names(args.namespace, args.claim_name)
    problems += object_name("service_account_name", args.service_account_name, "service account name")
    if isinstance(args.source_uri, str) and not (args.source_uri.startswith("gs://") and args.source_uri.endswith("/")):
        problems.append(Problem("source_uri", f"'{args.source_uri}' must be gs://BUCKET/PATH/ with a trailing slash "
                                              "(a folder)"))
    if not args.zones:
        problems.append(Problem("zones", "empty; give at least one zone (the readers' zones)"))
    problems += unique("zones", args.zones, "zone")
    if args.size_gb <= HYPERDISK_ML_MIN_GB:
        problems.append(Problem("size_gb", f"{args.size_gb} must exceed {HYPERDISK_ML_MIN_GB} (Hyperdisk ML size "
                                           "range)"))
    problems += at_least("throughput_mibps", args.throughput_mibps, HYPERDISK_ML_MIN_THROUGHPUT_MIBPS,
                         "the lowest Hyperdisk ML throughput this project provisions")
    problems += at_least("timeout_seconds", args.timeout_seconds, 1)
    if args.transfer_path.startswith("/"):
        problems.append(Problem("transfer_path", f"'{args.transfer_path}' is a folder inside the volume; drop the "
                                                 "leading '/'"))
    return problems + kubernetes_labels("labels", args.labels)


def computeclass_spec(families: tuple[str, ...], auto_create: bool) -> dict[str, Any]:
    """``gcs-to-hdml-compute-class``'s spec as the how-to writes it."""
    spec: dict[str, Any] = {
        "priorities": [{"machineFamily": f} for f in families],
        "whenUnsatisfiable": "DoNotScaleUp",
    }
    if auto_create:
        spec["nodePoolAutoCreation"] = {"enabled": True}
    return spec


class HyperdiskMlVolume(pulumi.ComponentResource):
    """A ReadOnlyMany Hyperdisk ML claim filled from a bucket folder by GKE's Volume Populator (module doc)."""

    claim: k8s.core.v1.PersistentVolumeClaim
    claim_name: str
    data_source: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: HyperdiskMlVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("HyperdiskMlVolume", name, validate_hyperdisk_ml_volume_args(args))
        super().__init__("gke-inference:workloads:HyperdiskMlVolume", name, {}, opts)
        after = inherited_depends_on(opts)
        labels = {"app.kubernetes.io/component": "model-weights", **args.labels}
        self.claim_name = args.claim_name
        ksa = workload_identity_service_account(
            f"{name}-ksa",
            args.service_account_name,
            args.namespace,
            args.gcp_service_account,
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        before_claim: list[pulumi.Resource] = [ksa]
        if args.compute_class_families:
            before_claim.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-compute-class",
                    api_version="cloud.google.com/v1",
                    kind="ComputeClass",
                    metadata={"name": TRANSFER_COMPUTE_CLASS, "labels": labels},
                    spec=computeclass_spec(args.compute_class_families, args.node_pool_auto_creation),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=after),
                )
            )
        class_name = f"{args.namespace}-{args.claim_name}-hdml"
        parameters = {"provisioned-throughput-on-create": f"{args.throughput_mibps}Mi"}
        if len(args.zones) > 1:
            parameters["enable-multi-zone-provisioning"] = "true"  # one disk per zone (anchors §3.9)
        before_claim.append(
            _storage_class(
                f"{name}-storage-class",
                pd_storage_class(class_name, "hyperdisk-ml", args.zones, "Immediate", parameters),
                labels,
                pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        )
        # Created after whatever filled the bucket (the downloader Job, passed in opts.depends_on).
        self.data_source = k8s.apiextensions.CustomResource(
            f"{name}-data-source",
            api_version="datalayer.gke.io/v1",
            kind="GCPDataSource",
            metadata={"name": args.claim_name, "namespace": args.namespace, "labels": labels},
            spec={"cloudStorage": {"serviceAccountName": args.service_account_name, "uri": args.source_uri}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, ksa]),
        )
        annotations: dict[str, str] = {}
        if args.cpu_request is not None:
            annotations[CPU_REQUEST_ANNOTATION] = args.cpu_request
        if args.transfer_path:
            annotations[TRANSFER_PATH_ANNOTATION] = args.transfer_path
        pvc_meta: Any = {
            "name": args.claim_name,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": waited(annotations, BOUND, args.timeout_seconds),
        }
        pvc_spec: Any = {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": class_name,
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": f"{args.size_gb}Gi"}},
            "dataSourceRef": {"apiGroup": "datalayer.gke.io", "kind": "GCPDataSource", "name": args.claim_name},
        }
        # Depends on the data source, so Pulumi deletes the claim first (else deletion hangs, how-to Clean up).
        self.claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pvc",
            metadata=pvc_meta,
            spec=pvc_spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*after, *before_claim, self.data_source],
                custom_timeouts=await_timeouts(args.timeout_seconds),
            ),
        )
        self.register_outputs({"claimName": self.claim_name})


# --------------------------------------------------------------------------------------------
# Persistent Disk: fill Job → VolumeSnapshot → ReadOnlyMany claim
# --------------------------------------------------------------------------------------------

FillJob = Callable[[str, pulumi.ResourceOptions], pulumi.Resource]
"""Creates the Job that writes the model onto claim ``<name>`` (given opts: parent and dependencies)."""
FILL_MOUNT = "/fill"
"""Where :func:`downloader_fill` mounts the fill claim in the downloader's container."""
FILL_VOLUME = "fill"


def fill_download_args(download: ModelDownloaderArgs, claim: str) -> ModelDownloaderArgs:
    """``download`` writing onto claim ``claim``: the claim mounted at :data:`FILL_MOUNT` (the destination must be
    a folder under it) and ``flush`` on, since the disk is snapshotted right after the Job."""
    return dataclasses.replace(
        download,
        flush=True,
        extra_volumes=(*download.extra_volumes, {"name": FILL_VOLUME, "persistentVolumeClaim": {"claimName": claim}}),
        extra_volume_mounts=(*download.extra_volume_mounts, {"name": FILL_VOLUME, "mountPath": FILL_MOUNT}),
    )


def downloader_fill(name: str, download: ModelDownloaderArgs) -> FillJob:
    """The plain-input fill: a :class:`ModelDownloader` named ``name`` running :func:`fill_download_args`
    (validate those first: ``validate_model_downloader_args``); the volume waits for its Job."""

    def fill(claim: str, opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return ModelDownloader(name, fill_download_args(download, claim), opts=opts).job

    return fill


@dataclass(frozen=True)
class SnapshotHydratedVolumeArgs:
    namespace: str
    """Namespace of the claims and the snapshot."""
    claim_name: str
    """Name of the serving claim; the fill claim is ``<claim_name>-fill``."""
    disk_type: Literal["pd-ssd", "pd-balanced"]
    """PD type of both disks."""
    zone: str
    """Zone of the serving disk (where every replica runs)."""
    size_gb: int
    """Size of both disks."""
    access_mode: Literal["ReadOnlyMany", "ReadWriteOnce"]
    """Access mode of the serving claim (ReadOnlyMany for several replicas)."""
    timeout_seconds: int
    """How long ``up`` waits for the snapshot and for the restored claim each."""
    labels: dict[str, str] = field(default_factory=dict)


def validate_snapshot_hydrated_volume_args(args: SnapshotHydratedVolumeArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types (disk type and access mode included), names, size, timeout."""
    problems = type_problems(args, SnapshotHydratedVolumeArgs)
    if problems:
        return problems
    problems = _volume_names(args.namespace, args.claim_name)
    if not args.zone:
        problems.append(Problem("zone", "empty; give the serving zone"))
    problems += at_least("size_gb", args.size_gb, 1) + at_least("timeout_seconds", args.timeout_seconds, 1)
    return problems + kubernetes_labels("labels", args.labels)


class SnapshotHydratedVolume(pulumi.ComponentResource):
    """A PD claim restored from a snapshot of a disk that a fill Job wrote (module doc)."""

    claim: k8s.core.v1.PersistentVolumeClaim
    claim_name: str
    fill_claim_name: str
    snapshot: k8s.apiextensions.CustomResource
    fill_job: pulumi.Resource

    def __init__(
        self,
        name: str,
        args: SnapshotHydratedVolumeArgs,
        fill_job: FillJob,
        opts: pulumi.ResourceOptions | None = None,
    ):
        raise_if_problems("SnapshotHydratedVolume", name, validate_snapshot_hydrated_volume_args(args))
        super().__init__("gke-inference:workloads:SnapshotHydratedVolume", name, {}, opts)
        after = inherited_depends_on(opts)
        labels = {"app.kubernetes.io/component": "model-weights", **args.labels}
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        self.claim_name = args.claim_name
        self.fill_claim_name = f"{args.claim_name}-fill"
        base = f"{args.namespace}-{args.claim_name}"
        # The fill disk goes where the Job lands (WaitForFirstConsumer: pulumi-kubernetes treats a Pending
        # claim of such a class as ready, pulumi-kubernetes#3130); the snapshot is global, so the serving
        # disk can then be restored in the serving zone.
        fill_class = _storage_class(
            f"{name}-fill-class",
            pd_storage_class(f"{base}-fill", args.disk_type, (), "WaitForFirstConsumer"),
            labels,
            child,
        )
        serve_class = _storage_class(
            f"{name}-class", pd_storage_class(base, args.disk_type, (args.zone,), "Immediate"), labels, child
        )
        fill_meta: Any = {"name": self.fill_claim_name, "namespace": args.namespace, "labels": labels}
        fill_claim = k8s.core.v1.PersistentVolumeClaim(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-fill-pvc",
            metadata=fill_meta,
            spec={
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"{base}-fill",
                "volumeMode": "Filesystem",
                "resources": {"requests": {"storage": f"{args.size_gb}Gi"}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, fill_class]),
        )
        self.fill_job = fill_job(
            self.fill_claim_name, pulumi.ResourceOptions(parent=self, depends_on=[*after, fill_claim])
        )
        snapshot_class = TopLevelObject(
            f"{name}-snapshot-class",
            {
                "apiVersion": f"{SNAPSHOT_API}/v1",
                "kind": "VolumeSnapshotClass",
                "metadata": {"name": base, "labels": labels},
                "driver": PD_DRIVER,
                "deletionPolicy": "Delete",  # the snapshot goes with the VolumeSnapshot; the restored disk stays
            },
            opts=child,
        )
        self.snapshot = k8s.apiextensions.CustomResource(
            f"{name}-snapshot",
            api_version=f"{SNAPSHOT_API}/v1",
            kind="VolumeSnapshot",
            metadata={
                "name": args.claim_name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": waited({}, READY_TO_USE, args.timeout_seconds),
            },
            spec={
                "volumeSnapshotClassName": base,
                "source": {"persistentVolumeClaimName": self.fill_claim_name},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*after, snapshot_class, fill_claim, self.fill_job],
                custom_timeouts=await_timeouts(args.timeout_seconds),
            ),
        )
        claim_meta: Any = {
            "name": args.claim_name,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": waited({}, BOUND, args.timeout_seconds),
        }
        self.claim = k8s.core.v1.PersistentVolumeClaim(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-pvc",
            metadata=claim_meta,
            spec={
                "accessModes": [args.access_mode],
                "storageClassName": base,
                "volumeMode": "Filesystem",
                "resources": {"requests": {"storage": f"{args.size_gb}Gi"}},
                "dataSource": {"apiGroup": SNAPSHOT_API, "kind": "VolumeSnapshot", "name": args.claim_name},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*after, serve_class, self.snapshot],
                custom_timeouts=await_timeouts(args.timeout_seconds),
            ),
        )
        self.register_outputs({"claimName": self.claim_name, "fillClaimName": self.fill_claim_name})
