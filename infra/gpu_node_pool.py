"""A GPU node pool with image streaming, secondary boot disks, Local SSD and GPU scheduling facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

from infra import catalog, zones
from infra.cluster import GkeCluster
from infra.model_disk import COMPUTE_CLASS_LABEL
from infra.options import child_options, inherited_depends_on
from infra.validation import (
    K8S_LABELS_TOTAL_CHARACTERS,
    Problem,
    dns_subdomain,
    gcp_labels,
    kubernetes_labels,
    one_of,
    project_id,
    raise_if_problems,
    type_problems,
)

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}
SPOT_SHUTDOWN_GRACE_SECONDS = 30
"""A preempted Spot VM's graceful node shutdown by default: 30 s, the first 15 s for ordinary pods, the last
15 s for system-critical ones (https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms, "Termination
and graceful shutdown of Spot VMs")."""
SPOT_CRITICAL_PODS_SECONDS = 15
"""The share of that shutdown kept for system-critical pods (same page); ordinary pods get the rest."""
SPOT_SHUTDOWN_GRACE_MAX_SECONDS = 120
"""Longer Spot graceful termination: up to 120 s on a Standard node pool whose control plane runs GKE
1.35.0-gke.1171000 or later, set in the node system configuration (same page) — kubeletConfig
``shutdownGracePeriodSeconds`` with ``shutdownGracePeriodCriticalPodsSeconds`` (pulumi-gcp 10.2.0
``NodePoolNodeConfigKubeletConfigArgs``: "can only be configured if the node pool uses Spot VMs")."""
SPOT_SHUTDOWN_GRACE_MIN_GKE = "1.35.0-gke.1171000"
"""The control-plane version a longer Spot graceful termination needs (same page)."""
SANDBOX_IMAGE_TYPE = "COS_CONTAINERD"
"""GKE Sandbox nodes run Container-Optimized OS with containerd (llm-d guides/gke-pod-snapshots README @1057311a:
``--sandbox type=gvisor`` with ``--image-type=cos_containerd``; https://cloud.google.com/kubernetes-engine/docs/how-to/
sandbox-pods)."""
SANDBOX_TAINT = {"key": "sandbox.gke.io/runtime", "value": "gvisor", "effect": "NO_SCHEDULE"}
"""The taint GKE puts on GKE Sandbox nodes (with the label of the same key); the GKE-managed ``gvisor`` RuntimeClass
adds the matching toleration and node selector to pods that name it (GKE "Isolate workloads in dedicated node pools":
"Workloads running in GKE Sandbox are automatically scheduled onto separate nodes"). Not sent: GKE sets it."""


def gpu_sharing(partition_size: str | None, sharing_strategy: str | None) -> str | None:
    """How a pool shares its GPUs, in words (``MIG partitions (1g.10gb)``, ``TIME_SHARING sharing``); None when
    every pod gets whole GPUs."""
    if partition_size is not None:
        return f"MIG partitions ({partition_size})"
    return f"{sharing_strategy} sharing" if sharing_strategy else None


def spot_pod_grace_seconds(spot: bool, shutdown_grace_seconds: int | None = None) -> int | None:
    """Seconds a preempted node gives ordinary pods (None on-demand): the shutdown minus the critical share."""
    if not spot:
        return None
    return (shutdown_grace_seconds or SPOT_SHUTDOWN_GRACE_SECONDS) - SPOT_CRITICAL_PODS_SECONDS


_K8S_EFFECT = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


@dataclass(frozen=True)
class SecondaryBootDiskArgs:
    disk_image: pulumi.Input[str]
    """`global/images/NAME` or `projects/P/global/images/NAME`; an Output (e.g. ``BootDiskImage.disk_image``)
    makes the pool wait for whatever produces it."""
    mode: Literal["CONTAINER_IMAGE_CACHE", "DATA"] = "CONTAINER_IMAGE_CACHE"
    """Image cache (needs image streaming) or a data disk."""


@dataclass(frozen=True)
class GpuNodePoolArgs:
    cluster: GkeCluster | pulumi.Input[str]
    """The cluster: the ``GkeCluster`` component (created or an existing one's handle; the project and
    location come from it), or an existing cluster's id or name (then give ``project`` and ``location``)."""
    node_locations: tuple[str, ...]
    """Zones of the pool."""
    machine_type: str
    """GPU machine type; the accelerator type and count are derived from it."""
    service_account: pulumi.Input[str]
    """Email of the least-privilege node service account."""
    project: str | None = None
    """GCP project id; only with a cluster id or name (a ``GkeCluster`` carries its own)."""
    location: str | None = None
    """Cluster location (region or zone); only with a cluster id or name."""
    gpu_count: int | None = None
    """Only for N1: GPUs per node (1, 2 or 4 T4)."""
    min_nodes: int = 0
    """Autoscaling minimum (total unless ``per_zone_limits``)."""
    max_nodes: int = 1
    """Autoscaling maximum (total unless ``per_zone_limits``)."""
    per_zone_limits: bool = False
    """Limits per zone (min/max_node_count) instead of in total."""
    location_policy: str = "ANY"
    """ANY or BALANCED."""
    spot: bool = False
    """Spot VMs; adds the `cloud.google.com/gke-spot` taint so only tolerating pods land."""
    spot_shutdown_grace_seconds: int | None = None
    """Spot only: the node's graceful shutdown on preemption, 30–120 s (default 30, of which pods get 15); the
    last 15 s stay for system-critical pods. Needs GKE 1.35.0-gke.1171000+ (``SPOT_SHUTDOWN_GRACE_MAX_SECONDS``)."""
    image_type: str = "COS_CONTAINERD"
    """Node image."""
    image_streaming: bool = True
    """Enable gcfs image streaming."""
    local_ssd_mode: Literal["none", "ephemeral", "nvmeBlock"] = "ephemeral"
    """How Local SSDs are exposed."""
    local_ssd_count: int | None = None
    """Number of 375 GiB Local SSDs; None takes the machine's bundled count (A2 Ultra/A3/A4), else 1."""
    secondary_boot_disks: tuple[SecondaryBootDiskArgs, ...] = ()
    """Disk images preloaded on each node."""
    compact_placement_policy: pulumi.Input[str] | None = None
    """Name of a COMPACT resource policy, when the pool uses compact placement."""
    reservation_type: str = "NO_RESERVATION"
    """Reservation affinity."""
    reservation_name: str | None = None
    """Reservation for SPECIFIC_RESERVATION."""
    queued_provisioning: bool = False
    """DWS queued provisioning."""
    gpu_driver_version: str = "DEFAULT"
    """GKE-managed driver version (DEFAULT, LATEST, INSTALLATION_DISABLED)."""
    gpu_sharing_strategy: str | None = None
    """TIME_SHARING or MPS."""
    max_shared_clients_per_gpu: int | None = None
    """Clients per GPU when sharing."""
    gpu_partition_size: str | None = None
    """MIG profile."""
    disk_type: str = "pd-balanced"
    """Boot disk type (secondary boot disks use the same)."""
    disk_size_gb: int = 200
    """Boot disk size."""
    secure_boot: bool = True
    """Shielded VM secure boot."""
    workload_metadata: str = "GKE_METADATA"
    """Metadata server mode (GKE_METADATA serves Workload Identity)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra Kubernetes node labels."""
    resource_labels: dict[str, str] = field(default_factory=dict)
    """GCP labels."""
    compute_class: str | None = None
    """A custom ComputeClass whose ``pools`` rule lists this pool: its nodes carry the class's label and taint
    (workloads that select the pool directly tolerate it through ``scheduling``)."""
    gvisor: bool = False
    """Run the nodes in GKE Sandbox (gVisor; ``node_config.sandbox_config.type`` GVISOR), as GKE Pod snapshots need.
    GKE labels and taints such nodes ``sandbox.gke.io/runtime=gvisor`` itself, so only pods with
    ``runtimeClassName: gvisor`` land there (``SANDBOX_TAINT``)."""


@dataclass(frozen=True)
class Scheduling:
    """What a workload needs to land on this pool: a node selector and the matching tolerations."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]


POOL_LABEL = "cloud.google.com/gke-nodepool"
"""Node label GKE sets to the node pool's name."""


def compute_class_taint(class_name: str) -> dict[str, str]:
    """The taint (node pool API form) a pool serving ComputeClass ``class_name`` carries."""
    return {"key": COMPUTE_CLASS_LABEL, "value": class_name, "effect": "NO_SCHEDULE"}


def compute_class_scheduling(class_name: str) -> Scheduling:
    """Node selector and toleration of a pod that runs on ComputeClass ``class_name``'s nodes (the toleration
    matches the taint GKE requires on manually created pools of the class)."""
    return Scheduling(
        node_selector={COMPUTE_CLASS_LABEL: class_name},
        tolerations=[{"key": COMPUTE_CLASS_LABEL, "operator": "Equal", "value": class_name, "effect": "NoSchedule"}],
    )


def pool_taints(spot: bool, compute_class: str | None = None) -> list[dict[str, str]]:
    """The taints of a pool of this project: GPU, Spot, and its ComputeClass's."""
    class_taint = [compute_class_taint(compute_class)] if compute_class else []
    return [GPU_TAINT] + ([SPOT_TAINT] if spot else []) + class_taint


def pool_scheduling(
    pool_name: str, machine: catalog.MachineType, spot: bool, compute_class: str | None = None
) -> Scheduling:
    """Node selector (pool name + accelerator) and tolerations for the pool's taints (GPU, Spot, ComputeClass)."""
    taints = pool_taints(spot, compute_class)
    return Scheduling(
        node_selector={POOL_LABEL: pool_name, "cloud.google.com/gke-accelerator": machine.accelerator},
        tolerations=[
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": _K8S_EFFECT[t["effect"]]}
            for t in taints
        ],
    )


@dataclass(frozen=True)
class PoolShape:
    """What a workload needs from a GPU pool; a ``GpuNodePool`` has the same three attributes.

    Workloads take ``GpuNodePool | PoolShape`` (as pulumi-eks takes ``Cluster | CoreData``): pass the
    component, or describe a pool that exists outside this program with :meth:`existing`.
    """

    machine: catalog.MachineType
    """The pool's machine (GPU type and count, vCPU, memory)."""
    scheduling: Scheduling
    """Node selector and tolerations that land a pod on the pool."""
    ephemeral_local_ssd: bool = False
    """Node ephemeral storage (emptyDirs, the GCS FUSE file cache) sits on Local SSD."""
    spot_pod_grace_seconds: int | None = None
    """Seconds a preempted node gives ordinary pods; None = on-demand (or, with a Spot toleration, GKE's default)."""
    shared_gpus: str | None = None
    """How the pool shares its GPUs (``gpu_sharing``); None = whole GPUs."""
    queued_provisioning: bool = False
    """Nodes come only through ProvisioningRequests (queued provisioning)."""
    max_nodes: int | None = None
    """The most nodes the pool can run (all zones); None = unknown (a pool created elsewhere)."""

    @classmethod
    def existing(
        cls, pool_name: str, machine_type: str, *, gpu_count: int | None = None, spot: bool = False,
        ephemeral_local_ssd: bool = False,
    ) -> PoolShape:
        """A pool created elsewhere, with the taints this project's pools carry (GPU, and Spot when ``spot``; a
        longer Spot shutdown: ``dataclasses.replace(shape, spot_pod_grace_seconds=...)``)."""
        machine = catalog.lookup(machine_type, gpu_count)
        return cls(machine, pool_scheduling(pool_name, machine, spot), ephemeral_local_ssd,
                   spot_pod_grace_seconds(spot))


class GpuNodePool(pulumi.ComponentResource):
    """A GPU node pool whose shape (accelerator, GPU count, Local SSD) follows from the machine type."""

    machine: catalog.MachineType
    local_ssd_count: int
    """Local SSDs per node as sent to GKE (0 when ``local_ssd_mode`` is none)."""
    ephemeral_local_ssd: bool
    """Node ephemeral storage sits on Local SSD (``local_ssd_mode`` ephemeral with at least one)."""
    scheduling: Scheduling
    spot_pod_grace_seconds: int | None
    """Seconds a preempted node gives ordinary pods (None on-demand)."""
    shared_gpus: str | None
    """How the pool shares its GPUs (MIG partitions, time-sharing, MPS); None = whole GPUs."""
    queued_provisioning: bool
    max_nodes: int
    """The most nodes the pool can run, all zones together."""
    pool_name: pulumi.Output[str]
    node_pool: gcp.container.NodePool

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("GpuNodePool", name, validate_gpu_node_pool_args(args))
        super().__init__("gke-inference:infra:GpuNodePool", name, {}, opts)
        self.machine = catalog.lookup(args.machine_type, args.gpu_count)
        self.local_ssd_count = self._local_ssd_count(args, self.machine)
        self.ephemeral_local_ssd = args.local_ssd_mode == "ephemeral" and self.local_ssd_count > 0
        taints = pool_taints(args.spot, args.compute_class)
        class_label = {COMPUTE_CLASS_LABEL: args.compute_class} if args.compute_class else {}
        labels = {"gke-inference/pool": name, **args.labels, **class_label}
        self.scheduling = pool_scheduling(name, self.machine, args.spot, args.compute_class)
        self.spot_pod_grace_seconds = spot_pod_grace_seconds(args.spot, args.spot_shutdown_grace_seconds)
        self.shared_gpus = gpu_sharing(args.gpu_partition_size, args.gpu_sharing_strategy)
        self.queued_provisioning = args.queued_provisioning
        self.max_nodes = args.max_nodes * (len(args.node_locations) if args.per_zone_limits else 1)
        project, location = cluster_facts(args)
        self.node_pool = gcp.container.NodePool(
            f"{name}-pool",
            project=project,
            cluster=args.cluster.cluster_id if isinstance(args.cluster, GkeCluster) else args.cluster,
            location=location,
            name=name,
            node_locations=list(args.node_locations),
            autoscaling=self._autoscaling(args),
            management=gcp.container.NodePoolManagementArgs(
                auto_repair=not args.queued_provisioning, auto_upgrade=True
            ),
            queued_provisioning=(
                gcp.container.NodePoolQueuedProvisioningArgs(enabled=True) if args.queued_provisioning else None
            ),
            placement_policy=(
                gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT", policy_name=args.compact_placement_policy)
                if args.compact_placement_policy is not None
                else None
            ),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=1, max_unavailable=0
            ),
            node_config=self._node_config(args, taints, labels),
            opts=child_options(
                self,
                opts,
                # A pool needs its cluster (given as the component, it is waited for).
                depends_on=[
                    c for c in (args.cluster,) if isinstance(c, GkeCluster) and c not in inherited_depends_on(opts)
                ],
                # The machine fixes these; GKE reports them back (bundled SSDs, attached GPUs).
                ignore_changes=[
                    "nodeConfig.ephemeralStorageLocalSsdConfig",
                    "nodeConfig.localNvmeSsdBlockConfig",
                    "nodeConfig.guestAccelerators",
                ],
            ),
        )
        self.pool_name = self.node_pool.name
        self.register_outputs({"poolName": self.pool_name, "machineType": args.machine_type})

    @staticmethod
    def _local_ssd_count(args: GpuNodePoolArgs, machine: catalog.MachineType) -> int:
        """The Local SSD count GKE gets (validate_gpu_node_pool_args checked it against the machine)."""
        return effective_local_ssd_count(args.local_ssd_mode, args.local_ssd_count, machine)

    @staticmethod
    def _autoscaling(args: GpuNodePoolArgs) -> gcp.container.NodePoolAutoscalingArgs:
        if args.per_zone_limits:
            return gcp.container.NodePoolAutoscalingArgs(
                min_node_count=args.min_nodes, max_node_count=args.max_nodes, location_policy=args.location_policy
            )
        return gcp.container.NodePoolAutoscalingArgs(
            total_min_node_count=args.min_nodes,
            total_max_node_count=args.max_nodes,
            location_policy=args.location_policy,
        )

    def _node_config(
        self, args: GpuNodePoolArgs, taints: list[dict[str, str]], labels: dict[str, str]
    ) -> gcp.container.NodePoolNodeConfigArgs:
        C = gcp.container
        sharing = None
        if args.gpu_sharing_strategy and args.max_shared_clients_per_gpu is not None:  # validated: both or neither
            sharing = C.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy=args.gpu_sharing_strategy,
                max_shared_clients_per_gpu=args.max_shared_clients_per_gpu,
            )
        return C.NodePoolNodeConfigArgs(
            machine_type=args.machine_type,
            image_type=args.image_type,
            disk_type=args.disk_type,
            disk_size_gb=args.disk_size_gb,
            spot=args.spot,
            service_account=args.service_account,
            oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
            guest_accelerators=[
                C.NodePoolNodeConfigGuestAcceleratorArgs(
                    type=self.machine.accelerator,
                    count=self.machine.gpu_count,
                    gpu_driver_installation_config=C.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                        gpu_driver_version=args.gpu_driver_version
                    ),
                    gpu_sharing_config=sharing,
                    gpu_partition_size=args.gpu_partition_size,
                )
            ],
            gcfs_config=C.NodePoolNodeConfigGcfsConfigArgs(enabled=args.image_streaming),
            gvnic=C.NodePoolNodeConfigGvnicArgs(enabled=True),
            secondary_boot_disks=[
                C.NodePoolNodeConfigSecondaryBootDiskArgs(
                    disk_image=d.disk_image, mode=d.mode if d.mode == "CONTAINER_IMAGE_CACHE" else None
                )
                for d in args.secondary_boot_disks
            ]
            or None,
            ephemeral_storage_local_ssd_config=(
                C.NodePoolNodeConfigEphemeralStorageLocalSsdConfigArgs(local_ssd_count=self.local_ssd_count)
                if args.local_ssd_mode == "ephemeral"
                else None
            ),
            local_nvme_ssd_block_config=(
                C.NodePoolNodeConfigLocalNvmeSsdBlockConfigArgs(local_ssd_count=self.local_ssd_count)
                if args.local_ssd_mode == "nvmeBlock"
                else None
            ),
            reservation_affinity=C.NodePoolNodeConfigReservationAffinityArgs(
                consume_reservation_type=args.reservation_type,
                key="compute.googleapis.com/reservation-name" if args.reservation_name else None,
                values=[args.reservation_name] if args.reservation_name else None,
            ),
            workload_metadata_config=C.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode=args.workload_metadata),
            shielded_instance_config=C.NodePoolNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=args.secure_boot, enable_integrity_monitoring=True
            ),
            metadata={"disable-legacy-endpoints": "true"},
            taints=[C.NodePoolNodeConfigTaintArgs(**t) for t in taints],
            kubelet_config=(
                C.NodePoolNodeConfigKubeletConfigArgs(
                    shutdown_grace_period_seconds=args.spot_shutdown_grace_seconds,
                    shutdown_grace_period_critical_pods_seconds=SPOT_CRITICAL_PODS_SECONDS,
                )
                if args.spot_shutdown_grace_seconds is not None
                else None
            ),
            sandbox_config=C.NodePoolNodeConfigSandboxConfigArgs(type="GVISOR") if args.gvisor else None,
            labels=labels,
            resource_labels=args.resource_labels or None,
        )


# --------------------------------------------------------------------------------------------
# Argument validation (the stack config runs the same function: stack/config.py GpuPoolConfig)
# --------------------------------------------------------------------------------------------

LOCATION_POLICIES = ("ANY", "BALANCED")
"""container.v1 ``NodePoolAutoscaling.locationPolicy`` without LOCATION_POLICY_UNSPECIFIED."""
RESERVATION_TYPES = ("NO_RESERVATION", "ANY_RESERVATION", "SPECIFIC_RESERVATION")
"""A subset of container.v1 ``ReservationAffinity.consumeReservationType``."""
GPU_DRIVER_VERSIONS = ("DEFAULT", "LATEST", "INSTALLATION_DISABLED")
"""A subset of container.v1 ``GPUDriverInstallationConfig.gpuDriverVersion`` (SPECIFIC needs a version field)."""
GPU_SHARING_STRATEGIES = ("TIME_SHARING", "MPS")
"""container.v1 ``GPUSharingConfig.gpuSharingStrategy`` without GPU_SHARING_STRATEGY_UNSPECIFIED."""
WORKLOAD_METADATA_MODES = ("GKE_METADATA", "GCE_METADATA")
"""container.v1 ``WorkloadMetadataConfig.mode`` without MODE_UNSPECIFIED."""
SHARED_CLIENTS_PER_GPU = (2, 48)
"""Containers per shared GPU (GKE GPU time-sharing / MPS guides: 2–48)."""
MIN_BOOT_DISK_GB = 15
"""container.v1 ``NodeConfig.diskSizeGb``: at least 15 GB from GKE 1.36.3-gke.1480000 (12 GB before)."""
_DISK_IMAGE = re.compile(r"^(projects/[a-z][-a-z0-9.:]*[a-z0-9]/)?global/images/[a-z]([-a-z0-9]*[a-z0-9])?$")
"""``global/images/NAME`` or ``projects/P/global/images/NAME`` (image names: compute.v1 ``Image.name`` pattern)."""


def effective_local_ssd_count(mode: str, count: int | None, machine: catalog.MachineType) -> int:
    """Local SSDs per node as sent to GKE: 0 without a mode, else the count or the machine's bundled count (or 1)."""
    if mode == "none":
        return 0
    return count if count is not None else (machine.bundled_local_ssd or 1)


def _local_ssd_problems(args: GpuNodePoolArgs, machine: catalog.MachineType) -> list[Problem]:
    """Local SSD count against the machine (gke-iac-reference.md §3.3)."""
    count, name = args.local_ssd_count, machine.name
    if args.local_ssd_mode == "none":
        return [Problem("local_ssd_count", "set but {local_ssd_mode} is none: pick one Local SSD mode")] * bool(count)
    if machine.local_ssd is catalog.LocalSsdPolicy.NONE:
        return [Problem("local_ssd_mode", f"{name} has no Local SSD; set {{local_ssd_mode}} to none")]
    if machine.local_ssd is catalog.LocalSsdPolicy.BUNDLED:
        if count not in (None, 0, machine.bundled_local_ssd):
            return [Problem("local_ssd_count", f"{name} comes with exactly {machine.bundled_local_ssd} bundled Local "
                                               f"SSDs; set {{local_ssd_count}} to {machine.bundled_local_ssd} or "
                                               "leave it unset")]
        return []
    if count == 0:
        return [Problem("local_ssd_count", "0 with a Local SSD mode: set {local_ssd_mode} to none instead")]
    if count is not None and count > machine.max_local_ssd:
        return [Problem("local_ssd_count", f"{name} takes at most {machine.max_local_ssd} Local SSD(s), got {count}")]
    return []


def _machine_problems(args: GpuNodePoolArgs, machine: catalog.MachineType) -> list[Problem]:
    """GPU count fixed by the shape, N1 T4 counts, MIG profiles (gke-iac-reference.md §3.4)."""
    problems = []
    if machine.gpu_count_fixed and args.gpu_count is not None and args.gpu_count != machine.gpu_count:
        problems.append(Problem("gpu_count", f"{args.machine_type} carries exactly {machine.gpu_count} GPU(s); "
                                             "remove {gpu_count} or pick another machine type"))
    if not machine.gpu_count_fixed and args.gpu_count not in catalog.N1_T4_GPU_COUNTS:
        problems.append(Problem("gpu_count", "N1 pools attach 1, 2 or 4 T4 GPUs; set {gpu_count} to one of those"))
    if args.gpu_partition_size and args.gpu_partition_size not in machine.gpu.mig_profiles:
        allowed = ", ".join(machine.gpu.mig_profiles) or "none (this GPU has no MIG)"
        problems.append(Problem("gpu_partition_size", f"'{args.gpu_partition_size}' is not a MIG profile of "
                                                      f"{machine.gpu.name}: {allowed}"))
    return problems


def _image_problems(args: GpuNodePoolArgs) -> list[Problem]:
    """Secondary boot disks ⇒ image streaming ⇒ COS (gke-iac-reference.md §3.1, §3.2)."""
    problems = []
    if len(args.secondary_boot_disks) > 1:
        problems.append(Problem("secondary_boot_disks", "at most one disk per pool; pulumi-gcp#3418 (a list of several "
                                                        "secondary boot disks is reordered and forces a replacement on "
                                                        "every update) is not shown fixed in pulumi-gcp 10.2.0"))
    for index, disk in enumerate(args.secondary_boot_disks):
        if isinstance(disk.disk_image, str) and not _DISK_IMAGE.match(disk.disk_image):
            problems.append(Problem(f"secondary_boot_disks.{index}.disk_image", f"'{disk.disk_image}' must be "
                                    "global/images/NAME or projects/PROJECT/global/images/NAME"))
    if any(d.mode == "CONTAINER_IMAGE_CACHE" for d in args.secondary_boot_disks) and not args.image_streaming:
        problems.append(Problem("image_streaming", "{secondary_boot_disks} in CONTAINER_IMAGE_CACHE mode need "
                                                   "{image_streaming} true (GKE serves the cache through image "
                                                   "streaming)"))
    if args.image_streaming and args.image_type != "COS_CONTAINERD":
        problems.append(Problem("image_type", f"{{image_streaming}} needs COS_CONTAINERD, not {args.image_type}"))
    if args.gvisor and args.image_type != SANDBOX_IMAGE_TYPE:
        problems.append(Problem("image_type", f"a gVisor pool (GKE Sandbox, which Pod snapshots need) runs on "
                                              f"{SANDBOX_IMAGE_TYPE} nodes only, not {args.image_type}"))
    return problems


def _provisioning_problems(args: GpuNodePoolArgs) -> list[Problem]:
    """Autoscaling limits, Spot, reservations, compact placement and DWS (gke-iac-reference.md §3.5)."""
    problems = []
    if args.min_nodes < 0 or args.max_nodes < 1:
        problems.append(Problem("max_nodes", "node counts: {min_nodes} ≥ 0 and {max_nodes} ≥ 1 "
                                             "(container.v1 NodePoolAutoscaling)"))
    if args.min_nodes > args.max_nodes:
        problems.append(Problem("min_nodes", f"{{min_nodes}} ({args.min_nodes}) must be ≤ {{max_nodes}} "
                                             f"({args.max_nodes})"))
    if args.reservation_type == "SPECIFIC_RESERVATION" and not args.reservation_name:
        problems.append(Problem("reservation_name", "required for SPECIFIC_RESERVATION"))
    if args.reservation_type != "SPECIFIC_RESERVATION" and args.reservation_name:
        problems.append(Problem("reservation_name", "applies only to SPECIFIC_RESERVATION, not "
                                                    f"{args.reservation_type}"))
    if args.spot_shutdown_grace_seconds is not None and not args.spot:
        problems.append(Problem("spot_shutdown_grace_seconds", "only Spot pools take it; set {spot} or drop it"))
    elif args.spot_shutdown_grace_seconds is not None and not (
        SPOT_SHUTDOWN_GRACE_SECONDS <= args.spot_shutdown_grace_seconds <= SPOT_SHUTDOWN_GRACE_MAX_SECONDS
    ):
        problems.append(Problem("spot_shutdown_grace_seconds", (
            f"{{spot_shutdown_grace_seconds}} is {args.spot_shutdown_grace_seconds}; GKE allows "
            f"{SPOT_SHUTDOWN_GRACE_SECONDS}-{SPOT_SHUTDOWN_GRACE_MAX_SECONDS} s (GKE {SPOT_SHUTDOWN_GRACE_MIN_GKE}+)")))
    if args.spot and args.reservation_type != "NO_RESERVATION":
        problems.append(Problem("reservation_type", "Spot pools cannot consume reservations; set "
                                                    "{reservation_type} to NO_RESERVATION"))
    if args.compact_placement_policy is not None and len(args.node_locations) != 1:
        problems.append(Problem("node_locations", "compact placement needs exactly one zone: set {node_locations} to "
                                                  "a single zone"))
    if args.queued_provisioning:
        if args.spot:
            problems.append(Problem("queued_provisioning", "cannot be combined with {spot}"))
        if args.compact_placement_policy is not None:
            problems.append(Problem("queued_provisioning", "cannot be combined with {compact_placement_policy}"))
        if args.reservation_type != "NO_RESERVATION":
            problems.append(Problem("reservation_type", "{queued_provisioning} needs NO_RESERVATION"))
        if args.min_nodes != 0:
            problems.append(Problem("min_nodes", "{queued_provisioning} needs {min_nodes} 0 (nodes come from "
                                                 "ProvisioningRequests)"))
    return problems


def _sharing_problems(args: GpuNodePoolArgs) -> list[Problem]:
    low, high = SHARED_CLIENTS_PER_GPU
    if args.gpu_sharing_strategy is None:
        if args.max_shared_clients_per_gpu is not None:
            return [Problem("max_shared_clients_per_gpu", "set without {gpu_sharing_strategy}: set both or neither")]
        return []
    problems = one_of("gpu_sharing_strategy", args.gpu_sharing_strategy, GPU_SHARING_STRATEGIES)
    clients = args.max_shared_clients_per_gpu
    if clients is None or not low <= clients <= high:
        problems.append(Problem("max_shared_clients_per_gpu", f"GKE needs {low}–{high} whenever "
                                                              "{gpu_sharing_strategy} is set, got "
                                                              f"{clients}"))
    return problems


def cluster_facts(args: GpuNodePoolArgs) -> tuple[str, str]:
    """(project, location) of the pool's cluster: the ``GkeCluster``'s, else the args' (validated: both set)."""
    if isinstance(args.cluster, GkeCluster):
        return args.cluster.project, args.cluster.cluster_location
    return args.project or "", args.location or ""


def _cluster_problems(args: GpuNodePoolArgs) -> list[Problem]:
    """A GkeCluster brings its project and location; a cluster id or name needs both given."""
    if isinstance(args.cluster, GkeCluster):
        cluster = args.cluster
        return [
            Problem(path, f"'{given}' differs from the cluster's {path} '{own}'; leave it unset")
            for path, given, own in (("project", args.project, cluster.project),
                                     ("location", args.location, cluster.cluster_location))
            if given is not None and given != own
        ]
    return [Problem(path, "required when {cluster} is an id or name (a GkeCluster carries it)")
            for path in ("project", "location") if getattr(args, path) is None]


def validate_gpu_node_pool_args(args: GpuNodePoolArgs) -> list[Problem]:
    """Every problem with ``args`` GKE would refuse at create time or that the machine type rules out (pure).

    Rules with sources: gke-iac-reference.md §3 (shared/reference) and the container.v1 discovery
    fields named at each constant; docs/gcp-create-time-rules.md lists them all.
    """
    problems = type_problems(args, GpuNodePoolArgs)
    if problems:
        return problems
    problems = _cluster_problems(args)
    if problems:
        return problems
    project, location = cluster_facts(args)
    problems = project_id("project", project)
    try:
        machine = catalog.lookup(args.machine_type, args.gpu_count)
    except catalog.UnknownMachineType as err:
        problems.append(Problem("machine_type", str(err)))
    else:
        problems += _machine_problems(args, machine) + _local_ssd_problems(args, machine)
    problems += _image_problems(args) + _provisioning_problems(args) + _sharing_problems(args)
    region = location if location.count("-") == 1 else location.rsplit("-", 1)[0]
    for zone in args.node_locations:
        if not zone.startswith(region + "-"):
            problems.append(Problem("node_locations", f"'{zone}' is not in the cluster's region {region} "
                                                      "({location})"))
        elif problem := zones.node_location_problem(zone, region, args.machine_type, args.gpu_count):
            problems.append(Problem("node_locations", problem))  # infra/zones.py: exists, offers the GPU
    problems += one_of("location_policy", args.location_policy, LOCATION_POLICIES)
    problems += one_of("reservation_type", args.reservation_type, RESERVATION_TYPES)
    problems += one_of("gpu_driver_version", args.gpu_driver_version, GPU_DRIVER_VERSIONS)
    problems += one_of("workload_metadata", args.workload_metadata, WORKLOAD_METADATA_MODES)
    if args.disk_size_gb < MIN_BOOT_DISK_GB:
        problems.append(Problem("disk_size_gb", f"{args.disk_size_gb} GB: GKE boot disks are at least "
                                                f"{MIN_BOOT_DISK_GB} GB"))
    problems += kubernetes_labels("labels", args.labels) + gcp_labels("resource_labels", args.resource_labels)
    if args.compute_class is not None:
        problems += dns_subdomain("compute_class", args.compute_class, "ComputeClass name")
    total = sum(len(k) + len(v) for k, v in args.labels.items()) + len("gke-inference/pool") + 40
    if total > K8S_LABELS_TOTAL_CHARACTERS:
        problems.append(Problem("labels", f"about {total} characters of node labels; GKE takes at most "
                                          f"{K8S_LABELS_TOTAL_CHARACTERS} in one request"))
    return problems
