"""Every object the weight backends create is valid Kubernetes (strict schemas) and passes the policy pack.

Each backend's ``WeightsMount`` is also placed into a minimal pod, so its volume, mount, env and
init-container dicts are checked against the Pod schema too.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from infra.gpu_node_pool import PoolShape
from policy.rules import check_resource
from stack.checks.validate import validate_manifests
from stack.program.weights import build_batch, build_weights
from stack.render import load_stack_config
from tests.weights.conftest import record, resolve

SERVING_IMAGE = "vllm/vllm-openai:v0.32.0@sha256:" + "e" * 64
DOWNLOADER = "us-central1-docker.pkg.dev/p/inference/model-downloader@sha256:" + "d" * 64
MINOR = "1.33"
CASES = [
    ("dev", []),
    ("dev", ["model.weights.gcsfuse.fileCache=memory"]),
    ("dev", ["model.weights.backend=filestore"]),
    ("dev", ["model.weights.backend=runaiStreamer"]),
    ("dev", ["model.weights.backend=huggingFace", "batch.enabled=true"]),
    ("prod", ["model.weights.hyperdiskMl.transfer.createNodePool=false"]),  # the pool needs the cluster
    ("prod", ["model.weights.backend=persistentDisk"]),
    ("prod", ["model.weights.hyperdiskMl.sourceSnapshot=global/snapshots/s"]),
]


def render(stack: str, overrides: list[str]):
    config = load_stack_config(stack, overrides)
    pool = PoolShape.existing("gpu", "a3-highgpu-8g")

    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        mount = build_weights(
            config,
            stack,
            provider,
            config.bucket_name(stack),
            "llm",
            [],
            hf_token_secret="vllm-hf-token",
            downloader_image=DOWNLOADER,
            serving_image=SERVING_IMAGE,
        )
        build_batch(
            config,
            stack,
            provider,
            config.bucket_name(stack),
            "llm",
            [],
            mount,
            pool,
            serving_image=SERVING_IMAGE,
        )
        return mount

    async def pod_of(mount):
        spec = {
            "initContainers": mount.init_containers,
            "containers": [
                {
                    "name": "vllm",
                    "image": SERVING_IMAGE,
                    "args": ["--model", mount.model_path, *mount.vllm_args],
                    "env": mount.env,
                    "volumeMounts": mount.volume_mounts,
                }
            ],
            "volumes": mount.volumes,
        }
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "vllm", "namespace": "llm", "annotations": mount.pod_annotations},
            "spec": await resolve(spec),
        }

    return record(program, settle=lambda mount: pulumi.Output.from_input(None).apply(lambda _: pod_of(mount)))


@pytest.mark.parametrize("stack, overrides", CASES, ids=[" ".join([s, *o]) for s, o in CASES])
def test_manifests_are_valid_kubernetes_and_pass_policy(stack, overrides):
    rec = render(stack, overrides)
    manifests = rec.manifests()
    assert manifests or overrides == ["model.weights.backend=huggingFace", "batch.enabled=true"]
    pod = rec.settled
    violations = validate_manifests([*manifests, pod], MINOR)
    assert violations == [], "\n".join(map(str, violations))
    findings = [v for r in rec.resources for v in check_resource(r.type, r.name, r.inputs)]
    findings += check_resource("kubernetes:core/v1:Pod", "vllm-pod", pod)
    assert findings == [], "\n".join(map(str, findings))


def test_schema_check_catches_a_broken_volume():
    rec = render("dev", [])
    pod = rec.settled
    pod["spec"]["volumes"][0]["csi"]["readOnly"] = "yes"
    assert validate_manifests([pod], MINOR) != []
