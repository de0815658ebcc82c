"""Composition: turn a validated StackConfig into components. The only place that knows both
the config and the components (design.md §3)."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.apis import ProjectApis, ProjectApisArgs
from infra.boot_disk import BootDiskImage
from infra.cluster import GkeCluster
from infra.gpu_node_pool import GpuNodePool
from infra.identity import NodeServiceAccount
from infra.network import Network
from infra.placement import CompactPlacement
from infra.registry import ImageRegistry
from infra.storage import ModelBucket
from stack.config import ConfigError, GpuPoolConfig, NetworkRefs, StackConfig
from stack.program.images import build_image_cache, resolve_images
from stack.program.observability import build_observability
from stack.program.serving import ModelServing, build_serving


def build(config: StackConfig, stack: str, secrets: dict[str, Any]) -> dict[str, Any]:
    """Create every resource of the stack and return its exports.

    Args:
        config: the validated stack configuration.
        stack: the stack name (dev, prod, ...), used in derived names.
        secrets: secret config values (``apiKey``, ``hfToken``) as Pulumi secret Outputs or None.
    """
    check_secrets(config, secrets)
    apis = ProjectApis("apis", ProjectApisArgs(project=config.project))
    after_apis = pulumi.ResourceOptions(depends_on=[apis])
    labels = config.resource_labels(stack)

    node_sa = NodeServiceAccount("nodes", config.node_service_account_args(stack), opts=after_apis)
    cluster = _cluster(config, stack, node_sa, after_apis)
    registry = ImageRegistry(
        "registry", config.registry.to_args(config.project, config.region, node_sa.member), opts=after_apis
    )
    # Image digests: looked up at preview, built by Cloud Build at `up`, or pinned; never typed by hand.
    images = resolve_images(config, registry, depends_on=[apis])
    image_cache = build_image_cache(config, images.serving, registry, depends_on=[apis])
    pools = {name: _gpu_pool(name, config, stack, cluster, node_sa, image_cache, apis) for name in config.gpu_pools}
    bucket = ModelBucket(
        "models",
        config.model_storage.to_args(config.project, config.region, config.bucket_name(stack), labels),
        opts=after_apis,
    )
    serving = build_serving(
        config, stack, secrets, cluster.provider, images, pools, bucket, gcp_depends_on=[apis, cluster]
    )
    observability = build_observability(
        config,
        stack,
        cluster.provider,
        {key: (model.server, model.cold_start_seconds) for key, model in serving.models.items()},
        adapter_image=images.metrics_adapter.ref if images.metrics_adapter else None,
        gcp_depends_on=[apis, cluster],
    )
    models = {key: _model_exports(model) for key, model in serving.models.items()}
    if len(models) > 1:
        observed = observability.pop("models")
        observability["models"] = {key: {**models[key], **observed[key]} for key in models}
    return {
        **observability,
        **next(iter(models.values())),
        "clusterName": cluster.name,
        "clusterLocation": cluster.location,
        "clusterEndpoint": cluster.endpoint,
        "kubeconfig": cluster.kubeconfig,
        "modelBucket": bucket.bucket_name,
        "registryUrl": registry.url,
        "dockerHubProxyUrl": registry.docker_hub_url,
        "servingImage": images.serving.ref,
        **({"imageCacheDiskImage": image_cache.disk_image} if image_cache else {}),
        "nodePools": [p.pool_name for p in pools.values()],
    }


def _model_exports(model: ModelServing) -> dict[str, Any]:
    """One model's serving exports."""
    return {
        "servingUrl": model.server.service_url,
        "servedModelName": model.server.served_model_name,
        "startupBudgetSeconds": model.startup_budget_seconds,
        **(
            {"smokeTestLatencySeconds": model.smoke_test_latency_seconds}
            if model.smoke_test_latency_seconds is not None
            else {}
        ),
    }


def check_secrets(config: StackConfig, secrets: dict[str, Any]) -> None:
    """Fail before any resource is registered when a required secret config key is missing."""
    if config.serving.require_api_key and secrets.get("apiKey") is None:
        raise ConfigError(
            [
                "apiKey: serving.requireApiKey is true but the secret is not set; run "
                "`pulumi config set --secret gke-inference:apiKey <key>` (or set serving.requireApiKey: false)"
            ]
        )


def _cluster(
    config: StackConfig, stack: str, node_sa: NodeServiceAccount, opts: pulumi.ResourceOptions
) -> GkeCluster:
    """The cluster (created, or read in ``existing`` mode) and, when asked to, its VPC."""
    refs = None
    if config.cluster.mode == "create" and config.network.create:
        network = Network(
            "network",
            config.gateway.network_args(
                config.network.to_args(config.project, config.region, nat=config.cluster.private_nodes)
            ),
            opts=opts,
        )
        refs = NetworkRefs(
            network.network_id, network.subnetwork_id, network.pods_range_name, network.services_range_name
        )
    return GkeCluster("gke", config.gateway.cluster_args(config.cluster_args(stack, refs, node_sa.email)), opts=opts)


def _gpu_pool(
    name: str,
    config: StackConfig,
    stack: str,
    cluster: GkeCluster,
    node_sa: NodeServiceAccount,
    image_cache: BootDiskImage | None,
    apis: pulumi.Resource,
) -> GpuNodePool:
    """One GPU pool; a CONTAINER_IMAGE_CACHE disk without ``diskImage`` uses (and waits for) ``image_cache``.

    A compact pool's resource policy is a ``CompactPlacement`` named ``<pool>-placement`` that waits for the
    APIs (its child keeps the URN it had at the top level, by alias).
    """
    pool = config.gpu_pools[name]
    placement = None
    if pool.compact_placement:
        policy = CompactPlacement(
            f"{name}-placement",
            config.compact_placement_args(name),
            opts=pulumi.ResourceOptions(depends_on=[apis]),
        )
        placement = policy.policy_name
    built = _built(image_cache, name) if any(d.disk_image is None for d in pool.secondary_boot_disks) else None
    return GpuNodePool(
        name,
        config.pool_args(name, stack, cluster, node_sa.email, placement, built),
        opts=pulumi.ResourceOptions(depends_on=[cluster, *_cache_users(pool, image_cache)]),
    )


def _cache_users(pool: GpuPoolConfig, image_cache: BootDiskImage | None) -> list[pulumi.Resource]:
    """The image-cache build, when this pool's secondary boot disk is the one the stack builds."""
    uses = any(d.disk_image is None for d in pool.secondary_boot_disks)
    return [image_cache] if uses and image_cache is not None else []


def _built(image_cache: BootDiskImage | None, pool: str) -> pulumi.Output[str]:
    if image_cache is None:  # needs_image_cache_build() saw this pool's disk, so this cannot happen
        raise ValueError(f"gpuPools.{pool}.secondaryBootDisks: no image cache build for a disk without diskImage")
    return image_cache.disk_image
