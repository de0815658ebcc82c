"""HyperdiskMlVolume and SnapshotHydratedVolume on their own: every child with its exact inputs and the order
that makes ``up`` wait for the data, and every refusal.

The stack's use of them: tests/weights/test_populated_disks.py."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from workloads.disk_hydrate import (
    HyperdiskMlVolume,
    HyperdiskMlVolumeArgs,
    SnapshotHydratedVolume,
    SnapshotHydratedVolumeArgs,
    validate_hyperdisk_ml_volume_args,
    validate_snapshot_hydrated_volume_args,
)

LABELS = {"app.kubernetes.io/component": "model-weights"}
GSA = "pop@p.iam.gserviceaccount.com"
CLAIM = "model-weights-6f6073b4"
ZONES = ("us-central1-a", "us-central1-c")


def hdml(**change) -> HyperdiskMlVolumeArgs:
    base = HyperdiskMlVolumeArgs(namespace="llm", claim_name=CLAIM, source_uri="gs://bkt/models/m/r/",
                                 service_account_name="hdml-populator", gcp_service_account=GSA, zones=ZONES,
                                 size_gb=200, throughput_mibps=2400, timeout_seconds=3600)
    return dataclasses.replace(base, **change)


def pd(**change) -> SnapshotHydratedVolumeArgs:
    base = SnapshotHydratedVolumeArgs(namespace="llm", claim_name="mw", disk_type="pd-ssd", zone="us-central1-a",
                                      size_gb=200, access_mode="ReadOnlyMany", timeout_seconds=3000)
    return dataclasses.replace(base, **change)


def fill_job(claim: str, opts) -> k8s.batch.v1.Job:
    """A stand-in fill Job: writes claim ``claim`` (the component hands it the fill claim's name)."""
    volume = {"name": "fill", "persistentVolumeClaim": {"claimName": claim}}
    return k8s.batch.v1.Job("fill", metadata={"name": "fill"}, spec={"template": {"spec": {"volumes": [volume]}}},
                            opts=opts)


# -- Hyperdisk ML -----------------------------------------------------------------------------


def test_hyperdisk_ml_children_and_the_claim_waits_for_the_transfer(recorder):
    rec = recorder.run(lambda: HyperdiskMlVolume("w", hdml(transfer_path="models/m/r", cpu_request="8")))
    assert {(r["type"], r["name"], r["parent"], tuple(r["dependencies"])) for r in rec.resources} == {
        ("gke-inference:workloads:HyperdiskMlVolume", "w", None, ()),
        ("kubernetes:core/v1:ServiceAccount", "w-ksa", "w", ()),
        ("kubernetes:cloud.google.com/v1:ComputeClass", "w-compute-class", "w", ()),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "w-storage-class", "w", ()),
        ("kubernetes:datalayer.gke.io/v1:GCPDataSource", "w-data-source", "w", ("w-ksa",)),
        # After the data source, so Pulumi deletes the claim first (else deletion hangs).
        ("kubernetes:core/v1:PersistentVolumeClaim", "w-pvc", "w",
         ("w-compute-class", "w-data-source", "w-ksa", "w-storage-class")),
    }
    assert rec.inputs("w-ksa")["metadata"] == {"name": "hdml-populator", "namespace": "llm",
                                               "annotations": {"iam.gke.io/gcp-service-account": GSA}}
    assert rec.inputs("w-compute-class")["metadata"] == {"name": "gcs-to-hdml-compute-class", "labels": LABELS}
    assert rec.inputs("w-compute-class")["spec"] == {"priorities": [{"machineFamily": "c3"}, {"machineFamily": "c3d"}],
                                                     "whenUnsatisfiable": "DoNotScaleUp"}
    storage_class = rec.inputs("w-storage-class")
    assert storage_class["metadata"]["name"] == f"llm-{CLAIM}-hdml"
    assert storage_class["parameters"] == {"type": "hyperdisk-ml", "provisioned-throughput-on-create": "2400Mi",
                                           "enable-multi-zone-provisioning": "true"}
    assert (storage_class["volumeBindingMode"], storage_class["allowedTopologies"]) == (
        "Immediate", [{"matchLabelExpressions": [{"key": "topology.gke.io/zone", "values": list(ZONES)}]}])
    assert rec.inputs("w-data-source")["spec"] == {"cloudStorage": {"serviceAccountName": "hdml-populator",
                                                                    "uri": "gs://bkt/models/m/r/"}}
    claim = rec.inputs("w-pvc")
    assert claim["metadata"]["annotations"] == {
        "volume-populator.datalayer.gke.io/cpu-request": "8",
        "volume-populator.datalayer.gke.io/transfer-path": "models/m/r",
        "pulumi.com/waitFor": "jsonpath={.status.phase}=Bound",
        "pulumi.com/timeoutSeconds": "3600",
    }
    assert claim["spec"] == {
        "accessModes": ["ReadOnlyMany"],
        "storageClassName": f"llm-{CLAIM}-hdml",
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "200Gi"}},
        "dataSourceRef": {"apiGroup": "datalayer.gke.io", "kind": "GCPDataSource", "name": CLAIM},
    }
    assert rec.value.claim_name == CLAIM


def test_one_zone_and_no_compute_class(recorder):
    rec = recorder.run(lambda: HyperdiskMlVolume("w", hdml(zones=("us-central1-a",), compute_class_families=())))
    assert "w-compute-class" not in rec.names()
    assert rec.inputs("w-storage-class")["parameters"] == {"type": "hyperdisk-ml",
                                                           "provisioned-throughput-on-create": "2400Mi"}
    assert rec.inputs("w-pvc")["metadata"]["annotations"] == {"pulumi.com/waitFor": "jsonpath={.status.phase}=Bound",
                                                              "pulumi.com/timeoutSeconds": "3600"}


def test_hyperdisk_ml_refusals(recorder):
    def refused(**change):
        return recorder.refused(lambda: HyperdiskMlVolume("w", hdml(**change)))

    assert refused(zones="us-central1-a") == [("zones", "expected tuple[str, ...], got str 'us-central1-a'")]
    assert refused(source_uri="gs://bkt/models/m/r", zones=(), size_gb=4, throughput_mibps=100, timeout_seconds=0,
                   transfer_path="/models") == [
        ("source_uri", "'gs://bkt/models/m/r' must be gs://BUCKET/PATH/ with a trailing slash (a folder)"),
        ("zones", "empty; give at least one zone (the readers' zones)"),
        ("size_gb", "4 must exceed 4 (Hyperdisk ML size range)"),
        ("throughput_mibps", "100 must be ≥ 400 (the lowest Hyperdisk ML throughput this project provisions)"),
        ("timeout_seconds", "0 must be ≥ 1"),
        ("transfer_path", "'/models' is a folder inside the volume; drop the leading '/'"),
    ]
    assert refused(zones=("us-central1-a", "us-central1-a"), claim_name="Weights") == [
        ("claim_name", "'Weights' is not a valid claim name: at most 253 lowercase letters, digits, '-' or '.', "
                       "alphanumeric at both ends"),
        ("zones.1", "'us-central1-a' is listed twice; each zone may appear once"),
    ]


def test_hyperdisk_ml_takes_an_output_uri(recorder):
    """An Output (the bucket's name) cannot be checked before it resolves; it is passed through."""
    rec = recorder.run(lambda: HyperdiskMlVolume("w", hdml(source_uri=pulumi.Output.from_input("gs://b/p/"))))
    assert rec.inputs("w-data-source")["spec"]["cloudStorage"]["uri"] == "gs://b/p/"
    assert validate_hyperdisk_ml_volume_args(hdml(zones=("us-central1-a",))) == []


# -- Persistent Disk: fill, snapshot, restore -------------------------------------------------


def test_snapshot_hydrated_children_in_order(recorder):
    rec = recorder.run(lambda: SnapshotHydratedVolume("pd", pd(), fill_job))
    assert {(r["type"], r["name"], r["parent"], tuple(r["dependencies"])) for r in rec.resources} == {
        ("gke-inference:workloads:SnapshotHydratedVolume", "pd", None, ()),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "pd-fill-class", "pd", ()),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "pd-class", "pd", ()),
        ("kubernetes:core/v1:PersistentVolumeClaim", "pd-fill-pvc", "pd", ("pd-fill-class",)),
        ("kubernetes:batch/v1:Job", "fill", "pd", ("pd-fill-pvc",)),
        ("kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass", "pd-snapshot-class", "pd", ()),
        ("kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshot", "pd-snapshot", "pd",
         ("fill", "pd-fill-pvc", "pd-snapshot-class")),
        ("kubernetes:core/v1:PersistentVolumeClaim", "pd-pvc", "pd", ("pd-class", "pd-snapshot")),
    }
    # The fill disk lands where the Job lands; the serving disk is restored in the serving zone.
    assert rec.inputs("pd-fill-class")["volumeBindingMode"] == "WaitForFirstConsumer"
    assert "allowedTopologies" not in rec.inputs("pd-fill-class")
    assert rec.inputs("pd-class")["allowedTopologies"] == [
        {"matchLabelExpressions": [{"key": "topology.gke.io/zone", "values": ["us-central1-a"]}]}]
    assert rec.inputs("fill")["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "mw-fill"}
    assert rec.inputs("pd-snapshot-class") == {
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": "llm-mw", "labels": LABELS}, "driver": "pd.csi.storage.gke.io", "deletionPolicy": "Delete",
    }
    snapshot = rec.inputs("pd-snapshot")
    assert snapshot["metadata"]["annotations"] == {"pulumi.com/waitFor": "jsonpath={.status.readyToUse}=true",
                                                   "pulumi.com/timeoutSeconds": "3000"}
    assert snapshot["spec"] == {"volumeSnapshotClassName": "llm-mw", "source": {"persistentVolumeClaimName": "mw-fill"}}
    assert rec.inputs("pd-pvc")["spec"] == {
        "accessModes": ["ReadOnlyMany"],
        "storageClassName": "llm-mw",
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "200Gi"}},
        "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "mw"},
    }
    assert (rec.value.claim_name, rec.value.fill_claim_name) == ("mw", "mw-fill")


def test_snapshot_hydrated_refusals(recorder):
    def refused(**change):
        return recorder.refused(lambda: SnapshotHydratedVolume("pd", pd(**change), fill_job))

    assert refused(disk_type="hyperdisk-ml", access_mode="ReadWriteMany") == [
        ("disk_type", "expected 'pd-ssd' | 'pd-balanced', got str 'hyperdisk-ml'"),
        ("access_mode", "expected 'ReadOnlyMany' | 'ReadWriteOnce', got str 'ReadWriteMany'"),
    ]
    assert refused(size_gb=0, timeout_seconds=0, zone="", namespace="LLM") == [
        ("namespace", "'LLM' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at "
                      "both ends"),
        ("zone", "empty; give the serving zone"),
        ("size_gb", "0 must be ≥ 1"),
        ("timeout_seconds", "0 must be ≥ 1"),
    ]


def test_snapshot_hydrated_accepts_read_write_once():
    assert validate_snapshot_hydrated_volume_args(pd(access_mode="ReadWriteOnce", disk_type="pd-balanced")) == []
