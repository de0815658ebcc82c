"""Ports of kedacore/keda ``pkg/scaling/executor/scale_scaledobjects_test.go`` (``RequestScale``):
same ScaledObject settings, current replicas, trigger activity and expected replicas. The
ScaledObject in these tests has no ``lastActiveTime`` and a zero ``creationTimestamp``.

Left out: the pause/force-activation annotation cases, events and HPA-health conditions (not
modelled, docs/simulator.md).
"""

from __future__ import annotations

import pytest

from stack.plan.simulate.keda import KedaActivation
from tests.simulate.upstream_cases import GO_ZERO_TIME, NOW

# (name, minReplicaCount, idleReplicaCount, current replicas, active, expected replicas)
CASES = [
    ("TestScaleToMinReplicasWhenNotActive", 0, None, 10, False, 0),
    ("TestScaleToMinReplicasFromLowerInitialReplicaCount", 5, None, 1, False, 5),
    ("TestScaleFromMinReplicasWhenActive", 0, None, 0, True, 1),
    ("TestScaleToIdleReplicasWhenNotActive", 5, 0, 10, False, 0),
    ("TestScaleFromIdleToMinReplicasWhenActive", 5, 0, 0, True, 5),
]


@pytest.mark.parametrize(
    ("min_replicas", "idle", "current", "active", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_request_scale(min_replicas, idle, current, active, expected):
    """``RequestScale``: the replicas written to the scale target; an active trigger sets lastActiveTime."""
    keda = KedaActivation(min_replicas, 0.0, idle_replicas=idle, created=GO_ZERO_TIME)
    assert keda.request_scale(NOW, current, active) == expected
    assert keda.last_active == (NOW if active else None)
