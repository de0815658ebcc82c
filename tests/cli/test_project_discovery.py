"""``gke-infer`` finds the Pulumi project from the working directory upwards, as the ``pulumi`` CLI does.

Rules (stack/project.py cites pulumi/pulumi ``sdk/go/common/workspace/paths.go``): the nearest folder
holding a project file wins; in one folder ``Pulumi.json``, ``Pulumi.yaml``, ``Pulumi.yml`` are tried in
that order; the stack file takes the project file's extension, sits in ``stackConfigDir`` when set,
and has ``/`` in the stack name replaced by ``-``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import stack.config.docs as config_docs
import stack.project as project
from stack.cli import main
from stack.config import ConfigError
from stack.project import ProjectError, PulumiProject, find_project
from stack.render import load_stack_config, render_config
from tests.conftest import REPO_ROOT

NO_PROJECT_HINT = (
    "run gke-infer inside a Pulumi project (a folder with Pulumi.yaml and Pulumi.<stack>.yaml, "
    "e.g. copied from this repository)"
)


def user_project(tmp_path: Path) -> Path:
    """A user's own project folder: only the two files the commands read, copied from this repository."""
    root = tmp_path / "my-infra"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


def assert_no_project_above(path: Path) -> None:
    """The tests that expect no project need a temporary folder with no Pulumi.yaml above it."""
    assert project.find_project_file(path) is None, "a Pulumi project file lies above the temporary folder"


def test_nearest_parent_with_pulumi_yaml_is_the_project(tmp_path):
    root = user_project(tmp_path)
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    found = find_project(deep)
    assert found.file == root / "Pulumi.yaml"
    assert found.stack_file("dev") == root / "Pulumi.dev.yaml"
    assert found.stacks() == ["dev"]


def test_an_inner_project_wins_over_an_outer_one(tmp_path):
    outer = user_project(tmp_path)
    inner = outer / "other"
    inner.mkdir()
    (inner / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    assert find_project(inner / ".").file == inner / "Pulumi.yaml"


def test_in_one_folder_json_then_yaml_then_yml(tmp_path):
    for name in ("Pulumi.yml", "Pulumi.yaml", "Pulumi.json"):
        (tmp_path / name).write_text('{"name": "p", "runtime": "python"}')
    assert find_project(tmp_path).file.name == "Pulumi.json"
    (tmp_path / "Pulumi.json").unlink()
    assert find_project(tmp_path).file.name == "Pulumi.yaml"
    (tmp_path / "Pulumi.yaml").unlink()
    assert find_project(tmp_path).file.name == "Pulumi.yml"


def test_stack_file_takes_the_project_extension_and_dashes_for_slashes(tmp_path):
    (tmp_path / "Pulumi.yml").write_text("name: p\nruntime: python\n")
    found = find_project(tmp_path)
    assert found.stack_file("dev") == tmp_path / "Pulumi.dev.yml"
    assert found.stack_file("acme/p/dev") == tmp_path / "Pulumi.acme-p-dev.yml"


def test_stack_config_dir_holds_the_stack_files(tmp_path):
    root = user_project(tmp_path)
    (root / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text() + "stackConfigDir: stacks\n")
    (root / "stacks").mkdir()
    shutil.move(root / "Pulumi.dev.yaml", root / "stacks" / "Pulumi.dev.yaml")
    found = find_project(root)
    assert found == PulumiProject(root / "Pulumi.yaml", root / "stacks")
    assert found.stacks() == ["dev"]
    assert load_stack_config("dev", root=root) == load_stack_config("dev", root=REPO_ROOT)


def test_a_project_file_that_is_not_a_mapping_is_refused(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ProjectError) as err:
        find_project(tmp_path)
    assert err.value.lines == [
        f"{tmp_path / 'Pulumi.yaml'}: a Pulumi project file is a mapping with at least `name` and `runtime`"
    ]


def test_no_project_anywhere_is_a_config_error_naming_the_folder(tmp_path):
    assert_no_project_above(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_stack_config("dev", root=tmp_path)
    assert err.value.lines == [f"project: no Pulumi.yaml in {tmp_path} or any parent folder; {NO_PROJECT_HINT}"]


def test_cli_without_a_project_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    assert_no_project_above(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["render", "dev", "--out", "out"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: project: no Pulumi.yaml in {tmp_path} or any parent folder; {NO_PROJECT_HINT}"
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_stack_lists_the_stacks_of_the_users_project(tmp_path, monkeypatch, capsys):
    root = user_project(tmp_path)
    monkeypatch.chdir(root)
    assert main(["render", "prod", "--out", "out"]) == 2
    assert capsys.readouterr().err.splitlines()[:2] == [
        "error: stack: no Pulumi.prod.yaml; known stacks: dev",
        f"error: stack: looked in {root} (the folder of the project file {root / 'Pulumi.yaml'})",
    ]
    assert not (root / "out").exists()


def test_cli_renders_a_users_project_from_a_subfolder_like_the_repository(tmp_path, monkeypatch, capsys):
    root = user_project(tmp_path)
    work = root / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["render", "dev", "--quiet", "--out", "out"]) == 0, capsys.readouterr().err
    rendered = json.loads((work / "out" / "resources.json").read_text())
    in_repo = render_config(load_stack_config("dev", root=REPO_ROOT), "dev").resources
    assert rendered == json.loads(json.dumps(in_repo))


# --------------------------------------------------------------------------------------------
# Package files and developer tool venvs: checkout vs installed wheel
# --------------------------------------------------------------------------------------------


def test_in_the_checkout_tool_venvs_stay_at_the_repository_root():
    assert project.PACKAGE_ROOT == REPO_ROOT
    assert project.source_checkout() == REPO_ROOT
    assert project.tool_venv(".venv-serve") == REPO_ROOT / ".venv-serve"


def test_installed_wheel_keeps_tool_venvs_in_the_user_cache(tmp_path, monkeypatch):
    site_packages = tmp_path / "site-packages"
    (site_packages / "stack").mkdir(parents=True)
    monkeypatch.setattr(project, "PACKAGE_ROOT", site_packages)
    assert project.source_checkout() is None
    assert project.tool_venv(".venv-checkov") == Path.home() / ".cache" / "gke-inference" / ".venv-checkov"


def test_config_docs_prints_the_reference_when_there_is_no_readme(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config_docs, "README", tmp_path / "README.md")
    assert config_docs.main([]) == 0
    assert capsys.readouterr().out == config_docs.reference() + "\n"
    assert not (tmp_path / "README.md").exists()


def test_config_docs_refuses_a_missing_explicit_readme(tmp_path, capsys):
    assert config_docs.main(["--readme", str(tmp_path / "nope.md")]) == 2
    assert capsys.readouterr().err == (
        f"error: --readme: {tmp_path / 'nope.md'} does not exist; give an existing README or use --print\n"
    )


def test_configuration_reference_is_current():
    """docs/configuration.md holds exactly what the config models generate (run `make docs` after a change)."""
    text = config_docs.README.read_text()
    start = text.index(config_docs.BEGIN)
    assert text[start : text.index(config_docs.END) + len(config_docs.END)] == config_docs.reference()
