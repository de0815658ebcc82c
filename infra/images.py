"""Container images by digest, never by a hand-typed one: registry lookups at preview and builds at `up`.

Three ways an image reaches a pod, each one recorded by a :class:`ContainerImage` component
(type ``gke-inference:infra:ContainerImage``, inputs ``source``, ``query``, ``image``, ``resource``):

* ``lookup`` — a tag (``vllm/vllm-openai:v0.32.0``) is resolved to its manifest digest while the
  program runs, so at ``pulumi preview`` already, and again at every ``up``. Public registries
  (Docker Hub, gcr.io, ...) are asked by ``infra/registry_digest.py``, a standard-library script that
  speaks the OCI distribution API (``HEAD /v2/<name>/manifests/<tag>``, ``Docker-Content-Digest``,
  anonymous bearer tokens), run through pulumi-command's ``local.run`` invoke (token
  ``command:local:run``; pulumi-command ``provider/pkg/provider/local/runController.go``: an invoke,
  so it runs on every preview and deployment). No Docker daemon is involved: pulumi-docker's
  ``getRegistryImage`` would need one at preview, because its provider's ``Configure`` pings the
  daemon (pulumi-docker ``provider/provider.go``; pulumi/pulumi-docker#1106). The registry is asked
  directly, so the lookup works before the stack's Artifact Registry proxy has ever pulled the image
  (a remote repository stores an image only at its first pull through it:
  https://cloud.google.com/artifact-registry/docs/repositories/remote-overview, "the first time that
  you request a version of a package, Artifact Registry downloads and caches it"). Images already
  in Artifact Registry (``*-docker.pkg.dev``) are looked up with pulumi-gcp's
  ``artifactregistry.getDockerImage`` instead: it authenticates with the stack's own GCP provider
  credentials (whatever ``pulumi preview`` runs as, Workload Identity Federation in CI included),
  where the script would need ``gcloud`` installed and logged in as the same identity.
* ``build`` — our own images (``images/<dir>``) are built by Cloud Build from the program
  (:class:`ImageBuild`, a ``pulumi_command.local.Command``) and the digest Artifact Registry
  reports for the pushed tag is what pods run.
* ``pin`` — a reference the user pinned (``NAME[:TAG]@sha256:<64 hex>``) is used as given.

Docker Hub images are deployed through the stack's Artifact Registry Docker Hub proxy (so image
streaming and the secondary boot disk cache apply) with the digest Docker Hub reported: a remote
repository serves the upstream manifest unchanged, and a manifest's digest is the sha256 of its
bytes (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests), so the same
digest names the same image through the proxy.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pulumi_command import local

from infra import registry_digest
from infra.options import child_options
from infra.registry_digest import DIGEST, DOCKER_HUB_HOSTS, ImageRef, parse_image
from infra.validation import Problem, is_plain, project_id, type_problems

__all__ = ["DIGEST", "DOCKER_HUB_HOSTS", "ImageRef", "parse_image"]  # the reference grammar, re-exported

_AR_HOST = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev$")
"""Artifact Registry Docker hosts are ``LOCATION-docker.pkg.dev`` (Artifact Registry docs, "Repository and
image names")."""

BUILD = "build"
"""Config keyword for "the stack builds this image from images/<dir>" (never a valid reference: it has no tag)."""

Source = Literal["lookup", "build", "pin"]
SOURCE_DESCRIPTIONS: dict[str, str] = {
    "lookup": "registry lookup at preview",
    "build": "built by the stack (Cloud Build at pulumi up)",
    "pin": "pinned in config",
}


def image_problem(value: str, *, allow_build: bool = False) -> str | None:
    """Why ``value`` cannot name a deployed image (None when it can).

    Accepted: ``NAME:TAG`` (resolved to a digest at preview) and ``NAME[:TAG]@sha256:<64 hex>``
    (used as given); with ``allow_build``, the keyword ``build``. Refused: untagged names and
    ``latest``, which move under the stack without a config change.
    """
    if allow_build and value == BUILD:
        return None
    try:
        ref = parse_image(value)
    except ValueError as err:
        return str(err)
    if ref.digest:
        return None
    also = f", or `{BUILD}` to have the stack build it" if allow_build else ""
    if ref.tag is None:
        return (
            f"'{value}' has no tag: name a version (e.g. {ref.name}:v1.2.3){also}, "
            f"or pin {ref.name}@sha256:<64 hex>"
        )
    if ref.tag == "latest":
        return (
            f"'{value}': `latest` moves without a config change; name a version tag{also}, "
            f"or pin {ref.name}@sha256:<64 hex>"
        )
    return None


def pin_problem(image: pulumi.Input[str]) -> str | None:
    """Why a plain-string image is not pinned by digest (None when it is, or when it is an Output: those come
    from :class:`ContainerImage`, which only ever yields ``NAME@sha256:...``)."""
    if isinstance(image, str):
        ref_digest = image.rpartition("@")[2]
        if "@" not in image or not DIGEST.match(ref_digest):
            return f"'{image}' is not pinned by digest; use NAME@sha256:<64 hex>"
    return None


def require_pinned(image: pulumi.Input[str], field_name: str = "image") -> None:
    """Components' guard: a plain-string image must carry a digest (:func:`pin_problem`)."""
    problem = pin_problem(image)
    if problem is not None:
        raise ValueError(f"{field_name}: {problem}")


# --------------------------------------------------------------------------------------------
# Lookups
# --------------------------------------------------------------------------------------------

REGISTRY_LOOKUP_TOKEN = "command:local:run"
AR_LOOKUP_TOKEN = "gcp:artifactregistry/getDockerImage:getDockerImage"
REGISTRY_DIGEST_SCRIPT = Path(registry_digest.__file__).resolve()
"""The lookup script, run by path (it needs only the standard library)."""


def registry_lookup_interpreter() -> list[str]:
    """argv before the reference: this Python in isolated mode (``-I``: no PYTHON* variables, no user
    site-packages, so nothing can shadow the standard library the script uses) and the script."""
    return [sys.executable, "-I", str(REGISTRY_DIGEST_SCRIPT)]


def lookup_digest(ref: ImageRef, parent: pulumi.Resource | None = None) -> pulumi.Output[str]:
    """The digest the registry serves for ``ref`` (a tag) now: at preview and at every `up`."""
    if ref.tag is None:
        raise ValueError(f"'{ref}': only a tag can be looked up")
    ar = _AR_HOST.match(ref.host or "")
    if ar is not None:
        project, repository, image = _ar_parts(ref)
        found = gcp.artifactregistry.get_docker_image_output(
            location=ar.group("location"),
            project=project,
            repository_id=repository,
            image_name=f"{image}:{ref.tag}",
            opts=pulumi.InvokeOptions(parent=parent) if parent is not None else None,
        )
        return found.self_link.apply(lambda link: link.rpartition("@")[2])
    # local.run appends `command` to `interpreter` as one argv element (no shell): the script gets the
    # reference as its only argument. Its stdout is the digest; a failure fails the preview with its stderr.
    found_run = local.run_output(
        command=str(ref),
        interpreter=registry_lookup_interpreter(),
        logging=local.Logging.NONE,
        add_previous_output_in_env=False,
        opts=pulumi.InvokeOutputOptions(parent=parent) if parent is not None else None,
    )
    return found_run.stdout.apply(str.strip)


def _ar_parts(ref: ImageRef) -> tuple[str, str, str]:
    parts = ref.path.split("/", 2)
    if len(parts) != 3:
        raise ValueError(f"'{ref}': an Artifact Registry image is HOST/PROJECT/REPOSITORY/IMAGE")
    return parts[0], parts[1], parts[2]


# --------------------------------------------------------------------------------------------
# Builds
# --------------------------------------------------------------------------------------------

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
DOCKER_BUILD_CONFIG = "images/cloudbuild-docker.yaml"
"""Cloud Build config of our image builds, relative to ``BUILD_DIR``."""
BUILD_DIR = str(IMAGES_DIR.parent)
"""Where the build commands run: the folder holding ``images/`` — the checkout, or site-packages for an
installed wheel (the user's project folder has no ``images/``). The offline render shows it as ``<package>``."""
BUILD_INTERPRETER = ["/bin/bash", "-c"]
BUILD_SCRIPT = """set -euo pipefail
# Immutable tags: a tag that exists already holds this content (the tag is the content hash).
if ! gcloud artifacts docker images describe "$IMAGE" --project "$PROJECT" >/dev/null 2>&1; then
  gcloud builds submit "$CONTEXT" --project "$PROJECT" --region "$REGION" --config "$BUILD_CONFIG" \\
    --substitutions "_IMAGE=$IMAGE,_BASE_IMAGE=$BASE_IMAGE" >&2
fi
gcloud artifacts docker images describe "$IMAGE" --project "$PROJECT" --format='value(image_summary.digest)'
"""
"""Builds (unless the content-hash tag exists) and prints the pushed digest: the Command's stdout.
Cloud Build's log goes to stderr so that stdout is the digest alone."""


def cloud_build_command(
    name: str,
    script: str,
    environment: dict[str, pulumi.Input[str]],
    triggers: list[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> local.Command:
    """A build ``script`` (``gcloud builds submit`` …) run by pulumi-command in ``BUILD_DIR``, re-run only when a
    trigger changes; its stdout is the script's answer (a digest, a disk image name)."""
    return local.Command(
        f"{name}-build", create=script, interpreter=BUILD_INTERPRETER, dir=BUILD_DIR, environment=environment,
        triggers=triggers, opts=opts,
    )


_BASE_ARG = re.compile(r"^\s*ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE)
_IGNORED = {"__pycache__", ".pytest_cache"}


def dockerfile_base(context: Path) -> str:
    """The ``ARG BASE_IMAGE=<name:tag>`` default of ``context/Dockerfile`` (its ``FROM ${BASE_IMAGE}``)."""
    text = (context / "Dockerfile").read_text()
    match = _BASE_ARG.search(text)
    if match is None or "FROM ${BASE_IMAGE}" not in text:
        raise ValueError(f"{context}/Dockerfile: declare `ARG BASE_IMAGE=<name:tag>` and `FROM ${{BASE_IMAGE}}`")
    return match.group(1)


def context_hash(context: Path) -> str:
    """sha256 over every file of a build context (relative path and bytes, in path order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() and not _IGNORED & set(p.parts)):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class ImageBuildArgs:
    project: str
    """GCP project of the registry and the Cloud Build run."""
    region: str
    """Cloud Build region (the registry's)."""
    repository_url: str
    """``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`` the image is pushed to."""
    image: str
    """Image name in the repository, e.g. ``model-downloader``."""
    context: str
    """Build context, relative to the repository root, e.g. ``images/model-downloader``."""
    base_image: pulumi.Input[str]
    """The Dockerfile's base image by digest (passed as ``--build-arg BASE_IMAGE``)."""
    root: Path = IMAGES_DIR.parent
    """Repository root the context is read from (hashing only; the build runs in the project root)."""


_REPOSITORY_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
"""An image name inside a repository: the OCI distribution spec's ``<name>`` grammar
(github.com/opencontainers/distribution-spec ``spec.md``, "Pulling manifests")."""


def build_contexts() -> list[str]:
    """The build contexts this package ships (``images/<dir>`` holding a Dockerfile), repository-relative."""
    return sorted(f"images/{d.name}" for d in IMAGES_DIR.iterdir() if (d / "Dockerfile").is_file())


def registry_url_problem(url: str) -> str | None:
    """Why ``url`` is not an Artifact Registry Docker repository, ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY``
    (None when it is)."""
    parts = url.split("/")
    if len(parts) != 3 or not _AR_HOST.match(parts[0]) or not all(parts[1:]):
        return f"'{url}' is not an Artifact Registry Docker repository: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"
    return None


def validate_image_build_args(args: ImageBuildArgs) -> list[Problem]:
    """Every problem with ``args`` (pure apart from reading the context): types, the project id, the registry
    repository, the image name, a context folder whose Dockerfile builds ``FROM ${BASE_IMAGE}``, and a plain
    ``base_image`` pinned by digest. The component trusts its callers (the stack passes this repository's
    contexts); the package's facade checks these before registering anything."""
    problems = type_problems(args, ImageBuildArgs)
    if problems:
        return problems
    problems = project_id("project", args.project)
    if not args.region:
        problems.append(Problem("region", "empty; give the Cloud Build region (the registry's)"))
    url = registry_url_problem(args.repository_url)
    if url is not None:
        problems.append(Problem("repository_url", url))
    if not _REPOSITORY_NAME.match(args.image):
        problems.append(Problem("image", f"'{args.image}' is not an image name: lowercase letters and digits, "
                                         "separated by '.', '_', '__', '-' or '/' (e.g. model-downloader)"))
    context = args.root / args.context
    if not (context / "Dockerfile").is_file():
        problems.append(Problem("context", f"{context} has no Dockerfile: name a build context of this package "
                                           f"({', '.join(build_contexts())}) or the absolute path of a folder "
                                           "with a Dockerfile"))
    else:
        try:
            dockerfile_base(context)
        except ValueError as err:
            problems.append(Problem("context", str(err)))
    pin = pin_problem(args.base_image) if is_plain(args.base_image) else None
    if pin is not None:
        problems.append(Problem("base_image", pin))
    return problems


class ImageBuild(pulumi.ComponentResource):
    """Build ``images/<dir>`` with Cloud Build and push ``<repository>/<image>:<content hash>``.

    The Command re-runs only when its triggers change: the context's content hash and the base
    image digest. ``digest`` is what Artifact Registry reports for the pushed tag.
    """

    tag: str
    """``<repository>/<image>:<first 16 hex of the content hash>``."""
    command: local.Command
    digest: pulumi.Output[str]

    def __init__(self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:infra:ImageBuild", name, {}, opts)
        content = context_hash(args.root / args.context)
        self.tag = f"{args.repository_url}/{args.image}:{content[:16]}"
        self.command = cloud_build_command(
            name,
            BUILD_SCRIPT,
            {
                "PROJECT": args.project,
                "REGION": args.region,
                "IMAGE": self.tag,
                "CONTEXT": args.context,
                "BUILD_CONFIG": DOCKER_BUILD_CONFIG,
                "BASE_IMAGE": args.base_image,
            },
            [content, args.base_image],
            child_options(self, opts),
        )
        self.digest = self.command.stdout.apply(str.strip)
        self.register_outputs({"tag": self.tag, "digest": self.digest})


# --------------------------------------------------------------------------------------------
# One deployed image
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerImageArgs:
    source: Source
    """How the digest is obtained: lookup, build or pin."""
    query: str
    """What was asked: the configured reference (lookup/pin) or the build's tag."""
    pull_name: str
    """Repository the pods pull from (may differ from the query's, e.g. the Docker Hub proxy)."""
    digest: pulumi.Input[str]
    """The digest (from the lookup, the build, or the pin)."""
    resource: str | None = None
    """Logical name of the resource that produced the digest (the build Command), if any."""
    kind: Literal["container", "base"] = "container"
    """``container``: a workload runs it; ``base``: a build's base image (``--build-arg BASE_IMAGE``)."""


class ContainerImage(pulumi.ComponentResource):
    """Record of one deployed image: its full reference and how its digest was obtained.

    Its inputs (``source``, ``query``, ``image``, ``resource``) appear in ``pulumi preview`` and in
    the offline render's ``images.json``.
    """

    ref: pulumi.Output[str]
    """``<pull_name>@sha256:<hex>``."""
    source: Source

    def __init__(self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None):
        ref = pulumi.Output.from_input(args.digest).apply(lambda d: f"{args.pull_name}@{_checked_digest(d)}")
        super().__init__(
            "gke-inference:infra:ContainerImage",
            name,
            {"source": args.source, "query": args.query, "image": ref, "resource": args.resource, "kind": args.kind},
            opts,
        )
        self.ref = ref
        self.source = args.source
        self.register_outputs({"image": ref, "source": args.source})


def pull_name(ref: ImageRef, docker_hub_proxy: str | None) -> str:
    """Where pods pull ``ref`` from: Docker Hub images through ``docker_hub_proxy`` when one is given (same
    digest: module doc), any other image from where it is."""
    if ref.on_docker_hub and docker_hub_proxy is not None:
        return f"{docker_hub_proxy}/{ref.docker_hub_path}"
    return ref.name


def image_args(ref: ImageRef, pull: str, kind: Literal["container", "base"] = "container",
               parent: pulumi.Resource | None = None) -> ContainerImageArgs:
    """The record of ``ref``: a pin used as given, a tag looked up (at preview and every `up`)."""
    if ref.digest:
        return ContainerImageArgs(source="pin", query=str(ref), pull_name=pull, digest=ref.digest, kind=kind)
    return ContainerImageArgs(
        source="lookup", query=str(ref), pull_name=pull, digest=lookup_digest(ref, parent), kind=kind
    )


def reference_problems(image: str, digest: pulumi.Input[str] | None = None,
                       docker_hub_proxy: str | None = None) -> list[Problem]:
    """Why a plain reference cannot become a :class:`ContainerImage` (pure): ``image`` is ``NAME:TAG`` or a pin
    (:func:`image_problem`), or, with ``digest`` (e.g. another resource's output), the name it is pinned
    under; ``docker_hub_proxy`` is an Artifact Registry repository."""
    problems = []
    if digest is None:
        why = image_problem(image)
        if why is not None:
            problems.append(Problem("image", why))
    else:
        try:
            ref = parse_image(image)
        except ValueError as err:
            problems.append(Problem("image", str(err)))
        else:
            if ref.digest:
                problems.append(Problem("image", f"'{image}' is pinned already and {{digest}} is set too: "
                                                 "give the name alone with {digest}, or leave {digest} unset"))
        if is_plain(digest) and not (isinstance(digest, str) and DIGEST.match(digest)):
            problems.append(Problem("digest", f"{digest!r} is not a sha256 manifest digest: sha256:<64 hex>"))
    if docker_hub_proxy is not None:
        why = registry_url_problem(docker_hub_proxy)
        if why is not None:
            problems.append(Problem("docker_hub_proxy", why))
    return problems


def reference_image_args(image: str, digest: pulumi.Input[str] | None = None, docker_hub_proxy: str | None = None,
                         kind: Literal["container", "base"] = "container",
                         parent: pulumi.Resource | None = None) -> ContainerImageArgs:
    """The :class:`ContainerImage` args of a plain reference (checked with :func:`reference_problems` first):
    what :class:`ImageResolver` makes for a public image, or, with ``digest``, a pin of ``image`` to it."""
    ref = parse_image(image)
    pull = pull_name(ref, docker_hub_proxy)
    if digest is not None:
        return ContainerImageArgs(source="pin", query=str(ref), pull_name=pull, digest=digest, kind=kind)
    return image_args(ref, pull, kind, parent)


def _checked_digest(digest: str) -> str:
    if not DIGEST.match(digest):
        raise ValueError(f"not a sha256 manifest digest: {digest!r}")
    return digest


@dataclass
class ImageResolver:
    """Turns configured references into :class:`ContainerImage`s (one per distinct reference).

    Args:
        docker_hub_proxy: ``LOCATION-docker.pkg.dev/PROJECT/PROXY`` that Docker Hub images are pulled through.
        registry_url: the stack's own repository; relative names of our images resolve there.
        build: makes an :class:`ImageBuild` for a build context (images/<dir>) given its resource name.
        opts: options of every lookup record and build (e.g. ``depends_on`` the APIs and the registry).
    """

    docker_hub_proxy: str
    registry_url: str
    build: Callable[[str, str], ImageBuild] | None = None
    opts: pulumi.ResourceOptions | None = None
    images: dict[str, ContainerImage] = field(default_factory=dict)

    def public(self, name: str, value: str, kind: Literal["container", "base"] = "container") -> ContainerImage:
        """An upstream image (``vllm/vllm-openai:TAG``, ``gcr.io/...:TAG`` or a pin); Docker Hub via the proxy."""
        ref = parse_image(value)
        return self._resolved(name, ref, pull_name(ref, self.docker_hub_proxy), kind)

    def own(self, name: str, value: str, context: str | None = None) -> ContainerImage:
        """One of our images: ``build`` (from ``context``), a tag (relative = in our registry) or a pin."""
        if value == BUILD:
            if context is None or self.build is None:
                raise ValueError(f"{name}: `{BUILD}` needs a build context and a builder")
            if name not in self.images:
                build = self.build(name, context)
                self.images[name] = ContainerImage(
                    f"{name}-image",
                    ContainerImageArgs(
                        source="build",
                        query=build.tag,
                        pull_name=build.tag.rpartition(":")[0],
                        digest=build.digest,
                        resource=build.command.pulumi_resource_name,
                    ),
                    opts=self.opts,
                )
            return self.images[name]
        ref = parse_image(value)
        if ref.host is None:
            ref = parse_image(f"{self.registry_url}/{value}")
        return self._resolved(name, ref, ref.name)

    def _resolved(
        self, name: str, ref: ImageRef, pull: str, kind: Literal["container", "base"] = "container"
    ) -> ContainerImage:
        key = f"{ref}|{pull}"
        if key not in self.images:
            self.images[key] = ContainerImage(f"{name}-image", image_args(ref, pull, kind), opts=self.opts)
        return self.images[key]
