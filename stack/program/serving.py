"""Composition of the serving side: namespace, Workload Identity, weights, the vLLM server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra.gpu_node_pool import GpuNodePool
from infra.storage import ModelBucket
from stack.config import StackConfig
from stack.decisions import STARTUP_BUDGET_FACTOR as STARTUP_BUDGET_FACTOR  # re-exported (tests, callers)
from stack.decisions import replica_cold_start_seconds, startup_budget_seconds
from stack.program.capacity import build_capacity_buffer, build_compute_class, build_pod_snapshots, build_rapid_cache
from stack.program.gateway import build_gateway
from stack.program.identities import BucketAccess, stack_identity
from stack.program.images import StackImages
from stack.program.weights import build_batch, build_weights
from workloads.loadtest import InClusterLoadTest, LoadTestArgs
from workloads.lws_operator import LwsOperator, LwsOperatorArgs
from workloads.smoke_test import SmokeTest, SmokeTestArgs, read_latency_seconds
from workloads.vllm_server import VllmServer

SYSTEM_POOL_SELECTOR = {"gke-inference/role": "system"}
"""Node label of the CPU system pool (infra/cluster.py): controllers and client Jobs run there."""


@dataclass(frozen=True)
class Serving:
    """What the rest of the program composes with."""

    server: VllmServer
    namespace: k8s.core.v1.Namespace
    cold_start_seconds: float
    startup_budget_seconds: int
    smoke_test_latency_seconds: pulumi.Output[float | None] | None = None
    """Latency of the smoke test's chat completion (None when serving.smokeTest.enabled is false)."""


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
    """Namespace, identities, the weights backend, the vLLM server, batch and load-test Jobs.

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
    hub_token = _hub_token_secret(serving.namespace, serving.name, secrets.get("hfToken"), provider, namespace)
    weights = build_weights(
        config,
        stack,
        provider,
        config.bucket_name(stack),
        serving.namespace,
        [namespace, *([hub_token] if hub_token else [])],
        hf_token_secret=f"{serving.name}-hf-token" if hub_token else None,
        downloader_image=images.downloader.ref if images.downloader else None,
        serving_image=images.serving.ref,
        gcp_depends_on=[bucket, *gcp_depends_on],
    )
    # The server reads the bucket itself only where the backend streams from it.
    identity = stack_identity(
        "vllm-identity", config, stack, "vllm", serving.namespace, serving.name, gcp_depends_on,
        bucket=_bucket_access(bucket, "reader", "models-vllm-reader") if weights.needs_bucket_read else None,
    )

    cold_start = replica_cold_start_seconds(config)
    budget = startup_budget_seconds(config, cold_start)
    vllm = serving.vllm
    # A replica spanning nodes is a LeaderWorkerSet: its CRD and controller come with the stack.
    lws = (
        LwsOperator("lws", LwsOperatorArgs(node_selector=SYSTEM_POOL_SELECTOR), opts=k8s_opts)
        if serving.nodes_per_replica > 1
        else None
    )
    compute_class = build_compute_class(config, stack, provider, list(pools.values()))
    server = VllmServer(
        "vllm",
        config.server_args(
            stack,
            image=images.serving.ref,
            weights=weights,
            pool=pools[serving.pool],
            overflow_pool=pools[serving.spot_pool] if serving.spot_pool else None,
            google_service_account=identity.email,
            replicas=max(1, config.min_replicas()),
            startup_budget_seconds=budget,
            api_key=secrets.get("apiKey") if serving.require_api_key else None,
            workload_depends_on=(lws,) if lws else (),
        ),
        # Every server object waits for the pools, as before VllmServer took them (its pods would anyway).
        opts=pulumi.ResourceOptions(
            provider=provider,
            depends_on=[
                namespace,
                pools[serving.pool],
                *([pools[serving.spot_pool]] if serving.spot_pool else []),
                *([hub_token] if hub_token else []),
                *([compute_class] if compute_class else []),
            ],
        ),
    )
    build_capacity_buffer(config, provider, server, images.serving.ref)
    build_pod_snapshots(config, stack, provider, server, gcp_depends_on)
    build_rapid_cache(config, bucket)
    build_gateway(config, provider, images, server, depends_on=[namespace])
    batch_pool = pools[config.batch.pool or serving.pool]
    build_batch(
        config,
        stack,
        provider,
        config.bucket_name(stack),
        serving.namespace,
        [namespace, batch_pool, *([hub_token] if hub_token else [])],
        weights,
        batch_pool,
        serving_image=images.serving.ref,
        gcp_depends_on=[bucket, *gcp_depends_on],
    )
    if config.loadtest.enabled:
        assert images.loadtest is not None  # resolve_images makes it whenever loadtest.enabled
        _load_test(config, stack, provider, images.loadtest.ref, bucket, server, namespace, gcp_depends_on)
    latency = None
    if serving.smoke_test.enabled:
        rerun_on = [images.serving.ref, config.served_model_name(), weights.model_path, vllm.model_dump(mode="json")]
        latency = _smoke_test(config, provider, images.serving.ref, server, namespace, rerun_on)
    return Serving(
        server=server,
        namespace=namespace,
        cold_start_seconds=cold_start,
        startup_budget_seconds=budget,
        smoke_test_latency_seconds=latency,
    )


def _hub_token_secret(
    namespace: str,
    server_name: str,
    token: pulumi.Input[str] | None,
    provider: k8s.Provider,
    namespace_resource: k8s.core.v1.Namespace,
) -> k8s.core.v1.Secret | None:
    """The hub token as a Secret that whatever downloads from the hub mounts (None without a token).

    It lives outside the server so the download Jobs that run *before* the server can wait for it;
    the vLLM container itself never gets it (the weights are local by the time vLLM starts). The alias
    keeps the URN it had as a child of the ``vllm`` VllmServer.
    """
    if token is None:
        return None
    return k8s.core.v1.Secret(
        "vllm-hf-token",
        metadata={"name": f"{server_name}-hf-token", "namespace": namespace},
        type="Opaque",
        string_data={"token": pulumi.Output.secret(token)},
        opts=pulumi.ResourceOptions(
            provider=provider,
            depends_on=[namespace_resource],
            aliases=[pulumi.Alias(parent=pulumi.create_urn("vllm", "gke-inference:workloads:VllmServer"))],
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
        "smoke-test",
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
    return read_latency_seconds("smoke-test-result-read", test, pulumi.ResourceOptions(provider=provider))
