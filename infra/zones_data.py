"""GPU zone data for infra/zones.py: the zones of each region and the zones offering each GPU type.

Retrieved 2026-12-07. Sources:

* Primary: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones ("GPU regions and zones"). The page
  itself was not reachable from this workspace, so its table is not copied directly; the rows below come from:
* GPU_ZONES: skypilot-org/skypilot-catalog @006059e0f18acb1341e22a27751e9f80df6ba92f
  ``catalogs/v8/gcp/vms.csv``, the rows with an AcceleratorName (generated from the Compute Engine API's
  per-zone accelerator types). A100 = nvidia-tesla-a100, A100-80GB = nvidia-a100-80gb, B200 = nvidia-b200,
  H100 = nvidia-h100-80gb (A3 High and A3 Edge), H100-MEGA = nvidia-h100-mega-80gb, H200 = nvidia-h200-141gb,
  L4 = nvidia-l4, T4 = nvidia-tesla-t4 (the zones offering 4 per VM).
* Added from stewartpark/private-llm ``cli/setup.go`` ``zonesForFamily``, a transcription of the GPU regions
  and zones page dated 2026-02-05: us-central1-f for nvidia-l4 (g2) and us-central1-a for nvidia-b200 (a4),
  listed there but not in the API rows. A zone either source lists is accepted (a false refusal would block a
  working stack; a false acceptance fails at create time, as it did before this table).
* REGION_ZONES: the same vms.csv, the zones of n2d-highcpu-16 and n4-standard-80 (offered in every zone of the
  regions listed), plus every zone of GPU_ZONES.

A Python module rather than JSON so the wheel carries it without package-data entries.
"""

RETRIEVED = "2026-12-07"
"""When the tables below were taken from their sources."""

REGION_ZONES: dict[str, tuple[str, ...]] = {
    "africa-south1": ("africa-south1-a", "africa-south1-b", "africa-south1-c",),
    "asia-east1": ("asia-east1-a", "asia-east1-b", "asia-east1-c",),
    "asia-east2": ("asia-east2-a", "asia-east2-b", "asia-east2-c",),
    "asia-northeast1": ("asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c",),
    "asia-northeast2": ("asia-northeast2-a", "asia-northeast2-b", "asia-northeast2-c",),
    "asia-northeast3": ("asia-northeast3-a", "asia-northeast3-b", "asia-northeast3-c",),
    "asia-south1": ("asia-south1-a", "asia-south1-b", "asia-south1-c",),
    "asia-south2": ("asia-south2-a", "asia-south2-b", "asia-south2-c",),
    "asia-southeast1": ("asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c",),
    "asia-southeast2": ("asia-southeast2-a", "asia-southeast2-b", "asia-southeast2-c",),
    "asia-southeast3": ("asia-southeast3-a", "asia-southeast3-b", "asia-southeast3-c",),
    "australia-southeast1": ("australia-southeast1-a", "australia-southeast1-b", "australia-southeast1-c",),
    "australia-southeast2": ("australia-southeast2-a", "australia-southeast2-b", "australia-southeast2-c",),
    "europe-central2": ("europe-central2-a", "europe-central2-b", "europe-central2-c",),
    "europe-north1": ("europe-north1-a", "europe-north1-b", "europe-north1-c",),
    "europe-north2": ("europe-north2-a", "europe-north2-b", "europe-north2-c",),
    "europe-southwest1": ("europe-southwest1-a", "europe-southwest1-b", "europe-southwest1-c",),
    "europe-west1": ("europe-west1-b", "europe-west1-c", "europe-west1-d",),
    "europe-west10": ("europe-west10-a", "europe-west10-b", "europe-west10-c",),
    "europe-west12": ("europe-west12-a", "europe-west12-b", "europe-west12-c",),
    "europe-west2": ("europe-west2-a", "europe-west2-b", "europe-west2-c",),
    "europe-west3": ("europe-west3-a", "europe-west3-b", "europe-west3-c",),
    "europe-west4": ("europe-west4-a", "europe-west4-b", "europe-west4-c",),
    "europe-west6": ("europe-west6-a", "europe-west6-b", "europe-west6-c",),
    "europe-west8": ("europe-west8-a", "europe-west8-b", "europe-west8-c",),
    "europe-west9": ("europe-west9-a", "europe-west9-b", "europe-west9-c",),
    "me-central1": ("me-central1-a", "me-central1-b", "me-central1-c",),
    "me-central2": ("me-central2-a", "me-central2-b", "me-central2-c",),
    "me-west1": ("me-west1-a", "me-west1-b", "me-west1-c",),
    "northamerica-northeast1": ("northamerica-northeast1-a", "northamerica-northeast1-b", "northamerica-northeast1-c",),
    "northamerica-northeast2": ("northamerica-northeast2-a", "northamerica-northeast2-b", "northamerica-northeast2-c",),
    "northamerica-south1": ("northamerica-south1-a", "northamerica-south1-b", "northamerica-south1-c",),
    "southamerica-east1": ("southamerica-east1-a", "southamerica-east1-b", "southamerica-east1-c",),
    "southamerica-west1": ("southamerica-west1-a", "southamerica-west1-b", "southamerica-west1-c",),
    "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f",),
    "us-east1": ("us-east1-b", "us-east1-c", "us-east1-d",),
    "us-east4": ("us-east4-a", "us-east4-b", "us-east4-c",),
    "us-east5": ("us-east5-a", "us-east5-b", "us-east5-c",),
    "us-south1": ("us-south1-a", "us-south1-ai1b", "us-south1-b", "us-south1-c",),
    "us-west1": ("us-west1-a", "us-west1-b", "us-west1-c",),
    "us-west2": ("us-west2-a", "us-west2-b", "us-west2-c",),
    "us-west3": ("us-west3-a", "us-west3-b", "us-west3-c",),
    "us-west4": ("us-west4-a", "us-west4-b", "us-west4-c",),
}
"""Zones of each region (the sources' `regions` entry)."""

GPU_ZONES: dict[str, tuple[str, ...]] = {
    "nvidia-tesla-t4": (
        "asia-east1-a", "asia-east1-c", "asia-east2-a", "asia-east2-c", "asia-northeast1-a",
        "asia-northeast1-c", "asia-northeast3-b", "asia-northeast3-c", "asia-south1-a", "asia-south1-b",
        "asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c", "asia-southeast2-a", "asia-southeast2-b",
        "australia-southeast1-a", "australia-southeast1-c", "europe-central2-b", "europe-central2-c",
        "europe-west1-b", "europe-west1-c", "europe-west1-d", "europe-west2-a", "europe-west2-b",
        "europe-west3-b", "europe-west4-a", "europe-west4-b", "europe-west4-c", "me-west1-b", "me-west1-c",
        "northamerica-northeast1-c", "southamerica-east1-a", "southamerica-east1-b", "southamerica-east1-c",
        "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-east1-b", "us-east1-c",
        "us-east1-d", "us-east4-a", "us-east4-b", "us-east4-c", "us-west1-a", "us-west1-b", "us-west2-b",
        "us-west2-c", "us-west3-b", "us-west4-a", "us-west4-b",
    ),
    "nvidia-l4": (
        "asia-east1-a", "asia-east1-b", "asia-east1-c", "asia-northeast1-a", "asia-northeast1-b",
        "asia-northeast1-c", "asia-northeast3-a", "asia-northeast3-b", "asia-south1-a", "asia-south1-b",
        "asia-south1-c", "asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c", "europe-west1-b",
        "europe-west1-c", "europe-west2-a", "europe-west2-b", "europe-west3-a", "europe-west3-b",
        "europe-west4-a", "europe-west4-b", "europe-west4-c", "europe-west6-b", "europe-west6-c",
        "me-central2-a", "me-central2-c", "northamerica-northeast1-b", "northamerica-northeast1-c",
        "northamerica-northeast2-a", "northamerica-northeast2-b", "us-central1-a", "us-central1-b",
        "us-central1-c", "us-central1-f", "us-east1-b", "us-east1-c", "us-east1-d", "us-east4-a", "us-east4-c",
        "us-west1-a", "us-west1-b", "us-west1-c", "us-west4-a", "us-west4-c",
    ),
    "nvidia-tesla-a100": (
        "asia-northeast1-a", "asia-northeast1-c", "asia-northeast3-a", "asia-northeast3-b", "asia-southeast1-a",
        "asia-southeast1-b", "asia-southeast1-c", "europe-west4-a", "europe-west4-b", "me-west1-a",
        "me-west1-c", "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-east1-b",
        "us-west1-b", "us-west3-b", "us-west4-b",
    ),
    "nvidia-a100-80gb": (
        "asia-southeast1-c", "europe-west4-a", "us-central1-a", "us-central1-c", "us-east4-c", "us-east5-a",
        "us-east5-b",
    ),
    "nvidia-h100-80gb": (
        "asia-east1-c", "asia-northeast1-b", "asia-northeast3-a", "asia-northeast3-c", "asia-south1-c",
        "asia-south2-b", "asia-southeast1-b", "asia-southeast1-c", "australia-southeast1-c", "europe-north1-c",
        "europe-west1-b", "europe-west1-c", "europe-west2-b", "europe-west3-a", "europe-west3-c",
        "europe-west4-b", "europe-west4-c", "europe-west9-c", "northamerica-northeast2-c", "us-central1-a",
        "us-central1-b", "us-central1-c", "us-east4-a", "us-east4-b", "us-east4-c", "us-east5-a", "us-west1-a",
        "us-west1-b", "us-west4-a",
    ),
    "nvidia-h100-mega-80gb": (
        "asia-northeast1-b", "asia-northeast3-a", "asia-northeast3-c", "asia-south1-c", "asia-southeast1-b",
        "asia-southeast1-c", "australia-southeast1-c", "europe-west1-b", "europe-west1-c", "europe-west3-a",
        "europe-west3-c", "europe-west4-b", "europe-west4-c", "northamerica-northeast2-c", "us-central1-a",
        "us-central1-b", "us-central1-c", "us-east4-a", "us-east4-b", "us-east4-c", "us-east5-a", "us-west1-a",
        "us-west1-b", "us-west4-a",
    ),
    "nvidia-h200-141gb": (
        "asia-south1-b", "asia-south2-c", "europe-west1-b", "europe-west4-a", "us-central1-b", "us-east4-b",
        "us-east5-a", "us-south1-b", "us-west1-c",
    ),
    "nvidia-b200": (
        "asia-northeast1-b", "asia-southeast1-b", "europe-north1-b", "europe-west4-b", "us-central1-a",
        "us-central1-b", "us-east1-b", "us-east4-b", "us-south1-b", "us-west2-c", "us-west3-b", "us-west3-c",
    ),
}
"""Zones offering each GPU type, keyed like infra/catalog.py's ACCELERATORS."""
