"""The recorded dependency graph of one render: what each resource waits for before ``pulumi up`` creates it.

A resource waits for (a) its recorded ``dependencies`` (explicit ``depends_on`` plus every resource
whose outputs feed its inputs), (b) the explicit provider it is created through, and (c) when one of
those is a component, every resource under that component (Pulumi waits for a component's children).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any


class DependencyGraph:
    """Transitive waits over ``resources.json`` records (each with name, parent, dependencies, provider)."""

    def __init__(self, resources: Sequence[Mapping[str, Any]]):
        self.resources = list(resources)
        self.by_name: dict[str, Mapping[str, Any]] = {r["name"]: r for r in self.resources}

    @cached_property
    def _children(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for r in self.resources:
            if r.get("parent"):
                children.setdefault(r["parent"], []).append(r["name"])
        return children

    def descendants(self, name: str) -> list[str]:
        """Every resource under ``name`` (children, their children, ...)."""
        found: list[str] = []
        stack = list(self._children.get(name, []))
        while stack:
            child = stack.pop()
            found.append(child)
            stack.extend(self._children.get(child, []))
        return found

    def direct(self, name: str) -> set[str]:
        """What ``name`` waits for directly: dependencies, provider, and the members of component dependencies."""
        record = self.by_name.get(name, {})
        waits = set(record.get("dependencies", []))
        if record.get("provider"):
            waits.add(record["provider"])
        for dep in list(waits):
            if dep in self.by_name and not self.by_name[dep].get("custom", True):
                waits.update(self.descendants(dep))
        return waits

    def waits_for(self, name: str) -> set[str]:
        """Every resource ``name`` transitively waits for."""
        seen: set[str] = set()
        stack = list(self.direct(name))
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            stack.extend(self.direct(dep))
        return seen

    def waits_for_any(self, name: str, candidates: Iterable[str]) -> bool:
        wanted = set(candidates)
        return bool(wanted & self.waits_for(name))

    def of_type(self, *tokens: str) -> list[Mapping[str, Any]]:
        return [r for r in self.resources if r["type"] in tokens]
