"""Facades of the image components: a registry image resolved to its digest, an image built with Cloud Build, and
the secondary-boot-disk image that caches a container image on GPU nodes.

They take plain inputs: an image reference (or a name and a digest) instead of the stack's resolver, a build
context of this package or a folder of the consumer's, and an image reference instead of resources to wait for
(put those in the facade's `dependsOn`: every child inherits it). Each refuses a bad argument before registering
anything (``validate_*`` / ``reference_problems`` in ``infra/images.py`` and ``infra/boot_disk.py``), then creates
the Python component as its only child.
"""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi

from infra import boot_disk
from infra import images as infra_images
from infra.validation import one_of, raise_if_problems

from .convert import Block, block_args, missing, plain
from .facade import expose


class ImageKind(Enum):
    """What the image is for (recorded with it; the offline render lists images by kind)."""

    CONTAINER = "container"
    """A workload runs it."""
    BASE = "base"
    """A build's base image (an `ImageBuild`'s `baseImage`)."""


class ContainerImageArgs(TypedDict):
    """Arguments of one deployed image: a reference resolved to its digest, or a name pinned to a digest."""

    image: str
    """`NAME:TAG` (looked up at every preview and up: the registry's digest for the tag), `NAME[:TAG]@sha256:<64
    hex>` (used as given) or, with `digest`, the name the digest is pinned under. Untagged names and `latest` are
    refused."""
    digest: NotRequired[pulumi.Input[str]]
    """A digest known only when the program runs (e.g. an `ImageBuild`'s `digest`), `sha256:<64 hex>`: the image is
    then `image`'s name pinned to it, with no lookup."""
    docker_hub_proxy: NotRequired[str]
    """An Artifact Registry Docker Hub remote repository, `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY` (an
    `ImageRegistry`'s `dockerHubUrl`): Docker Hub images are pulled through it, with the digest Docker Hub reports.
    Unset: pulled from where they are."""
    kind: NotRequired[ImageKind]
    """container (default) or base."""


class ContainerImage(pulumi.ComponentResource):
    """One image by digest, never by a moving tag: a tag is resolved to its digest at every preview and up (public
    registries through the OCI distribution API, Artifact Registry through its API); a pin is used as given."""

    ref: pulumi.Output[str]
    """`<pull name>@sha256:<hex>`: what a workload's `image` takes."""
    source: str
    """How the digest was obtained: lookup or pin."""

    def __init__(self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = missing(args, ContainerImageArgs)
        if not problems:
            problems = infra_images.reference_problems(args["image"], args.get("digest"), args.get("docker_hub_proxy"))
        kind = plain(args.get("kind") or ImageKind.CONTAINER)
        problems += one_of("kind", kind, [k.value for k in ImageKind])
        raise_if_problems("ContainerImage", name, problems)

        def make(child: pulumi.ResourceOptions) -> infra_images.ContainerImage:
            real = infra_images.reference_image_args(args["image"], args.get("digest"), args.get("docker_hub_proxy"),
                                                     kind, parent=self)
            return infra_images.ContainerImage(name, real, child)

        expose(self, "ContainerImage", name, opts, make, lambda made: {"ref": made.ref, "source": made.source})


class ImageBuildArgs(TypedDict):
    """Arguments of an image built with Cloud Build from a folder and pushed under its content hash."""

    project: str
    """GCP project of the registry and the Cloud Build run."""
    region: str
    """Cloud Build region (the registry's)."""
    repository_url: str
    """`LOCATION-docker.pkg.dev/PROJECT/REPOSITORY` the image is pushed to (an `ImageRegistry`'s `url`)."""
    image: str
    """Image name in the repository, e.g. model-downloader."""
    context: str
    """The build context: one of this package's (images/vllm, images/model-downloader, images/loadtest, relative to
    the package), or the absolute path of a folder of yours (resolve it in your program, e.g. `path.resolve` in
    TypeScript). Its Dockerfile declares `ARG BASE_IMAGE=<name:tag>` and builds `FROM ${BASE_IMAGE}`."""
    base_image: pulumi.Input[str]
    """The base image by digest, passed as `--build-arg BASE_IMAGE` (e.g. a `ContainerImage`'s `ref` of the
    Dockerfile's `BASE_IMAGE` default, with kind base)."""


class ImageBuild(pulumi.ComponentResource):
    """Builds a folder with Cloud Build (at `up`, only when its content or base image changed) and pushes
    `<repository>/<image>:<content hash>`; its digest is what Artifact Registry reports for that tag."""

    tag: str
    """`<repository>/<image>:<first 16 hex of the content hash>`."""
    digest: pulumi.Output[str]
    """The pushed image's digest."""
    ref: pulumi.Output[str]
    """`<repository>/<image>@<digest>`: what a workload's `image` takes."""

    def __init__(self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ImageBuild", name, args, Block(ImageBuildArgs, infra_images.ImageBuildArgs),
                          infra_images.validate_image_build_args)
        expose(self, "ImageBuild", name, opts, lambda child: infra_images.ImageBuild(name, real, child),
               lambda made: {"tag": made.tag, "digest": made.digest,
                             "ref": made.digest.apply(lambda d: f"{made.tag.rpartition(':')[0]}@{d}")})


class PullRepository(TypedDict):
    """An Artifact Registry repository the builder VM may pull the image from."""

    location: str
    """Its location, e.g. us-central1."""
    repository: pulumi.Input[str]
    """Its repository id (an `ImageRegistry`'s repository or Docker Hub proxy)."""


class BootDiskImageArgs(TypedDict):
    """Arguments of the Compute image a GPU pool's secondary boot disk caches a container image on (built once per
    digest)."""

    project: str
    """GCP project of the disk image, the build and its logs bucket."""
    region: str
    """Region of the Cloud Build run and of the logs bucket."""
    zone: str
    """Zone (in the region) of the builder's temporary VM and disk."""
    container_image: pulumi.Input[str]
    """The image to cache, `NAME@sha256:<hex>` exactly as the pods run it (e.g. a `ContainerImage`'s `ref`)."""
    pull_repositories: NotRequired[list[PullRepository]]
    """Artifact Registry repositories the builder VM pulls from (it is granted reader on each)."""
    disk_size_gb: NotRequired[int]
    """Size of the unpacked-image disk, hence of each node's secondary disk (at least 10). Default 100."""


class BootDiskImage(pulumi.ComponentResource):
    """Builds (once per digest) the Compute image a GPU pool's secondary boot disk is created from, with GKE's
    disk-image builder on Cloud Build; pods of that exact digest then start without pulling it."""

    disk_image: pulumi.Output[str]
    """`projects/PROJECT/global/images/NAME`: a `GpuNodePool`'s `secondaryBootDisks` `diskImage` (waits for the
    build)."""

    def __init__(self, name: str, args: BootDiskImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("BootDiskImage", name, args,
                          Block(BootDiskImageArgs, boot_disk.BootDiskImageArgs,
                                {"pull_repositories": Block(PullRepository, _pull_repository, many=True)}),
                          boot_disk.validate_boot_disk_image_args)
        expose(self, "BootDiskImage", name, opts, lambda child: boot_disk.BootDiskImage(name, real, child),
               lambda made: {"disk_image": made.disk_image})


def _pull_repository(location: str, repository: pulumi.Input[str]) -> tuple[str, pulumi.Input[str]]:
    """A `PullRepository` as the component takes it: ``(location, repository id)``."""
    return (location, repository)
