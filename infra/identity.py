"""Google service accounts: a least-privilege node identity, and Workload Identity for pods."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import (
    Problem,
    dns_label,
    dns_subdomain,
    project_id,
    raise_if_problems,
    type_problems,
    unique,
)

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
        raise_if_problems("NodeServiceAccount", name, validate_node_service_account_args(args))
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
        raise_if_problems("WorkloadIdentity", name, validate_workload_identity_args(args))
        super().__init__("gke-inference:infra:WorkloadIdentity", name, {}, opts)
        child = child_options(self, opts)
        account, self.member = _account_with_roles(
            child, f"{name}-gsa", name, args.project, args.account_id,
            _wi_display_name(args), args.project_roles,
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


ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
"""iam.v1 discovery ``CreateServiceAccountRequest.accountId``: 6–30 characters matching
``[a-z]([-a-z0-9]*[a-z0-9])``."""
DISPLAY_NAME_MAX_BYTES = 100
"""iam.v1 discovery ``ServiceAccount.displayName``: at most 100 UTF-8 bytes."""
PREDEFINED_ROLE = re.compile(r"^roles/[A-Za-z0-9_.]+$")
"""``roles/<service>.<role>``: the grant's child name is derived from the part after ``roles/``."""


def _wi_display_name(args: WorkloadIdentityArgs) -> str:
    return f"Workload Identity for {args.namespace}/{args.ksa_name}"


def _account_problems(project: str, account_id: str, roles_path: str, roles: tuple[str, ...]) -> list[Problem]:
    problems = project_id("project", project)
    if not ACCOUNT_ID.match(account_id):
        problems.append(Problem("account_id", f"'{account_id}' is not a service account id: 6–30 lowercase letters, "
                                              "digits or hyphens, starting with a letter and not ending with a hyphen"))
    for index, role in enumerate(roles):
        if not PREDEFINED_ROLE.match(role):
            problems.append(Problem(f"{roles_path}.{index}", f"'{role}' is not a predefined role (roles/SERVICE.ROLE)"))
    problems += unique(roles_path, [r.split("/")[-1] for r in roles], "role")
    return problems


def validate_node_service_account_args(args: NodeServiceAccountArgs) -> list[Problem]:
    """Problems IAM would refuse at create time, or that would repeat a child's name (pure)."""
    return type_problems(args, NodeServiceAccountArgs) or _account_problems(
        args.project, args.account_id, "roles", args.roles
    )


def validate_workload_identity_args(args: WorkloadIdentityArgs) -> list[Problem]:
    """Problems IAM or Kubernetes would refuse (account id, KSA and namespace names, display name) (pure)."""
    problems = type_problems(args, WorkloadIdentityArgs)
    if problems:
        return problems
    problems = _account_problems(args.project, args.account_id, "project_roles", args.project_roles)
    problems += dns_label("namespace", args.namespace, "Kubernetes namespace")
    problems += dns_subdomain("ksa_name", args.ksa_name, "Kubernetes service account name")
    size = len(_wi_display_name(args).encode())
    if size > DISPLAY_NAME_MAX_BYTES:
        problems.append(Problem("ksa_name", f"the service account's display name 'Workload Identity for "
                                            f"<namespace>/<ksa_name>' is {size} bytes; IAM allows "
                                            f"{DISPLAY_NAME_MAX_BYTES}: shorten {{namespace}} or {{ksa_name}}"))
    return problems
