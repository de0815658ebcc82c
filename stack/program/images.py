"""Which image each workload runs and how its digest is obtained (design.md §3: no hand-typed artifact).

Config names images by tag or pins them; our own images default to ``build``. This module turns
those fields into :class:`infra.images.ContainerImage` records (lookup at preview, Cloud Build at
``up``, or pin) and, when a GPU pool caches the serving image on a secondary boot disk without
naming a disk image, builds that disk image for the serving image's exact digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from infra.boot_disk import BootDiskImage, BootDiskImageArgs
from infra.images import (
    IMAGES_DIR,
    ContainerImage,
    ImageBuild,
    ImageBuildArgs,
    ImageResolver,
    dockerfile_base,
)
from infra.registry import ImageRegistry
from stack.config import StackConfig

BUILD_CONTEXTS = {
    "vllm": "images/vllm",
    "model-downloader": "images/model-downloader",
    "loadtest-runner": "images/loadtest",
}
"""Image name in the stack's repository → build context (repository-relative) for the `build` keyword."""


@dataclass(frozen=True)
class StackImages:
    """The resolved image of every workload (``ref`` is ``NAME@sha256:...``)."""

    serving: ContainerImage
    downloader: ContainerImage | None
    loadtest: ContainerImage | None
    metrics_adapter: ContainerImage | None
    picker: ContainerImage | None = None
    """The endpoint picker (``gateway.pickerImage``), when the gateway is on."""
    router: ContainerImage | None = None
    """The body-based router (``gateway.routerImage``), when the gateway routes by body."""


def resolve_images(
    config: StackConfig, registry: ImageRegistry, depends_on: Sequence[pulumi.Resource]
) -> StackImages:
    """Resolve every image the stack deploys.

    Args:
        config: the validated stack config (image fields already checked for tags/pins).
        registry: the stack's Artifact Registry (builds push there; Docker Hub goes through its proxy).
        depends_on: what builds wait for (the APIs: Cloud Build, Artifact Registry).
    """
    opts = pulumi.ResourceOptions(depends_on=[*depends_on, registry])
    resolver = ImageResolver(docker_hub_proxy=registry.docker_hub_url, registry_url=registry.url, opts=opts)

    def build(name: str, context: str) -> ImageBuild:
        base = resolver.public(f"{name}-base", dockerfile_base(IMAGES_DIR.parent / context), kind="base")
        return ImageBuild(
            name,
            ImageBuildArgs(
                project=config.project,
                region=config.region,
                repository_url=registry.url,
                image=name,
                context=context,
                base_image=base.ref,
            ),
            opts=opts,
        )

    resolver.build = build
    serving = config.serving.image
    downloader = config.downloader_image()
    return StackImages(
        serving=resolver.own("vllm", serving, BUILD_CONTEXTS["vllm"])
        if serving == "build"
        else resolver.public("vllm", serving),
        downloader=resolver.own("model-downloader", downloader, BUILD_CONTEXTS["model-downloader"])
        if downloader
        else None,
        loadtest=resolver.own("loadtest-runner", config.loadtest.image, BUILD_CONTEXTS["loadtest-runner"])
        if config.loadtest.enabled
        else None,
        metrics_adapter=resolver.public("metrics-adapter", config.autoscaling.metrics_adapter_image)
        if config.uses_metrics_adapter()
        else None,
        picker=resolver.public("endpoint-picker", config.gateway.picker_image) if config.gateway.enabled else None,
        router=resolver.public("body-based-router", config.gateway.router_image)
        if config.gateway.enabled and config.gateway.body_based_routing
        else None,
    )


def needs_image_cache_build(config: StackConfig) -> bool:
    """True when a GPU pool caches images on a secondary boot disk without naming the disk image."""
    return any(
        d.mode == "CONTAINER_IMAGE_CACHE" and d.disk_image is None
        for pool in config.gpu_pools.values()
        for d in pool.secondary_boot_disks
    )


def build_image_cache(
    config: StackConfig,
    serving_image: ContainerImage,
    registry: ImageRegistry,
    depends_on: Sequence[pulumi.Resource],
) -> BootDiskImage | None:
    """The serving image's secondary boot disk image, when a pool asks for one (else None)."""
    if not needs_image_cache_build(config):
        return None
    zone = config.pool_zones(config.serving.pool)[0]
    return BootDiskImage(
        "image-cache",
        BootDiskImageArgs(
            project=config.project,
            region=config.region,
            zone=zone,
            container_image=serving_image.ref,
            pull_repositories=[(registry.location, r.repository_id) for r in registry.repositories],
            depends_on=[*depends_on, registry],
        ),
    )
