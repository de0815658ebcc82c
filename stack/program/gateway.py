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

from collections.abc import Mapping, Sequence
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
    servers: Mapping[str, VllmServer],
    depends_on: Sequence[pulumi.Resource],
    objective_crd: pulumi.Resource | None = None,
) -> StackGateway | None:
    """The Gateway and one pool per model when ``gateway.enabled`` (None otherwise).

    Args:
        images: the resolved images (``picker`` and, with body-based routing, ``router``).
        servers: every model's vLLM server by model key (``StackConfig.model_views``); each pool selects its
            server's pods and waits for it.
        depends_on: what every gateway object waits for besides the servers (the namespace).
        objective_crd: the InferenceObjective CRD, when a model or adapter has a priority.
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
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[*depends_on, *servers.values()]),
    )
    views = config.model_views()
    pools = {
        key: build_model_pool(
            section, provider, view=views[key], server=server, picker_image=images.picker.ref, gateway=gateway,
            depends_on=depends_on, objective_crd=objective_crd,
        )
        for key, server in servers.items()
    }
    return StackGateway(gateway=gateway, pools=pools)


def build_model_pool(
    section: GatewayConfig,
    provider: k8s.Provider,
    *,
    view: StackConfig,
    server: VllmServer,
    picker_image: pulumi.Input[str],
    gateway: InferenceGateway,
    depends_on: Sequence[pulumi.Resource],
    objective_crd: pulumi.Resource | None = None,
) -> ModelPool:
    """One model behind the Gateway: its InferencePool (named after the model's server), picker, policies and
    route (component ``<server name>-pool``), its adapters routed to it.

    Args:
        view: the model's config (``StackConfig.model_views``): server name, namespace, served name, adapters,
            priorities.
        server: the model's vLLM server: the pool selects its pods and waits for it, so the load balancer is
            attached to replicas that exist.
    """
    args = section.model_pool_args(
        view, selector_labels=server.selector_labels, picker_image=picker_image, gateway=gateway,
        node_selector=SYSTEM_POOL_SELECTOR, objective_crd=objective_crd,
    )
    name = view.serving.name
    return ModelPool(
        f"{name}-pool", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[*depends_on, server])
    )
