"""The Inference Gateway stack rules: every InferencePool has a health check on a real path, a backend policy with a
long timeout, and a deployed, pinned endpoint picker. Objects are fed to the policy directly (no render)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs

from policy.kubernetes import GATEWAY_STACK_RULES
from policy.model import Violation
from policy.pack import build_policies
from policy.rules import check_stack
from tests.policy.conftest import DIGEST, GOOD_DEPLOYMENT, resource

POOL: dict[str, Any] = {
    "apiVersion": "inference.networking.k8s.io/v1",
    "kind": "InferencePool",
    "metadata": {"name": "qwen", "namespace": "llm"},
    "spec": {
        "selector": {"matchLabels": {"app": "vllm"}},
        "targetPorts": [{"number": 8000}],
        "endpointPickerRef": {"name": "qwen-epp", "port": {"number": 9002}, "failureMode": "FailOpen"},
    },
}
TARGET = {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen"}
HEALTH_CHECK: dict[str, Any] = {
    "apiVersion": "networking.gke.io/v1",
    "kind": "HealthCheckPolicy",
    "metadata": {"name": "qwen", "namespace": "llm"},
    "spec": {"targetRef": TARGET,
             "default": {"config": {"type": "HTTP", "httpHealthCheck": {"requestPath": "/health", "port": 8000}}}},
}
BACKEND_POLICY: dict[str, Any] = {
    "apiVersion": "networking.gke.io/v1",
    "kind": "GCPBackendPolicy",
    "metadata": {"name": "qwen", "namespace": "llm"},
    "spec": {"targetRef": TARGET, "default": {"timeoutSec": 300, "logging": {"enabled": True}}},
}
PICKER_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "qwen-epp", "namespace": "llm"},
    "spec": {"selector": {"app": "qwen-epp"}, "ports": [{"name": "grpc-ext-proc", "port": 9002}]},
}
PICKER: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "qwen-epp", "namespace": "llm"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "qwen-epp"}},
        "template": {"metadata": {"labels": {"app": "qwen-epp"}}, "spec": {"containers": [{
            "name": "epp",
            "image": f"ghcr.io/llm-d/llm-d-router-endpoint-picker@{DIGEST}",
            "ports": [{"name": "grpc", "containerPort": 9002}],
            "resources": {"requests": {"cpu": "8", "memory": "8Gi"}, "limits": {"memory": "16Gi"}},
            "readinessProbe": {"grpc": {"port": 9003}},
            "livenessProbe": {"grpc": {"port": 9003}},
        }]}},
    },
}
OBJECTS = {"qwen": POOL, "qwen-healthcheck": HEALTH_CHECK, "qwen-backendpolicy": BACKEND_POLICY,
           "qwen-epp-svc": PICKER_SERVICE, "qwen-epp": PICKER}
POOL_ID = "InferencePool/llm/qwen"


def stack(**replace: Any) -> list[dict[str, Any]]:
    """The good gateway objects as resources.json entries; ``replace[name] = None`` drops one, a dict replaces it."""
    objects = {**OBJECTS, **{k.replace("_", "-"): v for k, v in replace.items()}}
    return [resource(f"kubernetes:{o['apiVersion']}:{o['kind']}", name, o) for name, o in objects.items() if o]


def changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with a dotted path set (``value`` None deletes it)."""
    obj = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return obj


def test_good_gateway_objects_pass_every_rule():
    assert check_stack(stack()) == []


def test_inference_pool_without_health_check_policy_is_a_violation():
    violations = check_stack(stack(qwen_healthcheck=None))
    assert violations == [Violation(
        "k8s-inference-pool-health-check", POOL_ID, "HealthCheckPolicy",
        "no HealthCheckPolicy targets this InferencePool: the load balancer would probe GET / (404) and answer every "
        "request 503; add one probing /health on the model server port")]


@pytest.mark.parametrize("path,value,message", [
    ("spec.default.config.httpHealthCheck.requestPath", "/",
     "httpHealthCheck.requestPath is '/', which vLLM answers 404: probe /health"),
    ("spec.default.config.httpHealthCheck.requestPath", None,
     "httpHealthCheck.requestPath is '/', which vLLM answers 404: probe /health"),
    ("spec.default.config.type", "TCP",
     "config.type is 'TCP'; probe the model server's health endpoint over HTTP (or gRPC)"),
])
def test_health_check_that_probes_root_or_tcp_is_a_violation(path, value, message):
    violations = check_stack(stack(qwen_healthcheck=changed(HEALTH_CHECK, path, value)))
    assert violations == [Violation("k8s-inference-pool-health-check", POOL_ID,
                                    "HealthCheckPolicy.spec.default.config", message)]


@pytest.mark.parametrize("path,value", [
    ("spec.targetRef.name", "other-pool"),
    ("spec.targetRef.group", "inference.networking.x-k8s.io"),
    ("metadata.namespace", "elsewhere"),
])
def test_health_check_for_another_pool_group_or_namespace_does_not_count(path, value):
    rules = [v.rule for v in check_stack(stack(qwen_healthcheck=changed(HEALTH_CHECK, path, value)))]
    assert rules == ["k8s-inference-pool-health-check"]


@pytest.mark.parametrize("timeout", [30, None])
def test_backend_policy_timeout_below_300_or_unset_is_a_violation(timeout):
    policy = changed(BACKEND_POLICY, "spec.default.timeoutSec", timeout)
    assert check_stack(stack(qwen_backendpolicy=policy)) == [Violation(
        "k8s-inference-pool-backend-policy", POOL_ID, "GCPBackendPolicy.spec.default.timeoutSec",
        f"is {timeout!r}; set ≥ 300 s so long generations are not cut off")]


def test_inference_pool_without_backend_policy_is_a_violation():
    (violation,) = check_stack(stack(qwen_backendpolicy=None))
    assert (violation.rule, violation.resource, violation.field) == (
        "k8s-inference-pool-backend-policy", POOL_ID, "GCPBackendPolicy")


def test_unpinned_picker_image_is_a_violation_naming_the_picker():
    picker = copy.deepcopy(PICKER)
    picker["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/llm-d/llm-d-router-endpoint-picker:main"
    violations = [v for v in check_stack(stack(qwen_epp=picker)) if v.rule == "k8s-inference-pool-picker-pinned"]
    assert violations == [Violation(
        "k8s-inference-pool-picker-pinned", POOL_ID,
        "Deployment/qwen-epp.spec.template.spec.containers[0].image",
        "picker image 'ghcr.io/llm-d/llm-d-router-endpoint-picker:main' is not pinned by digest; use "
        "NAME@sha256:<64 hex>")]


def test_missing_picker_service_or_workload_is_a_violation():
    (no_service,) = check_stack(stack(qwen_epp_svc=None))
    assert (no_service.rule, no_service.field) == ("k8s-inference-pool-picker-pinned", "spec.endpointPickerRef.name")
    assert "no Service 'qwen-epp' in llm" in no_service.message
    (no_workload,) = check_stack(stack(qwen_epp=None))
    assert "no Deployment behind Service 'qwen-epp'" in no_workload.message


def test_a_pool_without_picker_ref_is_not_checked_for_a_picker():
    pool = changed(POOL, "spec.endpointPickerRef", None)
    assert check_stack(stack(qwen=pool, qwen_epp=None, qwen_epp_svc=None)) == []


def test_stacks_without_inference_pools_raise_nothing():
    for _, check in GATEWAY_STACK_RULES.values():
        assert check([GOOD_DEPLOYMENT, PICKER_SERVICE, PICKER]) == []


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])


def test_crossguard_stack_policy_reports_the_missing_health_check():
    policy = next(p for p in build_policies() if p.name == "k8s-inference-pool-health-check")
    resources = [PolicyResource(r["type"], r["inputs"], f"urn:{r['name']}", r["name"], _opts(), None, None, [], {})
                 for r in stack(qwen_healthcheck=None)]
    reported: list[str] = []
    policy.validate(StackValidationArgs(resources, None), lambda message, urn=None: reported.append(message))
    assert reported == [f"{POOL_ID}: HealthCheckPolicy: no HealthCheckPolicy targets this InferencePool: the load "
                        "balancer would probe GET / (404) and answer every request 503; add one probing /health on "
                        "the model server port"]


GATEWAY_RULE_CASES = {
    "k8s-inference-pool-health-check": test_inference_pool_without_health_check_policy_is_a_violation,
    "k8s-inference-pool-backend-policy": test_inference_pool_without_backend_policy_is_a_violation,
    "k8s-inference-pool-picker-pinned": test_unpinned_picker_image_is_a_violation_naming_the_picker,
}
"""Each gateway stack rule and the test that makes it fire (``test_rules.test_every_rule_has_a_bad_case``)."""


def test_every_gateway_rule_has_a_case():
    assert set(GATEWAY_RULE_CASES) == set(GATEWAY_STACK_RULES)
