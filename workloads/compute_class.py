"""``ComputeClass`` (``cloud.google.com/v1``): a GPU fallback order the cluster autoscaler follows.

A class is a priority list. GKE tries the first rule when it needs a node for a pod that selects the
class, then the next, and so on; ``whenUnsatisfiable`` says what happens when none can be had, and
``activeMigration.optimizeRulePriority`` moves pods back up the list when better capacity returns
(https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes, "Active migration").
The typed rules here are the ones a GPU serving fleet uses (field-2026-12.md §2.1; ACP's H100 class is
reservation → on-demand → flex-start → Spot):

* :class:`ExistingPools` — node pools created elsewhere (Standard clusters). They must carry the node label
  and ``NoSchedule`` taint ``cloud.google.com/compute-class=<class>`` (:func:`pool_node_labels`,
  :func:`pool_node_taint`; about-custom-compute-classes, "Configure manually-created node pools").
* :class:`Reservation`, :class:`OnDemand`, :class:`FlexStart` (with ``nodeRecycling``), :class:`Spot` —
  declarative rules over a :class:`Shape` (machine type or family, GPU type and count, zones); GKE creates
  such nodes in auto-created pools (``node_pool_auto_creation``) or scales a labelled pool that matches.

Serving pods select the class with :func:`pod_scheduling`. ``validate_compute_class_args`` is pure: the
stack config calls it too. It enforces the schema's CEL rules (not evaluated offline by the CRD check),
the GKE minimum version of each rule type it renders, and, given the model's size, refuses a GPU shape
that cannot hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra import catalog
from infra.gke_versions import GkeFeature, at_least, parse, version_problems
from infra.gpu_node_pool import compute_class_scheduling, compute_class_taint
from infra.model_disk import COMPUTE_CLASS_LABEL
from infra.options import child_options
from infra.validation import Problem, dns_subdomain, raise_if_problems, type_problems, unique
from workloads.vllm_server import WEIGHT_SHARE_OF_GPU_MEMORY

TYPE = "gke-inference:workloads:ComputeClass"
API_VERSION = "cloud.google.com/v1"
KIND = "ComputeClass"

CRD_REFERENCE = "https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass"
ABOUT = "https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes"
DWS = "https://cloud.google.com/kubernetes-engine/docs/concepts/dws"

CUSTOM_COMPUTE_CLASSES = GkeFeature("a custom ComputeClass", "1.30.3-gke.1451000", ABOUT)
RESERVATIONS = GkeFeature("a ComputeClass reservation rule", "1.31.1-gke.2105000", f"{CRD_REFERENCE} (reservations)")
FLEX_START = GkeFeature("a ComputeClass flex-start rule", "1.32.2-gke.1652000", f"{CRD_REFERENCE} (flexStart)")
AUTO_CREATION_WITHOUT_NAP = "1.33.3-gke.1136000"
"""From this version ``nodePoolAutoCreation`` works without cluster-level node auto-provisioning (ABOUT, "Node pool
auto-creation and ComputeClasses"). ``nodeRecycling`` and ``activeMigration`` carry no minimum in the stored
reference excerpts; they are not gated."""

MAX_NODE_RECYCLING_LEAD_SECONDS = 604800
"""``flexStart.nodeRecycling.leadTimeSeconds``: 1–604800 (ComputeClass schema, stack/schemas/gke-computeclass)."""
FLEX_START_MAX_RUN_SECONDS = 7 * 24 * 3600
"""Flex-start VMs run at most seven days; ``maxRunDurationSeconds`` defaults to that (DWS)."""
MAX_MACHINE_FAMILY_LENGTH = 10
MAX_MACHINE_TYPE_LENGTH = 100
"""``machineFamily`` maxLength 10, ``machineType`` maxLength 100 (ComputeClass schema)."""


@dataclass(frozen=True)
class Shape:
    """The nodes a declarative rule asks for. Give a machine type (its GPUs come from infra/catalog.py), or a
    GPU type and count (with a machine family where a reservation needs one)."""

    machine_type: str | None = None
    """Compute Engine machine type, e.g. ``a3-highgpu-1g``."""
    machine_family: str | None = None
    """Machine series, e.g. ``a3``; not together with ``machine_type`` (schema CEL rule)."""
    gpu_type: str | None = None
    """GPU type as GKE names it, e.g. ``nvidia-h100-80gb``; derived from ``machine_type`` when unset."""
    gpu_count: int | None = None
    """GPUs per node; derived from ``machine_type`` when unset."""
    zones: tuple[str, ...] = ()
    """Zones to create nodes in (``location.zones``); empty uses the cluster's."""


@dataclass(frozen=True)
class ExistingPools:
    """Node pools created elsewhere, tried in no particular order among themselves (``nodepools``)."""

    pools: tuple[str, ...]


@dataclass(frozen=True)
class Reservation:
    """Nodes from Compute Engine reservations: the named ones (``Specific``) or any matching one."""

    shape: Shape
    names: tuple[str, ...] = ()
    """Reservation names; empty means any matching reservation (``AnyBestEffort``)."""
    project: str | None = None
    """Project that owns shared specific reservations; None is the cluster's project."""


@dataclass(frozen=True)
class OnDemand:
    """On-demand VMs of the shape."""

    shape: Shape


@dataclass(frozen=True)
class FlexStart:
    """Flex-start (Dynamic Workload Scheduler) VMs: cheaper, obtainable more often, at most seven days each."""

    shape: Shape
    node_recycling_lead_seconds: int | None = None
    """Start a replacement node this long before a node's run ends (``nodeRecycling.leadTimeSeconds``): what
    keeps an always-on server on flex-start capacity. None: no recycling."""
    max_run_duration_seconds: int | None = None
    """How long a node may run (``maxRunDurationSeconds``); None keeps GKE's seven days."""


@dataclass(frozen=True)
class Spot:
    """Spot VMs of the shape (preemptible; not together with flex-start, schema CEL rule)."""

    shape: Shape


Priority = ExistingPools | Reservation | OnDemand | FlexStart | Spot
"""One rule of the fallback order."""


@dataclass(frozen=True)
class ComputeClassArgs:
    name: str
    """The class's name: pods select it with ``cloud.google.com/compute-class: <name>``."""
    priorities: tuple[Priority, ...]
    """The fallback order, most preferred first."""
    active_migration: bool = True
    """Move pods back to a higher rule when its capacity returns (``activeMigration.optimizeRulePriority``)."""
    when_unsatisfiable: Literal["DoNotScaleUp", "ScaleUpAnyway"] = "DoNotScaleUp"
    """When no rule can be met: keep pods Pending, or create a default node (set explicitly: the default changed
    in GKE 1.33, ABOUT "Define scaling behavior when no priority rules apply")."""
    node_pool_auto_creation: bool = False
    """Let GKE create node pools for declarative rules (``nodePoolAutoCreation.enabled``)."""
    cluster_autoprovisioning: bool = False
    """The cluster runs node auto-provisioning (needed for auto-creation before GKE 1.33.3-gke.1136000)."""
    gke_version: str | None = None
    """The cluster's (minimum) GKE version; None skips the version rules."""
    model_bytes: float | None = None
    """Bytes the weights take in GPU memory; given, GPU shapes that cannot hold them are refused."""
    gpus_per_replica: int | None = None
    """GPUs one replica uses; given, shapes with fewer GPUs per node are refused."""
    gpu_memory_utilization: float = 0.9
    """vLLM's ``--gpu-memory-utilization`` (the share of GPU memory the engine may use)."""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def pod_scheduling(class_name: str) -> dict[str, Any]:
    """``nodeSelector`` and ``tolerations`` of a pod that runs on the class's nodes (the toleration matches the
    taint GKE requires on manually created pools; ABOUT, "Configure manually-created node pools")."""
    placement = compute_class_scheduling(class_name)
    return {"nodeSelector": placement.node_selector, "tolerations": placement.tolerations}


def pool_node_labels(class_name: str) -> dict[str, str]:
    """Node labels a pool created elsewhere needs to serve the class."""
    return {COMPUTE_CLASS_LABEL: class_name}


def pool_node_taint(class_name: str) -> dict[str, str]:
    """The taint (GKE node pool API form) such a pool needs (``GpuNodePool(compute_class=...)`` sets it)."""
    return compute_class_taint(class_name)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def shape_gpus(shape: Shape) -> tuple[catalog.Accelerator | None, int | None]:
    """The GPU model and count of a shape: from its machine type (catalog) or its own fields."""
    gpu_type, count = shape.gpu_type, shape.gpu_count
    if shape.machine_type is not None and shape.machine_type in catalog.MACHINE_TYPES:
        machine = catalog.MACHINE_TYPES[shape.machine_type]
        gpu_type, count = gpu_type or machine.accelerator, count or machine.gpu_count
    return catalog.ACCELERATORS.get(gpu_type) if gpu_type else None, count


def _shape_problems(path: str, shape: Shape, args: ComputeClassArgs) -> list[Problem]:
    problems = []
    if shape.machine_type is not None and shape.machine_family is not None:
        problems.append(Problem(f"{path}.machine_family", "give machine_type or machine_family, not both "
                                                          f"(ComputeClass CEL rule, {CRD_REFERENCE})"))
    if shape.machine_family is not None and len(shape.machine_family) > MAX_MACHINE_FAMILY_LENGTH:
        problems.append(Problem(f"{path}.machine_family", f"'{shape.machine_family}' is longer than "
                                                          f"{MAX_MACHINE_FAMILY_LENGTH} characters (schema)"))
    if shape.machine_type is not None and len(shape.machine_type) > MAX_MACHINE_TYPE_LENGTH:
        problems.append(Problem(f"{path}.machine_type", f"longer than {MAX_MACHINE_TYPE_LENGTH} characters (schema)"))
    machine = catalog.MACHINE_TYPES.get(shape.machine_type or "")
    if shape.gpu_type is not None and shape.gpu_type not in catalog.ACCELERATORS:
        problems.append(Problem(f"{path}.gpu_type", f"'{shape.gpu_type}' is not a GPU type; one of "
                                                    f"{', '.join(sorted(catalog.ACCELERATORS))}"))
    elif machine is not None and shape.gpu_type not in (None, machine.accelerator):
        problems.append(Problem(f"{path}.gpu_type", f"{machine.name} carries {machine.accelerator}, not "
                                                    f"{shape.gpu_type}; drop gpu_type or change the machine"))
    if machine is not None and shape.gpu_count not in (None, machine.gpu_count):
        problems.append(Problem(f"{path}.gpu_count", f"{machine.name} carries {machine.gpu_count} GPU(s), not "
                                                     f"{shape.gpu_count}; drop gpu_count or change the machine"))
    if shape.gpu_count is not None and shape.gpu_count < 1:
        problems.append(Problem(f"{path}.gpu_count", f"{shape.gpu_count}: a GPU rule needs at least 1 GPU"))
    accelerator, count = shape_gpus(shape)
    if not problems and (accelerator is None or not count):
        problems.append(Problem(path, "name the GPUs: a GPU machine type from infra/catalog.py "
                                      f"({', '.join(sorted(catalog.MACHINE_TYPES)[:3])}, ...), or gpu_type and "
                                      "gpu_count"))
    problems += unique(f"{path}.zones", shape.zones, "zone")
    if problems or accelerator is None or not count:
        return problems  # the fit is judged on a shape that is itself valid
    return _fit_problems(path, accelerator, count, args)


def _fit_problems(path: str, accelerator: catalog.Accelerator, count: int, args: ComputeClassArgs) -> list[Problem]:
    """A node of the shape must hold one replica: its GPUs and its weights (the serving component's rule,
    ``WEIGHT_SHARE_OF_GPU_MEMORY`` of the usable GPU memory, workloads/vllm_server.py)."""
    gpus = args.gpus_per_replica or count
    if args.gpus_per_replica is not None and args.gpus_per_replica > count:
        return [Problem(path, f"a replica uses {args.gpus_per_replica} GPUs ({{gpus_per_replica}}) but this shape has "
                              f"{count} {accelerator.name} per node; pick a shape with at least "
                              f"{args.gpus_per_replica}")]
    if args.model_bytes is None:
        return []
    usable_gb = accelerator.memory_gb * gpus * args.gpu_memory_utilization
    weights_gb = args.model_bytes / 1e9
    if weights_gb <= WEIGHT_SHARE_OF_GPU_MEMORY * usable_gb:
        return []
    return [Problem(path, f"{weights_gb:.0f} GB of weights do not fit {gpus}× {accelerator.name} "
                          f"({usable_gb:.0f} GB usable at {args.gpu_memory_utilization:g}, of which at most "
                          f"{WEIGHT_SHARE_OF_GPU_MEMORY:.0%} may hold weights); drop this rule or use a shape with "
                          "more GPU memory")]


def _priority_problems(index: int, priority: Priority, args: ComputeClassArgs) -> list[Problem]:
    path = f"priorities.{index}"
    if isinstance(priority, ExistingPools):
        if not priority.pools:
            return [Problem(f"{path}.pools", "name at least one node pool")]
        return unique(f"{path}.pools", priority.pools, "node pool")
    problems = _shape_problems(f"{path}.shape", priority.shape, args)
    if isinstance(priority, Reservation):
        if priority.shape.machine_type is None and priority.shape.machine_family is None:
            problems.append(Problem(f"{path}.shape", "a reservation rule needs machine_type or machine_family "
                                                     f"({ABOUT}, 'Auto-create node pools to consume reservations')"))
        if not args.node_pool_auto_creation:
            problems.append(Problem(f"{path}", "a reservation rule needs {node_pool_auto_creation} (GKE creates "
                                               "the pools that consume it); for a pool you bound to a reservation "
                                               "yourself, list that pool in a pools rule (ExistingPools)"))
        if priority.project is not None and not priority.names:
            problems.append(Problem(f"{path}.project", "a project applies to named (specific) reservations only; "
                                                       "any-matching reservations take no name or project"))
        problems += unique(f"{path}.names", priority.names, "reservation")
    if isinstance(priority, FlexStart):
        lead, run = priority.node_recycling_lead_seconds, priority.max_run_duration_seconds
        if lead is not None and not 1 <= lead <= MAX_NODE_RECYCLING_LEAD_SECONDS:
            problems.append(Problem(f"{path}.node_recycling_lead_seconds",
                                    f"{lead} is outside 1–{MAX_NODE_RECYCLING_LEAD_SECONDS} (schema)"))
        if run is not None and not 1 <= run <= FLEX_START_MAX_RUN_SECONDS:
            problems.append(Problem(f"{path}.max_run_duration_seconds",
                                    f"{run} is outside 1–{FLEX_START_MAX_RUN_SECONDS}: flex-start VMs run at most "
                                    f"seven days ({DWS})"))
        if lead is not None and lead >= (run or FLEX_START_MAX_RUN_SECONDS):
            problems.append(Problem(f"{path}.node_recycling_lead_seconds",
                                    f"{lead} s is not shorter than the node's run "
                                    f"({run or FLEX_START_MAX_RUN_SECONDS} s): replacements would start at once"))
    return problems


def features_used(args: ComputeClassArgs) -> list[GkeFeature]:
    """The versioned features the class renders."""
    used = [CUSTOM_COMPUTE_CLASSES]
    if any(isinstance(p, Reservation) for p in args.priorities):
        used.append(RESERVATIONS)
    if any(isinstance(p, FlexStart) for p in args.priorities):
        used.append(FLEX_START)
    return used


def validate_compute_class_args(args: ComputeClassArgs) -> list[Problem]:
    """Every problem with ``args`` (empty when the class can be created); pure, no Pulumi calls."""
    problems = type_problems(args, ComputeClassArgs)
    if problems:
        return problems
    problems = dns_subdomain("name", args.name, "ComputeClass name")
    if not args.priorities:
        problems.append(Problem("priorities", "give at least one rule (the most preferred first)"))
    for index, priority in enumerate(args.priorities):
        problems += _priority_problems(index, priority, args)
    pools = [pool for p in args.priorities if isinstance(p, ExistingPools) for pool in dict.fromkeys(p.pools)]
    problems += [Problem("priorities", p.reason) for p in unique("priorities", pools, "node pool (across rules)")]
    if args.gpus_per_replica is not None and args.gpus_per_replica < 1:
        problems.append(Problem("gpus_per_replica", f"{args.gpus_per_replica}: a replica uses at least 1 GPU"))
    if not 0 < args.gpu_memory_utilization <= 1:
        problems.append(Problem("gpu_memory_utilization", f"{args.gpu_memory_utilization} is outside (0, 1]"))
    problems += version_problems("gke_version", args.gke_version, features_used(args))
    if (args.node_pool_auto_creation and not args.cluster_autoprovisioning and args.gke_version is not None
            and parse(args.gke_version) is not None and not at_least(args.gke_version, AUTO_CREATION_WITHOUT_NAP)):
        problems.append(Problem("node_pool_auto_creation", f"before GKE {AUTO_CREATION_WITHOUT_NAP} node pool "
                                                           "auto-creation needs cluster node auto-provisioning "
                                                           f"({ABOUT}); set {{cluster_autoprovisioning}} or raise "
                                                           "{gke_version}"))
    return problems


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _shape_fields(shape: Shape) -> dict[str, Any]:
    accelerator, count = shape_gpus(shape)
    rule: dict[str, Any] = {}
    if shape.machine_type is not None:
        rule["machineType"] = shape.machine_type
    if shape.machine_family is not None:
        rule["machineFamily"] = shape.machine_family
    if accelerator is not None and count:
        rule["gpu"] = {"type": accelerator.type, "count": count}
    if shape.zones:
        rule["location"] = {"zones": list(shape.zones)}
    return rule


def render_priority(priority: Priority) -> dict[str, Any]:
    """One ``spec.priorities[]`` item."""
    if isinstance(priority, ExistingPools):
        return {"nodepools": list(priority.pools)}
    rule = _shape_fields(priority.shape)
    if isinstance(priority, Spot):
        rule["spot"] = True
    elif isinstance(priority, OnDemand):
        rule["spot"] = False
    elif isinstance(priority, FlexStart):
        flex: dict[str, Any] = {"enabled": True}
        if priority.node_recycling_lead_seconds is not None:
            flex["nodeRecycling"] = {"leadTimeSeconds": priority.node_recycling_lead_seconds}
        rule["flexStart"] = flex
        if priority.max_run_duration_seconds is not None:
            rule["maxRunDurationSeconds"] = priority.max_run_duration_seconds
    else:
        if priority.names:
            specific = [{"name": n, **({"project": priority.project} if priority.project else {})}
                        for n in priority.names]
            rule["reservations"] = {"affinity": "Specific", "specific": specific}
        else:
            rule["reservations"] = {"affinity": "AnyBestEffort"}
        machine = catalog.MACHINE_TYPES.get(priority.shape.machine_type or "")
        if machine is not None and machine.bundled_local_ssd:
            # A reserved machine type with attached Local SSDs must state their count (ABOUT, reservations).
            rule["storage"] = {"localSSDCount": machine.bundled_local_ssd}
    return rule


def compute_class_spec(args: ComputeClassArgs) -> dict[str, Any]:
    """The class's ``spec``."""
    spec: dict[str, Any] = {
        "priorities": [render_priority(p) for p in args.priorities],
        "activeMigration": {"optimizeRulePriority": args.active_migration},
        "nodePoolAutoCreation": {"enabled": args.node_pool_auto_creation},
        "whenUnsatisfiable": args.when_unsatisfiable,
    }
    if args.description:
        spec["description"] = args.description
    return spec


def compute_class_manifest(args: ComputeClassArgs) -> dict[str, Any]:
    """The whole object, as ``kubectl apply`` would take it (cluster-scoped)."""
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": args.name, "labels": dict(args.labels)},
            "spec": compute_class_spec(args)}


class ComputeClass(pulumi.ComponentResource):
    """A GKE custom ComputeClass (module docstring); ``scheduling`` is what serving pods add to select it."""

    class_name: str
    object: k8s.apiextensions.CustomResource
    scheduling: dict[str, Any]

    def __init__(self, name: str, args: ComputeClassArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems(TYPE, name, validate_compute_class_args(args))
        super().__init__(TYPE, name, {}, opts)
        manifest = compute_class_manifest(args)
        self.class_name = args.name
        self.scheduling = pod_scheduling(args.name)
        self.object = k8s.apiextensions.CustomResource(
            f"{name}-compute-class",
            api_version=API_VERSION,
            kind=KIND,
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=child_options(self, opts),
        )
        self.register_outputs({"className": self.class_name})
