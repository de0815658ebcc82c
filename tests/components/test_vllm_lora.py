"""VllmServer with LoRA adapters: the init container that fetches them, the read-only mount, vLLM's LoRA flags
(through vLLM's own parser), the hub token kept out of vLLM's container, the served names, and every refusal."""

from __future__ import annotations

import dataclasses

import pytest

from stack.checks import vllm_check
from tests.components.test_vllm_server import H100, args
from workloads import weights as w
from workloads.gateway.lora import LoraAdapters
from workloads.pod_security import container_security_context
from workloads.vllm_args import EngineSettings
from workloads.vllm_server import VllmServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FETCH_IMAGE = "us-central1-docker.pkg.dev/p/inference/model-downloader@sha256:" + "d" * 64
ADAPTERS = {"sql-lora": "gs://adapters-bucket/sql", "chat-lora": f"acme/chat-lora@{COMMIT}"}
LORA_FLAGS = ["--enable-lora", "--max-loras", "2", "--max-lora-rank", "16",
              "--lora-modules", "chat-lora=/adapters/chat-lora", "sql-lora=/adapters/sql-lora"]
ADAPTERS_MOUNT = {"name": "lora-adapters", "mountPath": "/adapters", "readOnly": True}
TOKEN_VOLUME = {"name": "lora-hf-token", "secret": {"secretName": "hub-token", "items": [
    {"key": "token", "path": "token"}], "defaultMode": 0o440}}


def lora(**change) -> LoraAdapters:
    return dataclasses.replace(LoraAdapters(adapters=ADAPTERS, fetch_image=FETCH_IMAGE), **change)


def workload(rec, kind: str = "Deployment") -> dict:
    name = {"Deployment": "vllm-deployment", "LeaderWorkerSet": "vllm-lws"}[kind]
    inputs = rec.inputs(name)
    api = {"Deployment": "apps/v1", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1"}[kind]
    return {"apiVersion": api, "kind": kind, "metadata": inputs["metadata"], "spec": inputs["spec"]}


def test_the_pod_fetches_every_adapter_before_vllm_and_serves_them(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(lora=lora(hf_token_secret="hub-token"))))
    spec = rec.inputs("vllm-deployment")["spec"]["template"]["spec"]
    assert spec["initContainers"] == [{
        "name": "fetch-adapters",
        "image": FETCH_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--target", "/adapters", "--adapter", f"chat-lora=acme/chat-lora@{COMMIT}",
                 "--adapter", "sql-lora=gs://adapters-bucket/sql"],
        "env": [{"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
                {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "securityContext": container_security_context(10001),
        "volumeMounts": [{"name": "lora-adapters", "mountPath": "/adapters"},
                         {"name": "lora-hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True}],
    }]
    assert spec["volumes"][-2:] == [{"name": "lora-adapters", "emptyDir": {"sizeLimit": "10Gi"}}, TOKEN_VOLUME]
    vllm = spec["containers"][0]
    assert vllm["volumeMounts"][-1] == ADAPTERS_MOUNT
    assert vllm["args"][-len(LORA_FLAGS):] == LORA_FLAGS
    # The hub token reaches the init container only: no mount, env or Secret reference in vLLM's container.
    assert "lora-hf-token" not in str(vllm) and "HF_TOKEN" not in str(vllm) and "hub-token" not in str(vllm)


def test_flags_follow_max_loras_rank_and_directory(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(lora=lora(max_loras=1, max_lora_rank=64,
                                                                 adapters_dir="/var/lora/"))))
    vllm = rec.inputs("vllm-deployment")["spec"]["template"]["spec"]["containers"][0]
    assert vllm["args"][-8:] == ["--enable-lora", "--max-loras", "1", "--max-lora-rank", "64", "--lora-modules",
                                 "chat-lora=/var/lora/chat-lora", "sql-lora=/var/lora/sql-lora"]
    assert vllm["volumeMounts"][-1] == {"name": "lora-adapters", "mountPath": "/var/lora/", "readOnly": True}


def test_public_adapters_mount_no_token(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(lora=lora())))
    spec = rec.inputs("vllm-deployment")["spec"]["template"]["spec"]
    assert [v["name"] for v in spec["volumes"] if "secret" in v] == []
    (init,) = spec["initContainers"]
    assert init["env"] == [{"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}]
    assert init["volumeMounts"] == [{"name": "lora-adapters", "mountPath": "/adapters"}]


def test_the_adapters_init_container_follows_the_weights_own(recorder):
    hub = w.hugging_face_weights(w.HuggingFaceArgs(repo_id="o/m", revision=COMMIT, image=args().image,
                                                   model_bytes=16e9, token_secret="hub-token"))
    rec = recorder.run(lambda: VllmServer("vllm", args(weights=hub, lora=lora(hf_token_secret="hub-token"))))
    spec = rec.inputs("vllm-deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["download-weights", "fetch-adapters"]
    names = [v["name"] for v in spec["volumes"]]
    assert len(names) == len(set(names)) and {"hf-token", "lora-hf-token"} <= set(names)


def test_served_names_are_the_model_then_the_adapters(recorder):
    rec = recorder.run(lambda: (VllmServer("a", args(lora=lora())), VllmServer("b", args(name="b"))))
    with_adapters, plain = rec.value
    assert with_adapters.served_names == ["m", "chat-lora", "sql-lora"]
    assert plain.served_names == ["m"]


def test_multi_node_replicas_fetch_on_every_pod_and_the_leader_serves_them(recorder):
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=8, pipeline_parallel_size=2)
    rec = recorder.run(lambda: VllmServer("vllm", args(pool=H100, engine=engine, nodes_per_replica=2,
                                                       lora=lora(hf_token_secret="hub-token"))))
    template = rec.inputs("vllm-lws")["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        spec = template[role]["spec"]
        assert [c["name"] for c in spec["initContainers"]] == ["fetch-adapters"], role
        assert spec["containers"][0]["volumeMounts"][-1] == ADAPTERS_MOUNT, role
        assert "lora-hf-token" not in str(spec["containers"]), role
    leader = vllm_check.classify(template["leaderTemplate"]["spec"]["containers"][0])
    assert leader.status == "parsed" and list(leader.args[-len(LORA_FLAGS):]) == LORA_FLAGS


@pytest.mark.skipif(not (vllm_check.SERVE_VENV / "bin" / "python").exists(),
                    reason=f"{vllm_check.SERVE_VENV.name} not built (make serve-env)")
def test_vllms_own_parser_takes_the_rendered_lora_flags(recorder):
    rec = recorder.run(lambda: VllmServer("vllm", args(lora=lora())))
    engine = EngineSettings(served_model_name="m", tensor_parallel_size=8, pipeline_parallel_size=2)
    lws = recorder.run(lambda: VllmServer("vllm", args(pool=H100, engine=engine, nodes_per_replica=2,
                                                       lora=lora(max_lora_rank=64))))
    report = vllm_check.check_manifests([workload(rec), workload(lws, "LeaderWorkerSet")])
    assert report.skipped_reason == "" and report.checked == 2
    assert report.violations == []
    bad = workload(rec)
    bad["spec"]["template"]["spec"]["containers"][0]["args"][-4] = "12"  # --max-lora-rank 12: not a vLLM choice
    assert [v.message for v in vllm_check.check_manifests([bad]).violations] == [
        "vLLM rejects the arguments: argument --max-lora-rank: invalid choice: 12 (choose from 1, 8, 16, 32, 64, "
        "128, 256, 320, 512)"]


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: VllmServer("vllm", args(**change)))


@pytest.mark.parametrize("change,expected", [
    ({"adapters": {"m": "gs://adapters-bucket/m"}},
     [("lora.adapters.m", "'m' is the base model's served name; give the adapter its own")]),
    ({"adapters": {"a/../b": "gs://adapters-bucket/x", "x": "acme/x@main"}},
     [("lora.adapters.a/../b", "'a/../b' has an empty, '.' or '..' part between '/': the name is a directory "
                               "under adapters_dir; name it without one"),
      ("lora.adapters.x", "'acme/x@main' is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>")]),
    ({"adapters": {}}, [("lora.adapters", "no adapter: name at least one, or leave lora unset")]),
    ({"max_loras": 3, "max_lora_rank": 12},
     [("lora.max_loras", "3: must be 1–2 (vLLM requires ≥ 1; more slots than adapters only reserve GPU memory)"),
      ("lora.max_lora_rank", "12 is not one of vLLM's ranks 1, 8, 16, 32, 64, 128, 256, 320, 512")]),
    ({"fetch_image": "us-central1-docker.pkg.dev/p/inference/model-downloader:v1"},
     [("lora.fetch_image", "'us-central1-docker.pkg.dev/p/inference/model-downloader:v1' is not pinned by digest; "
                           "use NAME@sha256:<64 hex> or a resolved image (ContainerImage.ref)")]),
    ({"adapters_dir": "adapters"}, [("lora.adapters_dir", "'adapters' must be an absolute pod path below / "
                                                          "(e.g. /adapters)")]),
    ({"adapters_dir": "/"}, [("lora.adapters_dir", "'/' must be an absolute pod path below / (e.g. /adapters)")]),
    ({"adapters_dir": "/models/lora"},
     [("lora.adapters_dir", "'/models/lora' overlaps the vLLM container's mount /models; pick a path of its own")]),
    ({"adapters_dir": "/tmp"},
     [("lora.adapters_dir", "'/tmp' overlaps the vLLM container's mount /tmp; pick a path of its own")]),
    ({"size_limit": "10GB"}, [("lora.size_limit", "'10GB' is not a size like 10Gi (Mi, Gi or Ti)")]),
    ({"hf_token_secret": "Hub_Token"},
     [("lora.hf_token_secret", "'Hub_Token' is not a valid Secret name: at most 253 lowercase letters, digits, '-' "
                               "or '.', alphanumeric at both ends")]),
    ({"max_lora_rank": "16"}, [("lora.max_lora_rank", "expected int, got str '16'")]),
])
def test_refusals_name_the_lora_field(recorder, change, expected):
    assert refused(recorder, lora=lora(**change)) == expected


def test_bucket_adapters_need_the_workload_identity_account(recorder):
    assert refused(recorder, weights=w.hugging_face_weights(w.HuggingFaceArgs(
        repo_id="o/m", revision=COMMIT, image=args().image, model_bytes=16e9)), google_service_account=None,
        lora=lora()) == [("google_service_account", (
            "bucket adapters (gs://adapters-bucket) are read through Workload Identity: set google_service_account "
            "to a GSA that may read them"))]


def test_engine_extra_may_not_set_a_lora_flag_beside_lora(recorder):
    engine = EngineSettings(served_model_name="m", extra=("--max-loras=4",))
    assert refused(recorder, engine=engine, lora=lora()) == [("engine.extra.0", (
        "'--max-loras=4' is a LoRA flag the server sets from lora; set it there (max_loras, max_lora_rank, "
        "adapters)"))]


def test_the_component_packages_facade_passes_lora_through(recorder):
    from package.gke_inference_components import serving
    from tests.packaging.test_component_package import SERVER

    facade = {**SERVER, "lora": {"adapters": ADAPTERS, "fetch_image": FETCH_IMAGE, "max_lora_rank": 64}}
    assert serving.vllm_server_args("s", facade).lora == lora(max_lora_rank=64)  # type: ignore[arg-type]
    rec = recorder.run(lambda: serving.VllmServer("s", facade))  # type: ignore[arg-type]
    spec = rec.inputs("s-deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["fetch-adapters"]
    no_image = {**SERVER, "lora": {"adapters": ADAPTERS}}
    assert recorder.refused(lambda: serving.VllmServer("s", no_image)) == [  # type: ignore[arg-type]
        ("lora.fetch_image", "required; set it")]
