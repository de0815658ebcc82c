"""InClusterLoadTest on its own: the harness ConfigMap, the Workload Identity KSA and the Job, and every refusal.
(The stack's wiring with the real harness files: tests/serving/test_loadtest_job.py.)"""

from __future__ import annotations

import dataclasses

from workloads.loadtest import InClusterLoadTest, LoadTestArgs, run_id, validate_load_test_args

IMAGE = "locust@sha256:" + "b" * 64
URL = "http://vllm.llm.svc.cluster.local:8000"
GSA = "lt@p.iam.gserviceaccount.com"
FILES = {"locustfile.py": "print(1)\n", "data/c.jsonl": "{}\n"}
LABELS = {"app.kubernetes.io/name": "loadtest", "app.kubernetes.io/instance": "loadtest"}


def args(**change) -> LoadTestArgs:
    base = LoadTestArgs(namespace="llm", name="loadtest", image=IMAGE, files=FILES, target_url=URL, model="m",
                        bucket_name="bkt", google_service_account=GSA)
    return dataclasses.replace(base, **change)


def test_children_code_account_and_job(recorder):
    rec = recorder.run(lambda: InClusterLoadTest("lt", args()))
    assert rec.tree() == {
        ("gke-inference:workloads:InClusterLoadTest", "lt", None),
        ("kubernetes:core/v1:ConfigMap", "lt-code", "lt"),
        ("kubernetes:core/v1:ServiceAccount", "lt-ksa", "lt"),
        ("kubernetes:batch/v1:Job", "lt-job", "lt"),
    }
    assert rec.named("lt-job")["dependencies"] == ["lt-code", "lt-ksa"]
    # '/' cannot be in a ConfigMap key: data/c.jsonl travels as data__c.jsonl and is mounted back at its path.
    assert rec.inputs("lt-code")["data"] == {"data__c.jsonl": "{}\n", "locustfile.py": "print(1)\n"}
    assert rec.inputs("lt-ksa")["metadata"] == {"name": "loadtest", "namespace": "llm", "labels": LABELS,
                                                "annotations": {"iam.gke.io/gcp-service-account": GSA}}
    job = rec.inputs("lt-job")
    name = f"loadtest-{run_id(args())}"
    assert job["metadata"]["name"] == name
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"], job["spec"]["ttlSecondsAfterFinished"]) \
        == (0, 3600, 7 * 86400)
    template = job["spec"]["template"]
    assert template["metadata"] == {"labels": {**LABELS, "gke-inference/client": "true"},
                                    "annotations": {"gke-gcsfuse/volumes": "true"}}
    (container,) = template["spec"]["containers"]
    assert container["args"] == ["--url", URL, "--model", "m", "--out", f"/reports/{name}", "--quiet",
                                 "--dataset", "conversations", "--num-prompts", "200", "--users", "8"]
    assert container["env"] == [{"name": "PYTHONPATH", "value": "/app"}, {"name": "HOME", "value": "/tmp"}]
    assert template["spec"]["volumes"] == [
        {"name": "code", "configMap": {"name": "loadtest-code", "items": [
            {"key": "data__c.jsonl", "path": "data/c.jsonl"}, {"key": "locustfile.py", "path": "locustfile.py"}]}},
        {"name": "reports", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeAttributes": {
            "bucketName": "bkt", "mountOptions": "implicit-dirs,only-dir=loadtest,uid=10001,gid=10001"}}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    assert rec.resolve(rec.value.report_url) == f"gs://bkt/loadtest/{name}/report.json"


def test_a_changed_setting_is_a_new_job_and_the_api_key_comes_from_a_secret(recorder):
    assert run_id(args(harness_args=("--users", "16"))) != run_id(args())
    rec = recorder.run(lambda: InClusterLoadTest("lt", args(api_key_secret="vllm-api-key")))
    env = rec.inputs("lt-job")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[-1] == {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}}}


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: InClusterLoadTest("lt", args(**change)))


def test_wrong_types_are_named(recorder):
    assert refused(recorder, files=["locustfile.py"], deadline_seconds=3600.5) == [
        ("files", "expected dict[str, str], got list ['locustfile.py']"),
        ("deadline_seconds", "expected int, got float 3600.5"),
    ]


def test_flags_the_component_sets_and_the_harness_files(recorder):
    assert refused(recorder, harness_args=("--model", "other", "--out", "/x"), files={}) == [
        ("files", "empty; pass the harness (stack.program.serving.harness_files())"),
        ("harness_args", "--model is set from the component's other args; remove it"),
        ("harness_args", "--out is set from the component's other args; remove it"),
    ]
    assert refused(recorder, files={"data/a b.jsonl": ""}) == [
        ("files.data/a b.jsonl", "a ConfigMap key holds only letters, digits, '-', '_' and '.' (and '/' here, "
                                 "mapped to '__')"),
    ]
    big = {"data/big.jsonl": "x" * (1024 * 1024)}  # + the 15-byte key data__big.jsonl
    assert refused(recorder, files=big) == [("files", "1048591 bytes; a ConfigMap holds at most 1048576 (1 MiB)")]


def test_names_image_model_and_deadline(recorder):
    assert refused(recorder, name="l" * 55, image="locust:2", model="", deadline_seconds=0) == [
        ("image", "'locust:2' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
        ("name", "55 characters; the Job is named <name>-<8 hex run id>, at most 63, so keep it to 54"),
        ("model", "empty; give the served model name"),
        ("deadline_seconds", "0 must be ≥ 1"),
    ]


def test_accepted_args_have_no_problems():
    assert validate_load_test_args(args(name="l" * 54, api_key_secret="vllm-api-key")) == []
