"""Every custom resource kind the stack can render, and who installs its controller.

A custom resource is only usable when its CRD exists and a controller acts on it. Nothing in the
offline render can see a missing CRD (the mock engine accepts every kind), so this table is the
promise, and the tests render every variant (dev, prod, KEDA, a multi-node replica, each weights
backend) and fail on a kind that is not a built-in Kubernetes kind and is not listed here
(tests/serving/test_custom_resource_kinds.py). The deploy rehearsal imports :data:`CUSTOM_RESOURCES`.

``installed_by`` is either ``stack:<component type token>`` — the stack installs the CRD and its
controller in that component (pinned chart), which every object of the kind must depend on — or
``gke`` — GKE installs and upgrades the CRD and controller itself (never create those CRDs: GKE owns
them), from ``min_gke_version`` and when ``requires`` holds. docs/controllers.md is the same table in
prose; a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workloads import keda, lws_operator, monitoring
from workloads.gateway import inference_gateway, objective_crd, upstream

BUILTIN_API_GROUPS = frozenset(
    {
        "",  # core/v1
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
    }
)
"""API groups the Kubernetes API server serves itself (https://kubernetes.io/docs/reference/using-api/#api-groups;
the group list of the Kubernetes API reference, v1.33). Anything else is a custom resource."""

STACK = "stack:"
GKE = "gke"


@dataclass(frozen=True)
class CustomResourceKind:
    """One custom resource kind and where its CRD and controller come from."""

    kind: str
    api_version: str
    """``group/version`` the stack renders."""
    installed_by: str
    """``stack:<component type token>`` or ``gke``."""
    installed_what: str
    """What installs it: the pinned chart (stack) or the GKE feature (gke)."""
    min_gke_version: str | None
    """Oldest GKE version that serves the kind (gke); None when the stack installs it or any supported GKE has it."""
    requires: str
    """Cluster setting the kind needs besides the version (empty when none)."""
    ready_when: str
    """When ``pulumi up`` treats an object of the kind as usable (the ``pulumi.com/waitFor`` set, or why none)."""
    source: str
    """Where each fact above comes from."""

    @property
    def group(self) -> str:
        return api_group(self.api_version)

    @property
    def component(self) -> str | None:
        """The installing component's type token (stack), else None."""
        return self.installed_by.removeprefix(STACK) if self.installed_by.startswith(STACK) else None

    def as_data(self) -> dict[str, Any]:
        """The entry as the deploy rehearsal reads it (camelCase, like resources.json)."""
        return {
            "apiVersion": self.api_version,
            "installedBy": self.installed_by,
            "installedWhat": self.installed_what,
            "minGkeVersion": self.min_gke_version,
            "requires": self.requires,
            "readyWhen": self.ready_when,
            "source": self.source,
        }


LWS_SOURCE = (
    "kubernetes-sigs/lws v0.10.0 (2161f38f): site/content/en/docs/installation/_index.md (Install by Helm), "
    "charts/lws; api/leaderworkerset/v1/leaderworkerset_types.go (condition Available)"
)
KEDA_SOURCE = (
    "kedacore/charts v2.20.2 (chart keda 2.20.2, CRDs = stack/schemas/keda); "
    "kedacore/keda v2.20.2 apis/keda/v1alpha1/condition_types.go (ConditionReady)"
)
GMP_SOURCE = (
    "https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed (managed collection installs the "
    "operator and CRDs in gmp-system); GoogleCloudPlatform/prometheus-engine pkg/operator/apis/monitoring/v1 "
    "(MonitoringConditionType ConfigurationCreateSuccess)"
)
SNAPSHOT_SOURCE = (
    "https://cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/backup-pd-volume-snapshots "
    "(Requirements: Compute Engine PD CSI driver, GKE 1.17.6-gke.4 or later for a VolumeSnapshot of a PD)"
)
GATEWAY_API_REQUIRES = (
    "Gateway API enabled on the cluster (gatewayApiConfig channel CHANNEL_STANDARD) and a proxy-only subnet in the "
    "region"
)
GATEWAY_SOURCE = (
    "https://cloud.google.com/kubernetes-engine/docs/how-to/deploying-gateways (enable Gateway API, proxy-only "
    "subnet); https://cloud.google.com/kubernetes-engine/docs/how-to/gatewayclass-capabilities (GKE manages the "
    "Gateway API CRDs: bundle 1.5.0 from 1.35.2-gke.1842000, 1.4.0 from 1.34.1-gke.1822000); "
    "../shared/reference/field-2026-12.md §1.3"
)
INFERENCE_GATEWAY_SOURCE = (
    "llm-d/llm-d docs/infrastructure/gateway/gke.md @3b9ac7a9 (GKE >= 1.34.0-gke.1626000 installs all GA CRDs of "
    "Gateway API and the Inference Extension); https://cloud.google.com/kubernetes-engine/docs/how-to/"
    "deploy-gke-inference-gateway; GoogleCloudPlatform/gke-gateway-api config/crd @fc40d606 (the policy CRDs)"
)
PER_PARENT_STATUS = (
    "on creation: its status is per parent (status.parents[].conditions / status.ancestors), with no top-level "
    "condition pulumi.com/waitFor could name"
)

GATEWAY_POLICY_CRDS = "GKE Gateway controller (networking.gke.io policy CRDs)"
APPLIED_TO_THE_LOAD_BALANCER = "on creation (configuration the Gateway controller applies to the load balancer)"


def _gke_gateway_policy(kind: str, installed_what: str, ready_when: str) -> CustomResourceKind:
    """A ``networking.gke.io`` kind the GKE Gateway controller installs and serves (no minimum beyond the Gateway
    API's own)."""
    return CustomResourceKind(
        kind=kind, api_version=upstream.GKE_NETWORKING_API_VERSION, installed_by=GKE, installed_what=installed_what,
        min_gke_version=None, requires=GATEWAY_API_REQUIRES, ready_when=ready_when, source=INFERENCE_GATEWAY_SOURCE,
    )


_ENTRIES = (
    CustomResourceKind(
        kind=lws_operator.KIND,
        api_version=lws_operator.API_VERSION,
        installed_by=STACK + "gke-inference:workloads:LwsOperator",
        installed_what=f"Helm chart {lws_operator.CHART} {lws_operator.CHART_VERSION} in {lws_operator.NAMESPACE}",
        min_gke_version=None,
        requires="serving.nodesPerReplica > 1 (the only case that renders one)",
        ready_when=f"pulumi.com/waitFor: condition={lws_operator.READY_CONDITION}",
        source=LWS_SOURCE,
    ),
    CustomResourceKind(
        kind="ScaledObject",
        api_version=keda.API_VERSION,
        installed_by=STACK + "gke-inference:workloads:KedaOperator",
        installed_what=f"Helm chart {keda.CHART_REPO} {keda.CHART} {keda.CHART_VERSION} in {keda.NAMESPACE}",
        min_gke_version=None,
        requires="autoscaling.mode keda; autoscaling.keda.install false means the cluster already runs KEDA",
        ready_when=f"pulumi.com/waitFor: condition={keda.READY_CONDITION}",
        source=KEDA_SOURCE,
    ),
    CustomResourceKind(
        kind="TriggerAuthentication",
        api_version=keda.API_VERSION,
        installed_by=STACK + "gke-inference:workloads:KedaOperator",
        installed_what=f"Helm chart {keda.CHART_REPO} {keda.CHART} {keda.CHART_VERSION} in {keda.NAMESPACE}",
        min_gke_version=None,
        requires="autoscaling.mode keda",
        ready_when="on creation: its status holds only the names of the ScaledObjects using it (no conditions)",
        source=KEDA_SOURCE + "; stack/schemas/keda/keda.sh_triggerauthentications.yaml (status)",
    ),
    CustomResourceKind(
        kind=monitoring.KIND,
        api_version=monitoring.API_VERSION,
        installed_by=GKE,
        installed_what="Managed Service for Prometheus managed collection (operator in gmp-system)",
        min_gke_version=None,
        requires="cluster.managedPrometheus: true (the stack's default)",
        ready_when=f"pulumi.com/waitFor: condition={monitoring.READY_CONDITION}",
        source=GMP_SOURCE,
    ),
    CustomResourceKind(
        kind="GCPDataSource",
        api_version="datalayer.gke.io/v1",
        installed_by=GKE,
        installed_what="GKE Volume Populator",
        min_gke_version="1.33.2-gke.4780000",
        requires="model.weights.backend hyperdiskMl filled in-stack",
        ready_when="through the PVC that references it (waitFor on the claim's phase Bound)",
        source="../shared/reference/field-2026-12.md §3.1; https://cloud.google.com/kubernetes-engine/docs/"
        "reference/crds/gcpdatasource",
    ),
    CustomResourceKind(
        kind="ComputeClass",
        api_version="cloud.google.com/v1",
        installed_by=GKE,
        installed_what="GKE custom compute classes",
        min_gke_version="1.30.3-gke.1451000",
        requires="hyperdiskMl filled in-stack (the Volume Populator's gcs-to-hdml-compute-class)",
        ready_when="on creation (read by the cluster autoscaler when a pod asks for the class)",
        source="../shared/reference/gke-iac-reference.md §6.4 (about-custom-compute-classes); "
        "https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass",
    ),
    CustomResourceKind(
        kind="CapacityBuffer",
        api_version="autoscaling.x-k8s.io/v1beta1",
        installed_by=GKE,
        installed_what="GKE's managed cluster autoscaler (capacity buffers)",
        min_gke_version="1.35.2-gke.1842000",
        requires="standby buffers: GKE 1.36.0-gke.2253000 and node auto-provisioning",
        ready_when="on creation: the autoscaler provisions the buffer nodes over minutes and reports "
        "status.conditions; up does not wait for GPU capacity",
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/configure-capacity-buffer (Before you begin); "
        "stack/schemas/cluster-autoscaler (kubernetes/autoscaler cluster-autoscaler-1.36.1)",
    ),
    CustomResourceKind(
        kind="PodSnapshotStorageConfig",
        api_version="podsnapshot.gke.io/v1",
        installed_by=GKE,
        installed_what="GKE Pod snapshots (cluster addon pod_snapshot_config)",
        min_gke_version="1.34.1-gke.3084001",
        requires="the Pod snapshot addon, Workload Identity and a gVisor (GKE Sandbox) serving pool",
        ready_when="on creation (configuration read by GKE's snapshot agent)",
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots (cluster version); "
        "https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot",
    ),
    CustomResourceKind(
        kind="PodSnapshotPolicy",
        api_version="podsnapshot.gke.io/v1",
        installed_by=GKE,
        installed_what="GKE Pod snapshots (cluster addon pod_snapshot_config)",
        min_gke_version="1.34.1-gke.3084001",
        requires="the Pod snapshot addon; the policy lives in the serving pods' namespace",
        ready_when="on creation: PodSnapshot objects appear after the first checkpoint, which up does not wait for",
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots; "
        "https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot",
    ),
    CustomResourceKind(
        kind="VolumeSnapshot",
        api_version="snapshot.storage.k8s.io/v1",
        installed_by=GKE,
        installed_what="GKE snapshot controller with the Compute Engine PD CSI driver",
        min_gke_version="1.17.6-gke.4",
        requires="the PD CSI driver addon (the stack enables it)",
        ready_when="pulumi.com/waitFor on status.readyToUse (set by the weights component)",
        source=SNAPSHOT_SOURCE,
    ),
    CustomResourceKind(
        kind="VolumeSnapshotClass",
        api_version="snapshot.storage.k8s.io/v1",
        installed_by=GKE,
        installed_what="GKE snapshot controller with the Compute Engine PD CSI driver",
        min_gke_version="1.17.6-gke.4",
        requires="the PD CSI driver addon (the stack enables it)",
        ready_when="on creation (configuration only)",
        source=SNAPSHOT_SOURCE,
    ),
    CustomResourceKind(
        kind="Gateway",
        api_version=upstream.GATEWAY_API_VERSION,
        installed_by=GKE,
        installed_what="GKE Gateway controller (GatewayClasses gke-l7-rilb, gke-l7-regional-external-managed)",
        min_gke_version=None,
        requires=GATEWAY_API_REQUIRES,
        ready_when=f"pulumi.com/waitFor: condition={inference_gateway.READY_CONDITION}",
        source=GATEWAY_SOURCE + "; gateway-api v1.6.1 Gateway CRD (status condition Programmed)",
    ),
    CustomResourceKind(
        kind="HTTPRoute",
        api_version=upstream.GATEWAY_API_VERSION,
        installed_by=GKE,
        installed_what="GKE Gateway controller",
        min_gke_version=None,
        requires=GATEWAY_API_REQUIRES,
        ready_when=PER_PARENT_STATUS,
        source=GATEWAY_SOURCE,
    ),
    CustomResourceKind(
        kind="InferencePool",
        api_version=upstream.INFERENCE_POOL_API_VERSION,
        installed_by=GKE,
        installed_what="GKE Inference Gateway (GA InferencePool CRD installed and upgraded by GKE)",
        min_gke_version="1.34.0-gke.1626000",
        requires=GATEWAY_API_REQUIRES,
        ready_when=PER_PARENT_STATUS,
        source=INFERENCE_GATEWAY_SOURCE,
    ),
    _gke_gateway_policy("HealthCheckPolicy", GATEWAY_POLICY_CRDS, APPLIED_TO_THE_LOAD_BALANCER),
    _gke_gateway_policy("GCPBackendPolicy", GATEWAY_POLICY_CRDS, APPLIED_TO_THE_LOAD_BALANCER),
    _gke_gateway_policy(
        "GCPRoutingExtension",
        "GKE Gateway controller (service extensions for regional application load balancers)",
        PER_PARENT_STATUS,
    ),
    CustomResourceKind(
        kind="InferenceObjective",
        api_version=upstream.OBJECTIVE_API_VERSION,
        installed_by=STACK + objective_crd.TYPE_TOKEN,
        installed_what=f"CRD {objective_crd.CRD_NAME} from llm-d-router {upstream.EPP_RELEASE_TAG} "
        "(stack/schemas/llm-d-router, sha256-pinned); read by each pool's endpoint picker",
        min_gke_version=None,
        requires="a model or LoRA adapter with a priority (alpha: GKE installs only GA CRDs)",
        ready_when="on creation (the endpoint picker reads it; no controller sets its status)",
        source="../shared/reference/field-2026-12.md §1.1 (API group move to llm-d.ai, commit 0fb6a7c5); "
        "llm-d/llm-d docs/infrastructure/gateway/gke.md @3b9ac7a9; llm-d-router v0.10.0 "
        "config/crd/bases/llm-d.ai_inferenceobjectives.yaml",
    ),
)

CUSTOM_RESOURCES: Mapping[str, CustomResourceKind] = {entry.kind: entry for entry in _ENTRIES}
"""kind → where its CRD and controller come from (the deploy rehearsal's table)."""


def api_group(api_version: str) -> str:
    """``apps/v1`` → ``apps``; ``v1`` → ``""`` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_builtin(api_version: str) -> bool:
    """Whether the Kubernetes API server serves this group itself (no CRD, no controller to install)."""
    return api_group(api_version) in BUILTIN_API_GROUPS


def custom_kinds(manifests: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """``(apiVersion, kind)`` of every rendered object that is a custom resource."""
    return {
        (m["apiVersion"], m["kind"]) for m in manifests if "kind" in m and not is_builtin(str(m.get("apiVersion", "")))
    }


def unlisted(manifests: Iterable[Mapping[str, Any]]) -> list[str]:
    """Custom resources rendered but missing from :data:`CUSTOM_RESOURCES` (or listed under another apiVersion)."""
    problems = []
    for api_version, kind in sorted(custom_kinds(manifests)):
        entry = CUSTOM_RESOURCES.get(kind)
        if entry is None:
            problems.append(f"{api_version} {kind}: no entry in workloads/custom_resources.CUSTOM_RESOURCES")
        elif entry.api_version != api_version:
            problems.append(f"{api_version} {kind}: listed as {entry.api_version}")
    return problems


def as_data() -> dict[str, dict[str, Any]]:
    """The whole table as plain data: kind → {apiVersion, installedBy, minGkeVersion, source, ...}."""
    return {kind: entry.as_data() for kind, entry in CUSTOM_RESOURCES.items()}
