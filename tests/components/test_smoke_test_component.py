"""SmokeTest on its own: result and script ConfigMaps, an account that may patch only the result, the awaited Job,
and every refusal. (The script against a real HTTP server and the stack wiring: tests/serving/test_smoke_test.py.)"""

from __future__ import annotations

import dataclasses

from workloads.smoke_test import SCRIPT, SmokeTest, SmokeTestArgs, script_hash, validate_smoke_test_args

IMAGE = "python@sha256:" + "0" * 64
URL = "http://vllm.llm.svc.cluster.local:8000"
LABELS = {"app.kubernetes.io/name": "smoke-test", "app.kubernetes.io/instance": "smoke-test"}
ACCOUNT = "smoke-test-smoke-test"


def args(**change) -> SmokeTestArgs:
    return dataclasses.replace(SmokeTestArgs(namespace="llm", image=IMAGE, target_url=URL, model="m"), **change)


def test_children_and_rbac_limited_to_the_result(recorder):
    rec = recorder.run(lambda: SmokeTest("smoke", args()))
    assert rec.tree() == {
        ("gke-inference:workloads:SmokeTest", "smoke", None),
        ("kubernetes:core/v1:ConfigMap", "smoke-result", "smoke"),
        ("kubernetes:core/v1:ConfigMap", "smoke-script", "smoke"),
        ("kubernetes:core/v1:ServiceAccount", "smoke-ksa", "smoke"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "smoke-role", "smoke"),
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "smoke-rolebinding", "smoke"),
        ("kubernetes:batch/v1:Job", "smoke-job", "smoke"),
    }
    assert rec.named("smoke-job")["dependencies"] == ["smoke-ksa", "smoke-result", "smoke-role", "smoke-rolebinding",
                                                      "smoke-script"]
    meta = {"namespace": "llm", "labels": LABELS}
    # No data: the Job's merge patch and Pulumi's apply manage disjoint fields.
    assert rec.inputs("smoke-result") == {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {**meta, "name": "smoke-test-smoke-result"}}
    assert rec.inputs("smoke-script")["data"] == {"smoke_chat.py": SCRIPT.read_text()}
    assert rec.inputs("smoke-role")["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                                                  "resourceNames": ["smoke-test-smoke-result"], "verbs": ["patch"]}]
    binding = rec.inputs("smoke-rolebinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ACCOUNT}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": "llm"}]
    assert rec.inputs("smoke-ksa") == {"apiVersion": "v1", "kind": "ServiceAccount",
                                       "automountServiceAccountToken": False, "metadata": {**meta, "name": ACCOUNT}}
    assert rec.resolve(rec.value.result_id) == "llm/smoke-test-smoke-result"


def test_the_job_is_awaited_past_its_deadline(recorder):
    job = recorder.run(lambda: SmokeTest("smoke", args())).inputs("smoke-job")
    assert job["metadata"]["name"] == f"smoke-test-smoke-{script_hash()}"
    assert job["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "720"  # 600 s deadline + 120 s
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (1, 600)
    assert job["spec"]["template"]["metadata"]["labels"] == {**LABELS, "gke-inference/client": "true"}
    pod = job["spec"]["template"]["spec"]
    assert {k: pod[k] for k in ("restartPolicy", "serviceAccountName", "automountServiceAccountToken")} == {
        "restartPolicy": "Never", "serviceAccountName": ACCOUNT, "automountServiceAccountToken": True,
    }
    assert "nodeSelector" not in pod
    (container,) = pod["containers"]
    assert container["command"] == ["python3", "/etc/smoke-test/smoke_chat.py"]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "SMOKE_URL": URL,
        "SMOKE_MODEL": "m",
        "SMOKE_PROMPT": "Reply with one short sentence: what is 2 + 2?",
        "SMOKE_MAX_TOKENS": "16",
        "SMOKE_TIMEOUT_SECONDS": "120",
        "SMOKE_ATTEMPTS": "3",
        "SMOKE_RESULT_CONFIGMAP": "llm/smoke-test-smoke-result",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": "/tmp",
    }


def test_api_key_and_node_selector(recorder):
    rec = recorder.run(lambda: SmokeTest("smoke", args(api_key_secret="vllm-api-key",
                                                       node_selector={"gke-inference/role": "system"})))
    pod = rec.inputs("smoke-job")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gke-inference/role": "system"}
    assert pod["containers"][0]["env"][-2:] == [
        {"name": "SMOKE_API_KEY_REQUIRED", "value": "1"},
        {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}}},
    ]


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: SmokeTest("smoke", args(**change)))


def test_wrong_types_are_named(recorder):
    assert recorder.refused(lambda: SmokeTest("smoke", {"model": "m"})) == [  # type: ignore[arg-type]
        ("args", "expected SmokeTestArgs, got dict {'model': 'm'}: build it with SmokeTestArgs(...)"),
    ]
    assert refused(recorder, max_tokens="16") == [("max_tokens", "expected int, got str '16'")]


def test_request_counts_and_deadline(recorder):
    assert refused(recorder, model="", prompt=" ", max_tokens=0, attempts=0, backoff_limit=-1) == [
        ("model", "empty; give the served model name"),
        ("prompt", "empty; the smoke test needs a question"),
        ("max_tokens", "0 must be ≥ 1"),
        ("attempts", "0 must be ≥ 1"),
        ("backoff_limit", "-1 must be ≥ 0"),
    ]
    assert refused(recorder, deadline_seconds=60, request_timeout_seconds=60) == [
        ("deadline_seconds", "60 must exceed request_timeout_seconds 60 (the Job must outlive one request)"),
    ]


def test_names_and_image(recorder):
    assert refused(recorder, name="s" * 49, image="python:3.12", api_key_secret="Key") == [
        ("image", "'python:3.12' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
        ("name", "49 characters; the Job is named <name>-smoke-<8 hex>, at most 63, so keep it to 48"),
        ("api_key_secret", "'Key' is not a valid Secret name: at most 253 lowercase letters, digits, '-' or '.', "
                           "alphanumeric at both ends"),
    ]
    assert refused(recorder, client_label="bad label") == [
        ("client_label.bad label", "'bad label' is not a Kubernetes label key: [prefix/]name, name ≤ 63 "
                                   "alphanumerics, '-', '_' or '.', alphanumeric at both ends"),
    ]


def test_accepted_args_have_no_problems():
    assert validate_smoke_test_args(args(name="s" * 48, api_key_secret="vllm-api-key")) == []
