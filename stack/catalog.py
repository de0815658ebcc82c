"""The machine/GPU catalog, re-exported for the stack layer.

The table lives in ``infra/catalog.py`` because components (``GpuNodePool``) derive the
accelerator from the machine type and must not import ``stack/`` (design.md §3).
"""

from infra.catalog import (  # noqa: F401
    ACCELERATORS,
    MACHINE_TYPES,
    N1_T4_GPU_COUNTS,
    Accelerator,
    LocalSsdPolicy,
    MachineType,
    UnknownMachineType,
    lookup,
)
