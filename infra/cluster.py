"""The GKE Standard cluster (or an existing one), and an explicit Kubernetes provider for it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra import gke_versions
from infra.options import child_options
from infra.validation import (
    Problem,
    gcp_labels,
    ipv4_network,
    one_of,
    project_id,
    raise_if_problems,
    rfc1035_name,
    type_problems,
)


@dataclass(frozen=True)
class AuthorizedNetwork:
    cidr: str
    """CIDR block allowed to reach the control plane."""
    name: str
    """Display name."""


@dataclass(frozen=True)
class SystemPoolArgs:
    machine_type: str = "e2-standard-4"
    """Machine type of the CPU system pool that replaces the default pool."""
    min_nodes: int = 1
    """Minimum nodes per zone."""
    max_nodes: int = 3
    """Maximum nodes per zone."""
    disk_size_gb: int = 100
    """Boot disk size."""


@dataclass(frozen=True)
class GkeClusterArgs:
    project: str
    """GCP project id."""
    name: str
    """Cluster name."""
    location: str
    """Region (regional cluster) or zone (zonal)."""
    network: pulumi.Input[str]
    """VPC self link or id."""
    subnetwork: pulumi.Input[str]
    """Subnet self link or id."""
    pods_range_name: str
    """Secondary range for pods."""
    services_range_name: str
    """Secondary range for Services."""
    node_service_account: pulumi.Input[str]
    """Email of the least-privilege node service account (system pool)."""
    release_channel: str = "REGULAR"
    """RAPID, REGULAR, STABLE or EXTENDED."""
    min_master_version: str | None = None
    """Minimum control-plane version; None follows the channel."""
    private_nodes: bool = True
    """Nodes without public IPs."""
    private_endpoint: bool = False
    """Control plane reachable only inside the VPC."""
    master_ipv4_cidr: str = "172.16.0.0/28"
    """/28 for the control plane's private endpoint."""
    master_authorized_networks: tuple[AuthorizedNetwork, ...] = ()
    """CIDRs allowed to reach the control plane."""
    deletion_protection: bool = True
    """Refuse deletion of the cluster."""
    managed_prometheus: bool = True
    """Managed collection for Google Cloud Managed Service for Prometheus."""
    monitoring_components: tuple[str, ...] = ("SYSTEM_COMPONENTS", "DCGM")
    """Cloud Monitoring components (SYSTEM_COMPONENTS required; DCGM for GPU metrics)."""
    network_policy: bool = True
    """Enforce NetworkPolicy through Dataplane V2."""
    hpa_profile: str = "PERFORMANCE"
    """Cluster HPA profile (PERFORMANCE or NONE)."""
    gateway_api: bool = False
    """Enable the Gateway API (``gatewayApiConfig.channel: CHANNEL_STANDARD``): GKE then installs the standard Gateway
    API CRDs and runs its Gateway controller (GKE Inference Gateway needs it)."""
    pod_snapshots: bool = False
    """Enable GKE Pod snapshots (``addons_config.pod_snapshot_config``; GKE 1.34.1-gke.3084001+, "Restore from a Pod
    snapshot", https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots): GKE installs the
    ``podsnapshot.gke.io`` CRDs and its snapshot agent. Snapshots also need a gVisor pool
    (``GpuNodePoolArgs.gvisor``)."""
    system_pool: SystemPoolArgs = field(default_factory=SystemPoolArgs)
    """The CPU pool for system workloads."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP resource labels."""


@dataclass(frozen=True)
class ExistingClusterArgs:
    project: str
    """GCP project id of the existing cluster."""
    name: str
    """Existing cluster name."""
    location: str
    """Its region or zone."""


def kubeconfig_for(name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates through ``gke-gcloud-auth-plugin`` (no static credentials)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate},
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "installHint": (
                                "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin"
                            ),
                            "provideClusterInfo": True,
                        }
                    },
                }
            ],
        }
    )


class GkeCluster(pulumi.ComponentResource):
    """A hardened GKE Standard cluster for GPU inference, or a handle on an existing one.

    Created mode: VPC-native, private nodes, Workload Identity, shielded nodes, release channel,
    GCS FUSE / Filestore / PD CSI drivers, managed Prometheus with DCGM, image streaming by
    default, Dataplane V2 network policy, the default pool replaced by a small system pool.
    Existing mode (``GkeClusterArgs`` replaced by ``ExistingClusterArgs``) creates nothing and
    still yields ``provider``.
    """

    name: pulumi.Output[str]
    location: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    workload_pool: str
    cluster_id: pulumi.Output[str]
    project: str
    """GCP project id (plain: what node pools need to validate against)."""
    cluster_location: str
    """The cluster's region or zone as given (plain; ``location`` is GKE's Output)."""

    def __init__(
        self,
        name: str,
        args: GkeClusterArgs | ExistingClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        raise_if_problems("GkeCluster", name, validate_gke_cluster_args(args))
        super().__init__("gke-inference:infra:GkeCluster", name, {}, opts)
        child = child_options(self, opts)
        self.project = args.project
        self.cluster_location = args.location
        self.workload_pool = f"{args.project}.svc.id.goog"
        # Kubernetes objects go through the provider: making it wait for the system pool makes every
        # object wait for a node its controllers and system pods can run on.
        waits: list[pulumi.Resource] = []
        if isinstance(args, ExistingClusterArgs):
            existing = gcp.container.get_cluster_output(
                name=args.name, location=args.location, project=args.project, opts=pulumi.InvokeOptions(parent=self)
            )
            self.name = pulumi.Output.from_input(args.name)
            self.location = pulumi.Output.from_input(args.location)
            self.endpoint = existing.endpoint
            ca = existing.master_auths.apply(lambda auths: auths[0].cluster_ca_certificate if auths else "")
            self.cluster_id = existing.id
        else:
            cluster, system_pool = self._create(name, args, child)
            waits.append(system_pool)
            self.name = cluster.name
            self.location = cluster.location
            self.endpoint = cluster.endpoint
            ca = cluster.master_auth.cluster_ca_certificate
            self.cluster_id = cluster.id
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.name, self.endpoint, ca).apply(lambda a: kubeconfig_for(a[0], a[1], a[2]))
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=child_options(self, opts, depends_on=waits),
        )
        self.register_outputs({"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

    def _create(
        self, name: str, args: GkeClusterArgs, child: pulumi.ResourceOptions
    ) -> tuple[gcp.container.Cluster, gcp.container.NodePool]:
        C = gcp.container
        cluster = C.Cluster(
            f"{name}-cluster",
            project=args.project,
            name=args.name,
            location=args.location,
            network=args.network,
            subnetwork=args.subnetwork,
            networking_mode="VPC_NATIVE",
            datapath_provider="ADVANCED_DATAPATH" if args.network_policy else "LEGACY_DATAPATH",
            ip_allocation_policy=C.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range_name,
                services_secondary_range_name=args.services_range_name,
            ),
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=args.deletion_protection,
            min_master_version=args.min_master_version,
            release_channel=C.ClusterReleaseChannelArgs(channel=args.release_channel),
            workload_identity_config=C.ClusterWorkloadIdentityConfigArgs(workload_pool=self.workload_pool),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth=C.ClusterMasterAuthArgs(
                client_certificate_config=C.ClusterMasterAuthClientCertificateConfigArgs(issue_client_certificate=False)
            ),
            private_cluster_config=C.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=args.private_nodes,
                enable_private_endpoint=args.private_endpoint,
                master_ipv4_cidr_block=args.master_ipv4_cidr if args.private_nodes else None,
                master_global_access_config=C.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(enabled=True),
            ),
            master_authorized_networks_config=C.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    C.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=n.cidr, display_name=n.name)
                    for n in args.master_authorized_networks
                ]
            ),
            addons_config=C.ClusterAddonsConfigArgs(
                gcs_fuse_csi_driver_config=C.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
                gcp_filestore_csi_driver_config=C.ClusterAddonsConfigGcpFilestoreCsiDriverConfigArgs(enabled=True),
                gce_persistent_disk_csi_driver_config=C.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True
                ),
                # = workloads.pod_snapshot.cluster_addon() (pulumi-gcp 10.2.0 ClusterAddonsConfigArgs)
                pod_snapshot_config=(
                    C.ClusterAddonsConfigPodSnapshotConfigArgs(enabled=True) if args.pod_snapshots else None
                ),
            ),
            monitoring_config=C.ClusterMonitoringConfigArgs(
                enable_components=list(args.monitoring_components),
                managed_prometheus=C.ClusterMonitoringConfigManagedPrometheusArgs(enabled=args.managed_prometheus),
            ),
            logging_config=C.ClusterLoggingConfigArgs(enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]),
            node_pool_defaults=C.ClusterNodePoolDefaultsArgs(
                node_config_defaults=C.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                    gcfs_config=C.ClusterNodePoolDefaultsNodeConfigDefaultsGcfsConfigArgs(enabled=True)
                )
            ),
            pod_autoscaling=C.ClusterPodAutoscalingArgs(hpa_profile=args.hpa_profile),
            gateway_api_config=C.ClusterGatewayApiConfigArgs(channel=GATEWAY_API_CHANNEL) if args.gateway_api else None,
            resource_labels=args.labels or None,
            opts=child,
        )
        pool = args.system_pool
        system_pool = C.NodePool(
            f"{name}-system",
            project=args.project,
            cluster=cluster.id,
            location=args.location,
            name="system",
            autoscaling=C.NodePoolAutoscalingArgs(min_node_count=pool.min_nodes, max_node_count=pool.max_nodes),
            management=C.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=C.NodePoolNodeConfigArgs(
                machine_type=pool.machine_type,
                disk_size_gb=pool.disk_size_gb,
                disk_type="pd-balanced",
                image_type="COS_CONTAINERD",
                service_account=args.node_service_account,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                workload_metadata_config=C.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=C.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                metadata={"disable-legacy-endpoints": "true"},
                labels={"gke-inference/role": "system"},
                resource_labels=args.labels or None,
            ),
            opts=child,
        )
        return cluster, system_pool


CLUSTER_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
"""container.v1 discovery ``Cluster.name``: up to 40 characters, lowercase letters, numbers and hyphens,
starting with a letter and ending with a letter or number."""
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
"""A subset of container.v1 ``ReleaseChannel.channel`` (UNSPECIFIED would leave the channel)."""
MONITORING_COMPONENTS = (
    "SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER", "STORAGE", "HPA", "POD", "DAEMONSET",
    "DEPLOYMENT", "STATEFULSET", "KUBELET", "CADVISOR", "DCGM", "JOBSET",
)
"""container.v1 ``MonitoringComponentConfig.enableComponents`` without COMPONENT_UNSPECIFIED."""
HPA_PROFILES = ("PERFORMANCE", "NONE")
"""container.v1 ``PodAutoscaling.hpaProfile`` without HPA_PROFILE_UNSPECIFIED."""
GATEWAY_API_CHANNEL = "CHANNEL_STANDARD"
"""container.v1 ``GatewayAPIConfig.channel``: "Gateway API support is enabled, standard CRDs are installed"
(CHANNEL_EXPERIMENTAL is deprecated there)."""
MASTER_CIDR_PREFIX = 28
"""The control plane's private range "must be a /28" (pulumi_gcp ``ClusterPrivateClusterConfigArgs``)."""


def _cluster_name_problems(name: str) -> list[Problem]:
    if not CLUSTER_NAME.match(name):
        return [Problem("name", f"'{name}' is not a GKE cluster name: up to 40 lowercase letters, digits and "
                                "hyphens, starting with a letter and ending with a letter or digit")]
    return []


def validate_gke_cluster_args(args: GkeClusterArgs | ExistingClusterArgs) -> list[Problem]:
    """Problems GKE would refuse at create time, or combinations it documents as invalid (pure)."""
    if isinstance(args, ExistingClusterArgs):
        problems = type_problems(args, ExistingClusterArgs)
        return problems or project_id("project", args.project) + _cluster_name_problems(args.name)
    problems = type_problems(args, GkeClusterArgs)
    if problems:
        return problems
    problems = project_id("project", args.project) + _cluster_name_problems(args.name)
    if not args.location:
        problems.append(Problem("location", "required: a region (regional cluster) or a zone"))
    problems += one_of("release_channel", args.release_channel, RELEASE_CHANNELS)
    if args.min_master_version is not None and gke_versions.parse(args.min_master_version) is None:
        problems.append(Problem("min_master_version", f"'{args.min_master_version}' is not a GKE version like 1.33 "
                                                      "or 1.33.5-gke.1014000"))
    problems += rfc1035_name("pods_range_name", args.pods_range_name, "secondary range name")
    problems += rfc1035_name("services_range_name", args.services_range_name, "secondary range name")
    if args.private_nodes:
        network, found = ipv4_network("master_ipv4_cidr", args.master_ipv4_cidr, "range")
        problems += found
        if network is not None and network.prefixlen != MASTER_CIDR_PREFIX:
            problems.append(Problem("master_ipv4_cidr", f"{network} is a /{network.prefixlen}; the control plane's "
                                                        f"private range must be a /{MASTER_CIDR_PREFIX}"))
    elif args.private_endpoint:
        problems.append(Problem("private_endpoint", "a private endpoint needs {private_nodes} (it applies to private "
                                                    "clusters only)"))
    for index, block in enumerate(args.master_authorized_networks):
        problems += ipv4_network(f"master_authorized_networks.{index}.cidr", block.cidr, "block")[1]
    for index, component in enumerate(args.monitoring_components):
        problems += one_of(f"monitoring_components.{index}", component, MONITORING_COMPONENTS)
    if "SYSTEM_COMPONENTS" not in args.monitoring_components:
        problems.append(Problem("monitoring_components", "must include SYSTEM_COMPONENTS (GKE rejects the list "
                                                         "otherwise)"))
    if "DCGM" in args.monitoring_components and not args.managed_prometheus:
        problems.append(Problem("monitoring_components", "DCGM, which exports through Managed Prometheus: set "
                                                         "{managed_prometheus} true or drop DCGM"))
    problems += one_of("hpa_profile", args.hpa_profile, HPA_PROFILES)
    pool = args.system_pool
    if pool.min_nodes < 0 or pool.max_nodes < 1:
        problems.append(Problem("system_pool.max_nodes", "node counts: min_nodes ≥ 0 and max_nodes ≥ 1"))
    if pool.min_nodes > pool.max_nodes:
        problems.append(Problem("system_pool.min_nodes", f"{{system_pool.min_nodes}} ({pool.min_nodes}) must be ≤ "
                                                         f"{{system_pool.max_nodes}} ({pool.max_nodes})"))
    problems += gcp_labels("labels", args.labels)
    return problems
