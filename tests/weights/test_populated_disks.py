"""The model store fills itself: the whole program rendered (``render_stack``) for the disk backends.

Prod's Hyperdisk ML is filled by GKE's Volume Populator from the bucket the downloader Job filled; the
Persistent Disk backend by a fill Job, a VolumeSnapshot and a claim restored from it. Every step is awaited
by ``pulumi up`` and precedes the vLLM server in the recorded dependency graph; no input names a snapshot
the stack does not create.
"""

from __future__ import annotations

import json

import pytest

from stack.checks.validate import validate_manifests
from stack.config import ConfigError
from stack.render import load_stack_config, render_stack

PROD_PREFIX = "models/meta-llama/Llama-3.3-70B-Instruct/6f6073b423013f6a7d4d9f39144961bfbfbc386b"
LABELS = {"app.kubernetes.io/component": "model-weights", "gke-inference/model-revision": "6f6073b4"}


@pytest.fixture(scope="module")
def prod():
    return render_stack("prod")


@pytest.fixture(scope="module")
def prod_pd():
    return render_stack("prod", ["model.weights.backend=persistentDisk"])


def _manifest(render, kind: str, name: str) -> dict:
    [found] = [m for m in render.manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def _deps(render, name: str) -> list[str]:
    return render.named(name)["dependencies"]


def _no_snapshot_reference(render) -> None:
    text = json.dumps(render.resources)
    assert "global/snapshots" not in text and "global/images/llama" not in text


def test_prod_hyperdisk_ml_is_filled_by_the_volume_populator(prod):
    uri = f"gs://gke-inference-prod-prod-models/{PROD_PREFIX}/"
    assert _manifest(prod, "GCPDataSource", "model-weights-6f6073b4") == {
        "apiVersion": "datalayer.gke.io/v1",
        "kind": "GCPDataSource",
        "metadata": {"name": "model-weights-6f6073b4", "namespace": "llm", "labels": LABELS},
        "spec": {"cloudStorage": {"serviceAccountName": "hdml-populator", "uri": uri}},
    }
    assert _manifest(prod, "PersistentVolumeClaim", "model-weights-6f6073b4") == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "model-weights-6f6073b4",
            "namespace": "llm",
            "labels": LABELS,
            "annotations": {
                "volume-populator.datalayer.gke.io/transfer-path": PROD_PREFIX,
                "pulumi.com/waitFor": "jsonpath={.status.phase}=Bound",
                "pulumi.com/timeoutSeconds": "5640",  # 141.2 GB / 0.03 GB/s → 4740 s + 900 s node slack
            },
        },
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "llm-model-weights-6f6073b4-hdml",
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "300Gi"}},
            "dataSourceRef": {
                "apiGroup": "datalayer.gke.io",
                "kind": "GCPDataSource",
                "name": "model-weights-6f6073b4",
            },
        },
    }
    assert _manifest(prod, "StorageClass", "llm-model-weights-6f6073b4-hdml") == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "llm-model-weights-6f6073b4-hdml", "labels": LABELS},
        "provisioner": "pd.csi.storage.gke.io",
        "parameters": {
            "type": "hyperdisk-ml",
            "provisioned-throughput-on-create": "2400Mi",
            "enable-multi-zone-provisioning": "true",
        },
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": False,
        "volumeBindingMode": "Immediate",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": "topology.gke.io/zone", "values": ["us-central1-a", "us-central1-c"]}]}
        ],
    }
    assert _manifest(prod, "ComputeClass", "gcs-to-hdml-compute-class") == {
        "apiVersion": "cloud.google.com/v1",
        "kind": "ComputeClass",
        "metadata": {"name": "gcs-to-hdml-compute-class", "labels": LABELS},
        "spec": {"priorities": [{"machineFamily": "c3"}], "whenUnsatisfiable": "DoNotScaleUp"},
    }
    ksa = _manifest(prod, "ServiceAccount", "hdml-populator")
    assert ksa["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "hdml-pop-prod@gke-inference-prod.iam.gserviceaccount.com"
    }
    assert prod.named("weights-populator-bucket-reader")["inputs"] == {
        "bucket": "gke-inference-prod-prod-models",
        "role": "roles/storage.objectViewer",
        "member": "serviceAccount:hdml-pop-prod@gke-inference-prod.iam.gserviceaccount.com",
    }


def test_prod_transfer_pool_serves_the_compute_class(prod):
    pool = prod.named("weights-transfer-pool")["inputs"]
    node = pool["nodeConfig"]
    assert (pool["nodeLocations"], pool["initialNodeCount"], pool["autoscaling"]) == (
        ["us-central1-a", "us-central1-c"],
        0,
        {"minNodeCount": 0, "maxNodeCount": 1},
    )
    assert node["machineType"] == "c3-standard-44"
    assert node["labels"] == {"cloud.google.com/compute-class": "gcs-to-hdml-compute-class"}
    assert node["taints"] == [
        {"key": "cloud.google.com/compute-class", "value": "gcs-to-hdml-compute-class", "effect": "NO_SCHEDULE"}
    ]
    assert node["serviceAccount"] == "gke-prod-nodes@gke-inference-prod.iam.gserviceaccount.com"


def test_prod_order_download_then_data_source_then_claim_then_server(prod):
    assert "weights-download-job" in _deps(prod, "weights-hdml-data-source")
    assert "weights-transfer-pool" in _deps(prod, "weights-hdml-data-source")
    # The claim depends on the data source, so `destroy` deletes the claim first (else it hangs).
    assert {"weights-hdml-data-source", "weights-hdml-compute-class", "weights-hdml-storage-class"} <= set(
        _deps(prod, "weights-hdml-pvc")
    )
    assert {"weights-download-job", "weights-hdml-pvc"} <= set(_deps(prod, "vllm-deployment"))
    job = _manifest(prod, "Job", "model-download-llama-3-3-70b-instruct-6f6073b4")
    assert job["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "9240"}  # awaited; no skipAwait
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (2, 8640)


def test_prod_needs_no_snapshot(prod):
    _no_snapshot_reference(prod)
    assert prod.of_type("gcp:compute/disk:Disk") == []
    assert [m for m in prod.manifests if m["kind"] == "PersistentVolume"] == []


def test_populator_objects_pass_the_schemas(prod, prod_pd):
    kinds = (
        "GCPDataSource",
        "ComputeClass",
        "StorageClass",
        "PersistentVolumeClaim",
        "VolumeSnapshot",
        "VolumeSnapshotClass",
        "Job",
    )
    objects = [m for r in (prod, prod_pd) for m in r.manifests if m["kind"] in kinds]
    assert {m["kind"] for m in objects} == set(kinds)
    assert validate_manifests(objects, "1.33") == []


def test_persistent_disk_is_filled_snapshotted_and_restored_in_stack(prod_pd):
    fill_claim = _manifest(prod_pd, "PersistentVolumeClaim", "model-weights-6f6073b4-fill")
    assert fill_claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "llm-model-weights-6f6073b4-fill",
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "500Gi"}},
    }
    fill_class = _manifest(prod_pd, "StorageClass", "llm-model-weights-6f6073b4-fill")
    assert (fill_class["parameters"], fill_class["volumeBindingMode"]) == ({"type": "pd-ssd"}, "WaitForFirstConsumer")
    job = _manifest(prod_pd, "Job", "model-fill-llama-3-3-70b-instruct-6f6073b4")
    pod = job["spec"]["template"]["spec"]
    [download] = pod["initContainers"]
    assert download["args"][-1] == f"/fill/{PROD_PREFIX}"
    assert [c["name"] for c in pod["containers"]] == ["flush"]
    assert {"name": "fill", "persistentVolumeClaim": {"claimName": "model-weights-6f6073b4-fill"}} in pod["volumes"]
    assert _manifest(prod_pd, "VolumeSnapshotClass", "llm-model-weights-6f6073b4") == {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotClass",
        "metadata": {"name": "llm-model-weights-6f6073b4", "labels": LABELS},
        "driver": "pd.csi.storage.gke.io",
        "deletionPolicy": "Delete",
    }
    snapshot = _manifest(prod_pd, "VolumeSnapshot", "model-weights-6f6073b4")
    assert snapshot["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.readyToUse}=true",
        "pulumi.com/timeoutSeconds": "5640",
    }
    assert snapshot["spec"] == {
        "volumeSnapshotClassName": "llm-model-weights-6f6073b4",
        "source": {"persistentVolumeClaimName": "model-weights-6f6073b4-fill"},
    }
    claim = _manifest(prod_pd, "PersistentVolumeClaim", "model-weights-6f6073b4")
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert claim["spec"]["dataSource"] == {
        "apiGroup": "snapshot.storage.k8s.io",
        "kind": "VolumeSnapshot",
        "name": "model-weights-6f6073b4",
    }
    serve_class = _manifest(prod_pd, "StorageClass", "llm-model-weights-6f6073b4")
    assert serve_class["allowedTopologies"][0]["matchLabelExpressions"][0]["values"] == ["us-central1-a"]
    assert "weights-fill-job" in _deps(prod_pd, "weights-pd-snapshot")
    assert "weights-pd-snapshot" in _deps(prod_pd, "weights-pd-pvc")
    assert {"weights-fill-job", "weights-pd-pvc"} <= set(_deps(prod_pd, "vllm-deployment"))
    _no_snapshot_reference(prod_pd)
    assert prod_pd.of_type("gcp:compute/disk:Disk") == []


def test_explicit_snapshot_is_an_override():
    render = render_stack("prod", ["model.weights.hyperdiskMl.sourceSnapshot=global/snapshots/mine"])
    disks = render.of_type("gcp:compute/disk:Disk")
    assert [d["inputs"]["snapshot"] for d in disks] == ["global/snapshots/mine", "global/snapshots/mine"]
    assert [m for m in render.manifests if m["kind"] == "GCPDataSource"] == []


def test_filestore_populate_job_is_awaited_before_the_server():
    render = render_stack("dev", ["model.weights.backend=filestore"])
    job = _manifest(render, "Job", "model-populate-llama-3-1-8b-instruct-0e9e39f2")
    assert job["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "4200"  # the budget's floor
    assert "pulumi.com/skipAwait" not in job["metadata"]["annotations"]
    assert "weights-populate-job" in _deps(render, "vllm-deployment")


# -- config rules ------------------------------------------------------------------------------


def test_volume_populator_refuses_an_older_gke_version():
    no_buffer = "serving.capacityBuffer.replicas=0"  # prod's active buffer needs 1.35.2 (its own rule)
    with pytest.raises(ConfigError) as err:
        load_stack_config("prod", ["cluster.minMasterVersion='1.33.1'", no_buffer])
    assert err.value.lines == [
        "platform.cluster.minMasterVersion: '1.33.1' is older than 1.33.2-gke.4780000, which the GKE Volume "
        "Populator filling model.weights.hyperdiskMl needs; raise it, or give model.weights.hyperdiskMl.sourceSnapshot"
    ]
    # An explicit snapshot needs no populator; "1.33" is an alias for the newest 1.33 patch.
    load_stack_config("prod", ["cluster.minMasterVersion='1.33.1'", "model.weights.hyperdiskMl.sourceSnapshot=s",
                               no_buffer])
    alias = load_stack_config("prod", ["cluster.minMasterVersion='1.33'", no_buffer])
    assert alias.cluster.min_master_version == "1.33"


def test_volume_populator_warns_when_the_version_is_unset():
    config = load_stack_config("prod", ["cluster.minMasterVersion=null"])
    assert (
        "platform.cluster.minMasterVersion: unset, so the cluster runs the STABLE channel's default version, which "
        "may be older than 1.33.2-gke.4780000 (GKE Volume Populator, model.weights.hyperdiskMl); set it to "
        '"1.33" or newer'
    ) in config.warnings()
    assert not any("Volume Populator" in w for w in load_stack_config("prod").warnings())


def test_persistent_disk_fill_needs_the_downloader():
    with pytest.raises(ConfigError) as err:
        load_stack_config("prod", ["model.weights.backend=persistentDisk", "model.weights.downloaderImage=null"])
    assert err.value.lines == [
        "platform.model.weights.persistentDisk.sourceSnapshot: the stack fills a Persistent Disk with the "
        "downloader, but downloaderImage is null: set downloaderImage, or give "
        "persistentDisk.sourceSnapshot/sourceImage holding the model"
    ]
