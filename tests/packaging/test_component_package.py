"""The multi-language component package (package/): the schema Pulumi's analyzer infers, offline, and the facades.

The schema is generated in-process by ``pulumi.provider.experimental.component.ComponentProvider`` (the
provider ``component_provider_host`` serves; its ``schema`` is what the GetSchema RPC returns and what
``pulumi package add`` generates every language's SDK from). The facades run under the recording mock engine
(``stack.render.make_recorder`` / ``record_under_mocks``) and must refuse what the Python components refuse,
with the same message, before registering anything.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import typing
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.util import camel_case

from infra import (
    apis,
    boot_disk,
    cluster,
    dashboard,
    filestore,
    gpu_node_pool,
    identity,
    model_disk,
    network,
    placement,
    rapid_cache,
    registry,
    storage,
)
from infra import images as infra_images
from infra.gpu_node_pool import PoolShape
from infra.validation import ComponentArgsError
from package.gke_inference_components import (
    COMPONENTS,
    PACKAGE_NAME,
    capacity,
    gateway,
    gcp,
    images,
    jobs,
    operations,
    package_version,
    platform,
    serving,
    volumes,
)
from package.gke_inference_components.convert import Block, _one
from stack.render import make_recorder, record_under_mocks
from tests.conftest import REPO_ROOT
from workloads import (
    autoscaling,
    batch,
    capacity_buffer,
    compute_class,
    disk_hydrate,
    keda,
    loadtest,
    lws_operator,
    metrics,
    metrics_adapter,
    model_downloader,
    monitoring,
    pod_snapshot,
    smoke_test,
    vllm_server,
    weights,
)
from workloads.gateway import inference_gateway, model_pool, objective_crd
from workloads.vllm_args import EngineSettings

PACKAGE_DIR = REPO_ROOT / "package"
DOC = REPO_ROOT / "docs" / "component-package.md"
EXPOSED = {c.__name__ for c in COMPONENTS}
FACADE_OF = {"ExistingGkeCluster": "GkeCluster"}
"""Facades named unlike the Python component behind them (the existing-cluster form of ``GkeCluster``)."""
IMAGE = "vllm/vllm-openai@sha256:" + "a" * 64
GSA = "vllm@p.iam.gserviceaccount.com"
BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
    "scaleDown": {"stabilizationWindowSeconds": 600, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}]},
}

ARGS: dict[str, tuple[type, type]] = {
    "GpuNodePool": (gcp.GpuNodePoolArgs, gpu_node_pool.GpuNodePoolArgs),
    "ModelBucket": (gcp.ModelBucketArgs, storage.ModelBucketArgs),
    "VllmServer": (serving.VllmServerArgs, vllm_server.VllmServerArgs),
    "VllmAutoscaler": (serving.VllmAutoscalerArgs, autoscaling.VllmAutoscalerArgs),
    "VllmPodMonitoring": (operations.VllmPodMonitoringArgs, monitoring.VllmPodMonitoringArgs),
    "MetricsAdapter": (operations.MetricsAdapterArgs, metrics_adapter.MetricsAdapterArgs),
    "SmokeTest": (operations.SmokeTestArgs, smoke_test.SmokeTestArgs),
    "ProjectApis": (platform.ProjectApisArgs, apis.ProjectApisArgs),
    "Network": (platform.NetworkArgs, network.NetworkArgs),
    "NodeServiceAccount": (platform.NodeServiceAccountArgs, identity.NodeServiceAccountArgs),
    "WorkloadIdentity": (platform.WorkloadIdentityArgs, identity.WorkloadIdentityArgs),
    "ImageRegistry": (platform.ImageRegistryArgs, registry.ImageRegistryArgs),
    "GkeCluster": (platform.GkeClusterArgs, cluster.GkeClusterArgs),
    "ExistingGkeCluster": (platform.ExistingGkeClusterArgs, cluster.ExistingClusterArgs),
    "CompactPlacement": (platform.CompactPlacementArgs, placement.CompactPlacementArgs),
    "ObservabilityDashboard": (platform.ObservabilityDashboardArgs, dashboard.ObservabilityDashboardArgs),
    "RapidCache": (volumes.RapidCacheArgs, rapid_cache.RapidCacheArgs),
    "FilestoreShare": (volumes.FilestoreShareArgs, filestore.FilestoreShareArgs),
    "ModelDisk": (volumes.ModelDiskArgs, model_disk.ModelDiskArgs),
    "TransferNodePool": (volumes.TransferNodePoolArgs, model_disk.TransferNodePoolArgs),
    "HyperdiskMlVolume": (volumes.HyperdiskMlVolumeArgs, disk_hydrate.HyperdiskMlVolumeArgs),
    "ModelVolume": (volumes.ModelVolumeArgs, weights.ModelVolumeArgs),
    "ModelDownloader": (jobs.ModelDownloaderArgs, model_downloader.ModelDownloaderArgs),
    "KedaOperator": (capacity.KedaOperatorArgs, keda.KedaOperatorArgs),
    "VllmScaledObject": (capacity.VllmScaledObjectArgs, keda.VllmScaledObjectArgs),
    "LwsOperator": (capacity.LwsOperatorArgs, lws_operator.LwsOperatorArgs),
    "ComputeClass": (capacity.ComputeClassArgs, compute_class.ComputeClassArgs),
    "CapacityBuffer": (capacity.CapacityBufferArgs, capacity_buffer.CapacityBufferArgs),
    "PodSnapshots": (capacity.PodSnapshotsArgs, pod_snapshot.PodSnapshotsArgs),
    "InferenceGateway": (gateway.InferenceGatewayArgs, inference_gateway.InferenceGatewayArgs),
    "ModelPool": (gateway.ModelPoolArgs, model_pool.ModelPoolArgs),
    "BatchInference": (jobs.BatchInferenceArgs, batch.BatchInferenceArgs),
    "InClusterLoadTest": (jobs.InClusterLoadTestArgs, loadtest.LoadTestArgs),
    "ContainerImage": (images.ContainerImageArgs, infra_images.ContainerImageArgs),
    "ImageBuild": (images.ImageBuildArgs, infra_images.ImageBuildArgs),
    "BootDiskImage": (images.BootDiskImageArgs, boot_disk.BootDiskImageArgs),
    "SnapshotHydratedVolume": (volumes.SnapshotHydratedVolumeArgs, disk_hydrate.SnapshotHydratedVolumeArgs),
    "InferenceObjectiveCrd": (gateway.InferenceObjectiveCrdArgs, objective_crd.InferenceObjectiveCrdArgs),
}
"""Each facade's TypedDict and the validated args dataclass of the component behind it."""
NOT_EXPOSED = {
    # Python objects with no cross-language form: the cluster is given by id/name, pools by name and machine.
    "GpuNodePool": set(),
    "ModelBucket": set(),
    # A replica over several nodes needs the LeaderWorkerSet controller given as a resource to wait for.
    "VllmServer": {"nodes_per_replica", "workload_depends_on"},
    "VllmAutoscaler": set(),
    "VllmPodMonitoring": set(),
    "MetricsAdapter": set(),
    "SmokeTest": set(),
    # (check id, reason) suppressions of this repository's checkov run on the Job: no use to another language.
    "ModelDownloader": {"checkov_skips"},
    # A priority needs the InferenceObjective CRD given as a resource to wait for (InferenceObjectiveCrd).
    "ModelPool": {"priority", "objective_crd"},
    # What the build waits for is the facade's own dependsOn (every child inherits it).
    "BootDiskImage": {"depends_on"},
    # A relative context is one of this package's (under its root); an absolute one names itself.
    "ImageBuild": {"root"},
    # How the digest is obtained and where it is pulled from follow from `image`, `digest`, `docker_hub_proxy`.
    "ContainerImage": {"source", "query", "pull_name", "resource"},
}
"""Dataclass fields a facade leaves out on purpose (the component's default applies)."""
PLAIN_INPUT_FACADES = {"ContainerImage", "ImageBuild", "BootDiskImage", "SnapshotHydratedVolume",
                       "InferenceObjectiveCrd"}
"""Facades whose plain inputs replace Python objects of the component (a resolver's `Source`, a checkout folder,
resources to wait for, a callable making the fill Job); tested in test_plain_input_facades.py."""


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME, version=package_version())
    return json.loads(provider.schema)


def token(component: str) -> str:
    return f"{PACKAGE_NAME}:index:{component}"


def public_components() -> set[str]:
    """Every public ComponentResource class defined in infra/ and workloads/ (sub-packages included)."""
    found = set()
    for package in ("infra", "workloads"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            found |= {name for name, value in vars(module).items()
                      if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
                      and value.__module__ == module.__name__ and not name.startswith("_")}
    return found


def test_every_public_component_is_exposed():
    """Every public component class in infra/ and workloads/ has a facade in the schema and a row in the doc's
    table (a new component fails this until it has both); no component is left out."""
    backed = {FACADE_OF.get(name, name) for name in EXPOSED}
    assert backed == public_components()
    text = DOC.read_text()
    exposed_rows = set(re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE))
    assert exposed_rows == EXPOSED
    assert "Not exposed" not in text


def test_schema_lists_every_exposed_component(schema):
    assert schema["name"] == "gke-inference"
    assert schema["version"] == package_version()
    assert set(schema["resources"]) == {token(c) for c in EXPOSED}
    assert set(ARGS) == EXPOSED
    for name in EXPOSED:
        assert schema["resources"][token(name)]["isComponent"] is True
        assert schema["resources"][token(name)]["description"].strip(), name


def test_every_argument_is_in_the_schema_with_required_ones_marked(schema):
    for name, (typed_dict, _) in ARGS.items():
        resource = schema["resources"][token(name)]
        assert set(resource["inputProperties"]) == {camel_case(k) for k in typed_dict.__annotations__}, name
        assert set(resource.get("requiredInputs", [])) == {camel_case(k) for k in typed_dict.__required_keys__}


def test_every_property_type_and_enum_value_has_a_description(schema):
    undocumented = []
    for tok, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            undocumented += [f"{tok}.{kind}.{k}" for k, p in resource[kind].items() if not p.get("description")]
    for tok, typ in schema["types"].items():
        if not typ.get("description"):
            undocumented.append(tok)
        undocumented += [f"{tok}.{k}" for k, p in typ.get("properties", {}).items() if not p.get("description")]
        undocumented += [f"{tok}.{e['name']}" for e in typ.get("enum", []) if not e.get("description")]
    assert undocumented == []
    backends = [e["value"] for e in schema["types"][token("WeightsBackend")]["enum"]]
    assert sorted(backends) == sorted(weights.BACKENDS)  # every backend the components know, and no other


def test_outputs_are_the_facades_annotated_attributes(schema):
    for component in COMPONENTS:
        outputs = schema["resources"][token(component.__name__)]["properties"]
        assert set(outputs) == {camel_case(k) for k in component.__annotations__}
    assert set(schema["resources"][token("VllmServer")]["properties"]) >= {
        "serviceUrl", "targetApiVersion", "targetKind", "targetName"}


def test_facade_arguments_are_the_component_arguments(schema):
    """Same names as the dataclass fields (so refusals name the facade's argument), none invented, none
    dropped except on purpose."""
    renamed = {  # blocks converted, not copied
        "VllmServer": {"engine", "weights", "pool", "overflow_pool"},
        "ContainerImage": {"image", "docker_hub_proxy"},
        "SnapshotHydratedVolume": {"fill"},
    }
    assert set(NOT_EXPOSED) <= set(ARGS)
    for name, (typed_dict, dataclass) in ARGS.items():
        fields = {f.name for f in dataclasses.fields(dataclass)}
        facade = set(typed_dict.__annotations__)
        assert facade <= fields | renamed.get(name, set()), name
        assert fields - facade == NOT_EXPOSED.get(name, set()), name


def test_serving_pool_is_what_an_existing_pool_shape_takes():
    parameters = set(inspect.signature(PoolShape.existing).parameters) - {"cls", "pool_name"}
    assert set(serving.ServingPool.__annotations__) == parameters | {"name", "spot_shutdown_grace_seconds"}
    spot: serving.ServingPool = {"name": "l4-spot", "machine_type": "g2-standard-8", "spot": True,
                                 "spot_shutdown_grace_seconds": 120}
    assert serving._pool_shape(spot) == dataclasses.replace(
        PoolShape.existing("l4-spot", "g2-standard-8", spot=True),
        spot_pod_grace_seconds=gpu_node_pool.spot_pod_grace_seconds(True, 120))


def test_engine_settings_are_exposed_except_what_the_server_sets():
    fields = {f.name for f in dataclasses.fields(EngineSettings)}
    assert fields - set(serving.Engine.__annotations__) == {"model", "port"}  # --model from weights; port fixed


def test_plugin_manifest_and_entry_point():
    manifest = yaml.safe_load((PACKAGE_DIR / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    # Pulumi runs the plugin from its folder (sys.path[0] = package/): the facades import from there.
    result = subprocess.run(
        [sys.executable, "-c", "import gke_inference_components as p; print(sorted(c.__name__ for c in p.COMPONENTS))"],
        cwd=PACKAGE_DIR, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == str(sorted(EXPOSED))


# --------------------------------------------------------------------------------------------
# Facades under the mock engine
# --------------------------------------------------------------------------------------------


def record(program) -> tuple[list[Any], BaseException | None]:
    """(what ``program`` registered, what it raised)."""
    monitor, mocks = make_recorder()

    def run() -> None:
        program()

    try:
        record_under_mocks(run, "test", monitor, mocks)
    except (ComponentArgsError, ValueError) as err:  # FilestoreShare and ModelDisk args refuse when built
        return monitor.recorded, err
    return monitor.recorded, None


def refusal(program) -> str:
    recorded, err = record(program)
    assert err is not None, "accepted"
    assert recorded == [], "registered before refusing"
    return str(err)


POOL: gcp.GpuNodePoolArgs = {
    "cluster": "projects/p-test/locations/us-central1/clusters/c1", "project": "p-test", "location": "us-central1",
    "node_locations": ["us-central1-a"], "machine_type": "g2-standard-8",
    "service_account": "nodes@p-test.iam.gserviceaccount.com",
}
SERVER: serving.VllmServerArgs = {
    "namespace": "llm", "image": IMAGE, "engine": {"served_model_name": "m"},
    "weights": {"backend": serving.WeightsBackend.GCSFUSE, "gcsfuse": {
        "bucket_name": "b", "prefix": "models/m/r", "file_cache": serving.GcsFuseFileCache.LOCAL_SSD,
        "model_bytes": 16e9}},
    "pool": {"name": "l4", "machine_type": "g2-standard-8", "ephemeral_local_ssd": True},
    "google_service_account": GSA, "weight_bytes": 16e9,
}


def direct_server_args(**change: Any) -> vllm_server.VllmServerArgs:
    """What SERVER means for the Python component."""
    mount = weights.gcsfuse_weights(weights.GcsFuseArgs("b", "models/m/r", "localSsd", 16e9))
    base = vllm_server.VllmServerArgs(
        namespace="llm", image=IMAGE, engine=EngineSettings(served_model_name="m"), weights=mount,
        pool=PoolShape.existing("l4", "g2-standard-8", ephemeral_local_ssd=True), google_service_account=GSA,
        weight_bytes=16e9,
    )
    return dataclasses.replace(base, **change)


def test_gpu_node_pool_refuses_like_the_component():
    facade = refusal(lambda: gcp.GpuNodePool("p", {**POOL, "machine_type": "n2-standard-8", "max_nodes": 0}))
    direct = refusal(lambda: gpu_node_pool.GpuNodePool("p", gcp.gpu_node_pool_args("p", {
        **POOL, "machine_type": "n2-standard-8", "max_nodes": 0})))
    assert facade == direct
    assert "machine_type" in facade


def test_model_bucket_refuses_like_the_component():
    bad: gcp.ModelBucketArgs = {"project": "p-test", "name": "google-models", "location": "us-central1",
                                "versioning": True}
    facade = refusal(lambda: gcp.ModelBucket("m", bad))
    direct = refusal(lambda: storage.ModelBucket("m", storage.ModelBucketArgs(
        "p-test", "google-models", "us-central1", versioning=True)))
    assert facade == direct
    assert "ModelBucket 'm': 2 invalid arguments" in facade


def test_vllm_server_refuses_like_the_component():
    engine: serving.Engine = {"served_model_name": "m", "tensor_parallel_size": 2}
    facade = refusal(lambda: serving.VllmServer("s", {**SERVER, "engine": engine, "replicas": 0}))
    direct = refusal(lambda: vllm_server.VllmServer("s", direct_server_args(
        engine=EngineSettings(served_model_name="m", tensor_parallel_size=2), replicas=0)))
    assert facade == direct
    assert "engine.tensor_parallel_size" in facade and "replicas" in facade


def test_vllm_autoscaler_refuses_like_the_component():
    bad: serving.VllmAutoscalerArgs = {
        "namespace": "llm", "target": {"api_version": "apps/v1", "kind": "Deployment", "name": "s"},
        "min_replicas": 0, "max_replicas": 2, "goals": [{"metric": "vllm:num_requests_waiting", "target": 5.0}],
        "behavior": BEHAVIOR,
    }
    facade = refusal(lambda: serving.VllmAutoscaler("a", bad))
    direct = refusal(lambda: autoscaling.VllmAutoscaler("a", autoscaling.VllmAutoscalerArgs(
        "llm", autoscaling.ScaleTarget("apps/v1", "Deployment", "s"), 0, 2,
        (autoscaling.MetricGoal(metrics.lookup("vllm:num_requests_waiting"), 5.0),), BEHAVIOR)))
    assert facade == direct
    assert "min_replicas" in facade



def test_vllm_autoscaler_facade_passes_a_pool_gauge_its_pool():
    args: serving.VllmAutoscalerArgs = {
        "namespace": "llm", "target": {"api_version": "apps/v1", "kind": "Deployment", "name": "s"},
        "min_replicas": 1, "max_replicas": 2, "cluster": "c1", "workload_namespace": "llm",
        "goals": [{"metric": "llm_d_epp_average_queue_size", "target": 5.0, "pool": "s"}], "behavior": BEHAVIOR,
    }
    converted = serving.vllm_autoscaler_args("a", args)
    assert [(g.metric.name, g.target, g.pool) for g in converted.goals] == [("llm_d_epp_average_queue_size", 5.0, "s")]
    without_pool = {**args, "goals": [{"metric": "llm_d_epp_average_queue_size", "target": 5.0}]}
    assert "pool" in refusal(lambda: serving.VllmAutoscaler("a", without_pool))  # type: ignore[arg-type]


FLAT_REFUSALS = [
    pytest.param(operations.VllmPodMonitoring, monitoring.VllmPodMonitoring, monitoring.VllmPodMonitoringArgs,
                 {"namespace": "llm", "selector_labels": {"app": "vllm"}, "interval": "10s", "timeout": "30s",
                  "target_labels": ["container"]}, id="VllmPodMonitoring"),
    pytest.param(operations.MetricsAdapter, metrics_adapter.MetricsAdapter, metrics_adapter.MetricsAdapterArgs,
                 {"google_service_account": GSA, "image": "example.com/adapter:latest", "replicas": 0},
                 id="MetricsAdapter"),
    pytest.param(operations.SmokeTest, smoke_test.SmokeTest, smoke_test.SmokeTestArgs,
                 {"namespace": "llm", "image": "python:3.12", "target_url": "http://s.llm.svc.cluster.local:8000",
                  "model": "m", "attempts": 0}, id="SmokeTest"),
]


@pytest.mark.parametrize(("facade", "component", "dataclass", "bad"), FLAT_REFUSALS)
def test_flat_facades_refuse_like_their_component(facade, component, dataclass, bad):
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in bad.items()}
    message = refusal(lambda: facade("x", bad))
    assert message == refusal(lambda: component("x", dataclass(**converted)))
    assert message.startswith(f"{component.__name__} 'x': ")


def test_weights_blocks_are_refused_by_their_path():
    no_block = {**SERVER, "weights": {"backend": serving.WeightsBackend.RUNAI_STREAMER}}
    assert refusal(lambda: serving.VllmServer("s", no_block)) == (  # type: ignore[arg-type]
        "VllmServer 's': 1 invalid argument, nothing was created:\n"
        "  weights.runai_streamer: required with the runaiStreamer backend")
    bad_prefix = {**SERVER, "weights": {**SERVER["weights"], "gcsfuse": {**SERVER["weights"]["gcsfuse"],
                                                                         "prefix": "/abs"}}}
    message = refusal(lambda: serving.VllmServer("s", bad_prefix))  # type: ignore[arg-type]
    assert "weights.gcsfuse.prefix: '/abs' must be a relative object prefix" in message
    unknown_metric = {"namespace": "llm", "target": {"api_version": "apps/v1", "kind": "Deployment", "name": "s"},
                      "min_replicas": 1, "max_replicas": 2, "goals": [{"metric": "vllm:nope", "target": 1.0}],
                      "behavior": BEHAVIOR}
    assert "goals.0.metric: 'vllm:nope' is not a registered metric" in refusal(
        lambda: serving.VllmAutoscaler("a", unknown_metric))  # type: ignore[arg-type]


def test_missing_required_arguments_are_named():
    args = {k: v for k, v in POOL.items() if k != "machine_type"}
    assert refusal(lambda: gcp.GpuNodePool("p", args)) == (  # type: ignore[arg-type]
        "GpuNodePool 'p': 1 invalid argument, nothing was created:\n  machine_type: required; set it")


def test_vllm_server_facade_renders_what_the_component_renders():
    """The facade registers under its own token with the Python component as its only child, whose objects
    are exactly the ones the component registers when called directly with the equivalent args."""
    via_facade, err = record(lambda: serving.VllmServer("s", SERVER))
    assert err is None
    direct, err = record(lambda: vllm_server.VllmServer("s", direct_server_args()))
    assert err is None
    roots = [(r.type, r.name, r.parent) for r in via_facade if r.parent in (None, "s") and r.type.startswith(
        "gke-inference:")]
    assert roots == [("gke-inference:index:VllmServer", "s", None), ("gke-inference:workloads:VllmServer", "s", "s")]

    def objects(recorded):
        return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in recorded
                      if not r.type.startswith("gke-inference:"))

    assert objects(via_facade) == objects(direct)
    assert len(objects(direct)) >= 5  # service account, probe ConfigMap, Deployment, Service, NetworkPolicy


def test_kubernetes_provider_given_to_a_facade_reaches_every_object():
    """What a consumer in another language passes as `providers` (the construct request's options)."""

    def program() -> None:
        provider = k8s.Provider("cluster-k8s", kubeconfig="{}")
        serving.VllmServer("s", SERVER, opts=pulumi.ResourceOptions(providers=[provider]))

    recorded, err = record(program)
    assert err is None
    objects = [r for r in recorded if r.custom and r.type.startswith("kubernetes:")]
    assert objects and {r.provider for r in objects} == {"cluster-k8s"}


def test_gpu_node_pool_facade_passes_every_argument_through():
    disk: gcp.SecondaryBootDisk = {"disk_image": "global/images/vllm-cache"}
    given: gcp.GpuNodePoolArgs = {**POOL, "spot": True, "max_nodes": 3, "local_ssd_mode": gcp.LocalSsdMode.NONE,
                                  "secondary_boot_disks": [disk], "labels": {"team": "ml"}}
    assert gcp.gpu_node_pool_args("p", given) == dataclasses.replace(
        gpu_node_pool.GpuNodePoolArgs(
            cluster=POOL["cluster"], node_locations=("us-central1-a",), machine_type="g2-standard-8",
            service_account=POOL["service_account"], project="p-test", location="us-central1"),
        spot=True, max_nodes=3, local_ssd_mode="none", labels={"team": "ml"},
        secondary_boot_disks=(gpu_node_pool.SecondaryBootDiskArgs("global/images/vllm-cache"),),
    )
    recorded, err = record(lambda: gcp.GpuNodePool("p", given))
    assert err is None
    assert [(r.type, r.name, r.parent) for r in recorded if r.type.startswith("gke-inference:")] == [
        ("gke-inference:index:GpuNodePool", "p", None), ("gke-inference:infra:GpuNodePool", "p", "p")]


def test_typed_dicts_use_only_types_the_analyzer_accepts():
    """No ``from __future__ import annotations`` in the facades: the analyzer reads ``__init__``'s raw
    annotations, and a string would not be a TypedDict."""
    for component in COMPONENTS:
        assert typing.is_typeddict(component.__init__.__annotations__["args"]), component.__name__


# --------------------------------------------------------------------------------------------
# Every other facade: accepted with valid arguments, refused like its component with one bad one
# --------------------------------------------------------------------------------------------

DIGEST_IMAGE = "example.com/x@sha256:" + "a" * 64
VALID: dict[str, dict[str, Any]] = {
    "ProjectApis": {"project": "p-test"},
    "Network": {
        "project": "p-test",
        "region": "us-central1",
        "network_name": "net",
        "subnet_cidr": "10.0.0.0/20",
        "pods_cidr": "10.4.0.0/14",
        "services_cidr": "10.8.0.0/20",
    },
    "NodeServiceAccount": {"project": "p-test", "account_id": "gke-nodes"},
    "WorkloadIdentity": {"project": "p-test", "account_id": "vllm-reader", "namespace": "llm", "ksa_name": "vllm"},
    "ImageRegistry": {
        "project": "p-test",
        "location": "us-central1",
        "repository_id": "images",
        "docker_hub_proxy_id": "dockerhub",
        "reader": "serviceAccount:" + GSA,
    },
    "GkeCluster": {
        "project": "p-test",
        "name": "c1",
        "location": "us-central1",
        "network": "net",
        "subnetwork": "sub",
        "pods_range_name": "pods",
        "services_range_name": "services",
        "node_service_account": GSA,
        "master_authorized_networks": [{"cidr": "203.0.113.0/24", "name": "office"}],
        "system_pool": {"max_nodes": 2},
    },
    "ExistingGkeCluster": {"project": "p-test", "name": "c1", "location": "us-central1"},
    "CompactPlacement": {"project": "p-test", "region": "us-central1", "policy_name": "compact"},
    "ObservabilityDashboard": {
        "project": "p-test",
        "display_name": "vLLM",
        "panels": [{"title": "queue", "series": [{"legend": "waiting", "promql": "sum(vllm:num_requests_waiting)"}]}],
        "alerts": [
            {
                "name": "queue",
                "display_name": "Queue",
                "promql": "sum(vllm:num_requests_waiting) > 10",
                "duration_seconds": 300,
                "severity": "WARNING",
                "documentation": "Scale up.",
            }
        ],
    },
    "RapidCache": {"bucket": "b", "bucket_location": "us-central1", "zones": ["us-central1-a"]},
    "FilestoreShare": {"project": "p-test", "instance_name": "models", "location": "us-central1-a", "network": "net"},
    "ModelDisk": {
        "project": "p-test",
        "disk_name": "model",
        "zones": ["us-central1-a"],
        "disk_type": "pd-ssd",
        "size_gb": 100,
        "snapshot": "global/snapshots/model",
    },
    "TransferNodePool": {
        "project": "p-test",
        "cluster": "projects/p-test/locations/us-central1/clusters/c1",
        "location": "us-central1",
        "node_locations": ["us-central1-a"],
        "service_account": GSA,
    },
    "HyperdiskMlVolume": {
        "namespace": "llm",
        "claim_name": "weights",
        "source_uri": "gs://b/models/m/",
        "service_account_name": "transfer",
        "gcp_service_account": GSA,
        "zones": ["us-central1-a"],
        "size_gb": 100,
        "throughput_mibps": 2400,
        "timeout_seconds": 3600,
    },
    "ModelVolume": {
        "namespace": "llm",
        "capacity_gb": 100,
        "access_mode": "ReadOnlyMany",
        "source": {"nfs": {"server": "10.0.0.2", "path": "/models"}},
    },
    "ModelDownloader": {
        "namespace": "llm",
        "image": DIGEST_IMAGE,
        "repo_id": "Qwen/Qwen2.5-1.5B-Instruct",
        "revision": "a" * 40,
        "destination": "gs://b/models/q/a",
        "service_account_name": "downloader",
    },
    "KedaOperator": {"google_service_account": GSA},
    "VllmScaledObject": {
        "namespace": "llm",
        "target": {"api_version": "apps/v1", "kind": "Deployment", "name": "s"},
        "project": "p-test",
        "triggers": [
            {
                "name": "waiting",
                "query": "sum(vllm:num_requests_waiting)",
                "threshold": 5.0,
                "activation_threshold": 0.5,
            }
        ],
        "min_replicas": 0,
        "max_replicas": 2,
        "behavior": BEHAVIOR,
    },
    "LwsOperator": {},
    "ComputeClass": {
        "name": "l4",
        "priorities": [
            {"kind": capacity.ComputeClassRuleKind.EXISTING_POOLS, "pools": ["l4"]},
            {"kind": capacity.ComputeClassRuleKind.SPOT, "shape": {"machine_type": "g2-standard-8"}},
        ],
    },
    "CapacityBuffer": {
        "namespace": "llm",
        "name": "buffer",
        "replicas": 1,
        "chunk": {"requests": {"nvidia.com/gpu": "1"}, "image": DIGEST_IMAGE},
    },
    "PodSnapshots": {
        "namespace": "llm",
        "name": "snap",
        "bucket": "b",
        "selector": {"app": "vllm"},
        "weights_backend": "runaiStreamer",
    },
    "InferenceGateway": {"namespace": "llm", "payload_processor_image": DIGEST_IMAGE},
    "ModelPool": {
        "namespace": "llm",
        "served_model_name": "m",
        "selector_labels": {"app": "vllm"},
        "picker_image": DIGEST_IMAGE,
        "gateway": {"name": "gw", "namespace": "llm"},
        "adapters": ["m-lora"],
    },
    "BatchInference": {
        "namespace": "llm",
        "image": DIGEST_IMAGE,
        "weights": {
            "backend": serving.WeightsBackend.RUNAI_STREAMER,
            "runai_streamer": {"bucket_name": "b", "prefix": "models/m/r"},
        },
        "bucket_name": "b",
        "served_model_name": "m",
        "pool": {"name": "l4", "machine_type": "g2-standard-8"},
        "gcp_service_account": GSA,
    },
    "InClusterLoadTest": {
        "namespace": "llm",
        "name": "lt",
        "image": DIGEST_IMAGE,
        "files": {"__main__.py": "print(1)"},
        "target_url": "http://s.llm.svc.cluster.local:8000",
        "model": "m",
        "bucket_name": "b",
        "google_service_account": GSA,
    },
}

BAD: dict[str, tuple[str, Any, str]] = {
    # facade: (argument, bad value, what the refusal names)
    "ProjectApis": ("services", ["container"], "services"),
    "Network": ("subnet_cidr", "10.0.0.0/33", "subnet_cidr"),
    "NodeServiceAccount": ("account_id", "x", "account_id"),
    "WorkloadIdentity": ("ksa_name", "Bad_Name", "ksa_name"),
    "GkeCluster": ("master_authorized_networks", [{"cidr": "nope", "name": "x"}], "master_authorized_networks.0"),
    "ExistingGkeCluster": ("project", "Bad Project", "project"),
    "CompactPlacement": ("policy_name", "Bad_Name", "policy_name"),
    "ObservabilityDashboard": ("evaluation_interval_seconds", 45, "evaluation_interval_seconds"),
    "RapidCache": ("zones", ["europe-west1-b"], "zones"),
    "FilestoreShare": ("location", "us-central1", "location"),
    "ModelDisk": ("zones", ["us-central1-a", "us-central1-b"], "zones"),
    "HyperdiskMlVolume": ("size_gb", 2, "size_gb"),
    "ModelVolume": ("access_mode", "Sometimes", "access_mode"),
    "ModelDownloader": ("revision", "main", "revision"),
    "KedaOperator": ("namespace", "Bad_NS", "namespace"),
    "VllmScaledObject": ("max_replicas", 0, "max_replicas"),
    "LwsOperator": ("chart_version", "v0.10.0", "chart_version"),
    "ComputeClass": ("when_unsatisfiable", "Sometimes", "when_unsatisfiable"),
    "CapacityBuffer": ("replicas", -1, "replicas"),
    "PodSnapshots": ("weights_backend", "gcsfuse", "weights_backend"),
    "InferenceGateway": ("gateway_class", "external", "gateway_class"),
    "ModelPool": ("target_port", 0, "target_port"),
    "BatchInference": ("parallelism", 0, "parallelism"),
    "InClusterLoadTest": ("deadline_seconds", 0, "deadline_seconds"),
}
"""One bad argument per facade whose component validates its arguments."""
NO_VALIDATOR = {"ImageRegistry", "TransferNodePool"}
"""Components that check nothing but their required arguments (the facade refuses a missing one)."""
CUSTOM_CONVERSION = {
    "ComputeClass": capacity.compute_class_args,
    "BatchInference": jobs.batch_inference_args,
    "ModelPool": gateway.model_pool_args,
}
NESTED_BLOCKS = {
    "GkeCluster": platform._CLUSTER, "ObservabilityDashboard": platform._DASHBOARD, "CapacityBuffer": capacity._BUFFER,
    "VllmScaledObject": capacity._SCALED, "ModelDownloader": jobs._DOWNLOADER, "InferenceGateway": gateway._GATEWAY,
}


def facade_class(name: str) -> type[pulumi.ComponentResource]:
    return next(c for c in COMPONENTS if c.__name__ == name)


def component_class(name: str) -> Any:
    """The Python component behind a facade (found beside its args dataclass)."""
    return getattr(importlib.import_module(ARGS[name][1].__module__), FACADE_OF.get(name, name))


def converted(name: str, args: dict[str, Any]) -> Any:
    """The args dataclass the facade's arguments mean, unvalidated (what a Python caller would pass)."""
    if name in CUSTOM_CONVERSION:
        return CUSTOM_CONVERSION[name]("x", args)
    real, problems = _one(args, NESTED_BLOCKS.get(name) or Block(*ARGS[name]), "")
    assert problems == []
    return real


def test_the_cases_cover_every_facade_without_its_own_test():
    own_tests = {"GpuNodePool", "ModelBucket", "VllmServer", "VllmAutoscaler", "VllmPodMonitoring", "MetricsAdapter",
                 "SmokeTest", *PLAIN_INPUT_FACADES}
    assert set(VALID) == EXPOSED - own_tests
    assert set(BAD) == set(VALID) - NO_VALIDATOR


@pytest.mark.parametrize("name", sorted(VALID))
def test_facade_accepts_valid_arguments_and_wraps_its_component(name):
    recorded, err = record(lambda: facade_class(name)("x", VALID[name]))
    assert err is None
    ours = [(r.type, r.parent) for r in recorded if r.type.startswith("gke-inference:")]
    assert ours[0] == (token(name), None)
    assert ours[1][1] == "x" and ours[1][0].endswith(f":{FACADE_OF.get(name, name)}")


@pytest.mark.parametrize("name", sorted(BAD))
def test_facade_refuses_like_its_component(name):
    key, value, path = BAD[name]
    bad = {**VALID[name], key: value}
    message = refusal(lambda: facade_class(name)("x", bad))
    assert message == refusal(lambda: component_class(name)("x", converted(name, bad)))
    assert path in message


@pytest.mark.parametrize("name", sorted(NO_VALIDATOR))
def test_facade_without_a_component_validator_refuses_a_missing_argument(name):
    required = sorted(ARGS[name][0].__required_keys__)[0]
    args = {k: v for k, v in VALID[name].items() if k != required}
    assert refusal(lambda: facade_class(name)("x", args)) == (
        f"{name} 'x': 1 invalid argument, nothing was created:\n  {required}: required; set it")


def test_compute_class_rules_are_refused_by_their_path():
    wrong = {"name": "l4", "priorities": [{"kind": capacity.ComputeClassRuleKind.EXISTING_POOLS,
                                           "shape": {"machine_type": "g2-standard-8"}}]}
    message = refusal(lambda: capacity.ComputeClass("x", wrong))  # type: ignore[arg-type]
    assert "priorities.0.shape: not a setting of a existingPools rule" in message
    assert "priorities.0.pools: required for a existingPools rule" in message
