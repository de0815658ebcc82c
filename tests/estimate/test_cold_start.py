"""Cold-start terms against the published figures they cite (anchors §7, serving-peers §3(d))."""

from __future__ import annotations

import pytest

from stack import prices
from stack.plan.estimate import estimate_cold_start
from stack.render import load_stack_config

GIB = 2**30


def _acp_a2(*extra: str):
    """ACP's gcsfuse setup: Llama-3.3-70B (141 GB) on a2-highgpu-8g, TP=8, RAM file cache."""
    return load_stack_config(
        "prod",
        [
            "gpuPools.h100.machineType=a2-highgpu-8g",
            "gpuPools.h100.localSsd.mode=none",
            "gpuPools.h100.secondaryBootDisks=[]",
            "serving.spotPool=null",
            "autoscaling.minReplicas=2",
            "autoscaling.maxReplicas=5",  # 5 replicas + the buffer's node fit the on-demand pool's 6
            "model.weights.backend=gcsfuse",
            "model.weights.gcsfuse.fileCache=memory",
            *extra,
        ],
    )


def test_gcsfuse_tuned_matches_acp_35_seconds():
    weights = estimate_cold_start(_acp_a2()).term("weights: gcsfuse (cold)")
    # 141.2 GB over the loader limit of 8 ranks × 0.50 GB/s: ACP measured ~35 s.
    assert weights.seconds == pytest.approx(35.0, rel=0.01)
    assert "vLLM safetensors loader (8 ranks)" in weights.assumption
    assert "ACP" in weights.source


def test_gcsfuse_untuned_matches_acp_1200_seconds():
    weights = estimate_cold_start(_acp_a2("model.weights.gcsfuse.fileCache=none")).term("weights: gcsfuse (untuned)")
    assert weights.seconds == pytest.approx(1200.0, rel=0.01)


def test_gcsfuse_warm_cache_is_bound_by_the_loader():
    estimate = estimate_cold_start(_acp_a2("planning.coldStart.gcsfuseCacheWarm=true"))
    assert estimate.term("weights: gcsfuse (cached)").seconds == pytest.approx(35.0, rel=0.01)


def test_runai_streamer_matches_acp_pr_524():
    # Gemma 4 31B: 58.99 GiB of bf16 weights on H100 → 58.3 s. (Two H100s here: the config's
    # memory-fit rule keeps 20 % of one GPU for KV cache. Each rank streams the whole model.)
    params_b = 58.99 * GIB / 2 / 1e9
    config = load_stack_config(
        "prod",
        [
            "gpuPools.h100.machineType=a3-highgpu-2g",
            "gpuPools.h100-spot.machineType=a3-highgpu-2g",
            "serving.vllm.tensorParallelSize=2",
            f"model.parametersBillions={params_b}",
            "model.weights.backend=runaiStreamer",
        ],
    )
    weights = estimate_cold_start(config).term("weights: runaiStreamer")
    assert weights.seconds == pytest.approx(58.3, abs=0.05)


def test_hugging_face_download_matches_anyscale():
    # Llama-3-70B, 131.4 GiB, TP=4 on 4×H100: download 196.5 s.
    config = load_stack_config(
        "prod",
        [
            "gpuPools.h100.machineType=a3-highgpu-4g",
            "gpuPools.h100-spot.machineType=a3-highgpu-4g",
            "serving.vllm.tensorParallelSize=4",
            f"model.parametersBillions={131.4 * GIB / 2 / 1e9}",
            "model.weights.backend=huggingFace",
        ],
    )
    estimate = estimate_cold_start(config)
    assert estimate.term("weights: huggingFace download").seconds == pytest.approx(196.5, abs=0.05)
    # then the loader reads it back: 141.1 GB at 4 × 0.50 GB/s
    assert estimate.term("weights: load from local disk").seconds == pytest.approx(
        131.4 * GIB / (4 * 141e9 / 35 / 8), rel=1e-9
    )


def test_prod_breakdown():
    estimate = estimate_cold_start(load_stack_config("prod"))
    names = [t.name for t in estimate.terms]
    assert names == [
        "cluster autoscaler",
        "GPU node create",
        "GPU driver install",
        "image pull",
        "weights: hyperdiskMl",
        "torch.compile",
        "CUDA graph capture",
        "engine init + KV cache",
    ]
    # 70.6B bf16 = 141.2 GB over 2400 MiB/s provisioned Hyperdisk ML throughput.
    assert estimate.term("weights: hyperdiskMl").seconds == pytest.approx(141.2e9 / (2400 * 2**20), rel=1e-9)
    # The secondary boot disk image cache: a 10 GB plain pull (100 s) ÷ 29.
    assert estimate.term("image pull").seconds == pytest.approx(100 / 29, rel=1e-9)
    assert estimate.term("torch.compile").seconds == 60.8
    assert estimate.total_seconds == pytest.approx(10 + 120 + 60 + 100 / 29 + 141.2e9 / (2400 * 2**20) + 60.8 + 54 + 20)
    assert estimate.container_seconds == pytest.approx(141.2e9 / (2400 * 2**20) + 60.8 + 54 + 20)
    assert all(t.source and t.assumption for t in estimate.terms)


def test_dev_breakdown_streams_the_image_and_loads_through_fuse():
    estimate = estimate_cold_start(load_stack_config("dev"))
    assert estimate.term("image pull").seconds == pytest.approx(5 + 10 * 0.5 / 1.0)
    # 8.03B bf16 = 16.06 GB; one rank's loader (0.50 GB/s) is slower than 16 Gbps × 0.8 of FUSE.
    assert estimate.term("weights: gcsfuse (cold)").seconds == pytest.approx(16.06e9 / (141e9 / 35 / 8), rel=1e-9)
    assert estimate.term("torch.compile").seconds == 52.0


def test_warm_node_and_caches_shrink_the_estimate():
    config = load_stack_config("prod", ["planning.coldStart.newNode=false", "planning.coldStart.compileCacheWarm=true"])
    estimate = estimate_cold_start(config)
    assert estimate.total_seconds == pytest.approx(100 / 29 + 141.2e9 / (2400 * 2**20) + 23 + 7 + 20)


def test_concurrent_loads_share_hyperdisk_throughput():
    config = load_stack_config("prod")
    one = estimate_cold_start(config).term("weights: hyperdiskMl").seconds
    two = estimate_cold_start(config, concurrent_loads=2).term("weights: hyperdiskMl").seconds
    assert two == pytest.approx(2 * one)


def test_plain_pull_without_streaming_or_cache():
    config = load_stack_config("dev", ["gpuPools.l4-spot.imageStreaming=false"])
    assert estimate_cold_start(config).term("image pull").seconds == pytest.approx(10 / prices.PLAIN_PULL_GBPS)


def test_enforce_eager_skips_compile_and_graphs():
    config = load_stack_config("dev", ["serving.vllm.extraArgs=[--enforce-eager]"])
    estimate = estimate_cold_start(config)
    assert estimate.term("torch.compile").seconds == 0
    assert estimate.term("CUDA graph capture").seconds == 0


def test_persistent_disk_rate_from_size():
    config = load_stack_config("dev", ["model.weights.backend=persistentDisk", "autoscaling.maxReplicas=2"])
    # pd-ssd 500 GB × 0.48 MB/s/GB = 240 MB/s, below the 0.50 GB/s loader.
    assert estimate_cold_start(config).term("weights: persistentDisk").seconds == pytest.approx(16.06e9 / 240e6)


def test_measured_node_times_replace_the_defaults():
    config = load_stack_config(
        "prod", ["planning.coldStart.nodeCreateSeconds=200", "planning.coldStart.driverInstallSeconds=45"]
    )
    estimate = estimate_cold_start(config)
    assert estimate.term("GPU node create").seconds == 200
    assert estimate.term("GPU node create").source == "planning.coldStart.nodeCreateSeconds"
    assert estimate.term("GPU driver install").seconds == 45
    assert estimate.total_seconds == pytest.approx(
        estimate_cold_start(load_stack_config("prod")).total_seconds + 80 - 15
    )


def test_snapshot_is_refused_for_tensor_parallel_and_gcsfuse():
    from stack.plan.estimate import SnapshotRefused

    tp8 = r"single-GPU pods only .* uses 8 GPUs \(serving.vllm.tensorParallelSize 8"
    with pytest.raises(SnapshotRefused, match=tp8):
        estimate_cold_start(load_stack_config("prod"), snapshot=True)
    with pytest.raises(SnapshotRefused, match="GCS FUSE CSI volumes cannot be snapshotted"):
        estimate_cold_start(load_stack_config("dev"), snapshot=True)
