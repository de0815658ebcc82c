"""The in-cluster load test: the repository's harness in a ConfigMap, a Job against the Service."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stack.checks.validate import validate_manifests
from stack.program.serving import harness_files
from stack.render import load_stack_config, render_config


@pytest.fixture(scope="module")
def dev():
    return render_config(load_stack_config("dev"), "dev")


def loadtest_job(result) -> dict:
    jobs = [j for j in result.manifests_of_kind("Job") if j["metadata"]["name"].startswith("loadtest-")]
    assert len(jobs) == 1
    return jobs[0]


def test_configmap_carries_exactly_the_repository_harness(dev):
    config_map = next(m for m in dev.manifests_of_kind("ConfigMap") if m["metadata"]["name"] == "loadtest-code")
    files = harness_files()
    assert "locustfile.py" in files and "data/conversations.jsonl" in files
    assert config_map["data"] == {path.replace("/", "__"): text for path, text in files.items()}


def test_job_targets_the_service_with_the_configured_harness_args(dev):
    job = loadtest_job(dev)
    pod = job["spec"]["template"]
    container = pod["spec"]["containers"][0]
    args = container["args"]
    assert args[:6] == [
        "--url",
        "http://vllm.llm.svc.cluster.local:8000",
        "--model",
        "llama-3.1-8b",
        "--out",
        f"/reports/{job['metadata']['name']}",
    ]
    assert args[7:] == dev.config.loadtest.harness_args
    assert pod["metadata"]["labels"]["gke-inference/client"] == "true"  # admitted by the server's NetworkPolicy
    assert job["spec"]["backoffLimit"] == 0
    reports = next(v for v in pod["spec"]["volumes"] if v["name"] == "reports")
    assert reports["csi"]["volumeAttributes"]["bucketName"] == dev.config.bucket_name("dev")
    assert "only-dir=loadtest" in reports["csi"]["volumeAttributes"]["mountOptions"]
    assert dev.outputs.get("servingUrl") == "http://vllm.llm.svc.cluster.local:8000"


def test_a_changed_setting_makes_a_new_job():
    first = loadtest_job(render_config(load_stack_config("dev"), "dev"))["metadata"]["name"]
    second = loadtest_job(render_config(load_stack_config("dev", ["loadtest.harnessArgs[5]='16'"]), "dev"))["metadata"][
        "name"
    ]
    assert first != second


def test_manifests_valid(dev):
    assert validate_manifests(dev.manifests, dev.config.cluster.kubernetes_minor) == []


def test_harness_runs_from_the_configmap_layout(dev, tmp_path):
    """Rebuild the pod's /app/loadtest from the ConfigMap items and start the harness from it."""
    job = loadtest_job(dev)
    config_map = next(m for m in dev.manifests_of_kind("ConfigMap") if m["metadata"]["name"] == "loadtest-code")
    items = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "code")["configMap"]["items"]
    for item in items:
        target = tmp_path / "loadtest" / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])
    completed = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "--request-rate" in completed.stdout
