"""Pod snapshots: storage config and policy rendered exactly, shape-checked (no published schema); the cluster addon,
sandbox and vLLM settings; every refusal, including the single-GPU and GCS FUSE rules the estimate shares."""

from __future__ import annotations

from dataclasses import replace

import pulumi_gcp as gcp
import pytest

from workloads.pod_snapshot import (
    RECIPE,
    VLLM_ARGS,
    VLLM_ENV,
    PodSnapshots,
    PodSnapshotsArgs,
    cluster_addon,
    pod_spec_fields,
    policy_manifest,
    sandbox_config,
    snapshot_object_problems,
    snapshot_refusals,
    storage_config_manifest,
)

ARGS = PodSnapshotsArgs(
    namespace="serving", name="qwen-snapshots", bucket="p-test-snapshots", selector={"app": "qwen"},
    weights_backend="persistentDisk", path="qwen", retention="7d", gke_version="1.35.3-gke.1234000",
    labels={"app": "vllm"},
)
REF = "https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot"


def test_exact_children(recorder):
    rec = recorder.run(lambda: PodSnapshots("qwen", ARGS))
    assert rec.tree() == {
        ("gke-inference:workloads:PodSnapshots", "qwen", None),
        ("kubernetes:podsnapshot.gke.io/v1:PodSnapshotStorageConfig", "qwen-storage-config", "qwen"),
        ("kubernetes:podsnapshot.gke.io/v1:PodSnapshotPolicy", "qwen-policy", "qwen"),
    }
    assert rec.inputs("qwen-storage-config") == {
        "apiVersion": "podsnapshot.gke.io/v1", "kind": "PodSnapshotStorageConfig",
        "metadata": {"name": "qwen-snapshots", "labels": {"app": "vllm"}},
        "spec": {"snapshotStorageConfig": {"gcs": {"bucket": "p-test-snapshots", "path": "qwen",
                                                   "tokenSource": "podKSA"}}},
    }
    assert rec.named("qwen-policy")["dependencies"] == ["qwen-storage-config"]
    assert rec.inputs("qwen-policy") == {
        "apiVersion": "podsnapshot.gke.io/v1", "kind": "PodSnapshotPolicy",
        "metadata": {"name": "qwen-snapshots", "namespace": "serving", "labels": {"app": "vllm"}},
        "spec": {
            "storageConfigName": "qwen-snapshots",
            "selector": {"matchLabels": {"app": "qwen"}},
            "triggerConfig": {"type": "workload", "postCheckpoint": "resume"},
            "retentionConfig": {"lastAccessTimeout": "7d"},
        },
    }


def test_rendered_objects_have_the_reference_shape(recorder):
    rec = recorder.run(lambda: PodSnapshots("qwen", ARGS))
    assert snapshot_object_problems(rec.inputs("qwen-storage-config")) == []
    assert snapshot_object_problems(rec.inputs("qwen-policy")) == []
    minimal = replace(ARGS, path="", retention=None, token_source=None, trigger="manual", post_checkpoint="stop")
    gcs = {"bucket": "p-test-snapshots"}
    assert storage_config_manifest(minimal)["spec"] == {"snapshotStorageConfig": {"gcs": gcs}}
    assert snapshot_object_problems(storage_config_manifest(minimal)) == []
    assert snapshot_object_problems(policy_manifest(minimal)) == []


def test_shape_check_catches_each_defect():
    policy = policy_manifest(ARGS)
    del policy["spec"]["storageConfigName"]
    policy["spec"]["triggerConfig"]["type"] = "onReady"
    policy["spec"]["retentionConfig"]["lastAccessTimeout"] = "7 days"
    policy["spec"]["restoreOnCreate"] = True
    del policy["metadata"]["namespace"]
    assert snapshot_object_problems(policy) == [
        f"spec.storageConfigName: required ({REF})",
        "spec.triggerConfig.type: 'onReady' is not one of workload, manual",
        "metadata.namespace: a PodSnapshotPolicy is namespaced (the serving pods' namespace)",
        "spec.retentionConfig.lastAccessTimeout: '7 days' is not a duration (y, mo, d, h, min)",
        f"spec.restoreOnCreate: not a field of spec ({REF})",
    ]
    storage = storage_config_manifest(ARGS)
    storage["metadata"]["namespace"] = "serving"
    storage["spec"]["snapshotStorageConfig"]["gcs"] = {"path": "x"}
    assert snapshot_object_problems(storage) == [
        f"spec.snapshotStorageConfig.gcs.bucket: required ({REF})",
        "metadata.namespace: a PodSnapshotStorageConfig is cluster-scoped",
    ]
    assert snapshot_object_problems({"apiVersion": "podsnapshot.gke.io/v1alpha1", "kind": "PodSnapshotPolicy"}) == [
        "apiVersion/kind: expected podsnapshot.gke.io/v1 PodSnapshotStorageConfig or PodSnapshotPolicy"
    ]


def test_cluster_pool_and_pod_settings():
    assert isinstance(cluster_addon(), gcp.container.ClusterAddonsConfigPodSnapshotConfigArgs)
    assert cluster_addon().enabled is True
    assert sandbox_config().type == "GVISOR"
    assert pod_spec_fields() == {"runtimeClassName": "gvisor", "nodeSelector": {"sandbox.gke.io/runtime": "gvisor"}}
    assert VLLM_ARGS == ("--enable-sleep-mode", "--safetensors-load-strategy", "eager")
    assert VLLM_ENV == {"VLLM_HOST_IP": "127.0.0.1"}


def test_shared_refusal_rule():
    assert snapshot_refusals(1, "persistentDisk") == []
    assert [(p.property_path, p.render()) for p in snapshot_refusals(8, "gcsfuse")] == [
        ("gpus_per_replica", f"Pod snapshots restore single-GPU pods only ({RECIPE}); a replica here uses 8 GPUs"),
        ("weights_backend", f"pods with GCS FUSE CSI volumes cannot be snapshotted ({RECIPE}); weights_backend "
                            "gcsfuse must change to use Pod snapshots"),
    ]


REFUSALS = [
    (dict(gpus_per_replica=2), "gpus_per_replica",
     f"Pod snapshots restore single-GPU pods only ({RECIPE}); a replica here uses 2 GPUs"),
    (dict(weights_backend="gcsfuse"), "weights_backend",
     f"pods with GCS FUSE CSI volumes cannot be snapshotted ({RECIPE}); weights_backend gcsfuse must change to use "
     "Pod snapshots"),
    (dict(namespace="Serving"), "namespace",
     "'Serving' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at both ends"),
    (dict(name="Qwen"), "name",
     "'Qwen' is not a valid object name: at most 253 lowercase letters, digits, '-' or '.', alphanumeric at both "
     "ends"),
    (dict(selector={}), "selector",
     "give the serving pods' labels; an empty selector would snapshot every pod of the namespace"),
    (dict(selector={"app": "qwen model"}), "selector.app",
     "'qwen model' is not a Kubernetes label value: ≤ 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends"),
    (dict(retention="1w"), "retention",
     f"'1w' is not a duration like 7d, 12h, 30min, 2mo or 1y ({REF})"),
    (dict(bucket="gs://p-test-snapshots/qwen"), "bucket",
     "'gs://p-test-snapshots/qwen' must be a bucket name (no gs://, no path); put the folder in path"),
    (dict(trigger="onReady"), "trigger", "expected 'workload' | 'manual', got str 'onReady'"),
    (dict(gke_version="1.34.0"), "gke_version",
     "'1.34.0' is older than 1.34.1-gke.3084001, which Pod snapshots needs "
     "(https://cloud.google.com/kubernetes-engine/docs/how-to/pod-snapshots); raise the cluster version or turn the "
     "feature off"),
]


@pytest.mark.parametrize(("change", "path", "reason"), REFUSALS, ids=[r[1] + ":" + r[2][:30] for r in REFUSALS])
def test_refusals(recorder, change, path, reason):
    args = replace(ARGS, **change)
    assert recorder.refused(lambda: PodSnapshots("qwen", args)) == [(path, reason)]
