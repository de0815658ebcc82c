"""ModelDisk, FilestoreShare and ModelVolume under the recording mock engine: exact resource inputs."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from infra.filestore import FilestoreShare, FilestoreShareArgs
from infra.model_disk import ModelDisk, ModelDiskArgs, volume_handle
from tests.weights.conftest import FILESTORE_IP, record
from workloads import weights as w

ZONES = ("us-central1-a", "us-central1-c")


def hdml_args(**extra) -> ModelDiskArgs:
    base = {
        "project": "proj-1",
        "disk_name": "llama-6f6073b4",
        "zones": ZONES,
        "disk_type": "hyperdisk-ml",
        "size_gb": 300,
        "snapshot": "global/snapshots/llama-6f6073b4",
        "provisioned_throughput_mibps": 2400,
        "labels": {"stack": "prod"},
    }
    return ModelDiskArgs(**{**base, **extra})


def test_hyperdisk_ml_one_read_only_many_disk_per_zone_behind_a_multi_zone_handle():
    rec = record(lambda: ModelDisk("weights-disk", hdml_args()), settle=lambda disk: disk.volume_handle)
    disks = sorted(rec.of_type("gcp:compute/disk:Disk"), key=lambda d: d.name)
    assert [d.name for d in disks] == ["weights-disk-us-central1-a", "weights-disk-us-central1-c"]
    for disk, zone in zip(disks, ZONES, strict=True):
        assert disk.parent == "weights-disk"
        assert disk.inputs == {
            "project": "proj-1",
            "name": "llama-6f6073b4",
            "zone": zone,
            "type": "hyperdisk-ml",
            "size": 300,
            "snapshot": "global/snapshots/llama-6f6073b4",
            "accessMode": "READ_ONLY_MANY",
            "provisionedThroughput": 2400,
            "labels": {"stack": "prod", "goog-gke-multi-zone": "true"},
        }
    assert rec.settled == "projects/proj-1/zones/multi-zone/disks/llama-6f6073b4"
    assert rec.named("weights-disk").type == "gke-inference:infra:ModelDisk"


def test_single_zone_hyperdisk_uses_zonal_handle_without_multi_zone_label():
    rec = record(
        lambda: ModelDisk("d", hdml_args(zones=("us-central1-b",), labels={})), settle=lambda d: d.volume_handle
    )
    [disk] = rec.of_type("gcp:compute/disk:Disk")
    assert "labels" not in disk.inputs
    assert rec.settled == "projects/proj-1/zones/us-central1-b/disks/llama-6f6073b4"


def test_pd_ssd_from_image_in_one_zone_has_no_access_mode_or_throughput():
    args = hdml_args(
        disk_type="pd-ssd",
        zones=("us-central1-a",),
        snapshot=None,
        image="global/images/llama",
        provisioned_throughput_mibps=None,
    )
    rec = record(lambda: ModelDisk("d", args), settle=lambda d: d.volume_handle)
    [disk] = rec.of_type("gcp:compute/disk:Disk")
    assert disk.inputs == {
        "project": "proj-1",
        "name": "llama-6f6073b4",
        "zone": "us-central1-a",
        "type": "pd-ssd",
        "size": 300,
        "image": "global/images/llama",
        "labels": {"stack": "prod"},
    }
    assert rec.settled == "projects/proj-1/zones/us-central1-a/disks/llama-6f6073b4"


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"disk_type": "pd-ssd", "provisioned_throughput_mibps": None}, "zones: a pd-ssd model disk lives in one zone"),
        ({"provisioned_throughput_mibps": 100}, "provisioned_throughput_mibps: hyperdisk-ml needs at least 400"),
        ({"disk_type": "pd-balanced", "zones": ("z",)}, "only hyperdisk-ml takes it"),
        ({"image": "global/images/x"}, "exactly one source"),
        ({"snapshot": None}, "exactly one source"),
        ({"zones": ()}, "at least one zone"),
        ({"zones": ("a", "a")}, "repeats a zone"),
        ({"disk_type": "pd-standard"}, "disk_type: 'pd-standard'"),
    ],
)
def test_model_disk_args_refuse_wrong_shapes(extra, message):
    with pytest.raises(ValueError, match=message):
        hdml_args(**extra)


def test_volume_handle_forms():
    assert volume_handle("p", ("z1",), "d", False) == "projects/p/zones/z1/disks/d"
    assert volume_handle("p", ("z1", "z2"), "d", True) == "projects/p/zones/multi-zone/disks/d"


def test_filestore_instance_and_ip():
    args = FilestoreShareArgs(
        project="proj-1",
        instance_name="llama-dev-models",
        location="us-central1-a",
        network="gke-inference",
        labels={"stack": "dev"},
    )
    rec = record(lambda: FilestoreShare("fs", args), settle=lambda share: share.ip_address)
    instance = rec.named("fs-instance")
    assert instance.type == "gcp:filestore/instance:Instance"
    assert instance.inputs == {
        "project": "proj-1",
        "name": "llama-dev-models",
        "location": "us-central1-a",
        "tier": "ZONAL",
        "fileShares": {"name": "models", "capacityGb": 1024},
        "networks": [{"network": "gke-inference", "modes": ["MODE_IPV4"], "connectMode": "DIRECT_PEERING"}],
        "labels": {"stack": "dev"},
    }
    assert rec.settled == FILESTORE_IP


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"tier": "BASIC_SSD", "capacity_gb": 1024}, "capacity_gb: BASIC_SSD shares start at 2560 GB"),
        ({"tier": "REGIONAL"}, "location: a REGIONAL instance takes a region"),
        ({"location": "us-central1"}, "location: a ZONAL instance takes a zone"),
        ({"tier": "PREMIUM"}, "tier: 'PREMIUM'"),
    ],
)
def test_filestore_args_validation(extra, message):
    base = {"project": "p", "instance_name": "i", "location": "us-central1-a", "network": "n"}
    with pytest.raises(ValueError, match=message):
        FilestoreShareArgs(**{**base, **extra})


def test_model_volume_static_pv_bound_to_one_claim_with_zone_affinity():
    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        namespace = k8s.core.v1.Namespace(
            "ns", metadata={"name": "llm"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        return w.ModelVolume(
            "model-weights-6f6073b4",
            w.ModelVolumeArgs(
                namespace="llm",
                capacity_gb=300,
                access_mode="ReadOnlyMany",
                source=w.pd_source("projects/p/zones/multi-zone/disks/d"),
                zones=ZONES,
                mount_options=w.PD_MOUNT_OPTIONS,
            ),
            opts=pulumi.ResourceOptions(providers=[provider], depends_on=[namespace]),
        )

    rec = record(program)
    pv = rec.manifest("PersistentVolume", "llm-model-weights-6f6073b4")
    assert pv["spec"] == {
        "capacity": {"storage": "300Gi"},
        "accessModes": ["ReadOnlyMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "volumeMode": "Filesystem",
        "claimRef": {"namespace": "llm", "name": "model-weights-6f6073b4"},
        "csi": {
            "driver": "pd.csi.storage.gke.io",
            "volumeHandle": "projects/p/zones/multi-zone/disks/d",
            "fsType": "ext4",
            "readOnly": True,
        },
        "mountOptions": ["read_ahead_kb=4096"],
        "nodeAffinity": {
            "required": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "topology.gke.io/zone",
                                "operator": "In",
                                "values": ["us-central1-a", "us-central1-c"],
                            }
                        ]
                    }
                ]
            }
        },
    }
    pvc = rec.manifest("PersistentVolumeClaim", "model-weights-6f6073b4")
    assert pvc["metadata"]["namespace"] == "llm"
    assert pvc["spec"] == {
        "accessModes": ["ReadOnlyMany"],
        "storageClassName": "",
        "volumeName": "llm-model-weights-6f6073b4",
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "300Gi"}},
    }
    # Children wait for the component's dependencies and use the cluster provider.
    assert rec.named("model-weights-6f6073b4-pv").depends_on == ["ns"]
    assert sorted(rec.named("model-weights-6f6073b4-pvc").depends_on) == ["model-weights-6f6073b4-pv", "ns"]
    assert rec.named("model-weights-6f6073b4-pvc").provider == "k8s"
