"""Offline render: run the real program under Pulumi's mock engine and record every resource.

Nothing differs from ``pulumi up`` but the engine: the same ``StackConfig`` and ``build()`` run,
and a recording monitor captures each registration (type token, logical name, parent, inputs,
resource options). Outputs:

* ``resources.json``: ``[{type, name, parent, custom, protect, ignoreChanges, inputs}]`` with ints as ints;
* ``manifests/NNN-<kind>-<name>.yaml``: every Kubernetes object, as its recorded inputs;
* ``preview.txt``: a tree like ``pulumi preview``.

Secret values (``Output.secret``) reach the mock wrapped in Pulumi's secret signature; they are
replaced with ``[secret]`` before anything is written or printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stack.config import CONFIG_KEY, CONFIG_NAMESPACE, ConfigError, StackConfig
from stack.config.overrides import apply_overrides
from stack.project import ProjectError, PulumiProject, find_project

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_MASK = "[secret]"

# Computed outputs the program reads from resources it creates (so Output chains resolve).
_COMPUTED_OUTPUTS: dict[str, dict[str, Any]] = {
    "gcp:container/cluster:Cluster": {
        "endpoint": "203.0.113.10",
        "masterAuth": {"clusterCaCertificate": "LS0tLS1CRUdJTi1NT0NLLUNBLS0tLS0="},
    },
    "gcp:serviceaccount/account:Account": {},
}
FILESTORE_MOCK_IP = "192.0.2.10"
"""Documentation-range address standing in for a Filestore instance's IP (computed by GCP)."""


@dataclass
class RecordedResource:
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    ignore_changes: list[str]
    inputs: dict[str, Any]
    dependencies: list[str]
    """Names of the resources this one waits for (explicit ``depends_on`` and inputs that are their outputs)."""
    aliases: list[dict[str, Any]] = field(default_factory=list)
    """Earlier identities ``pulumi up`` maps onto this one: ``{name, type, parent}`` (parent by name, None =
    the stack). Only aliases the program sets; the providers' built-in aliases of old API versions are left out."""
    provider: str | None = None
    """Name of the explicit provider resource it is created through (it waits for that provider)."""
    read: bool = False
    """A ``Resource.get`` read of an existing object (it creates nothing)."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The ``customTimeouts`` option: only the operations set (``create``/``update``/``delete`` -> a
    duration such as ``"70m"``); empty = the provider's defaults."""

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "ignoreChanges": self.ignore_changes,
            "dependencies": self.dependencies,
            "inputs": self.inputs,
        }
        if self.provider:
            record["provider"] = self.provider
        if self.aliases:
            record["aliases"] = self.aliases
        if self.read:
            record["read"] = True
        if self.custom_timeouts:
            record["customTimeouts"] = self.custom_timeouts
        return record


@dataclass
class RenderResult:
    """What one render produced."""

    stack: str
    resources: list[dict[str, Any]]
    manifests: list[dict[str, Any]]
    outputs: dict[str, Any]
    out_dir: Path | None = None
    config: StackConfig | None = None

    def of_type(self, token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == token]

    def named(self, name: str) -> dict[str, Any]:
        matches = [r for r in self.resources if r["name"] == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def manifests_of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def images(self) -> list[dict[str, Any]]:
        """How every image and disk image was obtained (``images.json``; see :func:`image_record`)."""
        return image_record(self.resources, self.config)


PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
"""Where the package lives on this machine; recorded as ``<package>`` so renders do not depend on it."""


def clean_value(value: Any) -> Any:
    """Mask secrets, turn integral floats back into ints, drop None, show this machine's package folder
    as ``<package>`` — recursively."""
    if value == PACKAGE_DIR:
        return "<package>"
    if isinstance(value, dict):
        if SECRET_SIG_KEY in value:
            return _mask(value.get("value"))
        return {k: clean_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mask(secret: Any) -> Any:
    """Mask every leaf of a secret but keep its shape (a Secret's ``stringData`` stays a mapping)."""
    if isinstance(secret, dict):
        return {k: _mask(v) for k, v in secret.items()}
    if isinstance(secret, list):
        return [_mask(v) for v in secret]
    return SECRET_MASK


# --------------------------------------------------------------------------------------------
# Stack files
# --------------------------------------------------------------------------------------------


def find_stack_project(root: Path | None = None) -> PulumiProject:
    """The Pulumi project found from ``root`` (default: the working directory) upwards, as the ``pulumi``
    CLI finds it (``stack.project``); ConfigError when no folder up to ``/`` holds a ``Pulumi.yaml``."""
    try:
        return find_project(root)
    except ProjectError as err:
        raise ConfigError(err.lines) from None


def stack_file(stack: str, root: Path | None = None) -> Path:
    """``Pulumi.<stack>.yaml`` of the project found from ``root`` (see :func:`find_stack_project`)."""
    return find_stack_project(root).stack_file(stack)


def load_stack_config(stack: str, overrides: list[str] | None = None, root: Path | None = None) -> StackConfig:
    """Read ``Pulumi.<stack>.yaml``, apply ``--set`` overrides, validate (ConfigError on bad input).

    Args:
        stack: the stack name.
        overrides: ``PATH=VALUE`` strings (``--set``).
        root: where to start searching upwards for the Pulumi project (default: the working directory).
    """
    project = find_stack_project(root)
    path = project.stack_file(stack)
    if not path.exists():
        raise ConfigError([
            f"stack: no {path.name}; known stacks: {', '.join(project.stacks()) or 'none'}",
            f"stack: looked in {path.parent} (the folder of the project file {project.file})",
        ])
    raw = read_platform_object(path)
    return StackConfig.parse(apply_overrides(raw, overrides or []), stack)


def read_platform_object(path: Path) -> dict[str, Any]:
    """The ``gke-inference:platform`` mapping of a stack file; ConfigError (file and line) on a malformed file."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path.name
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        hint = " (YAML indents with spaces, never tabs)" if "\t" in path.read_text() else ""
        raise ConfigError([f"stack file: {where}: not valid YAML: {problem}{hint}"]) from None
    key = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"stack file: {path.name} holds a {_yaml_kind(document)}; it must be a mapping "
                           f"with `config: {{{key}: {{...}}}}`"])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"stack file: {path.name}: `config` is a {_yaml_kind(config)}; it must be a mapping"])
    raw = config.get(key)
    if raw is None:
        raise ConfigError([f"{CONFIG_KEY}: {path.name} has no {key} object"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{CONFIG_KEY}: {path.name}: `{key}` is a {_yaml_kind(raw)}; it must be a mapping "
                           "of the platform's sections (project, region, cluster, ...)"])
    return raw


def _yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")


def offline_secrets() -> dict[str, Any]:
    """Stand-ins for the stack's secret config keys: real Pulumi secrets, so they are masked."""
    import pulumi

    return {
        "apiKey": pulumi.Output.secret("offline-render-api-key"),
        "hfToken": pulumi.Output.secret("offline-render-hf-token"),
    }


# --------------------------------------------------------------------------------------------
# The recording mock engine
# --------------------------------------------------------------------------------------------


def make_recorder():  # imports pulumi lazily so `--help` and config errors stay fast
    """A fresh ``(monitor, mocks)`` pair: the recording engine every render and test runs under.

    ``mocks`` echo inputs as outputs and compute what the cloud would (service-account emails, a
    Filestore IP (:data:`FILESTORE_MOCK_IP`), a cluster endpoint, command stdout, lookups);
    ``monitor.recorded`` collects a :class:`RecordedResource` per registration or read, and
    ``monitor.invokes`` every invoke. Pass both to :func:`record_under_mocks`.
    """
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            outputs = dict(args.inputs)
            outputs.update(_COMPUTED_OUTPUTS.get(args.typ, {}))
            if args.typ == "gcp:serviceaccount/account:Account":
                project = args.inputs.get("project", "project")
                outputs["email"] = f"{args.inputs.get('accountId', args.name)}@{project}.iam.gserviceaccount.com"
                outputs["name"] = f"projects/{project}/serviceAccounts/{outputs['email']}"
            if args.typ == "gcp:filestore/instance:Instance":  # the NFS server address GCP assigns
                outputs["networks"] = [
                    {**network, "ipAddresses": [FILESTORE_MOCK_IP]} for network in args.inputs.get("networks", [])
                ]
            if args.typ == "gcp:storage/bucket:Bucket":  # computed by GCP
                outputs.setdefault("projectNumber", MOCK_PROJECT_NUMBER)
            if args.typ == "command:local:Command":  # in-stack builds print what they made
                outputs.update(stdout=mock_command_stdout(args.inputs), stderr="")
            return f"{args.name}-id", outputs

        def call(self, args: pulumi.runtime.MockCallArgs):
            if args.token in _MOCK_LOOKUPS:
                return _MOCK_LOOKUPS[args.token](args.args)
            if args.token == "gcp:container/getCluster:getCluster":  # cluster.mode: existing
                a = args.args
                cluster = _COMPUTED_OUTPUTS["gcp:container/cluster:Cluster"]
                return {
                    "id": f"projects/{a.get('project')}/locations/{a.get('location')}/clusters/{a.get('name')}",
                    "name": a.get("name"),
                    "location": a.get("location"),
                    "endpoint": cluster["endpoint"],
                    "masterAuths": [cluster["masterAuth"]],
                }
            return {}

    class RecordingMonitor(MockMonitor):
        def __init__(self, mocks):
            super().__init__(mocks)
            self.recorded: list[RecordedResource] = []
            self.names_by_urn: dict[str, str] = {}
            self.invokes: list[dict[str, Any]] = []

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            self._record(request, response.urn, read=False)
            return response

        def ReadResource(self, request):
            response = super().ReadResource(request)
            self._record(request, response.urn, read=True)
            return response

        def Invoke(self, request):
            response = super().Invoke(request)
            self.invokes.append(
                {
                    "token": request.tok,
                    "args": clean_value(pulumi.runtime.rpc.deserialize_properties(request.args) or {}),
                }
            )
            return response

        def _aliases(self, request) -> list[dict[str, Any]]:
            """Aliases the program set, as the identity each names (a name and a type, under a parent)."""
            found = []
            for alias in request.aliases:
                spec = alias.spec
                parent_urn = None if spec.noParent else (spec.parentUrn or request.parent)
                identity = {
                    "name": spec.name or request.name,
                    "type": spec.type or request.type,
                    "parent": _urn_name(parent_urn) if parent_urn else None,
                }
                own_parent = _urn_name(request.parent) if request.parent else None
                if (identity["name"], identity["parent"]) != (request.name, own_parent):  # not a type-only alias
                    found.append(identity)
            return found

        def _record(self, request, urn: str, read: bool) -> None:
            self.names_by_urn[urn] = request.name
            raw_inputs = pulumi.runtime.rpc.deserialize_properties(request.properties if read else request.object)
            self.recorded.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    parent=self.names_by_urn.get(request.parent),
                    custom=True if read else bool(request.custom),
                    protect=False if read else bool(request.protect),
                    ignore_changes=[] if read else list(request.ignoreChanges),
                    inputs=clean_value(raw_inputs or {}),
                    # Every dependency registered earlier, so its URN is known; sorted for stable output.
                    dependencies=sorted({self.names_by_urn.get(d, d) for d in request.dependencies}),
                    provider=self.names_by_urn.get(request.provider.rsplit("::", 1)[0] if request.provider else ""),
                    aliases=[] if read else self._aliases(request),
                    read=read,
                    custom_timeouts={} if read else _timeouts(request.customTimeouts),
                )
            )

    mocks = RecordingMocks()
    return RecordingMonitor(mocks), mocks


def _timeouts(custom_timeouts: Any) -> dict[str, str]:
    """The operations a ``customTimeouts`` request field sets (unset ones are empty strings on the wire)."""
    return {op: value for op in ("create", "update", "delete") if (value := getattr(custom_timeouts, op, ""))}


def _urn_name(urn: str) -> str | None:
    """The logical name at the end of a URN; None for the stack itself."""
    return None if "::pulumi:pulumi:Stack::" in urn else urn.rsplit("::", 1)[-1]


def record_under_mocks(fn: Callable[[], dict[str, Any] | None], stack: str, monitor: Any = None, mocks: Any = None):
    """Run ``fn`` (which registers resources and returns exports) under the recording engine.

    Settles every export and every registration still in flight; returns (monitor, resolved
    exports with secrets masked). Pass a ``monitor``/``mocks`` pair from :func:`make_recorder` to
    observe registrations yourself (tests wrap ``monitor.RegisterResource``).
    """
    import pulumi

    if monitor is None:
        monitor, mocks = make_recorder()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(mocks, project="gke-inference", stack=stack, preview=False, monitor=monitor)
    try:
        exports = fn() or {}
    except BaseException:
        # A refusal mid-program (e.g. a component's ComponentArgsError) leaves registrations in flight:
        # finish them and close the loop so the next program starts from a clean engine.
        async def drain() -> None:
            while pending := [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task() and not t.done()]:
                await asyncio.gather(*pending, return_exceptions=True)

        loop.run_until_complete(drain())
        loop.close()
        raise

    async def settle() -> dict[str, Any]:
        resolved = {}
        for key, value in exports.items():
            output = pulumi.Output.from_input(value)
            resolved[key] = SECRET_MASK if await output.is_secret() else await output.future()
        # Registrations still in flight (e.g. children created inside apply callbacks) finish here.
        while pending := [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task() and not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        return resolved

    outputs = loop.run_until_complete(settle())
    loop.close()
    return monitor, clean_value(outputs)


def run_program(config: StackConfig, stack: str, secrets: dict[str, Any] | None = None):
    """Run ``stack.program.build`` under the recording engine; return (recorded resources, outputs)."""

    def program() -> dict[str, Any]:
        from stack.program import build

        return build(config, stack=stack, secrets=secrets if secrets is not None else offline_secrets())

    monitor, outputs = record_under_mocks(program, stack)
    return monitor.recorded, outputs


# --------------------------------------------------------------------------------------------
# Registry lookups and in-stack builds, offline
# --------------------------------------------------------------------------------------------

MOCK_PROJECT_NUMBER = "123456789012"
"""Stands in for the project number GCP reports (a bucket's ``projectNumber``), e.g. in the Compute default
service account's email."""
IMAGE_SOURCES = {
    "lookup": "registry lookup at preview (mocked offline)",
    "build": "built by the stack (mocked offline)",
    "pin": "pinned in config",
}


def mock_digest(material: str) -> str:
    """The deterministic digest the offline render gives a lookup or a build: sha256 of what was asked."""
    import hashlib

    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()


def mock_command_stdout(inputs: dict[str, Any]) -> str:
    """What an in-stack build Command prints: the pushed digest, or the built disk image's path."""
    env = inputs.get("environment") or {}
    if "IMAGE_NAME" in env:  # infra/boot_disk.py BootDiskImage
        return f"projects/{env.get('PROJECT')}/global/images/{env['IMAGE_NAME']}\n"
    if "IMAGE" in env:  # infra/images.py ImageBuild: the digest of its triggers (content hash, base digest)
        return mock_digest(json.dumps(inputs.get("triggers") or [], sort_keys=True)) + "\n"
    return ""


def _mock_local_run(args: dict[str, Any]) -> dict[str, Any]:
    """``command:local:run``: the registry lookup script (infra/registry_digest.py, by path) prints the
    digest of the reference it was asked about (its ``command``); other local runs print nothing."""
    interpreter = args.get("interpreter") or []
    if interpreter and Path(interpreter[-1]).name == "registry_digest.py":
        return {**args, "stdout": mock_digest(args.get("command", "")), "stderr": ""}
    return {**args, "stdout": "", "stderr": ""}


def _mock_ar_image(args: dict[str, Any]) -> dict[str, Any]:
    repository = f"{args.get('location')}-docker.pkg.dev/{args.get('project')}/{args.get('repositoryId')}"
    image = args.get("imageName", "")
    digest = mock_digest(f"{repository}/{image}")
    return {"imageName": image, "selfLink": f"{repository}/{image.split(':')[0]}@{digest}"}


_MOCK_LOOKUPS = {
    "command:local:run": _mock_local_run,
    "gcp:artifactregistry/getDockerImage:getDockerImage": _mock_ar_image,
}


def image_record(resources: list[dict[str, Any]], config: StackConfig | None = None) -> list[dict[str, Any]]:
    """``[{image, source: lookup|build|pin, resource, query, kind}]``: how each image got its digest.

    Container images come from the program's ``gke-inference:infra:ContainerImage`` records; disk
    images from the boot-disk build Commands (``resource`` = the Command) and from ``diskImage``
    pins in the config.
    """
    records = [
        {
            "image": r["inputs"].get("image"),
            "source": r["inputs"].get("source"),
            "resource": r["inputs"].get("resource"),
            "query": r["inputs"].get("query"),
            "kind": r["inputs"].get("kind", "container"),
        }
        for r in resources
        if r["type"] == "gke-inference:infra:ContainerImage"
    ]
    for r in resources:
        env = r["inputs"].get("environment") or {}
        if r["type"] == "command:local:Command" and "IMAGE_NAME" in env:
            image = mock_command_stdout(r["inputs"]).strip()
            query = env.get("CONTAINER_IMAGE")
            records.append(
                {"image": image, "source": "build", "resource": r["name"], "query": query, "kind": "diskImage"}
            )
    pools = config.gpu_pools.values() if config else []
    pins = sorted({d.disk_image for p in pools for d in p.secondary_boot_disks if d.disk_image})
    records += [{"image": i, "source": "pin", "resource": None, "query": i, "kind": "diskImage"} for i in pins]
    return sorted(records, key=lambda i: (i["kind"], i["image"] or ""))


def images_section(records: list[dict[str, Any]]) -> str:
    """The preview's "Images" section: each image with how its digest was obtained."""
    lines = ["", "Images (how each digest is obtained):"]
    for i in records:
        via = f" [{i['resource']}]" if i.get("resource") else ""
        lines.append(f"    {i['image']}  <- {IMAGE_SOURCES[i['source']]}{via}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def manifests_from(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kubernetes objects: recorded inputs of ``kubernetes:*`` custom resources that carry a kind."""
    return [
        r["inputs"]
        for r in resources
        if r["type"].startswith("kubernetes:") and r["custom"] and not r.get("read") and "kind" in r["inputs"]
    ]


def manifest_filename(index: int, manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata", {})
    parts = [manifest["kind"].lower(), meta.get("namespace"), meta.get("name", "unnamed")]
    # Object names may hold ':' (system:auth-delegator), which some filesystems and tools refuse.
    return f"{index:03d}-" + re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(p for p in parts if p)) + ".yaml"


def preview_tree(stack: str, resources: list[dict[str, Any]], outputs: dict[str, Any]) -> str:
    """A tree like ``pulumi preview``: components with their children, then the stack outputs."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"], []).append(r)
    lines = [
        "     Type                                   Name",
        f" +   pulumi:pulumi:Stack                    gke-inference-{stack}",
    ]

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            marker = " [protect]" if r["protect"] else ""
            lines.append(f" +   {'   ' * depth}├─ {r['type']:<{max(1, 48 - 3 * depth)}} {r['name']}{marker}")
            walk(r["name"], depth + 1)

    walk(None, 1)
    lines.append("")
    lines.append("Outputs:")
    for key in sorted(outputs):
        lines.append(f"    {key}: {json.dumps(outputs[key])}")
    lines.append("")
    lines.append(f"Resources:\n    + {len(resources)} to create")
    return "\n".join(lines) + "\n"


def check_out_dir(out_dir: Path) -> None:
    """Refuse an existing, non-empty ``out_dir`` that holds no earlier render (never wipe e.g. ``--out .``)."""
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / "resources.json").is_file())
    ):
        raise ConfigError(
            [f"--out: {out_dir} exists and is not an earlier render (no resources.json); pick a new or empty directory"]
        )


def write_outputs(result: RenderResult, out_dir: Path) -> None:
    """Write the render into ``out_dir``, replacing an earlier render there (its manifests/ is emptied)."""
    check_out_dir(out_dir)
    if (out_dir / "manifests").exists():
        shutil.rmtree(out_dir / "manifests")
    (out_dir / "manifests").mkdir(parents=True)
    (out_dir / "resources.json").write_text(json.dumps(result.resources, indent=2, sort_keys=True) + "\n")
    for index, manifest in enumerate(result.manifests):
        (out_dir / "manifests" / manifest_filename(index, manifest)).write_text(
            yaml.safe_dump(manifest, sort_keys=False)
        )
    images = result.images()
    (out_dir / "images.json").write_text(json.dumps(images, indent=2) + "\n")
    (out_dir / "preview.txt").write_text(
        preview_tree(result.stack, result.resources, result.outputs) + images_section(images)
    )
    result.out_dir = out_dir


def render_config(config: StackConfig, stack: str) -> RenderResult:
    """Render an already-validated config (no files written).

    A component that refuses its arguments (a rule the config does not check itself) becomes a
    ConfigError naming the component and each argument, like any other bad input (exit 2).
    """
    from infra.validation import ComponentArgsError

    try:
        recorded, outputs = run_program(config, stack)
    except ComponentArgsError as err:
        component = str(err).split(":", 1)[0]
        raise ConfigError(
            [f"{component}: {p.property_path}: {p.render()} (a component refused it; fix the config field "
             "that sets it)" for p in err.problems]
        ) from None
    # Registrations complete concurrently, so their order varies between runs; sort for stable output.
    resources = sorted((r.as_json() for r in recorded), key=lambda r: (r["name"], r["type"]))
    return RenderResult(stack, resources, manifests_from(resources), outputs, config=config)


def render_stack(stack: str, overrides: list[str] | None = None, out_dir: Path | None = None) -> RenderResult:
    """Load, validate and render a stack; write it to ``out_dir`` when given.

    Raises ConfigError before anything is registered or written when the config is invalid.
    """
    config = load_stack_config(stack, overrides)
    if out_dir is not None:
        check_out_dir(out_dir)
    result = render_config(config, stack)
    if out_dir is not None:
        write_outputs(result, out_dir)
    return result
