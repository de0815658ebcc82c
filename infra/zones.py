"""Which zones exist in a region and which of them offer a GPU type ("accelerator not available in zone" is the
most common real failure of a GPU node pool).

Pure functions over the vendored table in ``infra/zones_data.py`` (sources and retrieval date there), used by
``GpuNodePool``'s validator and through it by the stack config, so both refuse the same zones.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra import catalog
from infra.zones_data import GPU_ZONES, REGION_ZONES, RETRIEVED

CATALOG = f"infra/zones_data.py, retrieved {RETRIEVED}"
"""How messages name the table (a zone Google added since then needs an entry there)."""


def region_of(zone: str) -> str:
    """``us-central1-a`` → ``us-central1`` (everything before the last ``-``)."""
    return zone.rsplit("-", 1)[0]


def _letters(zones: Sequence[str]) -> str:
    return ", ".join(zones) if zones else "none"


def zone_problem(zone: str, region: str) -> str | None:
    """Why ``zone`` cannot be used in ``region`` (None when it can): a zone of another region, a region the
    table does not know, or a zone the region does not have."""
    if region_of(zone) != region:
        return f"'{zone}' is not in region {region}"
    known = REGION_ZONES.get(region)
    if known is None:
        return f"region {region} is not in the zone table ({CATALOG}); known regions: {', '.join(sorted(REGION_ZONES))}"
    if zone not in known:
        return f"'{zone}' is not a zone of {region}; its zones: {_letters(known)} ({CATALOG})"
    return None


def gpu_zones(accelerator: str, region: str) -> tuple[str, ...]:
    """The zones of ``region`` that offer ``accelerator`` (a key of infra/catalog.py's ``ACCELERATORS``)."""
    return tuple(z for z in GPU_ZONES.get(accelerator, ()) if region_of(z) == region)


def gpu_zone_problem(zone: str, accelerator: str, machine_type: str) -> str | None:
    """Why ``zone`` cannot host ``machine_type``'s ``accelerator`` (None when it can), naming the zones of the
    same region that do offer it. Only for zones ``zone_problem`` accepts."""
    if accelerator not in GPU_ZONES or zone in GPU_ZONES[accelerator]:
        return None
    region = region_of(zone)
    offering = gpu_zones(accelerator, region)
    where = f"zones of {region} that offer it: {_letters(offering)}" if offering else (
        f"no zone of {region} offers it; regions that do: "
        f"{', '.join(sorted({region_of(z) for z in GPU_ZONES[accelerator]}))}"
    )
    return f"{accelerator} ({machine_type}) is not offered in {zone}; {where} ({CATALOG})"


def node_location_problem(zone: str, region: str, machine_type: str, gpu_count: int | None = None) -> str | None:
    """Why a pool of ``machine_type`` cannot have a node in ``zone`` of ``region`` (None when it can): the zone
    must exist there and offer the machine's GPU. A machine type the catalog does not know is the machine-type
    rule's to report, so only the zone is checked then."""
    problem = zone_problem(zone, region)
    if problem is not None:
        return problem
    try:
        machine = catalog.lookup(machine_type, gpu_count)
    except catalog.UnknownMachineType:
        return None
    return gpu_zone_problem(zone, machine.accelerator, machine_type)
