"""build_weights / build_batch from the real stack files (Pulumi.dev.yaml, Pulumi.prod.yaml) plus overrides."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pytest

from infra.gpu_node_pool import PoolShape
from stack.program.weights import (
    build_batch,
    build_weights,
    filestore_network,
    gce_name,
    gcsfuse_file_cache,
    model_prefix,
    single_weights_zone,
    weights_zones,
)
from stack.render import load_stack_config
from tests.weights.conftest import FILESTORE_IP, Recording, record

SERVING_IMAGE = "vllm/vllm-openai:v0.32.0@sha256:" + "e" * 64
DOWNLOADER = "us-central1-docker.pkg.dev/gke-inference-dev/inference/model-downloader@sha256:" + "d" * 64
DEV_PREFIX = "models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
PROD_PREFIX = "models/meta-llama/Llama-3.3-70B-Instruct/6f6073b423013f6a7d4d9f39144961bfbfbc386b"
SPOT = PoolShape.existing("h100-spot", "a3-highgpu-8g", spot=True)


@dataclass
class Built:
    recording: Recording
    mount: object


def build(
    stack: str, *overrides: str, downloader: str | None = DOWNLOADER, batch: bool = False, with_namespace=True
) -> Built:
    config = load_stack_config(stack, list(overrides))

    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        namespace = (
            k8s.core.v1.Namespace("ns", metadata={"name": "llm"}, opts=pulumi.ResourceOptions(provider=provider))
            if with_namespace
            else None
        )
        mount = build_weights(
            config,
            stack,
            provider,
            config.bucket_name(stack),
            "llm",
            [namespace] if namespace is not None else [],
            hf_token_secret="vllm-hf-token",
            downloader_image=downloader,
            serving_image=SERVING_IMAGE,
        )
        if batch:
            build_batch(
                config,
                stack,
                provider,
                config.bucket_name(stack),
                "llm",
                [namespace] if namespace is not None else [],
                mount,
                SPOT,
                serving_image=SERVING_IMAGE,
            )
        return mount

    rec = record(program)
    return Built(rec, rec.result)


# -- helpers on config -------------------------------------------------------------------------


def test_prefix_zones_and_names(dev_config, prod_config):
    assert model_prefix(dev_config) == DEV_PREFIX
    assert model_prefix(load_stack_config("dev", ["model.weights.bucketPrefix=/weights/llama/"])) == "weights/llama"
    assert weights_zones(prod_config) == ["us-central1-a", "us-central1-c"]
    assert single_weights_zone(prod_config) == "us-central1-a"
    assert weights_zones(dev_config) == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert gce_name("Llama-3.3-70B-Instruct", "6f6073b4") == "llama-3-3-70b-instruct-6f6073b4"
    assert gce_name("3b", "x") == "m-3b-x"
    assert len(gce_name("a" * 80, "6f6073b4")) == 63
    assert gce_name("model-dl", "dev", limit=30) == "model-dl-dev"
    assert filestore_network(dev_config) == "gke-inference"


def test_filestore_network_from_existing_vpc():
    existing = [
        "network.create=false",
        (
            "network.existing={network: projects/host-proj/global/networks/shared, "
            "subnetwork: s, podsRangeName: p, servicesRangeName: v}"
        ),
    ]
    assert filestore_network(load_stack_config("dev", existing)) == "projects/host-proj/global/networks/shared"
    same = [existing[0], existing[1].replace("host-proj", "gke-inference-dev")]
    assert filestore_network(load_stack_config("dev", same)) == "shared"


def test_pools_without_common_zone_refuse_a_zonal_disk():
    config = load_stack_config(
        "prod", ["gpuPools.h100-spot.zones=[us-central1-b]", "model.weights.backend=persistentDisk"]
    )
    with pytest.raises(
        ValueError, match=r"gpuPools.\*.zones: the pools reading a zonal model disk \(h100, h100-spot\)"
    ):
        single_weights_zone(config)


def test_file_cache_auto_follows_local_ssd(dev_config):
    assert gcsfuse_file_cache(dev_config) == "localSsd"  # g2-standard-8 with one ephemeral Local SSD
    assert gcsfuse_file_cache(load_stack_config("dev", ["gpuPools.l4-spot.localSsd={mode: none}"])) == "memory"
    assert gcsfuse_file_cache(load_stack_config("dev", ["model.weights.gcsfuse.fileCache=none"])) == "none"


# -- backends ----------------------------------------------------------------------------------


def test_dev_gcsfuse_waits_for_the_download_job():
    built = build("dev")
    mount, rec = built.mount, built.recording
    assert mount.backend == "gcsfuse"
    assert mount.model_path == "/models"
    attributes = mount.volumes[0]["csi"]["volumeAttributes"]
    assert attributes["bucketName"] == "gke-inference-dev-dev-models"
    assert f"only-dir={DEV_PREFIX}" in attributes["mountOptions"].split(",")
    assert attributes["gcsfuseMetadataPrefetchOnMount"] == "true"  # kubernetesMinor 1.33
    assert mount.pod_annotations["gke-gcsfuse/ephemeral-storage-request"] == "17Gi"  # 8.03e9 × 2 B × 1.1 = 16.45 GiB
    assert [d._name for d in mount.dependencies] == ["weights-download-job"]
    job = rec.manifest("Job", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--repo-id",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--revision",
        "0e9e39f249a16976918f6564b8830bc894c89659",
        "--target",
        f"gs://gke-inference-dev-dev-models/{DEV_PREFIX}",
    ]
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"gke-inference/role": "system"}
    scratch = job["spec"]["template"]["spec"]["volumes"][0]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert scratch["resources"]["requests"]["storage"] == "17Gi"  # the whole snapshot is staged
    assert sorted(rec.named("weights-download-job").depends_on) == ["ns", "weights-download-ksa"]
    writer = rec.named("weights-download-identity-bucket-writer").inputs
    assert writer == {
        "bucket": "gke-inference-dev-dev-models",
        "role": "roles/storage.objectUser",
        "member": "serviceAccount:model-dl-dev@gke-inference-dev.iam.gserviceaccount.com",
    }
    ksa = rec.manifest("ServiceAccount", "model-downloader")
    assert ksa["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "model-dl-dev@gke-inference-dev.iam.gserviceaccount.com"
    }
    assert rec.named("weights-download-identity-wi-user").inputs["member"] == (
        "serviceAccount:gke-inference-dev.svc.id.goog[llm/model-downloader]"
    )


def test_without_downloader_image_nothing_is_downloaded():
    built = build("dev", downloader=None)
    assert built.mount.dependencies == []
    assert built.recording.of_type("kubernetes:batch/v1:Job") == []
    assert built.recording.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") == []


def test_gcsfuse_metadata_prefetch_off_below_1_33():
    built = build("dev", "cluster.kubernetesMinor='1.32'", downloader=None)
    assert "gcsfuseMetadataPrefetchOnMount" not in built.mount.volumes[0]["csi"]["volumeAttributes"]


def test_existing_cluster_downloader_has_no_system_pool_selector():
    built = build("dev", "cluster.mode=existing")
    job = built.recording.manifest("Job", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert "nodeSelector" not in job["spec"]["template"]["spec"]


SNAPSHOT = "projects/gke-inference-prod/global/snapshots/llama-3-3-70b-instruct-6f6073b"


def test_prod_hyperdisk_ml_multi_zone_from_an_explicit_snapshot():
    built = build("prod", f"model.weights.hyperdiskMl.sourceSnapshot={SNAPSHOT}")
    mount, rec = built.mount, built.recording
    assert mount.backend == "hyperdiskMl"
    assert mount.model_path == f"/models/{PROD_PREFIX}"
    assert mount.read_only_many is True
    assert mount.needs_bucket_read is False
    assert mount.volumes == [
        {"name": "model-weights", "persistentVolumeClaim": {"claimName": "model-weights-6f6073b4", "readOnly": True}}
    ]
    assert [d._name for d in mount.dependencies] == ["model-weights-6f6073b4-pvc"]  # the user's snapshot
    disks = sorted(rec.of_type("gcp:compute/disk:Disk"), key=lambda d: d.inputs["zone"])
    assert [
        (
            d.inputs["zone"],
            d.inputs["name"],
            d.inputs["type"],
            d.inputs["accessMode"],
            d.inputs["provisionedThroughput"],
            d.inputs["size"],
            d.inputs["snapshot"],
            d.inputs["labels"]["goog-gke-multi-zone"],
        )
        for d in disks
    ] == [
        (
            zone,
            "llama-3-3-70b-instruct-6f6073b4",
            "hyperdisk-ml",
            "READ_ONLY_MANY",
            2400,
            300,
            SNAPSHOT,
            "true",
        )
        for zone in ("us-central1-a", "us-central1-c")
    ]
    pv = rec.manifest("PersistentVolume", "llm-model-weights-6f6073b4")
    assert (
        pv["spec"]["csi"]["volumeHandle"]
        == "projects/gke-inference-prod/zones/multi-zone/disks/llama-3-3-70b-instruct-6f6073b4"
    )
    assert pv["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
        "us-central1-a",
        "us-central1-c",
    ]
    assert rec.manifest("PersistentVolumeClaim", "model-weights-6f6073b4")["spec"]["accessModes"] == ["ReadOnlyMany"]
    # The PV waits for both disks (its volume handle is an Output of them) and for the namespace.
    assert sorted(rec.named("model-weights-6f6073b4-pv").depends_on) == [
        "ns",
        "weights-disk-us-central1-a",
        "weights-disk-us-central1-c",
    ]


def test_prod_persistent_disk_single_zone_from_an_explicit_snapshot():
    built = build(
        "prod",
        "model.weights.backend=persistentDisk",
        "model.weights.persistentDisk.sourceSnapshot=global/snapshots/llama-3-3-70b-instruct-6f6073b4",
    )
    rec = built.recording
    [disk] = rec.of_type("gcp:compute/disk:Disk")
    assert disk.inputs == {
        "project": "gke-inference-prod",
        "name": "llama-3-3-70b-instruct-6f6073b4",
        "zone": "us-central1-a",
        "type": "pd-ssd",
        "size": 500,
        "snapshot": "global/snapshots/llama-3-3-70b-instruct-6f6073b4",
        "labels": {"team": "ml-platform", "env": "prod", "stack": "prod", "managed-by": "pulumi"},
    }
    pv = rec.manifest("PersistentVolume", "llm-model-weights-6f6073b4")
    assert pv["spec"]["csi"] == {
        "driver": "pd.csi.storage.gke.io",
        "volumeHandle": "projects/gke-inference-prod/zones/us-central1-a/disks/llama-3-3-70b-instruct-6f6073b4",
        "fsType": "ext4",
        "readOnly": True,
    }
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
        "us-central1-a"
    ]
    assert built.mount.backend == "persistentDisk" and built.mount.read_only_many is True


def test_persistent_disk_read_write_once_is_single_replica():
    built = build(
        "dev",
        "model.weights.backend=persistentDisk",
        "model.weights.persistentDisk.accessMode=ReadWriteOnce",
        "model.weights.persistentDisk.diskType=pd-balanced",
        "model.weights.persistentDisk.sourceImage=global/images/llama-3-1-8b-instruct-0e9e39f2",
        "autoscaling.mode=none",
        downloader=None,
    )
    assert built.mount.read_only_many is False
    pv = built.recording.manifest("PersistentVolume", "llm-model-weights-0e9e39f2")
    assert pv["spec"]["accessModes"] == ["ReadWriteOnce"]
    [disk] = built.recording.of_type("gcp:compute/disk:Disk")
    assert (disk.inputs["type"], disk.inputs["zone"]) == ("pd-balanced", "us-central1-a")


def test_dev_filestore_nfs_and_populate_job():
    built = build("dev", "model.weights.backend=filestore")
    mount, rec = built.mount, built.recording
    instance = rec.named("weights-filestore-instance").inputs
    assert (instance["location"], instance["tier"], instance["name"]) == (
        "us-central1-a",
        "ZONAL",
        "llama-3-1-8b-instruct-dev-models",
    )
    assert instance["networks"] == [
        {"network": "gke-inference", "modes": ["MODE_IPV4"], "connectMode": "DIRECT_PEERING"}
    ]
    pv = rec.manifest("PersistentVolume", "llm-model-weights-0e9e39f2")
    assert pv["spec"]["nfs"] == {"server": FILESTORE_IP, "path": "/models", "readOnly": True}
    assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pv["spec"]["mountOptions"] == [
        "ro",
        "hard",
        "nconnect=16",
        "rsize=1048576",
        "wsize=1048576",
        "timeo=600",
        "retrans=3",
    ]
    assert "nodeAffinity" not in pv["spec"]
    assert mount.model_path == f"/models/{DEV_PREFIX}"
    assert sorted(d._name for d in mount.dependencies) == ["model-weights-0e9e39f2-pvc", "weights-populate-job"]
    job = rec.manifest("Job", "model-populate-llama-3-1-8b-instruct-0e9e39f2")
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][-1] == f"/share/{DEV_PREFIX}"
    assert pod["volumes"][-1] == {"name": "share", "nfs": {"server": FILESTORE_IP, "path": "/models"}}
    [prepare] = pod["initContainers"]
    assert prepare["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert job["metadata"]["annotations"]["checkov.io/skip1"].startswith("CKV_K8S_25=prepare-share adds CHOWN")
    assert prepare["command"][-2:] == [f"/share/{DEV_PREFIX}", "65532"]
    # hub → NFS directly: no bucket writer identity for filestore
    assert rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") == []


def test_runai_streamer_from_plain_bucket_name_and_distributed_for_tp():
    dev = build("dev", "model.weights.backend=runaiStreamer").mount
    assert dev.model_path == f"gs://gke-inference-dev-dev-models/{DEV_PREFIX}"
    assert dev.vllm_args == ["--load-format", "runai_streamer"]
    assert dev.env == [
        {"name": "RUNAI_STREAMER_CONCURRENCY", "value": "16"},
        {"name": "RUNAI_STREAMER_MEMORY_LIMIT", "value": "-1"},
    ]
    assert dev.needs_bucket_read is True
    prod = build("prod", "model.weights.backend=runaiStreamer", downloader=None).mount
    assert prod.vllm_args == ["--load-format", "runai_streamer", "--model-loader-extra-config", '{"distributed":true}']


def test_hugging_face_creates_nothing_and_uses_the_serving_image(dev_config):
    built = build("dev", "model.weights.backend=huggingFace", with_namespace=False)
    assert [r.type for r in built.recording.resources] == ["pulumi:providers:kubernetes"]
    [init] = built.mount.init_containers
    assert init["image"] == SERVING_IMAGE  # the resolved serving image
    assert built.mount.model_path == "/models/meta-llama/Llama-3.1-8B-Instruct"


# -- batch -------------------------------------------------------------------------------------


def test_prod_batch_job_on_spot_pool():
    rec = build("prod", f"model.weights.hyperdiskMl.sourceSnapshot={SNAPSHOT}", batch=True).recording
    job = rec.manifest("Job", "vllm-batch")
    spec = job["spec"]
    assert job["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert (
        spec["completionMode"],
        spec["completions"],
        spec["parallelism"],
        spec["backoffLimit"],
        spec["ttlSecondsAfterFinished"],
    ) == ("Indexed", 2, 2, 3, 86400)
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == SPOT.scheduling.node_selector == {
        "cloud.google.com/gke-nodepool": "h100-spot",
        "cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
    }
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    ]
    [runner] = pod["containers"]
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert runner["args"][:8] == [
        "-i",
        "/work/input.jsonl",
        "-o",
        "/batch-io/output-$(JOB_COMPLETION_INDEX)-of-2.jsonl",
        "--model",
        f"/models/{PROD_PREFIX}",
        "--served-model-name",
        "llama-3.3-70b",
    ]
    # The served engine's flags (workloads/vllm_args.engine_flags): the same as the vLLM server's.
    assert runner["args"][8:] == [
        "--tensor-parallel-size", "8",
        "--pipeline-parallel-size", "1",
        "--gpu-memory-utilization", "0.92",
        "--kv-cache-dtype", "fp8",
        "--dtype", "auto",
        "--enable-prefix-caching",
        "--enable-chunked-prefill",
        "--shutdown-timeout", "120",
        "--max-model-len", "32768",
        "--max-num-seqs", "256",
        "--max-num-batched-tokens", "8192",
    ]  # fmt: skip
    assert {
        "name": "model-weights",
        "persistentVolumeClaim": {"claimName": "model-weights-6f6073b4", "readOnly": True},
    } in pod["volumes"]
    assert sorted(rec.named("batch-job").depends_on) == ["batch-ksa", "model-weights-6f6073b4-pvc", "ns"]
    assert rec.manifest("NetworkPolicy", "vllm-batch")["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm-batch"}},
        "policyTypes": ["Ingress"],
    }
    assert rec.named("batch-identity-bucket-writer").inputs["member"] == (
        "serviceAccount:vllm-batch-prod@gke-inference-prod.iam.gserviceaccount.com"
    )


def test_batch_disabled_creates_nothing():
    rec = build("dev", batch=True, downloader=None).recording
    assert [r.type for r in rec.resources if "batch" in r.name] == []
