"""InferenceGateway and InferenceObjectiveCrd under the recording mocks: exact children, each refusal, and every
rendered object valid against its schema (vendored CRDs / Kubernetes strict schemas) and the policy pack."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from policy.rules import check_stack
from stack.checks.validate import validate_manifests
from stack.render import manifests_from
from workloads.gateway import (
    GatewayTls,
    InferenceGateway,
    InferenceGatewayArgs,
    InferenceObjectiveCrd,
    InferenceObjectiveCrdArgs,
    validate_inference_gateway_args,
)
from workloads.gateway.objective_crd import CRD_PATH, CRD_SHA256

DIGEST = "sha256:" + "ab" * 32
BBR_IMAGE = f"ghcr.io/llm-d/llm-d-inference-payload-processor@{DIGEST}"
BASE = InferenceGatewayArgs(namespace="serving", payload_processor_image=BBR_IMAGE)
GW = "gke-inference:workloads:InferenceGateway"
ROUTER_LABELS = {
    "app.kubernetes.io/part-of": "inference-gateway",
    "app.kubernetes.io/name": "payload-processor",
    "app.kubernetes.io/instance": "inference-bbr",
    "app.kubernetes.io/component": "body-based-router",
}
SCHEMA_MINOR = "1.33"


def render(recorder, args: InferenceGatewayArgs = BASE, name: str = "inference"):
    return recorder.run(lambda: InferenceGateway(name, args))


def test_internal_gateway_children_and_names(recorder):
    rec = render(recorder)
    assert rec.tree() == {
        (GW, "inference", None),
        ("kubernetes:gateway.networking.k8s.io/v1:Gateway", "inference-gateway", "inference"),
        ("kubernetes:core/v1:ServiceAccount", "inference-bbr-sa", "inference"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "inference-bbr-role", "inference"),
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "inference-bbr-rolebinding", "inference"),
        ("kubernetes:apps/v1:Deployment", "inference-bbr", "inference"),
        ("kubernetes:core/v1:Service", "inference-bbr-svc", "inference"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "inference-bbr-netpol", "inference"),
        ("kubernetes:networking.gke.io/v1:HealthCheckPolicy", "inference-bbr-healthcheck", "inference"),
        ("kubernetes:networking.gke.io/v1:GCPRoutingExtension", "inference-routing-extension", "inference"),
    }


def test_internal_gateway_listens_http_on_80_and_waits_until_programmed(recorder):
    gateway = render(recorder).inputs("inference-gateway")
    assert gateway == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "inference", "namespace": "serving",
                     "labels": {"app.kubernetes.io/part-of": "inference-gateway"},
                     "annotations": {"pulumi.com/waitFor": "condition=Programmed"}},
        "spec": {
            "gatewayClassName": "gke-l7-rilb",
            "listeners": [{
                "name": "http", "protocol": "HTTP", "port": 80,
                "allowedRoutes": {"namespaces": {"from": "Same"},
                                  "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]},
            }],
        },
    }


def test_routing_extension_sends_request_events_full_duplex_to_the_router(recorder):
    rec = render(recorder)
    assert rec.inputs("inference-routing-extension")["spec"] == {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference"}],
        "extensionChains": [{"name": "chain1", "extensions": [{
            "name": "ext1",
            "authority": "myext.com",
            "timeout": "1s",
            "supportedEvents": ["RequestHeaders", "RequestBody", "RequestTrailers"],
            "requestBodySendMode": "FullDuplexStreamed",
            "backendRef": {"group": "", "kind": "Service", "name": "inference-bbr", "port": 9004},
        }]}],
    }
    assert set(rec.named("inference-routing-extension")["dependencies"]) == {"inference-gateway", "inference-bbr-svc"}
    assert rec.inputs("inference-bbr-healthcheck")["spec"] == {
        "targetRef": {"group": "", "kind": "Service", "name": "inference-bbr"},
        "default": {"logConfig": {"enabled": True},
                    "config": {"type": "GRPC",
                               "grpcHealthCheck": {"portSpecification": "USE_FIXED_PORT", "port": 9005}}},
    }


def test_router_puts_the_model_in_x_gateway_model_name(recorder):
    rec = render(recorder)
    deployment = rec.inputs("inference-bbr")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "--grpc-port=9004", "--grpc-health-port=9005",
        "--plugin", 'body-field-to-header:model-extractor:{"fieldName":"model","headerName":"X-Gateway-Model-Name"}',
        "--plugin", "base-model-to-header:base-model-mapper",
        "--tracing=false",
    ]  # fmt: skip
    assert container["image"] == BBR_IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert container["readinessProbe"] == {"grpc": {"port": 9005}, "periodSeconds": 2}
    guaranteed = {"cpu": "1", "memory": "1Gi"}
    assert container["resources"] == {"requests": guaranteed, "limits": guaranteed}
    assert deployment["spec"]["template"]["metadata"]["labels"] == ROUTER_LABELS
    assert rec.inputs("inference-bbr-svc")["spec"]["ports"] == [
        {"name": "grpc", "protocol": "TCP", "port": 9004, "targetPort": 9004, "appProtocol": "HTTP2"}]
    assert rec.inputs("inference-bbr-netpol")["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "payload-processor",
                                        "app.kubernetes.io/instance": "inference-bbr"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 9004, "protocol": "TCP"}, {"port": 9005, "protocol": "TCP"}]}],
    }
    assert rec.inputs("inference-bbr-role")["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


def test_external_gateway_terminates_tls_with_a_secret_or_a_pre_shared_certificate(recorder):
    args = replace(BASE, gateway_class="gke-l7-regional-external-managed", tls=GatewayTls(secret_name="api-tls"),
                   hostname="llm.example.com", allowed_routes="All")
    (listener,) = render(recorder, args).inputs("inference-gateway")["spec"]["listeners"]
    assert listener == {
        "name": "https", "protocol": "HTTPS", "port": 443, "hostname": "llm.example.com",
        "allowedRoutes": {"namespaces": {"from": "All"},
                          "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]},
        "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "api-tls"}]},
    }
    args = replace(args, tls=GatewayTls(pre_shared_certificate="llm-cert"))
    (listener,) = render(recorder, args).inputs("inference-gateway")["spec"]["listeners"]
    assert listener["tls"] == {"mode": "Terminate", "options": {"networking.gke.io/pre-shared-certs": "llm-cert"}}


def test_replicated_router_gets_a_pdb(recorder):
    rec = render(recorder, replace(BASE, router_replicas=2))
    assert rec.inputs("inference-bbr-pdb")["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "payload-processor", "app.kubernetes.io/instance": "inference-bbr"}}}


@pytest.mark.parametrize("args", [
    BASE,
    replace(BASE, gateway_class="gke-l7-regional-external-managed", tls=GatewayTls(secret_name="api-tls"),
            router_replicas=2),
    replace(BASE, tls=GatewayTls(pre_shared_certificate="llm-cert"), hostname="llm.internal"),
])
def test_every_rendered_object_validates_and_passes_the_policy_pack(recorder, args):
    rec = render(recorder, args)
    manifests = manifests_from(rec.resources)
    assert {m["kind"] for m in manifests} >= {"Gateway", "GCPRoutingExtension", "HealthCheckPolicy", "Deployment"}
    assert validate_manifests(manifests, SCHEMA_MINOR) == []
    assert check_stack(rec.resources) == []


@pytest.mark.parametrize("change,expected", [
    ({"gateway_class": "gke-l7-regional-external-managed"},
     [("tls", "the external class gke-l7-regional-external-managed serves the internet: set tls (a certificate "
              "Secret or a pre-shared regional SSL certificate)")]),
    ({"tls": GatewayTls()}, [("tls", "set exactly one of secret_name and pre_shared_certificate")]),
    ({"tls": GatewayTls(secret_name="a", pre_shared_certificate="b")},
     [("tls", "set exactly one of secret_name and pre_shared_certificate")]),
    ({"gateway_class": "gke-l7-gxlb"},
     [("gateway_class", "expected 'gke-l7-rilb' | 'gke-l7-regional-external-managed', got str 'gke-l7-gxlb'")]),
    ({"payload_processor_image": "ghcr.io/llm-d/llm-d-inference-payload-processor:main"},
     [("payload_processor_image", "'ghcr.io/llm-d/llm-d-inference-payload-processor:main' is not pinned by digest; "
                                  "use NAME@sha256:<64 hex> or a resolved image (ContainerImage.ref)")]),
    ({"router_replicas": 0}, [("router_replicas", "0 must be ≥ 1")]),
    ({"name": "Inference"}, [("name", "'Inference' is not a valid Gateway name (the component name when name is "
                                      "unset): at most 63 lowercase letters, digits or '-', alphanumeric at both "
                                      "ends")]),
])
def test_refusals_name_the_argument_and_create_nothing(recorder, change, expected):
    assert recorder.refused(lambda: InferenceGateway("inference", replace(BASE, **change))) == expected


def test_validator_is_pure_and_reports_types_first():
    assert validate_inference_gateway_args(BASE) == []
    (problem,) = validate_inference_gateway_args(replace(BASE, router_replicas="2"))  # type: ignore[arg-type]
    assert problem.property_path == "router_replicas" and problem.reason.startswith("expected int")


# -- InferenceObjectiveCrd -------------------------------------------------------------------------------


def test_objective_crd_installs_the_vendored_file_unchanged(recorder):
    rec = recorder.run(lambda: InferenceObjectiveCrd("objectives"))
    assert rec.tree() == {
        ("gke-inference:workloads:InferenceObjectiveCrd", "objectives", None),
        ("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "objectives-crd", "objectives"),
    }
    vendored = yaml.safe_load(CRD_PATH.read_text())
    crd = rec.inputs("objectives-crd")
    assert crd["spec"] == vendored["spec"]
    assert crd["metadata"]["name"] == "inferenceobjectives.llm-d.ai"
    assert crd["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gke-inference"}
    assert rec.value.api_version == "llm-d.ai/v1alpha2"
    assert hashlib.sha256(CRD_PATH.read_bytes()).hexdigest() == CRD_SHA256


def test_objective_crd_refuses_a_file_that_does_not_match_the_pin(recorder, tmp_path: Path):
    tampered = tmp_path / "crd.yaml"
    tampered.write_text(CRD_PATH.read_text().replace("priority", "priorty"))
    digest = hashlib.sha256(tampered.read_bytes()).hexdigest()
    assert recorder.refused(lambda: InferenceObjectiveCrd("o", InferenceObjectiveCrdArgs(str(tampered)))) == [
        ("crd_path", f"crd.yaml has sha256 {digest}, not the pinned {CRD_SHA256}: refresh the pin and "
                     "stack/schemas/PROVENANCE.md together")]
    missing = tmp_path / "absent.yaml"
    assert recorder.refused(lambda: InferenceObjectiveCrd("o", InferenceObjectiveCrdArgs(str(missing)))) == [
        ("crd_path", f"{missing} does not exist; the CRD is vendored in stack/schemas/llm-d-router/")]
