"""ComputeClass: the fallback order rendered exactly, valid against the vendored schema, and every refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stack.checks import crds
from workloads.compute_class import (
    ComputeClass,
    ComputeClassArgs,
    ExistingPools,
    FlexStart,
    OnDemand,
    Reservation,
    Shape,
    Spot,
    compute_class_manifest,
    pod_scheduling,
    pool_node_labels,
    pool_node_taint,
    validate_compute_class_args,
)

H100 = Shape(machine_type="a3-highgpu-1g")
CHAIN = (
    Reservation(H100, names=("h100-res",), project="res-project"),
    Reservation(H100),
    OnDemand(H100),
    FlexStart(H100, node_recycling_lead_seconds=3600),
    FlexStart(H100, max_run_duration_seconds=86400),
    Spot(H100),
    ExistingPools(("h100-spot",)),
)
ARGS = ComputeClassArgs(
    name="h100-serving", priorities=CHAIN, node_pool_auto_creation=True, gke_version="1.35.2-gke.1842000",
    model_bytes=32e9, gpus_per_replica=1, labels={"app": "vllm"},
)
GPU = {"type": "nvidia-h100-80gb", "count": 1}


def test_exact_children_and_spec(recorder):
    rec = recorder.run(lambda: ComputeClass("h100", ARGS))
    assert rec.tree() == {
        ("gke-inference:workloads:ComputeClass", "h100", None),
        ("kubernetes:cloud.google.com/v1:ComputeClass", "h100-compute-class", "h100"),
    }
    assert rec.inputs("h100-compute-class") == {
        "apiVersion": "cloud.google.com/v1",
        "kind": "ComputeClass",
        "metadata": {"name": "h100-serving", "labels": {"app": "vllm"}},
        "spec": {
            "priorities": [
                {"machineType": "a3-highgpu-1g", "gpu": GPU, "storage": {"localSSDCount": 2},
                 "reservations": {"affinity": "Specific",
                                  "specific": [{"name": "h100-res", "project": "res-project"}]}},
                {"machineType": "a3-highgpu-1g", "gpu": GPU, "storage": {"localSSDCount": 2},
                 "reservations": {"affinity": "AnyBestEffort"}},
                {"machineType": "a3-highgpu-1g", "gpu": GPU, "spot": False},
                {"machineType": "a3-highgpu-1g", "gpu": GPU,
                 "flexStart": {"enabled": True, "nodeRecycling": {"leadTimeSeconds": 3600}}},
                {"machineType": "a3-highgpu-1g", "gpu": GPU, "flexStart": {"enabled": True},
                 "maxRunDurationSeconds": 86400},
                {"machineType": "a3-highgpu-1g", "gpu": GPU, "spot": True},
                {"nodepools": ["h100-spot"]},
            ],
            "activeMigration": {"optimizeRulePriority": True},
            "nodePoolAutoCreation": {"enabled": True},
            "whenUnsatisfiable": "DoNotScaleUp",
        },
    }


def test_rendered_object_is_valid_against_the_vendored_schema(recorder):
    rendered = recorder.run(lambda: ComputeClass("h100", ARGS)).inputs("h100-compute-class")
    assert crds.validate_custom(rendered) == []
    zonal = replace(ARGS, priorities=(Spot(Shape(gpu_type="nvidia-l4", gpu_count=1, zones=("us-central1-a",))),),
                    description="L4 spot", when_unsatisfiable="ScaleUpAnyway")
    assert crds.validate_custom(compute_class_manifest(zonal)) == []
    assert compute_class_manifest(zonal)["spec"]["priorities"] == [
        {"gpu": {"type": "nvidia-l4", "count": 1}, "location": {"zones": ["us-central1-a"]}, "spot": True}
    ]


def test_the_schema_check_would_catch_a_bad_rendering():
    broken = compute_class_manifest(ARGS)
    broken["spec"]["priorities"][3]["flexStart"]["nodeRecycling"]["leadTimeSeconds"] = 0
    fields = [v.field for v in crds.validate_custom(broken)]
    assert fields == ["spec.priorities[3].flexStart.nodeRecycling.leadTimeSeconds"]


def test_pod_and_pool_helpers_select_the_class():
    assert pod_scheduling("h100-serving") == {
        "nodeSelector": {"cloud.google.com/compute-class": "h100-serving"},
        "tolerations": [{"key": "cloud.google.com/compute-class", "operator": "Equal", "value": "h100-serving",
                         "effect": "NoSchedule"}],
    }
    assert pool_node_labels("h100-serving") == {"cloud.google.com/compute-class": "h100-serving"}
    assert pool_node_taint("h100-serving") == {"key": "cloud.google.com/compute-class", "value": "h100-serving",
                                               "effect": "NO_SCHEDULE"}


def test_the_component_exposes_the_scheduling(recorder):
    component = recorder.run(lambda: ComputeClass("h100", ARGS)).value
    assert component.class_name == "h100-serving"
    assert component.scheduling == pod_scheduling("h100-serving")


REFUSALS = [
    (dict(name="H100_Serving"), "name",
     "'H100_Serving' is not a valid ComputeClass name: at most 253 lowercase letters, digits, '-' or '.', "
     "alphanumeric at both ends"),
    (dict(priorities=()), "priorities", "give at least one rule (the most preferred first)"),
    (dict(priorities=(OnDemand(Shape(machine_type="a3-highgpu-1g", machine_family="a3")),)),
     "priorities.0.shape.machine_family",
     "give machine_type or machine_family, not both (ComputeClass CEL rule, "
     "https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass)"),
    (dict(priorities=(OnDemand(Shape(machine_family="a3-highgpu1x", gpu_type="nvidia-h100-80gb", gpu_count=1)),)),
     "priorities.0.shape.machine_family", "'a3-highgpu1x' is longer than 10 characters (schema)"),
    (dict(priorities=(OnDemand(Shape(gpu_type="nvidia-h100", gpu_count=1)),)), "priorities.0.shape.gpu_type",
     "'nvidia-h100' is not a GPU type; one of nvidia-a100-80gb, nvidia-b200, nvidia-h100-80gb, "
     "nvidia-h100-mega-80gb, nvidia-h200-141gb, nvidia-l4, nvidia-tesla-a100, nvidia-tesla-t4"),
    (dict(priorities=(OnDemand(Shape(machine_type="a3-highgpu-1g", gpu_type="nvidia-l4")),)),
     "priorities.0.shape.gpu_type", "a3-highgpu-1g carries nvidia-h100-80gb, not nvidia-l4; drop gpu_type or change "
                                    "the machine"),
    (dict(priorities=(OnDemand(Shape(machine_type="a3-highgpu-1g", gpu_count=2)),)),
     "priorities.0.shape.gpu_count", "a3-highgpu-1g carries 1 GPU(s), not 2; drop gpu_count or change the machine"),
    (dict(priorities=(OnDemand(Shape(gpu_type="nvidia-l4", gpu_count=0)),)), "priorities.0.shape.gpu_count",
     "0: a GPU rule needs at least 1 GPU"),
    (dict(priorities=(Spot(Shape(machine_family="a3")),)), "priorities.0.shape",
     "name the GPUs: a GPU machine type from infra/catalog.py (a2-highgpu-1g, a2-highgpu-2g, a2-highgpu-4g, ...), "
     "or gpu_type and gpu_count"),
    (dict(priorities=(Spot(replace(H100, zones=("us-central1-a", "us-central1-a"))),)), "priorities.0.shape.zones.1",
     "'us-central1-a' is listed twice; each zone may appear once"),
    (dict(priorities=(OnDemand(Shape(machine_type="g2-standard-8")),)), "priorities.0.shape",
     "32 GB of weights do not fit 1× L4 (22 GB usable at 0.9, of which at most 80% may hold weights); drop this "
     "rule or use a shape with more GPU memory"),
    (dict(priorities=(OnDemand(H100),), gpus_per_replica=2), "priorities.0.shape",
     "a replica uses 2 GPUs (gpus_per_replica) but this shape has 1 H100 80GB per node; pick a shape with at least 2"),
    (dict(priorities=(ExistingPools(()),)), "priorities.0.pools", "name at least one node pool"),
    (dict(priorities=(ExistingPools(("a", "a")),)), "priorities.0.pools.1",
     "'a' is listed twice; each node pool may appear once"),
    (dict(priorities=(ExistingPools(("a",)), ExistingPools(("a",)))), "priorities",
     "'a' is listed twice; each node pool (across rules) may appear once"),
    (dict(priorities=(Reservation(Shape(gpu_type="nvidia-h100-80gb", gpu_count=1)),)), "priorities.0.shape",
     "a reservation rule needs machine_type or machine_family (https://cloud.google.com/kubernetes-engine/docs/"
     "concepts/about-custom-compute-classes, 'Auto-create node pools to consume reservations')"),
    (dict(priorities=(Reservation(H100),), node_pool_auto_creation=False), "priorities.0",
     "a reservation rule needs node_pool_auto_creation (GKE creates the pools that consume it); for a pool you bound "
     "to a reservation yourself, list that pool in a pools rule (ExistingPools)"),
    (dict(priorities=(Reservation(H100, project="other"),)), "priorities.0.project",
     "a project applies to named (specific) reservations only; any-matching reservations take no name or project"),
    (dict(priorities=(Reservation(H100, names=("r", "r")),)), "priorities.0.names.1",
     "'r' is listed twice; each reservation may appear once"),
    (dict(priorities=(FlexStart(H100, node_recycling_lead_seconds=0),)),
     "priorities.0.node_recycling_lead_seconds", "0 is outside 1–604800 (schema)"),
    (dict(priorities=(FlexStart(H100, max_run_duration_seconds=700000),)), "priorities.0.max_run_duration_seconds",
     "700000 is outside 1–604800: flex-start VMs run at most seven days "
     "(https://cloud.google.com/kubernetes-engine/docs/concepts/dws)"),
    (dict(priorities=(FlexStart(H100, node_recycling_lead_seconds=3600, max_run_duration_seconds=3600),)),
     "priorities.0.node_recycling_lead_seconds",
     "3600 s is not shorter than the node's run (3600 s): replacements would start at once"),
    (dict(gpus_per_replica=0, priorities=(ExistingPools(("a",)),)), "gpus_per_replica",
     "0: a replica uses at least 1 GPU"),
    (dict(gpu_memory_utilization=1.5), "gpu_memory_utilization", "1.5 is outside (0, 1]"),
    (dict(gke_version="1.32.1", cluster_autoprovisioning=True), "gke_version",
     "'1.32.1' is older than 1.32.2-gke.1652000, which a ComputeClass flex-start rule needs "
     "(https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass (flexStart)); raise the cluster "
     "version or turn the feature off"),
    (dict(gke_version="1.31.0-gke.1", cluster_autoprovisioning=True, priorities=(Reservation(H100),)), "gke_version",
     "'1.31.0-gke.1' is older than 1.31.1-gke.2105000, which a ComputeClass reservation rule needs "
     "(https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass (reservations)); raise the "
     "cluster version or turn the feature off"),
    (dict(gke_version="1.30.1", cluster_autoprovisioning=True, priorities=(ExistingPools(("a",)),)), "gke_version",
     "'1.30.1' is older than 1.30.3-gke.1451000, which a custom ComputeClass needs "
     "(https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes); raise the cluster "
     "version or turn the feature off"),
    (dict(gke_version="1.33.2", priorities=(Spot(H100),)), "node_pool_auto_creation",
     "before GKE 1.33.3-gke.1136000 node pool auto-creation needs cluster node auto-provisioning "
     "(https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes); set "
     "cluster_autoprovisioning or raise gke_version"),
    (dict(gke_version="latest"), "gke_version", "'latest' is not a GKE version like 1.35 or 1.35.2-gke.1842000"),
]


@pytest.mark.parametrize(("change", "path", "reason"), REFUSALS, ids=[r[1] + ":" + r[2][:30] for r in REFUSALS])
def test_refusals(recorder, change, path, reason):
    args = replace(ARGS, **change)
    assert recorder.refused(lambda: ComputeClass("h100", args)) == [(path, reason)]


def test_type_errors_are_named():
    args = replace(ARGS, priorities=("a3-highgpu-1g",))  # type: ignore[arg-type]
    assert [p.property_path for p in validate_compute_class_args(args)] == ["priorities"]


def test_partial_versions_and_autoprovisioning_pass():
    assert validate_compute_class_args(replace(ARGS, gke_version="1.35")) == []
    assert validate_compute_class_args(replace(ARGS, gke_version="1.33.2", priorities=(Spot(H100),),
                                               cluster_autoprovisioning=True)) == []
    assert validate_compute_class_args(replace(ARGS, gke_version=None, model_bytes=None)) == []
