"""``gke-infer validate STACK [--set PATH=VALUE ...]``: render, then prove the render is deployable.

Checks, in order, each printing its counts:

1. every built-in Kubernetes object against kubernetes-validate's strict schemas at
   ``cluster.kubernetesMinor``;
2. every custom resource against the CRD schemas vendored in ``stack/schemas/``;
3. the policy pack's rules (``policy.rules``) on every rendered resource, plus the stack rules;
4. checkov's Kubernetes checks (``.venv-checkov``; skips only by annotated reason);
5. vLLM's own argument parser on the rendered server args (when ``.venv-serve`` exists);
6. the deploy rehearsal (``stack.checks.rehearsal``): every external reference created or looked up
   in the stack, every resource after the APIs, cluster, pools and controllers it needs.

Exit 0 only if all pass; 1 on any violation (one line each: rule, resource, field, how to fix);
2 on a bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from policy.model import Violation

DEFAULT_MINOR = "1.33"


def validate_manifests(manifests: Sequence[Mapping[str, Any]], minor: str = DEFAULT_MINOR) -> list[Violation]:
    """Schema violations of Kubernetes objects: built-in kinds (strict) and vendored CRD kinds.

    Args:
        manifests: Kubernetes objects as dicts (apiVersion, kind, metadata, ...), ints as ints.
        minor: Kubernetes minor version to validate built-in kinds against, e.g. "1.33".
    Returns: one Violation per schema error; a kind with no schema at all is a violation too.
    """
    from stack.checks import crds, kube_schema

    violations: list[Violation] = []
    for manifest in manifests:
        if kube_schema.has_builtin_schema(manifest, minor):
            violations.extend(kube_schema.validate_builtin(manifest, minor))
        else:
            violations.extend(crds.validate_custom(manifest))
    return violations


@dataclass
class Section:
    """The outcome of one check: a summary and its violations."""

    name: str
    summary: str
    violations: list[Violation] = field(default_factory=list)
    skipped: bool = False


def schema_section(manifests: Sequence[Mapping[str, Any]], minor: str) -> tuple[Section, Section]:
    """Two sections: built-in kinds and custom resources."""
    from stack.checks import crds, kube_schema

    builtin = [m for m in manifests if kube_schema.has_builtin_schema(m, minor)]
    custom = [m for m in manifests if not kube_schema.has_builtin_schema(m, minor)]
    version = kube_schema.supported_minor(minor)
    b = validate_manifests(builtin, minor)
    c = validate_manifests(custom, minor)
    cel = sum(crds.count_cel_rules(crd.schema) for crd in crds.load_crds().values()
              if any((m.get("apiVersion"), m.get("kind")) == (crd.api_version, crd.kind) for m in custom))
    return (
        Section("kubernetes", f"{len(builtin)} objects against Kubernetes {kube_schema.kv.major_minor(version)} "
                f"(strict): {len(b)} errors", b),
        Section("crds", f"{len(custom)} custom resources against vendored CRDs: {len(c)} errors"
                + (f" ({cel} CEL rules not evaluated offline)" if cel else ""), c),
    )


def policy_section(resources: Sequence[Mapping[str, Any]]) -> Section:
    from policy.rules import RESOURCE_RULES, STACK_RULES, check_stack

    violations = check_stack(resources)
    rules = len(RESOURCE_RULES) + len(STACK_RULES)
    return Section("policy", f"{rules} rules on {len(resources)} resources: {len(violations)} violations", violations)


def checkov_section(manifests: Sequence[Mapping[str, Any]], required: bool) -> Section:
    from stack.checks import checkov_runner

    binary = checkov_runner.checkov_binary()
    if binary is None:
        message = "not run: .venv-checkov missing; build it with `make checkov-env`"
        if required:
            return Section("checkov", message, [Violation("checkov", "manifests", "(environment)", message)])
        return Section("checkov", message + " (skipped by --no-checkov)", skipped=True)
    report = checkov_runner.run_checkov(manifests, binary)
    return Section("checkov", f"{report.passed} passed, {report.failed} failed, {report.skipped} skipped "
                   f"(each with an annotated reason) on {len(manifests)} manifests", report.violations)


def vllm_section(manifests: Sequence[Mapping[str, Any]]) -> Section:
    from stack.checks import vllm_check

    report = vllm_check.check_manifests(manifests)
    if report.skipped_reason:
        return Section("vllm-args", f"skipped: {report.skipped_reason}", skipped=True)
    return Section("vllm-args", f"{report.checked} vLLM containers parsed by vLLM: {len(report.violations)} errors",
                   report.violations)


def rehearsal_section(render_dir: Path) -> Section:
    from stack.checks.rehearsal import rehearse_render_dir

    violations = rehearse_render_dir(render_dir)
    return Section("rehearsal", f"deploy order and provenance of every reference: {len(violations)} problems",
                   violations)


def run_checks(resources: Sequence[Mapping[str, Any]], manifests: Sequence[Mapping[str, Any]], minor: str,
               checkov: bool = True, vllm: bool = True, render_dir: Path | None = None) -> list[Section]:
    """Every check on one render; ``checkov=False`` / ``vllm=False`` skip those checks explicitly.

    ``render_dir``: where the render was written; the deploy rehearsal reads it (skipped without it).
    """
    kubernetes, custom = schema_section(manifests, minor)
    sections = [kubernetes, custom, policy_section(resources)]
    sections.append(checkov_section(manifests, required=checkov) if checkov else
                    Section("checkov", "skipped (--no-checkov)", skipped=True))
    sections.append(vllm_section(manifests) if vllm else Section("vllm-args", "skipped (--no-vllm)", skipped=True))
    sections.append(rehearsal_section(render_dir) if render_dir is not None else
                    Section("rehearsal", "skipped (no render directory)", skipped=True))
    return sections


def print_report(stack: str, sections: Sequence[Section], out: TextIO | None = None) -> int:
    """Print each section, its violations and the summary line (to stdout by default); return the exit code."""
    out = out or sys.stdout
    failures = 0
    for section in sections:
        status = "SKIP" if section.skipped else ("FAIL" if section.violations else "ok")
        print(f"{section.name:<11} {status:<4} {section.summary}", file=out)
        for violation in section.violations:
            print(f"  {violation}", file=out)
        failures += len(section.violations)
    ran = [s for s in sections if not s.skipped]
    skipped = [s.name for s in sections if s.skipped]
    print(f"validate {stack}: {'PASS' if not failures else 'FAIL'}: {len(ran)} checks run, {failures} violations"
          + (f", skipped: {', '.join(skipped)}" if skipped else ""), file=out)
    return 1 if failures else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from stack.cli import add_stack_arguments

    parser = subparsers.add_parser("validate", help="render a stack and check it (schemas, policy, checkov, vLLM)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stack_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="where to write the render (default out/STACK)")
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov explicitly (reported as skipped)")
    parser.add_argument("--no-vllm", action="store_true", help="skip the vLLM argument parser (reported as skipped)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stack.checks.kube_schema import supported_minor
    from stack.config import ConfigError
    from stack.render import load_stack_config, render_stack

    try:
        minor = load_stack_config(args.stack, args.overrides).cluster.kubernetes_minor
        supported_minor(minor)
        out_dir = args.out or Path("out") / args.stack
        result = render_stack(args.stack, args.overrides, out_dir)
    except ConfigError as err:
        for line in err.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except ValueError as err:  # a cluster.kubernetesMinor kubernetes-validate has no schemas for
        print(f"error: platform.{err}", file=sys.stderr)
        return 2
    sections = run_checks(result.resources, result.manifests, minor, checkov=not args.no_checkov,
                          vllm=not args.no_vllm, render_dir=out_dir)
    return print_report(args.stack, sections)
