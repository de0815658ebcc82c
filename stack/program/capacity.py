"""Capacity for the serving replicas: the ComputeClass they select, the CapacityBuffer kept for the next ones, the
Pod snapshots they start from, and the Rapid Cache their GCS FUSE reads come from.

All are optional (``serving.computeClass``, ``serving.capacityBuffer``, ``serving.podSnapshots``,
``model.weights.gcsfuse.rapidCache``); docs/capacity.md explains the choices and the simulator evidence behind the
shipped stacks.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra.rapid_cache import RapidCache
from infra.storage import BUCKET_NAME_MAX, ModelBucket, ModelBucketArgs
from stack.config import StackConfig
from stack.config.serving import WeightsBackend
from stack.program.weights import weights_zones
from workloads import pod_snapshot as ps
from workloads.capacity_buffer import CapacityBuffer
from workloads.compute_class import ComputeClass
from workloads.pod_snapshot import PodSnapshots
from workloads.vllm_server import VllmServer


def build_compute_class(
    config: StackConfig, stack: str, provider: k8s.Provider, depends_on: list[pulumi.Resource]
) -> ComputeClass | None:
    """The ComputeClass of ``serving.computeClass`` (cluster-scoped; None when unset).

    Args:
        depends_on: what it waits for (the stack's GPU pools: a ``pools`` rule names them).
    """
    args = config.compute_class_args(labels={"stack": stack, "managed-by": "pulumi"})
    if args is None:
        return None
    return ComputeClass("compute-class", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=depends_on))


def build_capacity_buffer(
    config: StackConfig, provider: k8s.Provider, server: VllmServer, server_image: pulumi.Input[str]
) -> CapacityBuffer | None:
    """The serving replicas' CapacityBuffer (None when ``serving.capacityBuffer.replicas`` is 0): chunks shaped
    like a serving pod (``StackConfig.buffer_args``), so the cluster autoscaler keeps that many replicas' nodes
    ready. ``server_image`` names the chunk's image (never pulled: the autoscaler only simulates the pods)."""
    if not config.serving.capacity_buffer.replicas:
        return None
    args = config.buffer_args(image=server_image, labels={"app.kubernetes.io/part-of": server.object_name})
    return CapacityBuffer(
        config.resource_name("capacity-buffer"), args,
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[server]),
    )


# --------------------------------------------------------------------------------------------
# Pod snapshots: the bucket, its IAM, the storage config and policy
# --------------------------------------------------------------------------------------------

SNAPSHOT_BUCKET_SUFFIX = "-pod-snapshots"
SNAPSHOT_SOFT_DELETE_DAYS = 7
"""Soft delete on the snapshot bucket. The recipe creates it with ``--soft-delete-duration=0`` and lists that under
"Recommended Settings for Performance" (with parallel composite uploads; llm-d guides/gke-pod-snapshots README
@1057311a); the policy pack's ``bucket-recoverable`` rule asks every bucket for 7 days. 7 days is kept: snapshots are
derived data a cold start remakes, and whether soft delete slows the checkpoint upload is unverified
(docs/capacity.md)."""
GKE_SERVICE_AGENT = "serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com"
"""The GKE service agent; it needs ``roles/storage.objectUser`` on the bucket to delete snapshots (recipe README,
"Create a Hierarchical Namespace GCS Bucket & Bind Workload Identity")."""
KSA_PRINCIPAL = (
    "principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{project}.svc.id.goog/"
    "subject/ns/{namespace}/sa/{ksa}"
)
"""The serving KSA as a Workload Identity Federation principal: with ``tokenSource: podKSA`` GKE reaches the bucket
as this subject, not as an annotated GSA (recipe README, same section; ``patch-vllm.yaml`` @a36e441c)."""
_ROLE_ID = re.compile(r"[^a-zA-Z0-9_.]")


def snapshot_bucket_name(config: StackConfig, stack: str) -> str:
    """``<model bucket>-pod-snapshots``, the model bucket's name cut so the whole stays within 63 characters."""
    base = config.bucket_name(stack)[: BUCKET_NAME_MAX - len(SNAPSHOT_BUCKET_SUFFIX)].rstrip("-_.")
    return base + SNAPSHOT_BUCKET_SUFFIX


def build_pod_snapshots(
    config: StackConfig, stack: str, provider: k8s.Provider, server: VllmServer,
    gcp_depends_on: list[pulumi.Resource],
) -> PodSnapshots | None:
    """GKE Pod snapshots of the serving replicas (None unless ``serving.podSnapshots.enabled``).

    A bucket of their own (hierarchical namespace, in the region; the serving KSA may write and delete there, never
    in the model bucket), the recipe's custom role for the serving KSA's federated principal and
    ``roles/storage.objectUser`` for the GKE service agent on it, then ``PodSnapshotStorageConfig`` and
    ``PodSnapshotPolicy`` selecting the server's pods. The cluster addon, the gVisor pools and the pod fields come
    from the config (``cluster_args``, ``pool_args``, ``server_args``).

    Args:
        gcp_depends_on: what GCP resources wait for (the enabled APIs, the cluster).
    """
    section = config.serving.pod_snapshots
    if not section.enabled:
        return None
    serving = config.serving
    labels = config.resource_labels(stack)
    bucket = ModelBucket(
        "pod-snapshots",
        ModelBucketArgs(project=config.project, name=snapshot_bucket_name(config, stack), location=config.region,
                        soft_delete_days=SNAPSHOT_SOFT_DELETE_DAYS, labels=labels),
        opts=pulumi.ResourceOptions(depends_on=gcp_depends_on),
    )
    role = gcp.projects.IAMCustomRole(
        "pod-snapshots-role",
        project=config.project,
        role_id=_ROLE_ID.sub("_", f"podSnapshotGcs_{stack}"),
        title=f"Pod snapshot GCS read/write ({stack})",
        permissions=list(ps.SNAPSHOT_BUCKET_PERMISSIONS),
        opts=pulumi.ResourceOptions(depends_on=gcp_depends_on),
    )
    ksa = bucket.project_number.apply(lambda number: KSA_PRINCIPAL.format(
        number=number, project=config.project, namespace=serving.namespace, ksa=server.object_name))
    grants = [
        bucket.grant("pod-snapshots-service-agent", ps.SERVICE_AGENT_ROLE,
                     bucket.project_number.apply(lambda number: GKE_SERVICE_AGENT.format(number=number))),
        bucket.grant("pod-snapshots-ksa", pulumi.Output.concat("projects/", config.project, "/roles/", role.role_id),
                     ksa),
    ]
    args = section.to_args(
        namespace=serving.namespace, name=f"{serving.namespace}-{serving.name}", bucket=bucket.bucket_name,
        selector=server.selector_labels, weights_backend=config.model.weights.backend.value,
        gpus_per_replica=config.gpus_per_replica(), gke_version=config.cluster.min_master_version,
        labels={"stack": stack, "managed-by": "pulumi"},
    )
    return PodSnapshots(
        "pod-snapshots", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[server, *grants])
    )


def build_rapid_cache(config: StackConfig, bucket: ModelBucket) -> RapidCache | None:
    """Rapid Cache of the model bucket in every zone a pod reading the weights may run in (``weights_zones``); None
    unless ``model.weights.gcsfuse.rapidCache.enabled`` (the config refuses it with another backend). The caches
    wait for the bucket only (which waits for the Storage API), not for the cluster."""
    weights = config.model.weights
    if weights.backend is not WeightsBackend.GCSFUSE or not weights.gcsfuse.rapid_cache.enabled:
        return None
    args = weights.gcsfuse.rapid_cache.to_args(bucket.bucket_name, config.region, tuple(weights_zones(config)))
    return RapidCache("model-cache", args, opts=pulumi.ResourceOptions(depends_on=[bucket]))
