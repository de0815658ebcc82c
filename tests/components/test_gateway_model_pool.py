"""ModelPool under the recording mocks: the exact InferencePool, GKE policies, route, objectives and endpoint
picker it registers, each refusal, and every object valid against its vendored CRD and the policy pack."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from policy.rules import check_stack
from stack.checks.validate import validate_manifests
from stack.render import manifests_from
from workloads.gateway import (
    GatewayRef,
    InferenceGateway,
    InferenceGatewayArgs,
    InferenceObjectiveCrd,
    ModelPool,
    ModelPoolArgs,
    PickerSettings,
    ScorerWeights,
)

DIGEST = "sha256:" + "cd" * 32
EPP_IMAGE = f"ghcr.io/llm-d/llm-d-router-endpoint-picker@{DIGEST}"
SELECTOR = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen"}
GATEWAY = GatewayRef("inference", "serving")
BASE = ModelPoolArgs(namespace="serving", served_model_name="qwen3-8b", selector_labels=SELECTOR,
                     picker_image=EPP_IMAGE, gateway=GATEWAY)
POOL = {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen"}
PICKER_SELECTOR = {"app.kubernetes.io/name": "llm-d-router-epp", "app.kubernetes.io/instance": "qwen-epp"}
PICKER_LABELS = {"app.kubernetes.io/part-of": "inference-gateway", "gke-inference/pool": "qwen",
                 **PICKER_SELECTOR, "app.kubernetes.io/component": "endpoint-picker"}
K = "kubernetes:"
RBAC = "rbac.authorization.k8s.io/v1"


def render(recorder, args: ModelPoolArgs = BASE, *, with_crd: bool = False, with_gateway: bool = False):
    def program() -> Any:
        crd = InferenceObjectiveCrd("objectives") if with_crd else None
        gateway = (InferenceGateway("inference", InferenceGatewayArgs(
            namespace="serving", payload_processor_image=f"ghcr.io/llm-d/llm-d-inference-payload-processor@{DIGEST}"))
            if with_gateway else args.gateway)
        return ModelPool("qwen", replace(args, objective_crd=crd or args.objective_crd, gateway=gateway))
    return recorder.run(program)


def match(name: str) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": "/"},
            "headers": [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": name}]}


def test_single_model_children_and_names(recorder):
    rec = render(recorder)
    assert {(t, n) for t, n, _ in rec.tree()} == {
        ("gke-inference:workloads:ModelPool", "qwen"),
        (f"{K}inference.networking.k8s.io/v1:InferencePool", "qwen-inferencepool"),
        (f"{K}networking.gke.io/v1:HealthCheckPolicy", "qwen-healthcheck"),
        (f"{K}networking.gke.io/v1:GCPBackendPolicy", "qwen-backendpolicy"),
        (f"{K}gateway.networking.k8s.io/v1:HTTPRoute", "qwen-route"),
        (f"{K}core/v1:ServiceAccount", "qwen-epp-sa"),
        (f"{K}{RBAC}:Role", "qwen-epp-role"),
        (f"{K}{RBAC}:RoleBinding", "qwen-epp-rolebinding"),
        (f"{K}{RBAC}:ClusterRole", "qwen-epp-auth-clusterrole"),
        (f"{K}{RBAC}:ClusterRoleBinding", "qwen-epp-auth-clusterrolebinding"),
        (f"{K}core/v1:ConfigMap", "qwen-epp-config"),
        (f"{K}apps/v1:Deployment", "qwen-epp"),
        (f"{K}core/v1:Service", "qwen-epp-svc"),
        (f"{K}networking.k8s.io/v1:NetworkPolicy", "qwen-epp-netpol"),
        (f"{K}core/v1:ServiceAccount", "qwen-metrics-reader-sa"),
        (f"{K}core/v1:Secret", "qwen-metrics-token"),
        (f"{K}{RBAC}:ClusterRole", "qwen-metrics-reader-clusterrole"),
        (f"{K}{RBAC}:ClusterRoleBinding", "qwen-metrics-reader-clusterrolebinding"),
        (f"{K}{RBAC}:Role", "qwen-metrics-token-read-role"),
        (f"{K}{RBAC}:RoleBinding", "qwen-metrics-token-read-rolebinding"),
        (f"{K}monitoring.googleapis.com/v1:PodMonitoring", "qwen-epp-podmonitoring"),
    }
    assert {p for _, _, p in rec.tree()} == {None, "qwen"}


def test_inference_pool_selects_the_model_pods_and_names_its_picker(recorder):
    assert render(recorder).inputs("qwen-inferencepool")["spec"] == {
        "selector": {"matchLabels": SELECTOR},
        "targetPorts": [{"number": 8000}],
        "endpointPickerRef": {"name": "qwen-epp", "port": {"number": 9002}, "failureMode": "FailOpen"},
    }


def test_health_check_probes_health_and_backend_policy_waits_300_seconds(recorder):
    rec = render(recorder)
    assert rec.inputs("qwen-healthcheck")["spec"] == {
        "targetRef": POOL,
        "default": {"timeoutSec": 2, "checkIntervalSec": 2,
                    "config": {"type": "HTTP", "httpHealthCheck": {"requestPath": "/health", "port": 8000}}},
    }
    assert rec.inputs("qwen-backendpolicy")["spec"] == {
        "targetRef": POOL, "default": {"timeoutSec": 300, "logging": {"enabled": True}}}
    for policy in ("qwen-healthcheck", "qwen-backendpolicy"):
        assert rec.named(policy)["dependencies"] == ["qwen-inferencepool"]


def test_route_matches_the_served_name_and_strips_client_objective_headers(recorder):
    route = render(recorder).inputs("qwen-route")
    assert route["spec"] == {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference",
                        "namespace": "serving"}],
        "rules": [{
            "matches": [match("qwen3-8b")],
            "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
                "remove": ["x-llm-d-inference-objective", "x-gateway-inference-objective"]}}],
            "backendRefs": [POOL],
        }],
    }


def test_adapters_route_to_the_base_pool_and_priorities_become_objectives(recorder):
    args = replace(BASE, adapters={"sql-lora": -1, "chat-lora": None}, priority=10)
    rec = render(recorder, args, with_crd=True)
    rules = rec.inputs("qwen-route")["spec"]["rules"]
    assert rules == [
        {"matches": [match("chat-lora")],
         "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
             "remove": ["x-llm-d-inference-objective", "x-gateway-inference-objective"]}}],
         "backendRefs": [POOL]},
        {"matches": [match("qwen3-8b")],
         "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
             "set": [{"name": "x-llm-d-inference-objective", "value": "qwen-qwen3-8b"}],
             "remove": ["x-gateway-inference-objective"]}}],
         "backendRefs": [POOL]},
        {"matches": [match("sql-lora")],
         "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
             "set": [{"name": "x-llm-d-inference-objective", "value": "qwen-sql-lora"}],
             "remove": ["x-gateway-inference-objective"]}}],
         "backendRefs": [POOL]},
    ]
    objective = rec.inputs("qwen-objective-sql-lora")
    assert objective["apiVersion"] == "llm-d.ai/v1alpha2" and objective["kind"] == "InferenceObjective"
    assert objective["metadata"]["name"] == "qwen-sql-lora"
    assert objective["spec"] == {"priority": -1, "poolRef": POOL}
    assert rec.inputs("qwen-objective-qwen3-8b")["spec"] == {"priority": 10, "poolRef": POOL}
    assert [r["name"] for r in rec.resources if r["inputs"].get("kind") == "InferenceObjective"] == [
        "qwen-objective-qwen3-8b", "qwen-objective-sql-lora"]
    for name in ("qwen-objective-qwen3-8b", "qwen-objective-sql-lora"):
        assert set(rec.named(name)["dependencies"]) == {"qwen-inferencepool", "objectives-crd"}
    assert rec.value.served_names == ["qwen3-8b", "sql-lora", "chat-lora"]


def test_picker_config_scores_queue_kv_prefix_and_lora_affinity_with_adapters(recorder):
    plain = yaml.safe_load(render(recorder).inputs("qwen-epp-config")["data"]["epp-config.yaml"])
    assert plain == {
        "apiVersion": "llm-d.ai/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            {"type": "queue-scorer"}, {"type": "kv-cache-utilization-scorer"}, {"type": "prefix-cache-scorer"},
            {"type": "metrics-data-source",
             "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True}},
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [{"name": "default", "plugins": [
            {"pluginRef": "queue-scorer", "weight": 2}, {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
            {"pluginRef": "prefix-cache-scorer", "weight": 3}]}],
    }
    lora = replace(BASE, adapters={"sql-lora": None}, picker=PickerSettings(weights=ScorerWeights(prefix_cache=0)))
    config = yaml.safe_load(render(recorder, lora).inputs("qwen-epp-config")["data"]["epp-config.yaml"])
    assert config["schedulingProfiles"][0]["plugins"] == [
        {"pluginRef": "queue-scorer", "weight": 2}, {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
        {"pluginRef": "lora-affinity-scorer", "weight": 1}]


def test_picker_runs_upstream_args_size_and_probes(recorder):
    rec = render(recorder)
    deployment = rec.inputs("qwen-epp")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "--pool-name", "qwen", "--pool-namespace", "serving", "--pool-group", "inference.networking.k8s.io",
        "--zap-encoder", "json", "--config-file", "/config/epp-config.yaml",
        "--grpc-health-port", "9003", "--tracing=false",
    ]  # fmt: skip
    assert container["resources"] == {"requests": {"cpu": "8", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}
    assert container["livenessProbe"] == {"grpc": {"port": 9003, "service": "inference-extension"},
                                          "initialDelaySeconds": 5, "periodSeconds": 10}
    assert container["readinessProbe"] == {"grpc": {"port": 9003, "service": "inference-extension"},
                                           "periodSeconds": 2}
    assert container["image"] == EPP_IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert pod["terminationGracePeriodSeconds"] == 130 and pod["serviceAccountName"] == "qwen-epp"
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {**PICKER_LABELS, "gke-inference/client": "true"}
    assert rec.inputs("qwen-epp-svc")["spec"] == {
        "type": "ClusterIP", "selector": PICKER_SELECTOR,
        "ports": [{"name": "grpc-ext-proc", "protocol": "TCP", "port": 9002, "targetPort": 9002,
                   "appProtocol": "kubernetes.io/h2c"},
                  {"name": "http-metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}],
    }
    assert rec.inputs("qwen-epp-netpol")["spec"] == {
        "podSelector": {"matchLabels": PICKER_SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"ports": [{"port": 9002, "protocol": "TCP"}, {"port": 9003, "protocol": "TCP"}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}},
                       "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}}}],
             "ports": [{"port": 9090, "protocol": "TCP"}]},
        ],
    }
    assert "qwen-epp-leader-role" not in rec.names() and "qwen-epp-pdb" not in rec.names()


def test_ha_picker_elects_a_leader_with_its_rbac_and_a_pdb(recorder):
    rec = render(recorder, replace(BASE, picker=PickerSettings(replicas=2)))
    (container,) = rec.inputs("qwen-epp")["spec"]["template"]["spec"]["containers"]
    assert "--ha-enable-leader-election" in container["args"]
    assert container["readinessProbe"]["grpc"]["service"] == "readiness"
    assert container["livenessProbe"]["grpc"]["service"] == "liveness"
    assert rec.inputs("qwen-epp-leader-role")["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    assert rec.inputs("qwen-epp-pdb")["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": PICKER_SELECTOR}}


def test_picker_rbac_reads_pods_pool_and_objectives_in_both_groups(recorder):
    rec = render(recorder)
    read = ["get", "watch", "list"]
    assert rec.inputs("qwen-epp-role")["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": read},
        {"apiGroups": ["inference.networking.k8s.io"], "resources": ["inferencepools"], "verbs": read},
        {"apiGroups": ["llm-d.ai", "inference.networking.x-k8s.io"],
         "resources": ["inferenceobjectives", "inferencemodelrewrites"], "verbs": read},
    ]
    assert rec.inputs("qwen-epp-auth-clusterrole")["metadata"]["name"] == "serving-qwen-epp-metrics-auth"
    assert rec.inputs("qwen-epp-auth-clusterrole")["rules"] == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ]


def test_managed_prometheus_scrapes_the_picker_with_a_reader_token(recorder):
    rec = render(recorder)
    assert rec.inputs("qwen-metrics-token")["type"] == "kubernetes.io/service-account-token"
    assert rec.inputs("qwen-metrics-token")["metadata"]["annotations"] == {
        "kubernetes.io/service-account.name": "qwen-epp-metrics-reader"}
    assert rec.inputs("qwen-metrics-reader-clusterrole")["rules"] == [
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    assert rec.inputs("qwen-metrics-reader-clusterrolebinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "qwen-epp-metrics-reader", "namespace": "serving"}]
    assert rec.inputs("qwen-metrics-token-read-role")["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"],
         "resourceNames": ["qwen-epp-metrics-token"]}]
    assert rec.inputs("qwen-metrics-token-read-rolebinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "collector", "namespace": "gmp-system"}]
    monitoring = rec.inputs("qwen-epp-podmonitoring")
    assert monitoring["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=ConfigurationCreateSuccess"}
    assert monitoring["spec"] == {
        "selector": {"matchLabels": PICKER_SELECTOR},
        "endpoints": [{"port": "metrics", "scheme": "http", "interval": "10s", "path": "/metrics",
                       "authorization": {"type": "Bearer", "credentials": {
                           "secret": {"name": "qwen-epp-metrics-token", "key": "token"}}}}],
    }
    autopilot = render(recorder, replace(BASE, picker=PickerSettings(autopilot=True)))
    assert autopilot.inputs("qwen-metrics-token-read-rolebinding")["subjects"][0]["namespace"] == "gke-gmp-system"


def test_route_waits_for_the_gateway_component_and_the_pool(recorder):
    rec = render(recorder, with_gateway=True)
    dependencies = set(rec.named("qwen-route")["dependencies"])
    assert {"qwen-inferencepool", "inference-gateway", "inference-routing-extension"} <= dependencies


@pytest.mark.parametrize("args,with_crd", [
    (BASE, False),
    (replace(BASE, adapters={"sql-lora": 3, "chat-lora": None, "org/code-lora": -2}, priority=1,
             picker=PickerSettings(replicas=2)), True),
    (replace(BASE, backend_timeout_seconds=3600, picker=PickerSettings(failure_mode="FailClose")), False),
])
def test_every_rendered_object_validates_and_passes_the_policy_pack(recorder, args, with_crd):
    rec = render(recorder, args, with_crd=with_crd, with_gateway=True)
    manifests = manifests_from(rec.resources)
    kinds = {m["kind"] for m in manifests}
    assert {"InferencePool", "HealthCheckPolicy", "GCPBackendPolicy", "HTTPRoute", "PodMonitoring"} <= kinds
    assert ("InferenceObjective" in kinds) is with_crd
    assert validate_manifests(manifests, "1.33") == []
    assert check_stack(rec.resources) == []


@pytest.mark.parametrize("change,expected", [
    ({"backend_timeout_seconds": 30},
     [("backend_timeout_seconds", "30 must be ≥ 300 (a long generation streams for minutes; the load balancer cuts "
                                  "responses at this timeout)")]),
    ({"priority": 5},
     [("objective_crd", "a priority is set but no InferenceObjectiveCrd is given: GKE installs only GA CRDs, so pass "
                        "the InferenceObjectiveCrd component")]),
    ({"picker_image": "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"},
     [("picker_image", "'ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0' is not pinned by digest; use "
                       "NAME@sha256:<64 hex> or a resolved image (ContainerImage.ref)")]),
    ({"selector_labels": {}}, [("selector_labels", "empty; the InferencePool must select pods by label")]),
    ({"adapters": {"qwen3-8b": None}},
     [("adapters.qwen3-8b", "'qwen3-8b' is the base model's served name; give the adapter its own")]),
    ({"adapters": {"bad name": None}},
     [("adapters.bad name", "'bad name' is not a usable adapter name: 1–128 letters, digits, '.', '_', '-' or '/', "
                            "alphanumeric at both ends")]),
    ({"adapters": {"a.b": None, "a-b": None}},
     [("adapters.a-b", "'a-b' and 'a.b' both become the object name 'qwen-a-b'; rename one")]),
    ({"gateway": GatewayRef("inference", "gateways")},
     [("gateway", "the Gateway 'inference' accepts routes from its own namespace 'gateways' only; this pool lives in "
                  "'serving': set the Gateway's allowed_routes to All, or put both in one namespace")]),
    ({"picker": PickerSettings(replicas=0, failure_mode="Maybe")},  # type: ignore[arg-type]
     [("picker.failure_mode", "expected 'FailOpen' | 'FailClose', got str 'Maybe'")]),
    ({"picker": PickerSettings(replicas=0)}, [("picker.replicas", "0 must be ≥ 1")]),
    ({"priority": 2**31}, [("priority", "2147483648 is outside int32 (InferenceObjective spec.priority)"),
                           ("objective_crd", "a priority is set but no InferenceObjectiveCrd is given: GKE installs "
                                             "only GA CRDs, so pass the InferenceObjectiveCrd component")]),
    ({"name": "q" * 60}, [("name", f"'{'q' * 60}' is too long: the picker Service '{'q' * 60}-epp' must be ≤ 63 "
                                   "characters")]),
])
def test_refusals_name_the_argument_and_create_nothing(recorder, change, expected):
    assert recorder.refused(lambda: ModelPool("qwen", replace(BASE, **change))) == expected


def test_other_namespace_is_fine_when_the_gateway_allows_all():
    from workloads.gateway import validate_model_pool_args

    assert validate_model_pool_args(replace(BASE, gateway=GatewayRef("inference", "gateways", True))) == []


def test_too_many_prioritized_names_are_refused(recorder):
    from workloads.gateway import validate_model_pool_args

    crd = recorder.run(lambda: InferenceObjectiveCrd("o")).value
    adapters = {f"lora-{i}": i for i in range(15)}
    problems = validate_model_pool_args(replace(BASE, adapters=adapters, priority=1, objective_crd=crd))
    assert [(p.property_path, p.reason) for p in problems] == [
        ("adapters", "16 names have a priority; one HTTPRoute holds at most 15 (16 rules)")]
