"""Price and throughput tables the planner uses, each row with its date and source.

Everything here is a default: ``planning.prices`` / ``planning.storagePrices`` in the stack config
override any row (see ``stack/config/planning.py``). Prices are USD list prices for us-central1;
GCP bills per second, and a month is ``HOURS_PER_MONTH`` hours.

Source tags (the ``source`` of each row):

* ``GCP-spot``: https://cloud.google.com/spot-vms/pricing, us-central1 table (A3-HIGH spot vCPU
  $0.0102/h and memory $0.000888/GiB-h, as stored 2026). Verified.
* ``GCS``: https://cloud.google.com/storage/pricing, Standard regional $0.000027397/GiB-h
  (= $0.020/GiB-month), transcribed 2026-09-20. Verified.
* ``3P-2026``: a third-party price survey (costnimbus.com, March 2026: GCP A3-High H100 spot
  ~$2.25/GPU-h; g2-standard-4 ~$0.70–0.80/h). Not a Google page.
* ``[Mem]``: Google list prices as remembered (compute/gpus-pricing, disks-image-pricing,
  filestore/pricing, kubernetes-engine/pricing, 2024–2025); not re-verified here. Check before
  budgeting and override in config.

Throughput rows (network caps, disk rates, loader rates) carry the same kind of tag; the
published measurements they are checked against are in ../shared/reference/gke-inference-anchors.md
§7 and serving-peers.md §3(d).
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730.0
"""GCP's billing month (pricing pages and calculator use 730 h)."""
PRICES_AS_OF = "2026-11-29"
"""When this table was compiled (rows tagged [Mem] predate it; see each source)."""
GB = 1e9
GIB = 2**30


@dataclass(frozen=True)
class MachinePrice:
    """Hourly price of one machine (GPUs, vCPUs, RAM, bundled Local SSD), us-central1."""

    on_demand: float | None
    spot: float | None
    source: str


# A3 spot rows are composed: vCPU × $0.0102 + GiB × $0.000888 [GCP-spot] + GPUs × $2.25 [3P-2026].
_A3_SPOT_HOST = 0.0102 * 208 + 0.000888 * 1872

MACHINE_PRICES: dict[str, MachinePrice] = {
    # G2 (L4): on-demand [Mem] (g2-standard-4 $0.7068/h agrees with 3P-2026's $0.70–0.80);
    # spot [Mem] ≈ 30–35 % of on-demand.
    "g2-standard-4": MachinePrice(0.7068, 0.2507, "[Mem] gpus-pricing; on-demand cross-checked 3P-2026"),
    "g2-standard-8": MachinePrice(0.8536, 0.3027, "[Mem] gpus-pricing"),
    "g2-standard-12": MachinePrice(1.0004, 0.3546, "[Mem] gpus-pricing"),
    "g2-standard-16": MachinePrice(1.1472, 0.4066, "[Mem] gpus-pricing"),
    "g2-standard-24": MachinePrice(2.0008, 0.7093, "[Mem] gpus-pricing"),
    "g2-standard-32": MachinePrice(1.7340, 0.6145, "[Mem] gpus-pricing"),
    "g2-standard-48": MachinePrice(4.0016, 1.4186, "[Mem] gpus-pricing"),
    "g2-standard-96": MachinePrice(8.0032, 2.8372, "[Mem] gpus-pricing"),
    # A2 (A100 40 GB / 80 GB) [Mem]; a2-highgpu-8g spot $12.17/h appears in a 3P survey (deploybase, 2026).
    "a2-highgpu-1g": MachinePrice(3.6731, 1.1019, "[Mem] gpus-pricing"),
    "a2-highgpu-2g": MachinePrice(7.3462, 2.2039, "[Mem] gpus-pricing"),
    "a2-highgpu-4g": MachinePrice(14.6924, 4.4077, "[Mem] gpus-pricing"),
    "a2-highgpu-8g": MachinePrice(29.3847, 8.8154, "[Mem] gpus-pricing"),
    "a2-megagpu-16g": MachinePrice(55.7395, 16.7218, "[Mem] gpus-pricing"),
    "a2-ultragpu-1g": MachinePrice(5.0688, 1.6000, "[Mem] gpus-pricing"),
    "a2-ultragpu-2g": MachinePrice(10.1376, 3.2000, "[Mem] gpus-pricing"),
    "a2-ultragpu-4g": MachinePrice(20.2752, 6.4000, "[Mem] gpus-pricing"),
    "a2-ultragpu-8g": MachinePrice(40.5504, 12.1700, "[Mem] gpus-pricing; spot 3P-2026 (deploybase)"),
    # A3 (H100): on-demand [Mem] list price; spot composed (see _A3_SPOT_HOST).
    "a3-highgpu-1g": MachinePrice(
        11.0613, round(_A3_SPOT_HOST / 8 + 2.25, 4), "[Mem] on-demand; spot GCP-spot + 3P-2026"
    ),
    "a3-highgpu-2g": MachinePrice(
        22.1225, round(_A3_SPOT_HOST / 4 + 4.50, 4), "[Mem] on-demand; spot GCP-spot + 3P-2026"
    ),
    "a3-highgpu-4g": MachinePrice(
        44.2450, round(_A3_SPOT_HOST / 2 + 9.00, 4), "[Mem] on-demand; spot GCP-spot + 3P-2026"
    ),
    "a3-highgpu-8g": MachinePrice(88.4900, round(_A3_SPOT_HOST + 18.00, 4), "[Mem] on-demand; spot GCP-spot + 3P-2026"),
    "a3-edgegpu-8g": MachinePrice(88.4900, round(_A3_SPOT_HOST + 18.00, 4), "[Mem] priced as a3-highgpu-8g"),
    "a3-megagpu-8g": MachinePrice(94.0000, None, "[Mem] on-demand; spot unknown"),
    "a3-ultragpu-8g": MachinePrice(84.8000, None, "[Mem] on-demand; spot unknown"),
}
"""Machine prices by machine type; a missing row or None means "unknown: set planning.prices"."""

SYSTEM_MACHINE_PRICES: dict[str, float] = {
    "e2-standard-2": 0.0670,
    "e2-standard-4": 0.1340,
    "e2-standard-8": 0.2681,
    "e2-standard-16": 0.5362,
}
"""On-demand hourly price of system-pool machines, [Mem] compute/vm-instance-pricing."""

GKE_CLUSTER_FEE_HOURLY = 0.10
"""GKE cluster management fee per cluster-hour, [Mem] kubernetes-engine/pricing (the free tier credits one
zonal/Autopilot cluster)."""


@dataclass(frozen=True)
class StoragePriceRow:
    value: float
    unit: str
    source: str


STORAGE_PRICES: dict[str, StoragePriceRow] = {
    "bucketGbMonth": StoragePriceRow(0.020, "$/GiB-month", "GCS (Standard, regional us-central1)"),
    "pdSsdGbMonth": StoragePriceRow(0.170, "$/GiB-month", "[Mem] disks-image-pricing"),
    "pdBalancedGbMonth": StoragePriceRow(0.100, "$/GiB-month", "[Mem] disks-image-pricing"),
    "hyperdiskMlGbMonth": StoragePriceRow(0.080, "$/GiB-month", "[Mem] disks-image-pricing (Hyperdisk ML capacity)"),
    "hyperdiskMlMibpsMonth": StoragePriceRow(
        0.120, "$/MiB/s-month", "[Mem] disks-image-pricing (Hyperdisk ML throughput)"
    ),
    "filestoreBasicHddGbMonth": StoragePriceRow(0.160, "$/GiB-month", "[Mem] filestore/pricing"),
    "filestoreBasicSsdGbMonth": StoragePriceRow(0.300, "$/GiB-month", "[Mem] filestore/pricing"),
    "filestoreZonalGbMonth": StoragePriceRow(0.250, "$/GiB-month", "[Mem] filestore/pricing"),
    "filestoreRegionalGbMonth": StoragePriceRow(0.450, "$/GiB-month", "[Mem] filestore/pricing"),
    "filestoreEnterpriseGbMonth": StoragePriceRow(0.600, "$/GiB-month", "[Mem] filestore/pricing"),
}
"""Storage prices; keys match ``planning.storagePrices`` fields."""

FILESTORE_TIER_KEY = {
    "BASIC_HDD": "filestoreBasicHddGbMonth",
    "BASIC_SSD": "filestoreBasicSsdGbMonth",
    "ZONAL": "filestoreZonalGbMonth",
    "REGIONAL": "filestoreRegionalGbMonth",
    "ENTERPRISE": "filestoreEnterpriseGbMonth",
}


# --------------------------------------------------------------------------------------------
# Throughput tables
# --------------------------------------------------------------------------------------------

NETWORK_GBPS: dict[str, float] = {
    "g2-standard-4": 10,
    "g2-standard-8": 16,
    "g2-standard-12": 16,
    "g2-standard-16": 32,
    "g2-standard-24": 32,
    "g2-standard-32": 32,
    "g2-standard-48": 50,
    "g2-standard-96": 100,
    "a2-highgpu-1g": 24,
    "a2-highgpu-2g": 32,
    "a2-highgpu-4g": 50,
    "a2-highgpu-8g": 100,
    "a2-megagpu-16g": 100,
    "a2-ultragpu-1g": 24,
    "a2-ultragpu-2g": 32,
    "a2-ultragpu-4g": 50,
    "a2-ultragpu-8g": 100,
    "a3-highgpu-1g": 25,
    "a3-highgpu-2g": 50,
    "a3-highgpu-4g": 100,
    "a3-highgpu-8g": 200,
    "a3-edgegpu-8g": 200,
    "a3-megagpu-8g": 200,
    "a3-ultragpu-8g": 200,
    "a3-ultragpu-8g-nolssd": 200,
    "a4-highgpu-8g": 400,
}
"""Per-VM host network bandwidth (Gbit/s, gVNIC tier_1 off), [Mem] compute/docs/gpus/gpu-network-bandwidth.
GPU-to-GPU NICs of A3/A4 are not counted: storage traffic goes through the host NIC."""
DEFAULT_NETWORK_GBPS = 16.0
"""Fallback for N1/T4 and unknown shapes, [Mem]."""

HBM_GBPS: dict[str, float] = {
    "nvidia-tesla-t4": 320,
    "nvidia-l4": 300,
    "nvidia-tesla-a100": 1555,
    "nvidia-a100-80gb": 2039,
    "nvidia-h100-80gb": 3350,
    "nvidia-h100-mega-80gb": 3350,
    "nvidia-h200-141gb": 4800,
    "nvidia-b200": 8000,
}
"""GPU memory bandwidth (GB/s) from NVIDIA data sheets [Mem]; used for the default single-stream decode rate."""

OUTPUT_TOKENS_PER_GPU_8B: dict[str, float] = {
    "nvidia-tesla-t4": 350,
    "nvidia-l4": 900,
    "nvidia-tesla-a100": 3500,
    "nvidia-a100-80gb": 4000,
    "nvidia-h100-80gb": 6500,
    "nvidia-h100-mega-80gb": 6500,
    "nvidia-h200-141gb": 8000,
    "nvidia-b200": 12000,
}
"""Saturated output tokens/s per GPU for an 8B-parameter 16-bit model with vLLM, [Mem] (public
vLLM/GKE benchmark ranges, ±50 %). The planner scales it by 8B/parameters and GPUs × 0.8 TP
efficiency when no load-test report or planning.throughput is given: always prefer a measurement."""

FUSE_UNTUNED_GBPS = 141e9 / 1200 / GB
"""GCS FUSE without file cache or parallel downloads: Llama-3.3-70B (141 GB) in ~1200 s
(ACP gcsfuse README, anchors §7) → 0.1175 GB/s."""
FUSE_TUNED_NETWORK_SHARE = 0.8
"""Share of the VM's network a tuned FUSE mount (parallel downloads into the file cache) reaches. Assumption."""
DEFAULT_LOADER_GBPS_PER_RANK = 141e9 / 35 / 8 / GB
"""vLLM's default safetensors loader per tensor-parallel rank: ACP loaded 141 GB in ~35 s with TP=8
from a warm RAM cache (anchors §7) → 0.50 GB/s per rank. Agrees with tensorfuse's Llama-3.1-8B
(16 GB) load of 33 s on one GPU (serving-peers §3(d)) → 0.49 GB/s."""
LOCAL_SSD_GBPS_PER_DISK = 1.0
"""Local NVMe SSD read per 375 GiB disk: anyscale measured ~4 GB/s from 4 NVMe on a2-highgpu-4g
(anchors §7) → 1 GB/s per disk."""
RUNAI_STREAMER_GIBPS = 58.99 / 58.3
"""Run:ai Model Streamer from gs://: 58.99 GiB in 58.3 s on H100 (ACP PR #524, anchors §7) → 1.01 GiB/s
per reader. Anyscale saw 1.4 GiB/s per rank from S3 and that each TP rank streams the whole
(unsharded) model (serving-peers §3(d))."""
HF_DOWNLOAD_GBPS = 131.4 * GIB / 196.5 / GB
"""Hugging Face hub download: anyscale, Llama-3-70B 131.4 GiB in 196.5 s (serving-peers §3(d)) → 0.72 GB/s.
Tensorfuse saw 0.26 GB/s for Llama-3.1-8B; the hub's rate varies."""
PD_MBPS_PER_GB = {"pd-ssd": 0.48, "pd-balanced": 0.28}
"""Persistent Disk read throughput per provisioned GB (MB/s), [Mem] compute/docs/disks/performance."""
PD_MAX_MBPS = {"pd-ssd": 1200, "pd-balanced": 1200}
"""Per-VM Persistent Disk read cap (MB/s) for large VMs, [Mem]. Anyscale measured PD at ~0.3 GB/s (anchors §7)."""
FILESTORE_READ_MBPS: dict[str, tuple[float, float]] = {
    "BASIC_HDD": (100.0, 0.0),
    "BASIC_SSD": (1200.0, 0.0),
    "ZONAL": (0.0, 260.0),
    "REGIONAL": (0.0, 120.0),
    "ENTERPRISE": (0.0, 120.0),
}
"""Filestore read throughput by tier: (flat MB/s, MB/s per TiB of capacity), [Mem] filestore/docs/performance."""

PLAIN_PULL_GBPS = 0.1
"""Plain containerd pull of a large image (download, gunzip and extract are serial per layer):
~0.1 GB/s, i.e. ~100 s for a 10 GB vLLM image, [Mem] (typical 1.5–3 min vLLM pulls on GCE)."""
SBD_SPEEDUP = 29.0
"""Secondary boot disk image cache: a 16 GB image "up to 29x" faster than downloading (Google blog via a
secondary summary, anchors §5.1 and §7). An upper bound; the estimate uses it as is."""
STREAMING_GBPS = 1.0
"""Image streaming: the container starts after a mount, then the touched files are fetched lazily
from Artifact Registry; assumed ~1 GB/s, [Mem]."""
STREAMING_MOUNT_SECONDS = 5.0
"""Image streaming mount before the container starts, [Mem] (GKE: "seconds" instead of minutes)."""
