"""The model-downloader's Job name per revision, args, marker and budget, and its contract with the image; the
component itself is tested in tests/components/test_model_downloader.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.weights.conftest import record
from workloads.model_downloader import (
    ATTEMPT_FLOOR_SECONDS,
    DownloadBudget,
    ModelDownloader,
    ModelDownloaderArgs,
    download_budget,
    downloader_args,
    job_name,
    job_spec,
    marker_path,
)

REV = "0e9e39f249a16976918f6564b8830bc894c89659"
IMAGE = "us-central1-docker.pkg.dev/p/inference/model-downloader@sha256:" + "d" * 64
DEST = "gs://b/models/meta-llama/Llama-3.1-8B-Instruct/" + REV


def args(**extra) -> ModelDownloaderArgs:
    base = {
        "namespace": "llm",
        "image": IMAGE,
        "repo_id": "meta-llama/Llama-3.1-8B-Instruct",
        "revision": REV,
        "destination": DEST,
        "service_account_name": "model-downloader",
        "hf_token_secret": "vllm-hf-token",
    }
    return ModelDownloaderArgs(**{**base, **extra})


def test_job_name_changes_with_the_revision_only():
    assert (
        job_name("model-download", "meta-llama/Llama-3.1-8B-Instruct", REV)
        == "model-download-llama-3-1-8b-instruct-0e9e39f2"
    )
    other = "6f6073b423013f6a7d4d9f39144961bfbfbc386b"
    assert job_name("model-download", "meta-llama/Llama-3.1-8B-Instruct", other).endswith("-6f6073b4")
    long = job_name("model-download", "org/" + "Very_Long.Model-Name" * 5, REV)
    assert len(long) == 63 and long.endswith("-0e9e39f2") and "--" not in long


def test_marker_and_args():
    assert marker_path(DEST + "/", REV) == f"{DEST}/.complete-{REV}"
    assert downloader_args("o/m", REV, DEST) == ["--repo-id", "o/m", "--revision", REV, "--target", DEST]


def test_pulumis_wait_is_the_jobs_timeout_annotation():
    """customTimeouts is a resource option the component-test recorder does not keep; this recorder does.
    (The component's children and refusals: tests/components/test_model_downloader.py.)"""
    rec = record(lambda: ModelDownloader("dl", args()))
    job = rec.manifest("Job", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert job["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "4200"}  # download_budget(16e9)
    assert rec.named("dl-job").custom_timeouts == ("4200s", "4200s")


def load_download_py():
    """The real images/model-downloader/download.py, imported from its path."""
    path = Path(__file__).resolve().parents[2] / "images" / "model-downloader" / "download.py"
    spec = importlib.util.spec_from_file_location("model_downloader_image", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_args_and_marker_match_the_downloader_image(monkeypatch):
    download = load_download_py()
    seen = {}

    def fake_run(repo_id, revision, target, patterns, token=None, fetch=None):
        seen.update(repo_id=repo_id, revision=revision, target=target)
        return "skipped"

    monkeypatch.setattr(download, "run", fake_run)
    monkeypatch.setenv("HF_TOKEN", "")
    assert download.main(job_spec(args())["template"]["spec"]["containers"][0]["args"]) == 0
    assert seen["repo_id"] == "meta-llama/Llama-3.1-8B-Instruct" and seen["revision"] == REV
    assert (seen["target"].bucket, seen["target"].prefix) == ("b", "models/meta-llama/Llama-3.1-8B-Instruct/" + REV)
    assert marker_path(DEST, REV) == f"{DEST}/{download.marker_name(REV)}"


def test_local_target_run_is_idempotent_through_the_marker(tmp_path):
    """The image's own run(): a second run with the marker present copies nothing (what makes reruns no-ops)."""
    download = load_download_py()
    fetched = []

    def fetch(repo_id, revision, dest, patterns, token):
        fetched.append(revision)
        (dest / "model.safetensors").write_bytes(b"weights")
        (dest / "config.json").write_text("{}")

    target = download.parse_target(str(tmp_path / "share" / "m"))
    assert download.run("o/m", REV, target, fetch=fetch) == "copied 2 files"
    assert (tmp_path / "share" / "m" / f".complete-{REV}").exists()
    assert download.run("o/m", REV, target, fetch=fetch) == "skipped"
    assert fetched == [REV]


def test_download_budget_scales_with_the_model_and_outlasts_the_job():
    # Llama-3.3-70B bf16: 141.2 GB × 2 passes / 0.1 GB/s = 2824 s → 2880 s per attempt, 3 attempts.
    assert download_budget(141.2e9) == DownloadBudget(2880, 2, 8640, 9240)
    # Small models get the floor: scheduling, a scratch PD and an image pull still take minutes.
    assert download_budget(1e9).attempt_seconds == ATTEMPT_FLOOR_SECONDS
    with pytest.raises(ValueError, match="model_bytes and rate_gbps must be > 0"):
        download_budget(0)
