"""One GKE Inference Gateway for every model: the Gateway, the body-based router and its routing extension.

Client → Gateway → (``GCPRoutingExtension``) body-based router copies the body's ``model`` into
``X-Gateway-Model-Name`` → one HTTPRoute per model matches that header (``ModelPool``) → InferencePool →
endpoint picker → a vLLM pod.

A request whose model no route matches gets HTTP 404 from the load balancer, not a timeout: the Gateway
API requires it ("When no rules matching a request have been successfully attached to the parent a request
is coming from, a HTTP 404 status code MUST be returned", HTTPRoute CRD ``spec.rules.matches`` description,
gateway-api v1.6.1), the core conformance test ``HTTPRouteHeaderMatching`` asserts 404 for an unmatched
header value (gateway-api v1.5.0 ``conformance/tests/httproute-header-matching.go``), and GKE passes every core
test of v1.5.0 (``conformance/reports/v1.5/gke-gateway/v1.5.0-gke-report.yaml``: GKE 1.35.2-gke.1751000, core
36 passed, 0 failed). GKE's body is ``fault filter abort`` (llm-d ``docs/infrastructure/gateway/gke.md``
@3b9ac7a9, Troubleshooting: "The request doesn't match the routing rules setup on HTTPRoute"). So no
catch-all route is rendered: a rule without a valid backend would answer 500/503 instead (HTTPRoute CRD
``backendRefs`` description).

Listeners: internal (``gke-l7-rilb``, the default) serve HTTP on 80, or HTTPS on 443 with ``tls``; external
(``gke-l7-regional-external-managed``) must terminate TLS — the component refuses it without ``tls``. A
certificate is a Kubernetes Secret (``certificateRefs``, Gateway API core) or a regional Compute Engine SSL
certificate named in ``tls.options["networking.gke.io/pre-shared-certs"]``
(https://cloud.google.com/kubernetes-engine/docs/concepts/gateway-security).

Cluster prerequisites (the cluster component's job, checked nowhere here): Gateway API enabled
(``gatewayApiConfig.channel: CHANNEL_STANDARD``) and a proxy-only subnet in the region (both classes are
regional Envoy-based load balancers; ../shared/reference/field-2026-12.md §1.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, one_of, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, pinned_image, service_name
from workloads.awaiting import await_annotations
from workloads.checkov import checkov_skip_annotations
from workloads.gateway import body_router
from workloads.gateway.upstream import (
    EXTERNAL_CLASS,
    GATEWAY_API_VERSION,
    GATEWAY_CLASSES,
    GATEWAY_GROUP,
    GKE_NETWORKING_API_VERSION,
)

TYPE_TOKEN = "gke-inference:workloads:InferenceGateway"
READY_CONDITION = "Programmed"
"""Gateway status condition: the load balancer is configured and has an address (gateway-api v1.6.1 Gateway CRD,
``status.conditions``: "Programmed"; llm-d gke.md Step 3 waits for ``PROGRAMMED=True``)."""
PRE_SHARED_CERTS = "networking.gke.io/pre-shared-certs"
"""GKE listener TLS option naming Compute Engine SSL certificates (gateway-security page above)."""
ROUTER_CPU = "1"
ROUTER_MEMORY = "1Gi"
"""The router's chart sets no resources; it only parses the JSON body of each request and sets headers. One CPU
and 1 GiB (requests = limits, a Guaranteed pod) is this project's sizing, not an upstream figure: raise it for
very large request bodies or high request rates."""
CHECKOV_SKIPS = (
    ("CKV_K8S_15", "the image is pinned by digest; IfNotPresent avoids a registry round trip on every restart"),
    ("CKV_K8S_38", "the router watches ConfigMaps (adapter to base model) through the API server with its token"),
)


@dataclass(frozen=True)
class GatewayTls:
    """The certificate the HTTPS listener presents: exactly one of the two."""

    secret_name: str | None = None
    """A ``kubernetes.io/tls`` Secret in the Gateway's namespace (``certificateRefs``)."""
    pre_shared_certificate: str | None = None
    """A regional Compute Engine SSL certificate in the cluster's region (``networking.gke.io/pre-shared-certs``)."""


@dataclass(frozen=True)
class GatewayRef:
    """A Gateway that routes attach to; ``InferenceGateway.ref`` or one created outside this program."""

    name: str
    """The Gateway object's name."""
    namespace: pulumi.Input[str]
    """Its namespace."""
    allows_other_namespaces: bool = False
    """Whether its listeners accept routes from other namespaces (``allowedRoutes.namespaces.from: All``)."""


@dataclass(frozen=True)
class InferenceGatewayArgs:
    namespace: pulumi.Input[str]
    """Namespace of the Gateway and its router (created by the caller)."""
    payload_processor_image: pulumi.Input[str] | None = None
    """The body-based router image pinned by digest (``NAME@sha256:...``) or a resolved image Output; the
    repository is ``upstream.PAYLOAD_PROCESSOR_IMAGE``. Required with ``body_based_routing``."""
    body_based_routing: bool = True
    """Run the body-based router and its ``GCPRoutingExtension`` (routes then match ``X-Gateway-Model-Name``). False
    renders the Gateway alone, for one model whose route matches every request (``ModelPoolArgs.match_model_header``
    False)."""
    name: str | None = None
    """Name of the Gateway object (and prefix of the router's objects); None = the component's name."""
    gateway_class: Literal["gke-l7-rilb", "gke-l7-regional-external-managed"] = "gke-l7-rilb"
    """Internal regional load balancer (default) or regional external; external needs ``tls``."""
    tls: GatewayTls | None = None
    """Terminate TLS on 443 with this certificate; required for the external class."""
    hostname: str | None = None
    """Listener hostname (routes then answer only for it); None accepts any host."""
    allowed_routes: Literal["Same", "All"] = "Same"
    """Namespaces whose HTTPRoutes may attach: the Gateway's own, or all."""
    router_replicas: int = 1
    """Router replicas (stateless; >1 adds a PodDisruptionBudget)."""
    router_cpu: str = ROUTER_CPU
    """Router CPU request and limit."""
    router_memory: str = ROUTER_MEMORY
    """Router memory request and limit."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Where the router runs (the CPU system pool)."""
    tolerations: tuple[Mapping[str, str], ...] = ()
    """Router tolerations."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object."""


def validate_inference_gateway_args(args: InferenceGatewayArgs, name: str = "gateway") -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, the image pin, the class and its TLS rule, sizes."""
    problems = type_problems(args, InferenceGatewayArgs)
    if problems:
        return problems
    object_name = args.name or name
    problems = service_name("name", object_name, "Gateway name (the component name when name is unset)")
    if not problems and len(f"{object_name}-bbr") > 63:
        problems.append(Problem("name", f"'{object_name}' is too long: the router Service '{object_name}-bbr' must "
                                        "be ≤ 63 characters"))
    problems += namespace_name("namespace", args.namespace)
    if args.body_based_routing and args.payload_processor_image is None:
        problems.append(Problem("payload_processor_image", "required with {body_based_routing}: the router's image"))
    elif args.body_based_routing:
        problems += pinned_image("payload_processor_image", args.payload_processor_image)
    problems += one_of("gateway_class", args.gateway_class, GATEWAY_CLASSES)
    if args.gateway_class == EXTERNAL_CLASS and args.tls is None:
        problems.append(Problem("tls", f"the external class {EXTERNAL_CLASS} serves the internet: set {{tls}} (a "
                                       "certificate Secret or a pre-shared regional SSL certificate)"))
    if args.tls is not None and (args.tls.secret_name is None) == (args.tls.pre_shared_certificate is None):
        problems.append(Problem("tls", "set exactly one of secret_name and pre_shared_certificate"))
    problems += at_least("router_replicas", args.router_replicas, 1)
    problems += kubernetes_labels("labels", dict(args.labels)) + kubernetes_labels("node_selector",
                                                                                 dict(args.node_selector))
    return problems


def listener(args: InferenceGatewayArgs) -> dict[str, Any]:
    """The one listener: HTTP 80, or HTTPS 443 terminating ``args.tls``."""
    spec: dict[str, Any] = {
        "name": "https" if args.tls else "http",
        "protocol": "HTTPS" if args.tls else "HTTP",
        "port": 443 if args.tls else 80,
        "allowedRoutes": {"namespaces": {"from": args.allowed_routes},
                          "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]},
    }
    if args.hostname:
        spec["hostname"] = args.hostname
    if args.tls is not None:
        tls: dict[str, Any] = {"mode": "Terminate"}
        if args.tls.secret_name is not None:
            tls["certificateRefs"] = [{"group": "", "kind": "Secret", "name": args.tls.secret_name}]
        else:
            tls["options"] = {PRE_SHARED_CERTS: args.tls.pre_shared_certificate}
        spec["tls"] = tls
    return spec


class InferenceGateway(pulumi.ComponentResource):
    """The Gateway every model's HTTPRoute attaches to, with body-based routing. Pass an explicit Kubernetes
    provider in ``opts``."""

    gateway: k8s.apiextensions.CustomResource
    ref: GatewayRef
    object_name: str
    router_service: str

    def __init__(self, name: str, args: InferenceGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("InferenceGateway", name, validate_inference_gateway_args(args, name))
        super().__init__(TYPE_TOKEN, name, {}, opts)
        self.object_name = args.name or name
        self.router_service = f"{self.object_name}-bbr"
        labels = {"app.kubernetes.io/part-of": "inference-gateway", **args.labels}
        child = child_options(self, opts)

        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API_VERSION,
            kind="Gateway",
            metadata={"name": self.object_name, "namespace": args.namespace, "labels": labels,
                      "annotations": await_annotations(READY_CONDITION)},
            spec={"gatewayClassName": args.gateway_class, "listeners": [listener(args)]},
            opts=child,
        )
        self.ref = GatewayRef(self.object_name, args.namespace, args.allowed_routes == "All")
        if args.body_based_routing:
            self._router(name, args, labels, opts)
        self.register_outputs({"gatewayName": self.object_name, "gatewayClass": args.gateway_class,
                               "routerService": self.router_service if args.body_based_routing else None})

    def _router(self, name: str, args: InferenceGatewayArgs, labels: dict[str, str],
                opts: pulumi.ResourceOptions | None) -> None:
        router = self.router_service
        selector = {"app.kubernetes.io/name": "payload-processor", "app.kubernetes.io/instance": router}
        router_labels = {**labels, **selector, "app.kubernetes.io/component": "body-based-router"}

        def meta(object_name: str, **extra: Any) -> dict[str, Any]:
            return {"name": object_name, "namespace": args.namespace, "labels": router_labels, **extra}

        child = child_options(self, opts)
        ksa = k8s.core.v1.ServiceAccount(f"{name}-bbr-sa", metadata=meta(router), opts=child)  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
        role = k8s.rbac.v1.Role(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-bbr-role", metadata=meta(router), rules=body_router.configmap_reader_rules(), opts=child)
        binding = k8s.rbac.v1.RoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-bbr-rolebinding",
            metadata=meta(router),
            subjects=[{"kind": "ServiceAccount", "name": router, "namespace": args.namespace}],
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": router},
            opts=child,
        )
        pod = body_router.router_pod_spec(
            service_account=router, image=args.payload_processor_image, cpu=args.router_cpu,
            memory=args.router_memory, node_selector=args.node_selector, tolerations=args.tolerations,
        )
        k8s.apps.v1.Deployment(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-bbr",
            metadata=meta(router, annotations=checkov_skip_annotations(CHECKOV_SKIPS)),
            spec={"replicas": args.router_replicas, "selector": {"matchLabels": selector},
                  "template": {"metadata": {"labels": router_labels}, "spec": pod}},
            opts=child_options(self, opts, depends_on=[ksa, role, binding]),
        )
        service = k8s.core.v1.Service(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-bbr-svc", metadata=meta(router), spec=body_router.router_service_spec(selector), opts=child)
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-bbr-netpol", metadata=meta(router), spec=body_router.router_network_policy_spec(selector),
            opts=child)
        if args.router_replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-bbr-pdb", metadata=meta(router),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-bbr-healthcheck",
            api_version=GKE_NETWORKING_API_VERSION,
            kind="HealthCheckPolicy",
            metadata=meta(router),
            spec=body_router.router_health_check_spec(router),
            opts=child_options(self, opts, depends_on=[service]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-routing-extension",
            api_version=GKE_NETWORKING_API_VERSION,
            kind="GCPRoutingExtension",
            metadata=meta(router),
            spec=body_router.routing_extension_spec(self.object_name, router),
            opts=child_options(self, opts, depends_on=[self.gateway, service]),
        )
