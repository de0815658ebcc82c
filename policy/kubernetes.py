"""Rules on Kubernetes objects (the recorded inputs of ``kubernetes:*`` resources are the manifests).

Resource rules look at one object; ``replicated_serving_has_pdb`` looks at the whole stack, since a
PodDisruptionBudget is a separate object that has to select the serving pods.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy.model import Finding, Rule, Violation, get

# Kinds whose pods serve traffic for as long as they run (probes make sense there).
SERVING_KINDS = ("Deployment", "StatefulSet", "LeaderWorkerSet", "DaemonSet")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Env var names that hold credentials: a secret-ish last word (HF_TOKEN, VLLM_API_KEY, DB_PASSWORD...).
SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)$")
# Values that are credentials whatever the name: HF, OpenAI-style, AWS and GitHub tokens, PEM keys,
# and the render's own mask (a masked literal means a real secret went into the manifest).
SECRET_VALUE = re.compile(
    r"^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|\[secret\])$"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
SECRET_FLAGS = ("--api-key", "--hf-token")
_ENV_REF = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_]*\)$")


def is_kubernetes(resource_type: str) -> bool:
    """A Kubernetes object (not a provider, Helm chart or YAML component)."""
    return resource_type.startswith("kubernetes:") and not resource_type.startswith(
        ("kubernetes:helm", "kubernetes:yaml", "pulumi:providers")
    )


def pod_specs(obj: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(path, podSpec)`` for every pod template of an object (Pod, workloads, CronJob, LWS)."""
    kind = obj.get("kind")
    if kind == "Pod":
        candidates = ["spec"]
    elif kind == "CronJob":
        candidates = ["spec.jobTemplate.spec.template.spec"]
    elif kind == "LeaderWorkerSet":
        candidates = ["spec.leaderWorkerTemplate.leaderTemplate.spec", "spec.leaderWorkerTemplate.workerTemplate.spec"]
    else:
        candidates = ["spec.template.spec"]
    for path in candidates:
        spec = get(obj, path)
        if isinstance(spec, Mapping) and "containers" in spec:
            yield path, spec


def containers(obj: Mapping[str, Any], include_init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(path, container)`` for each container (and init/ephemeral container) of an object."""
    groups = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    for path, spec in pod_specs(obj):
        for group in groups:
            for index, container in enumerate(spec.get(group) or []):
                yield f"{path}.{group}[{index}]", container


def no_privileged(_: str, obj: Mapping[str, Any]) -> list[Finding]:
    """No privileged containers (they own the node, GPUs included)."""
    return [
        Finding(f"{path}.securityContext.privileged", f"container {c.get('name')!r} is privileged; remove it "
                "(GPU access comes from the nvidia.com/gpu resource, not privilege)")
        for path, c in containers(obj)
        if get(c, "securityContext.privileged") is True
    ]


def serving_resources_and_probes(_: str, obj: Mapping[str, Any]) -> list[Finding]:
    """Serving containers (long-running kinds, with ports) set requests, limits, readiness and liveness."""
    if obj.get("kind") not in SERVING_KINDS:
        return []
    findings = []
    for path, c in containers(obj, include_init=False):
        name = c.get("name")
        for part in ("requests", "limits"):
            if not get(c, f"resources.{part}"):
                findings.append(Finding(f"{path}.resources.{part}", f"container {name!r} sets no resource {part}; "
                                        "set cpu/memory (and nvidia.com/gpu on GPU containers)"))
        if c.get("ports"):
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    findings.append(Finding(f"{path}.{probe}", f"serving container {name!r} has no {probe}; "
                                            "probe the server's health endpoint"))
    return findings


def images_pinned_by_digest(_: str, obj: Mapping[str, Any]) -> list[Finding]:
    """Every image is pinned by digest, so a node pulls exactly what was reviewed (and cached on the SBD)."""
    return [
        Finding(f"{path}.image", f"image {c.get('image')!r} is not pinned by digest; use NAME@sha256:<64 hex>")
        for path, c in containers(obj)
        if not DIGEST.search(str(c.get("image") or ""))
    ]


def hpa_behavior(_: str, obj: Mapping[str, Any]) -> list[Finding]:
    """Autoscalers set explicit scale-up and scale-down behavior (GPU pods take minutes to start)."""
    kind = obj.get("kind")
    if kind == "HorizontalPodAutoscaler":
        path = "spec.behavior"
    elif kind == "ScaledObject":
        path = "spec.advanced.horizontalPodAutoscalerConfig.behavior"
    else:
        return []
    return [
        Finding(f"{path}.{direction}", f"{kind} {get(obj, 'metadata.name')!r} sets no {direction} behavior; set "
                "policies and stabilizationWindowSeconds (the 300 s default scale-down window is not a decision)")
        for direction in ("scaleUp", "scaleDown")
        if not get(obj, f"{path}.{direction}")
    ]


def _secret_flag_values(args: Sequence[Any]) -> Iterator[tuple[int, str, str]]:
    args = [str(a) for a in args]
    for index, arg in enumerate(args):
        for flag in SECRET_FLAGS:
            if arg.startswith(flag + "="):
                yield index, flag, arg.split("=", 1)[1]
            elif arg == flag and index + 1 < len(args):
                yield index + 1, flag, args[index + 1]


def no_secret_literals(_: str, obj: Mapping[str, Any]) -> list[Finding]:
    """Credentials come from Secrets (valueFrom / $(VAR)), never as literals in env values or args."""
    findings = []
    for path, c in containers(obj):
        for index, env in enumerate(c.get("env") or []):
            value = env.get("value")
            if value is None or value == "":
                continue
            name = str(env.get("name", ""))
            if SECRET_NAME.search(name.upper()) or SECRET_VALUE.search(str(value)):
                findings.append(Finding(f"{path}.env[{index}].value", f"{name} holds a literal that looks like a "
                                        "secret; use valueFrom.secretKeyRef"))
        for field in ("command", "args"):
            for index, flag, value in _secret_flag_values(c.get(field) or []):
                if not _ENV_REF.match(value):
                    findings.append(Finding(f"{path}.{field}[{index}]", f"{flag} is given a literal; pass "
                                            f"{flag}=$(ENV_VAR) with the variable from a secretKeyRef"))
    return findings


# -- stack level: PodDisruptionBudgets -----------------------------------------------------------


def _namespace(obj: Mapping[str, Any]) -> str:
    return get(obj, "metadata.namespace", "default")


def _template_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    if obj.get("kind") == "LeaderWorkerSet":
        return dict(get(obj, "spec.leaderWorkerTemplate.workerTemplate.metadata.labels", {}))
    return dict(get(obj, "spec.template.metadata.labels", {}))


def _max_replicas(obj: Mapping[str, Any], autoscalers: list[Mapping[str, Any]]) -> int:
    """Most replicas an object can run: its own count, or the max of an autoscaler targeting it."""
    most = int(get(obj, "spec.replicas", 1))
    name, kind, namespace = get(obj, "metadata.name"), obj.get("kind"), _namespace(obj)
    for scaler in autoscalers:
        target = get(scaler, "spec.scaleTargetRef", {})
        if _namespace(scaler) != namespace or target.get("name") != name:
            continue
        if scaler.get("kind") == "ScaledObject":
            if target.get("kind", "Deployment") == kind:
                most = max(most, int(get(scaler, "spec.maxReplicaCount", 100)))
        elif target.get("kind") == kind:
            most = max(most, int(get(scaler, "spec.maxReplicas", 1)))
    return most


def _pdb_covers(pdb: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    selector = get(pdb, "spec.selector.matchLabels", {})
    labels = _template_labels(obj)
    same_namespace = _namespace(pdb) == _namespace(obj)
    return bool(selector) and same_namespace and all(labels.get(k) == v for k, v in selector.items())


def replicated_serving_has_pdb(objects: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Every serving workload that can run more than one replica has a PDB selecting its pods.

    ``objects`` are Kubernetes manifests (dicts with apiVersion/kind/metadata). Serving = a
    Deployment, StatefulSet or LeaderWorkerSet with a container port.
    """
    autoscalers = [o for o in objects if o.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject")]
    pdbs = [o for o in objects if o.get("kind") == "PodDisruptionBudget"]
    violations = []
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "StatefulSet", "LeaderWorkerSet"):
            continue
        if not any(c.get("ports") for _, c in containers(obj, include_init=False)):
            continue
        if _max_replicas(obj, autoscalers) <= 1 or any(_pdb_covers(p, obj) for p in pdbs):
            continue
        name = f"{obj.get('kind')}/{_namespace(obj)}/{get(obj, 'metadata.name')}"
        violations.append(Violation(
            "k8s-pdb-for-replicated-serving", name, "PodDisruptionBudget",
            "can run more than one replica but no PodDisruptionBudget in its namespace selects its pod labels "
            f"{_template_labels(obj)}; add one (e.g. maxUnavailable: 1) so node upgrades don't drain every replica",
        ))
    return violations



# -- stack level: GKE Inference Gateway ----------------------------------------------------------------

INFERENCE_GROUP = "inference.networking.k8s.io"
MIN_BACKEND_TIMEOUT_SECONDS = 300
"""llm-d-router v0.10.0 ``llm-d-router-gateway/templates/gke.yaml``: ``GCPBackendPolicy`` ``timeoutSec: 300``;
generations stream for minutes and the load balancer cuts a response at this timeout (workloads/gateway)."""
HEALTHY_CHECK_TYPES = ("HTTP", "HTTPS", "HTTP2", "GRPC")


def _pool_name(pool: Mapping[str, Any]) -> str:
    return f"InferencePool/{_namespace(pool)}/{get(pool, 'metadata.name')}"


def _policies_for(pool: Mapping[str, Any], objects: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """``kind`` policies whose ``targetRef`` is this InferencePool (a targetRef namespace, if any, must match)."""
    name, namespace = get(pool, "metadata.name"), _namespace(pool)
    found = []
    for obj in objects:
        ref = get(obj, "spec.targetRef", {})
        if (obj.get("kind") == kind and _namespace(obj) == namespace and ref.get("kind") == "InferencePool"
                and ref.get("group") == INFERENCE_GROUP and ref.get("name") == name
                and ref.get("namespace", namespace) == namespace):
            found.append(obj)
    return found


def _health_check_problem(policy: Mapping[str, Any]) -> str | None:
    """Why a HealthCheckPolicy does not keep the pool's backends healthy (None when it does)."""
    check_type = get(policy, "spec.default.config.type")
    if check_type not in HEALTHY_CHECK_TYPES:
        return f"config.type is {check_type!r}; probe the model server's health endpoint over HTTP (or gRPC)"
    if check_type == "GRPC":
        return None
    key = {"HTTP": "httpHealthCheck", "HTTPS": "httpsHealthCheck", "HTTP2": "http2HealthCheck"}[check_type]
    path = get(policy, f"spec.default.config.{key}.requestPath", "/")
    if path == "/":
        return f"{key}.requestPath is '/', which vLLM answers 404: probe /health"
    return None


def inference_pools_have_health_checks(objects: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Every InferencePool has a HealthCheckPolicy probing a real health path: without one GKE's load balancer
    probes ``GET /``, vLLM answers 404, every backend goes UNHEALTHY and every request gets 503
    (../shared/reference/field-2026-12.md §1.3; GAIE PRs #1475, #633)."""
    violations = []
    for pool in (o for o in objects if o.get("kind") == "InferencePool"):
        policies = _policies_for(pool, objects, "HealthCheckPolicy")
        if not policies:
            violations.append(Violation(
                "k8s-inference-pool-health-check", _pool_name(pool), "HealthCheckPolicy",
                "no HealthCheckPolicy targets this InferencePool: the load balancer would probe GET / (404) and "
                "answer every request 503; add one probing /health on the model server port"))
        for policy in policies:
            problem = _health_check_problem(policy)
            if problem:
                violations.append(Violation("k8s-inference-pool-health-check", _pool_name(pool),
                                            "HealthCheckPolicy.spec.default.config", problem))
    return violations


def inference_pools_have_backend_policies(objects: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Every InferencePool has a GCPBackendPolicy with ``timeoutSec`` ≥ 300: the backend service timeout is 30 s by
    default (https://cloud.google.com/load-balancing/docs/https#timeout-bes, as quoted by gcpdiag rule lb/BP/2025_002),
    far too short for a streamed generation."""
    violations = []
    for pool in (o for o in objects if o.get("kind") == "InferencePool"):
        policies = _policies_for(pool, objects, "GCPBackendPolicy")
        if not policies:
            violations.append(Violation(
                "k8s-inference-pool-backend-policy", _pool_name(pool), "GCPBackendPolicy",
                f"no GCPBackendPolicy targets this InferencePool: add one with timeoutSec ≥ "
                f"{MIN_BACKEND_TIMEOUT_SECONDS} so long generations are not cut off"))
        for policy in policies:
            timeout = get(policy, "spec.default.timeoutSec")
            if not isinstance(timeout, (int, float)) or timeout < MIN_BACKEND_TIMEOUT_SECONDS:
                violations.append(Violation(
                    "k8s-inference-pool-backend-policy", _pool_name(pool), "GCPBackendPolicy.spec.default.timeoutSec",
                    f"is {timeout!r}; set ≥ {MIN_BACKEND_TIMEOUT_SECONDS} s so long generations are not cut off"))
    return violations


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def inference_pool_pickers_pinned(objects: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Each InferencePool's endpoint picker exists in the stack (the Service its ``endpointPickerRef`` names and a
    workload behind it) and runs images pinned by digest: upstream's default picker image is ``:main`` with
    ``pullPolicy: Always`` (llm-d-router ``routerlib/values.yaml`` @v0.10.0), so an unpinned picker changes under a
    running pool."""
    violations = []
    for pool in (o for o in objects if o.get("kind") == "InferencePool"):
        ref = get(pool, "spec.endpointPickerRef")
        if not ref or ref.get("kind", "Service") != "Service" or ref.get("group", "") != "":
            continue  # no picker (GAIE ≥ v1.6.0 allows it) or one this rule cannot follow
        namespace, where = _namespace(pool), _pool_name(pool)
        services = [o for o in objects if o.get("kind") == "Service" and _namespace(o) == namespace
                    and get(o, "metadata.name") == ref.get("name")]
        if not services:
            violations.append(Violation("k8s-inference-pool-picker-pinned", where, "spec.endpointPickerRef.name",
                                        f"no Service {ref.get('name')!r} in {namespace}: deploy the endpoint picker "
                                        "with the pool"))
            continue
        selector = get(services[0], "spec.selector", {})
        workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet")
                     and _namespace(o) == namespace and _selects(selector, _template_labels(o))]
        if not workloads:
            violations.append(Violation("k8s-inference-pool-picker-pinned", where, "spec.endpointPickerRef.name",
                                        f"no Deployment behind Service {ref.get('name')!r} (selector {selector}): "
                                        "deploy the endpoint picker with the pool"))
        for workload in workloads:
            for path, c in containers(workload):
                if not DIGEST.search(str(c.get("image") or "")):
                    violations.append(Violation(
                        "k8s-inference-pool-picker-pinned", where,
                        f"{workload.get('kind')}/{get(workload, 'metadata.name')}.{path}.image",
                        f"picker image {c.get('image')!r} is not pinned by digest; use NAME@sha256:<64 hex>"))
    return violations


GATEWAY_STACK_RULES = {
    "k8s-inference-pool-health-check": (
        "Every InferencePool has a HealthCheckPolicy probing the model server's health path (not /).",
        inference_pools_have_health_checks,
    ),
    "k8s-inference-pool-backend-policy": (
        "Every InferencePool has a GCPBackendPolicy with timeoutSec ≥ 300.",
        inference_pools_have_backend_policies,
    ),
    "k8s-inference-pool-picker-pinned": (
        "Every InferencePool's endpoint picker is deployed with images pinned by digest.",
        inference_pool_pickers_pinned,
    ),
}
"""Stack-level rules of the GKE Inference Gateway: name → (description, check over Kubernetes manifests)."""

RULES = [
    Rule("k8s-no-privileged", "No privileged containers.", is_kubernetes, no_privileged),
    Rule("k8s-serving-resources-probes", "Serving containers set requests, limits, readiness and liveness probes.",
         is_kubernetes, serving_resources_and_probes),
    Rule("k8s-image-digest", "Container images are pinned by digest.", is_kubernetes, images_pinned_by_digest),
    Rule("k8s-hpa-behavior", "HPAs and ScaledObjects set scaleUp and scaleDown behavior.", is_kubernetes,
         hpa_behavior),
    Rule("k8s-no-secret-literals", "No credentials as literals in env values or container args.", is_kubernetes,
         no_secret_literals),
]
"""Kubernetes resource rules, in report order."""
