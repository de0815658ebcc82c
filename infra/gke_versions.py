"""GKE minimum versions of the features the capacity components use, and the one check that applies them.

A :class:`GkeFeature` is a feature, the oldest GKE version that serves it and the page that says so.
:func:`version_problems` refuses a cluster version that is older than a feature in use. A version may be
partial (``1.35``): GKE then picks the newest patch of that minor (container v1 discovery document,
``Cluster.initialClusterVersion``), so only the parts the version spells are compared. The cluster component,
the stack config and the capacity components all compare versions here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from infra.validation import Problem

_GKE_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-gke\.(\d+))?$")


@dataclass(frozen=True)
class GkeFeature:
    """One GKE feature and the oldest version that serves it."""

    name: str
    """What the user turned on, as the refusal names it."""
    minimum: str
    """Oldest GKE version, e.g. ``1.35.2-gke.1842000``."""
    source: str
    """The page (URL) that states the minimum."""


def parse(version: str) -> tuple[int, ...] | None:
    """``1.35.2-gke.1842000`` → ``(1, 35, 2, 1842000)``; ``1.35`` → ``(1, 35)``; None if not a GKE version."""
    match = _GKE_VERSION.match(version)
    if match is None:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def at_least(version: str, minimum: str) -> bool:
    """Whether a (possibly partial) version can satisfy ``minimum`` (see the module docstring)."""
    given, wanted = parse(version), parse(minimum)
    if given is None or wanted is None:
        raise ValueError(f"'{version}' / '{minimum}' is not a GKE version like 1.35 or 1.35.2-gke.1842000")
    return given >= wanted[: len(given)]


def version_problems(path: str, version: str | None, features: Iterable[GkeFeature]) -> list[Problem]:
    """One problem per feature newer than ``version`` (none when the version is unknown)."""
    if version is None:
        return []
    if parse(version) is None:
        return [Problem(path, f"'{version}' is not a GKE version like 1.35 or 1.35.2-gke.1842000")]
    return [
        Problem(path, f"'{version}' is older than {f.minimum}, which {f.name} needs ({f.source}); raise the "
                      "cluster version or turn the feature off")
        for f in features
        if not at_least(version, f.minimum)
    ]
