"""CrossGuard wiring: one ``ResourceValidationPolicy`` per rule, one ``StackValidationPolicy`` for the PDB rule.

The validators only adapt Pulumi's arguments to the plain functions of ``policy.rules``, so what
``pulumi preview --policy-pack policy`` enforces is exactly what ``gke-infer validate`` and the unit
tests check offline.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import kubernetes
from policy.model import Rule
from policy.rules import RESOURCE_RULES, STACK_RULES

PACK_NAME = "gke-inference-guardrails"


def resource_policy(rule: Rule) -> ResourceValidationPolicy:
    """A mandatory CrossGuard resource policy running ``rule`` on each resource's inputs."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        # props stays the engine's proxy: only the paths a rule reads are checked for unknowns in preview
        for finding in rule.run(args.resource_type, args.props):
            report_violation(f"{finding.field}: {finding.message}", None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _validate_pdbs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    objects = [
        dict(r.props) for r in args.resources
        if kubernetes.is_kubernetes(r.resource_type) and "kind" in r.props
    ]
    for violation in kubernetes.replicated_serving_has_pdb(objects):
        report_violation(f"{violation.resource}: {violation.message}", None)


def gateway_stack_policy(name: str) -> StackValidationPolicy:
    """A mandatory stack policy running one of ``kubernetes.GATEWAY_STACK_RULES`` on the stack's Kubernetes objects."""
    description, check = kubernetes.GATEWAY_STACK_RULES[name]

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects = [dict(r.props) for r in args.resources
                   if kubernetes.is_kubernetes(r.resource_type) and "kind" in r.props]
        for violation in check(objects):
            report_violation(f"{violation.resource}: {violation.field}: {violation.message}", None)

    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


def build_policies() -> list[Policy]:
    """Every policy of the pack, in report order."""
    policies: list[Policy] = [resource_policy(r) for r in RESOURCE_RULES]
    policies.append(StackValidationPolicy(
        name="k8s-pdb-for-replicated-serving",
        description=STACK_RULES["k8s-pdb-for-replicated-serving"],
        validate=_validate_pdbs,
        enforcement_level=EnforcementLevel.MANDATORY,
    ))
    policies += [gateway_stack_policy(name) for name in kubernetes.GATEWAY_STACK_RULES]
    return policies
