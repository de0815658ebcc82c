"""checkov's Kubernetes checks on the rendered manifests, offline, from its own virtualenv.

checkov lives in ``.venv-checkov`` (``make checkov-env``) because its dependency tree is large and
pins its own versions. It runs with ``--skip-download`` (no platform calls, no network). Zero failed
checks are required; a check may only be skipped by a ``checkov.io/skip<N>: CKV_K8S_<n>=<reason>``
annotation (see :mod:`stack.checks.annotations`), and a skip without a reason is a violation.

checkov knows no LeaderWorkerSet (checkov 3.3.30 ``checkov/kubernetes/checks/resource``: its pod
checks read Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet...), so a multi-node
server's pods would go unchecked. :func:`pod_template_objects` hands checkov each of a LeaderWorkerSet's
pod templates (``leaderTemplate``, ``workerTemplate``) as a Deployment named ``<lws>-leader`` /
``<lws>-worker`` in its namespace; findings and skips on those are reported against the
LeaderWorkerSet and its template. The LeaderWorkerSet's own ``checkov.io/skip<N>`` annotations apply
to both templates, a template's own (``<template>.metadata.annotations``) to that template only; the
one skip this module adds itself is :data:`WORKER_PROBE_SKIPS`, and only where its reason holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policy.model import Violation
from stack.checks.annotations import checkov_skip_annotations
from stack.project import tool_venv

CHECKOV_VENV = tool_venv(".venv-checkov")
"""``.venv-checkov`` at the checkout root; ``~/.cache/gke-inference/.venv-checkov`` for an installed wheel."""
CHECKOV_VERSION = "3.3.30"
"""Pinned in the Makefile's ``checkov-env`` target too (tests/validate checks they agree)."""


LWS_SOURCE = "kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go (v0.10.0)"
"""Where the LeaderWorkerSet rules below come from: ``leaderTemplate`` is optional and "defaults to the
worker template if not specified"; ``size`` (default 1) counts the leader, so size 1 has no workers;
``restartPolicy`` defaults to ``RecreateGroupOnPodRestart`` (any pod or container restart recreates the group)."""

WORKER_PROBE_SKIPS = (
    ("CKV_K8S_8", "LeaderWorkerSet worker: serves no port (the Service selects leaders); a dead Ray worker exits "
     "(ray start --block) and the leader's liveness probe covers the engine that spans the group, whose "
     "restartPolicy RecreateGroupOnPodRestart restarts every pod together"),
    ("CKV_K8S_9", "LeaderWorkerSet worker: serves no port (the Service selects leaders); the leader turns ready "
     "only when the engine across every worker is up"),
)
"""Liveness and readiness probe checks skipped on a worker template, applied only when each worker container
exposes no port, the group restarts as a whole and the leader template has both probes (:func:`_worker_probe_skips`)."""


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
    templates: list[str] = field(default_factory=list)
    """Pod templates of kinds checkov does not know, checked as Deployments (e.g. ``LeaderWorkerSet/llm/vllm
    leaderTemplate``)."""


def _worker_probe_skips(lws: Mapping[str, Any], worker: Mapping[str, Any]) -> list[tuple[str, str]]:
    """:data:`WORKER_PROBE_SKIPS` when their reasons hold for ``worker`` (a pod template of ``lws``), else none."""
    template = (lws.get("spec") or {}).get("leaderWorkerTemplate") or {}
    leader = (template.get("leaderTemplate") or {}).get("spec") or {}
    group_restarts = template.get("restartPolicy", "RecreateGroupOnPodRestart") == "RecreateGroupOnPodRestart"
    serves_nothing = not any(c.get("ports") for c in (worker.get("spec") or {}).get("containers") or [])
    leader_probed = all(c.get("livenessProbe") and c.get("readinessProbe") for c in leader.get("containers") or [])
    holds = group_restarts and serves_nothing and bool(leader.get("containers")) and leader_probed
    return list(WORKER_PROBE_SKIPS) if holds else []


def _checkov_annotations(*metas: Mapping[str, Any], extra: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """The ``checkov.io/skip<N>`` annotations of ``metas`` and ``extra``, renumbered into one set."""
    skips = [tuple(str(value).split("=", 1)) for meta in metas
             for key, value in ((meta or {}).get("annotations") or {}).items() if key.startswith("checkov.io/skip")]
    ids = {skip[0] for skip in skips}
    annotations = {f"checkov.io/skip{index}": "=".join(skip) for index, skip in enumerate(skips, start=1)}
    annotations.update({f"checkov.io/skip{len(skips) + index}": value for index, value in enumerate(
        checkov_skip_annotations([s for s in extra if s[0] not in ids]).values(), start=1)})
    return annotations


def pod_template_objects(manifest: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(template label, Deployment)`` for each pod template of a kind checkov does not know (LeaderWorkerSet).

    Args:
        manifest: one rendered object; any kind but LeaderWorkerSet gives an empty list.
    Returns: e.g. ``[("leaderTemplate", {...Deployment vllm-leader...}), ("workerTemplate", {...vllm-worker...})]``.
    """
    if manifest.get("kind") != "LeaderWorkerSet":
        return []
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    group = spec.get("leaderWorkerTemplate") or {}
    worker = group.get("workerTemplate") or {}
    templates = [("leaderTemplate", "leader", group.get("leaderTemplate") or worker)]
    if int(group.get("size", 1)) > 1:
        templates.append(("workerTemplate", "worker", worker))
    objects = []
    for label, suffix, template in templates:
        extra = _worker_probe_skips(manifest, template) if suffix == "worker" else []
        metadata = {key: meta[key] for key in ("namespace", "labels") if key in meta}
        metadata["name"] = f"{meta.get('name', 'lws')}-{suffix}"
        if annotations := _checkov_annotations(meta, template.get("metadata") or {}, extra=extra):
            metadata["annotations"] = annotations
        objects.append((label, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": int(spec.get("replicas", 1)),
                     "selector": {"matchLabels": dict((template.get("metadata") or {}).get("labels") or {})},
                     "template": template},
        }))
    return objects


def checkov_binary(venv: Path = CHECKOV_VENV) -> Path | None:
    """The checkov executable of ``venv``, or None when the env was not built."""
    binary = venv / "bin" / "checkov"
    return binary if binary.exists() else None


def _results(output: Any) -> list[Mapping[str, Any]]:
    # One framework gives a dict; several give a list; no resources at all gives a bare summary.
    reports = output if isinstance(output, list) else [output]
    return [r for r in reports if isinstance(r, Mapping) and "results" in r]


def _renamer(renames: Mapping[str, str]) -> Callable[[str], str]:
    """Map a checkov resource id (``Deployment.llm.vllm-leader``, graph checks' ``Pod.llm.vllm-leader.<labels>``)
    of a synthesized object back to what it was made from."""
    def rename(resource: str) -> str:
        for prefix, original in renames.items():
            if resource == prefix or resource.startswith(prefix + "."):
                return original
        return resource
    return rename


def parse_report(output: Any, renames: Mapping[str, str] | None = None) -> CheckovReport:
    """Turn checkov's ``-o json`` output into counts and violations.

    Args:
        output: checkov's JSON report (a dict, a list of them, or a bare summary).
        renames: resource id prefix of a synthesized object (``Deployment.llm.vllm-leader``) -> the name to
            report (``LeaderWorkerSet.llm.vllm leaderTemplate``).
    """
    report = CheckovReport()
    rename = _renamer(renames or {})
    for result in _results(output):
        summary = result.get("summary", {})
        report.passed += summary.get("passed", 0)
        report.parsing_errors += summary.get("parsing_errors", 0)
        results = result["results"]
        for check in results.get("failed_checks", []):
            report.failed += 1
            report.violations.append(Violation(
                f"checkov:{check['check_id']}", rename(check.get("resource", "?")),
                check.get("file_path", "?").lstrip("/"),
                f"{check.get('check_name')}; fix the manifest, or skip it with "
                "stack.checks.checkov_skip_annotations([(id, reason)]) on the object",
            ))
        for check in results.get("skipped_checks", []):
            report.skipped += 1
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            report.skips.append((check["check_id"], rename(check.get("resource", "?")), reason))
            if not reason.strip() or reason.strip().lower() == "no comment provided":
                report.violations.append(Violation(
                    f"checkov:{check['check_id']}", rename(check.get("resource", "?")), "metadata.annotations",
                    "skipped without a reason; write checkov.io/skip<N>: <ID>=<why this check does not apply>",
                ))
    if report.parsing_errors:
        report.violations.append(Violation("checkov", "manifests", "(files)",
                                           f"checkov could not parse {report.parsing_errors} manifest(s)"))
    return report


def checkov_inputs(manifests: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], dict[str, str]]:
    """What checkov reads: ``manifests`` plus a Deployment per LeaderWorkerSet pod template, and the renames
    (see :func:`parse_report`) that report findings on those against the LeaderWorkerSet."""
    objects: list[Mapping[str, Any]] = list(manifests)
    renames: dict[str, str] = {}
    for manifest in manifests:
        meta = manifest.get("metadata") or {}
        origin = ".".join(str(p) for p in (manifest.get("kind"), meta.get("namespace", "default"), meta.get("name")))
        for label, synthesized in pod_template_objects(manifest):
            objects.append(synthesized)
            name = f"{synthesized['metadata'].get('namespace', 'default')}.{synthesized['metadata']['name']}"
            renames[f"Deployment.{name}"] = renames[f"Pod.{name}"] = f"{origin} {label}"
    return objects, renames


def run_checkov(manifests: Sequence[Mapping[str, Any]], binary: Path, timeout: int = 600) -> CheckovReport:
    """Write ``manifests`` (plus LeaderWorkerSet pod templates as Deployments) to a scratch directory, one per
    file, and run checkov's Kubernetes checks on it."""
    objects, renames = checkov_inputs(manifests)
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        for index, manifest in enumerate(objects):
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
    report = parse_report(output, renames)
    report.templates = sorted(set(renames.values()))
    return report
