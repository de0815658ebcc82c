"""Every guard rail in one registry, and the two entry points that run them.

``check_resource`` runs the resource rules on one resource (what a CrossGuard resource validator
sees); ``check_stack`` runs them on every resource of a render plus the stack-level rules (what
``gke-infer validate`` and the CrossGuard stack validator see). Both take plain dicts, so they
run offline on ``resources.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy import gcp, kubernetes
from policy.model import Finding, Rule, Violation

RESOURCE_RULES: list[Rule] = [*gcp.RULES, *kubernetes.RULES]
"""All per-resource rules, GCP first."""

STACK_RULES = {
    "k8s-pdb-for-replicated-serving": "Replicated serving workloads have a PodDisruptionBudget.",
    **{name: description for name, (description, _) in kubernetes.GATEWAY_STACK_RULES.items()},
}
"""Stack-level rules (name → description); each needs more than one resource to decide."""


def rule_findings(resource_type: str, inputs: Mapping[str, Any]) -> list[tuple[Rule, Finding]]:
    """``(rule, finding)`` for every resource rule that fails on this resource."""
    return [(rule, f) for rule in RESOURCE_RULES for f in rule.run(resource_type, inputs)]


def check_resource(resource_type: str, name: str, inputs: Mapping[str, Any]) -> list[Violation]:
    """Violations of the resource rules by one resource (``name`` only labels the report)."""
    return [Violation(rule.name, name, f.field, f.message) for rule, f in rule_findings(resource_type, inputs)]


def kubernetes_objects(resources: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Kubernetes manifests among recorded resources (their inputs carry apiVersion and kind)."""
    return [
        r["inputs"] for r in resources
        if kubernetes.is_kubernetes(r["type"]) and isinstance(r.get("inputs"), Mapping) and "kind" in r["inputs"]
    ]


def check_stack(resources: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """All violations of a rendered stack: ``resources`` as in resources.json (type, name, inputs)."""
    violations = []
    for resource in resources:
        violations.extend(check_resource(resource["type"], resource["name"], resource.get("inputs") or {}))
    objects = kubernetes_objects(resources)
    violations.extend(kubernetes.replicated_serving_has_pdb(objects))
    for _, check in kubernetes.GATEWAY_STACK_RULES.values():
        violations.extend(check(objects))
    return violations
