"""Config sections for capacity and fast starts: ComputeClassConfig, CapacityBufferConfig, PodSnapshotConfig.

They are meant as fields of a model's serving section (``serving.computeClass``, ``serving.capacityBuffer``,
``serving.podSnapshots`` — the shape ``stack/plan/simulate/startup.py`` already reads). Each section validates what it
can on its own by calling its component's pure validator with stand-ins for what it cannot know (the same
functions the components run, so a rule lives once; errors name the section's camelCase fields). Rules that need
the rest of the stack (cluster version, model size, GPUs per replica, weights backend) are in each section's
``component_errors(...)``, which the stack config calls with those values and the YAML paths they come from.

``price_fallback_order`` is the estimate's price of each rule of a fallback order (``stack/prices.py`` rows or
``planning.prices`` overrides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from infra import catalog
from infra.validation import Problem
from stack import prices
from stack.config.base import ArgPaths, FieldErrors, Model
from workloads import capacity_buffer as cb
from workloads import compute_class as cc
from workloads import pod_snapshot as ps

STAND_IN_IMAGE = "stand-in/serving-image@sha256:" + "0" * 64
"""Stands in for the serving image when a section's rules run without the stack."""


def _raise(paths: ArgPaths, problems: list[Problem]) -> None:
    if problems:
        raise FieldErrors(paths.errors(problems))


# --------------------------------------------------------------------------------------------
# ComputeClass
# --------------------------------------------------------------------------------------------


class PriorityConfig(Model):
    """One rule of the fallback order."""

    type: Literal["pools", "reservation", "onDemand", "flexStart", "spot"] = Field(
        description="`pools` (node pools of this stack), `reservation`, `onDemand`, `flexStart` or `spot`."
    )
    pools: list[str] = Field(default_factory=list, description="`pools`: gpuPools keys, tried in no particular order.")
    machine_type: str | None = Field(default=None, description="Machine type, e.g. a3-highgpu-1g (GPUs follow).")
    machine_family: str | None = Field(default=None, description="Machine series, e.g. a3 (with gpuType/gpuCount).")
    gpu_type: str | None = Field(default=None, description="GPU type, e.g. nvidia-h100-80gb.")
    gpu_count: int | None = Field(default=None, description="GPUs per node.")
    zones: list[str] = Field(default_factory=list, description="Zones for these nodes; empty uses the cluster's.")
    reservations: list[str] = Field(
        default_factory=list, description="`reservation`: names; empty consumes any matching reservation."
    )
    reservation_project: str | None = Field(default=None, description="Project owning shared named reservations.")
    node_recycling_lead_seconds: int | None = Field(
        default=None, description="`flexStart`: start a replacement node this long before a node's run ends."
    )
    max_run_duration_seconds: int | None = Field(default=None, description="`flexStart`: node lifetime (≤ 7 days).")

    def to_priority(self) -> cc.Priority:
        """The component's typed rule."""
        if self.type == "pools":
            return cc.ExistingPools(tuple(self.pools))
        shape = cc.Shape(self.machine_type, self.machine_family, self.gpu_type, self.gpu_count, tuple(self.zones))
        if self.type == "reservation":
            return cc.Reservation(shape, tuple(self.reservations), self.reservation_project)
        if self.type == "flexStart":
            return cc.FlexStart(shape, self.node_recycling_lead_seconds, self.max_run_duration_seconds)
        return cc.Spot(shape) if self.type == "spot" else cc.OnDemand(shape)


def compute_class_paths(section: str, count: int, context: Mapping[str, str] | None = None) -> ArgPaths:
    """ComputeClassArgs paths under ``section`` (``""`` inside the section itself); ``context`` maps the arguments
    that come from elsewhere (``gke_version``, ``model_bytes``, ...) to their YAML paths."""
    prefix = f"{section}." if section else ""
    fields = {"name": f"{prefix}name", **dict(context or {})}
    for i in range(count):
        fields[f"priorities.{i}.shape"] = f"{prefix}priorities.{i}"
        fields[f"priorities.{i}.names"] = f"{prefix}priorities.{i}.reservations"
        fields[f"priorities.{i}.project"] = f"{prefix}priorities.{i}.reservationProject"
    return ArgPaths(section, fields)


class ComputeClassConfig(Model):
    """A ComputeClass the model's pods select: the GPU fallback order (docs/capacity.md)."""

    name: str = Field(description="ComputeClass name (cluster-wide; pods select it).")
    priorities: list[PriorityConfig] = Field(min_length=1, description="The fallback order, most preferred first.")
    active_migration: bool = Field(default=True, description="Move pods back up the list when capacity returns.")
    when_unsatisfiable: Literal["DoNotScaleUp", "ScaleUpAnyway"] = Field(
        default="DoNotScaleUp", description="When no rule can be met: keep pods Pending, or create a default node."
    )
    node_pool_auto_creation: bool = Field(
        default=False, description="Let GKE create node pools for the declarative rules (needed by `reservation`)."
    )

    def to_args(self, *, gke_version: str | None = None, model_bytes: float | None = None,
                gpus_per_replica: int | None = None, gpu_memory_utilization: float = 0.9,
                cluster_autoprovisioning: bool = False, labels: dict[str, str] | None = None) -> cc.ComputeClassArgs:
        """The component's arguments; what the section does not hold comes from the stack."""
        return cc.ComputeClassArgs(
            name=self.name, priorities=tuple(p.to_priority() for p in self.priorities),
            active_migration=self.active_migration, when_unsatisfiable=self.when_unsatisfiable,
            node_pool_auto_creation=self.node_pool_auto_creation, cluster_autoprovisioning=cluster_autoprovisioning,
            gke_version=gke_version, model_bytes=model_bytes, gpus_per_replica=gpus_per_replica,
            gpu_memory_utilization=gpu_memory_utilization, labels=dict(labels or {}),
        )

    def component_errors(self, section: str, context: Mapping[str, str], **stack: Any) -> list[tuple[str, str]]:
        """The component's problems with the stack's values (``stack``: ``to_args`` keywords) under YAML paths;
        ``context`` maps those keywords to the YAML paths they come from."""
        paths = compute_class_paths(section, len(self.priorities), context)
        return paths.errors(cc.validate_compute_class_args(self.to_args(**stack)))

    @model_validator(mode="after")
    def _component_rules(self) -> ComputeClassConfig:
        _raise(compute_class_paths("", len(self.priorities)), cc.validate_compute_class_args(self.to_args()))
        return self


# --------------------------------------------------------------------------------------------
# CapacityBuffer
# --------------------------------------------------------------------------------------------

BUFFER_PATHS = ArgPaths("")
"""CapacityBufferArgs paths inside the section (its stand-ins never fail)."""


class CapacityBufferConfig(Model):
    """Spare capacity for this model's next replicas (a GKE CapacityBuffer; docs/capacity.md)."""

    replicas: int = Field(default=0, ge=0, description="Replicas' worth of spare nodes; 0 creates no buffer.")
    strategy: Literal["active", "standby"] = Field(
        default="active", description="`active` (running nodes, billed) or `standby` (suspended nodes resumed on "
        "demand; GKE 1.36.0-gke.2253000+ with node auto-provisioning)."
    )

    def to_args(self, *, namespace: str, name: str, chunk: cb.BufferChunk | None = None,
                scalable_ref: cb.ScalableRef | None = None, gke_version: str | None = None,
                node_auto_provisioning: bool = False, labels: dict[str, str] | None = None) -> cb.CapacityBufferArgs:
        """The component's arguments (``replicas`` > 0); the chunk or workload comes from the serving component."""
        return cb.CapacityBufferArgs(namespace=namespace, name=name, replicas=self.replicas, strategy=self.strategy,
                                     chunk=chunk, scalable_ref=scalable_ref, gke_version=gke_version,
                                     node_auto_provisioning=node_auto_provisioning, labels=dict(labels or {}))

    def component_errors(self, section: str, context: Mapping[str, str], **stack: Any) -> list[tuple[str, str]]:
        """As ``ComputeClassConfig.component_errors`` (nothing when ``replicas`` is 0)."""
        if not self.replicas:
            return []
        return ArgPaths(section, dict(context)).errors(cb.validate_capacity_buffer_args(self.to_args(**stack)))

    @model_validator(mode="after")
    def _component_rules(self) -> CapacityBufferConfig:
        if self.replicas:
            stand_in = cb.BufferChunk({"nvidia.com/gpu": "1"}, STAND_IN_IMAGE)
            _raise(BUFFER_PATHS, cb.validate_capacity_buffer_args(
                self.to_args(namespace="stand-in", name="stand-in", chunk=stand_in, node_auto_provisioning=True)))
        return self


# --------------------------------------------------------------------------------------------
# Pod snapshots
# --------------------------------------------------------------------------------------------

SNAPSHOT_PATHS = ArgPaths("")
"""PodSnapshotsArgs paths inside the section (its stand-ins never fail)."""


class PodSnapshotConfig(Model):
    """Start replicas from a GKE Pod snapshot of a warm one (gVisor pool; single-GPU replicas, not GCS FUSE)."""

    enabled: bool = Field(default=False, description="Restore new replicas from a Pod snapshot.")
    trigger: Literal["workload", "manual"] = Field(
        default="workload", description="`workload`: the container triggers the checkpoint (the recipe's launcher); "
        "`manual`: a PodSnapshotManualTrigger does."
    )
    retention: str | None = Field(
        default=None, description="Delete snapshots unused this long (e.g. 7d, 12h); unset keeps them."
    )

    def to_args(self, *, namespace: str, name: str, bucket: Any, selector: dict[str, str], weights_backend: str,
                gpus_per_replica: int = 1, path: str = "", gke_version: str | None = None,
                labels: dict[str, str] | None = None) -> ps.PodSnapshotsArgs:
        """The component's arguments (``enabled``)."""
        return ps.PodSnapshotsArgs(namespace=namespace, name=name, bucket=bucket, selector=selector,
                                   weights_backend=weights_backend, gpus_per_replica=gpus_per_replica, path=path,
                                   trigger=self.trigger, retention=self.retention, gke_version=gke_version,
                                   labels=dict(labels or {}))

    def component_errors(self, section: str, context: Mapping[str, str], **stack: Any) -> list[tuple[str, str]]:
        """As ``ComputeClassConfig.component_errors``; ``context`` should map ``gpus_per_replica``,
        ``weights_backend`` and ``gke_version`` (nothing when disabled)."""
        if not self.enabled:
            return []
        return ArgPaths(section, dict(context)).errors(ps.validate_pod_snapshots_args(self.to_args(**stack)))

    @model_validator(mode="after")
    def _component_rules(self) -> PodSnapshotConfig:
        if self.enabled:
            _raise(SNAPSHOT_PATHS, ps.validate_pod_snapshots_args(self.to_args(
                namespace="stand-in", name="stand-in", bucket="stand-in", selector={"app": "stand-in"},
                weights_backend="stand-in")))
        return self


# --------------------------------------------------------------------------------------------
# Pricing the fallback order
# --------------------------------------------------------------------------------------------

DWS_DISCOUNT = 0.53
"""Flex-start (Dynamic Workload Scheduler) bills vCPUs and GPUs at discounts "up to 53%"
(https://cloud.google.com/kubernetes-engine/docs/concepts/dws, pricing); the exact rate per machine is not
tabled here, so a flex-start rule is priced as a range: on-demand × (1 − 0.53) to on-demand."""
RESERVATION_SOURCE = ("a reservation bills its VMs at the on-demand rate whether used or not, before committed-use "
                      "discounts [Mem] (https://cloud.google.com/compute/docs/instances/reservations-overview)")


@dataclass(frozen=True)
class RulePrice:
    """Hourly node price of one rule of the fallback order."""

    index: int
    rule: str
    machine_types: tuple[str, ...]
    """The machine types the rule may create (several when it names a GPU, not a machine)."""
    low_hourly: float | None
    """Cheapest node the rule may create (None: unknown price)."""
    hourly: float | None
    """Dearest node the rule may create (None: unknown price)."""
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "rule": self.rule, "machineTypes": list(self.machine_types),
                "lowHourly": self.low_hourly, "hourly": self.hourly, "source": self.source}


def _candidates(shape: cc.Shape) -> tuple[str, ...]:
    if shape.machine_type is not None:
        return (shape.machine_type,)
    accelerator, count = cc.shape_gpus(shape)
    return tuple(sorted(
        m.name for m in catalog.MACHINE_TYPES.values()
        if accelerator is not None and m.accelerator == accelerator.type and (count is None or m.gpu_count == count)
        and (shape.machine_family is None or m.name.startswith(shape.machine_family + "-"))
    ))


def _price(machine: str, spot: bool, overrides: Mapping[str, Any]) -> float | None:
    row = prices.MACHINE_PRICES.get(machine)
    value = (row.spot if spot else row.on_demand) if row else None
    override = overrides.get(machine)
    if override is not None:
        value = getattr(override, "spot_hourly" if spot else "on_demand_hourly", None) or value
    return value


def _range(machines: Sequence[tuple[str, bool]], overrides: Mapping[str, Any],
           factor: float = 1.0) -> tuple[float | None, float | None]:
    known = [p for m, spot in machines if (p := _price(m, spot, overrides)) is not None]
    if not known or len(known) < len(machines):
        return None, None
    return round(min(known) * factor, 4), max(known)


def price_fallback_order(priorities: Sequence[cc.Priority], pool_machines: Mapping[str, tuple[str, bool]],
                         overrides: Mapping[str, Any] | None = None) -> list[RulePrice]:
    """Hourly node price of each rule, in the class's order.

    Args:
        priorities: the rules (``ComputeClassConfig.to_args().priorities``).
        pool_machines: gpuPools key → (machine type, spot) for ``pools`` rules.
        overrides: ``planning.prices`` (machine type → object with ``on_demand_hourly`` / ``spot_hourly``).
    """
    overrides = overrides or {}
    table = f"stack/prices.py ({prices.PRICES_AS_OF}) or planning.prices"
    out = []
    for index, rule in enumerate(priorities):
        if isinstance(rule, cc.ExistingPools):
            machines = [pool_machines[p] for p in rule.pools if p in pool_machines]
            low, high = _range(machines, overrides) if len(machines) == len(rule.pools) else (None, None)
            out.append(RulePrice(index, f"pools {', '.join(rule.pools)}", tuple(m for m, _ in machines), low, high,
                                 f"each pool's machine at its own provisioning; {table}"))
            continue
        names = _candidates(rule.shape)
        spot = isinstance(rule, cc.Spot)
        factor, kind, source = 1.0, "on-demand", table
        if spot:
            kind = "spot"
        elif isinstance(rule, cc.FlexStart):
            factor, kind = 1 - DWS_DISCOUNT, "flex-start"
            source = f"on-demand less up to {DWS_DISCOUNT:.0%} (DWS pricing); {table}"
        elif isinstance(rule, cc.Reservation):
            kind, source = "reservation", f"{RESERVATION_SOURCE}; {table}"
        low, high = _range([(n, spot) for n in names], overrides, factor) if names else (None, None)
        out.append(RulePrice(index, f"{kind} {' / '.join(names) or 'unknown shape'}", names, low, high, source))
    return out
