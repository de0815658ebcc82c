"""CapacityBuffer: the PodTemplate chunk and the buffer rendered exactly, valid against their schemas; refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stack.checks import crds
from stack.checks.kube_schema import validate_builtin
from workloads.capacity_buffer import (
    BufferChunk,
    CapacityBuffer,
    CapacityBufferArgs,
    ScalableRef,
    capacity_buffer_manifest,
)
from workloads.pod_security import container_security_context, pod_security_context

IMAGE = "us-docker.pkg.dev/p/r/vllm@sha256:" + "1" * 64
CHUNK = BufferChunk(
    requests={"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"},
    image=IMAGE,
    compute_class="h100-serving",
    tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
)
ARGS = CapacityBufferArgs(namespace="serving", name="qwen-buffer", replicas=2, chunk=CHUNK,
                          gke_version="1.35.2-gke.1842000", labels={"app": "vllm"})
CLASS = "cloud.google.com/compute-class"


def test_exact_children(recorder):
    rec = recorder.run(lambda: CapacityBuffer("qwen", ARGS))
    assert rec.tree() == {
        ("gke-inference:workloads:CapacityBuffer", "qwen", None),
        ("kubernetes:core/v1:PodTemplate", "qwen-pod-template", "qwen"),
        ("kubernetes:autoscaling.x-k8s.io/v1beta1:CapacityBuffer", "qwen-buffer", "qwen"),
    }
    assert rec.named("qwen-buffer")["dependencies"] == ["qwen-pod-template"]
    assert rec.inputs("qwen-buffer") == {
        "apiVersion": "autoscaling.x-k8s.io/v1beta1",
        "kind": "CapacityBuffer",
        "metadata": {"name": "qwen-buffer", "namespace": "serving", "labels": {"app": "vllm"}},
        "spec": {"provisioningStrategy": "buffer.x-k8s.io/active-capacity", "replicas": 2,
                 "podTemplateRef": {"name": "qwen-buffer"}},
    }
    template = rec.inputs("qwen-pod-template")
    never_runs = "the cluster autoscaler only simulates a buffer chunk (CRD reference); it is never started or probed"
    assert template["metadata"] == {
        "name": "qwen-buffer", "namespace": "serving", "labels": {"app": "vllm"},
        # checkov's probe checks do not apply to pods that never run
        "annotations": {"checkov.io/skip1": f"CKV_K8S_8={never_runs}", "checkov.io/skip2": f"CKV_K8S_9={never_runs}"},
    }
    assert template["template"] == {
        "metadata": {"labels": {"app": "vllm"}},
        "spec": {
            "nodeSelector": {CLASS: "h100-serving"},
            "tolerations": [
                {"key": CLASS, "operator": "Equal", "value": "h100-serving", "effect": "NoSchedule"},
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            ],
            "securityContext": pod_security_context(),
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "buffer-chunk",
                "image": IMAGE,
                "resources": {"requests": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"},
                              "limits": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"}},
                "securityContext": container_security_context(),
            }],
        },
    }


def test_rendered_objects_are_valid_against_their_schemas(recorder):
    rec = recorder.run(lambda: CapacityBuffer("qwen", replace(ARGS, strategy="standby", node_auto_provisioning=True,
                                                                gke_version="1.36.0-gke.2253000")))
    buffer = rec.inputs("qwen-buffer")
    assert buffer["spec"]["provisioningStrategy"] == "buffer.gke.io/standby-capacity"
    assert crds.validate_custom(buffer) == []
    template = {"apiVersion": "v1", "kind": "PodTemplate", **rec.inputs("qwen-pod-template")}
    assert validate_builtin(template, "1.33") == []


def test_schema_catches_a_negative_replica_count():
    broken = capacity_buffer_manifest(ARGS)
    broken["spec"]["replicas"] = -1
    assert [v.field for v in crds.validate_custom(broken)] == ["spec.replicas"]


def test_scalable_ref_creates_no_template(recorder):
    args = replace(ARGS, chunk=None, scalable_ref=ScalableRef("Deployment", "qwen"))
    rec = recorder.run(lambda: CapacityBuffer("qwen", args))
    assert rec.names() == ["qwen", "qwen-buffer"]
    assert rec.inputs("qwen-buffer")["spec"] == {
        "provisioningStrategy": "buffer.x-k8s.io/active-capacity", "replicas": 2,
        "scalableRef": {"apiGroup": "apps", "kind": "Deployment", "name": "qwen"},
    }
    assert crds.validate_custom(rec.inputs("qwen-buffer")) == []


def test_pool_selector_without_a_compute_class(recorder):
    chunk = replace(CHUNK, compute_class=None, node_selector={"cloud.google.com/gke-nodepool": "h100"}, tolerations=())
    rec = recorder.run(lambda: CapacityBuffer("qwen", replace(ARGS, chunk=chunk)))
    spec = rec.inputs("qwen-pod-template")["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "h100"}
    assert "tolerations" not in spec  # an empty list is not rendered


HOW_TO = "https://cloud.google.com/kubernetes-engine/docs/how-to/configure-capacity-buffer"
REFUSALS = [
    (dict(namespace="Serving"), "namespace",
     "'Serving' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at both ends"),
    (dict(replicas=0), "replicas",
     "0: a buffer holds at least 1 replica; for no headroom create no CapacityBuffer"),
    (dict(chunk=None), "chunk",
     "give exactly one of chunk (a PodTemplate) and scalable_ref (schema CEL rule: podTemplateRef or scalableRef, "
     "not both)"),
    (dict(scalable_ref=ScalableRef("Deployment", "qwen")), "chunk",
     "give exactly one of chunk (a PodTemplate) and scalable_ref (schema CEL rule: podTemplateRef or scalableRef, "
     "not both)"),
    (dict(chunk=replace(CHUNK, requests={})), "chunk.requests",
     "a chunk without requests reserves nothing; give one replica's requests (GPUs, CPU, memory)"),
    (dict(chunk=replace(CHUNK, compute_class="H100")), "chunk.compute_class",
     "'H100' is not a valid ComputeClass name: at most 253 lowercase letters, digits, '-' or '.', alphanumeric at "
     "both ends"),
    (dict(chunk=None, scalable_ref=ScalableRef("LeaderWorkerSet", "qwen", "leaderworkerset.x-k8s.io")),
     "scalable_ref.kind",
     "'LeaderWorkerSet' needs an RBAC grant for the cluster autoscaler "
     "(https://cloud.google.com/kubernetes-engine/docs/reference/crds/capacitybuffer); use one of Deployment, "
     "ReplicaSet, StatefulSet, ReplicationController, Job, or a chunk"),
    (dict(strategy="warm"), "strategy", "expected 'active' | 'standby', got str 'warm'"),
    (dict(strategy="standby", gke_version="1.36.0-gke.2253000"), "strategy",
     f"standby buffers need cluster node auto-provisioning ({HOW_TO}); enable it (node_auto_provisioning) or use "
     "active"),
    (dict(strategy="standby", node_auto_provisioning=True), "gke_version",
     f"'1.35.2-gke.1842000' is older than 1.36.0-gke.2253000, which a standby capacity buffer needs ({HOW_TO}); "
     "raise the cluster version or turn the feature off"),
    (dict(gke_version="1.35.1"), "gke_version",
     f"'1.35.1' is older than 1.35.2-gke.1842000, which an active capacity buffer needs ({HOW_TO}); raise the "
     "cluster version or turn the feature off"),
]


@pytest.mark.parametrize(("change", "path", "reason"), REFUSALS, ids=[r[1] + ":" + r[2][:30] for r in REFUSALS])
def test_refusals(recorder, change, path, reason):
    args = replace(ARGS, **change)
    assert recorder.refused(lambda: CapacityBuffer("qwen", args)) == [(path, reason)]


def test_partial_version_passes(recorder):
    rec = recorder.run(lambda: CapacityBuffer("qwen", replace(ARGS, gke_version="1.35")))
    assert "qwen-buffer" in rec.names()
