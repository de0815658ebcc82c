"""Rules on GCP resources (pulumi-gcp 10.2.0 camelCase inputs): GKE cluster, node pools, buckets, IAM.

Property paths were read from the installed SDK (``pulumi_gcp.container.ClusterArgs``,
``NodePoolArgs``, ``storage.BucketArgs``); see ../shared/reference/gke-iac-reference.md §2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.model import Finding, Rule, get, types

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
PRIMITIVE_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
GPU_TAINT_KEY = "nvidia.com/gpu"
# Accelerator-optimized families carry their GPUs implicitly (no guestAccelerators needed):
# A2/A3/A4 (A100/H100/H200/B200), G2 (L4), G4 (RTX PRO 6000) — gke-iac-reference.md §4.
_GPU_FAMILIES = ("a2-", "a3-", "a4-", "a4x-", "g2-", "g4-")


# -- GKE cluster ---------------------------------------------------------------------------------


def private_nodes(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Nodes get no external IPs."""
    if get(inputs, "privateClusterConfig.enablePrivateNodes") is True:
        return []
    return [Finding("privateClusterConfig.enablePrivateNodes", "must be true: set cluster.privateNodes: true "
                    "(egress goes through Cloud NAT)")]


def workload_identity(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Pods authenticate as Google service accounts through Workload Identity, not the node SA."""
    pool = get(inputs, "workloadIdentityConfig.workloadPool")
    if isinstance(pool, str) and pool.endswith(".svc.id.goog"):
        return []
    return [Finding("workloadIdentityConfig.workloadPool", f"is {pool!r}; set it to '<project>.svc.id.goog' "
                    "(cluster.workloadIdentity: true)")]


def no_legacy_abac(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Legacy ABAC bypasses RBAC."""
    if get(inputs, "enableLegacyAbac") is True:
        return [Finding("enableLegacyAbac", "must be false: legacy ABAC grants access outside RBAC")]
    return []


def no_basic_auth_or_client_certs(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """No static credentials on the control plane: no basic auth, no issued client certificates."""
    findings = []
    for key in ("username", "password"):
        if get(inputs, f"masterAuth.{key}"):
            findings.append(Finding(f"masterAuth.{key}", "basic auth must not be configured; remove it "
                                    "and use Google identities (gcloud / Workload Identity)"))
    if get(inputs, "masterAuth.clientCertificateConfig.issueClientCertificate") is True:
        findings.append(Finding("masterAuth.clientCertificateConfig.issueClientCertificate",
                                "must be false: an issued client certificate is a static admin credential"))
    return findings


def release_channel(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """The cluster follows a release channel so GKE patches it."""
    channel = get(inputs, "releaseChannel.channel")
    if channel in RELEASE_CHANNELS:
        return []
    return [Finding("releaseChannel.channel", f"is {channel!r}; set one of {', '.join(RELEASE_CHANNELS)} "
                    "(cluster.releaseChannel)")]


def network_policy(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """NetworkPolicy objects are enforced: Calico (networkPolicy.enabled) or Dataplane V2."""
    if get(inputs, "datapathProvider") == "ADVANCED_DATAPATH" or get(inputs, "networkPolicy.enabled") is True:
        return []
    return [Finding("datapathProvider", "NetworkPolicy is not enforced: set datapathProvider ADVANCED_DATAPATH "
                    "(Dataplane V2) or networkPolicy.enabled true (cluster.networkPolicy: true)")]


def shielded_cluster_nodes(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Shielded GKE nodes stay on (the provider default is true)."""
    if get(inputs, "enableShieldedNodes") is False:
        return [Finding("enableShieldedNodes", "must not be false: shielded nodes prove node identity to the "
                        "control plane")]
    return []


# -- Node pools ----------------------------------------------------------------------------------


def is_gpu_pool(inputs: Mapping[str, Any]) -> bool:
    """Whether a node pool's nodes have GPUs (explicit accelerators or an accelerator-optimized family)."""
    machine = get(inputs, "nodeConfig.machineType", "")
    return bool(get(inputs, "nodeConfig.guestAccelerators")) or str(machine).startswith(_GPU_FAMILIES)


def gpu_pool_secure_boot(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """GPU nodes run as shielded VMs with secure boot and integrity monitoring."""
    if not is_gpu_pool(inputs):
        return []
    findings = []
    if get(inputs, "nodeConfig.shieldedInstanceConfig.enableSecureBoot") is not True:
        findings.append(Finding("nodeConfig.shieldedInstanceConfig.enableSecureBoot",
                                "must be true on GPU pools (GKE-installed NVIDIA drivers are signed)"))
    if get(inputs, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring") is False:
        findings.append(Finding("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring",
                                "must not be false on GPU pools"))
    return findings


def node_workload_metadata(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Node pools expose the GKE metadata server, so pods never see the node's credentials."""
    mode = get(inputs, "nodeConfig.workloadMetadataConfig.mode")
    if mode == "GKE_METADATA":
        return []
    return [Finding("nodeConfig.workloadMetadataConfig.mode", f"is {mode!r}; set GKE_METADATA so pods use "
                    "Workload Identity instead of the node service account")]


def not_default_service_account(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Nodes run as a dedicated least-privilege service account, not the Compute default (Editor)."""
    account = get(inputs, "nodeConfig.serviceAccount")
    if not account or account == "default" or str(account).endswith("-compute@developer.gserviceaccount.com"):
        return [Finding("nodeConfig.serviceAccount", f"is {account!r} (the Compute Engine default account, which "
                        "has Editor); pass the dedicated node service account's email")]
    return []


def gpu_pool_tainted(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """GPU nodes carry the nvidia.com/gpu NoSchedule taint so only GPU workloads land there."""
    if not is_gpu_pool(inputs):
        return []
    for taint in get(inputs, "nodeConfig.taints", []):
        if taint.get("key") == GPU_TAINT_KEY and taint.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE"):
            return []
    return [Finding("nodeConfig.taints", f"GPU pool lacks the taint {{key: {GPU_TAINT_KEY}, effect: NO_SCHEDULE}}; "
                    "add it so CPU pods don't take GPU nodes")]


# -- Buckets -------------------------------------------------------------------------------------


def bucket_uniform_access(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """IAM only, no object ACLs."""
    if get(inputs, "uniformBucketLevelAccess") is True:
        return []
    return [Finding("uniformBucketLevelAccess", "must be true (IAM only; no per-object ACLs)")]


def bucket_public_access_prevention(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """The bucket can never be made public."""
    value = get(inputs, "publicAccessPrevention")
    if value == "enforced":
        return []
    return [Finding("publicAccessPrevention", f"is {value!r}; set 'enforced'")]


SOFT_DELETE_MIN_SECONDS = 7 * 86400
"""Soft delete retains 7–90 days when on (pulumi_gcp ``BucketSoftDeletePolicyArgs``: 604800–7776000 s)."""


def bucket_hns_create_rules(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """A hierarchical-namespace bucket has no object versioning and uses uniform bucket-level access.

    Cloud Storage refuses both at create time: "Versioning is not supported for hierarchical namespace
    buckets" (https://cloud.google.com/storage/docs/hns-overview), and HNS "requires
    uniform_bucket_level_access" (pulumi_gcp ``storage.BucketArgs.hierarchical_namespace``).
    """
    if get(inputs, "hierarchicalNamespace.enabled") is not True:
        return []
    findings = []
    if get(inputs, "versioning.enabled") is True:
        findings.append(Finding("versioning.enabled", "must be false on a hierarchical-namespace bucket (Cloud "
                                "Storage refuses the pair): set modelStorage.versioning: false, or "
                                "modelStorage.hierarchicalNamespace: false to keep versioning"))
    if get(inputs, "uniformBucketLevelAccess") is not True:
        findings.append(Finding("uniformBucketLevelAccess", "must be true on a hierarchical-namespace bucket "
                                "(Cloud Storage requires it)"))
    return findings


def bucket_recoverable(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Overwritten or deleted weights can be recovered: object versioning, or soft delete of at least 7 days.

    HNS buckets cannot version, so there soft delete is the guard.
    """
    if get(inputs, "versioning.enabled") is True:
        return []
    if int(get(inputs, "softDeletePolicy.retentionDurationSeconds", 0)) >= SOFT_DELETE_MIN_SECONDS:
        return []
    if get(inputs, "hierarchicalNamespace.enabled") is True:
        return [Finding("softDeletePolicy.retentionDurationSeconds", "must be at least 604800 (7 days) on a "
                        "hierarchical-namespace bucket, which cannot keep versions (modelStorage.softDeleteDays ≥ 7)")]
    return [Finding("versioning.enabled", "is off and soft delete is off: set modelStorage.versioning: true or "
                    "modelStorage.softDeleteDays ≥ 7")]


# -- IAM -----------------------------------------------------------------------------------------


def _iam_kind(resource_type: str) -> str:
    """'member', 'binding', 'policy' or '' from a pulumi-gcp IAM type token (casing varies by module)."""
    kind = resource_type.rsplit(":", 1)[-1].lower()
    for suffix in ("member", "binding", "policy"):
        if kind.endswith("iam" + suffix):
            return suffix
    return ""


def is_iam(resource_type: str) -> bool:
    """Any pulumi-gcp ``*IAMMember`` / ``*IAMBinding`` / ``*IAMPolicy`` (any casing)."""
    return resource_type.startswith("gcp:") and _iam_kind(resource_type) != ""


def iam_non_authoritative(resource_type: str, _: Mapping[str, Any]) -> list[Finding]:
    """Authoritative IAM (Binding/Policy) silently removes grants made elsewhere; use *IAMMember."""
    kind = _iam_kind(resource_type)
    if kind in ("binding", "policy"):
        member_type = resource_type.rsplit(":", 1)[-1][: -len(kind)] + "Member"
        return [Finding("type", f"{resource_type} is authoritative (it replaces every other grant of the role); "
                        f"use the non-authoritative {member_type} instead")]
    return []


def _members(inputs: Mapping[str, Any]) -> list[str]:
    members = list(get(inputs, "members", []) or [])
    if get(inputs, "member"):
        members.append(get(inputs, "member"))
    for binding in get(inputs, "bindings", []) or []:
        members.extend(binding.get("members") or [])
    return [str(m) for m in members]


def iam_no_public_members(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """Nothing is granted to the whole internet."""
    public = [m for m in _members(inputs) if m in PUBLIC_MEMBERS]
    return [Finding("member", f"grants to {m}: grant to named principals only") for m in public]


def iam_no_primitive_roles(_: str, inputs: Mapping[str, Any]) -> list[Finding]:
    """No Owner/Editor/Viewer: they span every service in the project."""
    roles = [get(inputs, "role")] + [b.get("role") for b in get(inputs, "bindings", []) or []]
    return [Finding("role", f"{r} is a primitive role; grant a predefined role for the one service needed "
                    "(e.g. roles/storage.objectViewer)") for r in roles if r in PRIMITIVE_ROLES]


RULES = [
    Rule("gke-private-nodes", "GKE nodes have no external IPs.", types(CLUSTER), private_nodes),
    Rule("gke-workload-identity", "Workload Identity is enabled on the cluster.", types(CLUSTER), workload_identity),
    Rule("gke-no-legacy-abac", "Legacy ABAC is disabled.", types(CLUSTER), no_legacy_abac),
    Rule("gke-no-static-credentials", "No basic auth and no issued client certificate.", types(CLUSTER),
         no_basic_auth_or_client_certs),
    Rule("gke-release-channel", "The cluster is enrolled in a release channel.", types(CLUSTER), release_channel),
    Rule("gke-network-policy", "NetworkPolicy is enforced (Dataplane V2 or Calico).", types(CLUSTER), network_policy),
    Rule("gke-shielded-nodes", "Shielded GKE nodes stay enabled.", types(CLUSTER), shielded_cluster_nodes),
    Rule("nodepool-gpu-secure-boot", "GPU pools use secure boot and integrity monitoring.", types(NODE_POOL),
         gpu_pool_secure_boot),
    Rule("nodepool-gke-metadata", "Node pools run the GKE metadata server (Workload Identity).", types(NODE_POOL),
         node_workload_metadata),
    Rule("nodepool-no-default-sa", "Node pools don't run as the Compute Engine default service account.",
         types(NODE_POOL), not_default_service_account),
    Rule("nodepool-gpu-taint", "GPU pools carry the nvidia.com/gpu NoSchedule taint.", types(NODE_POOL),
         gpu_pool_tainted),
    Rule("bucket-uniform-access", "Buckets use uniform bucket-level access.", types(BUCKET), bucket_uniform_access),
    Rule("bucket-public-access-prevention", "Buckets enforce public access prevention.", types(BUCKET),
         bucket_public_access_prevention),
    Rule("bucket-hns-create-rules", "Hierarchical-namespace buckets have no versioning and uniform access.",
         types(BUCKET), bucket_hns_create_rules),
    Rule("bucket-recoverable", "Deleted or overwritten objects are recoverable (versioning or ≥ 7 days soft delete).",
         types(BUCKET), bucket_recoverable),
    Rule("iam-non-authoritative", "IAM is granted with *IAMMember only.", is_iam, iam_non_authoritative),
    Rule("iam-no-public-members", "No IAM grant to allUsers / allAuthenticatedUsers.", is_iam, iam_no_public_members),
    Rule("iam-no-primitive-roles", "No roles/owner, roles/editor or roles/viewer.", is_iam, iam_no_primitive_roles),
]
"""GCP rules, in report order."""
