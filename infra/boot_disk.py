"""The secondary boot disk image that caches one container image, built for that image's exact digest.

GKE's container-image cache on a secondary boot disk only serves a pod whose image has the digest
unpacked on the disk, so the disk image is built from the digest the Deployment runs, never from a
name typed by hand. The build drives GKE's disk-image builder (``images/boot-disk/cloudbuild.yaml``,
github.com/ai-on-gke/tools gke-disk-image-builder) through Cloud Build from a
``pulumi_command.local.Command`` that:

* re-runs only when its trigger, the container image reference (``NAME@sha256:...``), changes;
* skips the build when a Compute image of that name exists (``gcloud compute images describe``);
  the builder refuses to overwrite one (its README: "If a disk image with the given name already
  exists, the tool will error out");
* prints ``projects/PROJECT/global/images/NAME`` as its only stdout line, which the GPU pools use,
  so every pool that references the disk waits for the build.

A build pulls and unpacks the image on a VM and snapshots the disk: tens of minutes for the ~10 GB
vLLM image (the Cloud Build ``timeout`` in cloudbuild.yaml allows 7200 s, the builder's
``--timeout=60m`` per step).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from pulumi_command import local

from infra.images import DIGEST, cloud_build_command, parse_image
from infra.options import child_options
from infra.validation import Problem, project_id, type_problems
from infra.zones import zone_problem

MIN_DISK_SIZE_GB = 10
"""The smallest disk the component lets the builder make: the builder's own default (GoogleCloudPlatform/ai-on-gke
``gke-disk-image-builder/README.md``, flag ``--disk-size-gb``, default 10)."""
BOOT_DISK_CONFIG = "images/boot-disk/cloudbuild.yaml"
"""Cloud Build config (repository-relative: Pulumi runs the program in the project root)."""
BOOT_DISK_SCRIPT = """set -euo pipefail
if ! gcloud compute images describe "$IMAGE_NAME" --project "$PROJECT" >/dev/null 2>&1; then
  subs="_CONTAINER_IMAGE=$CONTAINER_IMAGE,_IMAGE_NAME=$IMAGE_NAME,_ZONE=$ZONE"
  subs="$subs,_GCS_PATH=$GCS_PATH,_DISK_SIZE_GB=$DISK_SIZE_GB"
  gcloud builds submit --no-source --project "$PROJECT" --region "$REGION" --config "$BUILD_CONFIG" \\
    --substitutions "$subs" >&2
fi
echo "projects/$PROJECT/global/images/$IMAGE_NAME"
"""
_IMAGE_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
"""Compute Engine image names: RFC 1035, at most 63 characters (compute API Image.name pattern)."""
LOG_WRITER_ROLE = "roles/storage.objectCreator"
"""What the builder VM's service account needs on the logs path (gke-disk-image-builder README, Preconditions)."""
PULL_ROLE = "roles/artifactregistry.reader"


def disk_image_name(container_image: str, suffix: str = "cache") -> str:
    """``<image>-cache-<first 12 hex of the digest>``, e.g. ``vllm-openai-cache-0123456789ab``.

    A new digest gives a new name: the builder cannot overwrite an image, and a node pool's
    secondary boot disks are ForceNew (gke-iac-reference.md §3.1), so the pools roll to the new cache.
    """
    ref = parse_image(container_image)
    if ref.digest is None or not DIGEST.match(ref.digest):
        raise ValueError(f"container_image: '{container_image}' is not pinned by digest")
    base = re.sub(r"[^a-z0-9-]+", "-", ref.path.rsplit("/", 1)[-1]).strip("-")
    tail = f"-{suffix}-{ref.digest.removeprefix('sha256:')[:12]}"
    name = (base[: 63 - len(tail)].rstrip("-") or "image") + tail
    if not name[0].isalpha():
        name = "i" + name[-62:]
    assert _IMAGE_NAME.match(name), name
    return name


@dataclass(frozen=True)
class BootDiskImageArgs:
    project: str
    """GCP project where the disk image, the logs bucket and the build live."""
    region: str
    """Region of the Cloud Build run and of the logs bucket."""
    zone: str
    """Zone of the builder's temporary VM and disk."""
    container_image: pulumi.Input[str]
    """The image to cache, ``NAME@sha256:<hex>`` exactly as the pods run it."""
    pull_repositories: Sequence[tuple[str, pulumi.Input[str]]] = ()
    """(location, repository id) of Artifact Registry repositories the builder VM pulls from."""
    disk_size_gb: int = 100
    """Size of the unpacked-image disk, hence of the image and of each node's secondary disk."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the build waits for besides its own children (APIs, the registry)."""


def validate_boot_disk_image_args(args: BootDiskImageArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, the project id, the zone within the region, a plain
    ``container_image`` pinned by digest, and the disk size (the component itself refuses only the size, with a
    ``ValueError`` of the same wording; the package's facade checks all of these before registering)."""
    problems = type_problems(args, BootDiskImageArgs)
    if problems:
        return problems
    problems = project_id("project", args.project)
    where = zone_problem(args.zone, args.region)
    if where is not None:
        problems.append(Problem("zone", where))
    if isinstance(args.container_image, str):
        try:
            disk_image_name(args.container_image)
        except ValueError as err:
            problems.append(Problem("container_image", str(err).removeprefix("container_image: ")))
    if args.disk_size_gb < MIN_DISK_SIZE_GB:
        problems.append(Problem("disk_size_gb", _size_problem(args.disk_size_gb)))
    return problems


def _size_problem(disk_size_gb: int) -> str:
    return f"{disk_size_gb}; the builder's minimum disk is {MIN_DISK_SIZE_GB} GB"


class BootDiskImage(pulumi.ComponentResource):
    """Builds (once per digest) the Compute image a GPU pool's secondary boot disk is created from."""

    disk_image: pulumi.Output[str]
    """``projects/PROJECT/global/images/NAME``: the command's output, so users of it wait for the build."""
    command: local.Command

    def __init__(self, name: str, args: BootDiskImageArgs, opts: pulumi.ResourceOptions | None = None):
        if args.disk_size_gb < MIN_DISK_SIZE_GB:
            raise ValueError(f"disk_size_gb: {_size_problem(args.disk_size_gb)}")
        super().__init__("gke-inference:infra:BootDiskImage", name, {}, opts)
        child = child_options(self, opts, depends_on=args.depends_on)
        logs = gcp.storage.Bucket(
            f"{name}-logs",
            project=args.project,
            name=f"{args.project}-boot-disk-builds",
            location=args.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=True,
            # The policy pack's bucket-recoverable rule: deleted build logs stay restorable for 7 days.
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(retention_duration_seconds=7 * 86400),
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=30),
                )
            ],
            opts=child,
        )
        # The builder VM runs as the Compute Engine default service account (builder flag
        # --service-account, default 'default'): it writes logs and pulls the image. The project
        # number comes from the bucket (an output once it exists), not from a lookup at preview,
        # which on a fresh project would need the Cloud Resource Manager API before `up` enables it.
        builder_vm = logs.project_number.apply(lambda n: f"serviceAccount:{n}-compute@developer.gserviceaccount.com")
        grants: list[pulumi.Resource] = [
            gcp.storage.BucketIAMMember(
                f"{name}-logs-writer", bucket=logs.name, role=LOG_WRITER_ROLE, member=builder_vm, opts=child
            )
        ]
        for index, (location, repository) in enumerate(args.pull_repositories):
            grants.append(
                gcp.artifactregistry.RepositoryIamMember(
                    f"{name}-pull-{index}",
                    project=args.project,
                    location=location,
                    repository=repository,
                    role=PULL_ROLE,
                    member=builder_vm,
                    opts=child,
                )
            )
        image_name = pulumi.Output.from_input(args.container_image).apply(disk_image_name)
        self.command = cloud_build_command(
            name,
            BOOT_DISK_SCRIPT,
            {
                "PROJECT": args.project,
                "REGION": args.region,
                "ZONE": args.zone,
                "CONTAINER_IMAGE": args.container_image,
                "IMAGE_NAME": image_name,
                "GCS_PATH": logs.name.apply(lambda b: f"gs://{b}/logs/"),
                "DISK_SIZE_GB": str(args.disk_size_gb),
                "BUILD_CONFIG": BOOT_DISK_CONFIG,
            },
            [args.container_image],
            child_options(self, opts, depends_on=[*args.depends_on, logs, *grants]),
        )
        self.disk_image = self.command.stdout.apply(str.strip)
        self.register_outputs({"diskImage": self.disk_image})
