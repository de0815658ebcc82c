"""serving.podSnapshots wired into the stack (issue 19, item 4): a single-GPU dev variant whose weights are not on
GCS FUSE renders the cluster addon, gVisor serving pool, sandboxed vLLM pods with the llm-d recipe's flags, a
snapshot bucket with the recipe's IAM, and PodSnapshotStorageConfig + PodSnapshotPolicy that pass the CRD check;
``gke-infer validate`` passes on it and ``gke-infer estimate`` shows the restored start. Combinations that cannot
work exit 2 naming the field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.gpu_node_pool import GpuNodePoolArgs, validate_gpu_node_pool_args
from stack.checks.crds import validate_custom
from stack.cli import main
from stack.program.capacity import snapshot_bucket_name
from stack.render import MOCK_PROJECT_NUMBER, load_stack_config, render_config
from workloads.pod_snapshot import SNAPSHOT_BUCKET_PERMISSIONS
from workloads.vllm_server import validate_vllm_server_args

SNAPSHOTS = ("models={}", "model.weights.backend=huggingFace", "serving.podSnapshots.enabled=true")
SET = [a for o in SNAPSHOTS for a in ("--set", o)]


@pytest.fixture(scope="module")
def config():
    return load_stack_config("dev", list(SNAPSHOTS))


@pytest.fixture(scope="module")
def rendered(config):
    return render_config(config, "dev")


def _server_pod(rendered):
    (deployment,) = [d for d in rendered.manifests_of_kind("Deployment") if d["metadata"]["name"] == "vllm"]
    return deployment["spec"]["template"]["spec"]


def test_dev_sets_no_minimum_version_so_the_snapshot_version_rule_does_not_apply(config):
    assert config.cluster.min_master_version is None  # the rule needs a version to compare; the render below passes


def test_the_cluster_gets_the_pod_snapshot_addon_only_with_snapshots(rendered):
    (cluster,) = rendered.of_type("gcp:container/cluster:Cluster")
    assert cluster["inputs"]["addonsConfig"]["podSnapshotConfig"] == {"enabled": True}
    plain = render_config(load_stack_config("dev", ["model.weights.backend=huggingFace"]), "dev")
    (cluster,) = plain.of_type("gcp:container/cluster:Cluster")
    assert "podSnapshotConfig" not in cluster["inputs"]["addonsConfig"]


def test_the_serving_pool_runs_gvisor_on_cos_and_the_system_pool_does_not(rendered):
    pools = {r["name"]: r["inputs"]["nodeConfig"] for r in rendered.of_type("gcp:container/nodePool:NodePool")}
    assert pools["l4-spot-pool"]["sandboxConfig"] == {"type": "GVISOR"}
    assert pools["l4-spot-pool"]["imageType"] == "COS_CONTAINERD"
    assert "sandboxConfig" not in pools["gke-system"]


def test_the_serving_pod_runs_in_the_sandbox_with_the_recipe_flags_and_env(rendered):
    pod = _server_pod(rendered)
    assert pod["runtimeClassName"] == "gvisor"
    assert pod["nodeSelector"]["sandbox.gke.io/runtime"] == "gvisor"
    assert {"key": "sandbox.gke.io/runtime", "operator": "Equal", "value": "gvisor",
            "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["automountServiceAccountToken"] is True  # tokenSource podKSA: GKE uses the pod's KSA token
    (container,) = pod["containers"]
    args = container["args"]
    assert "--enable-sleep-mode" in args
    assert args[args.index("--safetensors-load-strategy") + 1] == "eager"
    assert {"name": "VLLM_HOST_IP", "value": "127.0.0.1"} in container["env"]


def test_a_pod_without_snapshots_keeps_the_runc_defaults():
    pod = _server_pod(render_config(load_stack_config("dev", ["model.weights.backend=huggingFace"]), "dev"))
    assert "runtimeClassName" not in pod and pod["automountServiceAccountToken"] is False
    assert "--enable-sleep-mode" not in pod["containers"][0]["args"]


def test_storage_config_and_policy_select_the_server_and_pass_the_crd_check(rendered):
    (storage,) = rendered.manifests_of_kind("PodSnapshotStorageConfig")
    (policy,) = rendered.manifests_of_kind("PodSnapshotPolicy")
    assert validate_custom(storage) == [] and validate_custom(policy) == []
    assert storage["spec"]["snapshotStorageConfig"]["gcs"] == {
        "bucket": snapshot_bucket_name(load_stack_config("dev", list(SNAPSHOTS)), "dev"), "tokenSource": "podKSA"}
    assert "namespace" not in storage["metadata"]
    (deployment,) = [d for d in rendered.manifests_of_kind("Deployment") if d["metadata"]["name"] == "vllm"]
    assert policy["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert policy["spec"]["selector"] == {"matchLabels": deployment["spec"]["selector"]["matchLabels"]}
    assert policy["spec"]["storageConfigName"] == storage["metadata"]["name"]
    assert policy["spec"]["triggerConfig"] == {"type": "workload", "postCheckpoint": "resume"}


def test_the_snapshot_bucket_gets_the_recipe_iam_and_the_objects_wait_for_it(rendered, config):
    buckets = {r["inputs"]["name"]: r["inputs"] for r in rendered.of_type("gcp:storage/bucket:Bucket")}
    bucket = buckets[snapshot_bucket_name(config, "dev")]
    assert bucket["hierarchicalNamespace"] == {"enabled": True} and bucket["location"] == "US-CENTRAL1"
    (role,) = rendered.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert role["inputs"]["permissions"] == list(SNAPSHOT_BUCKET_PERMISSIONS)
    grants = {r["name"]: r for r in rendered.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    agent, ksa = grants["pod-snapshots-service-agent"], grants["pod-snapshots-ksa"]
    assert agent["inputs"] == {
        "bucket": bucket["name"], "role": "roles/storage.objectUser",
        "member": f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com"}
    assert ksa["inputs"] == {
        "bucket": bucket["name"], "role": f"projects/gke-inference-dev/roles/{role['inputs']['roleId']}",
        "member": f"principal://iam.googleapis.com/projects/{MOCK_PROJECT_NUMBER}/locations/global/"
                  "workloadIdentityPools/gke-inference-dev.svc.id.goog/subject/ns/llm/sa/vllm"}
    assert "gke-cluster" in ksa["dependencies"]  # the workload identity pool exists once the cluster does
    storage = rendered.named("pod-snapshots-storage-config")
    assert {"pod-snapshots-ksa", "pod-snapshots-service-agent", "vllm-deployment"} <= set(storage["dependencies"])
    model_grants = [g for g in grants.values() if g["inputs"]["bucket"] == config.bucket_name("dev")]
    assert all(not g["inputs"]["member"].startswith("principal://") for g in model_grants)


def test_gke_infer_validate_passes_on_the_snapshot_variant(capsys):
    code = main(["validate", "dev", *SET, "--no-checkov", "--no-vllm"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "crds        ok   11 custom resources" in out  # 3 of the snapshots, 8 of the gateway


def test_gke_infer_estimate_shows_the_restored_start(capsys):
    assert main(["estimate", "dev", *SET]) == 0
    out = capsys.readouterr().out
    assert "Pod snapshot, new node" in out and "Pod snapshot restore" in out


@pytest.mark.parametrize(("overrides", "first_line"), [
    (("gpuPools.l4-spot.imageType=UBUNTU_CONTAINERD", "gpuPools.l4-spot.imageStreaming=false"),
     "error: platform.gpuPools.l4-spot.imageType: a gVisor pool (GKE Sandbox, which Pod snapshots need) runs on "
     "COS_CONTAINERD nodes only, not UBUNTU_CONTAINERD"),
    (("batch.enabled=true",),
     "error: platform.batch.pool: the pool runs GKE Sandbox (gVisor) for serving.podSnapshots"),
    (("cluster.minMasterVersion='1.33'",),
     "error: platform.cluster.minMasterVersion:"),
])
def test_snapshot_combinations_that_cannot_work_exit_2(overrides, first_line, tmp_path, capsys):
    argv = ["render", "dev", *SET, *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(first_line), err
    assert not (tmp_path / "out").exists()


def test_the_pool_component_refuses_gvisor_off_cos():
    args = GpuNodePoolArgs(cluster="projects/p/locations/us-central1/clusters/c", project="my-project",
                           location="us-central1", node_locations=("us-central1-a",), machine_type="g2-standard-8",
                           service_account="nodes@my-project.iam.gserviceaccount.com", image_type="UBUNTU_CONTAINERD",
                           image_streaming=False, gvisor=True)
    assert [(p.property_path, p.reason) for p in validate_gpu_node_pool_args(args)] == [
        ("image_type", "a gVisor pool (GKE Sandbox, which Pod snapshots need) runs on COS_CONTAINERD nodes only, not "
                       "UBUNTU_CONTAINERD")]


def test_the_server_component_refuses_snapshots_of_gcs_fuse_pods():
    args = replace(load_stack_config("dev").server_args("dev"), pod_snapshots=True)  # dev reads through GCS FUSE
    assert [(p.property_path, p.reason) for p in validate_vllm_server_args(args)] == [
        ("weights.backend", "pods with GCS FUSE CSI volumes cannot be snapshotted (llm-d "
                            "guides/gke-pod-snapshots/README.md @1057311a); {weights.backend} gcsfuse must change to "
                            "use Pod snapshots")]


def test_extra_args_may_not_turn_eager_loading_off_under_snapshots(tmp_path, capsys):
    code = main(["render", "dev", *SET, "--set", "serving.vllm.extraArgs=[--safetensors-load-strategy, lazy]",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(
        "error: platform.serving.vllm.extraArgs.0: --safetensors-load-strategy lazy: Pod snapshots need eager"), err
