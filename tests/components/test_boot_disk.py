"""infra/boot_disk.py and its wiring: the image cache disk is built for the exact digest deployed."""

from __future__ import annotations

import pytest

from infra.boot_disk import (
    BOOT_DISK_CONFIG,
    BOOT_DISK_SCRIPT,
    BootDiskImage,
    BootDiskImageArgs,
    disk_image_name,
)
from infra.images import BUILD_INTERPRETER
from stack.config import ConfigError
from stack.render import MOCK_PROJECT_NUMBER, load_stack_config, render_config

HEX = "0123456789ab" + "cd" * 26
IMAGE = f"us-central1-docker.pkg.dev/p/dockerhub/vllm/vllm-openai@sha256:{HEX}"
"""Planted by this test."""


def test_disk_image_name_comes_from_the_image_and_its_digest():
    assert disk_image_name(IMAGE) == "vllm-openai-cache-0123456789ab"
    long = f"r/{'x' * 80}@sha256:{HEX}"
    assert len(disk_image_name(long)) == 63 and disk_image_name(long).endswith("-cache-0123456789ab")
    assert disk_image_name(f"r/9lives@sha256:{HEX}")[0].isalpha()
    with pytest.raises(ValueError, match="is not pinned by digest"):
        disk_image_name("vllm/vllm-openai:v0.32.0")


def _build(recorder):
    return recorder.run(
        lambda: BootDiskImage(
            "cache",
            BootDiskImageArgs(
                project="p",
                region="us-central1",
                zone="us-central1-a",
                container_image=IMAGE,
                pull_repositories=[("us-central1", "dockerhub")],
            ),
        )
    )


def test_build_command_inputs_are_exact_and_triggered_by_the_image(recorder):
    rec = _build(recorder)
    assert rec.inputs("cache-build") == {
        "create": BOOT_DISK_SCRIPT,
        "interpreter": BUILD_INTERPRETER,
        "dir": "<package>",  # the folder holding images/ (checkout or site-packages), masked by the recorder
        "environment": {
            "PROJECT": "p",
            "REGION": "us-central1",
            "ZONE": "us-central1-a",
            "CONTAINER_IMAGE": IMAGE,
            "IMAGE_NAME": "vllm-openai-cache-0123456789ab",
            "GCS_PATH": "gs://p-boot-disk-builds/logs/",
            "DISK_SIZE_GB": "100",
            "BUILD_CONFIG": BOOT_DISK_CONFIG,
        },
        "triggers": [IMAGE],
    }
    assert set(rec.named("cache-build")["dependencies"]) == {"cache-logs", "cache-logs-writer", "cache-pull-0"}
    # its stdout (offline: what the script echoes) is the disk image the pools reference
    assert rec.resolve(rec.value.disk_image) == "projects/p/global/images/vllm-openai-cache-0123456789ab"


def test_the_builder_vm_may_write_logs_and_pull_the_image(recorder):
    rec = _build(recorder)
    assert rec.calls == []  # the project number is the logs bucket's output: no lookup at preview
    member = f"serviceAccount:{MOCK_PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
    assert rec.inputs("cache-logs-writer") == {
        "bucket": "p-boot-disk-builds",
        "role": "roles/storage.objectCreator",
        "member": member,
    }
    assert rec.inputs("cache-pull-0") == {
        "project": "p",
        "location": "us-central1",
        "repository": "dockerhub",
        "role": "roles/artifactregistry.reader",
        "member": member,
    }
    logs = rec.inputs("cache-logs")
    assert logs["name"] == "p-boot-disk-builds" and logs["publicAccessPrevention"] == "enforced"


def test_a_too_small_disk_is_refused_before_anything_is_created(recorder):
    args = BootDiskImageArgs(project="p", region="r", zone="r-a", container_image=IMAGE, disk_size_gb=5)
    with pytest.raises(ValueError, match="disk_size_gb: 5"):
        recorder.run(lambda: BootDiskImage("cache", args))


# -- the stack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod():
    return render_config(load_stack_config("prod"), "prod")


def test_prod_pools_cache_the_digest_the_deployment_runs_and_wait_for_the_build(prod):
    (deployment,) = [m for m in prod.manifests_of_kind("Deployment") if m["metadata"]["name"] == "vllm"]
    served = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    build = prod.named("image-cache-build")
    assert build["inputs"]["environment"]["CONTAINER_IMAGE"] == served
    assert build["inputs"]["triggers"] == [served]
    disk = f"projects/gke-inference-prod/global/images/{disk_image_name(served)}"
    for pool in ("h100-pool", "h100-spot-pool"):
        record = prod.named(pool)
        assert record["inputs"]["nodeConfig"]["secondaryBootDisks"] == [
            {"diskImage": disk, "mode": "CONTAINER_IMAGE_CACHE"}
        ]
        assert "image-cache-build" in record["dependencies"]
    assert {"image": disk, "source": "build", "resource": "image-cache-build", "query": served,
            "kind": "diskImage"} in prod.images()


def test_a_pinned_disk_image_is_used_as_given_and_nothing_is_built():
    pin = "projects/images-p/global/images/my-cache"
    config = load_stack_config(
        "prod",
        [f"gpuPools.h100.secondaryBootDisks=[{{diskImage: {pin}}}]",
         f"gpuPools.h100-spot.secondaryBootDisks=[{{diskImage: {pin}}}]"],
    )
    result = render_config(config, "prod")
    assert not result.of_type("command:local:Command") or all(
        r["name"] != "image-cache-build" for r in result.of_type("command:local:Command")
    )
    assert result.named("h100-pool")["inputs"]["nodeConfig"]["secondaryBootDisks"][0]["diskImage"] == pin
    assert {"image": pin, "source": "pin", "resource": None, "query": pin, "kind": "diskImage"} in result.images()


def test_a_data_disk_must_name_its_image():
    with pytest.raises(ConfigError, match=r"platform\.gpuPools\.h100\.secondaryBootDisks\.0\.diskImage: a DATA disk"):
        load_stack_config("prod", ["gpuPools.h100.secondaryBootDisks=[{mode: DATA}]"])
