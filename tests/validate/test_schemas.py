"""validate_manifests: built-in kinds against strict Kubernetes schemas, custom resources against vendored CRDs."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

import pytest

from stack.checks import crds, kube_schema
from stack.checks.validate import validate_manifests
from tests.policy.conftest import GOOD_DEPLOYMENT, GOOD_HPA, GOOD_PDB, container

SCHEMAS = Path(__file__).resolve().parents[2] / "stack" / "schemas"

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vllm", "namespace": "llm"},
           "spec": {"selector": {"app": "vllm"}, "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]}}
POD_MONITORING = {
    "apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
    "metadata": {"name": "vllm", "namespace": "llm"},
    "spec": {"selector": {"matchLabels": {"app": "vllm"}},
             "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s", "timeout": "10s"}],
             "targetLabels": {"metadata": ["pod", "container"]}},
}
CLUSTER_POD_MONITORING = {
    "apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterPodMonitoring", "metadata": {"name": "dcgm"},
    "spec": {"selector": {"matchLabels": {"app": "dcgm"}}, "endpoints": [{"port": 9400, "interval": "30s"}]},
}
SCALED_OBJECT = {
    "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "vllm", "namespace": "llm"},
    "spec": {
        "scaleTargetRef": {"name": "vllm"}, "minReplicaCount": 0, "maxReplicaCount": 4,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": GOOD_HPA["spec"]["behavior"]}},
        "triggers": [{"type": "prometheus", "authenticationRef": {"name": "gmp"},
                      "metadata": {"serverAddress": "https://monitoring.googleapis.com/v1/projects/p/location/global/prometheus",
                                   "query": "sum(vllm:num_requests_waiting)", "threshold": "5",
                                   "activationThreshold": "1"}}],
    },
}
TRIGGER_AUTH = {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
                "metadata": {"name": "gmp", "namespace": "llm"}, "spec": {"podIdentity": {"provider": "gcp"}}}
LWS = {
    "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
    "metadata": {"name": "big", "namespace": "llm"},
    "spec": {"replicas": 1, "leaderWorkerTemplate": {
        "size": 2, "restartPolicy": "RecreateGroupOnPodRestart",
        "workerTemplate": {"metadata": {"labels": {"app": "big"}}, "spec": {"containers": [container()]}}}},
}
COMPUTE_CLASS = {
    "apiVersion": "cloud.google.com/v1", "kind": "ComputeClass", "metadata": {"name": "l4-fallback"},
    "spec": {"priorities": [{"machineType": "g2-standard-8", "spot": False},
                            {"machineType": "g2-standard-8", "spot": True}],
             "nodePoolAutoCreation": {"enabled": True}, "whenUnsatisfiable": "DoNotScaleUp"},
}
GOOD = [GOOD_DEPLOYMENT, GOOD_HPA, GOOD_PDB, SERVICE, POD_MONITORING, CLUSTER_POD_MONITORING, SCALED_OBJECT,
        TRIGGER_AUTH, LWS, COMPUTE_CLASS]


def test_good_manifests_pass():
    assert validate_manifests(GOOD, "1.33") == []


def _one(manifest, path, value, delete=False):
    m = copy.deepcopy(manifest)
    parts = re.findall(r"[^.\[\]]+", path)
    node = m
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    key = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if delete:
        del node[key]
    else:
        node[key] = value
    return m


BAD = [
    (GOOD_DEPLOYMENT, "spec.replicas", "2", False, "kubernetes-schema-1.33", "spec.replicas",
     "is not of type 'integer'"),
    (GOOD_DEPLOYMENT, "spec.template.spec.containers[0].imagePullPolicyy", "Always", False, "kubernetes-schema-1.33",
     "spec.template.spec.containers[0]", "'imagePullPolicyy' was unexpected"),
    (GOOD_DEPLOYMENT, "spec.selector", None, True, "kubernetes-schema-1.33", "spec",
     "'selector' is a required property"),
    (GOOD_HPA, "spec.behavior.scaleDown.stabilizationWindowSeconds", "600s", False, "kubernetes-schema-1.33",
     "spec.behavior.scaleDown.stabilizationWindowSeconds", "is not of type 'integer'"),
    (SERVICE, "spec.ports[0].port", "8000", False, "kubernetes-schema-1.33", "spec.ports[0].port",
     "is not of type 'integer'"),
    (POD_MONITORING, "spec.endpoints[0].interval", None, True, "crd-schema:PodMonitoring", "spec.endpoints[0]",
     "'interval' is a required property"),
    (POD_MONITORING, "spec.endpoints[0].scheme", "grpc", False, "crd-schema:PodMonitoring",
     "spec.endpoints[0].scheme", "is not one of ['http', 'https']"),
    (CLUSTER_POD_MONITORING, "spec.endpoints[0].port", 1.5, False, "crd-schema:ClusterPodMonitoring",
     "spec.endpoints[0].port", "is not valid under any of the given schemas"),
    (SCALED_OBJECT, "spec.maxReplicaCount", "4", False, "crd-schema:ScaledObject", "spec.maxReplicaCount",
     "is not of type 'integer'"),
    (SCALED_OBJECT, "spec.triggers[0].metadata.threshold", 5, False, "crd-schema:ScaledObject",
     "spec.triggers[0].metadata.threshold", "is not of type 'string'"),
    (SCALED_OBJECT, "spec.pollingIntervall", 15, False, "crd-schema:ScaledObject", "spec",
     "'pollingIntervall' was unexpected"),
    (TRIGGER_AUTH, "spec.podIdentity.providr", "gcp", False, "crd-schema:TriggerAuthentication", "spec.podIdentity",
     "'providr' was unexpected"),
    (LWS, "spec.leaderWorkerTemplate.restartPolicy", "Sometimes", False, "crd-schema:LeaderWorkerSet",
     "spec.leaderWorkerTemplate.restartPolicy", "is not one of"),
    (LWS, "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].ports[0].containerPort", "8000", False,
     "crd-schema:LeaderWorkerSet", "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].ports[0].containerPort",
     "is not of type 'integer'"),
    (COMPUTE_CLASS, "spec.whenUnsatisfiable", "Maybe", False, "crd-schema:ComputeClass", "spec.whenUnsatisfiable",
     "is not one of"),
]


@pytest.mark.parametrize("manifest,path,value,delete,rule,field,message", BAD,
                         ids=[f"{b[0]['kind']}:{b[1]}" for b in BAD])
def test_schema_errors_are_reported(manifest, path, value, delete, rule, field, message):
    violations = validate_manifests([_one(manifest, path, value, delete)], "1.33")
    assert [(v.rule, v.field) for v in violations] == [(rule, field)]
    assert message in violations[0].message


def test_int_or_string_ports_accept_both_forms():
    by_number = _one(POD_MONITORING, "spec.endpoints[0].port", 8000)
    assert validate_manifests([by_number], "1.33") == []


def test_unknown_kind_and_unserved_version_are_violations():
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    old = _one(SCALED_OBJECT, "apiVersion", "keda.sh/v1beta9")
    violations = validate_manifests([unknown, old], "1.33")
    assert [(v.rule, v.resource, v.field) for v in violations] == [
        ("crd-schema", "Widget/w", "apiVersion"), ("crd-schema", "ScaledObject/llm/vllm", "apiVersion")]
    assert "vendor its CRD into stack/schemas/" in violations[0].message
    assert "served versions are keda.sh/v1alpha1" in violations[1].message


def test_minor_version_selects_the_schema():
    assert kube_schema.supported_minor("1.33") == "1.33.0"
    assert kube_schema.supported_minor("v1.34.2") == "1.34.0"
    assert kube_schema.supported_minor("1.99") == kube_schema.kv.latest_version()
    with pytest.raises(ValueError, match=r"cluster\.kubernetesMinor"):
        kube_schema.supported_minor("1.10")
    with pytest.raises(ValueError, match=r"cluster\.kubernetesMinor"):
        kube_schema.supported_minor("latest")


def test_api_removed_in_a_minor_is_rejected_there():
    # autoscaling/v2beta2 HPAs were removed in Kubernetes 1.26.
    old = _one(GOOD_HPA, "apiVersion", "autoscaling/v2beta2")
    assert kube_schema.has_builtin_schema(old, "1.25")
    assert not kube_schema.has_builtin_schema(old, "1.33")
    assert [v.rule for v in validate_manifests([old], "1.33")] == ["crd-schema"]


def test_openapi_conversion():
    schema = crds.to_json_schema({
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "note": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"a": {"type": "string"}}},
            "nullable": {"type": "boolean"},
        },
        "x-kubernetes-validations": [{"rule": "self.port != 0"}],
    })
    assert schema == {
        "type": "object",
        "properties": {
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "note": {"type": ["string", "null"]},
            "free": {"type": "object", "properties": {"a": {"type": "string"}}},
            "nullable": {"type": "boolean"},
        },
        "additionalProperties": False,
    }


def test_vendored_kinds():
    assert sorted(crds.load_crds()) == [
        ("autoscaling.x-k8s.io/v1alpha1", "CapacityBuffer"), ("autoscaling.x-k8s.io/v1beta1", "CapacityBuffer"),
        ("cloud.google.com/v1", "ComputeClass"), ("datalayer.gke.io/v1", "GCPDataSource"),
        ("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1beta1", "Gateway"), ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
        ("inference.networking.k8s.io/v1", "InferencePool"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"), ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
        ("llm-d.ai/v1alpha2", "InferenceObjective"),
        ("monitoring.googleapis.com/v1", "ClusterPodMonitoring"), ("monitoring.googleapis.com/v1", "PodMonitoring"),
        ("monitoring.googleapis.com/v1alpha1", "ClusterPodMonitoring"),
        ("monitoring.googleapis.com/v1alpha1", "PodMonitoring"),
        ("networking.gke.io/v1", "GCPBackendPolicy"), ("networking.gke.io/v1", "GCPRoutingExtension"),
        ("networking.gke.io/v1", "HealthCheckPolicy"),
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshot"), ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"),
    ]


def test_vendored_files_match_their_provenance_checksums():
    table = dict(re.findall(r"^\| (\S+) \| ([0-9a-f]{64}) \|$", (SCHEMAS / "PROVENANCE.md").read_text(), re.MULTILINE))
    files = {str(p.relative_to(SCHEMAS)) for p in SCHEMAS.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"}
    assert set(table) == files
    for name, digest in table.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
