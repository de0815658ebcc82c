"""The body-based router (BBR, llm-d inference payload processor): pure manifest builders.

The router is an ext_proc server the Gateway calls for every request (a ``GCPRoutingExtension`` on the
Gateway): its ``body-field-to-header`` plugin copies the JSON body's ``model`` into the
``X-Gateway-Model-Name`` header, and ``base-model-to-header`` sets ``X-Gateway-Base-Model-Name`` from
ConfigMaps labelled ``inference.llm-d.ai/ipp-managed: "true"`` (adapter → base model). HTTPRoutes then match
the header. One router per Gateway ("This chart should only be deployed once per Gateway",
``payload-processor/README.md``).

Mirrors llm-d/llm-d-inference-payload-processor ``config/charts/payload-processor`` @a3af1b06
(``templates/payload-processor.yaml``, ``rbac.yaml``, ``gke.yaml``) with GAIE v1.5.0's GKE extension events
(``body-based-routing/templates/gke.yaml``: request events only, which is all a GCPRoutingExtension with
``FullDuplexStreamed`` may list). Differences, all hardening: probes on the gRPC health port, resources with
limits, a restricted security context, ``imagePullPolicy: IfNotPresent`` for a digest-pinned image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from workloads.gateway.upstream import (
    BBR_EXTENSION_EVENTS,
    BBR_EXTENSION_TIMEOUT,
    BBR_GRPC_PORT,
    BBR_HEALTH_PORT,
    GATEWAY_GROUP,
    MODEL_HEADER,
)
from workloads.pod_security import container_security_context, pod_security_context

RUN_AS_USER = 65532
"""The ``nonroot`` user of ``gcr.io/distroless/static:nonroot``, the image's base (``Dockerfile`` @a3af1b06)."""
IPP_MANAGED_LABEL = "inference.llm-d.ai/ipp-managed"
"""Label of the ConfigMaps the base-model plugin reads (``pkg/plugins/basemodelextractor/configmap_reconciler.go``)."""
PLUGINS: tuple[tuple[str, str, Mapping[str, str] | None], ...] = (
    ("body-field-to-header", "model-extractor", {"fieldName": "model", "headerName": MODEL_HEADER}),
    ("base-model-to-header", "base-model-mapper", None),
)
"""``--plugin <type>:<name>[:<json>]`` specs: the chart's defaults (``payload-processor/values.yaml``), spelled out
so the header the routes match is fixed here. ``base-model-to-header`` sets ``BASE_MODEL_HEADER`` to ``""`` for a
name no ConfigMap lists (``base_model_to_header.go``); the routes match ``MODEL_HEADER`` only."""


def plugin_flags() -> list[str]:
    """``--plugin`` flags in order (``pkg/config/spec.go``: ``<type>:<name>`` or ``<type>:<name>:<json>``)."""
    flags = []
    for plugin_type, name, parameters in PLUGINS:
        spec = f"{plugin_type}:{name}"
        if parameters:
            spec += ":" + json.dumps(dict(parameters), separators=(",", ":"))
        flags += ["--plugin", spec]
    return flags


def router_args() -> list[str]:
    """Container args: explicit ports, the plugins, no tracing (``pkg/server/options.go`` flag names)."""
    return [
        f"--grpc-port={BBR_GRPC_PORT}",
        f"--grpc-health-port={BBR_HEALTH_PORT}",
        *plugin_flags(),
        "--tracing=false",
    ]


def router_pod_spec(
    *,
    service_account: str,
    image: Any,
    cpu: str,
    memory: str,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    """The router's pod spec. Its gRPC health server answers any service name (``cmd/runner/health.go``)."""
    grpc_probe = {"grpc": {"port": BBR_HEALTH_PORT}}
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "securityContext": pod_security_context(RUN_AS_USER),
        "containers": [
            {
                "name": "payload-processor",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": router_args(),
                "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                "ports": [
                    {"name": "grpc", "containerPort": BBR_GRPC_PORT, "protocol": "TCP"},
                    {"name": "grpc-health", "containerPort": BBR_HEALTH_PORT, "protocol": "TCP"},
                ],
                "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
                "readinessProbe": {**grpc_probe, "periodSeconds": 2},
                "livenessProbe": {**grpc_probe, "initialDelaySeconds": 5, "periodSeconds": 10},
                "securityContext": container_security_context(RUN_AS_USER),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    return spec


def router_service_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """ClusterIP on the ext_proc port; ``appProtocol: HTTP2`` tells the load balancer to speak gRPC (HTTP/2) to it
    (``payload-processor/templates/payload-processor.yaml``)."""
    return {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [{"name": "grpc", "protocol": "TCP", "port": BBR_GRPC_PORT, "targetPort": BBR_GRPC_PORT,
                   "appProtocol": "HTTP2"}],
    }


def routing_extension_spec(gateway_name: str, service_name: str) -> dict[str, Any]:
    """The ``GCPRoutingExtension`` that sends every request through the router before route matching."""
    return {
        "targetRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name}],
        "extensionChains": [
            {
                "name": "chain1",
                "extensions": [
                    {
                        "name": "ext1",
                        "authority": "myext.com",  # both charts' value; GKE passes it as the ext_proc :authority
                        "timeout": BBR_EXTENSION_TIMEOUT,
                        "supportedEvents": list(BBR_EXTENSION_EVENTS),
                        "requestBodySendMode": "FullDuplexStreamed",
                        "backendRef": {"group": "", "kind": "Service", "name": service_name, "port": BBR_GRPC_PORT},
                    }
                ],
            }
        ],
    }


def router_health_check_spec(service_name: str) -> dict[str, Any]:
    """gRPC health check of the router Service on its health port (both charts' ``HealthCheckPolicy``)."""
    return {
        "targetRef": {"group": "", "kind": "Service", "name": service_name},
        "default": {
            "logConfig": {"enabled": True},
            "config": {"type": "GRPC",
                       "grpcHealthCheck": {"portSpecification": "USE_FIXED_PORT", "port": BBR_HEALTH_PORT}},
        },
    }


def router_network_policy_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """Ingress only on the ext_proc and health ports. Callers are the load balancer's Envoy proxies (the region's
    proxy-only subnet) and Google's health checkers, neither a pod, so the rule names ports, not peers."""
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": BBR_GRPC_PORT, "protocol": "TCP"},
                               {"port": BBR_HEALTH_PORT, "protocol": "TCP"}]}],
    }


def configmap_reader_rules() -> list[dict[str, Any]]:
    """The router watches ConfigMaps in its namespace (``payload-processor/templates/rbac.yaml``, single namespace)."""
    return [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
