"""The machine catalog against the table in reference/gke-iac-reference.md §4.

Expected rows are copied from that table (accelerator type, GPUs, vCPU, RAM GB, Local SSD policy
and count); A3/A4 bundled SSD counts there cite cluster-toolkit disk_definitions.tf and
accelerated-platforms, the rest are marked [Mem] in the reference.
"""

from __future__ import annotations

import pytest

from infra import catalog
from infra.catalog import LocalSsdPolicy, UnknownMachineType, lookup

OPTIONAL, BUNDLED, NONE = LocalSsdPolicy.OPTIONAL, LocalSsdPolicy.BUNDLED, LocalSsdPolicy.NONE

# machine type: (accelerator, GPUs, vCPU, RAM GB, Local SSD policy, max/bundled disks)
REFERENCE_ROWS = {
    "g2-standard-4": ("nvidia-l4", 1, 4, 16, OPTIONAL, 1),
    "g2-standard-8": ("nvidia-l4", 1, 8, 32, OPTIONAL, 1),
    "g2-standard-12": ("nvidia-l4", 1, 12, 48, OPTIONAL, 1),
    "g2-standard-16": ("nvidia-l4", 1, 16, 64, OPTIONAL, 1),
    "g2-standard-24": ("nvidia-l4", 2, 24, 96, OPTIONAL, 2),
    "g2-standard-32": ("nvidia-l4", 1, 32, 128, OPTIONAL, 1),
    "g2-standard-48": ("nvidia-l4", 4, 48, 192, OPTIONAL, 4),
    "g2-standard-96": ("nvidia-l4", 8, 96, 384, OPTIONAL, 8),
    "a2-highgpu-1g": ("nvidia-tesla-a100", 1, 12, 85, OPTIONAL, 8),
    "a2-highgpu-2g": ("nvidia-tesla-a100", 2, 24, 170, OPTIONAL, 8),
    "a2-highgpu-4g": ("nvidia-tesla-a100", 4, 48, 340, OPTIONAL, 8),
    "a2-highgpu-8g": ("nvidia-tesla-a100", 8, 96, 680, OPTIONAL, 8),
    "a2-megagpu-16g": ("nvidia-tesla-a100", 16, 96, 1360, OPTIONAL, 8),
    "a2-ultragpu-1g": ("nvidia-a100-80gb", 1, 12, 170, BUNDLED, 1),
    "a2-ultragpu-2g": ("nvidia-a100-80gb", 2, 24, 340, BUNDLED, 2),
    "a2-ultragpu-4g": ("nvidia-a100-80gb", 4, 48, 680, BUNDLED, 4),
    "a2-ultragpu-8g": ("nvidia-a100-80gb", 8, 96, 1360, BUNDLED, 8),
    "a3-highgpu-1g": ("nvidia-h100-80gb", 1, 26, 234, BUNDLED, 2),
    "a3-highgpu-2g": ("nvidia-h100-80gb", 2, 52, 468, BUNDLED, 4),
    "a3-highgpu-4g": ("nvidia-h100-80gb", 4, 104, 936, BUNDLED, 8),
    "a3-highgpu-8g": ("nvidia-h100-80gb", 8, 208, 1872, BUNDLED, 16),
    "a3-edgegpu-8g": ("nvidia-h100-80gb", 8, 208, 1872, BUNDLED, 16),
    "a3-megagpu-8g": ("nvidia-h100-mega-80gb", 8, 208, 1872, BUNDLED, 16),
    "a3-ultragpu-8g": ("nvidia-h200-141gb", 8, 224, 2952, BUNDLED, 32),
    "a3-ultragpu-8g-nolssd": ("nvidia-h200-141gb", 8, 224, 2952, NONE, 0),
    "a4-highgpu-8g": ("nvidia-b200", 8, 224, 3968, BUNDLED, 32),
}

# accelerator type: per-GPU memory in GB (reference §4, first table)
REFERENCE_GPU_MEMORY = {
    "nvidia-tesla-t4": 16,
    "nvidia-l4": 24,
    "nvidia-tesla-a100": 40,
    "nvidia-a100-80gb": 80,
    "nvidia-h100-80gb": 80,
    "nvidia-h100-mega-80gb": 80,
    "nvidia-h200-141gb": 141,
    "nvidia-b200": 180,
}


def test_catalog_has_exactly_the_reference_rows():
    assert sorted(catalog.MACHINE_TYPES) == sorted(REFERENCE_ROWS)


@pytest.mark.parametrize("name", sorted(REFERENCE_ROWS))
def test_row_matches_reference(name):
    machine = lookup(name)
    row = (
        machine.accelerator,
        machine.gpu_count,
        machine.vcpu,
        machine.ram_gb,
        machine.local_ssd,
        machine.max_local_ssd,
    )
    assert row == REFERENCE_ROWS[name]
    assert machine.gpu_count_fixed is True
    assert machine.source  # every row names where it comes from


@pytest.mark.parametrize(
    ("name", "bundled"),
    [
        ("a3-highgpu-8g", 16),
        ("a3-megagpu-8g", 16),
        ("a3-ultragpu-8g", 32),
        ("a4-highgpu-8g", 32),
        ("a2-ultragpu-2g", 2),
        ("g2-standard-96", 0),
        ("a2-highgpu-8g", 0),
        ("a3-ultragpu-8g-nolssd", 0),
    ],
)
def test_bundled_local_ssd(name, bundled):
    assert lookup(name).bundled_local_ssd == bundled


def test_gpu_memory_per_accelerator():
    assert {t: a.memory_gb for t, a in catalog.ACCELERATORS.items()} == REFERENCE_GPU_MEMORY


@pytest.mark.parametrize(
    ("name", "total_gb"),
    [("g2-standard-48", 96), ("a3-highgpu-8g", 640), ("a3-ultragpu-8g", 1128), ("a2-megagpu-16g", 640)],
)
def test_total_gpu_memory(name, total_gb):
    assert lookup(name).gpu_memory_gb == total_gb


def test_a2_ultragpu_carries_a100_80gb_not_the_cluster_toolkit_mapping():
    # cluster-toolkit machine_mappings.json maps a2-ultragpu to nvidia-tesla-a100; GKE uses nvidia-a100-80gb.
    assert lookup("a2-ultragpu-1g").gpu.name == "A100 80GB"


def test_mig_profiles():
    assert lookup("a2-highgpu-1g").gpu.mig_profiles == ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb")
    assert lookup("a2-ultragpu-1g").gpu.mig_profiles == ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb")
    assert "1g.20gb" in lookup("a3-highgpu-8g").gpu.mig_profiles
    assert lookup("a3-ultragpu-8g").gpu.mig_profiles[-1] == "7g.141gb"
    assert lookup("g2-standard-8").gpu.mig_profiles == ()


@pytest.mark.parametrize(
    ("name", "gpus", "vcpu", "ram_gb"),
    [("n1-standard-8", 1, 8, 30.0), ("n1-standard-16", 2, 16, 60.0), ("n1-highmem-32", 4, 32, 208.0)],
)
def test_n1_attaches_the_requested_t4s(name, gpus, vcpu, ram_gb):
    machine = lookup(name, gpus)
    assert (machine.accelerator, machine.gpu_count, machine.vcpu, machine.ram_gb) == (
        "nvidia-tesla-t4",
        gpus,
        vcpu,
        ram_gb,
    )
    assert machine.gpu_count_fixed is False
    assert (machine.local_ssd, machine.max_local_ssd) == (OPTIONAL, 8)


def test_n1_without_a_count_defaults_to_one_t4():
    assert lookup("n1-standard-4").gpu_count == 1
    assert catalog.N1_T4_GPU_COUNTS == (1, 2, 4)


@pytest.mark.parametrize("name", ["n2-standard-8", "e2-medium", "c3-standard-8", "n1-ultramem-40", "m3-megamem-64"])
def test_machines_that_cannot_carry_gpus(name):
    with pytest.raises(UnknownMachineType) as caught:
        lookup(name)
    assert str(caught.value) == (
        f"'{name}' cannot carry GPUs on GKE: GPUs attach only to N1 (T4) and accelerator-optimized machines "
        "(g2-*, a2-*, a3-*, a4-*); use e.g. g2-standard-8 for one L4"
    )


@pytest.mark.parametrize("name", ["a3-highgpu-16g", "g4-standard-48", "a4x-highgpu-4g", "g2-standard-8x"])
def test_unknown_accelerator_optimized_shapes_name_the_table(name):
    with pytest.raises(UnknownMachineType) as caught:
        lookup(name)
    message = str(caught.value)
    assert message.startswith(f"'{name}' is an accelerator-optimized shape missing from infra/catalog.py; known: ")
    assert message.endswith(", ".join(sorted(catalog.MACHINE_TYPES)))
