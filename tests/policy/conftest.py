"""Known-good resources in the shape of resources.json (pulumi-gcp / pulumi-kubernetes camelCase inputs)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

DIGEST = "sha256:" + "ab" * 32

GOOD_CLUSTER: dict[str, Any] = {
    "name": "inference-prod",
    "location": "us-central1",
    "releaseChannel": {"channel": "STABLE"},
    "enableLegacyAbac": False,
    "enableShieldedNodes": True,
    "datapathProvider": "ADVANCED_DATAPATH",
    "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
    "workloadIdentityConfig": {"workloadPool": "gke-inference-prod.svc.id.goog"},
}

GOOD_GPU_POOL: dict[str, Any] = {
    "cluster": "gke-cluster-id",
    "name": "h100",
    "nodeConfig": {
        "machineType": "a3-highgpu-2g",
        "guestAccelerators": [{"type": "nvidia-h100-80gb", "count": 2}],
        "serviceAccount": "gke-prod-nodes@gke-inference-prod.iam.gserviceaccount.com",
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    },
}

GOOD_BUCKET: dict[str, Any] = {
    "name": "gke-inference-prod-prod-models",
    "location": "US-CENTRAL1",
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "hierarchicalNamespace": {"enabled": True},
    "versioning": {"enabled": False},
    "softDeletePolicy": {"retentionDurationSeconds": 7 * 86400},
}

GOOD_BUCKET_MEMBER: dict[str, Any] = {
    "bucket": "gke-inference-prod-prod-models",
    "role": "roles/storage.objectViewer",
    "member": "serviceAccount:vllm@gke-inference-prod.iam.gserviceaccount.com",
}


def container(**extra: Any) -> dict[str, Any]:
    base = {
        "name": "vllm",
        "image": f"vllm/vllm-openai@{DIGEST}",
        "args": ["--model", "/models/qwen", "--api-key=$(VLLM_API_KEY)"],
        "env": [
            {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "key"}}},
            {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        ],
        "ports": [{"name": "http", "containerPort": 8000}],
        "resources": {"requests": {"cpu": "4", "nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
    }
    base.update(extra)
    return base


GOOD_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "vllm", "namespace": "llm"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "vllm"}},
        "template": {
            "metadata": {"labels": {"app": "vllm", "model": "qwen"}},
            "spec": {"containers": [container()]},
        },
    },
}

GOOD_HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "vllm", "namespace": "llm"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
        "minReplicas": 1,
        "maxReplicas": 4,
        "behavior": {
            "scaleUp": {"stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleDown": {"stabilizationWindowSeconds": 600},
        },
    },
}

GOOD_PDB: dict[str, Any] = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "vllm", "namespace": "llm"},
    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "vllm"}}},
}


def resource(token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """One resources.json entry."""
    return {"type": token, "name": name, "parent": None, "custom": True, "protect": False,
            "ignoreChanges": [], "inputs": copy.deepcopy(inputs)}


@pytest.fixture
def good_stack() -> list[dict[str, Any]]:
    """A small stack that passes every rule."""
    return [
        resource("gcp:container/cluster:Cluster", "gke-cluster", GOOD_CLUSTER),
        resource("gcp:container/nodePool:NodePool", "h100-pool", GOOD_GPU_POOL),
        resource("gcp:storage/bucket:Bucket", "models-bucket", GOOD_BUCKET),
        resource("gcp:storage/bucketIAMMember:BucketIAMMember", "models-reader", GOOD_BUCKET_MEMBER),
        resource("kubernetes:apps/v1:Deployment", "vllm", GOOD_DEPLOYMENT),
        resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "vllm-hpa", GOOD_HPA),
        resource("kubernetes:policy/v1:PodDisruptionBudget", "vllm-pdb", GOOD_PDB),
    ]
