"""The model bucket: private, soft-deleted, in the cluster's region; hierarchical namespace or versioning.

A model bucket defaults to a **hierarchical namespace** (HNS): GCS FUSE gets faster metadata
operations and higher initial QPS from it, and GKE Pod snapshots need an HNS bucket
(../shared/reference/field-2026-12.md §2.5). Cloud Storage refuses object versioning on an HNS
bucket ("Versioning is not supported for hierarchical namespace buckets";
https://cloud.google.com/storage/docs/hns-overview, its limitations), so versioning is off by
default and the two are refused together. Soft delete (7 days by default) keeps deleted or
overwritten objects recoverable, and ``protect`` keeps ``pulumi destroy`` away from the bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import Problem, gcp_labels, is_plain, project_id, raise_if_problems, type_problems

READER_ROLE = "roles/storage.objectViewer"
WRITER_ROLE = "roles/storage.objectUser"


@dataclass(frozen=True)
class ModelBucketArgs:
    project: str
    """GCP project id."""
    name: str
    """Globally unique bucket name."""
    location: str
    """Region of the bucket (same as the cluster, so reads stay in-region)."""
    versioning: bool = False
    """Object versioning; Cloud Storage refuses it on a hierarchical-namespace bucket."""
    soft_delete_days: int = 7
    """Soft-delete retention: 0 disables, else 7–90 days."""
    hierarchical_namespace: bool = True
    """HNS bucket (faster GCS FUSE metadata operations; Pod snapshots need it). Needs uniform access (always on)."""
    protect: bool = False
    """Pulumi protect: refuse to delete the bucket."""
    readers: tuple[pulumi.Input[str], ...] = ()
    """IAM members granted roles/storage.objectViewer."""
    writers: tuple[pulumi.Input[str], ...] = ()
    """IAM members granted roles/storage.objectUser."""
    labels: dict[str, str] = field(default_factory=dict)
    """GCP labels."""


class ModelBucket(pulumi.ComponentResource):
    """A GCS bucket for model weights with uniform access and public access prevention enforced."""

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]
    project_number: pulumi.Output[int]
    """The project's number, as Cloud Storage reports it (names Google-managed service agents without a lookup)."""

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("ModelBucket", name, validate_model_bucket_args(args))
        super().__init__("gke-inference:infra:ModelBucket", name, {}, opts)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            project=args.project,
            name=args.name,
            location=args.location.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,  # hierarchical namespace requires it (pulumi_gcp BucketArgs doc)
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=args.versioning),
            hierarchical_namespace=gcp.storage.BucketHierarchicalNamespaceArgs(enabled=args.hierarchical_namespace),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_days * 86400
            ),
            force_destroy=False,
            labels=args.labels or None,
            opts=child_options(self, opts, protect=args.protect),
        )
        self.bucket_name = bucket.name
        self.url = bucket.name.apply(lambda n: f"gs://{n}")
        self.project_number = bucket.project_number
        self._bucket = bucket
        self._opts = opts
        for index, member in enumerate(args.readers):
            self.grant(f"{name}-reader-{index}", READER_ROLE, member)
        for index, member in enumerate(args.writers):
            self.grant(f"{name}-writer-{index}", WRITER_ROLE, member)
        self.register_outputs({"bucketName": self.bucket_name, "url": self.url})

    def grant(
        self, resource_name: str, role: pulumi.Input[str], member: pulumi.Input[str]
    ) -> gcp.storage.BucketIAMMember:
        """Grant ``role`` on this bucket to ``member`` non-authoritatively."""
        return gcp.storage.BucketIAMMember(
            resource_name, bucket=self._bucket.name, role=role, member=member, opts=child_options(self, self._opts)
        )


# Bucket names: https://cloud.google.com/storage/docs/buckets#naming (linked from pulumi_gcp
# ``storage.Bucket`` ``name``) and https://cloud.google.com/storage/quotas ("Maximum bucket name size":
# 63 characters, 222 when the name contains dots, each dot-separated part at most 63).
_BUCKET_CHARS = re.compile(r"^[a-z0-9][-a-z0-9_.]*[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
BUCKET_NAME_MAX = 63
BUCKET_DOTTED_NAME_MAX = 222
SOFT_DELETE_DAYS = (7, 90)
"""Soft-delete retention is 0 (off) or 7–90 days (pulumi_gcp ``BucketSoftDeletePolicyArgs``: 604800–7776000 s)."""


def bucket_name_problems(path: str, name: str) -> list[Problem]:
    """Cloud Storage bucket naming rules that can be checked offline (not global uniqueness)."""
    limit = BUCKET_DOTTED_NAME_MAX if "." in name else BUCKET_NAME_MAX
    reasons = []
    if not 3 <= len(name) <= limit or any(len(part) > BUCKET_NAME_MAX for part in name.split(".")):
        reasons.append(f"3–{BUCKET_NAME_MAX} characters (up to {BUCKET_DOTTED_NAME_MAX} with dots, each "
                       f"dot-separated part at most {BUCKET_NAME_MAX})")
    if not _BUCKET_CHARS.match(name):
        reasons.append("only lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
    if name.startswith("goog") or "google" in name:
        reasons.append("no 'goog' prefix and no 'google' anywhere")
    if _IPV4.match(name):
        reasons.append("not an IP address")
    if reasons:
        return [Problem(path, f"'{name}' is not a valid bucket name: " + "; ".join(reasons))]
    return []


def validate_model_bucket_args(args: ModelBucketArgs) -> list[Problem]:
    """Every problem with ``args`` that Cloud Storage would refuse at create time (pure; no resources)."""
    problems = type_problems(args, ModelBucketArgs)
    if problems:
        return problems
    problems += project_id("project", args.project)
    problems += bucket_name_problems("name", args.name)
    if not args.location:
        problems.append(Problem("location", "required: the bucket's region, e.g. us-central1"))
    if args.hierarchical_namespace and args.versioning:
        problems.append(Problem(
            "versioning",
            "Cloud Storage refuses object versioning on a bucket with {hierarchical_namespace} on (\"Versioning is "
            "not supported for hierarchical namespace buckets\"); turn versioning off (soft delete keeps deleted "
            "and overwritten objects recoverable) or turn {hierarchical_namespace} off",
        ))
    low, high = SOFT_DELETE_DAYS
    if args.soft_delete_days != 0 and not low <= args.soft_delete_days <= high:
        problems.append(Problem("soft_delete_days", f"{args.soft_delete_days} days: Cloud Storage takes 0 (off) or "
                                                    f"{low}–{high} days"))
    problems += gcp_labels("labels", args.labels)
    for arg, members in (("readers", args.readers), ("writers", args.writers)):
        for index, member in enumerate(members):
            if is_plain(member) and ":" not in str(member):
                problems.append(Problem(f"{arg}.{index}", f"'{member}' is not an IAM member; use a type prefix such "
                                                            "as user:, group:, serviceAccount: or domain:"))
    return problems
