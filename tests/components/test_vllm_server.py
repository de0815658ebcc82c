"""VllmServer on its own: the children it creates from a pool and a weights mount, and every refusal."""

from __future__ import annotations

import dataclasses

import pytest

from infra.gpu_node_pool import PoolShape
from workloads import weights as w
from workloads.vllm_args import EngineSettings
from workloads.vllm_server import VllmServer, VllmServerArgs, validate_vllm_server_args

IMAGE = "vllm/vllm-openai@sha256:" + "a" * 64
L4 = PoolShape.existing("l4", "g2-standard-8", ephemeral_local_ssd=True)
L4_SPOT = PoolShape.existing("l4-spot", "g2-standard-8", spot=True)
H100 = PoolShape.existing("h100", "a3-highgpu-8g", ephemeral_local_ssd=True)
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
GSA = "vllm@p.iam.gserviceaccount.com"


def gcsfuse(file_cache: str = "localSsd") -> w.WeightsMount:
    return w.gcsfuse_weights(w.GcsFuseArgs(bucket_name="b", prefix="models/m/r", file_cache=file_cache,
                                           model_bytes=16e9))


def args(**change) -> VllmServerArgs:
    base = VllmServerArgs(
        namespace="llm",
        image=IMAGE,
        engine=EngineSettings(served_model_name="m"),
        weights=gcsfuse(),
        pool=L4,
        google_service_account=GSA,
        weight_bytes=16e9,
    )
    return dataclasses.replace(base, **change)


def pod_spec(rec, workload: str = "vllm-deployment") -> dict:
    return rec.inputs(workload)["spec"]["template"]["spec"]


def test_children_are_named_after_the_component(recorder):
    rec = recorder.run(lambda: VllmServer("chat", args()))
    assert rec.tree() == {
        ("gke-inference:workloads:VllmServer", "chat", None),
        ("kubernetes:core/v1:ServiceAccount", "chat-ksa", "chat"),
        ("kubernetes:core/v1:ConfigMap", "chat-probe", "chat"),
        ("kubernetes:apps/v1:Deployment", "chat-deployment", "chat"),
        ("kubernetes:core/v1:Service", "chat-svc", "chat"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "chat-netpol", "chat"),
    }
    # No name given: every Kubernetes object takes the component's.
    assert rec.inputs("chat-svc")["metadata"]["name"] == "chat"
    assert rec.inputs("chat-ksa")["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": GSA}
    assert rec.resolve(rec.value.service_url) == "http://chat.llm.svc.cluster.local:8000"


def test_gpus_size_and_scheduling_come_from_the_pool(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args()))
    spec = pod_spec(rec)
    container = spec["containers"][0]
    # g2-standard-8 (8 vCPU, 32 GB, 1× L4) less GKE's reservations, system DaemonSets and the FUSE sidecar.
    amounts = {"cpu": "6400m", "memory": "25856Mi", "ephemeral-storage": "50Gi"}
    assert container["resources"] == {"requests": amounts, "limits": {**amounts, "nvidia.com/gpu": "1"}}
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "l4",
                                    "cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert spec["tolerations"] == [GPU_TOLERATION]
    assert "affinity" not in spec
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in spec["volumes"]
    assert container["args"][:2] == ["--model", "/models"]


def test_no_sidecar_leaves_the_pod_more_room(recorder):
    mount = w.runai_streamer_weights(w.RunaiStreamerArgs(bucket_name="b", prefix="models/m/r"))
    rec = recorder.run(lambda: VllmServer("vllm", args(weights=mount)))
    container = pod_spec(rec)["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "6900m", "memory": "26880Mi", "ephemeral-storage": "50Gi"}
    assert container["args"][:2] == ["--model", "gs://b/models/m/r"]
    assert container["args"][-2:] == ["--load-format", "runai_streamer"]


def test_overflow_pool_prefers_the_first_and_tolerates_both(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(overflow_pool=L4_SPOT, weights=gcsfuse("memory"))))
    spec = pod_spec(rec)
    assert spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert spec["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]
    key = "cloud.google.com/gke-nodepool"
    assert spec["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "In",
                                                             "values": ["l4", "l4-spot"]}]}]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [{"key": key, "operator": "In", "values": ["l4"]}]}},
                {"weight": 50,
                 "preference": {"matchExpressions": [{"key": key, "operator": "In", "values": ["l4-spot"]}]}},
            ],
        }
    }


def test_hub_access_follows_the_weights_mount(recorder):
    offline = recorder.run(lambda: VllmServer("vllm", args()))
    env = {e["name"]: e.get("value") for e in pod_spec(offline)["containers"][0]["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    hub = w.hugging_face_weights(w.HuggingFaceArgs(repo_id="o/m", revision="r" * 40, image=IMAGE, model_bytes=1e9))
    online = recorder.run(lambda: VllmServer("vllm", args(weights=hub, google_service_account=None)))
    spec = pod_spec(online)
    assert "HF_HUB_OFFLINE" not in {e["name"] for e in spec["containers"][0]["env"]}
    assert [c["name"] for c in spec["initContainers"]] == ["download-weights"]


def test_multi_node_replica_is_a_leader_worker_set(recorder):
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=8, pipeline_parallel_size=2,
                            extra=("--override-generation-config", '{"temperature": 0.5}'))
    rec = recorder.run(lambda: VllmServer("vllm", args(pool=H100, engine=engine, nodes_per_replica=2,
                                                       replicas=2, max_replicas=2, api_key="k")))
    lws = rec.inputs("vllm-lws")
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2
    worker = template["workerTemplate"]["spec"]["containers"][0]
    assert worker["args"] == ["ray start --address=$(LWS_LEADER_ADDRESS):6379 --num-gpus=8 --block"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "8"
    # Only the leader serves the API: the key stays out of the Ray workers' env.
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    assert "VLLM_API_KEY" in [e["name"] for e in leader["env"]]
    assert "VLLM_API_KEY" not in [e["name"] for e in worker["env"]]
    # bash re-splits the leader's script: an argument with spaces (JSON) is quoted as one word.
    assert leader["args"][0].endswith(""" --override-generation-config '{"temperature": 0.5}'""")
    # The budget covers leaders and workers: a worker eviction restarts its group too.
    assert rec.inputs("vllm-pdb")["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": "vllm",
    }
    assert rec.inputs("vllm-svc")["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: VllmServer("vllm", args(**change)))


def test_a_dict_instead_of_args_is_named(recorder):
    problems = recorder.refused(lambda: VllmServer("vllm", {"namespace": "llm"}))  # type: ignore[arg-type]
    assert problems == [("args", "expected VllmServerArgs, got dict {'namespace': 'llm'}: build it with "
                                 "VllmServerArgs(...)")]


def test_wrong_field_types_are_named(recorder):
    assert refused(recorder, replicas="2", pool="l4") == [
        ("pool", "expected GpuNodePool | PoolShape, got str 'l4'"),
        ("replicas", "expected int, got str '2'"),
    ]


def test_tensor_times_pipeline_must_equal_the_replicas_gpus(recorder):
    assert refused(recorder, engine=EngineSettings(served_model_name="m", tensor_parallel_size=2)) == [
        ("engine.tensor_parallel_size", "engine.tensor_parallel_size × engine.pipeline_parallel_size = 2 but a "
                                        "replica gets 1 GPU(s) (1 node(s) of g2-standard-8 with 1); set them so the "
                                        "product is 1"),
    ]


def test_chunked_prefill_off_needs_a_token_budget_of_the_whole_context(recorder):
    engine = EngineSettings(served_model_name="m", max_model_len=8192, max_num_batched_tokens=2048,
                            enable_chunked_prefill=False)
    assert refused(recorder, engine=engine) == [
        ("engine.max_num_batched_tokens", "2048 is below engine.max_model_len (8192) with chunked prefill off: vLLM "
                                          "refuses to start (vllm/config/scheduler.py SchedulerConfig._verify_args); "
                                          "raise it, lower the context, or turn chunked prefill on"),
    ]


def test_termination_grace_stays_within_what_gke_honours_on_a_node_drain(recorder):
    engine = EngineSettings(served_model_name="m", shutdown_timeout_seconds=3600)
    (problem,) = refused(recorder, engine=engine)
    assert problem[0] == "engine.shutdown_timeout_seconds"
    assert problem[1].endswith("s of termination grace; GKE honours at most 3600 s when it drains a node, so keep "
                               "the sum within it")


def test_extra_args_may_not_redefine_a_typed_flag(recorder):
    engine = EngineSettings(served_model_name="m", extra=("--max-num-seqs=8", "--seed", "1"))
    assert refused(recorder, engine=engine) == [
        ("engine.extra.0", "'--max-num-seqs=8' redefines --max-num-seqs, which the server sets from a typed "
                           "setting; set that EngineSettings field instead (the memory and autoscaling rules read "
                           "it)"),
    ]


def test_multi_node_splits_tensors_within_a_node(recorder):
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=16)
    assert refused(recorder, pool=H100, engine=engine, nodes_per_replica=2) == [
        ("engine.tensor_parallel_size", "multi-node replicas split tensors within a node (8 GPUs) and pipeline "
                                        "across nodes"),
    ]


def test_weights_must_leave_room_for_kv_cache(recorder):
    assert refused(recorder, weight_bytes=141e9) == [
        ("weight_bytes", "141 GB of weights, but a replica has 22 GB usable GPU memory (1× L4 at "
                         "engine.gpu_memory_utilization 0.9) and needs 20% of it for KV cache; quantize (fp8/int4), "
                         "raise engine.tensor_parallel_size with a bigger machine, or pick a machine with more GPU "
                         "memory"),
    ]


def test_read_write_once_volume_backs_one_replica(recorder):
    mount = w.claim_weights("persistentDisk", "weights", "models/m/r", read_only_many=False, dependencies=[])
    assert refused(recorder, weights=mount, max_replicas=3) == [
        ("weights.read_only_many", "a ReadWriteOnce persistentDisk volume can back one replica, but up to 3 may run; "
                                   "use a ReadOnlyMany volume (pre-populated, mounted read-only) or hyperdiskMl"),
    ]


def test_bucket_backend_needs_a_service_account(recorder):
    assert refused(recorder, google_service_account=None) == [
        ("google_service_account", "the gcsfuse backend reads the bucket through Workload Identity: set "
                                   "google_service_account"),
    ]


def test_local_ssd_file_cache_needs_the_pools_local_ssd(recorder):
    assert refused(recorder, pool=L4_SPOT) == [
        ("weights.local_ssd_file_cache", "the gcsfuse file cache lives on node ephemeral storage backed by Local "
                                         "SSD, but pool (g2-standard-8) has none; use a memory or no file cache, or a "
                                         "pool with local_ssd_mode ephemeral"),
    ]


def test_overflow_pool_needs_the_same_gpus(recorder):
    assert refused(recorder, overflow_pool=H100) == [
        ("overflow_pool", "a3-highgpu-8g differs from g2-standard-8 in GPUs; replicas must fit either pool unchanged"),
    ]


def test_replicas_limits_and_timings(recorder):
    assert refused(recorder, replicas=3, max_replicas=2, startup_budget_seconds=30, pre_stop_seconds=0,
                   drain_queue_seconds=-1) == [
        ("max_replicas", "max_replicas (2) must be ≥ replicas (3)"),
        ("startup_budget_seconds", "30 must be ≥ 60"),
        ("pre_stop_seconds", "0 must be ≥ 1 (the pod must leave Service endpoints first)"),
        ("drain_queue_seconds", "-1 must be ≥ 0"),
    ]


def test_image_must_be_pinned_and_names_valid(recorder):
    assert refused(recorder, image="vllm/vllm-openai:v0.32.0", name="Chat", namespace="LLM") == [
        ("name", "'Chat' is not a valid Service name (the component name when name is unset): at most 63 lowercase "
                 "letters, digits or '-', alphanumeric at both ends"),
        ("namespace", "'LLM' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at "
                      "both ends"),
        ("image", "'vllm/vllm-openai:v0.32.0' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
    ]


def test_engine_model_comes_from_the_weights(recorder):
    assert refused(recorder, engine=EngineSettings(served_model_name="m", model="/elsewhere")) == [
        ("engine.model", "leave it unset: --model is the weights backend's path (weights.model_path)"),
    ]


@pytest.mark.parametrize("change", [{}, {"overflow_pool": L4_SPOT, "weights": gcsfuse("memory")}])
def test_accepted_args_have_no_problems(change):
    assert validate_vllm_server_args(args(**change)) == []


# -- drain budget (docs/drain.md) ------------------------------------------------------------


def drain_env(rec) -> dict[str, str]:
    container = pod_spec(rec)["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if e["name"].startswith("DRAIN_")}


def test_on_demand_drain_keeps_the_deletion_budget(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(pre_stop_seconds=20, drain_queue_seconds=60)))
    assert drain_env(rec) == {"DRAIN_MIN_SECONDS": "20", "DRAIN_QUIET_SECONDS": "5", "DRAIN_MAX_SECONDS": "80"}
    assert pod_spec(rec)["terminationGracePeriodSeconds"] == 80 + args().engine.shutdown_timeout_seconds + 15


@pytest.mark.parametrize(("spot_pool", "minimum"), [
    (L4_SPOT, "7"),  # GKE default: pods get 15 s; 15 - 3 (exit) - 5 (quiet)
    (dataclasses.replace(L4_SPOT, spot_pod_grace_seconds=105), "20"),  # a 120 s node shutdown: 20 fits
    (dataclasses.replace(L4_SPOT, spot_pod_grace_seconds=20), "12"),  # a 35 s one: 20 - 3 - 5
])
def test_a_spot_pool_fits_the_minimum_into_its_notice(recorder, spot_pool, minimum):
    rec = recorder.run(lambda: VllmServer("vllm", args(overflow_pool=spot_pool, weights=gcsfuse("memory"),
                                                       pre_stop_seconds=20)))
    assert drain_env(rec) == {"DRAIN_MIN_SECONDS": minimum, "DRAIN_QUIET_SECONDS": "5", "DRAIN_MAX_SECONDS": "80"}


def test_readiness_is_the_drain_aware_script_and_the_server_counts_its_load(recorder):
    container = pod_spec(recorder.run(lambda: VllmServer("vllm", args())))["containers"][0]
    assert container["readinessProbe"] == {
        "exec": {"command": ["python3", "/etc/vllm-probe/readiness.py"]},
        "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 1}
    assert container["args"].count("--enable-server-load-tracking") == 1


def test_a_pool_that_shares_or_queues_its_gpus_cannot_serve(recorder):
    import dataclasses

    mig = dataclasses.replace(H100, shared_gpus="MIG partitions (1g.10gb)")
    queued = dataclasses.replace(H100, queued_provisioning=True)
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=8)
    assert refused(recorder, pool=mig, engine=engine) == [
        ("pool", "the pool shares its GPUs (MIG partitions (1g.10gb)); the server sizes memory, tensor parallelism "
                 "and pods for whole GPUs: serve on a pool without GPU sharing"),
    ]
    assert refused(recorder, pool=queued, engine=engine) == [
        ("pool", "the pool has queued provisioning: its nodes come only through ProvisioningRequests, which the "
                 "server's pods do not make, so they would stay Pending; serve on a pool without it"),
    ]


def test_replicas_must_fit_the_pools_nodes(recorder):
    import dataclasses

    small = dataclasses.replace(H100, max_nodes=2)
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=8)
    assert refused(recorder, pool=small, engine=engine, replicas=1, max_replicas=3) == [
        ("max_replicas", "3 replica(s) × 1 node(s) = 3 nodes, but pool hold at most 2; lower it or give the pools "
                         "more nodes"),
    ]
    assert recorder.run(lambda: VllmServer("vllm", args(pool=small, engine=engine, replicas=1, max_replicas=2)))


def test_max_model_len_within_the_models_context(recorder):
    engine = EngineSettings(served_model_name="m", max_model_len=200000)
    assert refused(recorder, engine=engine, model_context_length=131072) == [
        ("engine.max_model_len", "200000 exceeds the model's context of 131072 tokens (model_context_length); set at "
                                 "most that"),
    ]
