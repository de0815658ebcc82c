"""The model-downloader Job: name per revision, args, marker, hardened pod spec."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
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


def test_job_spec_is_hardened_and_bounded():
    spec = job_spec(args(node_selector={"gke-inference/role": "system"}))
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (2, 86400, 3600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "model-downloader"
    assert pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"gke-inference/role": "system"}
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [container] = pod["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == ["--repo-id", "meta-llama/Llama-3.1-8B-Instruct", "--revision", REV, "--target", DEST]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "2Gi"},
    }
    assert container["env"] == [
        {"name": "TMPDIR", "value": "/scratch"},
        {"name": "HF_HOME", "value": "/scratch/hf-home"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"},
    ]
    assert pod["volumes"] == [
        {
            "name": "scratch",
            "ephemeral": {
                "volumeClaimTemplate": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "model-downloader"}},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "standard-rwo",
                        "resources": {"requests": {"storage": "30Gi"}},
                    },
                }
            },
        },
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {
            "name": "hf-token",
            "secret": {
                "secretName": "vllm-hf-token",
                "items": [{"key": "token", "path": "token"}],
                "defaultMode": 0o440,
            },
        },
    ]
    assert container["volumeMounts"][-1] == {
        "name": "hf-token",
        "mountPath": "/var/run/secrets/huggingface",
        "readOnly": True,
    }
    assert "tolerations" not in pod and "initContainers" not in pod


def test_public_model_has_no_token():
    env = job_spec(args(hf_token_secret=None))["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["TMPDIR", "HF_HOME", "HF_HUB_DISABLE_TELEMETRY"]


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"revision": "main"}, "revision: 'main' is not a 40-hex commit"),
        ({"image": "model-downloader:latest"}, "image: 'model-downloader:latest' is not pinned by digest"),
        (
            {"budget": DownloadBudget(1200, 2, 2400, 4000)},
            r"budget.active_deadline_seconds: 2400 s cannot fit 3 attempts of 1200 s",
        ),
        (
            {"budget": DownloadBudget(1200, 2, 3600, 3600)},
            r"budget.await_timeout_seconds: 3600 s must exceed the Job's deadline \(3600 s\)",
        ),
        ({"ttl_seconds_after_finished": -1}, "ttl_seconds_after_finished"),
        ({"scratch_gi": 0}, "scratch_gi"),
    ],
)
def test_args_validation(extra, message):
    with pytest.raises(ValueError, match=message):
        args(**extra)


def test_component_creates_ksa_then_job_and_exposes_marker():
    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        return ModelDownloader(
            "dl",
            args(gcp_service_account="dl@p.iam.gserviceaccount.com"),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )

    rec = record(program, settle=lambda d: d.marker)
    assert rec.settled == f"{DEST}/.complete-{REV}"
    job = rec.manifest("Job", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert job["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "4200"}  # download_budget(16e9)
    assert rec.named("dl-job").custom_timeouts == ("4200s", "4200s")  # Pulumi's wait = the annotation
    assert job["metadata"]["labels"]["gke-inference/model-revision"] == "0e9e39f2"
    assert job["spec"] == job_spec(args(gcp_service_account="dl@p.iam.gserviceaccount.com"))
    ksa = rec.manifest("ServiceAccount", "model-downloader")
    assert ksa == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "automountServiceAccountToken": False,
        "metadata": {
            "name": "model-downloader",
            "namespace": "llm",
            "annotations": {"iam.gke.io/gcp-service-account": "dl@p.iam.gserviceaccount.com"},
        },
    }
    assert rec.named("dl-job").depends_on == ["dl-ksa"]
    assert rec.named("dl").type == "gke-inference:workloads:ModelDownloader"


def test_component_without_gsa_creates_only_the_job():
    rec = record(lambda: ModelDownloader("dl", args()))
    assert sorted(r.type for r in rec.resources) == [
        "gke-inference:workloads:ModelDownloader",
        "kubernetes:batch/v1:Job",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    ]
    policy = rec.manifest("NetworkPolicy", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "model-download-llama-3-1-8b-instruct-0e9e39f2"}},
        "policyTypes": ["Ingress"],
    }
    job = rec.manifest("Job", "model-download-llama-3-1-8b-instruct-0e9e39f2")
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] == job["metadata"]["name"]


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


def test_flush_runs_the_download_first_then_syncs_the_target():
    spec = job_spec(
        args(
            flush=True,
            destination="/fill/models/x",
            extra_volumes=({"name": "fill", "persistentVolumeClaim": {"claimName": "w-fill"}},),
            extra_volume_mounts=({"name": "fill", "mountPath": "/fill"},),
        )
    )
    pod = spec["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["download"]
    [flush] = pod["containers"]
    assert flush["command"] == ["python3", "-c", "import os; os.sync()"]
    assert flush["volumeMounts"] == [{"name": "fill", "mountPath": "/fill"}]
