"""``CapacityBuffer`` (``autoscaling.x-k8s.io/v1beta1``): spare GPU nodes kept ready for a model's next replicas.

The cluster autoscaler keeps room for ``replicas`` buffer chunks. GKE simulates the placeholder pods in the
autoscaler's memory; they are never created (https://cloud.google.com/kubernetes-engine/docs/reference/crds/capacitybuffer).
A chunk is one serving replica's shape: a ``PodTemplate`` the buffer references (``podTemplateRef``) carrying the
replica's requests and the ComputeClass (or pool) selector, or the serving workload itself (``scalableRef``: a
Deployment, ReplicaSet, StatefulSet, ReplicationController or Job, the kinds GKE's reference lists; anything else
needs an RBAC grant to the autoscaler). Exactly one of the two (schema CEL rule); with a ``podTemplateRef`` the
buffer needs ``replicas`` (CEL rule) — the component always sets it.

Strategies (https://cloud.google.com/kubernetes-engine/docs/how-to/configure-capacity-buffer, "Before you begin";
field-2026-12.md §2.3):

* ``active`` → ``buffer.x-k8s.io/active-capacity`` (the CRD's default): running nodes; GKE ≥ 1.35.2-gke.1842000.
* ``standby`` → ``buffer.gke.io/standby-capacity``: pre-provisioned nodes suspended until needed; GKE ≥
  1.36.0-gke.2253000, and node auto-provisioning is required. Whether GPU machines can be suspended is
  unverified (field-2026-12.md §2.3): try it on one node before relying on it.

The CRD and controller are GKE's (workloads/custom_resources.py); the component creates only the objects, so
``pulumi up`` treats a buffer as done once it is accepted (its ``status.conditions`` report readiness).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra.gke_versions import GkeFeature, version_problems
from infra.options import child_options
from infra.validation import Problem, dns_label, dns_subdomain, raise_if_problems, type_problems
from workloads.checkov import checkov_skip_annotations
from workloads.compute_class import pod_scheduling
from workloads.pod_security import container_security_context, pod_security_context

TYPE = "gke-inference:workloads:CapacityBuffer"
API_VERSION = "autoscaling.x-k8s.io/v1beta1"
KIND = "CapacityBuffer"
HOW_TO = "https://cloud.google.com/kubernetes-engine/docs/how-to/configure-capacity-buffer"
REFERENCE = "https://cloud.google.com/kubernetes-engine/docs/reference/crds/capacitybuffer"

Strategy = Literal["active", "standby"]
PROVISIONING_STRATEGIES: dict[str, str] = {
    "active": "buffer.x-k8s.io/active-capacity",
    "standby": "buffer.gke.io/standby-capacity",
}
"""``spec.provisioningStrategy`` per strategy: the CRD's default (stack/schemas/cluster-autoscaler) and GKE's
standby value (HOW_TO; kubernetes/autoscaler GKE provider constant ``ColdProvisioningStrategy``)."""
FEATURES: dict[str, GkeFeature] = {
    "active": GkeFeature("an active capacity buffer", "1.35.2-gke.1842000", HOW_TO),
    "standby": GkeFeature("a standby capacity buffer", "1.36.0-gke.2253000", HOW_TO),
}
SCALABLE_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController", "Job")
"""Kinds a ``scalableRef`` may name without extra RBAC for the autoscaler (REFERENCE, ``spec.scalableRef``)."""
CHUNK_CONTAINER = "buffer-chunk"


@dataclass(frozen=True)
class BufferChunk:
    """One buffer chunk: the scheduling shape of one serving replica."""

    requests: dict[str, str]
    """Resource requests of one replica, e.g. ``{"nvidia.com/gpu": "1", "cpu": "8", "memory": "32Gi"}``."""
    image: pulumi.Input[str]
    """An image for the template's container (it is never pulled: the pods are simulated); pass the serving image."""
    compute_class: str | None = None
    """ComputeClass the chunk selects (``cloud.google.com/compute-class``), so buffer nodes follow its fallbacks."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Further node labels the chunk requires (e.g. a pool name when there is no ComputeClass)."""
    tolerations: tuple[dict[str, str], ...] = ()
    """Further tolerations (e.g. the GPU taint ``nvidia.com/gpu``)."""


@dataclass(frozen=True)
class ScalableRef:
    """The serving workload itself as the chunk (``scalableRef``)."""

    kind: str
    name: str
    api_group: str = "apps"


@dataclass(frozen=True)
class CapacityBufferArgs:
    namespace: str
    """Namespace of the buffer and its template (they must share it, HOW_TO)."""
    name: str
    """Name of the CapacityBuffer (and of its PodTemplate)."""
    replicas: int
    """Buffer chunks (replicas' worth of spare capacity)."""
    strategy: Strategy = "active"
    """``active`` (running nodes) or ``standby`` (suspended nodes, resumed on demand)."""
    chunk: BufferChunk | None = None
    """The chunk as a PodTemplate the component creates; or give ``scalable_ref``."""
    scalable_ref: ScalableRef | None = None
    """The serving workload as the chunk; or give ``chunk``."""
    gke_version: str | None = None
    """The cluster's (minimum) GKE version; None skips the version rules."""
    node_auto_provisioning: bool = False
    """The cluster runs node auto-provisioning (required by standby buffers, HOW_TO)."""
    labels: dict[str, str] = field(default_factory=dict)


def validate_capacity_buffer_args(args: CapacityBufferArgs) -> list[Problem]:
    """Every problem with ``args`` (empty when the buffer can be created); pure."""
    problems = type_problems(args, CapacityBufferArgs)
    if problems:
        return problems
    problems = dns_label("namespace", args.namespace, "namespace") + dns_subdomain("name", args.name, "object name")
    if args.replicas < 1:
        problems.append(Problem("replicas", f"{args.replicas}: a buffer holds at least 1 replica; for no headroom "
                                            "create no CapacityBuffer"))
    if (args.chunk is None) == (args.scalable_ref is None):
        problems.append(Problem("chunk", "give exactly one of chunk (a PodTemplate) and {scalable_ref} (schema CEL "
                                         "rule: podTemplateRef or scalableRef, not both)"))
    if args.chunk is not None:
        if not args.chunk.requests:
            problems.append(Problem("chunk.requests", "a chunk without requests reserves nothing; give one replica's "
                                                      "requests (GPUs, CPU, memory)"))
        if args.chunk.compute_class is not None:
            problems += dns_subdomain("chunk.compute_class", args.chunk.compute_class, "ComputeClass name")
    if args.scalable_ref is not None and args.scalable_ref.kind not in SCALABLE_KINDS:
        problems.append(Problem("scalable_ref.kind", f"'{args.scalable_ref.kind}' needs an RBAC grant for the "
                                                     f"cluster autoscaler ({REFERENCE}); use one of "
                                                     f"{', '.join(SCALABLE_KINDS)}, or a chunk"))
    if args.strategy == "standby" and not args.node_auto_provisioning:
        problems.append(Problem("strategy", "standby buffers need cluster node auto-provisioning "
                                            f"({HOW_TO}); enable it ({{node_auto_provisioning}}) or use active"))
    return problems + version_problems("gke_version", args.gke_version, [FEATURES[args.strategy]])


def pod_template_manifest(args: CapacityBufferArgs) -> dict[str, Any]:
    """The PodTemplate of one chunk: its requests, and the same limits (extended resources such as GPUs must be
    limits)."""
    chunk = args.chunk
    assert chunk is not None
    scheduling = pod_scheduling(chunk.compute_class) if chunk.compute_class else {"nodeSelector": {}, "tolerations": []}
    selector = {**scheduling["nodeSelector"], **chunk.node_selector}
    tolerations = [*scheduling["tolerations"], *chunk.tolerations]
    spec: dict[str, Any] = {
        **({"nodeSelector": selector} if selector else {}),
        **({"tolerations": tolerations} if tolerations else {}),
        "securityContext": pod_security_context(),
        "automountServiceAccountToken": False,
        "containers": [{
            "name": CHUNK_CONTAINER,
            "image": chunk.image,
            "resources": {"requests": dict(chunk.requests), "limits": dict(chunk.requests)},
            "securityContext": container_security_context(),
        }],
    }
    never_runs = "the cluster autoscaler only simulates a buffer chunk (CRD reference); it is never started or probed"
    meta = {"name": args.name, "namespace": args.namespace, "labels": dict(args.labels),
            "annotations": checkov_skip_annotations([("CKV_K8S_8", never_runs), ("CKV_K8S_9", never_runs)])}
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta,
            "template": {"metadata": {"labels": dict(args.labels)}, "spec": spec}}


def capacity_buffer_manifest(args: CapacityBufferArgs) -> dict[str, Any]:
    """The CapacityBuffer object."""
    spec: dict[str, Any] = {"provisioningStrategy": PROVISIONING_STRATEGIES[args.strategy], "replicas": args.replicas}
    if args.scalable_ref is not None:
        ref = args.scalable_ref
        spec["scalableRef"] = {"apiGroup": ref.api_group, "kind": ref.kind, "name": ref.name}
    else:
        spec["podTemplateRef"] = {"name": args.name}
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": args.name, "namespace": args.namespace, "labels": dict(args.labels)}, "spec": spec}


class CapacityBuffer(pulumi.ComponentResource):
    """Headroom of ``replicas`` serving replicas (module docstring)."""

    buffer: k8s.apiextensions.CustomResource
    pod_template: k8s.core.v1.PodTemplate | None

    def __init__(self, name: str, args: CapacityBufferArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems(TYPE, name, validate_capacity_buffer_args(args))
        super().__init__(TYPE, name, {}, opts)
        after: list[pulumi.Resource] = []
        self.pod_template = None
        if args.chunk is not None:
            template = pod_template_manifest(args)
            self.pod_template = k8s.core.v1.PodTemplate(
                f"{name}-pod-template", metadata=template["metadata"], template=template["template"],
                opts=child_options(self, opts),
            )
            after.append(self.pod_template)
        manifest = capacity_buffer_manifest(args)
        self.buffer = k8s.apiextensions.CustomResource(
            f"{name}-buffer", api_version=API_VERSION, kind=KIND, metadata=manifest["metadata"],
            spec=manifest["spec"], opts=child_options(self, opts, depends_on=after),
        )
        self.register_outputs({"strategy": args.strategy, "replicas": args.replicas})
