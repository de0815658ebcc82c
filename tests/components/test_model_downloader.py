"""ModelDownloader on its own: KSA, Job and NetworkPolicy with their exact inputs, and every refusal.
(Job names, budgets and the contract with the downloader image are tested in tests/weights/test_downloader.py.)"""

from __future__ import annotations

import dataclasses

import pytest

from workloads.model_downloader import DownloadBudget, ModelDownloader, ModelDownloaderArgs, job_spec

REV = "0e9e39f249a16976918f6564b8830bc894c89659"
IMAGE = "us-central1-docker.pkg.dev/p/inference/model-downloader@sha256:" + "d" * 64
DEST = "gs://b/models/meta-llama/Llama-3.1-8B-Instruct/" + REV
JOB = "model-download-llama-3-1-8b-instruct-0e9e39f2"
GSA = "dl@p.iam.gserviceaccount.com"
LABELS = {
    "app.kubernetes.io/name": "model-downloader",
    "app.kubernetes.io/instance": JOB,
    "app.kubernetes.io/component": "model-weights",
    "gke-inference/model-revision": "0e9e39f2",
}
# The restricted profile without a user: the container runs as its pod's user.
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def args(**change) -> ModelDownloaderArgs:
    base = ModelDownloaderArgs(namespace="llm", image=IMAGE, repo_id="meta-llama/Llama-3.1-8B-Instruct", revision=REV,
                               destination=DEST, service_account_name="model-downloader",
                               hf_token_secret="vllm-hf-token")
    return dataclasses.replace(base, **change)


def test_children_ksa_then_job_and_the_marker(recorder):
    rec = recorder.run(lambda: ModelDownloader("dl", args(gcp_service_account=GSA)))
    assert rec.tree() == {
        ("gke-inference:workloads:ModelDownloader", "dl", None),
        ("kubernetes:core/v1:ServiceAccount", "dl-ksa", "dl"),
        ("kubernetes:batch/v1:Job", "dl-job", "dl"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dl-netpol", "dl"),
    }
    assert rec.named("dl-job")["dependencies"] == ["dl-ksa"]
    assert rec.inputs("dl-ksa") == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "automountServiceAccountToken": False,
        "metadata": {"name": "model-downloader", "namespace": "llm",
                     "annotations": {"iam.gke.io/gcp-service-account": GSA}},
    }
    job = rec.inputs("dl-job")
    # download_budget(16e9): 3 attempts of 1200 s + 600 s slack for Pulumi's wait.
    assert job["metadata"] == {"name": JOB, "namespace": "llm", "labels": LABELS,
                               "annotations": {"pulumi.com/timeoutSeconds": "4200"}}
    assert job["spec"] == job_spec(args(gcp_service_account=GSA))
    assert rec.inputs("dl-netpol")["spec"] == {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": JOB}},
                                               "policyTypes": ["Ingress"]}
    assert rec.resolve(rec.value.marker) == f"{DEST}/.complete-{REV}"


def test_without_a_gsa_only_the_job_and_its_policy(recorder):
    rec = recorder.run(lambda: ModelDownloader("dl", args()))
    assert rec.names() == ["dl", "dl-job", "dl-netpol"]
    assert rec.inputs("dl-job")["spec"]["template"]["metadata"]["labels"] == LABELS


def test_job_is_hardened_and_bounded(recorder):
    rec = recorder.run(lambda: ModelDownloader("dl", args(node_selector={"gke-inference/role": "system"})))
    spec = rec.inputs("dl-job")["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (2, 86400, 3600)
    pod = spec["template"]["spec"]
    assert {k: pod[k] for k in ("restartPolicy", "serviceAccountName", "automountServiceAccountToken",
                                "nodeSelector")} == {
        "restartPolicy": "Never", "serviceAccountName": "model-downloader", "automountServiceAccountToken": False,
        "nodeSelector": {"gke-inference/role": "system"},
    }
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                      "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    assert "tolerations" not in pod and "initContainers" not in pod
    (container,) = pod["containers"]
    assert container == {
        "name": "download",
        "image": IMAGE,
        "args": ["--repo-id", "meta-llama/Llama-3.1-8B-Instruct", "--revision", REV, "--target", DEST],
        "env": [
            {"name": "TMPDIR", "value": "/scratch"},
            {"name": "HF_HOME", "value": "/scratch/hf-home"},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"},
        ],
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "2Gi"},
        },
        "securityContext": HARDENED,
        "volumeMounts": [
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True},
        ],
    }
    assert pod["volumes"] == [
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
            "metadata": {"labels": {"app.kubernetes.io/name": "model-downloader"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard-rwo",
                     "resources": {"requests": {"storage": "30Gi"}}},
        }}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "hf-token", "secret": {"secretName": "vllm-hf-token", "items": [{"key": "token", "path": "token"}],
                                        "defaultMode": 0o440}},
    ]


def test_public_model_mounts_no_token(recorder):
    pod = recorder.run(lambda: ModelDownloader("dl", args(hf_token_secret=None))).inputs("dl-job")["spec"]
    container = pod["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["TMPDIR", "HF_HOME", "HF_HUB_DISABLE_TELEMETRY"]
    assert [m["name"] for m in container["volumeMounts"]] == ["scratch", "tmp"]


def test_flush_downloads_first_then_syncs_the_target(recorder):
    change = {"flush": True, "destination": "/fill/models/x",
              "extra_volumes": ({"name": "fill", "persistentVolumeClaim": {"claimName": "w-fill"}},),
              "extra_volume_mounts": ({"name": "fill", "mountPath": "/fill"},)}
    pod = recorder.run(lambda: ModelDownloader("dl", args(**change))).inputs("dl-job")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["download"]
    assert pod["containers"] == [{
        "name": "flush",
        "image": IMAGE,
        "command": ["python3", "-c", "import os; os.sync()"],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": HARDENED,
        "volumeMounts": [{"name": "fill", "mountPath": "/fill"}],
    }]
    assert pod["volumes"][-1] == {"name": "fill", "persistentVolumeClaim": {"claimName": "w-fill"}}


def test_checkov_skips_are_declared_on_the_job(recorder):
    skip = ("CKV_K8S_25", "prepare-share adds CHOWN")
    job = recorder.run(lambda: ModelDownloader("dl", args(checkov_skips=(skip,)))).inputs("dl-job")
    assert job["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "4200",
                                              "checkov.io/skip1": "CKV_K8S_25=prepare-share adds CHOWN"}


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: ModelDownloader("dl", args(**change)))


def test_a_dict_instead_of_args_is_named(recorder):
    assert recorder.refused(lambda: ModelDownloader("dl", {"revision": "main"})) == [  # type: ignore[arg-type]
        ("args", "expected ModelDownloaderArgs, got dict {'revision': 'main'}: build it with ModelDownloaderArgs(...)"),
    ]


def test_wrong_field_types_are_named(recorder):
    assert refused(recorder, scratch_gi="30Gi", node_selector=["system"]) == [
        ("node_selector", "expected dict[str, str], got list ['system']"),
        ("scratch_gi", "expected int, got str '30Gi'"),
    ]


@pytest.mark.parametrize("repo_id", ["", "Llama 3", "meta-llama/Llama 3", "llama-3-8b", "org/a--b"])
def test_the_repository_is_a_hub_id(recorder, repo_id):
    assert refused(recorder, repo_id=repo_id) == [
        ("repo_id", f"{repo_id!r} is not a hub id: use org/name (letters, digits, '-', '_', '.'; no spaces), e.g. "
                    "meta-llama/Llama-3.1-8B-Instruct"),
    ]


def test_revision_and_image_must_be_pinned(recorder):
    assert refused(recorder, revision="main", image="model-downloader:latest") == [
        ("image", "'model-downloader:latest' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
        ("revision", "'main' is not a 40-hex commit; pin the hub revision"),
    ]


@pytest.mark.parametrize(("budget", "expected"), [
    (DownloadBudget(1200, 2, 2400, 4000),
     [("budget.active_deadline_seconds", "2400 s cannot fit 3 attempts of 1200 s; use download_budget()")]),
    (DownloadBudget(1200, 2, 3600, 3600),
     [("budget.await_timeout_seconds", "3600 s must exceed the Job's deadline (3600 s), or Pulumi gives up while "
                                       "the Job may still run")]),
    (DownloadBudget(1200, -1, 0, 600), [("budget.backoff_limit", "-1 must be ≥ 0")]),
])
def test_budget_limits_must_nest(recorder, budget, expected):
    assert refused(recorder, budget=budget) == expected


def test_counts_and_names(recorder):
    assert refused(recorder, ttl_seconds_after_finished=-1, scratch_gi=0, run_as_user=0, namespace="LLM",
                   service_account_name="Model_Downloader") == [
        ("namespace", "'LLM' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at "
                      "both ends"),
        ("service_account_name", "'Model_Downloader' is not a valid service account name: at most 253 lowercase "
                                 "letters, digits, '-' or '.', alphanumeric at both ends"),
        ("ttl_seconds_after_finished", "-1 must be ≥ 0"),
        ("scratch_gi", "0 must be ≥ 1 (the model's size in GiB plus headroom)"),
        ("run_as_user", "0 must be ≥ 1 (the pod runs as a non-root UID)"),
    ]
    assert refused(recorder, checkov_skips=(("CKV_K8S_25", " "),)) == [
        ("checkov_skips", "checkov skip 1: CKV_K8S_25 needs a reason"),
    ]
