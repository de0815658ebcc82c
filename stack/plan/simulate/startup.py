"""How replicas start: capacity-buffer headroom and Pod snapshots, as the simulator and the estimate use them.

``stack_startup(config)`` is what the ``stack`` preset simulates: the stack's own ``serving.capacityBuffer`` and
``serving.podSnapshots`` where set, else the what-if of ``planning.simulation.capacityBuffer`` /
``planning.simulation.podSnapshots``.

``start_options(config)`` is a replica's cold start under each option (``gke-infer estimate``); the idle buffer's
price is ``stack.plan.estimate.headroom_cost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from stack.plan.estimate import (
    ColdStartEstimate,
    NodeSource,
    SnapshotRefused,
    estimate_cold_start,
    planning_of,
)

Strategy = Literal["active", "standby"]


@dataclass(frozen=True)
class Startup:
    """Start-up options of a fleet.

    Args:
        buffer_replicas: replicas' worth of spare nodes the cluster autoscaler keeps (0 = none).
        buffer_strategy: ``active`` (running nodes) or ``standby`` (suspended nodes, resumed on demand).
        snapshots: replicas are restored from a GKE Pod snapshot.
    """

    buffer_replicas: int = 0
    buffer_strategy: Strategy = "active"
    snapshots: bool = False

    def label(self) -> str:
        """`` + active buffer 2 + Pod snapshots`` style suffix for preset names ('' when plain)."""
        parts = []
        if self.buffer_replicas:
            parts.append(f"{self.buffer_strategy} buffer {self.buffer_replicas}")
        if self.snapshots:
            parts.append("Pod snapshots")
        return "".join(f" + {part}" for part in parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "capacityBuffer": {"replicas": self.buffer_replicas, "strategy": self.buffer_strategy},
            "podSnapshots": self.snapshots,
        }


def stack_startup(config: Any) -> Startup:
    """The stack's own start-up options: ``serving.capacityBuffer`` and ``serving.podSnapshots`` where the stack
    sets them, else the what-if of ``planning.simulation`` (capacityBuffer, podSnapshots)."""
    sim = planning_of(config).simulation
    serving = config.serving
    buffer = serving.capacity_buffer if serving.capacity_buffer.replicas else sim.capacity_buffer
    snapshots = serving.pod_snapshots.enabled or bool(sim.pod_snapshots)
    return Startup(int(buffer.replicas), buffer.strategy, snapshots)


@dataclass(frozen=True)
class StartOption:
    """A replica's cold start under one start-up option, or why the option is refused."""

    label: str
    estimate: ColdStartEstimate | None
    refusal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.estimate is None:
            return {"start": self.label, "refused": self.refusal}
        return {"start": self.label, **self.estimate.as_dict()}


def start_options(config: Any) -> list[StartOption]:
    """A replica's cold start on a new node, on an active or standby buffer node, and restored from a
    Pod snapshot (on a new and on an active buffer node) — the snapshot rows refused with the reason
    where the model does not allow it."""
    options = [
        StartOption("new node", estimate_cold_start(config, node="new")),
        StartOption("active buffer node", estimate_cold_start(config, node="activeBuffer")),
        StartOption("standby buffer node", estimate_cold_start(config, node="standbyBuffer")),
    ]
    snapshot_starts: tuple[tuple[str, NodeSource], ...] = (
        ("Pod snapshot, new node", "new"), ("Pod snapshot, active buffer node", "activeBuffer"))
    for label, node in snapshot_starts:
        try:
            options.append(StartOption(label, estimate_cold_start(config, node=node, snapshot=True)))
        except SnapshotRefused as refused:
            options.append(StartOption(label, None, str(refused)))
    return options
