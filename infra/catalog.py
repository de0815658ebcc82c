"""Machine-type catalog: what each GPU machine shape carries.

Every row names its source. Sources (see ../shared/reference/gke-iac-reference.md §4):

* ``CE-GPU``: Compute Engine GPU machine pages,
  https://cloud.google.com/compute/docs/accelerator-optimized-machines and
  https://cloud.google.com/compute/docs/gpus (vCPU/RAM as generated from the Compute API).
* ``CT``: GoogleCloudPlatform/cluster-toolkit @10470803 ``pkg/config/machine_mappings.json`` and
  ``modules/compute/gke-node-pool/disk_definitions.tf`` (bundled Local SSD counts for A3/A4).
* ``AP``: GoogleCloudPlatform/accelerated-platforms @9320f3b
  ``platforms/gke-aiml/playground/region/us-central1/container_node_pool.tf`` (a3-highgpu-8g → 16 SSDs).
* ``MEM``: third-party table, not verified against a primary source (marked so users can check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class LocalSsdPolicy(StrEnum):
    """How a machine family handles Local SSD."""

    OPTIONAL = "optional"
    """Local SSD may be attached, up to ``max_local_ssd`` disks (G2, A2 High, N1)."""
    BUNDLED = "bundled"
    """The machine always comes with exactly ``bundled_local_ssd`` disks (A2 Ultra, A3, A4)."""
    NONE = "none"
    """The ``-nolssd`` variants carry no Local SSD."""


@dataclass(frozen=True)
class Accelerator:
    """One GPU model as GKE names it."""

    type: str
    """Value of ``guest_accelerators[].type`` and of the node label ``cloud.google.com/gke-accelerator``."""
    name: str
    memory_gb: int
    """Memory per GPU in GB."""
    mig_profiles: tuple[str, ...] = ()
    """MIG partition sizes GKE accepts for ``gpu_partition_size`` (ref §3.4, [Mem])."""


ACCELERATORS: dict[str, Accelerator] = {
    a.type: a
    for a in (
        Accelerator("nvidia-tesla-t4", "T4", 16),
        Accelerator("nvidia-l4", "L4", 24),
        Accelerator("nvidia-tesla-a100", "A100 40GB", 40, ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb")),
        Accelerator("nvidia-a100-80gb", "A100 80GB", 80, ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb")),
        Accelerator(
            "nvidia-h100-80gb", "H100 80GB", 80, ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "7g.80gb")
        ),
        Accelerator(
            "nvidia-h100-mega-80gb", "H100 Mega 80GB", 80, ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "7g.80gb")
        ),
        Accelerator(
            "nvidia-h200-141gb",
            "H200 141GB",
            141,
            ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
        ),
        Accelerator("nvidia-b200", "B200", 180),
    )
}


@dataclass(frozen=True)
class MachineType:
    """One GPU machine shape."""

    name: str
    accelerator: str
    """Key into ``ACCELERATORS``."""
    gpu_count: int
    """GPUs attached; fixed by the shape except on N1, where it is the maximum for that shape."""
    vcpu: int
    ram_gb: float
    local_ssd: LocalSsdPolicy
    max_local_ssd: int
    """Upper bound of Local SSD disks (375 GiB each); for BUNDLED this equals the bundled count."""
    source: str
    gpu_count_fixed: bool = True
    """False only for N1, where the pool chooses 1, 2 or 4 T4s."""

    @property
    def gpu(self) -> Accelerator:
        return ACCELERATORS[self.accelerator]

    @property
    def gpu_memory_gb(self) -> int:
        """Total GPU memory of the machine (per-GPU memory × GPU count)."""
        return self.gpu.memory_gb * self.gpu_count

    @property
    def bundled_local_ssd(self) -> int:
        return self.max_local_ssd if self.local_ssd is LocalSsdPolicy.BUNDLED else 0


def _g2(vcpu: int, gpus: int) -> MachineType:
    # G2: 4 GB RAM per vCPU; Local SSD optional, at most one 375 GiB disk per GPU [MEM].
    return MachineType(
        f"g2-standard-{vcpu}", "nvidia-l4", gpus, vcpu, vcpu * 4, LocalSsdPolicy.OPTIONAL, gpus, "CE-GPU; SSD max MEM"
    )


def _a2_high(gpus: int, vcpu: int, ram: float) -> MachineType:
    name = "a2-megagpu-16g" if gpus == 16 else f"a2-highgpu-{gpus}g"
    return MachineType(name, "nvidia-tesla-a100", gpus, vcpu, ram, LocalSsdPolicy.OPTIONAL, 8, "CE-GPU; SSD max MEM")


def _a2_ultra(gpus: int, vcpu: int, ram: float) -> MachineType:
    return MachineType(
        f"a2-ultragpu-{gpus}g", "nvidia-a100-80gb", gpus, vcpu, ram, LocalSsdPolicy.BUNDLED, gpus, "CE-GPU; SSD MEM"
    )


_ROWS: tuple[MachineType, ...] = (
    _g2(4, 1),
    _g2(8, 1),
    _g2(12, 1),
    _g2(16, 1),
    _g2(24, 2),
    _g2(32, 1),
    _g2(48, 4),
    _g2(96, 8),
    _a2_high(1, 12, 85),
    _a2_high(2, 24, 170),
    _a2_high(4, 48, 340),
    _a2_high(8, 96, 680),
    _a2_high(16, 96, 1360),
    _a2_ultra(1, 12, 170),
    _a2_ultra(2, 24, 340),
    _a2_ultra(4, 48, 680),
    _a2_ultra(8, 96, 1360),
    MachineType("a3-highgpu-1g", "nvidia-h100-80gb", 1, 26, 234, LocalSsdPolicy.BUNDLED, 2, "CE-GPU; SSD MEM"),
    MachineType("a3-highgpu-2g", "nvidia-h100-80gb", 2, 52, 468, LocalSsdPolicy.BUNDLED, 4, "CE-GPU; SSD MEM"),
    MachineType("a3-highgpu-4g", "nvidia-h100-80gb", 4, 104, 936, LocalSsdPolicy.BUNDLED, 8, "CE-GPU; SSD MEM"),
    MachineType("a3-highgpu-8g", "nvidia-h100-80gb", 8, 208, 1872, LocalSsdPolicy.BUNDLED, 16, "CE-GPU; SSD CT+AP"),
    MachineType("a3-edgegpu-8g", "nvidia-h100-80gb", 8, 208, 1872, LocalSsdPolicy.BUNDLED, 16, "CE-GPU; SSD MEM"),
    MachineType("a3-megagpu-8g", "nvidia-h100-mega-80gb", 8, 208, 1872, LocalSsdPolicy.BUNDLED, 16, "CE-GPU; SSD CT"),
    MachineType("a3-ultragpu-8g", "nvidia-h200-141gb", 8, 224, 2952, LocalSsdPolicy.BUNDLED, 32, "CE-GPU; SSD CT"),
    MachineType("a3-ultragpu-8g-nolssd", "nvidia-h200-141gb", 8, 224, 2952, LocalSsdPolicy.NONE, 0, "MEM"),
    MachineType("a4-highgpu-8g", "nvidia-b200", 8, 224, 3968, LocalSsdPolicy.BUNDLED, 32, "CT (SSD); vCPU/RAM MEM"),
)

MACHINE_TYPES: dict[str, MachineType] = {m.name: m for m in _ROWS}

# N1 + T4: the pool chooses 1, 2 or 4 GPUs; vCPU caps ≤48 for 1–2 GPUs and ≤96 for 4 [MEM].
N1_T4_GPU_COUNTS = (1, 2, 4)
_N1_PATTERN = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")
_N1_RAM_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
ACCELERATOR_OPTIMIZED_PREFIXES = ("a2-", "a3-", "a4-", "a4x-", "g2-", "g4-")


class UnknownMachineType(ValueError):
    """The machine type is not a GPU machine this catalog knows."""


def lookup(machine_type: str, n1_gpu_count: int | None = None) -> MachineType:
    """Return the catalog row for ``machine_type``.

    Args:
        machine_type: a Compute Engine machine type such as ``g2-standard-8``.
        n1_gpu_count: for N1 shapes only, how many T4s the pool attaches (1, 2 or 4).

    Raises:
        UnknownMachineType: for machines that cannot carry GPUs on GKE (e.g. ``n2-standard-8``)
            or accelerator-optimized shapes missing from the table.
    """
    if machine_type in MACHINE_TYPES:
        return MACHINE_TYPES[machine_type]
    n1 = _N1_PATTERN.match(machine_type)
    if n1:
        family, vcpu = n1.group(1), int(n1.group(2))
        gpus = n1_gpu_count or 1
        return MachineType(
            machine_type,
            "nvidia-tesla-t4",
            gpus,
            vcpu,
            vcpu * _N1_RAM_PER_VCPU[family],
            LocalSsdPolicy.OPTIONAL,
            8,
            "CE-GPU (N1 shapes); T4 attachment caps MEM",
            gpu_count_fixed=False,
        )
    if machine_type.startswith(ACCELERATOR_OPTIMIZED_PREFIXES):
        raise UnknownMachineType(
            f"'{machine_type}' is an accelerator-optimized shape missing from infra/catalog.py; "
            f"known: {', '.join(sorted(MACHINE_TYPES))}"
        )
    raise UnknownMachineType(
        f"'{machine_type}' cannot carry GPUs on GKE: GPUs attach only to N1 (T4) and accelerator-optimized "
        "machines (g2-*, a2-*, a3-*, a4-*); use e.g. g2-standard-8 for one L4"
    )
