"""The deploy rehearsal: the shipped stacks (and every weights backend) pass it; each planted defect fails it.

Planted defects are edits of a real render directory, checked through the CLI (`gke-infer rehearse
DIR`), so the exit code and the named resource are what a user would see.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stack.checks.dependency_graph import DependencyGraph
from stack.checks.rehearsal import rehearse, required_apis
from stack.cli import main
from stack.render import render_stack, write_outputs
from tests.serving.test_lws_operator import LWS_OVERRIDES

BACKENDS = ["gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace"]
VARIANTS = {
    "dev": ("dev", []),
    "prod": ("prod", []),
    **{f"prod-{b}": ("prod", [f"model.weights.backend={b}"]) for b in BACKENDS},
    "dev-keda": ("dev", ["autoscaling.mode=keda", "autoscaling.keda.wakeQuery=sum(rate(x[1m]))"]),
    "prod-multinode": ("prod", list(LWS_OVERRIDES)),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each variant rendered once into its own directory (resources.json + images.json)."""
    out = {}
    for key, (stack, overrides) in VARIANTS.items():
        directory = tmp_path_factory.mktemp(key)
        write_outputs(render_stack(stack, overrides), directory)
        out[key] = directory
    return out


def _rehearse_cli(directory: Path, capsys) -> tuple[int, str]:
    code = main(["rehearse", str(directory)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_shipped_variants_pass(rendered, variant, capsys):
    code, out = _rehearse_cli(rendered[variant], capsys)
    assert code == 0, out
    assert "PASS: 0 violations" in out


@pytest.mark.parametrize("variant", ["dev", "prod", "prod-hyperdiskMl", "prod-filestore"])
def test_every_gcp_resource_waits_for_its_api(rendered, variant):
    """Walk the recorded graph: each GCP resource transitively waits for the Service enabling its API."""
    resources = json.loads((rendered[variant] / "resources.json").read_text())
    graph = DependencyGraph(resources)
    enablers = {r["inputs"]["service"]: r["name"] for r in graph.of_type("gcp:projects/service:Service")}
    checked = 0
    for record in resources:
        for api in required_apis(record):
            assert api in enablers, f"{record['name']}: {api} is not enabled by the stack"
            assert enablers[api] in graph.waits_for(record["name"]), f"{record['name']} does not wait for {api}"
            checked += 1
    assert checked > 20


def _plant(source: Path, target: Path, edit) -> Path:
    shutil.copytree(source, target)
    resources = json.loads((target / "resources.json").read_text())
    edit(resources)
    (target / "resources.json").write_text(json.dumps(resources))
    return target


def _record(resources, name):
    return next(r for r in resources if r["name"] == name)


def test_planted_literal_digest_fails(rendered, tmp_path, capsys):
    def edit(resources):
        container = _record(resources, "vllm-deployment")["inputs"]["spec"]["template"]["spec"]["containers"][0]
        container["image"] = container["image"].split("@")[0] + "@sha256:" + "ab" * 32

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[image-provenance] vllm-deployment: containers[vllm].image:" in out
    assert "typed by hand" in out


def test_planted_missing_api_dependency_fails(rendered, tmp_path, capsys):
    def edit(resources):
        bucket = _record(resources, "models-bucket")
        bucket["dependencies"] = [d for d in bucket["dependencies"] if not d.startswith("apis-")]

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[api-dependency] models-bucket: dependsOn:" in out and "storage.googleapis.com" in out


def test_planted_uninstalled_kind_fails(rendered, tmp_path, capsys):
    def edit(resources):
        hpa = _record(resources, "vllm-autoscaler-hpa")
        resources.append({**hpa, "name": "planted-widget",
                          "type": "kubernetes:widgets.example.com/v1:Widget",
                          "inputs": {"apiVersion": "widgets.example.com/v1", "kind": "Widget",
                                     "metadata": {"name": "w", "namespace": "llm"}}})

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[controller] planted-widget: kind: Widget (widgets.example.com): no controller installed" in out


def test_planted_bucket_conflict_fails(rendered, tmp_path, capsys):
    def edit(resources):
        inputs = _record(resources, "models-bucket")["inputs"]
        inputs["hierarchicalNamespace"] = {"enabled": True}
        inputs["versioning"] = {"enabled": True}

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[create-time] models-bucket:" in out and "ersioning" in out


def test_planted_workload_identity_binding_before_cluster_fails(rendered, tmp_path, capsys):
    def edit(resources):
        binding = _record(resources, "vllm-identity-wi-user")
        account = _record(resources, "vllm-identity-gsa")
        binding["dependencies"] = ["vllm-identity-gsa"]
        account["dependencies"] = []
        _record(resources, "vllm-identity")["dependencies"] = []

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[service-account] vllm-identity-wi-user: member:" in out and "Identity Pool does not exist" in out


def test_planted_secret_not_waited_for_fails(rendered, tmp_path, capsys):
    def edit(resources):
        for record in resources:  # nothing waits for the Secret any more
            record["dependencies"] = [d for d in record["dependencies"] if d != "vllm-hf-token"]

    code, out = _rehearse_cli(_plant(rendered["dev"], tmp_path / "r", edit), capsys)
    assert code == 1
    assert "[secret] weights-download-job: volumes[hf-token]: does not wait for Secret vllm-hf-token" in out


def test_missing_render_dir_is_bad_input(tmp_path, capsys):
    assert main(["rehearse", str(tmp_path / "nothing")]) == 2
    assert "resources.json not found" in capsys.readouterr().err


def test_images_without_origin_are_reported():
    """No images.json: every digest is of unknown origin, so each pod image is reported."""
    deployment = {
        "type": "kubernetes:apps/v1:Deployment", "name": "d", "parent": None, "custom": True,
        "dependencies": [], "provider": "p",
        "inputs": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
                   "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x@sha256:" + "0" * 64}]}}}},
    }
    provider = {"type": "pulumi:providers:kubernetes", "name": "p", "parent": None, "custom": True,
                "dependencies": [], "inputs": {}}
    found = rehearse([provider, deployment], [], controllers={})
    assert [(v.rule, v.resource) for v in found] == [("image-provenance", "d")]
