"""Where things are: the user's Pulumi project, this package's own files, and the developer tool venvs.

**The Pulumi project** is found the way the ``pulumi`` CLI finds it: "the nearest parent folder
containing a ``Pulumi.yaml`` file determines the current project"
(https://www.pulumi.com/docs/iac/concepts/projects/). The CLI walks up from the working directory
and, in each folder, tries ``Pulumi.json``, ``Pulumi.yaml``, ``Pulumi.yml`` in that order
(pulumi/pulumi ``sdk/go/common/workspace/paths.go``: ``DetectProjectPathFrom``, ``findProjectInDir``;
``sdk/go/common/encoding/marshal.go``: ``Exts``). A stack's settings file sits beside the project
file, or in the project's ``stackConfigDir``, named ``Pulumi.<stack>.<ext>`` with the project file's
extension and ``/`` in the stack name replaced by ``-`` (``paths.go``: ``ProjectStackPath``,
``qnameFileName``). So ``gke-infer`` works on a user's own project directory, not only on this
repository.

**This package's files** (CRD schemas, probe scripts, datasets, image build contexts) are read
relative to the installed modules, which works from a checkout and from an installed wheel alike.

**The developer tool venvs** ``.venv-serve`` (vLLM CPU build) and ``.venv-checkov`` live at the
root of a source checkout. An installed wheel has no checkout; there they live under
``~/.cache/gke-inference/`` (beside the tiny model of ``stack.local.tiny_model``), and until they
are built the commands that need them report them missing or skipped.

This module imports only the standard library at import time: ``make serve-env`` runs
``stack.local.serve_env`` with any Python before the project's venv exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_FILE_NAMES = ("Pulumi.json", "Pulumi.yaml", "Pulumi.yml")
"""Project file names, in the order the CLI tries them in each folder (``encoding.Exts``)."""

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the top-level packages (``infra``, ``workloads``, ``stack``, ...): the
repository root in a checkout, ``site-packages`` in an installed wheel."""

TOOL_CACHE = Path.home() / ".cache" / "gke-inference"
"""Where an installed wheel keeps its developer tool venvs (the checkout keeps them at its root)."""


class ProjectError(ValueError):
    """No usable Pulumi project or stack file; ``lines`` says what is missing and what to do."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class PulumiProject:
    """A Pulumi project on disk: its project file and where its stack files are."""

    file: Path
    """The project file (``Pulumi.yaml``, ``Pulumi.yml`` or ``Pulumi.json``)."""
    stack_config_dir: Path
    """The folder holding ``Pulumi.<stack>.<ext>``: the project folder, or its ``stackConfigDir``."""

    @property
    def root(self) -> Path:
        """The project folder (where ``pulumi`` runs the program)."""
        return self.file.parent

    @classmethod
    def load(cls, file: Path) -> PulumiProject:
        """Read ``file`` for its ``stackConfigDir`` (relative to the project folder when set)."""
        import yaml  # JSON is YAML too; imported here so this module stays stdlib-only

        try:
            document: Any = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as err:
            raise ProjectError([f"{file}: not valid YAML/JSON ({err.__class__.__name__}); fix the project file"]) \
                from None
        if not isinstance(document, dict):
            raise ProjectError([f"{file}: a Pulumi project file is a mapping with at least `name` and `runtime`"])
        config_dir = document.get("stackConfigDir")
        return cls(file, file.parent / config_dir if config_dir else file.parent)

    def stack_file(self, stack: str) -> Path:
        """``Pulumi.<stack>.<ext>`` of ``stack`` (``org/project/dev`` becomes ``org-project-dev``)."""
        return self.stack_config_dir / f"Pulumi.{stack.replace('/', '-')}{self.file.suffix}"

    def stacks(self) -> list[str]:
        """Names of the stacks that have a settings file, sorted."""
        suffix = self.file.suffix
        return sorted(
            p.name[len("Pulumi."):-len(suffix)] for p in self.stack_config_dir.glob(f"Pulumi.*{suffix}")
            if p.name != self.file.name
        )


def find_project_file(start: Path) -> Path | None:
    """The nearest project file in ``start`` or one of its parents, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        for name in PROJECT_FILE_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def find_project(start: Path | None = None) -> PulumiProject:
    """The Pulumi project of ``start`` (default: the working directory), searching upwards as ``pulumi`` does.

    Args:
        start: the folder to search from; its parents are searched too.
    Raises:
        ProjectError: no ``Pulumi.yaml`` in ``start`` or any parent.
    """
    start = Path.cwd() if start is None else start
    file = find_project_file(start)
    if file is None:
        raise ProjectError([
            f"project: no Pulumi.yaml in {start.resolve()} or any parent folder; run gke-infer inside a Pulumi "
            "project (a folder with Pulumi.yaml and Pulumi.<stack>.yaml, e.g. copied from this repository)"
        ])
    return PulumiProject.load(file)


def source_checkout() -> Path | None:
    """The repository root when running from a source checkout (editable install), else None."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "Makefile").is_file() \
        else None


def tool_venv(name: str) -> Path:
    """Where the developer tool venv ``name`` (``.venv-serve``, ``.venv-checkov``) lives; it may not exist.

    Args:
        name: the venv's folder name at the checkout root.
    """
    checkout = source_checkout()
    return checkout / name if checkout is not None else TOOL_CACHE / name
