"""images/: bases named by tag (the stack resolves digests), builds take what the stack passes, no literal digest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from infra.boot_disk import BOOT_DISK_SCRIPT
from infra.images import BUILD_SCRIPT, dockerfile_base, image_problem

ROOT = Path(__file__).resolve().parents[2]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def from_lines(dockerfile: Path) -> list[str]:
    """The image reference of every FROM instruction (build-stage aliases dropped)."""
    refs = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", line, re.IGNORECASE)
        if match:
            refs.append(match.group(1))
    return refs


@pytest.mark.parametrize("image", ["vllm", "model-downloader", "loadtest"])
def test_dockerfile_base_is_a_build_arg_with_a_tag_and_no_literal_digest(image):
    """The stack passes BASE_IMAGE by the digest it looked up (infra/images.py); the file names a tag only."""
    dockerfile = ROOT / "images" / image / "Dockerfile"
    assert from_lines(dockerfile) == ["${BASE_IMAGE}"]
    base = dockerfile_base(dockerfile.parent)
    assert image_problem(base) is None and "@" not in base, base
    assert not re.search(r"sha256:[0-9a-f]{64}", dockerfile.read_text())


def test_no_literal_digest_in_stack_files_product_code_or_images():
    """design.md §3: digests come from lookups, builds or user pins, never typed into the repository."""
    roots = ["stack", "infra", "workloads", "policy", "loadtest", "images", "examples"]
    files = [p for r in roots if (ROOT / r).exists() for p in (ROOT / r).rglob("*") if p.is_file()]
    files += list(ROOT.glob("Pulumi*.yaml"))
    hits = [
        str(p.relative_to(ROOT))
        for p in files
        if "__pycache__" not in p.parts and re.search(rb"sha256:[0-9a-f]{64}", p.read_bytes())
    ]
    assert hits == []


@pytest.mark.parametrize("image", ["vllm", "model-downloader"])
def test_dockerfiles_run_as_non_root(image):
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "images" / image / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_vllm_image_matches_the_local_vllm_version_and_pins_the_streamer():
    dockerfile = (ROOT / "images" / "vllm" / "Dockerfile").read_text()
    ref = dockerfile_base(ROOT / "images" / "vllm")
    assert ref.startswith("docker.io/vllm/vllm-openai:v")
    tag = ref.split(":", 1)[1]
    from stack.local.serve_env import VLLM_CPU_VERSION

    assert tag == f"v{VLLM_CPU_VERSION}"
    for package in ("runai-model-streamer", "runai-model-streamer-gcs"):
        assert re.search(rf'"{package}==\d+\.\d+\.\d+"', dockerfile), f"{package} not pinned"


def test_model_downloader_requirements_are_pinned():
    lines = [ln for ln in (ROOT / "images" / "model-downloader" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines and all(re.match(r"^[A-Za-z0-9_.-]+==\d[\w.]*$", ln) for ln in lines)


def _cloudbuild() -> dict:
    return yaml.safe_load((ROOT / "images" / "boot-disk" / "cloudbuild.yaml").read_text())


def test_no_stack_names_a_disk_image_by_hand():
    """Prod caches the serving image on a secondary boot disk that the stack builds (infra/boot_disk.py)."""
    for stack in ("dev", "prod"):
        document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        pools = document["config"]["gke-inference:platform"]["gpuPools"]
        assert all("diskImage" not in d for p in pools.values() for d in p.get("secondaryBootDisks") or [])
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["gke-inference:platform"]
    assert [d for p in prod["gpuPools"].values() for d in p.get("secondaryBootDisks") or []] == [
        {"mode": "CONTAINER_IMAGE_CACHE"}
    ] * 2


def test_the_stack_passes_every_substitution_the_boot_disk_build_defines():
    """BOOT_DISK_SCRIPT sets the substitutions the stack owns; the rest keep cloudbuild.yaml's defaults."""
    passed = set(re.findall(r"(_[A-Z_]+)=\$", BOOT_DISK_SCRIPT))
    assert passed == {"_CONTAINER_IMAGE", "_IMAGE_NAME", "_ZONE", "_GCS_PATH", "_DISK_SIZE_GB"}
    assert passed <= set(_cloudbuild()["substitutions"])


def test_docker_build_config_takes_the_image_and_base_the_stack_passes():
    build = yaml.safe_load((ROOT / "images" / "cloudbuild-docker.yaml").read_text())
    assert set(re.findall(r"(_[A-Z_]+)=\$", BUILD_SCRIPT)) == set(build["substitutions"]) == {"_IMAGE", "_BASE_IMAGE"}
    (step,) = build["steps"]
    assert step["args"] == ["build", "--build-arg", "BASE_IMAGE=${_BASE_IMAGE}", "--tag", "${_IMAGE}", "."]
    assert build["images"] == ["${_IMAGE}"]


def test_boot_disk_build_runs_the_pinned_builder_with_its_substitutions():
    build = _cloudbuild()
    subs = build["substitutions"]
    assert re.fullmatch(r"[0-9a-f]{40}", subs["_TOOLS_COMMIT"])
    fetch, run = build["steps"]
    assert "https://github.com/ai-on-gke/tools.git" in fetch["args"][-1]
    assert "${_TOOLS_COMMIT}" in fetch["args"][-1]
    assert run["dir"] == "tools/gke-disk-image-builder" and run["args"][:3] == ["go", "run", "./cli"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in run["args"][3:] if a.startswith("--"))
    assert flags["image-name"] == "${_IMAGE_NAME}"
    assert flags["container-image"] == "${_CONTAINER_IMAGE}"
    assert flags["disk-size-gb"] == "${_DISK_SIZE_GB}" and int(subs["_DISK_SIZE_GB"]) >= 100
    assert flags["image-pull-auth"] == "ServiceAccountToken"
    # every ${_VAR} used is defined (Cloud Build rejects unknown user substitutions)
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", (ROOT / "images" / "boot-disk" / "cloudbuild.yaml").read_text()))
    assert used <= set(subs)
    assert int(build["timeout"].rstrip("s")) >= 3600


@pytest.mark.parametrize("target,expected", [
    ("image-vllm", "gcloud builds submit --project p --region us-central1 "
                   "--tag us-central1-docker.pkg.dev/p/inference/vllm:t images/vllm"),
    ("image-model-downloader",
     "gcloud builds submit --project p --region us-central1 "
     "--tag us-central1-docker.pkg.dev/p/inference/model-downloader:t images/model-downloader"),
    ("image-boot-disk",
     "gcloud builds submit --project p --region us-central1 --config images/boot-disk/cloudbuild.yaml "
     "--no-source --substitutions _ZONE=us-central1-a,_CONTAINER_IMAGE=us-central1-docker.pkg.dev/p/inference/vllm:t"),
])
def test_make_image_targets_print_the_build_command(target, expected):
    import subprocess

    out = subprocess.run(["make", "--no-print-directory", target, "PROJECT=p", "TAG=t"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert " ".join(out.split()) == expected


# -- the rendered stacks ------------------------------------------------------------------------


def _pod_images(manifest: dict) -> list[str]:
    """Every container and init-container image in a manifest (any nesting: Deployment, Job, LWS...)."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("containers", "initContainers"):
                for container in node.get(key) or []:
                    if isinstance(container, dict) and "image" in container:
                        found.append(container["image"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(manifest)
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rendered_image_is_a_digest_from_a_lookup_or_a_build(stack, tmp_path):
    from stack.render import render_stack

    result = render_stack(stack, out_dir=tmp_path)
    records = json.loads((tmp_path / "images.json").read_text())
    assert records == result.images()
    by_image = {r["image"]: r for r in records}
    images = {i for m in result.manifests for i in _pod_images(m)}
    assert images
    for image in images:
        assert re.search(r"@sha256:[0-9a-f]{64}$", image), image
        assert by_image[image]["source"] in ("lookup", "build") and by_image[image]["kind"] == "container", image
    # our own images are built by the stack, upstream ones looked up; the preview says which
    assert {by_image[i]["source"] for i in images if "/inference/" in i} == {"build"}
    assert {by_image[i]["source"] for i in images if "/inference/" not in i} == {"lookup"}
    preview = (tmp_path / "preview.txt").read_text()
    assert "Images (how each digest is obtained):" in preview
    assert "registry lookup at preview (mocked offline)" in preview and "built by the stack (mocked offline)" in preview


def test_a_pinned_serving_image_is_used_as_given_and_recorded_as_a_pin():
    from stack.render import render_stack

    pin = "vllm/vllm-openai:v0.32.0@sha256:" + "5" * 64  # planted
    result = render_stack("dev", [f"serving.image={pin}"])
    (deployment,) = [m for m in result.manifests_of_kind("Deployment") if m["metadata"]["name"] == "vllm"]
    image = _pod_images(deployment)[0]
    assert image == "us-central1-docker.pkg.dev/gke-inference-dev/dockerhub/vllm/vllm-openai@sha256:" + "5" * 64
    assert {"image": image, "source": "pin", "resource": None, "query": pin, "kind": "container"} in result.images()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("serving.image", "vllm/vllm-openai:latest", "`latest` moves without a config change"),
        ("model.weights.downloaderImage", "model-downloader", "'model-downloader' has no tag"),
        ("loadtest.image", "loadtest-runner:latest", "`latest` moves without a config change"),
        ("autoscaling.metricsAdapterImage", "gcr.io/gke-release/custom-metrics-stackdriver-adapter",
         "has no tag"),
    ],
)
def test_untagged_and_latest_images_are_refused_with_the_field_path(field, value, message):
    from stack.config import ConfigError
    from stack.render import load_stack_config

    with pytest.raises(ConfigError) as err:
        load_stack_config("dev", [f"{field}={value}"])
    (line,) = err.value.lines
    assert line.startswith(f"platform.{field}: ") and message in line
