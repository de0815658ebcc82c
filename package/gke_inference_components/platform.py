"""Facades of the GCP platform components: APIs, network, identities, registry, the GKE cluster (created or
existing), a compact placement policy and the observability dashboard.

Each refuses what its Python component refuses (same message) before registering anything, then creates that
component as its only child (:func:`.facade.expose`).
"""

from typing import NotRequired, TypedDict

import pulumi

from infra import apis, cluster, dashboard, identity, network, placement, registry

from .convert import Block, block_args
from .facade import expose


def _no_validator(_: object) -> list[object]:
    """The component has no validator of its own (only its required arguments are checked): nothing to add."""
    return []


class ProjectApisArgs(TypedDict):
    """Arguments of the project's enabled APIs."""

    project: str
    """GCP project id."""
    services: NotRequired[list[str]]
    """API service names to enable; default the ones the platform needs (container, compute, artifactregistry,
    containerfilesystem, file, monitoring, storage, iam, cloudresourcemanager, cloudbuild)."""


class ProjectApis(pulumi.ComponentResource):
    """Enables the project's APIs the platform needs (never disabled on destroy)."""

    services: list[str]
    """The enabled service names."""

    def __init__(self, name: str, args: ProjectApisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ProjectApis", name, args, Block(ProjectApisArgs, apis.ProjectApisArgs),
                          apis.validate_project_apis_args)
        expose(self, "ProjectApis", name, opts, lambda child: apis.ProjectApis(name, real, child),
               lambda _: {"services": list(real.services)})


class NetworkArgs(TypedDict):
    """Arguments of the VPC for a VPC-native cluster."""

    project: str
    """GCP project id."""
    region: str
    """Region of the subnet, router and NAT."""
    network_name: str
    """Name of the VPC to create; subnet/router/NAT names derive from it."""
    subnet_cidr: str
    """Primary range (node IPs)."""
    pods_cidr: str
    """Secondary range for pods."""
    services_cidr: str
    """Secondary range for Services."""
    nat: NotRequired[bool]
    """Create Cloud Router + NAT (needed for egress from private nodes). Default true."""
    proxy_only_subnet_cidr: NotRequired[str]
    """Range of a proxy-only subnet (REGIONAL_MANAGED_PROXY, ACTIVE) for regional Envoy-based load balancers such
    as GKE Gateways; unset creates none. At least a /26."""


class Network(pulumi.ComponentResource):
    """A custom-mode VPC with one subnet (pod and Service secondary ranges, Private Google Access), Cloud Router
    and NAT for private nodes, and optionally a proxy-only subnet."""

    network_id: pulumi.Output[str]
    """The VPC's id (the cluster's `network`)."""
    subnetwork_id: pulumi.Output[str]
    """The subnet's id (the cluster's `subnetwork`)."""
    pods_range_name: str
    """Name of the pods' secondary range (the cluster's `podsRangeName`)."""
    services_range_name: str
    """Name of the Services' secondary range (the cluster's `servicesRangeName`)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("Network", name, args, Block(NetworkArgs, network.NetworkArgs),
                          network.validate_network_args)
        expose(self, "Network", name, opts, lambda child: network.Network(name, real, child),
               lambda net: {"network_id": net.network_id, "subnetwork_id": net.subnetwork_id,
                            "pods_range_name": net.pods_range_name, "services_range_name": net.services_range_name})


class NodeServiceAccountArgs(TypedDict):
    """Arguments of the least-privilege node service account."""

    project: str
    """GCP project id."""
    account_id: str
    """Service account id (6–30 chars)."""
    roles: NotRequired[list[str]]
    """Project roles granted non-authoritatively; default logging.logWriter, monitoring.metricWriter,
    monitoring.viewer, stackdriver.resourceMetadata.writer and autoscaling.metricsWriter."""


class NodeServiceAccount(pulumi.ComponentResource):
    """The least-privilege Google service account the nodes run as (not the Compute Engine default)."""

    email: pulumi.Output[str]
    """The account's email (a pool's `serviceAccount`)."""
    member: pulumi.Output[str]
    """`serviceAccount:<email>` (an IAM member, e.g. the registry's `reader`)."""

    def __init__(self, name: str, args: NodeServiceAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("NodeServiceAccount", name, args, Block(NodeServiceAccountArgs,
                          identity.NodeServiceAccountArgs), identity.validate_node_service_account_args)
        expose(self, "NodeServiceAccount", name, opts,
               lambda child: identity.NodeServiceAccount(name, real, child),
               lambda account: {"email": account.email, "member": account.member})


class WorkloadIdentityArgs(TypedDict):
    """Arguments of a Google service account a Kubernetes service account impersonates."""

    project: str
    """GCP project id (the Workload Identity pool is `<project>.svc.id.goog`)."""
    account_id: str
    """Google service account id to create."""
    namespace: str
    """Kubernetes namespace of the service account that impersonates it."""
    ksa_name: str
    """Kubernetes service account name."""
    project_roles: NotRequired[list[str]]
    """Project-level roles granted non-authoritatively (keep empty where a resource-level grant works)."""


class WorkloadIdentity(pulumi.ComponentResource):
    """A Google service account and the Workload Identity binding that lets one Kubernetes service account act as
    it (grant it resource-level roles, e.g. a bucket's `readers`)."""

    email: pulumi.Output[str]
    """The GSA's email (a component's `googleServiceAccount`)."""
    member: pulumi.Output[str]
    """`serviceAccount:<email>`."""

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("WorkloadIdentity", name, args, Block(WorkloadIdentityArgs, identity.WorkloadIdentityArgs),
                          identity.validate_workload_identity_args)
        expose(self, "WorkloadIdentity", name, opts, lambda child: identity.WorkloadIdentity(name, real, child),
               lambda account: {"email": account.email, "member": account.member})


class ImageRegistryArgs(TypedDict):
    """Arguments of the Artifact Registry repositories."""

    project: str
    """GCP project id."""
    location: str
    """Region; image streaming needs the registry in the nodes' region (or a containing multi-region)."""
    repository_id: str
    """Standard Docker repository for our own images."""
    docker_hub_proxy_id: str
    """Remote repository proxying Docker Hub (e.g. vllm/vllm-openai)."""
    reader: pulumi.Input[str]
    """IAM member that pulls images (the node service account's `member`)."""


class ImageRegistry(pulumi.ComponentResource):
    """A standard Docker repository and a Docker Hub remote repository, readable by the nodes."""

    location: str
    """The registry's region."""
    url: str
    """`<location>-docker.pkg.dev/<project>/<repository>`."""
    docker_hub_url: str
    """The Docker Hub proxy's URL (prefix of proxied images)."""

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ImageRegistry", name, args, Block(ImageRegistryArgs, registry.ImageRegistryArgs),
                          _no_validator)
        expose(self, "ImageRegistry", name, opts, lambda child: registry.ImageRegistry(name, real, child),
               lambda reg: {"location": reg.location, "url": reg.url, "docker_hub_url": reg.docker_hub_url})


class AuthorizedNetwork(TypedDict):
    """A CIDR block allowed to reach the control plane."""

    cidr: str
    """CIDR block allowed to reach the control plane."""
    name: str
    """Display name."""


class SystemPool(TypedDict):
    """The CPU pool for system workloads that replaces the default pool."""

    machine_type: NotRequired[str]
    """Machine type. Default e2-standard-4."""
    min_nodes: NotRequired[int]
    """Minimum nodes per zone. Default 1."""
    max_nodes: NotRequired[int]
    """Maximum nodes per zone. Default 3."""
    disk_size_gb: NotRequired[int]
    """Boot disk size. Default 100."""


class GkeClusterArgs(TypedDict):
    """Arguments of a hardened GKE Standard cluster."""

    project: str
    """GCP project id."""
    name: str
    """Cluster name."""
    location: str
    """Region (regional cluster) or zone (zonal)."""
    network: pulumi.Input[str]
    """VPC self link or id (a `Network`'s `networkId`)."""
    subnetwork: pulumi.Input[str]
    """Subnet self link or id (a `Network`'s `subnetworkId`)."""
    pods_range_name: str
    """Secondary range for pods."""
    services_range_name: str
    """Secondary range for Services."""
    node_service_account: pulumi.Input[str]
    """Email of the least-privilege node service account (system pool)."""
    release_channel: NotRequired[str]
    """RAPID, REGULAR (default), STABLE or EXTENDED."""
    min_master_version: NotRequired[str]
    """Minimum control-plane version; unset follows the channel."""
    private_nodes: NotRequired[bool]
    """Nodes without public IPs. Default true."""
    private_endpoint: NotRequired[bool]
    """Control plane reachable only inside the VPC. Default false."""
    master_ipv4_cidr: NotRequired[str]
    """/28 for the control plane's private endpoint. Default 172.16.0.0/28."""
    master_authorized_networks: NotRequired[list[AuthorizedNetwork]]
    """CIDRs allowed to reach the control plane."""
    deletion_protection: NotRequired[bool]
    """Refuse deletion of the cluster. Default true."""
    managed_prometheus: NotRequired[bool]
    """Managed collection for Google Cloud Managed Service for Prometheus. Default true."""
    monitoring_components: NotRequired[list[str]]
    """Cloud Monitoring components (SYSTEM_COMPONENTS required; DCGM for GPU metrics). Default both."""
    network_policy: NotRequired[bool]
    """Enforce NetworkPolicy through Dataplane V2. Default true."""
    hpa_profile: NotRequired[str]
    """Cluster HPA profile: PERFORMANCE (default) or NONE."""
    gateway_api: NotRequired[bool]
    """Enable the Gateway API (standard channel): GKE installs its CRDs and runs its Gateway controller (GKE
    Inference Gateway needs it). Default false."""
    pod_snapshots: NotRequired[bool]
    """Enable GKE Pod snapshots (GKE 1.34.1-gke.3084001+; also needs a gVisor pool). Default false."""
    system_pool: NotRequired[SystemPool]
    """The CPU pool for system workloads."""
    labels: NotRequired[dict[str, str]]
    """GCP resource labels."""


_CLUSTER = Block(GkeClusterArgs, cluster.GkeClusterArgs, {
    "master_authorized_networks": Block(AuthorizedNetwork, cluster.AuthorizedNetwork, many=True),
    "system_pool": Block(SystemPool, cluster.SystemPoolArgs),
})


def _cluster_outputs(made: cluster.GkeCluster) -> dict[str, object]:
    return {"cluster_name": made.name, "location": made.location, "endpoint": made.endpoint,
            "kubeconfig": made.kubeconfig, "cluster_id": made.cluster_id, "workload_pool": made.workload_pool}


class GkeCluster(pulumi.ComponentResource):
    """A hardened GKE Standard cluster for GPU inference: VPC-native, private nodes, Workload Identity, shielded
    nodes, release channel, GCS FUSE / Filestore / PD CSI drivers, managed Prometheus with DCGM, image streaming,
    Dataplane V2 network policy, the default pool replaced by a small system pool."""

    cluster_name: pulumi.Output[str]
    """The cluster's name."""
    location: pulumi.Output[str]
    """Its region or zone."""
    endpoint: pulumi.Output[str]
    """The control plane's IP address."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig (secret) that authenticates through gke-gcloud-auth-plugin: give it to a Kubernetes provider
    and pass that provider to the Kubernetes components."""
    cluster_id: pulumi.Output[str]
    """`projects/P/locations/L/clusters/C` (a `GpuNodePool`'s `cluster`)."""
    workload_pool: str
    """The Workload Identity pool, `<project>.svc.id.goog`."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("GkeCluster", name, args, _CLUSTER, cluster.validate_gke_cluster_args)
        expose(self, "GkeCluster", name, opts, lambda child: cluster.GkeCluster(name, real, child), _cluster_outputs)


class ExistingGkeClusterArgs(TypedDict):
    """Arguments of a handle on an existing GKE cluster."""

    project: str
    """GCP project id of the existing cluster."""
    name: str
    """Existing cluster name."""
    location: str
    """Its region or zone."""


class ExistingGkeCluster(pulumi.ComponentResource):
    """A handle on an existing GKE cluster (the Python `GkeCluster` given `ExistingClusterArgs`): creates nothing,
    reads the cluster and yields its kubeconfig."""

    cluster_name: pulumi.Output[str]
    """The cluster's name."""
    location: pulumi.Output[str]
    """Its region or zone."""
    endpoint: pulumi.Output[str]
    """The control plane's IP address."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig (secret) that authenticates through gke-gcloud-auth-plugin: give it to a Kubernetes provider
    and pass that provider to the Kubernetes components."""
    cluster_id: pulumi.Output[str]
    """`projects/P/locations/L/clusters/C` (a `GpuNodePool`'s `cluster`)."""
    workload_pool: str
    """The Workload Identity pool, `<project>.svc.id.goog`."""

    def __init__(self, name: str, args: ExistingGkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("GkeCluster", name, args, Block(ExistingGkeClusterArgs, cluster.ExistingClusterArgs),
                          cluster.validate_gke_cluster_args)
        expose(self, "ExistingGkeCluster", name, opts, lambda child: cluster.GkeCluster(name, real, child),
               _cluster_outputs)


class CompactPlacementArgs(TypedDict):
    """Arguments of a COMPACT resource policy."""

    project: str
    """GCP project id."""
    region: str
    """Region of the policy: the region of the pool's zone."""
    policy_name: str
    """Name of the resource policy (RFC 1035, 1–63 characters)."""


class CompactPlacement(pulumi.ComponentResource):
    """A COMPACT group-placement resource policy: a pool's nodes close together (a `GpuNodePool`'s
    `compactPlacementPolicy`)."""

    policy_name: pulumi.Output[str]
    """The policy's name."""

    def __init__(self, name: str, args: CompactPlacementArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("CompactPlacement", name, args, Block(CompactPlacementArgs,
                          placement.CompactPlacementArgs), placement.validate_compact_placement_args)
        expose(self, "CompactPlacement", name, opts, lambda child: placement.CompactPlacement(name, real, child),
               lambda made: {"policy_name": made.policy_name})


class DashboardSeries(TypedDict):
    """One line of a chart."""

    legend: str
    """Legend text; empty lets Cloud Monitoring list the series' labels (for grouped queries)."""
    promql: str
    """PromQL query."""


class DashboardPanel(TypedDict):
    """One chart of the dashboard."""

    title: str
    """Chart title."""
    series: list[DashboardSeries]
    """Lines on it."""
    unit: NotRequired[str]
    """Unit of the values (UCUM, e.g. `s`, `1`, `10^2.%`, `MiBy`). Default 1."""
    y_label: NotRequired[str]
    """Y-axis label."""


class AlertRule(TypedDict):
    """One PromQL alert policy."""

    name: str
    """Short id (logical resource name suffix)."""
    display_name: str
    """Title shown in Cloud Monitoring."""
    promql: str
    """Boolean PromQL, e.g. `histogram_quantile(...) > 5`."""
    duration_seconds: int
    """How long the expression must hold before the alert fires."""
    severity: str
    """CRITICAL, ERROR or WARNING."""
    documentation: str
    """What it means and what to do (markdown)."""


class ObservabilityDashboardArgs(TypedDict):
    """Arguments of a Cloud Monitoring dashboard and its alert policies."""

    project: str
    """GCP project of the dashboard and policies."""
    display_name: str
    """Dashboard title (also prefixes alert names)."""
    panels: list[DashboardPanel]
    """Charts."""
    alerts: NotRequired[list[AlertRule]]
    """Alert policies, one per rule."""
    notification_channels: NotRequired[list[pulumi.Input[str]]]
    """Notification channel ids the alerts notify."""
    evaluation_interval_seconds: NotRequired[int]
    """How often Cloud Monitoring evaluates each PromQL condition. Default 60."""
    auto_close_seconds: NotRequired[int]
    """Close an incident this long after the condition stops holding. Default 1800."""
    labels: NotRequired[dict[str, str]]
    """User labels on the alert policies."""


_DASHBOARD = Block(ObservabilityDashboardArgs, dashboard.ObservabilityDashboardArgs, {
    "panels": Block(DashboardPanel, dashboard.Panel, {"series": Block(DashboardSeries, dashboard.Series, many=True)},
                    many=True),
    "alerts": Block(AlertRule, dashboard.AlertRule, many=True),
})


class ObservabilityDashboard(pulumi.ComponentResource):
    """A Cloud Monitoring dashboard of PromQL charts plus PromQL alert policies."""

    dashboard_id: pulumi.Output[str]
    """The dashboard's id."""

    def __init__(self, name: str, args: ObservabilityDashboardArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ObservabilityDashboard", name, args, _DASHBOARD,
                          dashboard.validate_observability_dashboard_args)
        expose(self, "ObservabilityDashboard", name, opts,
               lambda child: dashboard.ObservabilityDashboard(name, real, child),
               lambda made: {"dashboard_id": made.dashboard_id})
