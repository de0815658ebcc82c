"""Pod sizing follows GKE's documented node reservations (plan-node-sizes page)."""

import pytest

from workloads.pod_sizing import (
    EVICTION_THRESHOLD_BYTES,
    GCSFUSE_SIDECAR_CPU,
    GIB,
    SYSTEM_DAEMONSETS_CPU,
    gke_reserved_cpu,
    gke_reserved_memory_bytes,
    size_pod,
)


def test_memory_reservation_tiers_for_a_32_gib_node():
    # 25% of 4 GiB + 20% of 4 GiB + 10% of 8 GiB + 6% of the next 16 GiB = 3.56 GiB, plus eviction.
    assert gke_reserved_memory_bytes(32 * GIB) == pytest.approx(3.56 * GIB + EVICTION_THRESHOLD_BYTES)


def test_memory_above_128_gib_reserves_two_percent():
    first_128 = (1 + 0.8 + 0.8 + 0.06 * 112) * GIB
    assert gke_reserved_memory_bytes(256 * GIB) == pytest.approx(
        first_128 + 0.02 * 128 * GIB + EVICTION_THRESHOLD_BYTES
    )


def test_cpu_reservation_tiers():
    assert gke_reserved_cpu(1) == pytest.approx(0.06)
    assert gke_reserved_cpu(8) == pytest.approx(0.06 + 0.01 + 2 * 0.005 + 4 * 0.0025)


def test_g2_standard_8_with_gcsfuse_leaves_room_for_sidecar_and_daemonsets():
    size = size_pod(vcpu=8, ram_gb=32, gpus=1, gcsfuse_sidecar=True)
    expected_cpu = 8 - 0.09 - SYSTEM_DAEMONSETS_CPU - GCSFUSE_SIDECAR_CPU  # 6.41 -> rounded down to 100m
    assert size.cpu == "6400m" and size.cpu_millicores <= expected_cpu * 1000
    assert size.memory == "25856Mi"
    assert size.shm == "2Gi"


def test_shm_grows_with_gpus_and_is_capped():
    assert size_pod(208, 1872, 8, gcsfuse_sidecar=False).shm == "16Gi"
    assert size_pod(24, 96, 2, gcsfuse_sidecar=False).shm == "4Gi"


def test_too_small_a_node_is_refused():
    with pytest.raises(ValueError, match="too little"):
        size_pod(vcpu=2, ram_gb=8, gpus=1, gcsfuse_sidecar=True)
