"""One test per cross-field rule of ``StackConfig`` (reference/gke-iac-reference.md §3 and §8).

Each test starts from a committed, valid stack file (``Pulumi.dev.yaml``: one spot g2-standard-8
pool ``l4-spot``; ``Pulumi.prod.yaml``: a3-highgpu-8g pools ``h100`` and ``h100-spot``), changes one
thing, and asserts the exact line ``StackConfig.parse`` reports: full field path, then message.
"""

from __future__ import annotations

from typing import Any

import pytest

from stack.config import ConfigError, StackConfig

POOL = "platform.gpuPools.l4-spot"


def errors(raw: dict[str, Any]) -> list[str]:
    """The lines of the ConfigError that parsing ``raw`` must raise."""
    with pytest.raises(ConfigError) as caught:
        StackConfig.parse(raw)
    assert str(caught.value) == "\n".join(caught.value.lines)
    return caught.value.lines


def l4(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["gpuPools"]["l4-spot"]


def test_committed_stacks_are_valid(dev_raw, prod_raw):
    dev, prod = StackConfig.parse(dev_raw), StackConfig.parse(prod_raw)
    assert dev.gpu_pools["l4-spot"].machine().accelerator == "nvidia-l4"
    assert prod.gpu_pools["h100"].local_ssd_count() == 16
    assert prod.gpus_per_replica() == 8


# -- secondary boot disks and image streaming (§3.1, §3.2) -----------------------------------


def test_image_cache_disk_needs_image_streaming(dev_raw):
    l4(dev_raw).update(secondaryBootDisks=[{"diskImage": "global/images/cache"}], imageStreaming=False)
    assert errors(dev_raw) == [
        (
            f"{POOL}.imageStreaming: gpuPools.l4-spot.secondaryBootDisks in CONTAINER_IMAGE_CACHE mode need "
            "gpuPools.l4-spot.imageStreaming true (GKE serves the cache through image streaming)"
        )
    ]


def test_data_mode_disk_does_not_need_image_streaming(dev_raw):
    l4(dev_raw).update(secondaryBootDisks=[{"diskImage": "global/images/data", "mode": "DATA"}], imageStreaming=False)
    assert StackConfig.parse(dev_raw).gpu_pools["l4-spot"].secondary_boot_disks[0].mode == "DATA"


def test_image_streaming_needs_cos_containerd(dev_raw):
    l4(dev_raw)["imageType"] = "UBUNTU_CONTAINERD"
    assert errors(dev_raw) == [
        f"{POOL}.imageType: gpuPools.l4-spot.imageStreaming needs COS_CONTAINERD, not UBUNTU_CONTAINERD"
    ]


def test_at_most_one_secondary_boot_disk(dev_raw):
    l4(dev_raw)["secondaryBootDisks"] = [{"diskImage": "global/images/a"}, {"diskImage": "global/images/b"}]
    assert errors(dev_raw) == [
        (
            f"{POOL}.secondaryBootDisks: at most one disk per pool; pulumi-gcp#3418 (a list of several secondary boot "
            "disks is reordered and forces a replacement on every update) is not shown fixed in pulumi-gcp 10.2.0"
        )
    ]


@pytest.mark.parametrize(
    "image", ["images/cache", "global/images/Cache", "projects//global/images/c", "global/images/"]
)
def test_disk_image_format(dev_raw, image):
    l4(dev_raw)["secondaryBootDisks"] = [{"diskImage": image}]
    assert errors(dev_raw) == [
        (
            f"{POOL}.secondaryBootDisks.0.diskImage: '{image}' must be global/images/NAME or "
            "projects/PROJECT/global/images/NAME"
        )
    ]


def test_disk_image_from_another_project_is_accepted(dev_raw):
    l4(dev_raw)["secondaryBootDisks"] = [{"diskImage": "projects/image-factory/global/images/vllm-cache"}]
    assert StackConfig.parse(dev_raw).gpu_pools["l4-spot"].secondary_boot_disks[0].disk_image == (
        "projects/image-factory/global/images/vllm-cache"
    )


@pytest.mark.parametrize("version", ["1.28.2", "1.27", "1.28.3-gke.1066999"])
def test_secondary_boot_disk_min_gke_version(prod_raw, version):
    prod_raw["cluster"]["minMasterVersion"] = version
    # Both prod pools carry a disk; the first failing pool is reported.
    assert errors(prod_raw) == [
        "platform.gpuPools.h100.secondaryBootDisks: need GKE 1.28.3-gke.1067000+; raise cluster.minMasterVersion"
    ]


@pytest.mark.parametrize("version", ["1.28", "1.28.3-gke.1067000", "1.33"])
def test_secondary_boot_disk_version_boundary_accepted(prod_raw, version):
    prod_raw["cluster"]["minMasterVersion"] = version
    # a snapshot-backed Hyperdisk ML, so the Volume Populator's own 1.33.2 minimum does not apply
    prod_raw["model"]["weights"]["hyperdiskMl"]["sourceSnapshot"] = "projects/gke-inference-prod/global/snapshots/w"
    del prod_raw["serving"]["capacityBuffer"]  # an active buffer needs 1.35.2 (its own rule, tested elsewhere)
    assert StackConfig.parse(prod_raw).cluster.min_master_version == version


# -- Local SSD (§3.3) ------------------------------------------------------------------------


def test_one_local_ssd_mode_count_with_mode_none(dev_raw):
    l4(dev_raw)["localSsd"] = {"mode": "none", "count": 1}
    assert errors(dev_raw) == [
        f"{POOL}.localSsd.count: set but gpuPools.l4-spot.localSsd.mode is none: pick one Local SSD mode"
    ]


def test_bundled_ssd_count_of_a3_highgpu_8g_is_16(prod_raw):
    prod_raw["gpuPools"]["h100"]["localSsd"] = {"mode": "ephemeral", "count": 8}
    assert errors(prod_raw) == [
        (
            "platform.gpuPools.h100.localSsd.count: a3-highgpu-8g comes with exactly 16 bundled Local SSDs; "
            "set gpuPools.h100.localSsd.count to 16 or leave it unset"
        )
    ]


def test_bundled_ssd_count_16_is_accepted(prod_raw):
    prod_raw["gpuPools"]["h100"]["localSsd"] = {"mode": "nvmeBlock", "count": 16}
    assert StackConfig.parse(prod_raw).gpu_pools["h100"].local_ssd_count() == 16


def test_g2_local_ssd_maximum(dev_raw):
    l4(dev_raw)["localSsd"] = {"mode": "ephemeral", "count": 2}
    assert errors(dev_raw) == [f"{POOL}.localSsd.count: g2-standard-8 takes at most 1 Local SSD(s), got 2"]


def test_zero_local_ssds_with_a_mode_on_g2(dev_raw):
    l4(dev_raw)["localSsd"] = {"mode": "ephemeral", "count": 0}
    assert errors(dev_raw) == [
        f"{POOL}.localSsd.count: 0 with a Local SSD mode: set gpuPools.l4-spot.localSsd.mode to none instead"
    ]


def test_nolssd_machine_refuses_a_local_ssd_mode(prod_raw):
    prod_raw["gpuPools"]["h100"].update(machineType="a3-ultragpu-8g-nolssd", zones=["us-central1-b"])  # H200's zone
    assert errors(prod_raw) == [
        "platform.gpuPools.h100.localSsd.mode: a3-ultragpu-8g-nolssd has no Local SSD; set "
        "gpuPools.h100.localSsd.mode to none"
    ]


# -- GPUs (§3.4) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "gpu_count", "fixed"),
    [("g2-standard-8", 2, 1), ("a2-highgpu-2g", 4, 2), ("a3-highgpu-8g", 4, 8), ("a4-highgpu-8g", 1, 8)],
)
def test_fixed_gpu_count_of_accelerator_optimized_shapes(dev_raw, machine, gpu_count, fixed):
    l4(dev_raw).update(machineType=machine, gpuCount=gpu_count, localSsd={"mode": "none"}, zones=["us-central1-b"])
    assert errors(dev_raw) == [
        f"{POOL}.gpuCount: {machine} carries exactly {fixed} GPU(s); remove gpuPools.l4-spot.gpuCount or pick "
        "another machine type"
    ]


def test_matching_gpu_count_is_accepted(prod_raw):
    prod_raw["gpuPools"]["h100"]["gpuCount"] = 8
    assert StackConfig.parse(prod_raw).gpu_pools["h100"].machine().gpu_count == 8


@pytest.mark.parametrize("gpu_count", [None, 3, 8])
def test_n1_gpu_counts_are_1_2_or_4(dev_raw, gpu_count):
    l4(dev_raw).update(machineType="n1-standard-16", gpuCount=gpu_count)
    assert errors(dev_raw) == [
        f"{POOL}.gpuCount: N1 pools attach 1, 2 or 4 T4 GPUs; set gpuPools.l4-spot.gpuCount to one of those"
    ]


def test_n1_with_two_t4s_is_accepted(dev_raw):
    l4(dev_raw).update(machineType="n1-standard-16", gpuCount=2)
    dev_raw["model"].update(id="Qwen/Qwen2.5-1.5B-Instruct", parametersBillions=1.5)
    dev_raw["serving"]["vllm"]["tensorParallelSize"] = 2
    dev_raw["models"]["qwen"]["serving"]["vllm"]["tensorParallelSize"] = 2  # a model's GPU split is its own
    machine = StackConfig.parse(dev_raw).gpu_pools["l4-spot"].machine()
    assert (machine.accelerator, machine.gpu_count) == ("nvidia-tesla-t4", 2)


def test_gpus_only_on_n1_and_accelerator_optimized(dev_raw):
    l4(dev_raw)["machineType"] = "n2-standard-8"
    assert errors(dev_raw) == [
        (
            f"{POOL}.machineType: 'n2-standard-8' cannot carry GPUs on GKE: GPUs attach only to N1 (T4) and "
            "accelerator-optimized machines (g2-*, a2-*, a3-*, a4-*); use e.g. g2-standard-8 for one L4"
        )
    ]


def test_mig_profile_must_belong_to_the_gpu(prod_raw):
    prod_raw["gpuPools"]["h100"]["gpuPartitionSize"] = "1g.5gb"
    assert errors(prod_raw) == [
        (
            "platform.gpuPools.h100.gpuPartitionSize: '1g.5gb' is not a MIG profile of H100 80GB: "
            "1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 7g.80gb"
        )
    ]


def test_mig_on_a_gpu_without_mig(dev_raw):
    l4(dev_raw)["gpuPartitionSize"] = "1g.10gb"
    assert errors(dev_raw) == [
        f"{POOL}.gpuPartitionSize: '1g.10gb' is not a MIG profile of L4: none (this GPU has no MIG)"
    ]


@pytest.mark.parametrize("clients", [1, 49])
def test_gpu_sharing_clients_range(dev_raw, clients):
    l4(dev_raw)["gpuSharing"] = {"strategy": "MPS", "maxSharedClientsPerGpu": clients}
    bound = "greater than or equal to 2" if clients < 2 else "less than or equal to 48"
    assert errors(dev_raw) == [f"{POOL}.gpuSharing.maxSharedClientsPerGpu: Input should be {bound}"]


# -- provisioning models (§3.5) --------------------------------------------------------------


def test_spot_cannot_consume_reservations(dev_raw):
    l4(dev_raw)["reservation"] = {"type": "ANY_RESERVATION"}
    assert errors(dev_raw) == [
        f"{POOL}.reservation.type: Spot pools cannot consume reservations; set gpuPools.l4-spot.reservation.type to "
        "NO_RESERVATION"
    ]


def test_compact_placement_needs_one_zone(dev_raw):
    l4(dev_raw).update(compactPlacement=True, zones=["us-central1-a", "us-central1-b"])
    assert errors(dev_raw) == [
        f"{POOL}.zones: compact placement needs exactly one zone: set gpuPools.l4-spot.zones to a single zone"
    ]


def test_compact_placement_in_one_zone_is_accepted(dev_raw):
    l4(dev_raw).update(compactPlacement=True, zones=["us-central1-b"])
    assert StackConfig.parse(dev_raw).pool_zones("l4-spot") == ["us-central1-b"]


def test_queued_provisioning_not_with_spot(dev_raw):
    l4(dev_raw)["queuedProvisioning"] = True
    assert errors(dev_raw) == [f"{POOL}.queuedProvisioning: cannot be combined with gpuPools.l4-spot.spot"]


def test_queued_provisioning_not_with_compact_placement(dev_raw):
    l4(dev_raw).update(queuedProvisioning=True, spot=False, compactPlacement=True, zones=["us-central1-a"])
    assert errors(dev_raw) == [
        f"{POOL}.queuedProvisioning: cannot be combined with gpuPools.l4-spot.compactPlacement"
    ]


def test_queued_provisioning_not_with_reservations(dev_raw):
    l4(dev_raw).update(queuedProvisioning=True, spot=False, reservation={"type": "ANY_RESERVATION"})
    assert errors(dev_raw) == [f"{POOL}.reservation.type: gpuPools.l4-spot.queuedProvisioning needs NO_RESERVATION"]


def test_queued_provisioning_needs_min_nodes_zero(dev_raw):
    l4(dev_raw).update(queuedProvisioning=True, spot=False, autoscaling={"minNodes": 1, "maxNodes": 2})
    assert errors(dev_raw) == [
        (
            f"{POOL}.autoscaling.minNodes: gpuPools.l4-spot.queuedProvisioning needs "
            "gpuPools.l4-spot.autoscaling.minNodes 0 (nodes come from ProvisioningRequests)"
        )
    ]


def test_specific_reservation_needs_a_name(prod_raw):
    prod_raw["gpuPools"]["h100"]["reservation"] = {"type": "SPECIFIC_RESERVATION"}
    assert errors(prod_raw) == ["platform.gpuPools.h100.reservation.name: required for SPECIFIC_RESERVATION"]


def test_reservation_name_only_for_specific(prod_raw):
    prod_raw["gpuPools"]["h100"]["reservation"] = {"type": "ANY_RESERVATION", "name": "h100-block"}
    assert errors(prod_raw) == [
        "platform.gpuPools.h100.reservation.name: applies only to SPECIFIC_RESERVATION, not ANY_RESERVATION"
    ]


def test_autoscaling_min_le_max(dev_raw):
    l4(dev_raw)["autoscaling"] = {"minNodes": 3, "maxNodes": 2}
    assert errors(dev_raw) == [
        f"{POOL}.autoscaling.minNodes: gpuPools.l4-spot.autoscaling.minNodes (3) must be ≤ "
        "gpuPools.l4-spot.autoscaling.maxNodes (2)"
    ]


def test_system_pool_min_le_max(dev_raw):
    dev_raw["cluster"]["systemPool"] = {"minNodes": 4, "maxNodes": 3}
    assert errors(dev_raw) == [
        "platform.cluster.systemPool.minNodes: cluster.systemPool.minNodes (4) must be ≤ "
        "cluster.systemPool.maxNodes (3)"
    ]


def test_per_zone_flag(dev_raw):
    l4(dev_raw)["autoscaling"] = {"minNodes": 0, "maxNodes": 2, "perZone": True, "locationPolicy": "BALANCED"}
    autoscaling = StackConfig.parse(dev_raw).gpu_pools["l4-spot"].autoscaling
    assert (autoscaling.per_zone, autoscaling.location_policy) == (True, "BALANCED")
    l4(dev_raw)["autoscaling"]["perZone"] = "sometimes"
    assert errors(dev_raw) == [
        f"{POOL}.autoscaling.perZone: Input should be a valid boolean, unable to interpret input"
    ]


# -- identity and monitoring (§3.6, §3.7) ----------------------------------------------------


def test_gke_metadata_needs_workload_identity(dev_raw):
    dev_raw["cluster"]["workloadIdentity"] = False
    assert errors(dev_raw) == [f"{POOL}.workloadMetadata: GKE_METADATA needs cluster.workloadIdentity: true"]


def test_gcsfuse_weights_need_workload_identity(dev_raw):
    dev_raw["cluster"]["workloadIdentity"] = False
    l4(dev_raw)["workloadMetadata"] = "GCE_METADATA"
    assert errors(dev_raw) == [
        "platform.cluster.workloadIdentity: the gcsfuse backend reads the bucket through Workload Identity: set "
        "cluster.workloadIdentity"
    ]


def test_dcgm_needs_managed_prometheus(dev_raw):
    dev_raw["cluster"]["managedPrometheus"] = False
    assert errors(dev_raw) == [
        (
            "platform.cluster.monitoringComponents: DCGM, which exports through Managed Prometheus: set "
            "cluster.managedPrometheus true or drop DCGM"
        )
    ]


def test_monitoring_components_need_system_components(dev_raw):
    dev_raw["cluster"]["monitoringComponents"] = ["DCGM", "POD"]
    assert errors(dev_raw) == [
        "platform.cluster.monitoringComponents: must include SYSTEM_COMPONENTS (GKE rejects the list otherwise)"
    ]


def test_dcgm_refuses_installation_disabled_driver(dev_raw):
    l4(dev_raw)["gpuDriverVersion"] = "INSTALLATION_DISABLED"
    assert errors(dev_raw) == [
        (
            f"{POOL}.gpuDriverVersion: INSTALLATION_DISABLED: managed DCGM needs GKE-managed drivers; "
            "use DEFAULT or drop DCGM from cluster.monitoringComponents"
        )
    ]


def test_installation_disabled_driver_without_dcgm_is_accepted(dev_raw):
    l4(dev_raw)["gpuDriverVersion"] = "INSTALLATION_DISABLED"
    dev_raw["cluster"]["monitoringComponents"] = ["SYSTEM_COMPONENTS"]
    assert StackConfig.parse(dev_raw).gpu_pools["l4-spot"].gpu_driver_version == "INSTALLATION_DISABLED"


# -- placement in the region, network ---------------------------------------------------------


def test_stack_zones_in_region(dev_raw):
    dev_raw["zones"] = ["us-central1-a", "europe-west4-a"]
    assert errors(dev_raw) == ["platform.zones: 'europe-west4-a' is not in region us-central1"]


def test_pool_zones_in_region(prod_raw):
    prod_raw["gpuPools"]["h100-spot"]["zones"] = ["us-central1-a", "us-east4-b"]
    assert errors(prod_raw) == [
        "platform.gpuPools.h100-spot.zones: 'us-east4-b' is not in the cluster's region us-central1 (cluster.location)"
    ]


def test_existing_network_required_when_not_created(dev_raw):
    dev_raw["network"] = {"create": False}
    assert errors(dev_raw) == [
        "platform.network.existing: required when network.create is false: name the VPC, subnet and ranges"
    ]


def test_pool_name_must_be_a_gke_name(dev_raw):
    dev_raw["gpuPools"]["L4_pool"] = dev_raw["gpuPools"]["l4-spot"]
    assert errors(dev_raw) == [
        "platform.gpuPools.L4_pool.[key]: String should match pattern '^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$'"
    ]


# -- serving (design.md §5, §6) --------------------------------------------------------------


def test_tensor_times_pipeline_parallel_equals_gpus_per_replica(dev_raw):
    dev_raw["serving"]["vllm"]["tensorParallelSize"] = 2
    assert errors(dev_raw) == [
        (
            "platform.serving.vllm.tensorParallelSize: serving.vllm.tensorParallelSize × "
            "serving.vllm.pipelineParallelSize = 2 but a "
            "replica gets 1 GPU(s) (1 node(s) of g2-standard-8 with 1); set them so the product is 1"
        )
    ]


def test_70b_bf16_does_not_fit_one_l4(dev_raw):
    dev_raw["model"].update(id="meta-llama/Llama-3.3-70B-Instruct", parametersBillions=70.6)
    # 70.6e9 × 2 bytes = 141 GB of weights; one L4 = 24 GB × 0.92 = 22 GB usable.
    assert errors(dev_raw) == [
        (
            "platform.model.parametersBillions: 141 GB of weights, but a replica has 22 GB usable GPU memory (1× L4 at "
            "serving.vllm.gpuMemoryUtilization 0.92) and needs 20% of it for KV cache; quantize (fp8/int4), raise "
            "serving.vllm.tensorParallelSize with a bigger machine, or pick a machine with more GPU memory"
        )
    ]


def test_70b_bf16_fits_eight_h100(prod_raw):
    config = StackConfig.parse(prod_raw)
    assert config.effective_weight_bytes() == pytest.approx(141.2e9)


def test_read_write_once_disk_with_several_replicas(dev_raw):
    dev_raw["model"]["weights"] = {"backend": "persistentDisk", "persistentDisk": {"accessMode": "ReadWriteOnce"}}
    assert errors(dev_raw) == [
        (
            "platform.model.weights.persistentDisk.accessMode: a ReadWriteOnce persistentDisk volume can back one "
            "replica, but up to 2 may run; use a ReadOnlyMany volume (pre-populated, mounted read-only) or hyperdiskMl"
        )
    ]


def test_read_write_once_disk_with_one_fixed_replica_is_accepted(dev_raw):
    dev_raw["model"]["weights"] = {"backend": "persistentDisk", "persistentDisk": {"accessMode": "ReadWriteOnce"}}
    dev_raw["autoscaling"] = {"mode": "none"}
    assert StackConfig.parse(dev_raw).max_replicas() == 1


def test_running_target_must_be_below_max_num_seqs(dev_raw):
    dev_raw["autoscaling"]["metrics"] = [{"metric": "running", "target": 64}]
    assert errors(dev_raw) == [
        (
            "platform.autoscaling.metrics.0.target: a running-requests target of 64 never triggers: a replica batches "
            "at most maxNumSeqs=64; use a value below it"
        )
    ]


def test_model_revision_pinned(dev_raw):
    dev_raw["model"]["revision"] = "main"
    assert errors(dev_raw) == [
        "platform.model.revision: 'main' is not a 40-hex commit; pin the hub revision for reproducible deploys"
    ]


def test_serving_image_without_a_tag_is_refused(dev_raw):
    dev_raw["serving"]["image"] = "vllm/vllm-openai"
    assert errors(dev_raw) == [
        "platform.serving.image: 'vllm/vllm-openai' has no tag: name a version (e.g. vllm/vllm-openai:v1.2.3), "
        "or `build` to have the stack build it, or pin vllm/vllm-openai@sha256:<64 hex>"
    ]


def test_serving_pool_exists(dev_raw):
    dev_raw["serving"]["pool"] = "h100"
    assert errors(dev_raw) == ["platform.serving.pool: 'h100' is not a gpuPools key; one of: l4-spot"]


def test_spot_pool_must_carry_the_same_gpus(prod_raw):
    prod_raw["gpuPools"]["h100-spot"]["machineType"] = "a3-megagpu-8g"
    assert errors(prod_raw) == [
        (
            "platform.serving.spotPool: a3-megagpu-8g differs from a3-highgpu-8g in GPUs; replicas must fit "
            "either pool unchanged"
        )
    ]


def test_batch_pool_exists(prod_raw):
    prod_raw["batch"]["pool"] = "a100"
    assert errors(prod_raw) == ["platform.batch.pool: 'a100' is not a gpuPools key"]


def test_the_batch_job_runs_the_components_rules_with_yaml_paths(prod_raw):
    # BatchInference's own rule (validate_batch_inference_args): one pod gets at most one node's GPUs.
    prod_raw["gpuPools"]["l4"] = {"machineType": "g2-standard-8", "autoscaling": {"minNodes": 0, "maxNodes": 2}}
    prod_raw["batch"]["pool"] = "l4"
    assert errors(prod_raw) == [
        "platform.batch.pool: a batch pod runs on one node, but it asks for 8 GPUs and batch.pool (g2-standard-8) "
        "has 1; pick a pool with enough GPUs per node"
    ]


def test_the_batch_pod_takes_what_its_node_leaves(dev_raw):
    dev_raw["batch"] = {"enabled": True}
    args = StackConfig.parse(dev_raw).batch_args("dev")
    assert args.cpu is None and args.memory is None  # sized from the pool by the component
    assert args.pool.machine.name == "g2-standard-8" and args.gpus == 1


# -- the model itself ------------------------------------------------------------------------


def test_unknown_keys_are_refused_by_name(dev_raw):
    dev_raw["cluster"]["nodeCount"] = 3
    l4(dev_raw)["localSSD"] = {"mode": "none"}
    assert errors(dev_raw) == [
        "platform.cluster.nodeCount: Extra inputs are not permitted",
        f"{POOL}.localSSD: Extra inputs are not permitted",
    ]


def test_one_line_per_error_across_sections(dev_raw):
    dev_raw["zones"] = ["europe-west4-a"]
    dev_raw["model"]["revision"] = "main"
    dev_raw["serving"]["image"] = "vllm/vllm-openai:latest"
    assert errors(dev_raw) == [
        "platform.model.revision: 'main' is not a 40-hex commit; pin the hub revision for reproducible deploys",
        "platform.serving.image: 'vllm/vllm-openai:latest': `latest` moves without a config change; name a "
        "version tag, or `build` to have the stack build it, or pin vllm/vllm-openai@sha256:<64 hex>",
    ]


def test_config_is_frozen(dev_raw):
    config = StackConfig.parse(dev_raw)
    with pytest.raises(Exception, match="frozen"):
        config.region = "europe-west4"  # type: ignore[misc]


def _properties_without_description(schema: dict[str, Any]) -> list[str]:
    missing = []
    models = {"StackConfig": schema, **schema.get("$defs", {})}
    for model_name, model in models.items():
        for prop, spec in (model.get("properties") or {}).items():
            if not spec.get("description"):
                missing.append(f"{model_name}.{prop}")
    return missing


def test_every_field_has_a_description():
    schema = StackConfig.model_json_schema(by_alias=True)
    assert len(schema["$defs"]) >= 30  # the walk sees the nested sections, not just the top level
    assert "gpuPools" in schema["properties"]
    assert _properties_without_description(schema) == []


# -- environment guards and version text ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("cluster", "deletionProtection"), "cluster.deletionProtection"),
        (("modelStorage", "protect"), "modelStorage.protect"),
        (("serving", "requireApiKey"), "serving.requireApiKey"),
    ],
)
def test_prod_keeps_its_safety_guards(prod_raw, path, field):
    prod_raw[path[0]][path[1]] = False
    assert errors(prod_raw) == [
        f"platform.{field}: must be true when environment is prod (set environment: dev for a disposable stack)"
    ]


def test_dev_may_drop_the_guards(dev_raw):
    dev_raw["cluster"]["deletionProtection"] = False
    assert StackConfig.parse(dev_raw).cluster.deletion_protection is False


def test_a_version_read_as_a_number_is_refused_with_how_to_quote_it(prod_raw):
    prod_raw["cluster"]["minMasterVersion"] = 1.30
    assert errors(prod_raw) == [
        "platform.cluster.minMasterVersion: 1.3 was read as a number (1.30 would become 1.3): "
        'quote the version, e.g. "1.33"'
    ]


# -- the model bucket (infra/storage.py validate_model_bucket_args) ----------------------------


def test_bucket_defaults_to_hierarchical_namespace_without_versioning(dev_raw):
    storage = StackConfig.parse(dev_raw).model_storage
    assert (storage.hierarchical_namespace, storage.versioning, storage.soft_delete_days) == (True, False, 7)


def test_versioning_with_hierarchical_namespace_names_both_fields(dev_raw):
    dev_raw["modelStorage"] = {"versioning": True}
    assert errors(dev_raw) == [
        'platform.modelStorage.versioning: Cloud Storage refuses object versioning on a bucket with '
        'modelStorage.hierarchicalNamespace on ("Versioning is not supported for hierarchical namespace buckets"); '
        "turn versioning off (soft delete keeps deleted and overwritten objects recoverable) or turn "
        "modelStorage.hierarchicalNamespace off"
    ]


def test_versioning_on_a_flat_bucket_is_accepted(dev_raw):
    dev_raw["modelStorage"] = {"versioning": True, "hierarchicalNamespace": False}
    assert StackConfig.parse(dev_raw).model_storage.versioning is True


def test_bucket_problems_are_reported_together(dev_raw):
    dev_raw["modelStorage"] = {"name": "goog-models", "softDeleteDays": 3}
    dev_raw["labels"] = {"Team": "ml"}
    assert errors(dev_raw) == [
        "platform.modelStorage.name: 'goog-models' is not a valid bucket name: no 'goog' prefix and no 'google' "
        "anywhere",
        "platform.modelStorage.softDeleteDays: 3 days: Cloud Storage takes 0 (off) or 7–90 days",
        "platform.labels.Team: label key 'Team' must be 1–63 lowercase letters, digits, '_' or '-', starting with a "
        "lowercase letter",
    ]


def test_derived_bucket_name_is_checked_when_the_stack_is_known(dev_raw):
    dev_raw["project"] = "my-google-project"
    assert StackConfig.parse(dev_raw).bucket_name("dev") == "my-google-project-dev-models"  # stack unknown: skipped
    with pytest.raises(ConfigError) as caught:
        StackConfig.parse(dev_raw, stack="dev")
    assert caught.value.lines == [
        "platform.modelStorage.name: 'my-google-project-dev-models' is not a valid bucket name: no 'goog' prefix "
        "and no 'google' anywhere"
    ]


def test_cli_refuses_versioning_with_hns_naming_both_fields_and_writes_nothing(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "out"
    cli = Path(sys.executable).parent / "gke-infer"
    done = subprocess.run(
        [str(cli), "render", "dev", "--out", str(out), "--set", "modelStorage.hierarchicalNamespace=true",
         "--set", "modelStorage.versioning=true"],
        capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=120,
    )
    assert done.returncode == 2, done.stderr
    error_line = done.stderr.splitlines()[0]
    assert error_line.startswith("error: platform.modelStorage.versioning: ")
    assert "modelStorage.hierarchicalNamespace" in error_line
    assert not out.exists()


# -- network and node identity (infra/network.py, infra/identity.py validators) ---------------


def test_network_ranges_must_not_overlap(dev_raw):
    dev_raw["network"] = {"podsCidr": "10.10.0.0/16"}
    assert errors(dev_raw) == [
        "platform.network.podsCidr: 10.10.0.0/16 overlaps network.subnetCidr (10.10.0.0/20); a subnet's primary and "
        "secondary ranges must not overlap"
    ]


def test_network_name_is_a_compute_name(dev_raw):
    dev_raw["network"] = {"name": "Inference_VPC"}
    assert errors(dev_raw) == [
        "platform.network.name: 'Inference_VPC' is not a valid VPC name: 1–63 characters, lowercase letters, digits "
        "and hyphens, starting with a letter and ending with a letter or digit"
    ]


def test_existing_network_is_not_checked_as_created(dev_raw):
    dev_raw["network"] = {"create": False, "name": "Not_Checked", "existing": {
        "network": "vpc", "subnetwork": "sub", "podsRangeName": "pods", "servicesRangeName": "svc"}}
    assert StackConfig.parse(dev_raw).network.create is False


def test_stack_name_too_long_for_the_node_service_account(dev_raw):
    with pytest.raises(ConfigError) as caught:
        StackConfig.parse(dev_raw, stack="staging-europe-west-2")
    assert caught.value.lines == [
        "platform.stack: 'gke-staging-europe-west-2-nodes' is not a service account id: 6–30 lowercase letters, digits "
        "or hyphens, starting with a letter and not ending with a hyphen"
    ]



# -- cluster (infra/cluster.py validate_gke_cluster_args) ----------------------------------------


def test_cluster_name_is_at_most_40_characters(dev_raw):
    dev_raw["cluster"]["name"] = "inference-" + "x" * 31
    assert errors(dev_raw) == [
        f"platform.cluster.name: 'inference-{'x' * 31}' is not a GKE cluster name: up to 40 lowercase letters, digits "
        "and hyphens, starting with a letter and ending with a letter or digit"
    ]


def test_control_plane_range_is_a_slash_28(dev_raw):
    dev_raw["cluster"]["masterIpv4Cidr"] = "172.16.0.0/24"
    assert errors(dev_raw) == [
        "platform.cluster.masterIpv4Cidr: 172.16.0.0/24 is a /24; the control plane's private range must be a /28"
    ]


def test_private_endpoint_needs_private_nodes(dev_raw):
    dev_raw["cluster"].update(privateNodes=False, privateEndpoint=True)
    assert errors(dev_raw) == [
        "platform.cluster.privateEndpoint: a private endpoint needs cluster.privateNodes (it applies to private "
        "clusters only)"
    ]


def test_authorized_network_cidr(dev_raw):
    dev_raw["cluster"]["masterAuthorizedNetworks"] = [{"cidr": "10.0.0.1/8", "name": "vpn"}]
    assert errors(dev_raw) == [
        "platform.cluster.masterAuthorizedNetworks.0.cidr: '10.0.0.1/8' is not an IPv4 block in CIDR form with zero "
        "host bits (10.0.0.1/8 has host bits set)"
    ]
