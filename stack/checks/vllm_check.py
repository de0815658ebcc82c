"""The rendered vLLM container args through vLLM's own parser (needs ``.venv-serve``; else skipped).

The checker itself (``stack.local.vllm_args.check_vllm_args``) belongs to the local-serving module;
it is imported lazily so ``validate`` works before that module or its virtualenv exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy.kubernetes import containers
from policy.model import Violation
from stack.checks.kube_schema import object_name
from stack.project import tool_venv

SERVE_VENV = tool_venv(".venv-serve")


@dataclass
class VllmReport:
    """Containers checked, and why the check was skipped (empty when it ran)."""

    checked: int = 0
    skipped_reason: str = ""
    violations: list[Violation] = field(default_factory=list)


def serve_args(container: Mapping[str, Any]) -> list[str] | None:
    """The ``vllm serve`` arguments of a container, or None when it does not run the vLLM server.

    Recognises ``command: [vllm, serve, ...]``, ``python3 -m vllm.entrypoints.openai.api_server``
    and the vllm/vllm-openai image's entrypoint (args only).
    """
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    if command[:2] == ["vllm", "serve"]:
        return command[2:] + args
    if "vllm.entrypoints.openai.api_server" in command:
        return command[command.index("vllm.entrypoints.openai.api_server") + 1:] + args
    repository = str(container.get("image", "")).split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    if not command and repository.startswith("vllm"):
        return args
    return None


def check_manifests(manifests: Sequence[Mapping[str, Any]], venv: Path = SERVE_VENV) -> VllmReport:
    """Run vLLM's parser on every vLLM container's args; skip (with the reason) when it can't run here."""
    report = VllmReport()
    targets = [(object_name(m), path, args) for m in manifests for path, c in containers(m, include_init=False)
               if (args := serve_args(c)) is not None]
    if not targets:
        report.skipped_reason = "no vLLM container in the rendered manifests"
        return report
    python = venv / "bin" / "python"
    if not python.exists():
        report.skipped_reason = f"{venv.name} not built (make serve-env)"
        return report
    try:
        from stack.local.vllm_args import check_vllm_args
    except ImportError:
        report.skipped_reason = "stack.local.vllm_args is not available"
        return report
    for name, path, args in targets:
        report.checked += 1
        for error in check_vllm_args(args, python=python):
            report.violations.append(Violation("vllm-args", name, f"{path}.args",
                                               f"vLLM rejects the arguments: {error}"))
    return report
