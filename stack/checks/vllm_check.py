"""The rendered vLLM server arguments through vLLM's own parser (needs ``.venv-serve``; else skipped).

Every main container of every rendered object is classified (:func:`classify`):

* **parsed**: it launches vLLM's OpenAI server, in exec form (``vllm serve``, ``python3 -m
  vllm.entrypoints.openai.api_server``, or the vllm image's entrypoint with args only) or from a
  ``bash -c`` / ``sh -c`` script (a LeaderWorkerSet leader starts Ray, waits for the group, then
  ``exec``s vLLM): the arguments are read as the shell splits them (:mod:`stack.checks.shell_script`),
  so a rendered argument that the shell would re-split or expand reaches the parser as vLLM would
  get it;
* **not vLLM**: a container beside a vLLM container that launches no vLLM server (a LeaderWorkerSet
  worker that only runs ``ray start``), reported as checked, with what it runs;
* **not parsed**: it looks like a vLLM launch but its command cannot be read offline (a script
  that does not split into words, command substitution in vLLM's arguments, a wrapper script), with
  the reason; ``validate`` lists it under "not checked".

The checker itself (``stack.local.vllm_args.check_vllm_args_many``) belongs to the local-serving
module; it is imported lazily so ``validate`` works before that module or its virtualenv exist.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from policy.kubernetes import containers
from policy.model import Violation
from stack.checks import shell_script
from stack.checks.kube_schema import object_name
from stack.project import tool_venv

SERVE_VENV = tool_venv(".venv-serve")

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
"""``python -m`` module of vLLM's OpenAI-compatible server (what ``vllm serve`` runs)."""
CLI_MODULES = ("vllm.entrypoints.cli.main", "vllm")
"""``python -m`` modules that take ``serve`` as a sub-command, like the ``vllm`` executable."""
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_PYTHON_OPTIONS_WITH_VALUE = frozenset({"-X", "-W", "-Q"})
_SUBSTITUTION = re.compile(r"\$\((?![A-Za-z_][A-Za-z0-9_]*\))")
"""``$(`` that opens a command substitution, not a Kubernetes ``$(NAME)`` env reference (left for the parser
as a string, like the exec form's ``--api-key=$(VLLM_API_KEY)``)."""

Status = Literal["parsed", "not vLLM", "not parsed"]


@dataclass(frozen=True)
class Launch:
    """How one container runs (or does not run) vLLM's server.

    Attributes:
        status: ``parsed`` (``args`` are vLLM's), ``not vLLM`` or ``not parsed``.
        how: for ``parsed``, the launcher (e.g. ``bash -c script: exec python3 -m ...api_server``);
            for ``not vLLM``, what it runs; for ``not parsed``, why it could not be read.
        args: the vLLM server arguments (``parsed`` only).
    """

    status: Status
    how: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerCheck:
    """One classified container: ``object`` (Kind/namespace/name), ``path`` to it, its ``name``."""

    object: str
    path: str
    name: str
    launch: Launch

    def describe(self) -> str:
        """One line for the report, e.g. ``LeaderWorkerSet/llm/vllm leaderTemplate container 'vllm': ...``."""
        return f"{self.object} {_template(self.path)}container {self.name!r}: {self.launch.how}"


@dataclass
class VllmReport:
    """Every classified container, the violations vLLM's parser found, and why it was skipped (if it was)."""

    containers: list[ContainerCheck] = field(default_factory=list)
    skipped_reason: str = ""
    violations: list[Violation] = field(default_factory=list)

    def of_status(self, status: Status) -> list[ContainerCheck]:
        return [c for c in self.containers if c.launch.status == status]

    @property
    def checked(self) -> int:
        """Containers whose arguments went through vLLM's parser."""
        return 0 if self.skipped_reason else len(self.of_status("parsed"))


def _template(path: str) -> str:
    """``leaderTemplate `` / ``workerTemplate `` for a LeaderWorkerSet container path, else empty."""
    for part in path.split("."):
        if part.endswith("Template") and part != "leaderWorkerTemplate":
            return f"{part} "
    return ""


def _vllm_args(words: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(launcher, server args)`` when ``words`` launch vLLM's OpenAI server, else None."""
    if not words:
        return None
    program = PurePosixPath(words[0]).name
    if program == "vllm" and words[1:2] == ["serve"]:
        return "vllm serve", list(words[2:])
    if not _PYTHON.match(program):
        return None
    index = 1
    while index < len(words) and words[index].startswith("-") and words[index] != "-m":
        index += 2 if words[index] in _PYTHON_OPTIONS_WITH_VALUE else 1
    if words[index:index + 1] != ["-m"] or index + 1 >= len(words):
        return None
    module, rest = words[index + 1], list(words[index + 2:])
    if module == API_SERVER_MODULE:
        return f"{program} -m {module}", rest
    if module in CLI_MODULES and rest[:1] == ["serve"]:
        return f"{program} -m {module} serve", rest[1:]
    return None


def _mentions_vllm(words: Sequence[str]) -> bool:
    """The program (or the ``python -m`` module) is named like vLLM's: a wrapper this check cannot read."""
    program = PurePosixPath(words[0]).name.lower()
    if _PYTHON.match(program):
        return any(w.startswith("vllm") for before, w in itertools.pairwise(words) if before == "-m")
    return "vllm" in program


def _from_script(script: str, env: Mapping[str, str]) -> Launch:
    try:
        commands = shell_script.simple_commands(shell_script.expand_kubernetes(script, env))
    except ValueError as err:
        return Launch("not parsed", f"its shell script does not split into words ({err})")
    launches = [found for words in commands if (found := _vllm_args(words))]
    if len(launches) > 1:
        return Launch("not parsed", f"its shell script launches vLLM {len(launches)} times; expected once")
    if launches:
        (launcher, args), = launches
        if any("`" in a or _SUBSTITUTION.search(a) for a in args):
            return Launch("not parsed", "vLLM's arguments use command substitution, only known at run time")
        return Launch("parsed", f"shell script, {launcher} ({len(args)} args)",
                      tuple(shell_script.expand_shell(a, env) for a in args))
    if any(_mentions_vllm(words) for words in commands):
        return Launch("not parsed", "its shell script runs no command recognised as vLLM's server "
                      f"(vllm serve, python -m {API_SERVER_MODULE}) although it names vllm")
    programs = sorted({PurePosixPath(words[0]).name for words in commands})
    if programs == ["ray"]:
        shown = "; ".join(shlex.join(words) for words in commands)
        return Launch("not vLLM", f"runs only Ray (`{shown}`): a Ray node of the leader's cluster, "
                      "no vLLM arguments of its own")
    return Launch("not vLLM", f"its shell script runs {', '.join(programs) or 'nothing'}, no vLLM server")


def classify(container: Mapping[str, Any]) -> Launch:
    """How ``container`` runs vLLM's server: exec form, a ``-c`` shell script, the vllm image's entrypoint."""
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    words = command + args
    if (script := shell_script.shell_script(words)) is not None:
        return _from_script(script, shell_script.literal_env(container))
    if command and (found := _vllm_args(words)):
        return Launch("parsed", f"{found[0]} ({len(found[1])} args)", tuple(found[1]))
    repository = str(container.get("image", "")).split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    if not command and repository.startswith("vllm"):
        return Launch("parsed", f"the {repository} image's entrypoint ({len(args)} args)", tuple(args))
    return Launch("not vLLM", f"runs {shlex.join(words[:2]) or 'its image entrypoint'}, no vLLM server")


def serve_args(container: Mapping[str, Any]) -> list[str] | None:
    """The vLLM server arguments of a container, or None when it does not run (or hides) the vLLM server."""
    launch = classify(container)
    return list(launch.args) if launch.status == "parsed" else None


def _classify_object(manifest: Mapping[str, Any]) -> list[ContainerCheck]:
    """Every main container of an object that runs (or looks like it runs) vLLM, and those beside them."""
    found = [ContainerCheck(object_name(manifest), path, str(c.get("name", "?")), classify(c))
             for path, c in containers(manifest, include_init=False)]
    if all(c.launch.status == "not vLLM" for c in found):
        return []
    return found


def check_manifests(manifests: Sequence[Mapping[str, Any]], venv: Path = SERVE_VENV) -> VllmReport:
    """Run vLLM's parser on every vLLM container's args; skip (with the reason) when it can't run here.

    Args:
        manifests: the rendered Kubernetes objects.
        venv: the virtualenv with vLLM (CPU build) whose parser is run.
    """
    report = VllmReport([c for m in manifests for c in _classify_object(m)])
    targets = report.of_status("parsed")
    if not targets:
        report.skipped_reason = "no vLLM container in the rendered manifests"
        return report
    python = venv / "bin" / "python"
    if not python.exists():
        report.skipped_reason = f"{venv.name} not built (make serve-env)"
        return report
    try:
        from stack.local.vllm_args import check_vllm_args_many
    except ImportError:
        report.skipped_reason = "stack.local.vllm_args is not available"
        return report
    results = check_vllm_args_many([list(t.launch.args) for t in targets], python=python)
    for target, errors in zip(targets, results, strict=True):
        report.violations.extend(Violation("vllm-args", target.object, f"{target.path}.args",
                                           f"vLLM rejects the arguments: {error}") for error in errors)
    return report
