"""The facades whose plain inputs stand in for Python objects of their components.

``ContainerImage`` (a reference instead of the stack's resolver), ``ImageBuild`` (a context of the package or an
absolute folder of the consumer's instead of a checkout), ``BootDiskImage`` (the facade's ``dependsOn`` instead of
resources in its args), ``SnapshotHydratedVolume`` (a ``ModelDownloader`` spec instead of a callable making the
fill Job) and ``InferenceObjectiveCrd``. Each accepts valid arguments and creates exactly what its Python component
creates with the equivalent args, as its only child, and refuses a bad argument before registering anything, with
the component's words.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra import boot_disk
from infra import images as infra_images
from infra.images import IMAGES_DIR, ImageResolver, context_hash, image_problem
from package.gke_inference_components import gateway, images, volumes
from tests.conftest import REPO_ROOT
from tests.packaging.test_component_package import (
    EXPOSED,
    PLAIN_INPUT_FACADES,
    record,
    refusal,
    token,
)
from tests.packaging.test_wheel import DATA_DIRS
from workloads import disk_hydrate, model_downloader
from workloads.gateway import objective_crd

PIN = "sha256:" + "b" * 64
PROXY = "us-central1-docker.pkg.dev/p-test/dockerhub"
REGISTRY = "us-central1-docker.pkg.dev/p-test/images"
REVISION = "c" * 40
DOWNLOADER = "example.com/model-downloader@" + PIN


def objects(recorded) -> list[tuple[str, str, str]]:
    """Everything but this package's own component records, by type, name and inputs."""
    return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in recorded
                  if not r.type.startswith("gke-inference:"))


def wraps(recorded, facade: str, component: str) -> bool:
    ours = [(r.type, r.name, r.parent) for r in recorded if r.type.startswith("gke-inference:")]
    return ours[:2] == [(token(facade), "x", None), (component, "x", "x")]


def named(recorded, name: str, type_: str | None = None):
    return next(r for r in recorded if r.name == name and type_ in (None, r.type))


IMAGE_RECORD = "gke-inference:infra:ContainerImage"


def test_the_cases_cover_the_plain_input_facades():
    assert PLAIN_INPUT_FACADES <= EXPOSED


# --------------------------------------------------------------------------------------------
# ContainerImage
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["vllm/vllm-openai:v0.11.0", f"vllm/vllm-openai:v0.11.0@{PIN}",
                                       "gcr.io/google-containers/pause:3.10"])
def test_container_image_records_what_the_stack_resolver_records(reference):
    """A tag is looked up, a pin used as given, Docker Hub pulled through the proxy: the same record (source,
    query, image) as the stack's resolver makes for that reference."""
    via_facade, err = record(lambda: images.ContainerImage("x", {"image": reference, "docker_hub_proxy": PROXY}))
    assert err is None and wraps(via_facade, "ContainerImage", "gke-inference:infra:ContainerImage")
    direct, err = record(lambda: ImageResolver(PROXY, REGISTRY).public("x", reference))
    assert err is None
    assert named(via_facade, "x", IMAGE_RECORD).inputs == named(direct, "x-image").inputs
    assert named(via_facade, "x", IMAGE_RECORD).inputs["source"] == ("pin" if "@" in reference else "lookup")


def test_container_image_pins_a_name_to_a_digest_known_at_run_time():
    def program() -> None:
        build = pulumi.Output.from_input(PIN)  # e.g. an ImageBuild's digest
        images.ContainerImage("x", {"image": f"{REGISTRY}/tool", "digest": build})

    recorded, err = record(program)
    assert err is None
    assert named(recorded, "x", IMAGE_RECORD).inputs == {"source": "pin", "query": f"{REGISTRY}/tool",
                                           "image": f"{REGISTRY}/tool@{PIN}", "kind": "container"}


@pytest.mark.parametrize(("args", "problem"), [
    ({"image": "vllm/vllm-openai"}, f"image: {image_problem('vllm/vllm-openai')}"),
    ({"image": "vllm/vllm-openai:latest"}, f"image: {image_problem('vllm/vllm-openai:latest')}"),
    ({"image": f"{REGISTRY}/tool", "digest": "sha256:xyz"},
     "digest: 'sha256:xyz' is not a sha256 manifest digest: sha256:<64 hex>"),
    ({"image": f"{REGISTRY}/tool@{PIN}", "digest": PIN},
     f"image: '{REGISTRY}/tool@{PIN}' is pinned already and digest is set too: give the name alone with digest, "
     "or leave digest unset"),
    ({"image": "vllm/vllm-openai:v1", "docker_hub_proxy": "docker.io/x"},
     "docker_hub_proxy: 'docker.io/x' is not an Artifact Registry Docker repository: "
     "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"),
    ({"image": "vllm/vllm-openai:v1", "kind": "sidecar"}, "kind: 'sidecar' is not one of container, base"),
])
def test_container_image_refuses_a_reference_the_stack_config_refuses(args, problem):
    """The reference rules are the stack config's (``image_problem``): no untagged name, no `latest`."""
    assert refusal(lambda: images.ContainerImage("x", args)) == (
        f"ContainerImage 'x': 1 invalid argument, nothing was created:\n  {problem}")


# --------------------------------------------------------------------------------------------
# ImageBuild
# --------------------------------------------------------------------------------------------

BUILD: images.ImageBuildArgs = {
    "project": "p-test", "region": "us-central1", "repository_url": REGISTRY, "image": "model-downloader",
    "context": "images/model-downloader", "base_image": f"python@{PIN}",
}


def test_image_build_of_a_package_context_is_the_component_build():
    via_facade, err = record(lambda: images.ImageBuild("x", BUILD))
    assert err is None and wraps(via_facade, "ImageBuild", "gke-inference:infra:ImageBuild")
    direct, err = record(lambda: infra_images.ImageBuild("x", infra_images.ImageBuildArgs(
        "p-test", "us-central1", REGISTRY, "model-downloader", "images/model-downloader", f"python@{PIN}")))
    assert err is None
    assert objects(via_facade) == objects(direct) and len(objects(direct)) == 1  # the Cloud Build command


def test_image_build_of_the_consumers_folder_hashes_and_builds_that_folder(tmp_path):
    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\nCOPY app.py /\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    facade: list[images.ImageBuild] = []
    recorded, err = record(lambda: facade.append(images.ImageBuild("x", {**BUILD, "image": "app",
                                                                           "context": str(tmp_path)})))
    assert err is None
    command = named(recorded, "x-build").inputs
    assert command["environment"]["CONTEXT"] == str(tmp_path)  # gcloud builds submit <absolute folder>
    assert command["triggers"][0] == context_hash(tmp_path)
    tag = f"{REGISTRY}/app:{context_hash(tmp_path)[:16]}"
    assert facade[0].tag == tag and command["environment"]["IMAGE"] == tag


def test_image_build_outputs_the_pushed_reference():
    seen: list[list[str]] = []

    def program() -> None:
        build = images.ImageBuild("x", BUILD)
        pulumi.Output.all(build.tag, build.digest, build.ref).apply(seen.append)

    _, err = record(program)
    assert err is None
    [(tag, digest, ref)] = seen
    assert tag == f"{REGISTRY}/model-downloader:{context_hash(IMAGES_DIR / 'model-downloader')[:16]}"
    assert infra_images.DIGEST.match(digest) and ref == f"{REGISTRY}/model-downloader@{digest}"


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("context", "images/nope", f"context: {IMAGES_DIR.parent / 'images/nope'} has no Dockerfile: name a build "
                               f"context of this package ({', '.join(infra_images.build_contexts())}) or the "
                               "absolute path of a folder with a Dockerfile"),
    ("base_image", "python:3.12", "base_image: 'python:3.12' is not pinned by digest; use NAME@sha256:<64 hex>"),
    ("repository_url", "gcr.io/p-test", "repository_url: 'gcr.io/p-test' is not an Artifact Registry Docker "
                                        "repository: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"),
    ("image", "Model_Downloader", "image: 'Model_Downloader' is not an image name: lowercase letters and digits, "
                                  "separated by '.', '_', '__', '-' or '/' (e.g. model-downloader)"),
])
def test_image_build_refuses_a_bad_argument_before_anything_is_registered(key, value, problem):
    assert refusal(lambda: images.ImageBuild("x", {**BUILD, key: value})) == (
        f"ImageBuild 'x': 1 invalid argument, nothing was created:\n  {problem}")


def test_image_build_refuses_a_dockerfile_that_ignores_the_pinned_base(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    message = refusal(lambda: images.ImageBuild("x", {**BUILD, "context": str(tmp_path)}))
    assert message.endswith("context: " + f"{tmp_path}/Dockerfile: declare `ARG BASE_IMAGE=<name:tag>` and "
                            "`FROM ${BASE_IMAGE}`")


def test_the_package_contexts_and_files_the_facades_read_ship_with_it():
    """Relative contexts, the Cloud Build configs and the CRD are read beside the installed package: they are
    in the folders tests/packaging/test_wheel.py proves the wheel ships whole."""
    shipped = [REPO_ROOT / folder for folder in DATA_DIRS]
    read = [*(REPO_ROOT / c for c in infra_images.build_contexts()), REPO_ROOT / infra_images.DOCKER_BUILD_CONFIG,
            REPO_ROOT / boot_disk.BOOT_DISK_CONFIG, objective_crd.CRD_PATH]
    assert infra_images.build_contexts() == ["images/loadtest", "images/model-downloader", "images/vllm"]
    for path in read:
        assert path.exists() and any(path.is_relative_to(folder) for folder in shipped), path


# --------------------------------------------------------------------------------------------
# BootDiskImage
# --------------------------------------------------------------------------------------------

CACHE: images.BootDiskImageArgs = {
    "project": "p-test", "region": "us-central1", "zone": "us-central1-a",
    "container_image": f"{PROXY}/vllm/vllm-openai@{PIN}",
    "pull_repositories": [{"location": "us-central1", "repository": "dockerhub"}],
}


def test_boot_disk_image_builds_what_the_component_builds_and_waits_for_the_facades_dependencies():
    def via_facade() -> None:
        apis = pulumi.CustomResource("test:index:Apis", "apis")
        images.BootDiskImage("x", CACHE, opts=pulumi.ResourceOptions(depends_on=[apis]))

    def direct() -> None:
        apis = pulumi.CustomResource("test:index:Apis", "apis")
        boot_disk.BootDiskImage("x", boot_disk.BootDiskImageArgs(
            "p-test", "us-central1", "us-central1-a", f"{PROXY}/vllm/vllm-openai@{PIN}",
            pull_repositories=[("us-central1", "dockerhub")], depends_on=[apis]))

    facade_recorded, err = record(via_facade)
    assert err is None and wraps([r for r in facade_recorded if r.name != "apis"], "BootDiskImage",
                                 "gke-inference:infra:BootDiskImage")
    direct_recorded, err = record(direct)
    assert err is None
    assert objects(facade_recorded) == objects(direct_recorded)
    assert "apis" in named(facade_recorded, "x-build").dependencies  # the build waits for what the facade waits for
    assert {"x-logs", "x-logs-writer", "x-pull-0", "x-build"} <= {r.name for r in facade_recorded}


def test_boot_disk_image_refuses_a_small_disk_in_the_components_words():
    component = refusal(lambda: boot_disk.BootDiskImage("x", boot_disk.BootDiskImageArgs(
        "p-test", "us-central1", "us-central1-a", CACHE["container_image"], disk_size_gb=5)))
    assert component == "disk_size_gb: 5; the builder's minimum disk is 10 GB"
    assert refusal(lambda: images.BootDiskImage("x", {**CACHE, "disk_size_gb": 5})) == (
        f"BootDiskImage 'x': 1 invalid argument, nothing was created:\n  {component}")


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("zone", "us-east1-b", "zone: 'us-east1-b' is not in region us-central1"),
    ("container_image", "vllm/vllm-openai:v1",
     "container_image: 'vllm/vllm-openai:v1' is not pinned by digest"),
    ("project", "P", "project: 'P' is not a GCP project id: 6–30 characters, lowercase letters, digits and "
                     "hyphens, starting with a letter"),
])
def test_boot_disk_image_refuses_what_would_fail_only_at_up(key, value, problem):
    """The component checks the size only; a wrong zone or an unpinned image would fail in the build. The
    facade refuses them first (``validate_boot_disk_image_args``)."""
    assert refusal(lambda: images.BootDiskImage("x", {**CACHE, key: value})) == (
        f"BootDiskImage 'x': 1 invalid argument, nothing was created:\n  {problem}")


# --------------------------------------------------------------------------------------------
# SnapshotHydratedVolume
# --------------------------------------------------------------------------------------------

VOLUME: volumes.SnapshotHydratedVolumeArgs = {
    "namespace": "llm", "claim_name": "weights", "disk_type": "pd-ssd", "zone": "us-central1-a", "size_gb": 100,
    "access_mode": "ReadOnlyMany", "timeout_seconds": 3600,
    "fill": {"image": DOWNLOADER, "repo_id": "Qwen/Qwen2.5-1.5B-Instruct", "revision": REVISION,
             "model_subpath": "models/qwen/c", "scratch_gi": 10, "node_selector": {"pool": "system"}},
}


def direct_volume_args(**change: Any) -> disk_hydrate.SnapshotHydratedVolumeArgs:
    return dataclasses.replace(disk_hydrate.SnapshotHydratedVolumeArgs(
        namespace="llm", claim_name="weights", disk_type="pd-ssd", zone="us-central1-a", size_gb=100,
        access_mode="ReadOnlyMany", timeout_seconds=3600), **change)


DIRECT_DOWNLOAD = model_downloader.ModelDownloaderArgs(
    namespace="llm", image=DOWNLOADER, repo_id="Qwen/Qwen2.5-1.5B-Instruct", revision=REVISION,
    destination="/fill/models/qwen/c", service_account_name="default", base_name="model-fill", scratch_gi=10,
    node_selector={"pool": "system"},
)


def test_snapshot_hydrated_volume_fills_with_the_downloader_as_the_component_does():
    """Same objects as the component given a fill callable that runs the downloader onto the fill claim (what the
    stack's Persistent Disk path passes): the fill Job mounts ``weights-fill`` and writes under it, flushed."""
    facade: list[volumes.SnapshotHydratedVolume] = []
    via_facade, err = record(lambda: facade.append(volumes.SnapshotHydratedVolume("x", VOLUME)))
    assert err is None and wraps(via_facade, "SnapshotHydratedVolume", "gke-inference:workloads:SnapshotHydratedVolume")
    direct, err = record(lambda: disk_hydrate.SnapshotHydratedVolume(
        "x", direct_volume_args(), disk_hydrate.downloader_fill("x-fill", DIRECT_DOWNLOAD)))
    assert err is None
    assert objects(via_facade) == objects(direct)
    job = next(r for r in via_facade if r.type == "kubernetes:batch/v1:Job")
    pod = job.inputs["spec"]["template"]["spec"]
    assert {"name": "fill", "persistentVolumeClaim": {"claimName": "weights-fill"}} in pod["volumes"]
    assert "/fill/models/qwen/c" in json.dumps(pod)
    assert (facade[0].claim_name, facade[0].fill_claim_name, facade[0].model_subpath) == (
        "weights", "weights-fill", "models/qwen/c")
    assert facade[0].fill_job_name == job.inputs["metadata"]["name"]
    assert named(via_facade, "x-snapshot").dependencies == ["x-fill-job", "x-fill-pvc", "x-snapshot-class"]


def test_snapshot_hydrated_volume_refuses_like_the_component():
    bad = {**VOLUME, "size_gb": 0}
    component = refusal(lambda: disk_hydrate.SnapshotHydratedVolume(
        "x", direct_volume_args(size_gb=0), disk_hydrate.downloader_fill("x-fill", DIRECT_DOWNLOAD)))
    assert refusal(lambda: volumes.SnapshotHydratedVolume("x", bad)) == component
    assert "size_gb: 0 must be ≥ 1" in component


@pytest.mark.parametrize(("fill", "problem"), [
    ({"revision": "main"}, "fill.revision: 'main' is not a 40-hex commit; pin the hub revision"),
    ({"image": "example.com/model-downloader:v1"},
     "fill.image: 'example.com/model-downloader:v1' is not pinned by digest; use NAME@sha256:<64 hex> or a "
     "resolved image (ContainerImage.ref)"),
    ({"model_subpath": "../etc"}, "fill.model_subpath: '../etc' must be a relative folder without '..', like "
                                  "models/<id>/<rev> (it lands under the fill disk's mount)"),
    ({"image": None}, "fill.image: required; set it"),
    ({"budget": {"attempt_seconds": 600, "backoff_limit": 1, "active_deadline_seconds": 1800}},
     "fill.budget.await_timeout_seconds: required; set it"),
    ({"budget": {"attempt_seconds": 600, "backoff_limit": 1, "active_deadline_seconds": 1800,
                 "await_timeout_seconds": 1800}},
     "fill.budget.await_timeout_seconds: 1800 s must exceed the Job's deadline (1800 s), or Pulumi gives up while "
     "the Job may still run"),
])
def test_snapshot_hydrated_volume_refuses_a_bad_fill_by_its_path(fill, problem):
    bad = {**VOLUME, "fill": {**VOLUME["fill"], **fill}}
    assert refusal(lambda: volumes.SnapshotHydratedVolume("x", bad)) == (
        f"SnapshotHydratedVolume 'x': 1 invalid argument, nothing was created:\n  {problem}")


def test_a_bad_namespace_is_named_once():
    message = refusal(lambda: volumes.SnapshotHydratedVolume("x", {**VOLUME, "namespace": "Bad_NS"}))
    assert message.startswith("SnapshotHydratedVolume 'x': 1 invalid argument, nothing was created:\n  namespace: ")


# --------------------------------------------------------------------------------------------
# InferenceObjectiveCrd
# --------------------------------------------------------------------------------------------


def test_inference_objective_crd_installs_the_vendored_crd():
    facade: list[gateway.InferenceObjectiveCrd] = []
    via_facade, err = record(lambda: facade.append(gateway.InferenceObjectiveCrd("x", {})))
    assert err is None and wraps(via_facade, "InferenceObjectiveCrd", objective_crd.TYPE_TOKEN)
    direct, err = record(lambda: objective_crd.InferenceObjectiveCrd("x"))
    assert err is None
    assert objects(via_facade) == objects(direct)
    crd = named(via_facade, "x-crd").inputs
    assert crd["metadata"]["name"] == objective_crd.CRD_NAME == facade[0].crd_name
    assert facade[0].api_version == "llm-d.ai/v1alpha2"


def test_inference_objective_crd_refuses_like_the_component(tmp_path):
    pin = "0" * 64
    component = refusal(lambda: objective_crd.InferenceObjectiveCrd(
        "x", objective_crd.InferenceObjectiveCrdArgs(expected_sha256=pin)))
    assert refusal(lambda: gateway.InferenceObjectiveCrd("x", {"expected_sha256": pin})) == component
    assert f"not the pinned {pin}" in component
    missing = str(Path(tmp_path) / "crd.yaml")
    assert f"crd_path: {missing} does not exist" in refusal(
        lambda: gateway.InferenceObjectiveCrd("x", {"crd_path": missing}))
