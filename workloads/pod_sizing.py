"""Size a one-pod-per-node GPU server from its machine: CPU/memory requests, /dev/shm, caches.

GKE reserves part of every node for the OS, kubelet and eviction; the formula below is GKE's
documented one (https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes,
"Memory and CPU reservations", read 2026-11). What is left, minus the system DaemonSets and the
GCS FUSE sidecar, is what the vLLM container may request.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
_MEMORY_TIERS_GIB = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06))  # then 2% above 128 GiB
_CPU_TIERS_CORES = ((1, 0.06), (1, 0.01), (2, 0.005))  # then 0.25% above 4 cores
EVICTION_THRESHOLD_BYTES = 100 * 1024**2

SYSTEM_DAEMONSETS_CPU = 1.0
"""vCPU kept for GKE's DaemonSets on a GPU node (logging, metrics, DCGM, device plugin, CSI nodes, netd).
Our estimate of their requests plus headroom, not a published figure."""
SYSTEM_DAEMONSETS_MEMORY = 2 * GIB
"""Memory kept for the same DaemonSets (estimate, as above)."""
GCSFUSE_SIDECAR_CPU = 0.5
"""CPU kept for the gke-gcsfuse-sidecar when the gcsfuse backend is used (its default request is 250m)."""
GCSFUSE_SIDECAR_MEMORY = 1 * GIB
"""Memory kept for the sidecar (default request 256Mi; more while streaming large files)."""


def gke_reserved_memory_bytes(total_bytes: float) -> float:
    """Memory GKE reserves on a node of ``total_bytes`` (kube-reserved + eviction threshold)."""
    if total_bytes < GIB:
        return 255 * 1024**2 + EVICTION_THRESHOLD_BYTES
    reserved, remaining = 0.0, total_bytes
    for size_gib, share in _MEMORY_TIERS_GIB:
        chunk = min(remaining, size_gib * GIB)
        reserved += chunk * share
        remaining -= chunk
    return reserved + max(remaining, 0) * 0.02 + EVICTION_THRESHOLD_BYTES


def gke_reserved_cpu(cores: float) -> float:
    """vCPU GKE reserves on a node with ``cores`` vCPUs."""
    reserved, remaining = 0.0, cores
    for size, share in _CPU_TIERS_CORES:
        chunk = min(remaining, size)
        reserved += chunk * share
        remaining -= chunk
    return reserved + max(remaining, 0) * 0.0025


@dataclass(frozen=True)
class PodSize:
    """Requests (= limits, for Guaranteed QoS) and volume sizes of the serving container."""

    cpu_millicores: int
    memory_bytes: int
    shm_bytes: int
    """/dev/shm (memory emptyDir; counts against the memory limit)."""

    @property
    def cpu(self) -> str:
        return f"{self.cpu_millicores}m"

    @property
    def memory(self) -> str:
        return f"{self.memory_bytes // 1024**2}Mi"

    @property
    def shm(self) -> str:
        return f"{self.shm_bytes // GIB}Gi"


def size_pod(vcpu: int, ram_gb: float, gpus: int, gcsfuse_sidecar: bool) -> PodSize:
    """Size the vLLM container to fill one node of ``vcpu``/``ram_gb`` with ``gpus`` GPUs.

    Args:
        vcpu: vCPUs of the machine.
        ram_gb: memory of the machine in GB as Compute Engine lists it (GiB in practice).
        gpus: GPUs on the node (sizes /dev/shm: NCCL and tensor-parallel workers use it).
        gcsfuse_sidecar: leave room for the GCS FUSE sidecar.
    """
    total_memory = ram_gb * GIB
    cpu = vcpu - gke_reserved_cpu(vcpu) - SYSTEM_DAEMONSETS_CPU - (GCSFUSE_SIDECAR_CPU if gcsfuse_sidecar else 0)
    memory = (
        total_memory
        - gke_reserved_memory_bytes(total_memory)
        - SYSTEM_DAEMONSETS_MEMORY
        - (GCSFUSE_SIDECAR_MEMORY if gcsfuse_sidecar else 0)
    )
    if cpu < 1 or memory < 4 * GIB:
        raise ValueError(f"a {vcpu} vCPU / {ram_gb} GB node leaves too little for the server ({cpu:.2f} vCPU)")
    shm = min(16 * GIB, max(2 * GIB, 2 * GIB * gpus))
    return PodSize(
        cpu_millicores=int(cpu * 1000) // 100 * 100,
        memory_bytes=int(memory) // (256 * 1024**2) * 256 * 1024**2,
        shm_bytes=shm,
    )
