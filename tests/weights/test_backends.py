"""Each backend's WeightsMount, field by field (pure functions, no engine)."""

from __future__ import annotations

import pulumi
import pytest

from infra.validation import ComponentArgsError
from tests.weights.conftest import record
from workloads import weights as w

PREFIX = "models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
GB16 = 16.06e9  # 8.03B parameters in bfloat16


def gcsfuse(**extra) -> w.WeightsMount:
    args = {"bucket_name": "b-models", "prefix": PREFIX, "file_cache": "localSsd", "model_bytes": GB16}
    return w.gcsfuse_weights(w.GcsFuseArgs(**{**args, **extra}))


TUNED = [
    "implicit-dirs",
    f"only-dir={PREFIX}",
    "metadata-cache:ttl-secs:-1",
    "metadata-cache:stat-cache-max-size-mb:-1",
    "metadata-cache:type-cache-max-size-mb:-1",
    "metadata-cache:negative-ttl-secs:0",
    "file-system:kernel-list-cache-ttl-secs:-1",
]
FILE_CACHE = ["file-cache:max-size-mb:-1", "file-cache:cache-file-for-range-read:true"]


def test_default_prefix():
    assert w.default_prefix("meta-llama/Llama-3.1-8B-Instruct", "0e9e39f249a16976918f6564b8830bc894c89659") == PREFIX


def test_size_gi_rounds_up_with_headroom():
    assert w.size_gi(GB16) == 17  # 16.06e9 × 1.1 = 16.45 GiB
    assert w.size_gi(10) == 1
    assert w.size_gi(w.GIB, headroom=1.0) == 1


def test_gcsfuse_local_ssd_cache():
    mount = gcsfuse()
    assert mount.backend == "gcsfuse"
    assert mount.model_path == "/models"
    assert mount.volumes == [
        {
            "name": "model-weights",
            "csi": {
                "driver": "gcsfuse.csi.storage.gke.io",
                "readOnly": True,
                "volumeAttributes": {
                    "bucketName": "b-models",
                    "mountOptions": ",".join(TUNED + FILE_CACHE + ["file-cache:enable-parallel-downloads:true"]),
                    "gcsfuseMetadataPrefetchOnMount": "true",
                },
            },
        }
    ]
    assert mount.volume_mounts == [{"name": "model-weights", "mountPath": "/models", "readOnly": True}]
    assert mount.pod_annotations == {
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/cpu-limit": "0",
        "gke-gcsfuse/memory-limit": "0",
        "gke-gcsfuse/ephemeral-storage-limit": "0",
        "gke-gcsfuse/ephemeral-storage-request": "17Gi",
    }
    assert (mount.needs_bucket_read, mount.read_only_many) == (True, True)
    assert (mount.env, mount.vllm_args, mount.init_containers, mount.dependencies) == ([], [], [], [])


def test_gcsfuse_memory_cache_declares_ram_disk_and_reserves_it():
    mount = gcsfuse(file_cache="memory", sidecar_memory_limit="0", sidecar_cpu_limit="4")
    assert mount.volumes[1] == {"name": "gke-gcsfuse-cache", "emptyDir": {"medium": "Memory", "sizeLimit": "17Gi"}}
    assert mount.pod_annotations["gke-gcsfuse/memory-request"] == "17Gi"
    assert mount.pod_annotations["gke-gcsfuse/cpu-limit"] == "4"
    assert "gke-gcsfuse/ephemeral-storage-request" not in mount.pod_annotations


def test_gcsfuse_without_file_cache_has_no_cache_options():
    mount = gcsfuse(file_cache="none", metadata_prefetch=False)
    attributes = mount.volumes[0]["csi"]["volumeAttributes"]
    assert attributes == {"bucketName": "b-models", "mountOptions": ",".join(TUNED)}
    assert len(mount.volumes) == 1
    assert not any(k.endswith("-request") for k in mount.pod_annotations)


def test_gcsfuse_parallel_downloads_off():
    assert (
        w.gcsfuse_mount_options(
            w.GcsFuseArgs(
                bucket_name="b", prefix=PREFIX + "/", file_cache="localSsd", model_bytes=1, parallel_downloads=False
            )
        )
        == TUNED + FILE_CACHE
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"file_cache": "disk"}, "file_cache: expected 'localSsd' | 'memory' | 'none', got str 'disk'"),
        ({"prefix": "/abs"}, "prefix: '/abs'"),
        ({"prefix": ""}, "prefix: ''"),
    ],
)
def test_gcsfuse_rejects_bad_args(extra, message):
    with pytest.raises(ComponentArgsError, match=message):
        gcsfuse(**extra)


def test_runai_streamer_plain_bucket():
    mount = w.runai_streamer_weights(
        w.RunaiStreamerArgs(bucket_name="b-models", prefix=PREFIX, concurrency=32, memory_limit_bytes=8 * w.GIB)
    )
    assert mount.backend == "runaiStreamer"
    assert mount.model_path == f"gs://b-models/{PREFIX}"
    assert mount.env == [
        {"name": "RUNAI_STREAMER_CONCURRENCY", "value": "32"},
        {"name": "RUNAI_STREAMER_MEMORY_LIMIT", "value": "8589934592"},
    ]
    assert mount.vllm_args == ["--load-format", "runai_streamer"]
    assert (mount.volumes, mount.volume_mounts, mount.pod_annotations) == ([], [], {})
    assert (mount.needs_bucket_read, mount.read_only_many) == (True, True)


def test_runai_streamer_distributed_and_output_bucket():
    recording = record(
        lambda: w.runai_streamer_weights(
            w.RunaiStreamerArgs(bucket_name=pulumi.Output.from_input("b-out"), prefix="m/x/", distributed=True)
        ),
        settle=lambda mount: mount.model_path,
    )
    mount = recording.result
    assert mount.vllm_args == ["--load-format", "runai_streamer", "--model-loader-extra-config", '{"distributed":true}']
    assert mount.env[1] == {"name": "RUNAI_STREAMER_MEMORY_LIMIT", "value": "-1"}
    assert recording.settled == "gs://b-out/m/x"


@pytest.mark.parametrize(
    "extra, message", [({"concurrency": 0}, "concurrency"), ({"memory_limit_bytes": -2}, "memory_limit_bytes")]
)
def test_runai_rejects_bad_args(extra, message):
    with pytest.raises(ComponentArgsError, match=message):
        w.runai_streamer_weights(w.RunaiStreamerArgs(bucket_name="b", prefix="p", **extra))


def test_hugging_face_downloads_pinned_revision_into_empty_dir():
    mount = w.hugging_face_weights(
        w.HuggingFaceArgs(
            repo_id="meta-llama/Llama-3.1-8B-Instruct",
            revision="0e9e39f249a16976918f6564b8830bc894c89659",
            image="vllm/vllm-openai@sha256:" + "a" * 64,
            model_bytes=GB16,
            token_secret="vllm-hf-token",
        )
    )
    assert mount.backend == "huggingFace"
    assert mount.model_path == "/models/meta-llama/Llama-3.1-8B-Instruct"
    assert mount.volumes == [
        {"name": "model-weights", "emptyDir": {"sizeLimit": "17Gi"}},
        {
            "name": "hf-token",
            "secret": {
                "secretName": "vllm-hf-token",
                "items": [{"key": "token", "path": "token"}],
                "defaultMode": 0o440,
            },
        },
    ]
    assert mount.volume_mounts == [{"name": "model-weights", "mountPath": "/models", "readOnly": True}]
    [init] = mount.init_containers
    assert init["name"] == "download-weights"
    assert init["command"] == [
        "python3",
        "-c",
        w.HF_DOWNLOAD_SCRIPT,
        "meta-llama/Llama-3.1-8B-Instruct",
        "0e9e39f249a16976918f6564b8830bc894c89659",
        "/models/meta-llama/Llama-3.1-8B-Instruct",
    ]
    # the token is a file (HF_TOKEN_PATH), never an env value
    assert {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"} in init["env"]
    assert not any(e["name"] == "HF_TOKEN" for e in init["env"])
    assert init["volumeMounts"] == [
        {"name": "model-weights", "mountPath": "/models"},
        {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True},
    ]
    assert init["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert (mount.needs_bucket_read, mount.read_only_many) == (False, True)


def test_hugging_face_script_compiles_and_skips_consolidated_checkpoints():
    compile(w.HF_DOWNLOAD_SCRIPT, "<hf>", "exec")
    assert "ignore_patterns=['original/*', '*.pth']" in w.HF_DOWNLOAD_SCRIPT


def test_hugging_face_public_model_has_no_token_env():
    mount = w.hugging_face_weights(w.HuggingFaceArgs(repo_id="o/m", revision="r", image="i@sha256:x", model_bytes=1e9))
    assert [e["name"] for e in mount.init_containers[0]["env"]] == ["HF_HOME", "HF_HUB_DISABLE_TELEMETRY", "TMPDIR"]
    assert mount.init_containers[0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_claim_weights_mounts_claim_read_only():
    mount = w.claim_weights(
        "persistentDisk", "model-weights-0e9e39f2", PREFIX + "/", read_only_many=True, dependencies=[]
    )
    assert mount.model_path == f"/models/{PREFIX}"
    assert mount.volumes == [
        {"name": "model-weights", "persistentVolumeClaim": {"claimName": "model-weights-0e9e39f2", "readOnly": True}}
    ]
    assert mount.volume_mounts == [{"name": "model-weights", "mountPath": "/models", "readOnly": True}]
    assert (mount.needs_bucket_read, mount.read_only_many) == (False, True)


def test_pd_source_and_mount_options():
    assert w.pd_source("projects/p/zones/z/disks/d") == {
        "csi": {
            "driver": "pd.csi.storage.gke.io",
            "volumeHandle": "projects/p/zones/z/disks/d",
            "fsType": "ext4",
            "readOnly": True,
        }
    }
    assert w.PD_MOUNT_OPTIONS == ("read_ahead_kb=4096",)


def test_nfs_source_and_options():
    assert w.nfs_source("10.0.0.2", "models") == {"nfs": {"server": "10.0.0.2", "path": "/models", "readOnly": True}}
    assert w.nfs_mount_options(16) == (
        "ro",
        "hard",
        "nconnect=16",
        "rsize=1048576",
        "wsize=1048576",
        "timeo=600",
        "retrans=3",
    )
    with pytest.raises(ValueError, match="nconnect: 17"):
        w.nfs_mount_options(17)


def test_model_volume_args_validation():
    assert w.validate_model_volume_args(
        w.ModelVolumeArgs(namespace="llm", capacity_gb=0, access_mode="ReadOnlyMany", source={"nfs": {}})
    ) == [("capacity_gb", "0 must be ≥ 1")]
    assert w.validate_model_volume_args(
        w.ModelVolumeArgs(namespace="llm", capacity_gb=1, access_mode="ReadOnlyMany", source={"nfs": {}, "csi": {}})
    ) == [("source", "give exactly one volume source, e.g. {'csi': {...}}")]
