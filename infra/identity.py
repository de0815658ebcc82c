"""Google service accounts: a least-privilege node identity, and Workload Identity for pods."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
)
"""The minimal roles GKE documents for a custom node service account (harden-your-cluster guide)."""


@dataclass(frozen=True)
class NodeServiceAccountArgs:
    project: str
    """GCP project id."""
    account_id: str
    """Service account id (6–30 chars)."""
    roles: tuple[str, ...] = field(default=NODE_ROLES)
    """Project roles granted non-authoritatively."""


def _account_with_roles(
    child: pulumi.ResourceOptions,
    resource_name: str,
    name: str,
    project: str,
    account_id: str,
    display_name: str,
    roles: tuple[str, ...],
) -> tuple[gcp.serviceaccount.Account, pulumi.Output[str]]:
    """A service account plus non-authoritative project role grants; returns it and its IAM member."""
    account = gcp.serviceaccount.Account(
        resource_name, project=project, account_id=account_id, display_name=display_name, opts=child
    )
    member = account.email.apply(lambda e: f"serviceAccount:{e}")
    for role in roles:
        gcp.projects.IAMMember(
            f"{name}-{role.split('/')[1].replace('.', '-')}", project=project, role=role, member=member, opts=child
        )
    return account, member


class NodeServiceAccount(pulumi.ComponentResource):
    """A node service account with only the roles nodes need (not the default compute SA)."""

    email: pulumi.Output[str]
    member: pulumi.Output[str]

    def __init__(self, name: str, args: NodeServiceAccountArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:NodeServiceAccount", name, {}, opts)
        child = child_options(self, opts)
        account, self.member = _account_with_roles(
            child, f"{name}-sa", name, args.project, args.account_id,
            "GKE inference nodes (least privilege)", args.roles,
        )  # fmt: skip
        self.email = account.email
        self.register_outputs({"email": self.email})


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    project: str
    """GCP project id (the Workload Identity pool is `<project>.svc.id.goog`)."""
    account_id: str
    """Google service account id to create."""
    namespace: str
    """Kubernetes namespace of the service account that impersonates it."""
    ksa_name: str
    """Kubernetes service account name."""
    project_roles: tuple[str, ...] = ()
    """Project-level roles granted non-authoritatively (keep empty where a resource-level grant works)."""


class WorkloadIdentity(pulumi.ComponentResource):
    """A GSA that one Kubernetes service account may impersonate (roles/iam.workloadIdentityUser)."""

    email: pulumi.Output[str]
    member: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:WorkloadIdentity", name, {}, opts)
        child = child_options(self, opts)
        account, self.member = _account_with_roles(
            child, f"{name}-gsa", name, args.project, args.account_id,
            f"Workload Identity for {args.namespace}/{args.ksa_name}", args.project_roles,
        )  # fmt: skip
        gcp.serviceaccount.IAMMember(
            f"{name}-wi-user",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{args.project}.svc.id.goog[{args.namespace}/{args.ksa_name}]",
            opts=child,
        )
        self.email = account.email
        self.register_outputs({"email": self.email})
