"""examples/gpu-cluster: a separate Pulumi program composing the components, run under mocks."""

from __future__ import annotations

import ast
import json
import runpy

import pulumi
import pytest

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "gpu-cluster"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def run_example(recorder, monkeypatch, config: dict[str, str]):
    """Run examples/gpu-cluster/__main__.py as `pulumi up -s dev` would, with ``config`` set."""
    exports: dict[str, object] = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exports.__setitem__(key, value))

    def program():
        pulumi.runtime.set_all_config({f"gpu-cluster:{k}": v for k, v in config.items()})
        runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")

    try:
        rec = recorder.run(program, project="gpu-cluster", stack="dev")
    finally:
        pulumi.runtime.set_all_config({})
    return rec, exports


def test_example_imports_only_components():
    tree = ast.parse((EXAMPLE / "__main__.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert modules == {
        "pulumi",
        "pulumi_kubernetes",
        "infra.cluster",
        "infra.gpu_node_pool",
        "infra.identity",
        "infra.network",
    }


def test_example_project_file():
    import yaml

    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["name"] == "gpu-cluster"
    assert project["runtime"]["name"] == "python"


def test_example_cluster_pool_and_job(recorder, monkeypatch):
    rec, exports = run_example(recorder, monkeypatch, {"project": "my-proj"})
    assert {(r["type"], r["name"]) for r in rec.resources if r["parent"] is None} == {
        ("gke-inference:infra:Network", "net"),
        ("gke-inference:infra:NodeServiceAccount", "nodes"),
        ("gke-inference:infra:GkeCluster", "gke"),
        ("gke-inference:infra:GpuNodePool", "gpu"),
        ("kubernetes:batch/v1:Job", "nvidia-smi"),
    }

    cluster = rec.inputs("gke-cluster")
    assert cluster["name"] == "gpu-dev"
    assert cluster["location"] == "us-central1"
    assert cluster["network"] == "net-vpc-id"
    assert cluster["subnetwork"] == "net-subnet-id"
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "my-proj.svc.id.goog"}
    assert cluster["deletionProtection"] is False
    assert rec.inputs("gke-system")["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 2}

    pool = rec.inputs("gpu-pool")
    assert pool["cluster"] == "gke-cluster-id"
    assert pool["name"] == "gpu"
    assert pool["nodeLocations"] == ["us-central1-a"]
    assert pool["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 1, "locationPolicy": "ANY"}
    node = pool["nodeConfig"]
    assert node["machineType"] == "g2-standard-8"
    assert node["serviceAccount"] == "gpu-dev-nodes@my-proj.iam.gserviceaccount.com"
    assert node["guestAccelerators"] == [
        {"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
    ]
    assert node["spot"] is True

    job = rec.named("nvidia-smi")
    pod = job["inputs"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "gpu",
        "cloud.google.com/gke-accelerator": "nvidia-l4",
    }
    assert pod["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]
    assert pod["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert job["inputs"]["apiVersion"] == "batch/v1" and job["inputs"]["kind"] == "Job"

    assert rec.resolve(exports["gpuPool"]) == "gpu"
    assert exports["accelerator"] == "nvidia-l4"
    assert rec.is_secret(exports["kubeconfig"])
    assert json.loads(rec.resolve(exports["kubeconfig"]))["current-context"] == "gpu-dev"


def test_example_with_an_on_demand_h100_pool(recorder, monkeypatch):
    rec, _ = run_example(
        recorder,
        monkeypatch,
        {
            "project": "my-proj",
            "machineType": "a3-highgpu-8g",
            "spot": "false",
            "maxNodes": "2",
            "zone": "us-central1-c",
        },
    )
    pool = rec.inputs("gpu-pool")
    # Local SSD follows the machine: a3-highgpu-8g bundles 16 disks.
    assert pool["nodeConfig"]["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 16}
    assert pool["nodeConfig"]["guestAccelerators"][0] == {
        "type": "nvidia-h100-80gb",
        "count": 8,
        "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
    }
    assert pool["nodeConfig"]["spot"] is False
    assert pool["nodeLocations"] == ["us-central1-c"]
    assert pool["autoscaling"]["totalMaxNodeCount"] == 2
    pod = rec.named("nvidia-smi")["inputs"]["spec"]["template"]["spec"]
    assert pod["tolerations"] == [GPU_TOLERATION]
    assert pod["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": "8"}}


def test_example_requires_a_project(recorder, monkeypatch):
    with pytest.raises(pulumi.ConfigMissingError, match="gpu-cluster:project"):
        run_example(recorder, monkeypatch, {})
