"""GpuNodePool: the exact NodePool inputs it registers, and the scheduling facts it exposes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pulumi.errors import InputPropertiesError

from infra import catalog, zones
from infra.gpu_node_pool import GpuNodePool, GpuNodePoolArgs, SecondaryBootDiskArgs, validate_gpu_node_pool_args
from infra.validation import ComponentArgsError

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
    one_zone = replace(BASE, compact_placement_policy="l4-compact", node_locations=("us-central1-a",))
    inputs = make(recorder, one_zone).inputs("l4-pool")
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


def offering(machine: str) -> tuple[str, ...]:
    """The first zone of us-central1 that offers ``machine``'s GPU (infra/zones.py)."""
    return zones.gpu_zones(catalog.lookup(machine).accelerator, "us-central1")[:1]


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
    rec = make(recorder, replace(BASE, machine_type=machine, local_ssd_mode=mode, node_locations=offering(machine)))
    key = "ephemeralStorageLocalSsdConfig" if mode == "ephemeral" else "localNvmeSsdBlockConfig"
    assert rec.inputs("l4-pool")["nodeConfig"][key] == {"localSsdCount": count}
    assert rec.value.local_ssd_count == count


@pytest.mark.parametrize(
    ("machine", "mode", "count", "problem"),
    [
        ("a3-highgpu-8g", "ephemeral", 8, ("local_ssd_count", "a3-highgpu-8g comes with exactly 16 bundled Local "
                                                              "SSDs; set local_ssd_count to 16 or leave it unset")),
        ("g2-standard-8", "nvmeBlock", 2, ("local_ssd_count", "g2-standard-8 takes at most 1 Local SSD(s), got 2")),
        ("g2-standard-8", "ephemeral", 0, ("local_ssd_count", "0 with a Local SSD mode: set local_ssd_mode to none "
                                                              "instead")),
        ("g2-standard-8", "none", 1, ("local_ssd_count", "set but local_ssd_mode is none: pick one Local SSD mode")),
        ("a3-ultragpu-8g-nolssd", "ephemeral", None, ("local_ssd_mode", "a3-ultragpu-8g-nolssd has no Local SSD; set "
                                                                        "local_ssd_mode to none")),
    ],
)
def test_local_ssd_count_checked_against_the_machine(recorder, machine, mode, count, problem):
    args = replace(BASE, machine_type=machine, local_ssd_mode=mode, local_ssd_count=count,
                   node_locations=offering(machine))
    assert recorder.refused(lambda: GpuNodePool("l4", args)) == [problem]


def test_machine_without_gpus_fails_before_the_node_pool_is_created(recorder):
    [(path, reason)] = recorder.refused(lambda: GpuNodePool("l4", replace(BASE, machine_type="n2-standard-8")))
    assert path == "machine_type"
    assert reason.startswith("'n2-standard-8' cannot carry GPUs on GKE")


# -- one test per rule: the component refuses what the stack config refuses ----------------------

RULES = [
    ("gpu count fixed by the shape", dict(machine_type="a3-highgpu-8g", gpu_count=4, local_ssd_count=16),
     [("gpu_count", "a3-highgpu-8g carries exactly 8 GPU(s); remove gpu_count or pick another machine type")]),
    ("N1 T4 counts", dict(machine_type="n1-standard-16", gpu_count=3),
     [("gpu_count", "N1 pools attach 1, 2 or 4 T4 GPUs; set gpu_count to one of those")]),
    ("MIG profile of the GPU", dict(gpu_partition_size="1g.10gb"),
     [("gpu_partition_size", "'1g.10gb' is not a MIG profile of L4: none (this GPU has no MIG)")]),
    ("one secondary boot disk", dict(secondary_boot_disks=(SecondaryBootDiskArgs("global/images/a"),
                                                           SecondaryBootDiskArgs("global/images/b"))),
     [("secondary_boot_disks", "at most one disk per pool; pulumi-gcp#3418 (a list of several secondary boot disks "
                               "is reordered and forces a replacement on every update) is not shown fixed in "
                               "pulumi-gcp 10.2.0")]),
    ("disk image format", dict(secondary_boot_disks=(SecondaryBootDiskArgs("images/cache"),)),
     [("secondary_boot_disks.0.disk_image", "'images/cache' must be global/images/NAME or "
                                            "projects/PROJECT/global/images/NAME")]),
    ("image cache needs image streaming", dict(secondary_boot_disks=(SecondaryBootDiskArgs("global/images/c"),),
                                               image_streaming=False),
     [("image_streaming", "secondary_boot_disks in CONTAINER_IMAGE_CACHE mode need image_streaming true (GKE serves "
                          "the cache through image streaming)")]),
    ("image streaming needs COS", dict(image_type="UBUNTU_CONTAINERD"),
     [("image_type", "image_streaming needs COS_CONTAINERD, not UBUNTU_CONTAINERD")]),
    ("min ≤ max", dict(min_nodes=3, max_nodes=2), [("min_nodes", "min_nodes (3) must be ≤ max_nodes (2)")]),
    ("spot ⇒ no reservation", dict(spot=True, reservation_type="ANY_RESERVATION"),
     [("reservation_type", "Spot pools cannot consume reservations; set reservation_type to NO_RESERVATION")]),
    ("specific reservation needs a name", dict(reservation_type="SPECIFIC_RESERVATION"),
     [("reservation_name", "required for SPECIFIC_RESERVATION")]),
    ("reservation name only for specific", dict(reservation_type="ANY_RESERVATION", reservation_name="block"),
     [("reservation_name", "applies only to SPECIFIC_RESERVATION, not ANY_RESERVATION")]),
    ("compact ⇒ one zone", dict(compact_placement_policy="l4-compact"),
     [("node_locations", "compact placement needs exactly one zone: set node_locations to a single zone")]),
    ("DWS not with spot", dict(queued_provisioning=True, spot=True),
     [("queued_provisioning", "cannot be combined with spot")]),
    ("DWS not with compact", dict(queued_provisioning=True, compact_placement_policy="p",
                                  node_locations=("us-central1-a",)),
     [("queued_provisioning", "cannot be combined with compact_placement_policy")]),
    ("DWS without reservations", dict(queued_provisioning=True, reservation_type="ANY_RESERVATION"),
     [("reservation_type", "queued_provisioning needs NO_RESERVATION")]),
    ("DWS min 0", dict(queued_provisioning=True, min_nodes=1, max_nodes=2),
     [("min_nodes", "queued_provisioning needs min_nodes 0 (nodes come from ProvisioningRequests)")]),
    ("sharing needs clients 2–48", dict(gpu_sharing_strategy="MPS"),
     [("max_shared_clients_per_gpu", "GKE needs 2–48 whenever gpu_sharing_strategy is set, got None")]),
    ("clients need a strategy", dict(max_shared_clients_per_gpu=4),
     [("max_shared_clients_per_gpu", "set without gpu_sharing_strategy: set both or neither")]),
    ("zones in the cluster's region", dict(node_locations=("us-central1-a", "us-east4-b")),
     [("node_locations", "'us-east4-b' is not in the cluster's region us-central1 (location)")]),
    ("enums from container.v1", dict(location_policy="FAST", gpu_driver_version="SPECIFIC",
                                     workload_metadata="NONE"),
     [("location_policy", "'FAST' is not one of ANY, BALANCED"),
      ("gpu_driver_version", "'SPECIFIC' is not one of DEFAULT, LATEST, INSTALLATION_DISABLED"),
      ("workload_metadata", "'NONE' is not one of GKE_METADATA, GCE_METADATA")]),
    ("boot disk size", dict(disk_size_gb=10), [("disk_size_gb", "10 GB: GKE boot disks are at least 15 GB")]),
    ("labels", dict(labels={"team/": "ml"}, resource_labels={"Env": "dev"}),
     [("labels.team/", "'team/' is not a Kubernetes label key: [prefix/]name, name ≤ 63 alphanumerics, '-', '_' or "
                       "'.', alphanumeric at both ends"),
      ("resource_labels.Env", "label key 'Env' must be 1–63 lowercase letters, digits, '_' or '-', starting with a "
                              "lowercase letter")]),
    ("argument types", dict(node_locations="us-central1-a", min_nodes="0"),
     [("node_locations", "expected tuple[str, ...], got str 'us-central1-a'"),
      ("min_nodes", "expected int, got str '0'")]),
]


@pytest.mark.parametrize(("rule", "changes", "problems"), RULES, ids=[r[0] for r in RULES])
def test_each_rule_refuses_before_anything_is_registered(recorder, rule, changes, problems):
    assert recorder.refused(lambda: GpuNodePool("l4", replace(BASE, **changes))) == problems


def test_one_error_lists_every_problem(recorder):
    args = replace(BASE, spot=True, reservation_type="ANY_RESERVATION", min_nodes=2, max_nodes=1)
    with pytest.raises(ComponentArgsError) as caught:
        recorder.run(lambda: GpuNodePool("l4", args))
    assert str(caught.value).splitlines() == [
        "GpuNodePool 'l4': 2 invalid arguments, nothing was created:",
        "  min_nodes: min_nodes (2) must be ≤ max_nodes (1)",
        "  reservation_type: Spot pools cannot consume reservations; set reservation_type to NO_RESERVATION",
    ]
    assert isinstance(caught.value, InputPropertiesError)


def test_an_output_disk_image_is_not_checked_now(recorder):
    import pulumi

    def program():
        disk = SecondaryBootDiskArgs(pulumi.Output.from_input("built-later"))
        return validate_gpu_node_pool_args(replace(BASE, secondary_boot_disks=(disk,)))

    assert recorder.run(program).value == []


# -- the cluster as a component ---------------------------------------------------------------

EXISTING_ID = "projects/p-test/locations/europe-west4/clusters/shared"


def _existing_cluster(recorder):
    from infra.cluster import ExistingClusterArgs, GkeCluster

    recorder.call_results["gcp:container/getCluster:getCluster"] = {
        "id": EXISTING_ID, "endpoint": "198.51.100.7", "masterAuths": [{"clusterCaCertificate": "Q0E="}],
    }
    return GkeCluster("gke", ExistingClusterArgs(project="p-test", name="shared", location="europe-west4"))


def test_a_gke_cluster_gives_the_pool_its_project_location_and_id(recorder):
    def program():
        cluster = _existing_cluster(recorder)
        return GpuNodePool("l4", GpuNodePoolArgs(cluster=cluster, node_locations=("europe-west4-a",),
                                                 machine_type="g2-standard-8", service_account=SA))

    rec = recorder.run(program)
    pool = rec.inputs("l4-pool")
    assert (pool["project"], pool["location"], pool["cluster"]) == ("p-test", "europe-west4", EXISTING_ID)
    # Waiting for a component is waiting for its children: an existing cluster's handle has only its provider.
    assert rec.named("l4-pool")["dependencies"] == ["gke-k8s"]


def test_a_cluster_id_needs_project_and_location(recorder):
    args = GpuNodePoolArgs(cluster=CLUSTER, node_locations=("us-central1-a",), machine_type="g2-standard-8",
                           service_account=SA)
    assert recorder.refused(lambda: GpuNodePool("l4", args)) == [
        ("project", "required when cluster is an id or name (a GkeCluster carries it)"),
        ("location", "required when cluster is an id or name (a GkeCluster carries it)"),
    ]


def test_a_gke_cluster_with_another_location_is_refused(recorder):
    def program():
        cluster = _existing_cluster(recorder)
        GpuNodePool("l4", GpuNodePoolArgs(cluster=cluster, location="us-central1", node_locations=("us-central1-a",),
                                          machine_type="g2-standard-8", service_account=SA))

    from infra.validation import ComponentArgsError

    with pytest.raises(ComponentArgsError) as caught:
        recorder.run(program)
    assert caught.value.problems == [
        ("location", "'us-central1' differs from the cluster's location 'europe-west4'; leave it unset")
    ]
    assert "l4-pool" not in recorder.registered_by_last_run()


def test_existing_pool_shape_matches_what_the_component_exposes(recorder):
    from infra.gpu_node_pool import PoolShape

    pool = make(recorder, replace(BASE, spot=True)).value
    shape = PoolShape.existing("l4", "g2-standard-8", spot=True, ephemeral_local_ssd=True)
    assert (shape.machine, shape.scheduling, shape.ephemeral_local_ssd) == (
        pool.machine, pool.scheduling, pool.ephemeral_local_ssd
    )


def test_the_pool_tells_workloads_whether_its_gpus_are_whole(recorder):
    assert make(recorder, BASE).value.shared_gpus is None
    mig = make(recorder, replace(BASE, machine_type="a2-highgpu-1g", gpu_partition_size="1g.5gb")).value
    assert mig.shared_gpus == "MIG partitions (1g.5gb)" and mig.queued_provisioning is False


def test_the_pool_tells_workloads_how_many_nodes_it_can_hold(recorder):
    # max_nodes is a total unless per_zone_limits, then it is per zone (BASE has two zones)
    assert make(recorder, replace(BASE, max_nodes=3)).value.max_nodes == 3
    assert make(recorder, replace(BASE, max_nodes=3, per_zone_limits=True)).value.max_nodes == 6
