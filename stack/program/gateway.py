"""Composition of GKE Inference Gateway in front of the stack's model (``gateway`` section; docs/gateway.md).

One Gateway for the stack (``InferenceGateway``: with ``bodyBasedRouting`` also the body-based router and its
``GCPRoutingExtension``) and, per model, one ``ModelPool``: the InferencePool selecting the model's vLLM pods, its
endpoint picker with Managed Prometheus scraping by token, the HealthCheckPolicy on ``/health``, the
GCPBackendPolicy and the HTTPRoute. :func:`build_model_pool` builds one model's pool; the stack calls it once per
model (today: the one ``serving`` model).

The cluster side (Gateway API on the cluster, the proxy-only subnet) comes from ``GatewayConfig.cluster_args`` /
``network_args`` where the cluster and network are built; the vLLM pods admit the proxies and Google's health
checkers through ``VllmServerArgs.ingress_ip_blocks`` (``GatewayConfig.ingress_ip_blocks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from stack.config import StackConfig
from stack.config.gateway import GatewayConfig
from stack.program.images import StackImages
from workloads.gateway import InferenceGateway, ModelPool
from workloads.vllm_server import VllmServer

SYSTEM_POOL_SELECTOR = {"gke-inference/role": "system"}
"""Node label of the CPU system pool (infra/cluster.py): the picker and the router run there."""


@dataclass(frozen=True)
class StackGateway:
    """The Gateway and each model's pool (keyed by the model's server name)."""

    gateway: InferenceGateway
    pools: dict[str, ModelPool]


def build_gateway(
    config: StackConfig,
    provider: k8s.Provider,
    images: StackImages,
    server: VllmServer,
    depends_on: Sequence[pulumi.Resource],
) -> StackGateway | None:
    """The Gateway and the model's pool when ``gateway.enabled`` (None otherwise).

    Args:
        images: the resolved images (``picker`` and, with body-based routing, ``router``).
        server: the model's vLLM server; its pool selects the server's pods and waits for it.
        depends_on: what every gateway object waits for besides the server (the namespace).
    """
    section = config.gateway
    if not section.enabled:
        return None
    if images.picker is None or (section.body_based_routing and images.router is None):
        raise ValueError("gateway: resolve_images did not resolve the picker/router images for an enabled gateway")
    gateway = InferenceGateway(
        "gateway",
        section.gateway_args(config.serving.namespace, images.router.ref if images.router else None,
                             SYSTEM_POOL_SELECTOR),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[*depends_on, server]),
    )
    serving = config.serving
    pool = build_model_pool(
        section, provider, name=serving.name, namespace=serving.namespace,
        served_model_name=config.served_model_name(), client_label=serving.client_label, server=server,
        picker_image=images.picker.ref, gateway=gateway, depends_on=depends_on,
    )
    return StackGateway(gateway=gateway, pools={serving.name: pool})


def build_model_pool(
    section: GatewayConfig,
    provider: k8s.Provider,
    *,
    name: str,
    namespace: str,
    served_model_name: str,
    client_label: str,
    server: VllmServer,
    picker_image: pulumi.Input[str],
    gateway: InferenceGateway,
    depends_on: Sequence[pulumi.Resource],
) -> ModelPool:
    """One model behind the Gateway: its InferencePool (named ``name``, the model's server name), picker, policies
    and route (component ``<name>-pool``).

    Args:
        name: the model's server name (the pool and its objects are named after it).
        namespace: the model's namespace (an InferencePool selects pods in its own namespace only).
        served_model_name: the name clients send as ``model``.
        client_label: the label the server's NetworkPolicy admits (the picker scrapes the pods).
        server: the model's vLLM server: the pool selects its pods and waits for it, so the load balancer is
            attached to replicas that exist.
    """
    args = section.model_pool_args(
        name=name, namespace=namespace, served_model_name=served_model_name,
        selector_labels=server.selector_labels, picker_image=picker_image, gateway=gateway,
        client_label=client_label, node_selector=SYSTEM_POOL_SELECTOR,
    )
    return ModelPool(
        f"{name}-pool", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[*depends_on, server])
    )
