"""Deploy rehearsal: prove from one render that ``pulumi up`` on an empty project has everything it references.

The mock engine accepts any value and any reference, so a render alone proves nothing about the
first real ``up``. This check reads what the render recorded (``resources.json`` with each
resource's dependencies and provider, ``images.json`` with how each image digest was obtained) and
fails, naming the resource, on:

* ``api-dependency``: a GCP resource that does not (transitively) wait for the ``gcp.projects.Service``
  enabling its API (on a fresh project the first ``up`` fails with SERVICE_DISABLED);
* ``cluster-dependency``: a Kubernetes object not created through a provider that waits for the
  cluster, or a pod that needs a node pool the stack makes and does not wait for it;
* ``image-digest`` / ``image-provenance``: a container image not pinned by digest, or a digest that
  came from neither a registry lookup at preview, a build in the stack, nor an explicit config pin
  (i.e. typed by hand); a built image used by a pod that does not wait for its build;
* ``disk-image``: a secondary boot disk image not built by the stack (or pinned) before the pool;
* ``volume-source``: a disk or claim restored from a snapshot/image/data source nothing in the stack makes;
* ``bucket``: a bucket path (FUSE volume, Volume Populator source) naming a bucket the stack does not create;
* ``service-account``: a Workload Identity annotation naming a Google service account the stack does
  not create, or a Workload Identity binding made before the cluster (its identity pool) exists;
* ``secret``: a pod reading a Secret the stack does not create in its namespace, or before it exists;
* ``controller``: a custom resource kind whose controller neither the stack installs (and waits for)
  nor GKE manages;
* ``create-time``: an input combination Google's API refuses at create time (``infra.api_rules``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.model import Violation
from stack.checks.dependency_graph import DependencyGraph
from workloads.custom_resources import api_group, is_builtin

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

API_BY_MODULE = {
    "container": "container.googleapis.com",
    "compute": "compute.googleapis.com",
    "storage": "storage.googleapis.com",
    "serviceaccount": "iam.googleapis.com",
    "projects": "cloudresourcemanager.googleapis.com",
    "artifactregistry": "artifactregistry.googleapis.com",
    "filestore": "file.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
    "cloudbuild": "cloudbuild.googleapis.com",
}
"""The API a pulumi-gcp resource module calls (type token ``gcp:<module>/<resource>:<Type>``)."""

API_EXEMPT = {
    "gcp:projects/service:Service": "enabling an API goes through serviceusage.googleapis.com, on in every project",
}

COMMAND_APIS = {
    "gcloud builds submit": "cloudbuild.googleapis.com",
    "gcloud artifacts": "artifactregistry.googleapis.com",
    "gcloud compute images": "compute.googleapis.com",
}
"""APIs the in-stack build commands (``command:local:Command``) call, by the gcloud command they run."""

POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet", "LeaderWorkerSet", "CronJob"}
GPU_TOLERATION = "nvidia.com/gpu"
WI_ANNOTATION = "iam.gke.io/gcp-service-account"


@dataclass(frozen=True)
class Controller:
    """Who makes a custom resource kind usable on the cluster."""

    installed_by: str
    """``gke`` (GKE installs and runs it) or the type token of the stack component that installs it."""


def _default_controllers() -> Mapping[tuple[str, str], Controller]:
    from workloads.custom_resources import CUSTOM_RESOURCES

    return {
        (entry.group, entry.kind): Controller(entry.component or entry.installed_by)
        for entry in CUSTOM_RESOURCES.values()
    }


CREATE_TIME_RULES = ("bucket-hns-create-rules",)
"""Policy-pack rules that encode a refusal of Google's API at create time (docs/gcp-create-time-rules.md)."""


def rehearse(
    resources: Sequence[Mapping[str, Any]],
    images: Sequence[Mapping[str, Any]] = (),
    controllers: Mapping[tuple[str, str], Controller] | None = None,
) -> list[Violation]:
    """Every deploy-order and provenance problem of one render (empty when ``pulumi up`` has what it needs).

    Args:
        resources: ``resources.json`` records (type, name, parent, custom, dependencies, provider, inputs).
        images: ``images.json`` records: ``{image, source: lookup|build|pin, resource}`` per container image.
        controllers: custom resource kinds by (API group, kind); default ``workloads.custom_resources``.
    """
    graph = DependencyGraph([r for r in resources if not r.get("read")])
    controllers = _default_controllers() if controllers is None else controllers
    found: list[Violation] = []
    for check in CHECKS:
        found.extend(check(graph, images, controllers))
    return found


# ------------------------------------------------------------------------------------------------
# GCP: APIs and create-time rules
# ------------------------------------------------------------------------------------------------


def _enabled_by(graph: DependencyGraph) -> dict[str, str]:
    """API service name -> the resource that enables it."""
    return {
        r["inputs"].get("service", ""): r["name"] for r in graph.of_type("gcp:projects/service:Service")
    }


def required_apis(record: Mapping[str, Any]) -> list[str]:
    """The APIs a resource needs enabled before it is created (empty for none or unknown)."""
    token = record["type"]
    if token in API_EXEMPT or not record.get("custom", True):
        return []
    if token == "command:local:Command":
        script = " ".join(str(v) for v in record["inputs"].values() if isinstance(v, str))
        return sorted({api for marker, api in COMMAND_APIS.items() if marker in script})
    if token.startswith("gcp:"):
        module = token.split(":")[1].split("/")[0]
        return [API_BY_MODULE.get(module, f"{module}.googleapis.com")]
    return []


def check_api_dependencies(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    enabled = _enabled_by(graph)
    for record in graph.resources:
        for api in required_apis(record):
            enabler = enabled.get(api)
            if enabler is None:
                yield Violation("api-dependency", record["name"], "(stack)",
                                f"{record['type']} needs {api}, which the stack does not enable; add it to ProjectApis")
            elif not graph.waits_for_any(record["name"], [enabler]):
                yield Violation("api-dependency", record["name"], "dependsOn",
                                f"{record['type']} does not wait for {enabler} ({api}); on a fresh project "
                                "`pulumi up` fails with SERVICE_DISABLED: pass depends_on=[apis]")


def check_create_time_rules(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    from policy.rules import RESOURCE_RULES

    rules = [rule for rule in RESOURCE_RULES if rule.name in CREATE_TIME_RULES]
    for record in graph.resources:
        for rule in rules:
            for finding in rule.run(record["type"], record["inputs"]):
                yield Violation("create-time", record["name"], finding.field, f"{finding.message} ({rule.name})")


# ------------------------------------------------------------------------------------------------
# Kubernetes: cluster, pools, controllers
# ------------------------------------------------------------------------------------------------


def _kubernetes_objects(graph: DependencyGraph) -> list[Mapping[str, Any]]:
    return [
        r for r in graph.resources
        if r["type"].startswith("kubernetes:") and r.get("custom", True) and not r["type"].startswith("pulumi:")
    ]


def check_cluster_dependencies(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    clusters = [r["name"] for r in graph.of_type("gcp:container/cluster:Cluster")]
    providers = {r["name"]: r for r in graph.of_type("pulumi:providers:kubernetes")}
    gpu_pools = [r["name"] for r in graph.of_type("gcp:container/nodePool:NodePool") if _has_gpus(r["inputs"])]
    cpu_pools = [r["name"] for r in graph.of_type("gcp:container/nodePool:NodePool") if not _has_gpus(r["inputs"])]
    for record in _kubernetes_objects(graph):
        name = record["name"]
        provider = record.get("provider")
        if provider is None or provider not in providers:
            yield Violation("cluster-dependency", name, "provider",
                            "created through the default provider (whatever kubeconfig is ambient); pass the "
                            "cluster's provider")
            continue
        if clusters and not graph.waits_for_any(provider, clusters):
            yield Violation("cluster-dependency", name, "provider",
                            f"provider {provider} does not wait for the cluster")
        template = pod_spec(record["inputs"])
        if template is None:
            continue
        tolerates_gpu = any(t.get("key") == GPU_TOLERATION for t in template.get("tolerations", []))
        needed = gpu_pools if tolerates_gpu else cpu_pools
        if needed and not graph.waits_for_any(name, needed):
            kind = "GPU" if tolerates_gpu else "system"
            yield Violation("cluster-dependency", name, "dependsOn",
                            f"its pods need a {kind} node pool ({', '.join(needed)}) and it does not wait for one: "
                            "`pulumi up` would wait on pods with no node to run on")


def _has_gpus(pool_inputs: Mapping[str, Any]) -> bool:
    return bool((pool_inputs.get("nodeConfig") or {}).get("guestAccelerators"))


def check_controllers(
    graph: DependencyGraph, _images: Any, controllers: Mapping[tuple[str, str], Controller]
) -> Iterator[Violation]:
    for record in _kubernetes_objects(graph):
        inputs = record["inputs"]
        if "kind" not in inputs:
            continue
        if is_builtin(inputs.get("apiVersion", "")):
            continue
        group = api_group(inputs["apiVersion"])
        controller = controllers.get((group, inputs["kind"]))
        if controller is None:
            yield Violation("controller", record["name"], "kind",
                            f"{inputs['kind']} ({group}): no controller installed by the stack and not GKE-managed; "
                            "`pulumi up` fails with 'no matches for kind'")
        elif controller.installed_by != "gke":
            components = [r["name"] for r in graph.resources if r["type"] == controller.installed_by]
            # Waiting for a component is waiting for its children (the SDK records the children).
            installers = [*components, *(d for c in components for d in graph.descendants(c))]
            if not installers:
                yield Violation("controller", record["name"], "kind",
                                f"{inputs['kind']} needs {controller.installed_by}, which this stack does not create")
            elif not graph.waits_for_any(record["name"], installers):
                yield Violation("controller", record["name"], "dependsOn",
                                f"{inputs['kind']} does not wait for its controller ({', '.join(components)})")


# ------------------------------------------------------------------------------------------------
# External references: images, disk images, volume sources, buckets, service accounts, secrets
# ------------------------------------------------------------------------------------------------


def pod_spec(inputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The (first) pod spec of a workload object, or None."""
    specs = list(pod_specs(inputs))
    return specs[0] if specs else None


def pod_specs(inputs: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every pod spec in a workload object (a LeaderWorkerSet has a leader and a worker template)."""
    if inputs.get("kind") not in POD_TEMPLATE_KINDS:
        return
    stack: list[Any] = [inputs.get("spec", {})]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if isinstance(node.get("containers"), list):
                yield node
                continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def check_images(graph: DependencyGraph, images: Sequence[Mapping[str, Any]], *_: Any) -> Iterator[Violation]:
    known = {i["image"]: i for i in images}
    for record in _kubernetes_objects(graph):
        for spec in pod_specs(record["inputs"]):
            for container in _containers(spec):
                image = container.get("image", "")
                where = f"containers[{container.get('name')}].image"
                if not DIGEST.search(image):
                    yield Violation("image-digest", record["name"], where,
                                    f"{image!r} is not pinned by digest (NAME@sha256:<64 hex>)")
                    continue
                origin = known.get(image)
                if origin is None:
                    yield Violation("image-provenance", record["name"], where,
                                    f"{image!r}: digest obtained by no registry lookup, stack build or config pin "
                                    "(typed by hand?); name the image by tag so the stack resolves it")
                elif origin.get("source") == "build" and origin.get("resource") and not graph.waits_for_any(
                    record["name"], [origin["resource"]]
                ):
                    yield Violation("image-provenance", record["name"], where,
                                    f"built by {origin['resource']} but does not wait for that build")


def check_disk_images(graph: DependencyGraph, images: Sequence[Mapping[str, Any]], *_: Any) -> Iterator[Violation]:
    known = {i["image"]: i for i in images}
    for pool in graph.of_type("gcp:container/nodePool:NodePool"):
        disks = (pool["inputs"].get("nodeConfig") or {}).get("secondaryBootDisks") or []
        for index, disk in enumerate(disks):
            image = disk.get("diskImage", "")
            origin = known.get(image)
            where = f"nodeConfig.secondaryBootDisks[{index}].diskImage"
            if origin is None:
                yield Violation("disk-image", pool["name"], where,
                                f"{image!r} is neither built by the stack nor pinned in config: nothing makes it")
            elif origin.get("source") == "build" and not graph.waits_for_any(pool["name"], [origin["resource"]]):
                yield Violation("disk-image", pool["name"], where,
                                f"built by {origin['resource']} but the pool does not wait for that build")


def check_volume_sources(graph: DependencyGraph, images: Sequence[Mapping[str, Any]], *_: Any) -> Iterator[Violation]:
    pinned = {i["image"] for i in images if i.get("source") == "pin"}
    snapshots = {r["inputs"].get("name"): r["name"] for r in graph.of_type("gcp:compute/snapshot:Snapshot")}
    for disk in graph.of_type("gcp:compute/disk:Disk"):
        for field in ("snapshot", "image"):
            source = disk["inputs"].get(field)
            if not source or source in pinned:
                continue
            maker = snapshots.get(source.rsplit("/", 1)[-1]) if field == "snapshot" else None
            if maker is None or not graph.waits_for_any(disk["name"], [maker]):
                yield Violation("volume-source", disk["name"], field,
                                f"{source!r} is made by nothing in the stack; let the stack fill the disk "
                                "(Volume Populator / hydrate Job) or pin it explicitly in config")
    objects = {
        (r["inputs"].get("kind"), (r["inputs"].get("metadata") or {}).get("namespace"),
         (r["inputs"].get("metadata") or {}).get("name")): r["name"]
        for r in _kubernetes_objects(graph)
    }
    for claim in graph.of_type("kubernetes:core/v1:PersistentVolumeClaim"):
        namespace = (claim["inputs"].get("metadata") or {}).get("namespace")
        for field in ("dataSource", "dataSourceRef"):
            ref = (claim["inputs"].get("spec") or {}).get(field)
            if not ref:
                continue
            maker = objects.get((ref.get("kind"), ref.get("namespace", namespace), ref.get("name")))
            if maker is None or not graph.waits_for_any(claim["name"], [maker]):
                yield Violation("volume-source", claim["name"], f"spec.{field}",
                                f"{ref.get('kind')} {ref.get('name')!r} is not created by the stack before the claim")


def _bucket_names_in(inputs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, bucket) for every bucket a Kubernetes object points at."""
    stack: list[tuple[str, Any]] = [("", inputs)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "bucketName" and isinstance(value, str):
                    yield f"{path}.{key}".lstrip("."), value
                elif key == "uri" and isinstance(value, str) and value.startswith("gs://"):
                    yield f"{path}.{key}".lstrip("."), value[5:].split("/", 1)[0]
                else:
                    stack.append((f"{path}.{key}", value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(node))


def check_buckets(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    buckets = {r["inputs"].get("name") for r in graph.of_type("gcp:storage/bucket:Bucket")}
    for record in _kubernetes_objects(graph):
        for field, bucket in _bucket_names_in(record["inputs"]):
            if bucket not in buckets:
                yield Violation("bucket", record["name"], field,
                                f"bucket {bucket!r} is not created by the stack (the model bucket is "
                                f"{', '.join(sorted(b for b in buckets if b)) or 'none'})")


def _account_emails(graph: DependencyGraph) -> dict[str, str]:
    emails = {}
    for account in graph.of_type("gcp:serviceaccount/account:Account"):
        inputs = account["inputs"]
        emails[f"{inputs.get('accountId')}@{inputs.get('project')}.iam.gserviceaccount.com"] = account["name"]
    return emails


def check_service_accounts(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    emails = _account_emails(graph)
    for ksa in graph.of_type("kubernetes:core/v1:ServiceAccount"):
        email = ((ksa["inputs"].get("metadata") or {}).get("annotations") or {}).get(WI_ANNOTATION)
        if not email:
            continue
        maker = emails.get(email)
        if maker is None:
            yield Violation("service-account", ksa["name"], f"metadata.annotations[{WI_ANNOTATION}]",
                            f"{email} is not created by the stack")
        elif not graph.waits_for_any(ksa["name"], [maker]):
            yield Violation("service-account", ksa["name"], f"metadata.annotations[{WI_ANNOTATION}]",
                            f"does not wait for {maker}")
    clusters = [r["name"] for r in graph.of_type("gcp:container/cluster:Cluster")]
    for binding in graph.of_type("gcp:serviceaccount/iAMMember:IAMMember"):
        member = str(binding["inputs"].get("member", ""))
        if ".svc.id.goog[" in member and clusters and not graph.waits_for_any(binding["name"], clusters):
            yield Violation("service-account", binding["name"], "member",
                            f"{member}: the Workload Identity pool exists only once the cluster does; this "
                            "binding does not wait for the cluster (fails with 'Identity Pool does not exist')")


def _secret_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield f"volumes[{volume.get('name')}]", volume["secret"].get("secretName", "")
    for container in _containers(spec):
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                yield f"containers[{container.get('name')}].env[{env.get('name')}]", ref.get("name", "")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield f"containers[{container.get('name')}].envFrom", source["secretRef"].get("name", "")


def check_secrets(graph: DependencyGraph, *_: Any) -> Iterator[Violation]:
    secrets = {
        ((r["inputs"].get("metadata") or {}).get("namespace"), (r["inputs"].get("metadata") or {}).get("name")):
            r["name"]
        for r in graph.of_type("kubernetes:core/v1:Secret")
    }
    for record in _kubernetes_objects(graph):
        namespace = (record["inputs"].get("metadata") or {}).get("namespace")
        for spec in pod_specs(record["inputs"]):
            for field, secret in _secret_refs(spec):
                maker = secrets.get((namespace, secret))
                if maker is None:
                    yield Violation("secret", record["name"], field,
                                    f"Secret {namespace}/{secret} is not created by the stack")
                elif not graph.waits_for_any(record["name"], [maker]):
                    yield Violation("secret", record["name"], field, f"does not wait for Secret {maker}")


CHECKS: list[Callable[..., Iterator[Violation]]] = [
    check_api_dependencies,
    check_create_time_rules,
    check_cluster_dependencies,
    check_controllers,
    check_images,
    check_disk_images,
    check_volume_sources,
    check_buckets,
    check_service_accounts,
    check_secrets,
]


IMAGES_FILE = "images.json"
"""Written by the render next to ``resources.json``: how each image and disk image was obtained."""


def rehearse_render_dir(out_dir: Path) -> list[Violation]:
    """Rehearse the render written to ``out_dir`` (``resources.json`` and, when present, ``images.json``).

    Without ``images.json`` no digest has a known origin, so every pinned image is reported.
    """
    resources = json.loads((out_dir / "resources.json").read_text())
    images_path = out_dir / IMAGES_FILE
    images = json.loads(images_path.read_text()) if images_path.is_file() else []
    return rehearse(resources, images)
