"""A GPU node pool with image streaming, secondary boot disks, Local SSD and GPU scheduling facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

from infra import catalog
from infra.options import child_options

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}
_K8S_EFFECT = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


@dataclass(frozen=True)
class SecondaryBootDiskArgs:
    disk_image: str
    """`global/images/NAME` or `projects/P/global/images/NAME`."""
    mode: Literal["CONTAINER_IMAGE_CACHE", "DATA"] = "CONTAINER_IMAGE_CACHE"
    """Image cache (needs image streaming) or a data disk."""


@dataclass(frozen=True)
class GpuNodePoolArgs:
    project: str
    """GCP project id."""
    cluster: pulumi.Input[str]
    """Cluster id or name."""
    location: str
    """Cluster location (region or zone)."""
    node_locations: tuple[str, ...]
    """Zones of the pool."""
    machine_type: str
    """GPU machine type; the accelerator type and count are derived from it."""
    service_account: pulumi.Input[str]
    """Email of the least-privilege node service account."""
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


@dataclass(frozen=True)
class Scheduling:
    """What a workload needs to land on this pool: a node selector and the matching tolerations."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]


class GpuNodePool(pulumi.ComponentResource):
    """A GPU node pool whose shape (accelerator, GPU count, Local SSD) follows from the machine type."""

    machine: catalog.MachineType
    local_ssd_count: int
    """Local SSDs per node as sent to GKE (0 when ``local_ssd_mode`` is none)."""
    scheduling: Scheduling
    pool_name: pulumi.Output[str]
    node_pool: gcp.container.NodePool

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:GpuNodePool", name, {}, opts)
        self.machine = catalog.lookup(args.machine_type, args.gpu_count)
        self.local_ssd_count = self._local_ssd_count(args, self.machine)
        taints = [GPU_TAINT] + ([SPOT_TAINT] if args.spot else [])
        labels = {"gke-inference/pool": name, **args.labels}
        self.scheduling = Scheduling(
            node_selector={
                "cloud.google.com/gke-nodepool": name,
                "cloud.google.com/gke-accelerator": self.machine.accelerator,
            },
            tolerations=[
                {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": _K8S_EFFECT[t["effect"]]}
                for t in taints
            ],
        )
        self.node_pool = gcp.container.NodePool(
            f"{name}-pool",
            project=args.project,
            cluster=args.cluster,
            location=args.location,
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
        """The Local SSD count GKE gets, checked against the machine (reference §3.3)."""
        if args.local_ssd_mode == "none":
            return 0
        if machine.local_ssd is catalog.LocalSsdPolicy.NONE:
            raise ValueError(f"local_ssd_mode: {machine.name} has no Local SSD; use local_ssd_mode='none'")
        count = args.local_ssd_count
        if count is None:
            return machine.bundled_local_ssd or 1
        if machine.local_ssd is catalog.LocalSsdPolicy.BUNDLED and count not in (0, machine.bundled_local_ssd):
            raise ValueError(
                f"local_ssd_count: {machine.name} comes with exactly {machine.bundled_local_ssd} Local SSDs; "
                f"pass {machine.bundled_local_ssd} or None"
            )
        if machine.local_ssd is catalog.LocalSsdPolicy.OPTIONAL and not 1 <= count <= machine.max_local_ssd:
            raise ValueError(
                f"local_ssd_count: {machine.name} takes 1 to {machine.max_local_ssd} Local SSDs, got {count}"
            )
        return count

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
        if args.gpu_sharing_strategy:
            if args.max_shared_clients_per_gpu is None:
                raise ValueError(
                    "max_shared_clients_per_gpu: GKE needs it (2–48) whenever gpu_sharing_strategy is set; set both"
                )
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
            labels=labels,
            resource_labels=args.resource_labels or None,
        )
