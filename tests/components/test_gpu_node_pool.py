"""GpuNodePool: the exact NodePool inputs it registers, and the scheduling facts it exposes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.catalog import UnknownMachineType
from infra.gpu_node_pool import GpuNodePool, GpuNodePoolArgs, SecondaryBootDiskArgs

CLUSTER = "projects/p-test/locations/us-central1/clusters/c1"
SA = "nodes@p-test.iam.gserviceaccount.com"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}
IGNORED = [
    "nodeConfig.ephemeralStorageLocalSsdConfig",
    "nodeConfig.localNvmeSsdBlockConfig",
    "nodeConfig.guestAccelerators",
]

BASE = GpuNodePoolArgs(
    project="p-test",
    cluster=CLUSTER,
    location="us-central1",
    node_locations=("us-central1-a", "us-central1-b"),
    machine_type="g2-standard-8",
    service_account=SA,
)


def make(recorder, args: GpuNodePoolArgs, name: str = "l4"):
    return recorder.run(lambda: GpuNodePool(name, args))


def test_l4_spot_pool_exact_inputs(recorder):
    rec = make(recorder, replace(BASE, spot=True, max_nodes=2, labels={"team": "ml"}, resource_labels={"env": "dev"}))
    assert rec.tree() == {
        ("gke-inference:infra:GpuNodePool", "l4", None),
        ("gcp:container/nodePool:NodePool", "l4-pool", "l4"),
    }
    pool = rec.named("l4-pool")
    assert pool["ignoreChanges"] == IGNORED
    assert pool["inputs"] == {
        "project": "p-test",
        "cluster": CLUSTER,
        "location": "us-central1",
        "name": "l4",
        "nodeLocations": ["us-central1-a", "us-central1-b"],
        "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 2, "locationPolicy": "ANY"},
        "management": {"autoRepair": True, "autoUpgrade": True},
        "upgradeSettings": {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0},
        "nodeConfig": {
            "machineType": "g2-standard-8",
            "imageType": "COS_CONTAINERD",
            "diskType": "pd-balanced",
            "diskSizeGb": 200,
            "spot": True,
            "serviceAccount": SA,
            "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "guestAccelerators": [
                {"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
            ],
            "gcfsConfig": {"enabled": True},
            "gvnic": {"enabled": True},
            "ephemeralStorageLocalSsdConfig": {"localSsdCount": 1},
            "reservationAffinity": {"consumeReservationType": "NO_RESERVATION"},
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "taints": [GPU_TAINT, SPOT_TAINT],
            "labels": {"gke-inference/pool": "l4", "team": "ml"},
            "resourceLabels": {"env": "dev"},
        },
    }


def test_scheduling_selects_the_pool_and_tolerates_its_taints(recorder):
    spot = make(recorder, replace(BASE, spot=True)).value
    assert spot.scheduling.node_selector == {
        "cloud.google.com/gke-nodepool": "l4",
        "cloud.google.com/gke-accelerator": "nvidia-l4",
    }
    assert spot.scheduling.tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    ]
    on_demand = make(recorder, replace(BASE, machine_type="a3-highgpu-8g", local_ssd_count=16), name="h100").value
    assert on_demand.scheduling.node_selector == {
        "cloud.google.com/gke-nodepool": "h100",
        "cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
    }
    assert on_demand.scheduling.tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]


def test_on_demand_pool_has_only_the_gpu_taint(recorder):
    config = make(recorder, BASE).inputs("l4-pool")["nodeConfig"]
    assert (config["spot"], config["taints"]) == (False, [GPU_TAINT])


def test_pool_name_output(recorder):
    rec = make(recorder, BASE)
    assert rec.resolve(rec.value.pool_name) == "l4"


def test_a3_pool_with_image_cache_nvme_ssd_and_specific_reservation(recorder):
    args = replace(
        BASE,
        machine_type="a3-highgpu-8g",
        node_locations=("us-central1-a",),
        min_nodes=1,
        max_nodes=3,
        per_zone_limits=True,
        location_policy="BALANCED",
        local_ssd_mode="nvmeBlock",
        local_ssd_count=16,
        secondary_boot_disks=(SecondaryBootDiskArgs("projects/img/global/images/vllm-cache"),),
        reservation_type="SPECIFIC_RESERVATION",
        reservation_name="h100-block",
        gpu_driver_version="LATEST",
        secure_boot=False,
        disk_type="pd-ssd",
    )
    inputs = make(recorder, args, name="h100").inputs("h100-pool")
    config = inputs["nodeConfig"]
    assert inputs["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 3, "locationPolicy": "BALANCED"}
    assert config["guestAccelerators"] == [
        {"type": "nvidia-h100-80gb", "count": 8, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
    ]
    assert config["secondaryBootDisks"] == [
        {"diskImage": "projects/img/global/images/vllm-cache", "mode": "CONTAINER_IMAGE_CACHE"}
    ]
    assert config["gcfsConfig"] == {"enabled": True}
    assert config["localNvmeSsdBlockConfig"] == {"localSsdCount": 16}
    assert "ephemeralStorageLocalSsdConfig" not in config
    assert config["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION",
        "key": "compute.googleapis.com/reservation-name",
        "values": ["h100-block"],
    }
    assert config["shieldedInstanceConfig"] == {"enableSecureBoot": False, "enableIntegrityMonitoring": True}
    assert config["diskType"] == "pd-ssd"


def test_data_mode_disk_has_no_mode_and_no_local_ssd(recorder):
    args = replace(
        BASE,
        secondary_boot_disks=(SecondaryBootDiskArgs("global/images/weights", mode="DATA"),),
        local_ssd_mode="none",
        image_streaming=False,
        workload_metadata="GCE_METADATA",
    )
    config = make(recorder, args).inputs("l4-pool")["nodeConfig"]
    assert config["secondaryBootDisks"] == [{"diskImage": "global/images/weights"}]
    assert "ephemeralStorageLocalSsdConfig" not in config and "localNvmeSsdBlockConfig" not in config
    assert config["gcfsConfig"] == {"enabled": False}
    assert config["workloadMetadataConfig"] == {"mode": "GCE_METADATA"}


def test_any_reservation_sets_no_key_or_values(recorder):
    config = make(recorder, replace(BASE, reservation_type="ANY_RESERVATION")).inputs("l4-pool")["nodeConfig"]
    assert config["reservationAffinity"] == {"consumeReservationType": "ANY_RESERVATION"}


def test_queued_provisioning_turns_off_auto_repair(recorder):
    inputs = make(recorder, replace(BASE, queued_provisioning=True)).inputs("l4-pool")
    assert inputs["queuedProvisioning"] == {"enabled": True}
    assert inputs["management"] == {"autoRepair": False, "autoUpgrade": True}


def test_compact_placement_policy(recorder):
    inputs = make(recorder, replace(BASE, compact_placement_policy="l4-compact")).inputs("l4-pool")
    assert inputs["placementPolicy"] == {"type": "COMPACT", "policyName": "l4-compact"}
    assert "placementPolicy" not in make(recorder, BASE).inputs("l4-pool")


def test_gpu_sharing_and_mig(recorder):
    shared = make(recorder, replace(BASE, gpu_sharing_strategy="MPS", max_shared_clients_per_gpu=4)).inputs("l4-pool")
    assert shared["nodeConfig"]["guestAccelerators"][0]["gpuSharingConfig"] == {
        "gpuSharingStrategy": "MPS",
        "maxSharedClientsPerGpu": 4,
    }
    mig = make(recorder, replace(BASE, machine_type="a2-highgpu-1g", gpu_partition_size="1g.5gb")).inputs("l4-pool")
    assert mig["nodeConfig"]["guestAccelerators"] == [
        {
            "type": "nvidia-tesla-a100",
            "count": 1,
            "gpuPartitionSize": "1g.5gb",
            "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
        }
    ]


def test_n1_pool_attaches_the_chosen_t4_count(recorder):
    rec = make(recorder, replace(BASE, machine_type="n1-standard-16", gpu_count=4), name="t4")
    assert rec.inputs("t4-pool")["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-tesla-t4"
    assert rec.inputs("t4-pool")["nodeConfig"]["guestAccelerators"][0]["count"] == 4
    assert rec.value.machine.gpu_count == 4


@pytest.mark.parametrize(
    ("machine", "mode", "count"),
    [
        ("a3-highgpu-8g", "ephemeral", 16),
        ("a3-ultragpu-8g", "nvmeBlock", 32),
        ("a2-ultragpu-2g", "ephemeral", 2),
        ("g2-standard-96", "ephemeral", 1),
    ],
)
def test_local_ssd_count_defaults_to_the_machine(recorder, machine, mode, count):
    rec = make(recorder, replace(BASE, machine_type=machine, local_ssd_mode=mode))
    key = "ephemeralStorageLocalSsdConfig" if mode == "ephemeral" else "localNvmeSsdBlockConfig"
    assert rec.inputs("l4-pool")["nodeConfig"][key] == {"localSsdCount": count}
    assert rec.value.local_ssd_count == count


@pytest.mark.parametrize(
    ("machine", "mode", "count", "message"),
    [
        (
            "a3-highgpu-8g",
            "ephemeral",
            8,
            "local_ssd_count: a3-highgpu-8g comes with exactly 16 Local SSDs; pass 16 or None",
        ),
        ("g2-standard-8", "nvmeBlock", 2, "local_ssd_count: g2-standard-8 takes 1 to 1 Local SSDs, got 2"),
        ("g2-standard-8", "ephemeral", 0, "local_ssd_count: g2-standard-8 takes 1 to 1 Local SSDs, got 0"),
        (
            "a3-ultragpu-8g-nolssd",
            "ephemeral",
            None,
            "local_ssd_mode: a3-ultragpu-8g-nolssd has no Local SSD; use local_ssd_mode='none'",
        ),
    ],
)
def test_local_ssd_count_checked_against_the_machine(recorder, machine, mode, count, message):
    with pytest.raises(ValueError) as caught:
        make(recorder, replace(BASE, machine_type=machine, local_ssd_mode=mode, local_ssd_count=count))
    assert str(caught.value) == message


def test_machine_without_gpus_fails_before_the_node_pool_is_created(recorder):
    with pytest.raises(UnknownMachineType, match="'n2-standard-8' cannot carry GPUs on GKE"):
        make(recorder, replace(BASE, machine_type="n2-standard-8"))
