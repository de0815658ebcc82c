"""``gke-infer render`` end to end: a real process, real files, exit codes (design.md §4)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.cli import main
from tests.conftest import REPO_ROOT

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def gke_infer(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Run the CLI as the console script does (``stack.cli:main``) in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "stack.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def gke_infer_here(capsys, *args: str) -> subprocess.CompletedProcess[str]:
    """The same ``main`` in this process (no interpreter start-up): exit code and captured output."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.fixture(scope="module")
def prod_render(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("render") / "prod"
    proc = gke_infer("render", "prod", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def prod_resources(prod_render) -> list[dict[str, Any]]:
    return json.loads((prod_render[0] / "resources.json").read_text())


def one(resources: list[dict[str, Any]], type_: str, name: str) -> dict[str, Any]:
    matches = [r for r in resources if r["type"] == type_ and r["name"] == name]
    assert len(matches) == 1, [(r["type"], r["name"]) for r in resources]
    return matches[0]


def test_console_script_is_the_cli():
    (entry,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "gke-infer"]
    assert entry.value == "stack.cli:main"


def test_render_writes_the_three_outputs(prod_render):
    out, proc = prod_render
    assert (out / "resources.json").is_file() and (out / "preview.txt").is_file() and (out / "manifests").is_dir()
    assert proc.stdout.splitlines()[-1].startswith("rendered prod: ")
    assert proc.stdout.splitlines()[-1].endswith(f"-> {out}/resources.json, {out}/manifests/, {out}/preview.txt")
    preview = (out / "preview.txt").read_text()
    assert " +   pulumi:pulumi:Stack                    gke-inference-prod" in preview
    assert "gcp:storage/bucket:Bucket" in preview and "models-bucket [protect]" in preview


def test_gpu_pool_has_image_cache_streaming_local_ssd_and_gpu_taint(prod_resources):
    pool = one(prod_resources, "gcp:container/nodePool:NodePool", "h100-pool")
    config = pool["inputs"]["nodeConfig"]
    # The disk image the stack builds for the serving image's digest (tests/components/test_boot_disk.py).
    (build,) = [r for r in prod_resources if r["type"] == "command:local:Command" and r["name"] == "image-cache-build"]
    built = f"projects/gke-inference-prod/global/images/{build['inputs']['environment']['IMAGE_NAME']}"
    assert config["secondaryBootDisks"] == [{"diskImage": built, "mode": "CONTAINER_IMAGE_CACHE"}]
    assert "image-cache-build" in pool["dependencies"]
    assert config["gcfsConfig"] == {"enabled": True}
    assert config["imageType"] == "COS_CONTAINERD"
    assert config["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 16}  # a3-highgpu-8g bundles 16
    assert config["taints"] == [GPU_TAINT]
    assert config["guestAccelerators"][0]["type"] == "nvidia-h100-80gb"
    assert config["guestAccelerators"][0]["count"] == 8
    assert pool["parent"] == "h100"


def test_bucket_is_uniform_and_public_access_prevented(prod_resources):
    bucket = one(prod_resources, "gcp:storage/bucket:Bucket", "models-bucket")
    assert bucket["inputs"]["uniformBucketLevelAccess"] is True
    assert bucket["inputs"]["publicAccessPrevention"] == "enforced"
    assert bucket["inputs"]["name"] == "gke-inference-prod-prod-models"
    assert bucket["protect"] is True


def test_cluster_has_workload_identity_managed_prometheus_and_gcs_fuse(prod_resources):
    cluster = one(prod_resources, "gcp:container/cluster:Cluster", "gke-cluster")["inputs"]
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "gke-inference-prod.svc.id.goog"}
    assert cluster["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert cluster["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS", "DCGM"]
    assert cluster["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}
    assert cluster["deletionProtection"] is True
    assert cluster["minMasterVersion"] == "1.35.2-gke.1842000"  # prod's active capacity buffer needs it


def _integral_floats(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _integral_floats(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _integral_floats(v, f"{path}[{i}]")]
    return [f"{path}={value!r}"] if isinstance(value, float) and value.is_integer() else []


def test_ints_are_ints(prod_render, prod_resources):
    out, _ = prod_render
    pool = one(prod_resources, "gcp:container/nodePool:NodePool", "h100-pool")["inputs"]
    assert type(pool["autoscaling"]["totalMaxNodeCount"]) is int
    assert type(pool["nodeConfig"]["diskSizeGb"]) is int
    assert _integral_floats(prod_resources) == []
    for manifest in sorted((out / "manifests").glob("*.yaml")):
        assert _integral_floats(yaml.safe_load(manifest.read_text()), manifest.name) == []


def test_secrets_never_written_or_printed(prod_render):
    out, proc = prod_render
    written = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    for text in (*written.values(), proc.stdout, proc.stderr):
        assert "offline-render" not in text
        # The kubeconfig is a secret output: masked, so its contents never reach the files.
        assert "gke-gcloud-auth-plugin" not in text
    provider = one(json.loads(written["resources.json"]), "pulumi:providers:kubernetes", "gke-k8s")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    assert '    kubeconfig: "[secret]"' in written["preview.txt"]


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "gpuPools.h100.machineType=n2-standard-8",
            (
                "error: platform.gpuPools.h100.machineType: 'n2-standard-8' cannot carry GPUs on GKE: "
                "GPUs attach only to N1 (T4) and accelerator-optimized machines (g2-*, a2-*, a3-*, a4-*); "
                "use e.g. g2-standard-8 for one L4"
            ),
        ),
        (
            "gpuPools.h100.imageStreaming=false",
            (
                "error: platform.gpuPools.h100.imageStreaming: gpuPools.h100.secondaryBootDisks in "
                "CONTAINER_IMAGE_CACHE mode need gpuPools.h100.imageStreaming true (GKE serves the cache through "
                "image streaming)"
            ),
        ),
    ],
)
def test_bad_config_exits_2_names_the_field_and_writes_nothing(tmp_path, capsys, override, line):
    out = tmp_path / "out"
    proc = gke_infer_here(capsys, "render", "prod", "--out", str(out), "--set", override)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        line,
        "nothing was rendered; fix the fields above in Pulumi.<stack>.yaml or the --set values",
    ]
    assert proc.stdout == ""
    assert not out.exists()


def test_unknown_stack_exits_2(tmp_path):
    proc = gke_infer("render", "staging", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == "error: stack: no Pulumi.staging.yaml; known stacks: dev, prod"
    assert not (tmp_path / "out").exists()


def test_existing_cluster_mode_renders_pools_against_it(tmp_path, capsys):
    out = tmp_path / "existing"
    proc = gke_infer_here(capsys, "render", "dev", "--quiet", "--out", str(out), "--set", "cluster.mode=existing")
    assert proc.returncode == 0, proc.stderr
    resources = json.loads((out / "resources.json").read_text())
    assert [r for r in resources if r["type"] == "gcp:container/cluster:Cluster"] == []
    assert [r["name"] for r in resources if r["type"] == "gcp:container/nodePool:NodePool"] == ["l4-spot-pool"]
    pool = one(resources, "gcp:container/nodePool:NodePool", "l4-spot-pool")
    assert pool["inputs"]["cluster"] == "projects/gke-inference-dev/locations/us-central1/clusters/inference-dev"
    assert one(resources, "pulumi:providers:kubernetes", "gke-k8s")["inputs"]["kubeconfig"] == "[secret]"


def test_out_dir_that_is_not_a_render_is_never_wiped(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    proc = gke_infer_here(capsys, "render", "dev", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        f"error: --out: {tmp_path} exists and is not an earlier render (no resources.json); "
        "pick a new or empty directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_rerender_replaces_an_earlier_render(tmp_path, capsys):
    out = tmp_path / "dev"
    (out / "manifests").mkdir(parents=True)
    (out / "resources.json").write_text("[]\n")
    (out / "manifests" / "999-stale.yaml").write_text("kind: Stale\n")
    proc = gke_infer_here(capsys, "render", "dev", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not (out / "manifests" / "999-stale.yaml").exists()
    assert json.loads((out / "resources.json").read_text()) != []
