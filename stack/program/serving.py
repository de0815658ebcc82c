"""Composition of the serving side: namespace, Workload Identity, weights, the vLLM server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra.gpu_node_pool import GpuNodePool
from infra.storage import ModelBucket
from stack.config import StackConfig
from stack.decisions import STARTUP_BUDGET_FACTOR as STARTUP_BUDGET_FACTOR  # re-exported (tests, callers)
from stack.decisions import replica_cold_start_seconds, startup_budget_seconds
from stack.program.capacity import build_capacity_buffer, build_compute_class, build_pod_snapshots, build_rapid_cache
from stack.program.gateway import build_gateway
from stack.program.identities import BUCKET_ROLES, BucketAccess, stack_identity
from stack.program.images import StackImages
from stack.program.weights import build_batch, build_weights
from workloads.gateway import InferenceObjectiveCrd
from workloads.gateway.lora import adapter_buckets as lora_buckets
from workloads.loadtest import InClusterLoadTest, LoadTestArgs
from workloads.lws_operator import LwsOperator, LwsOperatorArgs
from workloads.smoke_test import SmokeTest, SmokeTestArgs, read_latency_seconds
from workloads.vllm_server import VllmServer
from workloads.weights import WeightsMount

SYSTEM_POOL_SELECTOR = {"gke-inference/role": "system"}
"""Node label of the CPU system pool (infra/cluster.py): controllers and client Jobs run there."""


@dataclass(frozen=True)
class ModelServing:
    """One model's server and what was derived for it."""

    server: VllmServer
    weights: WeightsMount
    hub_token: k8s.core.v1.Secret | None
    """The hub-token Secret, when there is one (the download and batch Jobs mount it)."""
    cold_start_seconds: float
    startup_budget_seconds: int
    smoke_test_latency_seconds: pulumi.Output[float | None] | None = None
    """Latency of the smoke test's chat completion (None when serving.smokeTest.enabled is false)."""


@dataclass(frozen=True)
class Serving:
    """What the rest of the program composes with: the shared namespace and every model's server."""

    namespace: k8s.core.v1.Namespace
    models: dict[str, ModelServing]
    """By model key (``StackConfig.model_views``): the top-level model first."""


def build_serving(
    config: StackConfig,
    stack: str,
    secrets: dict[str, Any],
    provider: k8s.Provider,
    images: StackImages,
    pools: dict[str, GpuNodePool],
    bucket: ModelBucket,
    gcp_depends_on: list[pulumi.Resource],
) -> Serving:
    """Namespace, then per model its identities, weights and vLLM server; the Gateway in front of them all; the
    batch and load-test Jobs.

    Args:
        images: every workload's resolved image (``stack.program.images.resolve_images``).
        gcp_depends_on: what new GCP resources (disks, Filestore, service accounts) wait for:
            the enabled APIs and the cluster (hence its VPC).
    """
    serving = config.serving
    k8s_opts = pulumi.ResourceOptions(provider=provider)
    namespace = k8s.core.v1.Namespace(
        "serving-namespace",
        metadata={
            "name": serving.namespace,
            "labels": {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
        opts=k8s_opts,
    )
    # Deny by default: pods without a policy of their own (download, batch, load-test Jobs) take no ingress.
    k8s.networking.v1.NetworkPolicy(
        "serving-default-deny",
        metadata={"name": "default-deny-ingress", "namespace": serving.namespace},
        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace]),
    )
    views = config.model_views()
    # A replica spanning nodes is a LeaderWorkerSet: its CRD and controller come with the stack.
    lws = (
        LwsOperator("lws", LwsOperatorArgs(node_selector=SYSTEM_POOL_SELECTOR), opts=k8s_opts)
        if any(view.serving.nodes_per_replica > 1 for view in views.values())
        else None
    )
    compute_class = build_compute_class(config, stack, provider, list(pools.values()))
    shared = _Shared(stack, secrets, provider, images, pools, bucket, namespace, lws, compute_class, gcp_depends_on)
    models = {key: _build_model(view, shared) for key, view in views.items()}
    build_pod_snapshots(config, stack, provider, models[serving.name].server, gcp_depends_on)
    for view in views.values():
        build_rapid_cache(view, bucket)
    objective_crd = (
        InferenceObjectiveCrd("inference-objective-crd", opts=k8s_opts)
        if config.gateway.enabled and config.uses_priorities() else None
    )
    build_gateway(config, provider, images, {key: m.server for key, m in models.items()}, depends_on=[namespace],
                  objective_crd=objective_crd)
    primary = models[serving.name]
    batch_pool = pools[config.batch.pool or serving.pool]
    build_batch(
        config,
        stack,
        provider,
        config.bucket_name(stack),
        serving.namespace,
        [namespace, batch_pool, *([primary.hub_token] if primary.hub_token else [])],
        primary.weights,
        batch_pool,
        serving_image=images.serving.ref,
        gcp_depends_on=[bucket, *gcp_depends_on],
    )
    if config.loadtest.enabled:
        assert images.loadtest is not None  # resolve_images makes it whenever loadtest.enabled
        target = models[config.loadtest_model_key()].server
        _load_test(config, stack, provider, images.loadtest.ref, bucket, target, namespace, gcp_depends_on)
    return Serving(namespace=namespace, models=models)


@dataclass(frozen=True)
class _Shared:
    """What every model's resources share."""

    stack: str
    secrets: dict[str, Any]
    provider: k8s.Provider
    images: StackImages
    pools: dict[str, GpuNodePool]
    bucket: ModelBucket
    namespace: k8s.core.v1.Namespace
    lws: LwsOperator | None
    compute_class: pulumi.Resource | None
    gcp_depends_on: list[pulumi.Resource]


def _build_model(config: StackConfig, shared: _Shared) -> ModelServing:
    """One model (``config`` is its view): hub token, weights, identity, server, buffer and smoke test, named by
    ``config.resource_name``."""
    serving, stack, provider, images, pools = config.serving, shared.stack, shared.provider, shared.images, shared.pools
    hub_token = _hub_token_secret(config, shared.secrets.get("hfToken"), provider, shared.namespace)
    after = [hub_token] if hub_token else []
    token_secret = f"{serving.name}-hf-token" if hub_token else None
    weights = build_weights(
        config,
        stack,
        provider,
        config.bucket_name(stack),
        serving.namespace,
        [shared.namespace, *after],
        hf_token_secret=token_secret,
        downloader_image=_downloads(config, images),
        serving_image=images.serving.ref,
        gcp_depends_on=[shared.bucket, *shared.gcp_depends_on],
    )
    # The server reads the bucket itself only where the backend streams from it (or its adapters are there).
    vllm_name = config.resource_name("vllm")
    adapter_buckets = set(lora_buckets(config.serving.lora.sources()))
    own_bucket = config.bucket_name(stack)
    reads = weights.needs_bucket_read or own_bucket in adapter_buckets
    reader = _bucket_access(shared.bucket, "reader", f"models-{vllm_name}-reader") if reads else None
    identity = stack_identity(
        config.resource_name("vllm-identity"), config, stack, vllm_name, serving.namespace, serving.name,
        shared.gcp_depends_on, bucket=reader,
    )
    for bucket_name in sorted(adapter_buckets - {own_bucket}):
        # Adapters in another bucket: the server's identity reads them (the deployer needs IAM rights on it).
        gcp.storage.BucketIAMMember(
            f"{vllm_name}-adapters-{bucket_name}", bucket=bucket_name, role=BUCKET_ROLES["reader"],
            member=identity.identity.member, opts=pulumi.ResourceOptions(parent=identity.identity),
        )
    cold_start = replica_cold_start_seconds(config)
    budget = startup_budget_seconds(config, cold_start)
    server = VllmServer(
        vllm_name,
        config.server_args(
            stack,
            image=images.serving.ref,
            weights=weights,
            pool=pools[serving.pool],
            overflow_pool=pools[serving.spot_pool] if serving.spot_pool else None,
            google_service_account=identity.email,
            replicas=max(1, config.min_replicas()),
            startup_budget_seconds=budget,
            api_key=shared.secrets.get("apiKey") if serving.require_api_key else None,
            workload_depends_on=(shared.lws,) if shared.lws and serving.nodes_per_replica > 1 else (),
            fetch_image=images.downloader.ref if images.downloader else None,
            hf_token_secret=token_secret,
        ),
        # Every server object waits for the pools, as before VllmServer took them (its pods would anyway).
        opts=pulumi.ResourceOptions(
            provider=provider,
            depends_on=[
                shared.namespace,
                pools[serving.pool],
                *([pools[serving.spot_pool]] if serving.spot_pool else []),
                *after,
                *([shared.compute_class] if shared.compute_class else []),
            ],
        ),
    )
    build_capacity_buffer(config, provider, server, images.serving.ref)
    latency = None
    if serving.smoke_test.enabled:
        rerun_on = [images.serving.ref, config.served_model_name(), weights.model_path,
                    serving.vllm.model_dump(mode="json")]
        latency = _smoke_test(config, provider, images.serving.ref, server, shared.namespace, rerun_on)
    return ModelServing(server=server, weights=weights, hub_token=hub_token, cold_start_seconds=cold_start,
                        startup_budget_seconds=budget, smoke_test_latency_seconds=latency)


def _downloads(config: StackConfig, images: StackImages) -> pulumi.Input[str] | None:
    """The downloader image for this model's download Job: None when the model names none (weights put there by
    the user) or the stack resolved none."""
    return images.downloader.ref if images.downloader and config.model.weights.downloader_image else None


def _hub_token_secret(
    config: StackConfig,
    token: pulumi.Input[str] | None,
    provider: k8s.Provider,
    namespace_resource: k8s.core.v1.Namespace,
) -> k8s.core.v1.Secret | None:
    """The hub token as a Secret that whatever downloads from the hub mounts (None without a token).

    It lives outside the server so the download Jobs that run *before* the server can wait for it;
    the vLLM container itself never gets it (the weights are local by the time vLLM starts). The top-level
    model's alias keeps the URN it had as a child of the ``vllm`` VllmServer.
    """
    if token is None:
        return None
    aliases = [pulumi.Alias(parent=pulumi.create_urn("vllm", "gke-inference:workloads:VllmServer"))]
    return k8s.core.v1.Secret(
        config.resource_name("vllm-hf-token"),
        metadata={"name": f"{config.serving.name}-hf-token", "namespace": config.serving.namespace},
        type="Opaque",
        string_data={"token": pulumi.Output.secret(token)},
        opts=pulumi.ResourceOptions(
            provider=provider,
            depends_on=[namespace_resource],
            aliases=aliases if config.model_key is None else [],
        ),
    )


def _bucket_access(bucket: ModelBucket, access: Literal["reader", "writer"], grant_name: str) -> BucketAccess:
    """Bucket access under the grant name ``ModelBucket.grant`` gave it, aliased from that parent (the bucket)."""
    return BucketAccess(bucket.bucket_name, access, grant_name, (pulumi.Alias(parent=bucket),))


LOADTEST_DIR = Path(__file__).resolve().parents[2] / "loadtest"


def harness_files() -> dict[str, str]:
    """The load-test harness as it is in this repository: its modules and bundled data."""
    paths = sorted(LOADTEST_DIR.glob("*.py")) + sorted((LOADTEST_DIR / "data").glob("*.jsonl"))
    return {str(p.relative_to(LOADTEST_DIR)): p.read_text() for p in paths}


def _load_test(
    config: StackConfig,
    stack: str,
    provider: k8s.Provider,
    image: pulumi.Input[str],
    bucket: ModelBucket,
    server: VllmServer,
    namespace: k8s.core.v1.Namespace,
    gcp_depends_on: list[pulumi.Resource],
) -> InClusterLoadTest:
    identity = stack_identity(
        "loadtest-identity", config, stack, "loadtest", config.serving.namespace, "loadtest", gcp_depends_on,
        bucket=_bucket_access(bucket, "writer", "models-loadtest-writer"),
    )
    return InClusterLoadTest(
        "loadtest",
        LoadTestArgs(
            namespace=config.serving.namespace,
            name="loadtest",
            image=image,
            files=harness_files(),
            target_url=server.service_url,
            model=server.served_model_name,
            bucket_name=config.bucket_name(stack),
            google_service_account=identity.email,
            harness_args=tuple(config.loadtest.harness_args),
            api_key_secret=f"{config.serving.name}-api-key" if config.serving.require_api_key else None,
            client_label=config.serving.client_label,
            node_selector={"gke-inference/role": "system"},
        ),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace, server]),
    )


def _smoke_test(
    config: StackConfig,
    provider: k8s.Provider,
    image: pulumi.Input[str],
    server: VllmServer,
    namespace: k8s.core.v1.Namespace,
    rerun_on: list[Any],
) -> pulumi.Output[float | None]:
    """The smoke test Job after the server is ready; returns its latency, read back once the Job completed."""
    smoke = config.serving.smoke_test
    test = SmokeTest(
        config.resource_name("smoke-test"),
        SmokeTestArgs(
            namespace=config.serving.namespace,
            # TODO(lead): a dedicated small Python image would pull faster on a node without image streaming;
            # the serving image is used because it is already resolved by digest and streamed.
            image=image,
            target_url=server.service_url,
            model=server.served_model_name,
            name=config.serving.name,
            api_key_secret=f"{config.serving.name}-api-key" if config.serving.require_api_key else None,
            prompt=smoke.prompt,
            max_tokens=smoke.max_tokens,
            request_timeout_seconds=smoke.request_timeout_seconds,
            deadline_seconds=smoke.deadline_seconds,
            backoff_limit=smoke.backoff_limit,
            client_label=config.serving.client_label,
            node_selector=SYSTEM_POOL_SELECTOR,
            rerun_on=rerun_on,
        ),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace, server]),
    )
    return read_latency_seconds(
        config.resource_name("smoke-test-result-read"), test, pulumi.ResourceOptions(provider=provider)
    )
