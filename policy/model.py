"""The shapes every rule shares: a finding, a violation, a rule, and a safe nested lookup.

A rule is a plain function ``(resource_type, inputs) -> list[Finding]`` over the camelCase inputs
that pulumi-gcp / pulumi-kubernetes send (the same dicts the offline render records and the
CrossGuard engine passes as ``args.props``). Nothing here imports Pulumi, so the rules run
offline, in unit tests, and inside the policy pack alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem a rule found: the input path it concerns and what to do about it."""

    field: str
    """camelCase path of the offending input, e.g. ``nodeConfig.shieldedInstanceConfig.enableSecureBoot``."""
    message: str
    """What is wrong and how to fix it."""


@dataclass(frozen=True)
class Violation:
    """A finding tied to a rule and a resource; the unit every checker of ``validate`` reports."""

    rule: str
    resource: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.field}: {self.message}"


Check = Callable[[str, Mapping[str, Any]], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A named resource rule: which type tokens it applies to and the check to run."""

    name: str
    """Stable id (also the CrossGuard policy name): lowercase, hyphens."""
    description: str
    """One line: what the rule requires and why."""
    applies: Callable[[str], bool]
    """Whether the rule looks at a resource of this type token."""
    check: Check
    """The check; called only when ``applies(type)`` is true."""

    def run(self, resource_type: str, inputs: Mapping[str, Any]) -> list[Finding]:
        """Findings for one resource, or none when the rule does not apply to its type."""
        if not self.applies(resource_type):
            return []
        return self.check(resource_type, inputs or {})


def get(inputs: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """Look up a dotted camelCase path in nested dicts; ``default`` when any step is missing."""
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def types(*tokens: str) -> Callable[[str], bool]:
    """An ``applies`` predicate matching exact type tokens."""
    wanted = frozenset(tokens)
    return lambda resource_type: resource_type in wanted
