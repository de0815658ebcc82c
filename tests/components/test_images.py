"""infra/images.py: references, refusals, the lookups and builds it asks for, pins used as given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from infra.images import (
    BUILD_INTERPRETER,
    BUILD_SCRIPT,
    DOCKER_BUILD_CONFIG,
    ImageBuild,
    ImageBuildArgs,
    ImageResolver,
    context_hash,
    dockerfile_base,
    image_problem,
    parse_image,
    registry_lookup_interpreter,
    require_pinned,
)
from stack.render import mock_digest, record_under_mocks

PROXY = "us-central1-docker.pkg.dev/p/dockerhub"
REGISTRY = "us-central1-docker.pkg.dev/p/inference"
PLANTED = "sha256:" + "ab" * 32
"""A digest planted by this test (the only kind of literal digest the repository may hold)."""
LOOKUP = "command:local:run"
SCRIPT = str(Path(__file__).resolve().parents[2] / "infra" / "registry_digest.py")
AR_LOOKUP = "gcp:artifactregistry/getDockerImage:getDockerImage"


# -- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,host,path,tag,digest",
    [
        ("vllm/vllm-openai:v0.32.0", None, "vllm/vllm-openai", "v0.32.0", None),
        ("python:3.11-slim", None, "python", "3.11-slim", None),
        ("docker.io/library/python:3.11", "docker.io", "library/python", "3.11", None),
        ("localhost:5000/a/b:1", "localhost:5000", "a/b", "1", None),
        (f"gcr.io/x/y@{PLANTED}", "gcr.io", "x/y", None, PLANTED),
        (f"gcr.io/x/y:v1@{PLANTED}", "gcr.io", "x/y", "v1", PLANTED),
    ],
)
def test_parse_image(value, host, path, tag, digest):
    ref = parse_image(value)
    assert (ref.host, ref.path, ref.tag, ref.digest) == (host, path, tag, digest)
    assert str(ref) == value


def test_docker_hub_official_images_live_under_library():
    assert parse_image("python:3.11").docker_hub_path == "library/python"
    assert parse_image("docker.io/vllm/vllm-openai:v1").docker_hub_path == "vllm/vllm-openai"
    assert not parse_image("gcr.io/x/y:1").on_docker_hub


@pytest.mark.parametrize(
    "value,message",
    [
        (
            "vllm/vllm-openai",
            "'vllm/vllm-openai' has no tag: name a version (e.g. vllm/vllm-openai:v1.2.3), "
            "or pin vllm/vllm-openai@sha256:<64 hex>",
        ),
        (
            "vllm/vllm-openai:latest",
            "'vllm/vllm-openai:latest': `latest` moves without a config change; name a version tag, "
            "or pin vllm/vllm-openai@sha256:<64 hex>",
        ),
        ("Vllm/x:1", "'Vllm/x:1' is not an image reference (lowercase NAME[:TAG][@sha256:<64 hex>])"),
        ("x:1@sha256:abc", "'x:1@sha256:abc': the digest must be sha256:<64 lowercase hex>"),
        ("build", "'build' has no tag: name a version (e.g. build:v1.2.3), or pin build@sha256:<64 hex>"),
    ],
)
def test_image_problem_refuses_untagged_latest_and_malformed(value, message):
    assert image_problem(value) == message


def test_build_keyword_only_where_allowed_and_pins_and_tags_pass():
    assert image_problem("build", allow_build=True) is None
    assert image_problem("vllm/vllm-openai:v0.32.0") is None
    assert image_problem(f"vllm/vllm-openai@{PLANTED}") is None


def test_require_pinned_checks_plain_strings():
    require_pinned(f"x/y@{PLANTED}")
    with pytest.raises(ValueError, match=r"^image: 'x/y:1' is not pinned by digest; use NAME@sha256:<64 hex>$"):
        require_pinned("x/y:1")


# -- lookups and pins -------------------------------------------------------------------------


def _run_args(reference: str) -> dict:
    """The ``command:local:run`` invoke args of a registry lookup: this Python runs the script on ``reference``."""
    return {
        "command": reference,
        "interpreter": [sys.executable, "-I", SCRIPT],
        "logging": "none",
        "addPreviousOutputInEnv": False,
    }


def test_the_lookup_runs_the_registry_digest_script_with_this_python_in_isolated_mode():
    assert registry_lookup_interpreter() == [sys.executable, "-I", SCRIPT]


def test_docker_hub_tag_is_looked_up_at_docker_hub_and_pulled_through_the_proxy(recorder):
    recorder.call_results[LOOKUP] = {"stdout": PLANTED, "stderr": ""}
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).public("vllm", "vllm/vllm-openai:v0.32.0"))
    assert rec.calls == [(LOOKUP, _run_args("vllm/vllm-openai:v0.32.0"))]
    assert rec.resolve(rec.value.ref) == f"{PROXY}/vllm/vllm-openai@{PLANTED}"
    assert rec.inputs("vllm-image") == {
        "source": "lookup",
        "query": "vllm/vllm-openai:v0.32.0",
        "image": f"{PROXY}/vllm/vllm-openai@{PLANTED}",
        "kind": "container",
    }
    assert rec.named("vllm-image")["type"] == "gke-inference:infra:ContainerImage"


def test_the_scripts_trailing_newline_is_stripped(recorder):
    recorder.call_results[LOOKUP] = {"stdout": PLANTED + "\n", "stderr": ""}
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).public("vllm", "vllm/vllm-openai:v0.32.0"))
    assert rec.resolve(rec.value.ref) == f"{PROXY}/vllm/vllm-openai@{PLANTED}"


def test_anything_but_a_digest_on_stdout_is_refused(recorder):
    recorder.call_results[LOOKUP] = {"stdout": "sha256:xyz", "stderr": ""}
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).public("vllm", "vllm/vllm-openai:v0.32.0"))
    with pytest.raises(ValueError, match=r"^not a sha256 manifest digest: 'sha256:xyz'$"):
        rec.resolve(rec.value.ref)


def test_other_public_registries_are_pulled_from_where_they_are(recorder):
    recorder.call_results[LOOKUP] = {"stdout": PLANTED, "stderr": ""}
    adapter = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).public("adapter", adapter))
    assert rec.calls == [(LOOKUP, _run_args(adapter))]
    assert rec.resolve(rec.value.ref) == f"gcr.io/gke-release/custom-metrics-stackdriver-adapter@{PLANTED}"


def test_the_offline_render_answers_a_lookup_with_the_sha256_of_the_reference():
    """stack/render.py's mock engine: deterministic, and the same digest the render gave before (golden files)."""
    holder = {}

    def program():
        holder["image"] = ImageResolver(PROXY, REGISTRY).public("vllm", "vllm/vllm-openai:v0.32.0")
        return {"ref": holder["image"].ref}

    monitor, outputs = record_under_mocks(program, "test")
    assert outputs["ref"] == f"{PROXY}/vllm/vllm-openai@{mock_digest('vllm/vllm-openai:v0.32.0')}"
    assert monitor.invokes == [{"token": LOOKUP, "args": _run_args("vllm/vllm-openai:v0.32.0")}]


def test_a_tag_in_artifact_registry_is_looked_up_with_the_gcp_data_source(recorder):
    recorder.call_results[AR_LOOKUP] = {"selfLink": f"{REGISTRY}/model-downloader@{PLANTED}"}
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).own("model-downloader", "model-downloader:1.2"))
    assert rec.calls == [
        (
            AR_LOOKUP,
            {
                "location": "us-central1",
                "project": "p",
                "repositoryId": "inference",
                "imageName": "model-downloader:1.2",
            },
        )
    ]
    assert rec.resolve(rec.value.ref) == f"{REGISTRY}/model-downloader@{PLANTED}"


def test_a_pin_is_used_as_given_without_a_lookup(recorder):
    rec = recorder.run(lambda: ImageResolver(PROXY, REGISTRY).public("vllm", f"vllm/vllm-openai:v0.32.0@{PLANTED}"))
    assert rec.calls == []
    assert rec.resolve(rec.value.ref) == f"{PROXY}/vllm/vllm-openai@{PLANTED}"
    assert rec.inputs("vllm-image")["source"] == "pin"
    assert rec.inputs("vllm-image")["query"] == f"vllm/vllm-openai:v0.32.0@{PLANTED}"


def test_one_record_per_reference(recorder):
    recorder.call_results[LOOKUP] = {"stdout": PLANTED, "stderr": ""}

    def program():
        resolver = ImageResolver(PROXY, REGISTRY)
        return resolver.public("a", "x/y:1"), resolver.public("b", "x/y:1")

    rec = recorder.run(program)
    first, second = rec.value
    assert first is second and len(rec.calls) == 1 and rec.names() == ["a-image"]


# -- builds ------------------------------------------------------------------------------------


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "images" / "tool"
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text("ARG BASE_IMAGE=docker.io/library/python:3.11-slim\nFROM ${BASE_IMAGE}\n")
    (context / "requirements.txt").write_text("rich==15.0.0\n")
    return context


def test_dockerfile_base_reads_the_build_arg_default(tmp_path):
    assert dockerfile_base(_context(tmp_path)) == "docker.io/library/python:3.11-slim"
    (tmp_path / "images" / "tool" / "Dockerfile").write_text("FROM python:3.11\n")
    with pytest.raises(ValueError, match=r"declare `ARG BASE_IMAGE=<name:tag>` and `FROM \$\{BASE_IMAGE\}`"):
        dockerfile_base(tmp_path / "images" / "tool")


def test_context_hash_follows_every_file(tmp_path):
    context = _context(tmp_path)
    before = context_hash(context)
    (context / "requirements.txt").write_text("rich==15.0.1\n")
    assert context_hash(context) != before
    (context / "__pycache__").mkdir()
    (context / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert context_hash(context) == context_hash(context)


def test_build_runs_cloud_build_with_exact_inputs_and_yields_the_pushed_digest(recorder, tmp_path):
    context = _context(tmp_path)
    content = context_hash(context)
    base = f"{PROXY}/library/python@{PLANTED}"

    def program():
        return ImageBuild(
            "tool",
            ImageBuildArgs(
                project="p",
                region="us-central1",
                repository_url=REGISTRY,
                image="tool",
                context="images/tool",
                base_image=base,
                root=tmp_path,
            ),
        )

    rec = recorder.run(program)
    tag = f"{REGISTRY}/tool:{content[:16]}"
    assert rec.value.tag == tag
    command = rec.named("tool-build")
    assert command["type"] == "command:local:Command" and command["parent"] == "tool"
    assert command["inputs"] == {
        "create": BUILD_SCRIPT,
        "interpreter": BUILD_INTERPRETER,
        "dir": "<package>",  # the folder holding images/ (checkout or site-packages), masked by the recorder
        "environment": {
            "PROJECT": "p",
            "REGION": "us-central1",
            "IMAGE": tag,
            "CONTEXT": "images/tool",
            "BUILD_CONFIG": DOCKER_BUILD_CONFIG,
            "BASE_IMAGE": base,
        },
        "triggers": [content, base],
    }
    # The Command prints the digest (offline: the mock's digest of its triggers), stripped.
    assert rec.resolve(rec.value.digest) == mock_digest(json.dumps([content, base], sort_keys=True))


def test_build_keyword_builds_and_records_the_build(recorder, tmp_path):
    context = _context(tmp_path)

    def program():
        resolver = ImageResolver(PROXY, REGISTRY)
        resolver.build = lambda name, ctx: ImageBuild(
            name,
            ImageBuildArgs("p", "us-central1", REGISTRY, name, ctx, f"python@{PLANTED}", root=tmp_path),
        )
        return resolver.own("tool", "build", "images/tool")

    rec = recorder.run(program)
    content = context_hash(context)
    digest = mock_digest(json.dumps([content, f"python@{PLANTED}"], sort_keys=True))
    assert rec.resolve(rec.value.ref) == f"{REGISTRY}/tool@{digest}"
    assert rec.inputs("tool-image") == {
        "source": "build",
        "query": f"{REGISTRY}/tool:{content[:16]}",
        "image": f"{REGISTRY}/tool@{digest}",
        "resource": "tool-build",
        "kind": "container",
    }
    assert "tool-build" in rec.named("tool-image")["dependencies"]


def test_build_keyword_needs_a_context():
    with pytest.raises(ValueError, match="`build` needs a build context and a builder"):
        ImageResolver(PROXY, REGISTRY).own("tool", "build")
