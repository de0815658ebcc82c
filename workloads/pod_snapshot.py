"""GKE Pod snapshots: new replicas restored from a checkpoint of a warm one instead of loading the model.

GKE checkpoints the whole pod (process and GPU memory, root filesystem, emptyDir) to Cloud Storage and
restores later replicas whose image, command, args and node shape match (field-2026-12.md §2.5; about:
https://cloud.google.com/kubernetes-engine/docs/concepts/pod-snapshots). What each layer needs:

* **cluster** — the Pod snapshot addon, :func:`cluster_addon` (pulumi-gcp 10.2.0
  ``ClusterAddonsConfigArgs.pod_snapshot_config``, ``container/_inputs.py``), Workload Identity, and GKE
  ≥ :data:`MIN_GKE_VERSION` ("Restore from a Pod snapshot",
  https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots: ``--cluster-version`` "must be
  1.34.1-gke.3084001 or later"; generally available from 1.35.3-gke.1234000 per a secondary summary,
  https://devengoratela.com/?p=23610, not confirmed on a Google page);
* **node pool** — GKE Sandbox (gVisor) on COS: :func:`sandbox_config` (``NodePoolNodeConfigSandboxConfigArgs.type``
  ``GVISOR``, pulumi-gcp 10.2.0) and ``image_type`` ``COS_CONTAINERD`` (llm-d recipe: ``--sandbox type=gvisor``,
  ``--image-type=cos_containerd``);
* **bucket** — hierarchical namespace (cannot be turned on later), soft delete off, same region; the GKE service
  agent needs ``roles/storage.objectUser`` on it and the serving KSA the permissions in
  :data:`SNAPSHOT_BUCKET_PERMISSIONS` (llm-d recipe, "Create a Hierarchical Namespace GCS Bucket");
* **pod** — ``runtimeClassName: gvisor`` and the node selector ``sandbox.gke.io/runtime: gvisor``
  (:func:`pod_spec_fields`), vLLM with sleep mode and eager safetensors loading (:data:`VLLM_ARGS`,
  :data:`VLLM_ENV`) — the upstream recipe's flags, llm-d ``guides/gke-pod-snapshots`` @1057311a README
  "Single-GPU Scope & Technical Caveats" 2–3 and ``patch-vllm.yaml`` @a36e441c;
* **objects** — a cluster-scoped ``PodSnapshotStorageConfig`` (where) and a namespaced ``PodSnapshotPolicy``
  (which pods, what triggers a checkpoint), ``podsnapshot.gke.io/v1`` (GKE-managed; CRD reference
  https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot). GKE publishes no schema file for
  them (none in datreeio/CRDs-catalog either), so :func:`snapshot_object_problems` checks their shape against the
  reference page's required fields.

Refused where it cannot work (:func:`snapshot_refusals`, also the estimate's and the simulator's rule): more than
one GPU per replica (the recipe and its measurements are single-GPU) and weights on GCS FUSE (pods with the GCS
FUSE CSI sidecar cannot be snapshotted). A workload trigger (the recipe's) fires only when the container writes
``/proc/gvisor/checkpoint`` — the recipe's launcher does so after ``engine.sleep(level=1)``; without such a
launcher use ``trigger: manual`` and a ``PodSnapshotManualTrigger``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra.gke_versions import GkeFeature, version_problems
from infra.options import child_options
from infra.validation import Problem, dns_label, dns_subdomain, kubernetes_labels, raise_if_problems, type_problems

TYPE = "gke-inference:workloads:PodSnapshots"
API_VERSION = "podsnapshot.gke.io/v1"
STORAGE_CONFIG_KIND = "PodSnapshotStorageConfig"
POLICY_KIND = "PodSnapshotPolicy"
HOW_TO = "https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots"
CRD_REFERENCE = "https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot"
RECIPE = "llm-d guides/gke-pod-snapshots/README.md @1057311a"

MIN_GKE_VERSION = "1.34.1-gke.3084001"
FEATURE = GkeFeature("Pod snapshots", MIN_GKE_VERSION, HOW_TO)

GVISOR_RUNTIME_CLASS = "gvisor"
GVISOR_NODE_SELECTOR = {"sandbox.gke.io/runtime": "gvisor"}
"""Pod fields of the recipe's Deployment (llm-d ``patch-vllm.yaml``)."""
VLLM_ARGS = ("--enable-sleep-mode", "--safetensors-load-strategy", "eager")
"""Sleep mode lets ``engine.sleep(level=1)`` move weights to host RAM before the checkpoint (recommended; smaller,
faster snapshots); eager safetensors loading avoids mmap'd, later-deleted weight files that break or bloat the
snapshot (RECIPE caveats 2–3). Both flags exist in vLLM 0.32/0.33 (``config/load.py`` ``safetensors_load_strategy``,
``engine/arg_utils.py`` ``--enable-sleep-mode``)."""
VLLM_ENV = {"VLLM_HOST_IP": "127.0.0.1"}
"""Pins torch.distributed's store to loopback so restored pods (new pod IP) keep working (RECIPE, "Snapshot
Variables")."""
SNAPSHOT_BUCKET_PERMISSIONS = (
    "storage.buckets.get", "storage.objects.get", "storage.objects.list", "storage.objects.create",
    "storage.objects.delete", "storage.folders.create",
)
"""The recipe's custom role for the serving KSA; ``storage.buckets.get`` enables parallel composite uploads."""
SERVICE_AGENT_ROLE = "roles/storage.objectUser"
"""What the GKE service agent needs on the bucket to delete snapshots (RECIPE)."""

Trigger = Literal["workload", "manual"]
RETENTION = re.compile(r"^[1-9]\d*(y|mo|d|h|min)$")
"""``retentionConfig.lastAccessTimeout``: a duration in y, mo, d, h or min (CRD_REFERENCE)."""


def snapshot_refusals(gpus_per_replica: int, weights_backend: str) -> list[Problem]:
    """Why a replica cannot be restored from a Pod snapshot (empty when it can). Shared by the component, the
    stack config, the estimate and the simulator."""
    problems = []
    if gpus_per_replica > 1:
        problems.append(Problem("gpus_per_replica", f"Pod snapshots restore single-GPU pods only ({RECIPE}); a "
                                                    f"replica here uses {gpus_per_replica} GPUs"))
    if weights_backend == "gcsfuse":
        problems.append(Problem("weights_backend", f"pods with GCS FUSE CSI volumes cannot be snapshotted ({RECIPE}); "
                                                   "{weights_backend} gcsfuse must change to use Pod snapshots"))
    return problems


def cluster_addon() -> gcp.container.ClusterAddonsConfigPodSnapshotConfigArgs:
    """``addons_config.pod_snapshot_config`` of the cluster."""
    return gcp.container.ClusterAddonsConfigPodSnapshotConfigArgs(enabled=True)


def sandbox_config() -> gcp.container.NodePoolNodeConfigSandboxConfigArgs:
    """``node_config.sandbox_config`` of the serving pool (GKE Sandbox, gVisor)."""
    return gcp.container.NodePoolNodeConfigSandboxConfigArgs(type="GVISOR")


def pod_spec_fields() -> dict[str, Any]:
    """What the serving pod spec adds to run in the sandbox."""
    return {"runtimeClassName": GVISOR_RUNTIME_CLASS, "nodeSelector": dict(GVISOR_NODE_SELECTOR)}


@dataclass(frozen=True)
class PodSnapshotsArgs:
    namespace: str
    """Namespace of the serving pods (the policy must be in it)."""
    name: str
    """Name of the storage config (cluster-scoped: make it unique per model) and of the policy."""
    bucket: pulumi.Input[str]
    """Bucket the snapshots go to (hierarchical namespace, same region)."""
    selector: dict[str, str]
    """Labels of the serving pods (``spec.selector.matchLabels``)."""
    weights_backend: str
    """The weights backend (``gcsfuse`` is refused)."""
    gpus_per_replica: int = 1
    """GPUs per replica (more than one is refused)."""
    path: str = ""
    """Folder in the bucket; empty is the bucket root."""
    trigger: Trigger = "workload"
    """``workload`` (the container writes /proc/gvisor/checkpoint, the recipe's launcher) or ``manual``."""
    post_checkpoint: Literal["resume", "stop"] = "resume"
    """What the checkpointed pod does afterwards (``resume`` keeps it serving)."""
    retention: str | None = None
    """Delete snapshots unused this long, e.g. ``7d``; None keeps them until deleted."""
    token_source: Literal["podKSA"] | None = "podKSA"
    """How GKE reaches the bucket: as the pod's KSA (the recipe's ``gcs.tokenSource``; not on the reference page)."""
    gke_version: str | None = None
    """The cluster's (minimum) GKE version; None skips the version rule."""
    labels: dict[str, str] = field(default_factory=dict)


def validate_pod_snapshots_args(args: PodSnapshotsArgs) -> list[Problem]:
    """Every problem with ``args`` (empty when snapshots can be configured); pure."""
    problems = type_problems(args, PodSnapshotsArgs)
    if problems:
        return problems
    problems = snapshot_refusals(args.gpus_per_replica, args.weights_backend)
    problems += dns_label("namespace", args.namespace, "namespace") + dns_subdomain("name", args.name, "object name")
    if not args.selector:
        problems.append(Problem("selector", "give the serving pods' labels; an empty selector would snapshot every "
                                            "pod of the namespace"))
    problems += kubernetes_labels("selector", args.selector)
    if args.retention is not None and not RETENTION.match(args.retention):
        problems.append(Problem("retention", f"'{args.retention}' is not a duration like 7d, 12h, 30min, 2mo or 1y "
                                             f"({CRD_REFERENCE})"))
    if isinstance(args.bucket, str) and (args.bucket.startswith("gs://") or "/" in args.bucket):
        problems.append(Problem("bucket", f"'{args.bucket}' must be a bucket name (no gs://, no path); put the folder "
                                          "in {path}"))
    return problems + version_problems("gke_version", args.gke_version, [FEATURE])


def storage_config_manifest(args: PodSnapshotsArgs) -> dict[str, Any]:
    gcs: dict[str, Any] = {"bucket": args.bucket}
    if args.path:
        gcs["path"] = args.path
    if args.token_source is not None:
        gcs["tokenSource"] = args.token_source
    return {"apiVersion": API_VERSION, "kind": STORAGE_CONFIG_KIND,
            "metadata": {"name": args.name, "labels": dict(args.labels)},
            "spec": {"snapshotStorageConfig": {"gcs": gcs}}}


def policy_manifest(args: PodSnapshotsArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "storageConfigName": args.name,
        "selector": {"matchLabels": dict(args.selector)},
        "triggerConfig": {"type": args.trigger, "postCheckpoint": args.post_checkpoint},
    }
    if args.retention is not None:
        spec["retentionConfig"] = {"lastAccessTimeout": args.retention}
    return {"apiVersion": API_VERSION, "kind": POLICY_KIND,
            "metadata": {"name": args.name, "namespace": args.namespace, "labels": dict(args.labels)}, "spec": spec}


_REQUIRED: dict[str, tuple[str, ...]] = {
    STORAGE_CONFIG_KIND: ("spec.snapshotStorageConfig.gcs.bucket",),
    POLICY_KIND: ("spec.selector", "spec.storageConfigName", "spec.triggerConfig.type"),
}
_ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    POLICY_KIND: {"spec.triggerConfig.type": ("workload", "manual"), "spec.triggerConfig.postCheckpoint": ("resume",
                                                                                                         "stop")},
}
_KNOWN_SPEC: dict[str, dict[str, Any]] = {
    STORAGE_CONFIG_KIND: {"snapshotStorageConfig": {"gcs": {"bucket": None, "path": None, "tokenSource": None}}},
    POLICY_KIND: {"selector": {"matchLabels": None, "matchExpressions": None}, "storageConfigName": None,
                  "triggerConfig": {"type": None, "postCheckpoint": None},
                  "retentionConfig": {"lastAccessTimeout": None},
                  "snapshotGroupingRules": None},
}
"""Fields of each spec on CRD_REFERENCE (plus the recipe's ``gcs.tokenSource``); None = not descended into."""


def _get(manifest: Mapping[str, Any], dotted: str) -> Any:
    node: Any = manifest
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _unknown(node: Any, known: Mapping[str, Any] | None, path: str) -> list[str]:
    if known is None or not isinstance(node, Mapping):
        return []
    problems = []
    for key, value in node.items():
        if key not in known:
            problems.append(f"{path}.{key}: not a field of {path} ({CRD_REFERENCE})")
        else:
            problems += _unknown(value, known[key], f"{path}.{key}")
    return problems


def snapshot_object_problems(manifest: Mapping[str, Any]) -> list[str]:
    """Shape errors of a PodSnapshotStorageConfig/PodSnapshotPolicy (no published schema: the reference page's
    required fields, enums and field names)."""
    kind = manifest.get("kind", "")
    if manifest.get("apiVersion") != API_VERSION or kind not in _REQUIRED:
        return [f"apiVersion/kind: expected {API_VERSION} {' or '.join(_REQUIRED)}"]
    problems = [f"{path}: required ({CRD_REFERENCE})" for path in _REQUIRED[kind] if _get(manifest, path) in (None, "")]
    for path, allowed in _ENUMS.get(kind, {}).items():
        value = _get(manifest, path)
        if value is not None and value not in allowed:
            problems.append(f"{path}: '{value}' is not one of {', '.join(allowed)}")
    if kind == POLICY_KIND:
        if not _get(manifest, "metadata.namespace"):
            problems.append("metadata.namespace: a PodSnapshotPolicy is namespaced (the serving pods' namespace)")
        timeout = _get(manifest, "spec.retentionConfig.lastAccessTimeout")
        if timeout is not None and not RETENTION.match(str(timeout)):
            problems.append(f"spec.retentionConfig.lastAccessTimeout: '{timeout}' is not a duration (y, mo, d, h, min)")
    elif _get(manifest, "metadata.namespace"):
        problems.append("metadata.namespace: a PodSnapshotStorageConfig is cluster-scoped")
    return problems + _unknown(manifest.get("spec"), _KNOWN_SPEC[kind], "spec")


class PodSnapshots(pulumi.ComponentResource):
    """The storage config and policy that make a model's replicas start from Pod snapshots (module docstring)."""

    storage_config: k8s.apiextensions.CustomResource
    policy: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: PodSnapshotsArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems(TYPE, name, validate_pod_snapshots_args(args))
        super().__init__(TYPE, name, {}, opts)
        storage, policy = storage_config_manifest(args), policy_manifest(args)
        self.storage_config = k8s.apiextensions.CustomResource(
            f"{name}-storage-config", api_version=API_VERSION, kind=STORAGE_CONFIG_KIND,
            metadata=storage["metadata"], spec=storage["spec"], opts=child_options(self, opts),
        )
        self.policy = k8s.apiextensions.CustomResource(
            f"{name}-policy", api_version=API_VERSION, kind=POLICY_KIND, metadata=policy["metadata"],
            spec=policy["spec"], opts=child_options(self, opts, depends_on=[self.storage_config]),
        )
        self.register_outputs({"storageConfigName": args.name, "policyName": args.name})
