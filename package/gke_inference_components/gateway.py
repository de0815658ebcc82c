"""Facades of GKE Inference Gateway: the Gateway (with its body-based router) and one model's pool behind it.

Pass the cluster's Kubernetes provider in the resource options (the cluster needs `gatewayApi`). Each refuses
what its Python component refuses (same message) before registering anything.
"""

import dataclasses
from typing import NotRequired, TypedDict

import pulumi

from infra.validation import raise_if_problems
from workloads.gateway import endpoint_picker, inference_gateway, model_pool, objective_crd

from .convert import Block, block_args, flat_args
from .facade import expose


class GatewayTls(TypedDict):
    """The certificate the Gateway terminates TLS with on 443 (one of the two)."""

    secret_name: NotRequired[str]
    """A `kubernetes.io/tls` Secret in the Gateway's namespace."""
    pre_shared_certificate: NotRequired[str]
    """A regional Compute Engine SSL certificate in the cluster's region."""


class InferenceGatewayArgs(TypedDict):
    """Arguments of a GKE Inference Gateway."""

    namespace: pulumi.Input[str]
    """Namespace of the Gateway and its router (created by the caller)."""
    payload_processor_image: NotRequired[pulumi.Input[str]]
    """The body-based router image pinned by digest; required with `bodyBasedRouting`."""
    body_based_routing: NotRequired[bool]
    """Run the body-based router (routes then match `X-Gateway-Model-Name`). False renders the Gateway alone, for
    one model whose route matches every request. Default true."""
    name: NotRequired[str]
    """Name of the Gateway object (and prefix of the router's objects); default the component's name."""
    gateway_class: NotRequired[str]
    """gke-l7-rilb (default: internal regional load balancer) or gke-l7-regional-external-managed (needs
    `tls`)."""
    tls: NotRequired[GatewayTls]
    """Terminate TLS on 443 with this certificate; required for the external class."""
    hostname: NotRequired[str]
    """Listener hostname (routes then answer only for it); unset accepts any host."""
    allowed_routes: NotRequired[str]
    """Namespaces whose HTTPRoutes may attach: Same (default) or All."""
    router_replicas: NotRequired[int]
    """Router replicas (stateless; more than 1 adds a PodDisruptionBudget). Default 1."""
    router_cpu: NotRequired[str]
    """Router CPU request and limit. Default 1."""
    router_memory: NotRequired[str]
    """Router memory request and limit. Default 1Gi."""
    node_selector: NotRequired[dict[str, str]]
    """Where the router runs (the CPU system pool)."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Router tolerations."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""


_GATEWAY = Block(InferenceGatewayArgs, inference_gateway.InferenceGatewayArgs,
                 {"tls": Block(GatewayTls, inference_gateway.GatewayTls)})


class InferenceGateway(pulumi.ComponentResource):
    """A GKE Gateway for inference (internal or external regional load balancer) with the body-based router that
    routes on the request's `model`; `ModelPool`s attach to it."""

    gateway_name: str
    """The Gateway object's name (a `ModelPool`'s `gateway.name`)."""
    allows_other_namespaces: bool
    """Its listeners accept routes from other namespaces."""

    def __init__(self, name: str, args: InferenceGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("InferenceGateway", name, args, _GATEWAY,
                          lambda a: inference_gateway.validate_inference_gateway_args(a, name))
        expose(self, "InferenceGateway", name, opts,
               lambda child: inference_gateway.InferenceGateway(name, real, child),
               lambda made: {"gateway_name": made.object_name,
                             "allows_other_namespaces": made.ref.allows_other_namespaces})


class GatewayRef(TypedDict):
    """The Gateway a model's route attaches to (an `InferenceGateway`'s outputs)."""

    name: str
    """The Gateway object's name."""
    namespace: pulumi.Input[str]
    """Its namespace."""
    allows_other_namespaces: NotRequired[bool]
    """Its listeners accept routes from other namespaces. Default false."""


class ScorerWeights(TypedDict):
    """Weights of the endpoint picker's scorers."""

    queue: NotRequired[int]
    """queue-scorer: fewer waiting requests score higher. Default 2."""
    kv_cache: NotRequired[int]
    """kv-cache-utilization-scorer: more free KV cache scores higher. Default 2."""
    prefix_cache: NotRequired[int]
    """prefix-cache-scorer: longer approximate prefix match scores higher. Default 3."""
    lora_affinity: NotRequired[int]
    """lora-affinity-scorer (only when the pool serves adapters). Default 1."""


class PickerSettings(TypedDict):
    """How the endpoint picker runs; defaults are llm-d-router v0.10.0's chart defaults."""

    replicas: NotRequired[int]
    """1 or more (leader election, active-passive). Default 1."""
    cpu: NotRequired[str]
    """CPU request (no CPU limit). Default 8."""
    memory: NotRequired[str]
    """Memory request. Default 8Gi."""
    memory_limit: NotRequired[str]
    """Memory limit. Default 16Gi."""
    failure_mode: NotRequired[str]
    """What the load balancer does when the picker does not answer: FailOpen (default) or FailClose."""
    weights: NotRequired[ScorerWeights]
    """Scorer weights."""
    metrics_interval: NotRequired[str]
    """How often Managed Prometheus scrapes the picker. Default 10s."""
    autopilot: NotRequired[bool]
    """The cluster is Autopilot (where the GMP collector runs). Default false."""
    node_selector: NotRequired[dict[str, str]]
    """Where the picker runs: CPU nodes with at least 8 vCPU free."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Picker tolerations."""


class ModelPoolArgs(TypedDict):
    """Arguments of one model (and its LoRA adapters) behind an Inference Gateway."""

    namespace: pulumi.Input[str]
    """Namespace of the model's vLLM pods (an InferencePool selects pods in its own namespace only)."""
    served_model_name: str
    """The name clients send as `model` (a `VllmServer`'s `servedModelName`)."""
    selector_labels: dict[str, str]
    """Labels of the model's vLLM pods (app.kubernetes.io/name=vllm, app.kubernetes.io/instance=<server>)."""
    picker_image: pulumi.Input[str]
    """Endpoint picker image pinned by digest."""
    gateway: GatewayRef
    """The Gateway the model's route attaches to."""
    name: NotRequired[str]
    """Name of the InferencePool and its policies/route; default the component's name."""
    target_port: NotRequired[int]
    """The vLLM serving port. Default 8000."""
    adapters: NotRequired[list[str]]
    """LoRA adapters the model's servers load (served names), routed to this pool (without a priority)."""
    backend_timeout_seconds: NotRequired[int]
    """Load balancer backend timeout: the longest a response may stream (at least 300). Default 300."""
    backend_logging: NotRequired[bool]
    """Load balancer request logs for this pool. Default true."""
    health_path: NotRequired[str]
    """Path the load balancer health check requests on `targetPort`. Default /health."""
    picker: NotRequired[PickerSettings]
    """Endpoint picker replicas, size, weights, failure mode, scraping."""
    client_labels: NotRequired[dict[str, str]]
    """Labels on the picker's pods so the model servers' NetworkPolicy lets it in."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""
    match_model_header: NotRequired[bool]
    """Match `X-Gateway-Model-Name` per served name (needs the Gateway's body-based router); false sends every
    request on the Gateway to this pool. Default true."""


_POOL = Block(ModelPoolArgs, model_pool.ModelPoolArgs, {
    "gateway": Block(GatewayRef, model_pool.GatewayRef),
    "picker": Block(PickerSettings, endpoint_picker.PickerSettings,
                    {"weights": Block(ScorerWeights, endpoint_picker.ScorerWeights)}),
})


def model_pool_args(name: str, args: ModelPoolArgs) -> model_pool.ModelPoolArgs:
    """The component's args dataclass; adapters are served names without a priority (``{name: None}``)."""
    adapters = {adapter: None for adapter in args.get("adapters") or []}
    without = {key: value for key, value in args.items() if key != "adapters"}
    real = block_args("ModelPool", name, without, _POOL, lambda _: [])
    return dataclasses.replace(real, adapters=adapters)


class ModelPool(pulumi.ComponentResource):
    """One model behind the Inference Gateway: an InferencePool with its endpoint picker (queue, KV cache, prefix
    and LoRA aware), the HTTPRoute on the model name, health-check and backend policies."""

    pool_name: str
    """The InferencePool's name."""
    served_names: list[str]
    """The model and adapter names routed to it."""

    def __init__(self, name: str, args: ModelPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = model_pool_args(name, args)
        raise_if_problems("ModelPool", name, model_pool.validate_model_pool_args(real, name))
        expose(self, "ModelPool", name, opts, lambda child: model_pool.ModelPool(name, real, child),
               lambda made: {"pool_name": made.pool_name, "served_names": list(made.served_names)})


class InferenceObjectiveCrdArgs(TypedDict):
    """Arguments of the InferenceObjective CRD install; the defaults install the file this package ships."""

    crd_path: NotRequired[str]
    """The CRD file (absolute path). Default: the copy vendored in the package (llm-d-router v0.10.0
    `config/crd/bases/llm-d.ai_inferenceobjectives.yaml`, the one `gke-infer validate` checks against)."""
    expected_sha256: NotRequired[str]
    """The pin: the install refuses a file with any other sha256. Default: the vendored file's."""


class InferenceObjectiveCrd(pulumi.ComponentResource):
    """Installs the `llm-d.ai` InferenceObjective CRD (alpha; GKE does not install it), from a pinned file, once per
    cluster. Objects of that kind wait for it when it is in their `dependsOn`."""

    crd_name: str
    """The CRD's name (inferenceobjectives.llm-d.ai)."""
    api_version: str
    """The API version its objects use (llm-d.ai/v1alpha2)."""

    def __init__(self, name: str, args: InferenceObjectiveCrdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = flat_args("InferenceObjectiveCrd", name, args, InferenceObjectiveCrdArgs,
                         objective_crd.InferenceObjectiveCrdArgs, objective_crd.validate_inference_objective_crd_args)
        expose(self, "InferenceObjectiveCrd", name, opts,
               lambda child: objective_crd.InferenceObjectiveCrd(name, real, child),
               lambda made: {"crd_name": objective_crd.CRD_NAME, "api_version": made.api_version})
