"""Composition: turn a validated StackConfig into components. The only place that knows both
the config and the components (design.md §3)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.apis import ProjectApis, ProjectApisArgs
from infra.boot_disk import BootDiskImage
from infra.cluster import AuthorizedNetwork, ExistingClusterArgs, GkeCluster, GkeClusterArgs, SystemPoolArgs
from infra.gpu_node_pool import GpuNodePool, GpuNodePoolArgs, SecondaryBootDiskArgs
from infra.identity import NodeServiceAccount, NodeServiceAccountArgs
from infra.network import Network, NetworkArgs
from infra.registry import ImageRegistry, ImageRegistryArgs
from infra.storage import ModelBucket, ModelBucketArgs
from stack.config import ClusterConfig, ConfigError, GpuPoolConfig, StackConfig
from stack.images_program import build_image_cache, resolve_images
from stack.observability_program import build_observability
from stack.serving_program import build_serving


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
    labels = {**config.labels, "stack": stack, "managed-by": "pulumi"}

    node_sa = NodeServiceAccount(
        "nodes", NodeServiceAccountArgs(project=config.project, account_id=f"gke-{stack}-nodes"), opts=after_apis
    )
    cluster = _cluster(config, node_sa, after_apis, labels)
    registry = ImageRegistry(
        "registry",
        ImageRegistryArgs(
            project=config.project,
            location=config.region,
            repository_id=config.registry.repository_id,
            docker_hub_proxy_id=config.registry.docker_hub_proxy_id,
            reader=node_sa.member,
        ),
        opts=after_apis,
    )
    # Image digests: looked up at preview, built by Cloud Build at `up`, or pinned; never typed by hand.
    images = resolve_images(config, registry, depends_on=[apis])
    image_cache = build_image_cache(config, images.serving, registry, depends_on=[apis])
    pools = {
        name: _gpu_pool(name, pool, config, cluster, node_sa, labels, image_cache)
        for name, pool in config.gpu_pools.items()
    }
    storage = config.model_storage
    bucket = ModelBucket(
        "models",
        ModelBucketArgs(
            project=config.project,
            name=config.bucket_name(stack),
            location=config.region,
            versioning=storage.versioning,
            soft_delete_days=storage.soft_delete_days,
            hierarchical_namespace=storage.hierarchical_namespace,
            protect=storage.protect,
            readers=tuple(storage.readers),
            writers=tuple(storage.writers),
            labels=labels,
        ),
        opts=after_apis,
    )
    serving = build_serving(
        config, stack, secrets, cluster.provider, images, pools, bucket, gcp_depends_on=[apis, cluster]
    )
    observability = build_observability(
        config,
        stack,
        cluster.provider,
        serving.server,
        serving.cold_start_seconds,
        adapter_image=images.metrics_adapter.ref if images.metrics_adapter else None,
        gcp_depends_on=[apis, cluster],
    )
    return {
        **observability,
        "servingUrl": serving.server.service_url,
        "servedModelName": serving.server.served_model_name,
        "startupBudgetSeconds": serving.startup_budget_seconds,
        **(
            {"smokeTestLatencySeconds": serving.smoke_test_latency_seconds}
            if serving.smoke_test_latency_seconds is not None
            else {}
        ),
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
    config: StackConfig, node_sa: NodeServiceAccount, opts: pulumi.ResourceOptions, labels: dict[str, str]
) -> GkeCluster:
    c: ClusterConfig = config.cluster
    if c.mode == "existing":
        return GkeCluster(
            "gke",
            ExistingClusterArgs(project=config.project, name=c.name, location=config.cluster_location()),
            opts=opts,
        )
    net = config.network
    if net.create:
        network = Network(
            "network",
            NetworkArgs(
                project=config.project,
                region=config.region,
                network_name=net.name,
                subnet_cidr=net.subnet_cidr,
                pods_cidr=net.pods_cidr,
                services_cidr=net.services_cidr,
                nat=c.private_nodes,
            ),
            opts=opts,
        )
        network_id, subnet_id = network.network_id, network.subnetwork_id
        pods_range, services_range = network.pods_range_name, network.services_range_name
    else:
        assert net.existing is not None  # guaranteed by NetworkConfig validation
        network_id, subnet_id = net.existing.network, net.existing.subnetwork
        pods_range, services_range = net.existing.pods_range_name, net.existing.services_range_name
    return GkeCluster(
        "gke",
        GkeClusterArgs(
            project=config.project,
            name=c.name,
            location=config.cluster_location(),
            network=network_id,
            subnetwork=subnet_id,
            pods_range_name=pods_range,
            services_range_name=services_range,
            node_service_account=node_sa.email,
            release_channel=c.release_channel.value,
            min_master_version=c.min_master_version,
            private_nodes=c.private_nodes,
            private_endpoint=c.private_endpoint,
            master_ipv4_cidr=c.master_ipv4_cidr,
            master_authorized_networks=tuple(AuthorizedNetwork(n.cidr, n.name) for n in c.master_authorized_networks),
            deletion_protection=c.deletion_protection,
            managed_prometheus=c.managed_prometheus,
            monitoring_components=tuple(m.value for m in c.monitoring_components),
            network_policy=c.network_policy,
            hpa_profile=c.hpa_profile,
            system_pool=SystemPoolArgs(
                machine_type=c.system_pool.machine_type,
                min_nodes=c.system_pool.min_nodes,
                max_nodes=c.system_pool.max_nodes,
                disk_size_gb=c.system_pool.disk_size_gb,
            ),
            labels=labels,
        ),
        opts=opts,
    )


def _gpu_pool(
    name: str,
    pool: GpuPoolConfig,
    config: StackConfig,
    cluster: GkeCluster,
    node_sa: NodeServiceAccount,
    labels: dict[str, str],
    image_cache: BootDiskImage | None,
) -> GpuNodePool:
    """One GPU pool; a CONTAINER_IMAGE_CACHE disk without ``diskImage`` uses (and waits for) ``image_cache``."""
    zones = config.pool_zones(name)
    placement = None
    if pool.compact_placement:
        policy = gcp.compute.ResourcePolicy(
            f"{name}-placement",
            project=config.project,
            region=config.region,
            name=f"{name}-compact",
            group_placement_policy=gcp.compute.ResourcePolicyGroupPlacementPolicyArgs(collocation="COLLOCATED"),
        )
        placement = policy.name
    return GpuNodePool(
        name,
        GpuNodePoolArgs(
            project=config.project,
            cluster=cluster.cluster_id,
            location=config.cluster_location(),
            node_locations=tuple(zones),
            machine_type=pool.machine_type,
            service_account=node_sa.email,
            gpu_count=pool.gpu_count,
            min_nodes=pool.autoscaling.min_nodes,
            max_nodes=pool.autoscaling.max_nodes,
            per_zone_limits=pool.autoscaling.per_zone,
            location_policy=pool.autoscaling.location_policy,
            spot=pool.spot,
            image_type=pool.image_type,
            image_streaming=pool.image_streaming,
            local_ssd_mode=pool.local_ssd.mode.value,
            local_ssd_count=pool.local_ssd_count(),
            secondary_boot_disks=tuple(
                SecondaryBootDiskArgs(d.disk_image or _built(image_cache, name), d.mode)
                for d in pool.secondary_boot_disks
            ),
            compact_placement_policy=placement,
            reservation_type=pool.reservation.type,
            reservation_name=pool.reservation.name,
            queued_provisioning=pool.queued_provisioning,
            gpu_driver_version=pool.gpu_driver_version,
            gpu_sharing_strategy=pool.gpu_sharing.strategy if pool.gpu_sharing else None,
            max_shared_clients_per_gpu=pool.gpu_sharing.max_shared_clients_per_gpu if pool.gpu_sharing else None,
            gpu_partition_size=pool.gpu_partition_size,
            disk_type=pool.disk_type,
            disk_size_gb=pool.disk_size_gb,
            secure_boot=pool.secure_boot,
            workload_metadata=pool.workload_metadata,
            labels=dict(pool.labels),
            resource_labels=labels,
        ),
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
