"""checkov's Kubernetes checks on the rendered manifests, offline, from its own virtualenv.

checkov lives in ``.venv-checkov`` (``make checkov-env``) because its dependency tree is large and
pins its own versions. It runs with ``--skip-download`` (no platform calls, no network). Zero failed
checks are required; a check may only be skipped by a ``checkov.io/skip<N>: CKV_K8S_<n>=<reason>``
annotation (see :mod:`stack.checks.annotations`), and a skip without a reason is a violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policy.model import Violation
from stack.project import tool_venv

CHECKOV_VENV = tool_venv(".venv-checkov")
"""``.venv-checkov`` at the checkout root; ``~/.cache/gke-inference/.venv-checkov`` for an installed wheel."""
CHECKOV_VERSION = "3.3.30"
"""Pinned in the Makefile's ``checkov-env`` target too (tests/validate checks they agree)."""


@dataclass
class CheckovReport:
    """What one checkov run found."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    violations: list[Violation] = field(default_factory=list)
    skips: list[tuple[str, str, str]] = field(default_factory=list)
    """(check id, resource, reason) of each annotated skip."""


def checkov_binary(venv: Path = CHECKOV_VENV) -> Path | None:
    """The checkov executable of ``venv``, or None when the env was not built."""
    binary = venv / "bin" / "checkov"
    return binary if binary.exists() else None


def _results(output: Any) -> list[Mapping[str, Any]]:
    # One framework gives a dict; several give a list; no resources at all gives a bare summary.
    reports = output if isinstance(output, list) else [output]
    return [r for r in reports if isinstance(r, Mapping) and "results" in r]


def parse_report(output: Any) -> CheckovReport:
    """Turn checkov's ``-o json`` output into counts and violations."""
    report = CheckovReport()
    for result in _results(output):
        summary = result.get("summary", {})
        report.passed += summary.get("passed", 0)
        report.parsing_errors += summary.get("parsing_errors", 0)
        results = result["results"]
        for check in results.get("failed_checks", []):
            report.failed += 1
            report.violations.append(Violation(
                f"checkov:{check['check_id']}", check.get("resource", "?"), check.get("file_path", "?").lstrip("/"),
                f"{check.get('check_name')}; fix the manifest, or skip it with "
                "stack.checks.checkov_skip_annotations([(id, reason)]) on the object",
            ))
        for check in results.get("skipped_checks", []):
            report.skipped += 1
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            report.skips.append((check["check_id"], check.get("resource", "?"), reason))
            if not reason.strip() or reason.strip().lower() == "no comment provided":
                report.violations.append(Violation(
                    f"checkov:{check['check_id']}", check.get("resource", "?"), "metadata.annotations",
                    "skipped without a reason; write checkov.io/skip<N>: <ID>=<why this check does not apply>",
                ))
    if report.parsing_errors:
        report.violations.append(Violation("checkov", "manifests", "(files)",
                                           f"checkov could not parse {report.parsing_errors} manifest(s)"))
    return report


def run_checkov(manifests: Sequence[Mapping[str, Any]], binary: Path, timeout: int = 600) -> CheckovReport:
    """Write ``manifests`` to a scratch directory (one per file) and run checkov's Kubernetes checks on it."""
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        for index, manifest in enumerate(manifests):
            kind = str(manifest.get("kind", "object")).lower()
            name = str((manifest.get("metadata") or {}).get("name", index))
            path = Path(scratch) / f"{index:03d}-{kind}-{name}.yaml"
            path.write_text(yaml.safe_dump(dict(manifest), sort_keys=False))
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_CREATE_GRAPH": "True", "LOG_LEVEL": "ERROR"}
        proc = subprocess.run(
            [str(binary), "--directory", scratch, "--framework", "kubernetes", "--skip-download",
             "--output", "json", "--compact", "--soft-fail"],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=scratch,
        )
    try:
        output = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"checkov produced no JSON report (exit {proc.returncode}): {tail}") from None
    return parse_report(output)
