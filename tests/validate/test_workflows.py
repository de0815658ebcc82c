""".github/workflows: actionlint clean, actions pinned by SHA, previews per stack with the policy pack."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as True (YAML 1.1); normalise it back.
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def _actionlint() -> str:
    binary = str(ACTIONLINT) if ACTIONLINT.exists() else shutil.which("actionlint")
    assert binary, "actionlint missing: `make venv` installs it (pyproject.toml dev extra)"
    return binary


def test_workflows_exist():
    assert [w.name for w in WORKFLOWS] == ["deploy.yml", "pr.yml"]


def test_actionlint_passes():
    proc = subprocess.run([_actionlint(), "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = (ROOT / ".github" / "workflows" / "pr.yml").read_text()
    broken = broken.replace("stack-name: ${{ matrix.stack }}", "stack-name: ${{ matrix.stak }}")
    broken = broken.replace("needs: [lint, test]", "needs: [lint, tset]")
    (tmp_path / "pr.yml").write_text(broken)
    proc = subprocess.run([_actionlint(), "-no-color", "-oneline", str(tmp_path / "pr.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'property "stak" is not defined' in proc.stdout
    assert 'job "preview" needs job "tset" which does not exist' in proc.stdout


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_every_action_is_pinned_by_commit_sha_with_its_tag(workflow):
    text = (ROOT / ".github" / "workflows" / workflow).read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by a 40-hex commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{ref}: say which tag the SHA is"


def _pulumi_sdk_pin() -> str:
    """The stack's pulumi SDK version: constraints.txt holds the exact pins (pyproject.toml gives ranges)."""
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    return next(line.split("==")[1].strip() for line in pins if line.startswith("pulumi=="))


@pytest.mark.parametrize("workflow", ["pr.yml", "deploy.yml"])
def test_pulumi_cli_is_pinned_to_the_sdk_version(workflow):
    doc = load(workflow)
    assert doc["env"]["PULUMI_VERSION"] == _pulumi_sdk_pin()
    for job in doc["jobs"].values():
        for step in steps_using(job, "pulumi/actions"):
            assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}"
            assert step["with"]["policyPacks"] == "policy"


def test_pr_runs_lint_tests_and_a_commented_preview_per_stack():
    doc = load("pr.yml")
    assert list(doc["on"]) == ["pull_request"]
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    assert [s["run"] for s in jobs["lint"]["steps"] if "run" in s] == ["make lint"]
    assert [s["run"] for s in jobs["test"]["steps"] if "run" in s] == ["make test"]
    preview = jobs["preview"]
    assert preview["needs"] == ["lint", "test"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    (auth,) = steps_using(preview, "google-github-actions/auth")
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    (pulumi,) = steps_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["comment-on-pr"] is True
    step_names = [s.get("uses", "").split("@")[0] or s.get("run") for s in preview["steps"]]
    assert step_names.index("google-github-actions/auth") < step_names.index("pulumi/actions")
    assert "head.repo.full_name == github.repository" in preview["if"]


def test_deploy_goes_dev_then_prod_behind_production_approval():
    doc = load("deploy.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    assert doc["concurrency"]["cancel-in-progress"] is False
    jobs = doc["jobs"]
    assert jobs["dev"]["needs"] == "test" and jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "production"
    for stack in ("dev", "prod"):
        (pulumi,) = steps_using(jobs[stack], "pulumi/actions")
        assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", stack)
        assert jobs[stack]["permissions"]["id-token"] == "write"
        assert steps_using(jobs[stack], "google-github-actions/auth")
