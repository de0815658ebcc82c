"""Facades of the capacity and scaling components: a GPU ComputeClass (fallback order), a CapacityBuffer,
GKE Pod snapshots, the KEDA operator with a vLLM ScaledObject, and the LeaderWorkerSet operator.

Pass the cluster's Kubernetes provider in the resource options. Each refuses what its Python component refuses
(same message) before registering anything, then creates that component as its only child.
"""

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, NotRequired, TypedDict, cast

import pulumi

from infra.validation import Problem, raise_if_problems
from workloads import capacity_buffer, compute_class, keda, lws_operator, pod_snapshot

from .convert import Block, block_args, missing, picked
from .facade import expose
from .serving import ScaleTarget


class ComputeClassRuleKind(Enum):
    """What kind of capacity a ComputeClass rule asks for."""

    EXISTING_POOLS = "existingPools"
    """Node pools created elsewhere (labelled and tainted for the class); set `pools`."""
    RESERVATION = "reservation"
    """Compute Engine reservations (named in `names`, or any matching one); set `shape`."""
    ON_DEMAND = "onDemand"
    """On-demand VMs; set `shape`."""
    FLEX_START = "flexStart"
    """Flex-start (Dynamic Workload Scheduler) VMs, at most seven days each; set `shape`."""
    SPOT = "spot"
    """Spot VMs; set `shape`."""


class ComputeClassShape(TypedDict):
    """The nodes a rule asks for: a machine type, or a GPU type and count (with a machine family where a
    reservation needs one)."""

    machine_type: NotRequired[str]
    """Compute Engine machine type, e.g. a3-highgpu-1g."""
    machine_family: NotRequired[str]
    """Machine series, e.g. a3; not together with `machineType`."""
    gpu_type: NotRequired[str]
    """GPU type as GKE names it, e.g. nvidia-h100-80gb; derived from `machineType` when unset."""
    gpu_count: NotRequired[int]
    """GPUs per node; derived from `machineType` when unset."""
    zones: NotRequired[list[str]]
    """Zones to create nodes in; empty uses the cluster's."""


class ComputeClassRule(TypedDict):
    """One rule of the fallback order: its `kind` and the settings of that kind."""

    kind: ComputeClassRuleKind
    """The kind of capacity."""
    pools: NotRequired[list[str]]
    """existingPools: the node pools."""
    shape: NotRequired[ComputeClassShape]
    """Every other kind: the nodes asked for."""
    names: NotRequired[list[str]]
    """reservation: reservation names; empty means any matching reservation."""
    project: NotRequired[str]
    """reservation: project owning shared named reservations; unset is the cluster's."""
    node_recycling_lead_seconds: NotRequired[int]
    """flexStart: start a replacement node this long before a node's run ends; unset: no recycling."""
    max_run_duration_seconds: NotRequired[int]
    """flexStart: how long a node may run; unset keeps GKE's seven days."""


class ComputeClassArgs(TypedDict):
    """Arguments of a custom ComputeClass: a GPU fallback order the cluster autoscaler follows."""

    name: str
    """The class's name: pods select it with `cloud.google.com/compute-class: <name>`."""
    priorities: list[ComputeClassRule]
    """The fallback order, most preferred first."""
    active_migration: NotRequired[bool]
    """Move pods back to a higher rule when its capacity returns. Default true."""
    when_unsatisfiable: NotRequired[str]
    """When no rule can be met: DoNotScaleUp (default: keep pods Pending) or ScaleUpAnyway."""
    node_pool_auto_creation: NotRequired[bool]
    """Let GKE create node pools for declarative rules. Default false."""
    cluster_autoprovisioning: NotRequired[bool]
    """The cluster runs node auto-provisioning (needed for auto-creation before GKE 1.33.3-gke.1136000)."""
    gke_version: NotRequired[str]
    """The cluster's (minimum) GKE version; unset skips the version rules."""
    model_bytes: NotRequired[float]
    """Bytes the weights take in GPU memory; given, GPU shapes that cannot hold them are refused."""
    gpus_per_replica: NotRequired[int]
    """GPUs one replica uses; given, shapes with fewer GPUs per node are refused."""
    gpu_memory_utilization: NotRequired[float]
    """vLLM's `--gpu-memory-utilization`. Default 0.9."""
    description: NotRequired[str]
    """The class's description."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on the ComputeClass."""


_RULE_TYPE: dict[ComputeClassRuleKind, Any] = {
    ComputeClassRuleKind.EXISTING_POOLS: compute_class.ExistingPools,
    ComputeClassRuleKind.RESERVATION: compute_class.Reservation,
    ComputeClassRuleKind.ON_DEMAND: compute_class.OnDemand,
    ComputeClassRuleKind.FLEX_START: compute_class.FlexStart,
    ComputeClassRuleKind.SPOT: compute_class.Spot,
}


def _rule(index: int, rule: Mapping[str, Any]) -> tuple[compute_class.Priority | None, list[Problem]]:
    """The rule's dataclass, or the problems: a missing or unknown kind, a setting of another kind, a missing
    one of this kind (paths `priorities.<index>.<key>`)."""
    path, kind = f"priorities.{index}", rule.get("kind")
    if not isinstance(kind, ComputeClassRuleKind):
        choices = ", ".join(k.value for k in ComputeClassRuleKind)
        return None, [Problem(f"{path}.kind", f"{kind!r} is not a rule kind; one of {choices}")]
    dataclass = _RULE_TYPE[kind]
    fields = {f.name: f for f in dataclasses.fields(dataclass)}
    problems = [Problem(f"{path}.{key}", f"not a setting of a {kind.value} rule")
                for key in ComputeClassRule.__annotations__ if key != "kind" and key not in fields
                and rule.get(key) is not None]
    problems += [Problem(f"{path}.{key}", f"required for a {kind.value} rule")
                 for key, f in fields.items() if f.default is dataclasses.MISSING and rule.get(key) is None]
    if problems:
        return None, problems
    values = picked(rule, *(key for key in fields if key != "shape"))
    if "shape" in fields:
        values["shape"] = compute_class.Shape(**picked(rule["shape"], *ComputeClassShape.__annotations__))
    return dataclass(**values), []


def compute_class_args(name: str, args: ComputeClassArgs) -> compute_class.ComputeClassArgs:
    """The component's args dataclass for these facade arguments (rules refused by their path)."""
    problems = missing(args, ComputeClassArgs)
    rules = [_rule(index, cast(Mapping[str, Any], rule)) for index, rule in enumerate(args.get("priorities") or [])]
    problems += [p for _, rule_problems in rules for p in rule_problems]
    raise_if_problems(compute_class.TYPE, name, problems)
    flat = (key for key in ComputeClassArgs.__annotations__ if key != "priorities")
    return compute_class.ComputeClassArgs(**picked(args, *flat), priorities=tuple(r for r, _ in rules if r))


class ComputeClass(pulumi.ComponentResource):
    """A custom ComputeClass (`cloud.google.com/v1`): the GPU fallback order (reservation, on-demand, flex-start,
    Spot, existing pools) the cluster autoscaler follows, with active migration back up the list."""

    class_name: str
    """The class's name (a `VllmServer`'s `computeClass`)."""

    def __init__(self, name: str, args: ComputeClassArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = compute_class_args(name, args)
        raise_if_problems(compute_class.TYPE, name, compute_class.validate_compute_class_args(real))
        expose(self, "ComputeClass", name, opts, lambda child: compute_class.ComputeClass(name, real, child),
               lambda made: {"class_name": made.class_name})


class BufferChunk(TypedDict):
    """One buffer chunk as a PodTemplate the component creates."""

    requests: dict[str, str]
    """Resource requests of one replica, e.g. `{"nvidia.com/gpu": "1", "cpu": "8", "memory": "32Gi"}`."""
    image: pulumi.Input[str]
    """An image for the template's container (never pulled: the pods are simulated); pass the serving image."""
    compute_class: NotRequired[str]
    """ComputeClass the chunk selects, so buffer nodes follow its fallbacks."""
    node_selector: NotRequired[dict[str, str]]
    """Further node labels the chunk requires (e.g. a pool name when there is no ComputeClass)."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Further tolerations (e.g. the GPU taint `nvidia.com/gpu`)."""


class ScalableRef(TypedDict):
    """The serving workload used as the chunk."""

    kind: str
    """Kind of the workload, e.g. Deployment."""
    name: str
    """Its name."""
    api_group: NotRequired[str]
    """Its API group. Default apps."""


class CapacityBufferArgs(TypedDict):
    """Arguments of a CapacityBuffer: spare GPU capacity kept ready for new replicas."""

    namespace: str
    """Namespace of the buffer and its template (they must share it)."""
    name: str
    """Name of the CapacityBuffer (and of its PodTemplate)."""
    replicas: int
    """Buffer chunks (replicas' worth of spare capacity)."""
    strategy: NotRequired[str]
    """active (default: running nodes) or standby (suspended nodes, resumed on demand)."""
    chunk: NotRequired[BufferChunk]
    """The chunk as a PodTemplate the component creates; or give `scalableRef`."""
    scalable_ref: NotRequired[ScalableRef]
    """The serving workload as the chunk; or give `chunk`."""
    gke_version: NotRequired[str]
    """The cluster's (minimum) GKE version; unset skips the version rules."""
    node_auto_provisioning: NotRequired[bool]
    """The cluster runs node auto-provisioning (required by standby buffers). Default false."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on the buffer and template."""


_BUFFER = Block(CapacityBufferArgs, capacity_buffer.CapacityBufferArgs, {
    "chunk": Block(BufferChunk, capacity_buffer.BufferChunk),
    "scalable_ref": Block(ScalableRef, capacity_buffer.ScalableRef),
})


class CapacityBuffer(pulumi.ComponentResource):
    """A CapacityBuffer (`autoscaling.x-k8s.io`): the cluster autoscaler keeps room for `replicas` more chunks, so
    a scale-up does not wait for a GPU node."""

    buffer_name: str
    """The CapacityBuffer's name."""

    def __init__(self, name: str, args: CapacityBufferArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args(capacity_buffer.TYPE, name, args, _BUFFER, capacity_buffer.validate_capacity_buffer_args)
        expose(self, "CapacityBuffer", name, opts, lambda child: capacity_buffer.CapacityBuffer(name, real, child),
               lambda _: {"buffer_name": real.name})


class PodSnapshotsArgs(TypedDict):
    """Arguments of GKE Pod snapshots for a server (a storage config and a policy)."""

    namespace: str
    """Namespace of the serving pods (the policy must be in it)."""
    name: str
    """Name of the storage config (cluster-scoped: make it unique per model) and of the policy."""
    bucket: pulumi.Input[str]
    """Bucket the snapshots go to (hierarchical namespace, same region)."""
    selector: dict[str, str]
    """Labels of the serving pods (`spec.selector.matchLabels`)."""
    weights_backend: str
    """The server's weights backend (gcsfuse is refused)."""
    gpus_per_replica: NotRequired[int]
    """GPUs per replica (more than one is refused). Default 1."""
    path: NotRequired[str]
    """Folder in the bucket; empty is the bucket root."""
    trigger: NotRequired[str]
    """workload (default: the container writes /proc/gvisor/checkpoint) or manual."""
    post_checkpoint: NotRequired[str]
    """What the checkpointed pod does afterwards: resume (default, keeps serving) or stop."""
    retention: NotRequired[str]
    """Delete snapshots unused this long, e.g. 7d; unset keeps them until deleted."""
    token_source: NotRequired[str]
    """How GKE reaches the bucket: podKSA (default, as the pod's Kubernetes service account)."""
    gke_version: NotRequired[str]
    """The cluster's (minimum) GKE version; unset skips the version rule."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on both objects."""


class PodSnapshots(pulumi.ComponentResource):
    """GKE Pod snapshots of the serving pods (a PodSnapshotStorageConfig and a PodSnapshotPolicy): a new replica
    restores a warmed engine instead of loading the model."""

    policy_name: str
    """Name of the storage config and the policy."""

    def __init__(self, name: str, args: PodSnapshotsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args(pod_snapshot.TYPE, name, args, Block(PodSnapshotsArgs, pod_snapshot.PodSnapshotsArgs),
                          pod_snapshot.validate_pod_snapshots_args)
        expose(self, "PodSnapshots", name, opts, lambda child: pod_snapshot.PodSnapshots(name, real, child),
               lambda _: {"policy_name": real.name})


class KedaOperatorArgs(TypedDict):
    """Arguments of the KEDA operator (Helm chart)."""

    google_service_account: pulumi.Input[str]
    """GSA email (roles/monitoring.viewer) the operator's Kubernetes service account impersonates."""
    chart_version: NotRequired[str]
    """Helm chart version (keep in step with the CRD schemas in stack/schemas/keda). Default 2.20.2."""
    namespace: NotRequired[str]
    """Namespace the chart installs into (created here). Default keda."""
    values: NotRequired[dict[str, Any]]
    """Extra chart values, merged over the component's at the top level."""


class KedaOperator(pulumi.ComponentResource):
    """KEDA (event-driven autoscaling, scale to zero) reading Managed Prometheus through Workload Identity. One
    per cluster."""

    operator_namespace: str
    """The namespace it runs in."""

    def __init__(self, name: str, args: KedaOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("KedaOperator", name, args, Block(KedaOperatorArgs, keda.KedaOperatorArgs),
                          keda.validate_keda_operator_args)
        expose(self, "KedaOperator", name, opts, lambda child: keda.KedaOperator(name, real, child),
               lambda made: {"operator_namespace": made.namespace})


class PrometheusTrigger(TypedDict):
    """One Managed Prometheus trigger of a ScaledObject."""

    name: str
    """Trigger name (shown in the HPA's metrics)."""
    query: str
    """PromQL returning one number."""
    threshold: float
    """Per-replica value KEDA's HPA holds."""
    activation_threshold: float
    """Above this value the workload scales from zero."""


class CronTrigger(TypedDict):
    """A time-of-day capacity window."""

    timezone: str
    """IANA time zone, e.g. Europe/Paris."""
    start: str
    """Cron expression of the window's start."""
    end: str
    """Cron expression of its end."""
    replicas: int
    """Replicas held during the window."""


class VllmScaledObjectArgs(TypedDict):
    """Arguments of a KEDA ScaledObject on vLLM's Managed Prometheus series (scale to zero)."""

    namespace: pulumi.Input[str]
    """Namespace of the target."""
    target: ScaleTarget
    """The vLLM Deployment or LeaderWorkerSet (a `VllmServer`'s target outputs)."""
    project: str
    """GCP project whose Managed Prometheus is queried."""
    triggers: list[PrometheusTrigger]
    """Metric triggers (KEDA's HPA takes the largest proposal)."""
    min_replicas: int
    """Replicas when idle; 0 scales to zero."""
    max_replicas: int
    """Maximum replicas."""
    behavior: dict[str, Any]
    """HPA `behavior` KEDA passes to the HPA it creates (scaleUp and scaleDown with policies)."""
    cooldown_seconds: NotRequired[int]
    """Idle time before scaling to zero. Default 900."""
    polling_seconds: NotRequired[int]
    """How often KEDA queries (and checks activation). Default 15."""
    cron: NotRequired[list[CronTrigger]]
    """Time-of-day capacity windows."""
    name: NotRequired[str]
    """ScaledObject name; defaults to the target's name."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on both objects."""


_SCALED = Block(VllmScaledObjectArgs, keda.VllmScaledObjectArgs, {
    "target": Block(ScaleTarget, keda.ScaleTarget),
    "triggers": Block(PrometheusTrigger, keda.PrometheusTrigger, many=True),
    "cron": Block(CronTrigger, keda.CronTrigger, many=True),
})


class VllmScaledObject(pulumi.ComponentResource):
    """A KEDA ScaledObject (and its TriggerAuthentication) that scales a vLLM server on Managed Prometheus queries,
    to zero when idle. Needs a `KedaOperator` in the cluster."""

    scaled_object_name: str
    """The ScaledObject's name."""

    def __init__(self, name: str, args: VllmScaledObjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("VllmScaledObject", name, args, _SCALED, keda.validate_vllm_scaled_object_args)
        expose(self, "VllmScaledObject", name, opts, lambda child: keda.VllmScaledObject(name, real, child),
               lambda made: {"scaled_object_name": made.name})


class LwsOperatorArgs(TypedDict):
    """Arguments of the LeaderWorkerSet controller (Helm chart)."""

    node_selector: NotRequired[dict[str, str]]
    """Where the controller manager runs (the CPU system pool)."""
    chart_version: NotRequired[str]
    """Chart version (keep in step with the CRD schema in stack/schemas/lws). Default 0.10.0."""
    values: NotRequired[dict[str, Any]]
    """Extra chart values, merged over the component's at the top level."""


class LwsOperator(pulumi.ComponentResource):
    """The LeaderWorkerSet controller multi-node replicas need. One per cluster."""

    operator_namespace: str
    """The namespace it runs in."""

    def __init__(self, name: str, args: LwsOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("LwsOperator", name, args, Block(LwsOperatorArgs, lws_operator.LwsOperatorArgs),
                          lws_operator.validate_lws_operator_args)
        expose(self, "LwsOperator", name, opts, lambda child: lws_operator.LwsOperator(name, real, child),
               lambda made: {"operator_namespace": made.namespace})
