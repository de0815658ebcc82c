"""The endpoint picker (EPP, llm-d router) of one InferencePool: pure manifest builders and its settings.

Mirrors llm-d/llm-d-router ``config/charts/routerlib`` @v0.10.0 (``_deployment.yaml``, ``_config.yaml``,
``_service.yaml``, ``_rbac.yaml``, ``_leader-election-rbac.yaml``, ``_gke.yaml``) and the gateway chart's
``templates/rbac.yaml``. Differences, all hardening or explicitness: the image pinned by digest with
``IfNotPresent``, a restricted security context (the image runs as 65532, ``Dockerfile.epp``), a scoring
profile written out (with the LoRA affinity scorer when the pool serves adapters), and a PodDisruptionBudget
when it runs more than one replica.

High availability (``config/charts/README.md`` @v0.10.0, "High Availability (HA) Modes"): with
``replicas > 1`` the picker runs ``--ha-enable-leader-election``: active-passive, one leader routes and
holds the prefix-cache index, the others are warm standbys that take over through a Lease. Active-active
would need only scorers without in-memory state (the approximate prefix-cache scorer keeps one), so it is
not offered. The Deployment uses ``Recreate`` as upstream does ("the rolling update strategy would prevent
the old leader being killed"). One replica is upstream's default; two buy a fast failover for 8 more CPUs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from infra.validation import Problem, kubernetes_labels, one_of
from workloads.arg_rules import at_least
from workloads.gateway.upstream import (
    EPP_CONFIG_API_VERSION,
    EPP_CPU,
    EPP_EXT_PROC_PORT,
    EPP_HEALTH_PORT,
    EPP_MEMORY,
    EPP_MEMORY_LIMIT,
    EPP_METRICS_PORT,
    EPP_TERMINATION_GRACE_SECONDS,
    GMP_AUTOPILOT_NAMESPACE,
    GMP_NAMESPACE,
    INFERENCE_GROUP,
    METRICS_INTERVAL,
    OBJECTIVE_GROUP,
)
from workloads.monitoring import duration_seconds
from workloads.pod_security import container_security_context, pod_security_context

RUN_AS_USER = 65532
"""``USER 65532:65532`` of ``Dockerfile.epp`` @v0.10.0."""
CONFIG_FILE = "epp-config.yaml"
CONFIG_MOUNT = "/config"
FAILURE_MODES = ("FailOpen", "FailClose")
"""InferencePool ``endpointPickerRef.failureMode`` enum (GAIE v1.6.0 CRD). The chart's default is FailOpen
(``routerlib/values.yaml``: ``inferencePool.failureMode``): with the picker down the load balancer still reaches
the pods, without load awareness."""
LEGACY_OBJECTIVE_GROUP = "inference.networking.x-k8s.io"
"""The picker still reads objectives under the pre-move group; the chart grants both
(``llm-d-router-gateway/templates/rbac.yaml`` @v0.10.0)."""


@dataclass(frozen=True)
class ScorerWeights:
    """Weights of the picker's scorers in its one scheduling profile (``max-score-picker`` picks the best)."""

    queue: int = 2
    """``queue-scorer``: fewer waiting requests score higher (chart default weight 2)."""
    kv_cache: int = 2
    """``kv-cache-utilization-scorer``: more free KV cache scores higher (chart default 2)."""
    prefix_cache: int = 3
    """``prefix-cache-scorer``: longer approximate prefix match scores higher (chart default 3)."""
    lora_affinity: int = 1
    """``lora-affinity-scorer`` (Beta, no parameters): 1.0 adapter loaded, 0.8 room to load it, 0.6 waiting, 0 full
    (``pkg/epp/framework/plugins/scheduling/scorer/loraaffinity/README.md`` @v0.10.0; README example weight 1).
    Only in the profile when the pool serves adapters."""


@dataclass(frozen=True)
class PickerSettings:
    """How the endpoint picker runs; defaults are llm-d-router v0.10.0's chart defaults."""

    replicas: int = 1
    """1 (upstream default) or more: leader election, active-passive (module docstring)."""
    cpu: str = EPP_CPU
    """CPU request (no CPU limit, as upstream: bursts go unthrottled)."""
    memory: str = EPP_MEMORY
    """Memory request."""
    memory_limit: str = EPP_MEMORY_LIMIT
    """Memory limit."""
    failure_mode: Literal["FailOpen", "FailClose"] = "FailOpen"
    """What the load balancer does when the picker does not answer."""
    weights: ScorerWeights = field(default_factory=ScorerWeights)
    """Scorer weights."""
    metrics_interval: str = METRICS_INTERVAL
    """How often Managed Prometheus scrapes the picker."""
    autopilot: bool = False
    """The GMP collector runs in ``gke-gmp-system`` on Autopilot, ``gmp-system`` on Standard."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Where the picker runs: CPU nodes with ≥ 8 vCPU free (it will not fit an e2-medium)."""
    tolerations: tuple[Mapping[str, str], ...] = ()
    """Picker tolerations."""


def picker_settings_problems(path: str, settings: PickerSettings) -> list[Problem]:
    """Replicas, weights, failure mode, scrape interval, node selector."""
    problems = at_least(f"{path}replicas", settings.replicas, 1)
    for weight in ("queue", "kv_cache", "prefix_cache", "lora_affinity"):
        problems += at_least(f"{path}weights.{weight}", getattr(settings.weights, weight), 0)
    problems += one_of(f"{path}failure_mode", settings.failure_mode, FAILURE_MODES)
    try:
        duration_seconds(settings.metrics_interval)
    except ValueError as err:
        problems.append(Problem(f"{path}metrics_interval", str(err)))
    problems += kubernetes_labels(f"{path}node_selector", dict(settings.node_selector))
    return problems


def gmp_namespace(settings: PickerSettings) -> str:
    return GMP_AUTOPILOT_NAMESPACE if settings.autopilot else GMP_NAMESPACE


def picker_config(weights: ScorerWeights, lora: bool) -> str:
    """The ``EndpointPickerConfig`` file: the chart's default profile (queue, KV cache, prefix cache) plus LoRA
    affinity when ``lora``; scorers with weight 0 are left out. The data layer is the chart's: scrape ``/metrics``
    over http (``metrics-data-source``) and extract vLLM's queue/KV/LoRA series (``core-metrics-extractor``)."""
    scorers = [("queue-scorer", weights.queue), ("kv-cache-utilization-scorer", weights.kv_cache),
               ("prefix-cache-scorer", weights.prefix_cache)]
    if lora:
        scorers.append(("lora-affinity-scorer", weights.lora_affinity))
    scorers = [(name, weight) for name, weight in scorers if weight > 0]
    document = {
        "apiVersion": EPP_CONFIG_API_VERSION,
        "kind": "EndpointPickerConfig",
        "plugins": [
            *({"type": name} for name, _ in scorers),
            {"type": "metrics-data-source",
             "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True}},
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [
            {"name": "default", "plugins": [{"pluginRef": name, "weight": weight} for name, weight in scorers]}
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def picker_args(pool_name: str, namespace: Any, replicas: int) -> list[Any]:
    """Container args (``_deployment.yaml`` @v0.10.0, InferencePool mode)."""
    args = [
        "--pool-name", pool_name,
        "--pool-namespace", namespace,
        "--pool-group", INFERENCE_GROUP,
        "--zap-encoder", "json",
        "--config-file", f"{CONFIG_MOUNT}/{CONFIG_FILE}",
    ]  # fmt: skip
    if replicas > 1:
        args.append("--ha-enable-leader-election")
    return [*args, "--grpc-health-port", str(EPP_HEALTH_PORT), "--tracing=false"]


def _grpc_probe(service: str, **timing: int) -> dict[str, Any]:
    return {"grpc": {"port": EPP_HEALTH_PORT, "service": service}, **timing}


def picker_pod_spec(
    *,
    pool_name: str,
    namespace: Any,
    service_account: str,
    config_map: str,
    image: Any,
    settings: PickerSettings,
) -> dict[str, Any]:
    """The picker's pod spec. With leader election the probes ask the ``liveness``/``readiness`` gRPC services
    (a standby is live but not ready); alone, the ``inference-extension`` service (``_deployment.yaml``)."""
    ha = settings.replicas > 1
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "terminationGracePeriodSeconds": EPP_TERMINATION_GRACE_SECONDS,
        "securityContext": pod_security_context(RUN_AS_USER),
        "containers": [
            {
                "name": "epp",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": picker_args(pool_name, namespace, settings.replicas),
                "env": [
                    {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "ports": [
                    {"name": "grpc", "containerPort": EPP_EXT_PROC_PORT, "protocol": "TCP"},
                    {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": EPP_METRICS_PORT, "protocol": "TCP"},
                ],
                "resources": {
                    "requests": {"cpu": settings.cpu, "memory": settings.memory},
                    "limits": {"memory": settings.memory_limit},
                },
                "livenessProbe": _grpc_probe("liveness" if ha else "inference-extension",
                                             initialDelaySeconds=5, periodSeconds=10),
                "readinessProbe": _grpc_probe("readiness" if ha else "inference-extension", periodSeconds=2),
                "securityContext": container_security_context(RUN_AS_USER),
                "volumeMounts": [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
                                 {"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": config_map}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if settings.node_selector:
        spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        spec["tolerations"] = [dict(t) for t in settings.tolerations]
    return spec


def picker_service_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """The Service the InferencePool's ``endpointPickerRef`` names (``_service.yaml``): ext_proc over h2c, metrics."""
    return {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [
            {"name": "grpc-ext-proc", "protocol": "TCP", "port": EPP_EXT_PROC_PORT, "targetPort": EPP_EXT_PROC_PORT,
             "appProtocol": "kubernetes.io/h2c"},
            {"name": "http-metrics", "protocol": "TCP", "port": EPP_METRICS_PORT, "targetPort": EPP_METRICS_PORT},
        ],
    }


def picker_network_policy_spec(selector: Mapping[str, str], gmp_ns: str) -> dict[str, Any]:
    """Ingress on the ext_proc and health ports (callers: the load balancer's proxies in the proxy-only subnet and
    Google's health checkers, not pods) and on the metrics port from the Managed Prometheus collectors only."""
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"ports": [{"port": EPP_EXT_PROC_PORT, "protocol": "TCP"}, {"port": EPP_HEALTH_PORT, "protocol": "TCP"}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gmp_ns}},
                       "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}}}],
             "ports": [{"port": EPP_METRICS_PORT, "protocol": "TCP"}]},
        ],
    }


def picker_rules() -> list[dict[str, Any]]:
    """Namespaced read access: model server pods, its InferencePool, objectives and rewrites in both groups
    (``_rbac.yaml`` Role ``-sa`` + gateway chart ``rbac.yaml`` Role ``-non-sa``, merged)."""
    read = ["get", "watch", "list"]
    return [
        {"apiGroups": [""], "resources": ["pods"], "verbs": read},
        {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": read},
        {"apiGroups": [OBJECTIVE_GROUP, LEGACY_OBJECTIVE_GROUP],
         "resources": ["inferenceobjectives", "inferencemodelrewrites"], "verbs": read},
    ]


def leader_election_rules() -> list[dict[str, Any]]:
    """Leases and events for leader election (``_leader-election-rbac.yaml``, only when replicas > 1)."""
    return [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ]


def metrics_auth_rules() -> list[dict[str, Any]]:
    """The picker authenticates and authorizes every ``/metrics`` caller (``--metrics-endpoint-auth`` defaults to
    true, ``pkg/epp/server/options.go`` @v0.10.0; controller-runtime ``WithAuthenticationAndAuthorization``), so its
    own account may create TokenReviews and SubjectAccessReviews (``_rbac.yaml`` ClusterRole)."""
    return [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ]


def metrics_reader_rules() -> list[dict[str, Any]]:
    """What the scraper's token may do: GET ``/metrics`` (``_gke.yaml`` ClusterRole)."""
    return [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]


def token_secret_read_rules(secret_name: str) -> list[dict[str, Any]]:
    """The GMP collector reads only the token Secret (``_gke.yaml`` Role ``-metrics-reader-secret-read``)."""
    return [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"],
             "resourceNames": [secret_name]}]


def pod_monitoring_endpoint(interval: str, token_secret: str) -> dict[str, Any]:
    """The scrape endpoint: the ``metrics`` port with the reader's bearer token (``_gke.yaml`` PodMonitoring).
    ``interval`` is required by the PodMonitoring CRD since prometheus-engine v0.17 (stack/schemas notes)."""
    return {
        "port": "metrics",
        "scheme": "http",
        "interval": interval,
        "path": "/metrics",
        "authorization": {"type": "Bearer", "credentials": {"secret": {"name": token_secret, "key": "token"}}},
    }


def subjects(service_account: str, namespace: Any) -> list[dict[str, Any]]:
    return [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]


def role_ref(kind: Literal["Role", "ClusterRole"], name: Any) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}

