"""One model behind the Inference Gateway: InferencePool, endpoint picker, GKE policies, route, objectives.

Per model (llm-d/llm-d-router ``config/charts/llm-d-router-gateway`` @v0.10.0 with ``provider.name=gke`` and
GMP monitoring, ../shared/reference/field-2026-12.md §1.2–§1.3):

* ``InferencePool`` (``inference.networking.k8s.io/v1``) selecting the model's vLLM pods
  (``VllmServer.selector_labels``) on the serving port, its picker named in ``endpointPickerRef``;
* the endpoint picker (``workloads/gateway/endpoint_picker.py``): ServiceAccount, RBAC, ConfigMap, Deployment,
  Service, and its metrics scraped by Managed Prometheus with a bearer token;
* ``HealthCheckPolicy`` probing ``/health`` on the serving port — without it the load balancer probes ``/`` and
  every request gets 503;
* ``GCPBackendPolicy`` with a timeout of at least 300 s (refused below) and request logging;
* an ``HTTPRoute`` on the Gateway matching ``X-Gateway-Model-Name`` (set by the body-based router) for the
  model's served name and each LoRA adapter's name, all to this pool; the picker's ``lora-affinity-scorer``
  then prefers a replica that already holds the adapter;
* an ``InferenceObjective`` (``llm-d.ai/v1alpha2``) for the model and for each adapter that has a priority.

Priorities. The picker finds a request's objective by the header ``x-llm-d-inference-objective`` (upstream
``ObjectiveKey``), not by the model name, so the route sets that header on each prioritized name's rule
(``RequestHeaderModifier``, a core Gateway API filter that GKE passes conformance for) and removes it — and
the deprecated ``x-gateway-inference-objective`` — everywhere else, so a client cannot pick its own
priority. A negative priority is sheddable: dropped when the pool is saturated
(``pkg/epp/requestcontrol/admission.go`` @v0.10.0); ordering by priority needs the picker's ``flowControl``
feature gate, off by default (field-2026-12.md §1.2).

Not rendered: a route ``timeouts`` block (GKE does not support HTTPRouteRequestTimeout: gateway-api
``conformance/reports/v1.5/gke-gateway``; the chart omits it on GKE — the backend timeout lives in the
GCPBackendPolicy), the InferencePool's ``appProtocol`` (newer than GAIE v1.0; default ``http``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, is_plain, kubernetes_labels, raise_if_problems, type_problems
from workloads import monitoring
from workloads.arg_rules import at_least, label_selector, namespace_name, pinned_image, service_name
from workloads.awaiting import await_annotations
from workloads.checkov import checkov_skip_annotations
from workloads.gateway import endpoint_picker as epp
from workloads.gateway.inference_gateway import GatewayRef, InferenceGateway
from workloads.gateway.lora import adapter_name_problems
from workloads.gateway.upstream import (
    EPP_EXT_PROC_PORT,
    GATEWAY_API_VERSION,
    GATEWAY_GROUP,
    GKE_NETWORKING_API_VERSION,
    GMP_COLLECTOR_SERVICE_ACCOUNT,
    HEALTH_CHECK_INTERVAL_SECONDS,
    HEALTH_CHECK_TIMEOUT_SECONDS,
    HEALTH_PATH,
    INFERENCE_GROUP,
    INFERENCE_POOL_API_VERSION,
    LEGACY_OBJECTIVE_HEADER,
    MIN_BACKEND_TIMEOUT_SECONDS,
    MODEL_HEADER,
    OBJECTIVE_API_VERSION,
    OBJECTIVE_HEADER,
)
from workloads.vllm_args import SERVING_PORT

TYPE_TOKEN = "gke-inference:workloads:ModelPool"
MAX_SERVED_NAMES = 64
"""The model plus its adapters share one HTTPRoute: at most 64 matches per rule and fewer than 128 in a route
(HTTPRoute CRD, gateway-api v1.6.1: ``rules[].matches`` maxItems 64, CEL total < 128)."""
MAX_PRIORITIZED = 15
"""Each prioritized name needs its own rule (its own header filter); a route has at most 16 rules (CRD
``rules`` maxItems 16), one of which holds the names without a priority."""
INT32 = (-(2**31), 2**31 - 1)
"""``spec.priority`` is an int32 (InferenceObjective CRD, llm-d-router v0.10.0)."""
MAX_BACKEND_TIMEOUT_SECONDS = 2**31 - 1
"""GCPBackendPolicy ``default.timeoutSec`` maximum (gke-gateway-api CRD @fc40d606)."""
CLIENT_LABELS = {"gke-inference/client": "true"}
"""The label VllmServer's NetworkPolicy admits on the serving port (``VllmServerArgs.client_label``): the picker
scrapes ``/metrics`` and ``/v1/models`` of every pod in the pool."""
CHECKOV_SKIPS = (
    ("CKV_K8S_15", "the image is pinned by digest; IfNotPresent avoids a registry round trip on every restart"),
    ("CKV_K8S_11", "no CPU limit, as upstream: the picker's scheduling latency suffers under CFS throttling"),
    ("CKV_K8S_38", "the picker watches pods and its InferencePool through the API server with its own token"),
)


@dataclass(frozen=True)
class ModelPoolArgs:
    namespace: pulumi.Input[str]
    """Namespace of the model's vLLM pods (an InferencePool selects pods in its own namespace only)."""
    served_model_name: str
    """The name clients send as ``model`` (``VllmServer.served_model_name``)."""
    selector_labels: Mapping[str, str]
    """Labels of the model's vLLM pods (``VllmServer.selector_labels``)."""
    picker_image: pulumi.Input[str]
    """Endpoint picker image pinned by digest or a resolved image Output (``upstream.EPP_IMAGE``, release
    ``upstream.EPP_RELEASE_TAG``)."""
    gateway: InferenceGateway | GatewayRef
    """The Gateway the model's route attaches to."""
    name: str | None = None
    """Name of the InferencePool and its policies/route (prefix of every object); None = the component's name."""
    target_port: int = SERVING_PORT
    """The vLLM serving port (``/health``, ``/metrics`` and the OpenAI API)."""
    adapters: Mapping[str, int | None] = field(default_factory=dict)
    """LoRA adapters the model's servers load (served name → priority, None for none); routed to this pool."""
    priority: int | None = None
    """Priority of the base model's requests (an InferenceObjective); None renders none (priority 0)."""
    objective_crd: pulumi.Resource | None = None
    """The ``InferenceObjectiveCrd`` component; required as soon as a priority is set (GKE does not install it)."""
    backend_timeout_seconds: int = MIN_BACKEND_TIMEOUT_SECONDS
    """Load balancer backend timeout: the longest a response may stream (≥ 300)."""
    backend_logging: bool = True
    """Load balancer request logs for this pool (the chart's default)."""
    health_path: str = HEALTH_PATH
    """Path the load balancer health check requests on ``target_port``."""
    picker: epp.PickerSettings = field(default_factory=epp.PickerSettings)
    """Endpoint picker replicas, size, weights, failure mode, scraping."""
    client_labels: Mapping[str, str] = field(default_factory=lambda: dict(CLIENT_LABELS))
    """Labels on the picker's pods so the model servers' NetworkPolicy lets it in."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object."""
    match_model_header: bool = True
    """Match ``X-Gateway-Model-Name`` per served name (needs the Gateway's body-based router). False: the route sends
    every request on the Gateway to this pool — one model per Gateway, and no per-adapter priority."""


def _gateway_problems(args: ModelPoolArgs) -> list[Problem]:
    ref = args.gateway.ref if isinstance(args.gateway, InferenceGateway) else args.gateway
    if is_plain(ref.namespace) and is_plain(args.namespace) and ref.namespace != args.namespace and (
        not ref.allows_other_namespaces
    ):
        return [Problem("gateway", f"the Gateway '{ref.name}' accepts routes from its own namespace "
                                   f"'{ref.namespace}' only; this pool lives in '{args.namespace}': set the "
                                   "Gateway's allowed_routes to All, or put both in one namespace")]
    return []


def _object_name_clashes(pool: str, args: ModelPoolArgs) -> list[Problem]:
    """Two different served names whose objective objects would share a name (``objective_name``)."""
    seen: dict[str, str] = {objective_name(pool, args.served_model_name): args.served_model_name}
    problems = []
    for adapter in args.adapters:
        name = objective_name(pool, adapter)
        if name in seen and seen[name] != adapter:
            problems.append(Problem(f"adapters.{adapter}", f"'{adapter}' and '{seen[name]}' both become the object "
                                                           f"name '{name}'; rename one"))
        seen.setdefault(name, adapter)
    return problems


def _priority_problems(args: ModelPoolArgs) -> list[Problem]:
    problems = []
    priorities = {"priority": args.priority, **{f"adapters.{n}": p for n, p in args.adapters.items()}}
    for path, priority in priorities.items():
        if priority is not None and not INT32[0] <= priority <= INT32[1]:
            problems.append(Problem(path, f"{priority} is outside int32 (InferenceObjective spec.priority)"))
    prioritized = [p for p in priorities.values() if p is not None]
    if not args.match_model_header:
        problems += [Problem(f"adapters.{n}", "a priority per adapter needs the route to match the model name: set "
                                              "{match_model_header} (body-based routing on the Gateway)")
                     for n, p in args.adapters.items() if p is not None]
    if prioritized and args.objective_crd is None:
        problems.append(Problem("objective_crd", "a priority is set but no InferenceObjectiveCrd is given: GKE "
                                                 "installs only GA CRDs, so pass the InferenceObjectiveCrd component"))
    if len(prioritized) > MAX_PRIORITIZED:
        problems.append(Problem("adapters", f"{len(prioritized)} names have a priority; one HTTPRoute holds at most "
                                            f"{MAX_PRIORITIZED} (16 rules)"))
    return problems


def validate_model_pool_args(args: ModelPoolArgs, name: str = "model") -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, selector, image pin, adapters, priorities, timeout."""
    problems = type_problems(args, ModelPoolArgs)
    if problems:
        return problems
    pool = args.name or name
    problems = service_name("name", pool, "pool name (the component name when name is unset)")
    if not problems and len(picker_name(pool)) > 63:
        problems.append(Problem("name", f"'{pool}' is too long: the picker Service '{picker_name(pool)}' must be "
                                        "≤ 63 characters"))
    problems += namespace_name("namespace", args.namespace) + pinned_image("picker_image", args.picker_image)
    problems += label_selector("selector_labels", args.selector_labels, "the InferencePool")
    problems += kubernetes_labels("selector_labels", dict(args.selector_labels))
    problems += kubernetes_labels("client_labels", dict(args.client_labels))
    problems += kubernetes_labels("labels", dict(args.labels))
    if not args.served_model_name:
        problems.append(Problem("served_model_name", "empty: the route matches the model's served name"))
    if not 1 <= args.target_port <= 65535:
        problems.append(Problem("target_port", f"{args.target_port} is not a port (1–65535)"))
    if not args.health_path.startswith("/"):
        problems.append(Problem("health_path", f"'{args.health_path}' must start with '/'"))
    problems += adapter_name_problems("adapters", args.adapters, base_name=args.served_model_name)
    problems += _object_name_clashes(pool, args)
    if len(args.adapters) + 1 > MAX_SERVED_NAMES:
        problems.append(Problem("adapters", f"{len(args.adapters)} adapters; one route matches at most "
                                            f"{MAX_SERVED_NAMES} names including the base model"))
    problems += _priority_problems(args) + _gateway_problems(args)
    problems += at_least("backend_timeout_seconds", args.backend_timeout_seconds, MIN_BACKEND_TIMEOUT_SECONDS,
                         "a long generation streams for minutes; the load balancer cuts responses at this timeout")
    if args.backend_timeout_seconds > MAX_BACKEND_TIMEOUT_SECONDS:
        problems.append(Problem("backend_timeout_seconds", f"at most {MAX_BACKEND_TIMEOUT_SECONDS} (GCPBackendPolicy)"))
    problems += epp.picker_settings_problems("picker.", args.picker)
    return problems


def picker_name(pool: str) -> str:
    """Name of the picker's Deployment, Service, ServiceAccount and ConfigMap."""
    return f"{pool}-epp"


def objective_name(pool: str, served_name: str) -> str:
    """A DNS-1123 name for the objective of ``served_name`` in ``pool``: ``<pool>-<slug>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", served_name.lower()).strip("-") or "model"
    return f"{pool}-{slug}"[:253].rstrip("-")


def route_rules(pool: str, served: Mapping[str, str | None], match_header: bool = True) -> list[dict[str, Any]]:
    """HTTPRoute rules: one per name with an objective (setting the objective header), one for the rest
    (removing it); every rule matches ``X-Gateway-Model-Name`` exactly and forwards to the pool. Without
    ``match_header`` one rule matches every path (the first name's objective, if any, applies to all)."""
    backend = [{"group": INFERENCE_GROUP, "kind": "InferencePool", "name": pool}]
    if not match_header:
        objective = next(iter(served.values()), None)
        modifier: dict[str, Any] = {"remove": [OBJECTIVE_HEADER, LEGACY_OBJECTIVE_HEADER]} if objective is None else {
            "set": [{"name": OBJECTIVE_HEADER, "value": objective}], "remove": [LEGACY_OBJECTIVE_HEADER]}
        return [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": modifier}],
                 "backendRefs": backend}]

    def match(served_name: str) -> dict[str, Any]:
        return {"path": {"type": "PathPrefix", "value": "/"},
                "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": served_name}]}

    rules = []
    plain = [n for n, objective in served.items() if objective is None]
    if plain:
        rules.append({
            "matches": [match(n) for n in plain],
            "filters": [{"type": "RequestHeaderModifier",
                         "requestHeaderModifier": {"remove": [OBJECTIVE_HEADER, LEGACY_OBJECTIVE_HEADER]}}],
            "backendRefs": backend,
        })
    for served_name, objective in served.items():
        if objective is not None:
            rules.append({
                "matches": [match(served_name)],
                "filters": [{"type": "RequestHeaderModifier",
                             "requestHeaderModifier": {"set": [{"name": OBJECTIVE_HEADER, "value": objective}],
                                                       "remove": [LEGACY_OBJECTIVE_HEADER]}}],
                "backendRefs": backend,
            })
    return rules


class ModelPool(pulumi.ComponentResource):
    """One model (and its LoRA adapters) behind the Inference Gateway. Pass an explicit Kubernetes provider in
    ``opts``."""

    pool_name: str
    picker_service: str
    served_names: list[str]
    inference_pool: k8s.apiextensions.CustomResource
    objectives: dict[str, str]
    """Served name → InferenceObjective name, for the names with a priority."""

    def __init__(self, name: str, args: ModelPoolArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("ModelPool", name, validate_model_pool_args(args, name))
        super().__init__(TYPE_TOKEN, name, {}, opts)
        self.pool_name = pool = args.name or name
        self.picker_service = picker = picker_name(pool)
        priorities = {args.served_model_name: args.priority, **dict(args.adapters)}
        self.served_names = list(priorities)
        self.objectives = {n: objective_name(pool, n) for n, p in priorities.items() if p is not None}
        self._labels = {"app.kubernetes.io/part-of": "inference-gateway", "gke-inference/pool": pool, **args.labels}
        self._args = args

        picker_selector = {"app.kubernetes.io/name": "llm-d-router-epp", "app.kubernetes.io/instance": picker}
        service = self._picker(name, args, picker_selector, opts)
        self.inference_pool = k8s.apiextensions.CustomResource(
            f"{name}-inferencepool",
            api_version=INFERENCE_POOL_API_VERSION,
            kind="InferencePool",
            metadata=self._meta(pool),
            spec={
                "selector": {"matchLabels": dict(args.selector_labels)},
                "targetPorts": [{"number": args.target_port}],
                "endpointPickerRef": {"name": picker, "port": {"number": EPP_EXT_PROC_PORT},
                                      "failureMode": args.picker.failure_mode},
            },
            opts=child_options(self, opts, depends_on=[service]),
        )
        after_pool = child_options(self, opts, depends_on=[self.inference_pool])
        k8s.apiextensions.CustomResource(
            f"{name}-healthcheck",
            api_version=GKE_NETWORKING_API_VERSION,
            kind="HealthCheckPolicy",
            metadata=self._meta(pool),
            spec={
                "targetRef": {"group": INFERENCE_GROUP, "kind": "InferencePool", "name": pool},
                "default": {
                    "timeoutSec": HEALTH_CHECK_TIMEOUT_SECONDS,
                    "checkIntervalSec": HEALTH_CHECK_INTERVAL_SECONDS,
                    "config": {"type": "HTTP",
                               "httpHealthCheck": {"requestPath": args.health_path, "port": args.target_port}},
                },
            },
            opts=after_pool,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-backendpolicy",
            api_version=GKE_NETWORKING_API_VERSION,
            kind="GCPBackendPolicy",
            metadata=self._meta(pool),
            spec={
                "targetRef": {"group": INFERENCE_GROUP, "kind": "InferencePool", "name": pool},
                "default": {"timeoutSec": args.backend_timeout_seconds,
                            "logging": {"enabled": args.backend_logging}},
            },
            opts=after_pool,
        )
        self._objectives(name, args, opts)
        self._route(name, args, opts)
        self.register_outputs({"poolName": pool, "pickerService": picker, "servedNames": self.served_names})

    # -- helpers ------------------------------------------------------------------------------

    def _meta(self, object_name: Any, labels: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        return {"name": object_name, "namespace": self._args.namespace, "labels": {**self._labels, **(labels or {})},
                **extra}

    def _picker(self, name: str, args: ModelPoolArgs, selector: dict[str, str],
                opts: pulumi.ResourceOptions | None) -> k8s.core.v1.Service:
        picker, ns = self.picker_service, args.namespace
        labels = {**selector, "app.kubernetes.io/component": "endpoint-picker"}
        child = child_options(self, opts)
        ksa = k8s.core.v1.ServiceAccount(f"{name}-epp-sa", metadata=self._meta(picker, labels),  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                                         opts=child)
        rbac: list[pulumi.Resource] = [ksa]
        rbac += self._role(name, "epp", picker, epp.picker_rules(), picker, labels, opts)
        if args.picker.replicas > 1:
            rbac += self._role(name, "epp-leader", f"{picker}-leader-election", epp.leader_election_rules(), picker,
                               labels, opts)
        cluster_prefix = pulumi.Output.concat(ns, "-", picker)
        rbac += self._cluster_role(name, "epp-auth", pulumi.Output.concat(cluster_prefix, "-metrics-auth"),
                                   epp.metrics_auth_rules(), picker, labels, opts)
        config = k8s.core.v1.ConfigMap(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-epp-config",
            metadata=self._meta(picker, labels),
            data={epp.CONFIG_FILE: epp.picker_config(args.picker.weights, lora=bool(args.adapters))},
            opts=child,
        )
        pod = epp.picker_pod_spec(pool_name=self.pool_name, namespace=ns, service_account=picker,
                                  config_map=picker, image=args.picker_image, settings=args.picker)
        deployment = k8s.apps.v1.Deployment(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-epp",
            metadata=self._meta(picker, labels, annotations=checkov_skip_annotations(CHECKOV_SKIPS)),
            spec={
                "replicas": args.picker.replicas,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": {**self._labels, **labels, **args.client_labels}}, "spec": pod},
            },
            opts=child_options(self, opts, depends_on=[*rbac, config]),
        )
        service = k8s.core.v1.Service(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-epp-svc", metadata=self._meta(picker, labels), spec=epp.picker_service_spec(selector),
            opts=child)
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-epp-netpol", metadata=self._meta(picker, labels),
            spec=epp.picker_network_policy_spec(selector, epp.gmp_namespace(args.picker)), opts=child)
        if args.picker.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-epp-pdb", metadata=self._meta(picker, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}}, opts=child)
        self._metrics(name, args, selector, labels, cluster_prefix, opts, [deployment])
        return service

    def _role(self, name: str, role: str, object_name: str, rules: list[dict[str, Any]], account: str,
              labels: Mapping[str, str], opts: pulumi.ResourceOptions | None,
              subject_namespace: Any = None, subject: str | None = None) -> list[pulumi.Resource]:
        """A Role and its RoleBinding in the pool's namespace (subject: ``account`` unless ``subject`` is given)."""
        child = child_options(self, opts)
        created = k8s.rbac.v1.Role(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-{role}-role", metadata=self._meta(object_name, labels), rules=rules, opts=child)
        binding = k8s.rbac.v1.RoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-{role}-rolebinding",
            metadata=self._meta(object_name, labels),
            subjects=epp.subjects(subject or account, subject_namespace or self._args.namespace),
            role_ref=epp.role_ref("Role", object_name),
            opts=child,
        )
        return [created, binding]

    def _cluster_role(self, name: str, role: str, object_name: Any, rules: list[dict[str, Any]], account: str,
                      labels: Mapping[str, str], opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
        """A ClusterRole (named after namespace and picker: cluster-wide unique) bound to ``account``."""
        child = child_options(self, opts)
        meta = {"name": object_name, "labels": {**self._labels, **labels}}
        created = k8s.rbac.v1.ClusterRole(f"{name}-{role}-clusterrole", metadata=meta,  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                                          rules=rules, opts=child)
        binding = k8s.rbac.v1.ClusterRoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-{role}-clusterrolebinding",
            metadata=meta,
            subjects=epp.subjects(account, self._args.namespace),
            role_ref=epp.role_ref("ClusterRole", object_name),
            opts=child,
        )
        return [created, binding]

    def _metrics(self, name: str, args: ModelPoolArgs, selector: dict[str, str], labels: Mapping[str, str],
                 cluster_prefix: pulumi.Output[str], opts: pulumi.ResourceOptions | None,
                 after: list[pulumi.Resource]) -> None:
        """Managed Prometheus scrapes the picker with a service-account token that may GET /metrics
        (``routerlib/templates/_gke.yaml`` @v0.10.0, field-2026-12.md §1.3)."""
        reader, secret = f"{self.picker_service}-metrics-reader", f"{self.picker_service}-metrics-token"
        child = child_options(self, opts)
        reader_sa = k8s.core.v1.ServiceAccount(f"{name}-metrics-reader-sa", metadata=self._meta(reader, labels),  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                                               opts=child)
        token = k8s.core.v1.Secret(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-metrics-token",
            metadata=self._meta(secret, labels, annotations={"kubernetes.io/service-account.name": reader}),
            type="kubernetes.io/service-account-token",
            opts=child_options(self, opts, depends_on=[reader_sa]),
        )
        grants = self._cluster_role(name, "metrics-reader", pulumi.Output.concat(cluster_prefix, "-metrics-reader"),
                                    epp.metrics_reader_rules(), reader, labels, opts)
        grants += self._role(name, "metrics-token-read", f"{secret}-read", epp.token_secret_read_rules(secret),
                             reader, labels, opts, subject_namespace=epp.gmp_namespace(args.picker),
                             subject=GMP_COLLECTOR_SERVICE_ACCOUNT)
        k8s.apiextensions.CustomResource(
            f"{name}-epp-podmonitoring",
            api_version=monitoring.API_VERSION,
            kind=monitoring.KIND,
            metadata=self._meta(self.picker_service, labels,
                                annotations=await_annotations(monitoring.READY_CONDITION)),
            spec={"selector": {"matchLabels": selector},
                  "endpoints": [epp.pod_monitoring_endpoint(args.picker.metrics_interval, secret)]},
            opts=child_options(self, opts, depends_on=[token, *grants, *after]),
        )

    def _objectives(self, name: str, args: ModelPoolArgs, opts: pulumi.ResourceOptions | None) -> None:
        priorities = {args.served_model_name: args.priority, **dict(args.adapters)}
        depends = [self.inference_pool, *([args.objective_crd] if args.objective_crd is not None else [])]
        for served_name, objective in self.objectives.items():
            k8s.apiextensions.CustomResource(
                f"{name}-objective-{objective.removeprefix(self.pool_name + '-')}",
                api_version=OBJECTIVE_API_VERSION,
                kind="InferenceObjective",
                metadata=self._meta(objective, {"gke-inference/served-name": _label_value(served_name)}),
                spec={"priority": priorities[served_name],
                      "poolRef": {"group": INFERENCE_GROUP, "kind": "InferencePool", "name": self.pool_name}},
                opts=child_options(self, opts, depends_on=depends),
            )

    def _route(self, name: str, args: ModelPoolArgs, opts: pulumi.ResourceOptions | None) -> None:
        gateway = args.gateway
        ref = gateway.ref if isinstance(gateway, InferenceGateway) else gateway
        depends: list[pulumi.Resource] = [self.inference_pool, *([gateway] if isinstance(gateway, pulumi.Resource)
                                                                  else [])]
        served = {n: self.objectives.get(n) for n in self.served_names}
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=GATEWAY_API_VERSION,
            kind="HTTPRoute",
            metadata=self._meta(self.pool_name),
            spec={
                "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": ref.name,
                                "namespace": ref.namespace}],
                "rules": route_rules(self.pool_name, served, args.match_model_header),
            },
            opts=child_options(self, opts, depends_on=depends),
        )


def _label_value(text: str) -> str:
    """A label value naming ``text`` (≤ 63 alphanumerics, '-', '_' or '.'; alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:63]
    return value.strip("-_.") or "model"
