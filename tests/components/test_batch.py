"""BatchInference on its own: the Job, its KSA and NetworkPolicy from a pool and a weights mount, and every
refusal. (The input check and the in-pod script are tested in tests/weights/test_batch.py.)"""

from __future__ import annotations

import dataclasses

import pytest

from infra.gpu_node_pool import PoolShape
from workloads import batch as b
from workloads.weights import GcsFuseArgs, WeightsMount, gcsfuse_weights

IMAGE = "vllm/vllm-openai:v0.32.0@sha256:" + "a" * 64
GSA = "batch@p.iam.gserviceaccount.com"
H100_SPOT = PoolShape.existing("h100-spot", "a3-highgpu-8g", spot=True, ephemeral_local_ssd=True)
L4 = PoolShape.existing("l4", "g2-standard-8", ephemeral_local_ssd=True)
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "runAsUser": 10001, "runAsGroup": 10001, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}


def gcsfuse_mount() -> WeightsMount:
    return gcsfuse_weights(GcsFuseArgs(bucket_name="bkt", prefix="models/o/m/r", file_cache="localSsd",
                                       model_bytes=16e9))


def args(**change) -> b.BatchInferenceArgs:
    base = b.BatchInferenceArgs(namespace="llm", image=IMAGE, weights=gcsfuse_mount(), bucket_name="bkt",
                                served_model_name="tiny", pool=H100_SPOT, gpus=1)
    return dataclasses.replace(base, **change)


def pod(rec) -> dict:
    return rec.inputs("batch-job")["spec"]["template"]["spec"]


def test_children_ksa_job_and_deny_all_ingress(recorder):
    rec = recorder.run(lambda: b.BatchInference("batch", args(gcp_service_account=GSA)))
    assert rec.tree() == {
        ("gke-inference:workloads:BatchInference", "batch", None),
        ("kubernetes:core/v1:ServiceAccount", "batch-ksa", "batch"),
        ("kubernetes:batch/v1:Job", "batch-job", "batch"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "batch-netpol", "batch"),
    }
    assert rec.named("batch-job")["dependencies"] == ["batch-ksa"]
    assert rec.inputs("batch-ksa") == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "automountServiceAccountToken": False,
        "metadata": {"name": "vllm-batch", "namespace": "llm",
                     "annotations": {"iam.gke.io/gcp-service-account": GSA}},
    }
    assert rec.inputs("batch-netpol")["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm-batch"}},
        "policyTypes": ["Ingress"],
    }
    assert rec.inputs("batch-job")["metadata"] == {
        "name": "vllm-batch",
        "namespace": "llm",
        "labels": {"app.kubernetes.io/name": "vllm-batch", "app.kubernetes.io/component": "batch"},
        "annotations": {"pulumi.com/skipAwait": "true"},  # a batch may run for hours
    }


def test_without_a_gsa_the_caller_brings_the_ksa(recorder):
    rec = recorder.run(lambda: b.BatchInference("batch", args()))
    assert rec.names() == ["batch", "batch-job", "batch-netpol"]
    assert pod(rec)["serviceAccountName"] == "vllm-batch"


def test_scheduling_and_gpus_come_from_the_pool(recorder):
    rec = recorder.run(lambda: b.BatchInference("batch", args(gpus=None)))
    spec = pod(rec)
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "h100-spot",
                                    "cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert spec["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]
    # gpus, cpu and memory unset: every GPU of the node and what a3-highgpu-8g leaves for a pod
    # (workloads/pod_sizing.py), as the server takes.
    amounts = {"cpu": "205900m", "memory": "1868288Mi", "nvidia.com/gpu": "8"}
    assert spec["containers"][0]["resources"] == {"requests": amounts, "limits": amounts}
    two = pod(recorder.run(lambda: b.BatchInference("batch", args(gpus=2))))
    assert two["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_single_shard_job_with_gcsfuse_weights(recorder):
    spec = recorder.run(lambda: b.BatchInference("batch", args())).inputs("batch-job")["spec"]
    assert {k: spec[k] for k in ("completionMode", "completions", "parallelism", "backoffLimit",
                                 "ttlSecondsAfterFinished")} == {
        "completionMode": "Indexed", "completions": 1, "parallelism": 1, "backoffLimit": 3,
        "ttlSecondsAfterFinished": 86400,
    }
    assert spec["template"]["metadata"]["annotations"] == {
        "gke-gcsfuse/cpu-limit": "0",
        "gke-gcsfuse/memory-limit": "0",
        "gke-gcsfuse/ephemeral-storage-limit": "0",
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/ephemeral-storage-request": "17Gi",
    }
    assert spec["podFailurePolicy"] == {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "check-input", "operator": "In", "values": [2]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }
    spec = spec["template"]["spec"]
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                       "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    (check,) = spec["initContainers"]
    assert check == {
        "name": "check-input",
        "image": IMAGE,
        "command": ["python3", "-c", b.CHECK_SCRIPT],
        "args": ["/batch-io/input.jsonl", "/work/input.jsonl", "$(JOB_COMPLETION_INDEX)", "1", "tiny"],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "securityContext": HARDENED,
        "volumeMounts": [{"name": "batch-io", "mountPath": "/batch-io", "readOnly": True},
                         {"name": "work", "mountPath": "/work"}],
    }
    (runner,) = spec["containers"]
    assert runner["command"] == ["python3", "-m", "vllm.entrypoints.openai.run_batch"]
    assert runner["args"] == ["-i", "/work/input.jsonl", "-o", "/batch-io/output.jsonl", "--model", "/models",
                              "--served-model-name", "tiny"]
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in runner["env"]
    assert runner["securityContext"] == HARDENED
    assert [v["name"] for v in spec["volumes"]] == ["model-weights", "batch-io", "work", "cache", "tmp", "dshm"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["batch-io"] == {
        "name": "batch-io",
        "csi": {
            "driver": "gcsfuse.csi.storage.gke.io",
            "readOnly": False,
            "volumeAttributes": {"bucketName": "bkt",
                                 "mountOptions": "implicit-dirs,uid=10001,gid=10001,only-dir=batch"},
        },
    }
    assert volumes["dshm"] == {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}


def test_shards_write_one_output_each_and_engine_args_follow_the_backend(recorder):
    job = recorder.run(lambda: b.BatchInference("batch", args(parallelism=3, engine_args=("--max-model-len", "4096"))))
    spec = job.inputs("batch-job")["spec"]
    assert (spec["completions"], spec["parallelism"]) == (3, 3)
    runner = spec["template"]["spec"]["containers"][0]
    assert runner["args"] == ["-i", "/work/input.jsonl", "-o", "/batch-io/output-$(JOB_COMPLETION_INDEX)-of-3.jsonl",
                              "--model", "/models", "--served-model-name", "tiny", "--max-model-len", "4096"]


def test_hugging_face_download_runs_after_the_check(recorder):
    hf = WeightsMount(backend="huggingFace", model_path="/models/o/m", offline_hub=False,
                      init_containers=[{"name": "download-weights", "image": IMAGE}])
    spec = pod(recorder.run(lambda: b.BatchInference("batch", args(weights=hf))))
    assert [c["name"] for c in spec["initContainers"]] == ["check-input", "download-weights"]
    assert "HF_HUB_OFFLINE" not in {e["name"] for e in spec["containers"][0]["env"]}


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: b.BatchInference("batch", args(**change)))


def test_a_dict_instead_of_args_is_named(recorder):
    assert recorder.refused(lambda: b.BatchInference("batch", {"namespace": "llm"})) == [  # type: ignore[arg-type]
        ("args", "expected BatchInferenceArgs, got dict {'namespace': 'llm'}: build it with BatchInferenceArgs(...)"),
    ]


def test_wrong_field_types_are_named(recorder):
    assert refused(recorder, pool={"cloud.google.com/gke-nodepool": "l4"}, parallelism="2") == [
        ("pool", "expected GpuNodePool | PoolShape, got dict {'cloud.google.com/gke-nodepool': 'l4'}"),
        ("parallelism", "expected int, got str '2'"),
    ]


def test_a_pod_gets_at_most_one_nodes_gpus(recorder):
    assert refused(recorder, pool=L4, gpus=2, cpu="2", memory="16Gi", shm_gi=4) == [
        ("gpus", "a batch pod runs on one node, but it asks for 2 GPUs and pool (g2-standard-8) has 1; pick a pool "
                 "with enough GPUs per node"),
    ]
    assert refused(recorder, gpus=0) == [("gpus", "0 must be ≥ 1")]


def test_cpu_and_memory_must_fit_one_node(recorder):
    # g2-standard-8 (8 vCPU, 32 GB) less GKE's reservations, system DaemonSets and the FUSE sidecar
    # leaves 6400m and 25856Mi (workloads/pod_sizing.py): 32Gi never schedules there.
    assert refused(recorder, pool=L4, cpu="7", memory="32Gi") == [
        ("cpu", "7 does not fit one node of pool (g2-standard-8): at most 6400m is left for the pod"),
        ("memory", "32Gi does not fit one node of pool (g2-standard-8): at most 25856Mi is left for the pod"),
    ]
    assert refused(recorder, cpu="four", memory="32 GB") == [
        ("cpu", "'four' is not a CPU quantity like 4 or 3500m"),
        ("memory", "'32 GB' is not a memory quantity like 32Gi"),
    ]
    assert refused(recorder, memory="16Gi") == [
        ("shm_gi", "16Gi of /dev/shm counts against the memory limit and must stay below memory (16Gi)"),
    ]


def test_objects_counts_names_and_image(recorder):
    assert refused(recorder, input_object="batch/", output_object="/out.jsonl", parallelism=0, backoff_limit=-1,
                   ttl_seconds_after_finished=-1, shm_gi=0) == [
        ("input_object", "'batch/' must be an object name like batch/input.jsonl (no leading or trailing '/')"),
        ("output_object", "'/out.jsonl' must be an object name like batch/input.jsonl (no leading or trailing '/')"),
        ("parallelism", "0 must be ≥ 1"),
        ("backoff_limit", "-1 must be ≥ 0"),
        ("ttl_seconds_after_finished", "-1 must be ≥ 0"),
        ("shm_gi", "0 must be ≥ 1"),
    ]
    assert refused(recorder, output_object="batch/input.jsonl") == [("output_object", "must differ from input_object")]
    assert refused(recorder, image="vllm:latest", namespace="LLM", job_name="Batch", served_model_name="") == [
        ("namespace", "'LLM' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at "
                      "both ends"),
        ("image", "'vllm:latest' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
        ("job_name", "'Batch' is not a valid Job name: at most 63 lowercase letters, digits or '-', alphanumeric at "
                     "both ends"),
        ("served_model_name", "empty; give the name requests use as body.model"),
    ]


@pytest.mark.parametrize("change", [{}, {"gpus": None}, {"pool": L4, "memory": "24Gi", "shm_gi": 8}])
def test_accepted_args_have_no_problems(change):
    assert b.validate_batch_inference_args(args(**change)) == []
