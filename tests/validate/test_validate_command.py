"""gke-infer validate end to end: checkov (real, offline), vLLM args, the report and exit codes."""

from __future__ import annotations

import copy
import io
import subprocess
from pathlib import Path

import pytest

from policy.model import Violation
from stack.checks import checkov_runner, checkov_skip_annotations, vllm_check
from stack.checks.validate import Section, print_report
from stack.cli import main
from tests.policy.conftest import GOOD_DEPLOYMENT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov from .venv-checkov, built with `make checkov-env` when missing (PyPI, a minute or two)."""
    if checkov_runner.checkov_binary() is None:
        subprocess.run(["make", "--no-print-directory", "checkov-env"], cwd=ROOT, check=True)
    binary = checkov_runner.checkov_binary()
    assert binary is not None
    return binary


# -- the annotation helper --------------------------------------------------------------------


def test_skip_annotations():
    assert checkov_skip_annotations([("CKV_K8S_43", "digest pinned by policy k8s-image-digest"),
                                     ("CKV2_K8S_6", "NetworkPolicy  comes\nfrom the  namespace")]) == {
        "checkov.io/skip1": "CKV_K8S_43=digest pinned by policy k8s-image-digest",
        "checkov.io/skip2": "CKV2_K8S_6=NetworkPolicy comes from the namespace",
    }
    with pytest.raises(ValueError, match="needs a reason"):
        checkov_skip_annotations([("CKV_K8S_43", "  ")])
    with pytest.raises(ValueError, match="not a checkov Kubernetes check id"):
        checkov_skip_annotations([("CKV_GCP_1", "wrong framework")])


# -- checkov, for real ------------------------------------------------------------------------


def test_checkov_pins_agree():
    assert f"CHECKOV_VERSION := {checkov_runner.CHECKOV_VERSION}" in (ROOT / "Makefile").read_text()


def test_checkov_reports_failures_with_ids(checkov):
    report = checkov_runner.run_checkov([GOOD_DEPLOYMENT], checkov)
    failed = {v.rule for v in report.violations}
    # The fixture sets no securityContext, no memory requests and mounts the SA token.
    assert {"checkov:CKV_K8S_12", "checkov:CKV_K8S_20", "checkov:CKV_K8S_23", "checkov:CKV_K8S_38"} <= failed
    assert report.failed == len(report.violations) and report.passed > 0
    assert all(v.resource == "Deployment.llm.vllm" for v in report.violations if v.rule.startswith("checkov:CKV_"))


def test_annotated_skips_are_counted_and_unexplained_skips_fail(checkov):
    first = checkov_runner.run_checkov([GOOD_DEPLOYMENT], checkov)
    failing = sorted({v.rule.removeprefix("checkov:") for v in first.violations})
    deployment = copy.deepcopy(GOOD_DEPLOYMENT)
    deployment["metadata"]["annotations"] = checkov_skip_annotations([(c, f"test reason {c}") for c in failing])
    report = checkov_runner.run_checkov([deployment], checkov)
    assert report.violations == [] and report.failed == 0
    assert report.skipped == len(failing)
    assert {(check, reason) for check, _, reason in report.skips} == {(c, f"test reason {c}") for c in failing}

    deployment["metadata"]["annotations"]["checkov.io/skip1"] = failing[0]  # no "=reason"
    report = checkov_runner.run_checkov([deployment], checkov)
    assert [(v.rule, v.field) for v in report.violations] == [(f"checkov:{failing[0]}", "metadata.annotations")]


def test_checkov_report_parsing_handles_lists_and_empty_runs():
    assert checkov_runner.parse_report({"passed": 0, "failed": 0}).violations == []
    two = [{"results": {"failed_checks": [{"check_id": "CKV_K8S_8", "check_name": "Liveness Probe Should be Configured",
                                           "resource": "Deployment.llm.a", "file_path": "/000-deployment-a.yaml"}]},
            "summary": {"passed": 3, "parsing_errors": 0}},
           {"results": {"skipped_checks": [{"check_id": "CKV_K8S_9", "resource": "Deployment.llm.a",
                                            "check_result": {"suppress_comment": "probe on the sidecar"}}]},
            "summary": {"passed": 1, "parsing_errors": 0}}]
    report = checkov_runner.parse_report(two)
    assert (report.passed, report.failed, report.skipped) == (4, 1, 1)
    assert [str(v) for v in report.violations] == [
        "[checkov:CKV_K8S_8] Deployment.llm.a: 000-deployment-a.yaml: Liveness Probe Should be Configured; fix the "
        "manifest, or skip it with stack.checks.checkov_skip_annotations([(id, reason)]) on the object"]


# -- vLLM args --------------------------------------------------------------------------------


@pytest.mark.parametrize("container,args", [
    ({"image": "vllm/vllm-openai@sha256:" + "a" * 64, "args": ["--model", "/m"]}, ["--model", "/m"]),
    ({"image": "us-docker.pkg.dev/p/inference/vllm:v1", "args": ["--port", "8000"]}, ["--port", "8000"]),
    ({"image": "x", "command": ["vllm", "serve", "/m"], "args": ["--port", "8000"]}, ["/m", "--port", "8000"]),
    ({"image": "x", "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"], "args": ["--model", "/m"]},
     ["--model", "/m"]),
    ({"image": "busybox", "command": ["sh", "-c", "sleep 1"]}, None),
    ({"image": "vllm/vllm-openai:v1", "command": ["python", "/app/download.py"]}, None),
])
def test_serve_args_recognises_vllm_containers(container, args):
    assert vllm_check.serve_args(container) == args


def test_vllm_check_skips_with_a_reason(tmp_path):
    assert vllm_check.check_manifests([]).skipped_reason == "no vLLM container in the rendered manifests"
    report = vllm_check.check_manifests([GOOD_DEPLOYMENT], venv=tmp_path / ".venv-serve")
    assert report.skipped_reason == ".venv-serve not built (make serve-env)"


@pytest.mark.integration
def test_vllm_parser_rejects_a_bad_flag():
    if not (vllm_check.SERVE_VENV / "bin" / "python").exists():
        subprocess.run(["make", "--no-print-directory", "serve-env"], cwd=ROOT, check=True)
    # One container (each check starts vLLM's parser, ~40 s here); the accepted-args path runs in
    # `gke-infer validate` on the real stacks.
    bad = copy.deepcopy(GOOD_DEPLOYMENT)
    bad["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "--model", "/models/qwen", "--max-model-len", "4096", "--kv-cache-dtype", "fp9"]
    report = vllm_check.check_manifests([bad])
    assert report.checked == 1
    assert [(v.rule, v.field) for v in report.violations] == [
        ("vllm-args", "spec.template.spec.containers[0].args")]
    assert "fp9" in report.violations[0].message


# -- report and CLI ---------------------------------------------------------------------------


def test_report_prints_every_violation_and_a_summary():
    out = io.StringIO()
    code = print_report("prod", [
        Section("kubernetes", "2 objects: 0 errors"),
        Section("policy", "23 rules: 1 violations",
                [Violation("bucket-versioning", "models-bucket", "versioning.enabled", "must be true")]),
        Section("vllm-args", "skipped: no vLLM container", skipped=True),
    ], out=out)
    assert code == 1
    assert out.getvalue().splitlines() == [
        "kubernetes  ok   2 objects: 0 errors",
        "policy      FAIL 23 rules: 1 violations",
        "  [bucket-versioning] models-bucket: versioning.enabled: must be true",
        "vllm-args   SKIP skipped: no vLLM container",
        "validate prod: FAIL: 2 checks run, 1 violations, skipped: vllm-args",
    ]


def test_cli_bad_config_exits_2(tmp_path, capsys):
    argv = ["validate", "prod", "--no-checkov", "--out", str(tmp_path), "--set", "cluster.releaseChannel=NIGHTLY"]
    assert main(argv) == 2
    assert "platform.cluster.releaseChannel" in capsys.readouterr().err
    argv = ["validate", "prod", "--no-checkov", "--out", str(tmp_path), "--set", "cluster.kubernetesMinor='1.10'"]
    assert main(argv) == 2
    assert "error: platform.cluster.kubernetesMinor: 1.10 is older than the oldest schema" in capsys.readouterr().err


def test_cli_policy_violation_exits_1(tmp_path, capsys):
    code = main(["validate", "dev", "--no-checkov", "--no-vllm", "--out", str(tmp_path),
                 "--set", "modelStorage.softDeleteDays=0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[bucket-recoverable] models-bucket: softDeletePolicy.retentionDurationSeconds: must be at least" in out
    assert out.splitlines()[-1].startswith("validate dev: FAIL:")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stacks_pass_the_schema_checks(stack, tmp_path):
    from stack.checks.validate import validate_manifests
    from stack.render import render_stack

    result = render_stack(stack, out_dir=tmp_path)
    assert result.manifests, f"{stack} renders no Kubernetes objects"
    assert validate_manifests(result.manifests, result.config.cluster.kubernetes_minor) == []


def test_cli_prints_one_line_per_check_and_the_summary(tmp_path, capsys):
    code = main(["validate", "prod", "--no-checkov", "--no-vllm", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    sections = [line.split()[0] for line in lines if not line.startswith("  ")][:-1]
    assert sections[:6] == ["kubernetes", "crds", "policy", "checkov", "vllm-args", "rehearsal"]
    assert sections[6:] in (["not-checked"], ["warnings", "not-checked"])  # two checks skipped: always a gap
    violations = [line for line in lines if line.startswith("  [")]
    assert code == (1 if violations else 0)
    assert lines[-1].startswith(f"validate prod: {'FAIL' if violations else 'PASS'}: ")
    assert f", {len(violations)} violations" in lines[-1]


@pytest.mark.parametrize("stack,extra", [("dev", ["--no-vllm"]), ("prod", [])])
def test_stacks_pass_every_check(stack, extra, checkov, tmp_path, capsys):
    """The gate: each stack renders to objects that pass schemas, CRDs, policy, checkov (and vLLM's parser)."""
    code = main(["validate", stack, "--out", str(tmp_path), *extra])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, "\n".join(lines)
    assert lines[-1].startswith(f"validate {stack}: PASS: ")
