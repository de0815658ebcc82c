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

Then, when there are any: the configuration's warnings (legal but suspicious settings, the same
``StackConfig.warnings()`` that ``render`` prints), and every part of the render no check read, one
"not checked: <what> — <why>" line each (a skipped check, a Helm chart the mock engine never
renders, CRD CEL rules, a vLLM launch that cannot be read offline). Neither fails the run.

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
    """The outcome of one check: a summary, its violations, what it looked at, and what it could not check.

    Attributes:
        details: extra lines printed under the summary (e.g. each container vLLM's parser read).
        not_checked: ``<what> — <why>`` for each part of the render this check could not read.
        status: the status word to print instead of ok/FAIL/SKIP (the warnings and not-checked sections).
    """

    name: str
    summary: str
    violations: list[Violation] = field(default_factory=list)
    skipped: bool = False
    details: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    status: str = ""


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
                + (f" ({cel} CEL rules not evaluated offline)" if cel else ""), c,
                not_checked=[f"{cel} CEL rules (x-kubernetes-validations) of the vendored CRDs — no CEL evaluator "
                             "offline; the API server enforces them when the objects are applied"] if cel else []),
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
    templates = f" + {len(report.templates)} pod templates checked as Deployments" if report.templates else ""
    return Section("checkov", f"{report.passed} passed, {report.failed} failed, {report.skipped} skipped "
                   f"(each with an annotated reason) on {len(manifests)} manifests{templates}", report.violations,
                   details=[f"as a Deployment: {template}" for template in report.templates])


def vllm_section(manifests: Sequence[Mapping[str, Any]]) -> Section:
    from stack.checks import vllm_check

    report = vllm_check.check_manifests(manifests)
    if report.skipped_reason:
        return Section("vllm-args", f"skipped: {report.skipped_reason}", skipped=True)
    others, unread = report.of_status("not vLLM"), report.of_status("not parsed")
    return Section(
        "vllm-args",
        f"{report.checked} vLLM containers parsed by vLLM: {len(report.violations)} errors"
        + (f"; {len(others)} beside them run no vLLM server" if others else "")
        + (f"; {len(unread)} not parsed" if unread else ""),
        report.violations,
        details=[f"{c.launch.status}: {c.describe()}" for c in report.containers],
        not_checked=[f"vLLM arguments of {c.object} {c.path} — {c.launch.how}" for c in unread],
    )


UNRENDERED_TYPES = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize:")
"""Resource types whose Kubernetes objects pulumi-kubernetes expands in its provider (Helm charts, remote YAML,
kustomizations): the mock engine records only the component, never the objects inside it."""


def unrendered_sources(resources: Sequence[Mapping[str, Any]]) -> list[str]:
    """``<what> — <why>`` for each recorded resource whose objects the render does not contain (a Helm chart)."""
    lines = []
    for resource in resources:
        if not str(resource.get("type", "")).startswith(UNRENDERED_TYPES):
            continue
        inputs = resource.get("inputs") or {}
        repo = (inputs.get("repositoryOpts") or {}).get("repo")
        what = (f"Helm chart {inputs['chart']} {inputs.get('version', '(unpinned)')}"
                + (f" from {repo}" if repo else "") if inputs.get("chart") else str(resource["type"]))
        lines.append(f"{what} (resource {resource.get('name')}) — its objects are expanded by the Kubernetes "
                     "provider at deploy time; the mock engine records only the chart and no chart is vendored, so no "
                     "schema, policy or checkov check reads them")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def warnings_section(warnings: Sequence[str]) -> Section:
    """The configuration's warnings (legal but suspicious settings); they do not fail the run."""
    return Section("warnings", f"{_count(len(warnings), 'warning')} on the configuration (legal, but review them)",
                   details=[f"warning: {w}" for w in warnings], status="WARN")


def not_checked_section(sections: Sequence[Section], resources: Sequence[Mapping[str, Any]]) -> Section:
    """Every part of the render no check read: skipped checks, the sections' own gaps, unrendered charts."""
    gaps = [f"{s.name} — {s.summary}" for s in sections if s.skipped]
    gaps += [gap for s in sections for gap in s.not_checked]
    gaps += unrendered_sources(resources)
    return Section("not-checked", f"{_count(len(gaps), 'part')} of the render no check here read",
                   details=[f"not checked: {gap}" for gap in gaps], status="NOTE")


def rehearsal_section(render_dir: Path) -> Section:
    from stack.checks.rehearsal import rehearse_render_dir

    violations = rehearse_render_dir(render_dir)
    return Section("rehearsal", f"deploy order and provenance of every reference: {len(violations)} problems",
                   violations)


def run_checks(resources: Sequence[Mapping[str, Any]], manifests: Sequence[Mapping[str, Any]], minor: str,
               checkov: bool = True, vllm: bool = True, render_dir: Path | None = None,
               warnings: Sequence[str] = ()) -> list[Section]:
    """Every check on one render; ``checkov=False`` / ``vllm=False`` skip those checks explicitly.

    ``render_dir``: where the render was written; the deploy rehearsal reads it (skipped without it).
    ``warnings``: the configuration's warnings (``StackConfig.warnings()``), reported in their own section.
    Ends with a "warnings" section when there are any and a "not-checked" section when anything went unread.
    """
    kubernetes, custom = schema_section(manifests, minor)
    sections = [kubernetes, custom, policy_section(resources)]
    sections.append(checkov_section(manifests, required=checkov) if checkov else
                    Section("checkov", "skipped (--no-checkov)", skipped=True))
    sections.append(vllm_section(manifests) if vllm else Section("vllm-args", "skipped (--no-vllm)", skipped=True))
    sections.append(rehearsal_section(render_dir) if render_dir is not None else
                    Section("rehearsal", "skipped (no render directory)", skipped=True))
    gaps = not_checked_section(sections, resources)
    if warnings:
        sections.append(warnings_section(warnings))
    if gaps.details:
        sections.append(gaps)
    return sections


def print_report(stack: str, sections: Sequence[Section], out: TextIO | None = None) -> int:
    """Print each section, its violations and the summary line (to stdout by default); return the exit code."""
    out = out or sys.stdout
    failures = 0
    for section in sections:
        status = section.status or ("SKIP" if section.skipped else ("FAIL" if section.violations else "ok"))
        print(f"{section.name:<11} {status:<4} {section.summary}", file=out)
        for line in [*section.details, *map(str, section.violations)]:
            print(f"  {line}", file=out)
        failures += len(section.violations)
    ran = [s for s in sections if not s.skipped and not s.status]
    skipped = [s.name for s in sections if s.skipped]
    counts = {s.name: len(s.details) for s in sections if s.status}
    print(f"validate {stack}: {'PASS' if not failures else 'FAIL'}: {len(ran)} checks run, {failures} violations"
          + "".join(f", {n} not checked" if name == "not-checked" else f", {_count(n, name.removesuffix('s'))}"
                    for name, n in counts.items())
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
                          vllm=not args.no_vllm, render_dir=out_dir,
                          warnings=result.config.warnings() if result.config else [])
    return print_report(args.stack, sections)
