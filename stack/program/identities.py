"""The stack's Workload Identities, made one way: a GSA, the Kubernetes service account's
``roles/iam.workloadIdentityUser`` binding, and the role it needs on the model bucket or the project.

Every caller (``serving_program``, ``weights_program``, ``observability_program``) goes through
:func:`stack_identity`, so each identity gets its id from ``stack.decisions.gsa_account_id`` and waits for
what GCP identities wait for (the enabled APIs and the cluster, whose creation makes the
``<project>.svc.id.goog`` pool the binding names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

from infra.identity import WorkloadIdentity, WorkloadIdentityArgs
from infra.storage import READER_ROLE, WRITER_ROLE
from stack.config import StackConfig
from stack.decisions import gsa_account_id

BUCKET_ROLES = {"reader": READER_ROLE, "writer": WRITER_ROLE}
"""Object read (roles/storage.objectViewer) or read/write (roles/storage.objectUser) on the model bucket."""


@dataclass(frozen=True)
class BucketAccess:
    """The bucket role an identity gets: a ``BucketIAMMember`` child of the identity.

    Args:
        bucket_name: the model bucket (``ModelBucket.bucket_name`` or the plain name).
        access: ``reader`` or ``writer`` (BUCKET_ROLES).
        grant_name: logical name of the grant; default ``<identity>-bucket-<access>``.
        aliases: earlier identities of the grant (``pulumi.Alias``), so moving it replaces nothing.
    """

    bucket_name: pulumi.Input[str]
    access: Literal["reader", "writer"]
    grant_name: str | None = None
    aliases: Sequence[pulumi.Alias] = field(default_factory=tuple)


@dataclass(frozen=True)
class StackIdentity:
    """An identity and its bucket grant (None without bucket access)."""

    identity: WorkloadIdentity
    bucket_grant: gcp.storage.BucketIAMMember | None

    @property
    def email(self) -> pulumi.Output[str]:
        return self.identity.email


def stack_identity(
    name: str,
    config: StackConfig,
    stack: str,
    prefix: str,
    namespace: str,
    ksa: str,
    depends_on: Sequence[pulumi.Resource],
    *,
    bucket: BucketAccess | None = None,
    project_roles: tuple[str, ...] = (),
) -> StackIdentity:
    """GSA ``<prefix>-<stack>`` (``gsa_account_id``) that ``namespace/ksa`` impersonates, with ``bucket`` access
    and ``project_roles``.

    Args:
        name: logical name of the ``WorkloadIdentity`` (its children derive from it).
        depends_on: what it waits for: the enabled APIs and the cluster (and the bucket when it gets a role there).
    """
    identity = WorkloadIdentity(
        name,
        WorkloadIdentityArgs(
            project=config.project,
            account_id=gsa_account_id(prefix, stack),
            namespace=namespace,
            ksa_name=ksa,
            project_roles=project_roles,
        ),
        opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
    )
    grant = None
    if bucket is not None:
        grant = gcp.storage.BucketIAMMember(
            bucket.grant_name or f"{name}-bucket-{bucket.access}",
            bucket=bucket.bucket_name,
            role=BUCKET_ROLES[bucket.access],
            member=identity.member,
            opts=pulumi.ResourceOptions(parent=identity, aliases=list(bucket.aliases)),
        )
    return StackIdentity(identity, grant)
