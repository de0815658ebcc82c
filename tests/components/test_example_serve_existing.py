"""examples/serve-on-existing-cluster: one model on one new GPU pool of an existing cluster, run under mocks."""

from __future__ import annotations

import ast
import runpy

import pulumi
import pytest

from infra.validation import ComponentArgsError
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "serve-on-existing-cluster"
CLUSTER_ID = "projects/my-proj/locations/us-central1/clusters/shared"
IMAGE = "vllm/vllm-openai@sha256:" + "b" * 64
CONFIG = {
    "project": "my-proj", "cluster": "shared", "location": "us-central1", "zone": "us-central1-a",
    "nodeAccount": "nodes@my-proj.iam.gserviceaccount.com", "image": IMAGE, "revision": "c" * 40,
}


def run_example(recorder, monkeypatch, config: dict[str, str]):
    exports: dict[str, object] = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exports.__setitem__(key, value))
    recorder.call_results["gcp:container/getCluster:getCluster"] = {
        "id": CLUSTER_ID, "endpoint": "198.51.100.7", "masterAuths": [{"clusterCaCertificate": "Q0E="}],
    }

    def program():
        pulumi.runtime.set_all_config({f"serve-on-existing-cluster:{k}": v for k, v in config.items()})
        runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")

    try:
        rec = recorder.run(program, project="serve-on-existing-cluster", stack="dev")
    finally:
        pulumi.runtime.set_all_config({})
    return rec, exports


def test_example_is_about_25_lines_of_public_components():
    source = (EXAMPLE / "__main__.py").read_text()
    assert len(source.splitlines()) == 25
    tree = ast.parse(source)
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert modules == {"pulumi", "pulumi_kubernetes", "infra.cluster", "infra.gpu_node_pool",
                       "workloads.vllm_args", "workloads.vllm_server", "workloads.weights"}


def test_example_serves_on_the_new_pool_of_the_existing_cluster(recorder, monkeypatch):
    rec, exports = run_example(recorder, monkeypatch, CONFIG)
    assert {(r["type"], r["name"]) for r in rec.resources if r["parent"] is None} == {
        ("gke-inference:infra:GkeCluster", "gke"),
        ("gke-inference:infra:GpuNodePool", "l4"),
        ("kubernetes:core/v1:Namespace", "llm"),
        ("gke-inference:workloads:VllmServer", "qwen"),
    }
    assert not [r for r in rec.resources if r["type"] == "gcp:container/cluster:Cluster"]  # nothing new for it
    pool = rec.inputs("l4-pool")
    assert (pool["project"], pool["location"], pool["cluster"]) == ("my-proj", "us-central1", CLUSTER_ID)
    assert pool["nodeConfig"]["spot"] is True

    spec = rec.inputs("qwen-deployment")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "l4",
                                    "cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert [t["key"] for t in spec["tolerations"]] == ["nvidia.com/gpu", "cloud.google.com/gke-spot"]
    container = spec["containers"][0]
    assert container["image"] == IMAGE
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["args"][:4] == ["--model", "/models/Qwen/Qwen2.5-1.5B-Instruct", "--served-model-name", "qwen"]
    assert [c["name"] for c in spec["initContainers"]] == ["download-weights"]
    assert rec.inputs("qwen-deployment")["metadata"]["namespace"] == "llm"
    assert rec.resolve(exports["url"]) == "http://qwen.llm.svc.cluster.local:8000"


def test_example_refuses_an_unpinned_image_before_creating_the_server(recorder, monkeypatch):
    with pytest.raises(ComponentArgsError, match=r"image: 'vllm/vllm-openai:v0.32.0' is not pinned by digest"):
        run_example(recorder, monkeypatch, {**CONFIG, "image": "vllm/vllm-openai:v0.32.0"})
    assert not [n for n in recorder.registered_by_last_run() if n.startswith("qwen")]
