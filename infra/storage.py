"""The model bucket: private, versioned, soft-deleted, in the cluster's region."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options

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
    versioning: bool = True
    """Object versioning."""
    soft_delete_days: int = 7
    """Soft-delete retention (0 disables)."""
    hierarchical_namespace: bool = True
    """HNS bucket (faster GCS FUSE metadata operations)."""
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

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:ModelBucket", name, {}, opts)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            project=args.project,
            name=args.name,
            location=args.location.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
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
        self._bucket = bucket
        self._opts = opts
        for index, member in enumerate(args.readers):
            self.grant(f"{name}-reader-{index}", READER_ROLE, member)
        for index, member in enumerate(args.writers):
            self.grant(f"{name}-writer-{index}", WRITER_ROLE, member)
        self.register_outputs({"bucketName": self.bucket_name, "url": self.url})

    def grant(self, resource_name: str, role: str, member: pulumi.Input[str]) -> gcp.storage.BucketIAMMember:
        """Grant ``role`` on this bucket to ``member`` non-authoritatively."""
        return gcp.storage.BucketIAMMember(
            resource_name, bucket=self._bucket.name, role=role, member=member, opts=child_options(self, self._opts)
        )
