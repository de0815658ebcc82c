"""The built wheel, installed outside the checkout, renders and validates a user's own Pulumi project.

Once per session: copy the checkout's files (git's tracked and untracked-not-ignored ones, so nothing
is written into the shared working tree), build the wheel with ``pip wheel --no-deps``, create a
fresh venv outside the checkout and install ``<wheel>[validate]`` there with the stack's pins
(``-c constraints.txt``). The dependency wheels are kept in ``~/.cache/gke-inference/wheelhouse``
and installed with ``--no-index`` from there; only a first run (or a changed pin) downloads them from
PyPI (pip's own HTTP cache does not help here: this machine's index responses are not cacheable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from stack.render import load_stack_config, render_config
from tests.conftest import REPO_ROOT

WHEELHOUSE = Path.home() / ".cache" / "gke-inference" / "wheelhouse"
"""Dependency wheels kept between sessions (beside stack.local.tiny_model's cache)."""

DATA_DIRS = {
    "stack/schemas": "CRD schemas (validate)",
    "workloads/probes": "probe scripts shipped in ConfigMaps",
    "loadtest/data": "the load test's dataset",
    "images": "Dockerfiles and build contexts (infra/images.py)",
    "infra/discovery": "vendored Google API discovery documents",
}
"""Folders whose every file must ship (``.py`` files in them included)."""
DATA_FILES = ["policy/PulumiPolicy.yaml", "policy/requirements.txt"]
PACKAGES = ["infra", "workloads", "stack", "policy", "loadtest"]


def checkout_files() -> list[str]:
    """The checkout as a fresh clone plus the working tree's changes would have it."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    return sorted(f for f in listed if f and (REPO_ROOT / f).is_file())


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def outside_env(home: Path | None = None) -> dict[str, str]:
    """The environment without anything that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    if home is not None:
        env["HOME"] = str(home)
    return env


# --------------------------------------------------------------------------------------------
# Session fixtures: the wheel, the venv, the user's project
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    built = run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--quiet", "-w", dist, cwd=source)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = dist.glob("gke_inference-*.whl")
    return path


@pytest.fixture(scope="session")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh venv outside the checkout with ``<wheel>[validate]`` installed at the stack's pins."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    assert not venv.is_relative_to(REPO_ROOT)
    created = run(sys.executable, "-m", "venv", venv, cwd=venv.parent)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    target = [f"{wheel}[validate]", "-c", str(REPO_ROOT / "constraints.txt")]
    offline = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--no-index", "--find-links", WHEELHOUSE,
               *target]
    installed = run(*offline, cwd=venv.parent, env=outside_env(), timeout=600)
    if installed.returncode != 0:  # first run, or a pin changed: fetch the missing wheels from PyPI once
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        fetched = run(python, "-m", "pip", "download", "--quiet", "-d", WHEELHOUSE, *target,
                      cwd=venv.parent, env=outside_env(), timeout=600)
        assert fetched.returncode == 0, fetched.stderr[-3000:]
        for own in WHEELHOUSE.glob("gke_inference-*.whl"):  # `download` copies the wheel itself too
            own.unlink()
        installed = run(*offline, cwd=venv.parent, env=outside_env(), timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.fixture(scope="session")
def user_project(tmp_path_factory) -> Path:
    """A user's project folder: only Pulumi.yaml and Pulumi.dev.yaml, copied from this repository."""
    root = tmp_path_factory.mktemp("my-infra")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


@pytest.fixture(scope="module")
def in_repo():
    """The dev stack rendered from the checkout, in this process: what the installed wheel must match."""
    return render_config(load_stack_config("dev", root=REPO_ROOT), "dev")


def gke_infer(venv: Path, project: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run(venv / "bin" / "gke-infer", *args, cwd=project, env=outside_env(home))


# --------------------------------------------------------------------------------------------
# The wheel's contents and the pins
# --------------------------------------------------------------------------------------------


def test_wheel_carries_every_runtime_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = checkout_files()
    expected = [f for f in files if any(f.startswith(d + "/") for d in DATA_DIRS)] + DATA_FILES
    for folder in DATA_DIRS:  # each folder is non-empty in the checkout, so the check is not vacuous
        assert any(f.startswith(folder + "/") for f in expected), folder
    assert [f for f in expected if f not in names] == []
    assert [f"{p}/py.typed" for p in PACKAGES if f"{p}/py.typed" not in names] == []


def test_wheel_carries_no_tests_caches_or_dev_venvs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.startswith(("tests/", "bench/", "examples/", ".venv")) or "__pycache__/" in n
            or n.endswith(".pyc")] == []


def constraint_pins() -> dict[str, Requirement]:
    """constraints.txt as {lower-case name: requirement}."""
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {p.name.lower(): p for p in pins}


def test_constraints_pin_every_dependency_inside_its_range():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    ranges = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["validate"]]
    pins = constraint_pins()
    assert sorted(pins) == sorted(r.name.lower() for r in ranges), "constraints.txt pins exactly the library's deps"
    for requirement in ranges:
        (pin,) = pins[requirement.name.lower()].specifier
        assert pin.operator == "==", f"constraints.txt: pin {requirement.name} with =="
        assert requirement.specifier.contains(pin.version), f"{requirement.name}=={pin.version} outside {requirement}"


def test_this_environment_runs_the_pinned_versions():
    pins = constraint_pins()
    assert {name: metadata.version(name) for name in pins} == {
        name: next(iter(pin.specifier)).version for name, pin in pins.items()
    }


# --------------------------------------------------------------------------------------------
# The installed wheel on a user's project
# --------------------------------------------------------------------------------------------


def test_installed_modules_come_from_the_venv_not_the_checkout(venv, user_project):
    probe = run(venv / "bin" / "python", "-c",
                "import stack, infra.images, stack.local.probes as p; print(stack.__file__); "
                "print(infra.images.IMAGES_DIR); print(sorted(f.name for f in p.LOCAL_PROBE_DIR.glob('*.py')))",
                cwd=user_project, env=outside_env())
    assert probe.returncode == 0, probe.stderr
    module, images_dir, probes = probe.stdout.splitlines()
    assert Path(module).is_relative_to(venv)
    assert Path(images_dir).is_relative_to(venv)
    assert (Path(images_dir) / "vllm" / "Dockerfile").read_text() == (REPO_ROOT / "images/vllm/Dockerfile").read_text()
    assert probes == str(sorted(p.name for p in (REPO_ROOT / "workloads" / "probes").glob("*.py")))


def test_installed_wheel_renders_the_dev_stack_like_the_checkout(venv, user_project, in_repo):
    rendered = gke_infer(venv, user_project, "render", "dev", "--out", "out")
    assert rendered.returncode == 0, rendered.stderr
    resources = json.loads((user_project / "out" / "resources.json").read_text())
    assert len(resources) == len(in_repo.resources)
    assert sorted((r["type"], r["name"]) for r in resources) == sorted((r["type"], r["name"])
                                                                       for r in in_repo.resources)
    assert f"rendered dev: {len(in_repo.resources)} resources" in rendered.stdout


def test_installed_wheel_validate_finds_its_crd_schemas(venv, user_project, in_repo):
    from stack.checks.validate import schema_section

    validated = gke_infer(venv, user_project, "validate", "dev", "--no-checkov", "--no-vllm", "--out", "out-validate")
    assert "Traceback" not in validated.stderr, validated.stderr
    _, crds = schema_section(in_repo.manifests, in_repo.config.cluster.kubernetes_minor)
    assert crds.violations == [] and not crds.summary.startswith("0 ")
    lines = {line.split()[0]: line for line in validated.stdout.splitlines() if line and not line.startswith(" ")}
    assert lines["crds"] == f"{'crds':<11} {'ok':<4} {crds.summary}"


def test_installed_wheel_without_tool_venvs_reports_them_missing(venv, user_project, tmp_path):
    validated = gke_infer(venv, user_project, "validate", "dev", "--out", "out-tools", home=tmp_path)
    assert "Traceback" not in validated.stderr, validated.stderr
    lines = {line.split()[0]: line for line in validated.stdout.splitlines() if line and not line.startswith(" ")}
    assert lines["checkov"] == f"{'checkov':<11} FAIL not run: .venv-checkov missing; build it with `make checkov-env`"
    assert lines["vllm-args"] == f"{'vllm-args':<11} SKIP skipped: .venv-serve not built (make serve-env)"
    assert validated.returncode == 1
