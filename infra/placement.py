"""A COMPACT placement policy for a GPU node pool (nodes close together, low network latency).

GKE places the nodes of a pool with ``placementPolicy.type: COMPACT`` by a Compute Engine resource
policy with ``groupPlacementPolicy.collocation: COLLOCATED`` (GKE "Define compact placement for GKE
nodes"; compute.v1 discovery ``ResourcePolicyGroupPlacementPolicy.collocation``). Pass
``policy_name`` to ``GpuNodePoolArgs.compact_placement_policy``: the pool then waits for the policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import Problem, project_id, raise_if_problems, rfc1035_name, type_problems


@dataclass(frozen=True)
class CompactPlacementArgs:
    project: str
    """GCP project id."""
    region: str
    """Region of the policy: the region of the pool's zone."""
    policy_name: str
    """Name of the resource policy (compute.v1 ``ResourcePolicy.name``: RFC 1035, 1–63 characters)."""


def validate_compact_placement_args(args: CompactPlacementArgs) -> list[Problem]:
    """Problems Compute Engine would refuse at create time (pure)."""
    problems = type_problems(args, CompactPlacementArgs)
    if problems:
        return problems
    problems = project_id("project", args.project)
    problems += rfc1035_name("policy_name", args.policy_name, "resource policy name")
    if args.region.count("-") != 1:
        problems.append(Problem("region", f"'{args.region}' is not a region (e.g. us-central1)"))
    return problems


class CompactPlacement(pulumi.ComponentResource):
    """The resource policy behind a compact node pool.

    The policy is the child ``<name>-policy``. Stacks made before this component existed created it at
    the top level under the component's ``name`` (``stack/program.py``, ``<pool>-placement``); the alias
    maps that URN onto the child, so moving it under the component replaces nothing.
    """

    policy: gcp.compute.ResourcePolicy
    policy_name: pulumi.Output[str]
    """The policy's name, for ``GpuNodePoolArgs.compact_placement_policy`` (the pool waits for it)."""

    def __init__(self, name: str, args: CompactPlacementArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("CompactPlacement", name, validate_compact_placement_args(args))
        super().__init__("gke-inference:infra:CompactPlacement", name, {}, opts)
        self.policy = gcp.compute.ResourcePolicy(
            f"{name}-policy",
            project=args.project,
            region=args.region,
            name=args.policy_name,
            group_placement_policy=gcp.compute.ResourcePolicyGroupPlacementPolicyArgs(collocation="COLLOCATED"),
            opts=child_options(self, opts, aliases=[pulumi.Alias(name=name, parent=pulumi.ROOT_STACK_RESOURCE)]),
        )
        self.policy_name = self.policy.name
        self.register_outputs({"policyName": self.policy_name})
