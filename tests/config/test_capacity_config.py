"""Capacity config sections: YAML → component args, the components' own rules under YAML paths, and the price of
each rule of a fallback order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stack.config import format_errors
from stack.config.capacity import (
    CapacityBufferConfig,
    ComputeClassConfig,
    PodSnapshotConfig,
    price_fallback_order,
)
from stack.config.planning import MachinePriceOverride
from workloads import capacity_buffer as cb
from workloads import compute_class as cc
from workloads.pod_snapshot import RECIPE

H100 = {"machineType": "a3-highgpu-1g"}
CLASS = {
    "name": "h100-serving",
    "nodePoolAutoCreation": True,
    "priorities": [
        {"type": "reservation", **H100, "reservations": ["h100-res"], "reservationProject": "res-p"},
        {"type": "onDemand", **H100},
        {"type": "flexStart", **H100, "nodeRecyclingLeadSeconds": 3600},
        {"type": "spot", "gpuType": "nvidia-l4", "gpuCount": 1, "zones": ["us-central1-a"]},
        {"type": "pools", "pools": ["l4-spot"]},
    ],
}


def errors(model: type, raw: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(raw)
    return format_errors(caught.value)


def test_compute_class_section_maps_onto_the_component_args():
    args = ComputeClassConfig.model_validate(CLASS).to_args(gke_version="1.35", model_bytes=16e9, gpus_per_replica=1)
    assert args == cc.ComputeClassArgs(
        name="h100-serving",
        priorities=(
            cc.Reservation(cc.Shape("a3-highgpu-1g"), ("h100-res",), "res-p"),
            cc.OnDemand(cc.Shape("a3-highgpu-1g")),
            cc.FlexStart(cc.Shape("a3-highgpu-1g"), 3600, None),
            cc.Spot(cc.Shape(gpu_type="nvidia-l4", gpu_count=1, zones=("us-central1-a",))),
            cc.ExistingPools(("l4-spot",)),
        ),
        node_pool_auto_creation=True, gke_version="1.35", model_bytes=16e9, gpus_per_replica=1,
    )
    assert cc.validate_compute_class_args(args) == []


def test_compute_class_section_reports_the_components_rules_under_its_fields():
    raw = {"name": "h100", "priorities": [
        {"type": "flexStart", **H100, "nodeRecyclingLeadSeconds": 0},
        {"type": "reservation", **H100, "reservations": ["a", "a"]},
        {"type": "onDemand", "machineType": "a3-highgpu-1g", "machineFamily": "a3"},
    ]}
    assert errors(ComputeClassConfig, raw) == [
        "platform.priorities.0.nodeRecyclingLeadSeconds: 0 is outside 1–604800 (schema)",
        "platform.priorities.1: a reservation rule needs nodePoolAutoCreation (GKE creates the pools that consume "
        "it); for a pool you bound to a reservation yourself, list that pool in a pools rule (ExistingPools)",
        "platform.priorities.1.reservations.1: 'a' is listed twice; each reservation may appear once",
        "platform.priorities.2.machineFamily: give machine_type or machine_family, not both (ComputeClass CEL rule, "
        "https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass)",
    ]


def test_compute_class_rules_that_need_the_stack_name_its_yaml_paths():
    section = ComputeClassConfig.model_validate(CLASS)
    context = {"gke_version": "cluster.minMasterVersion", "model_bytes": "model.parametersBillions",
               "cluster_autoprovisioning": "cluster.nodeAutoProvisioning"}
    assert section.component_errors("serving.computeClass", context, gke_version="1.33.2", model_bytes=20e9) == [
        ("serving.computeClass.priorities.3", "20 GB of weights do not fit 1× L4 (22 GB usable at 0.9, of which at "
                                              "most 80% may hold weights); drop this rule or use a shape with more GPU "
                                              "memory"),
        ("serving.computeClass.nodePoolAutoCreation",
         "before GKE 1.33.3-gke.1136000 node pool auto-creation needs cluster node auto-provisioning "
         "(https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes); set "
         "cluster.nodeAutoProvisioning or raise cluster.minMasterVersion"),
    ]


def test_unknown_priority_type_and_empty_list_are_refused():
    assert errors(ComputeClassConfig, {"name": "c", "priorities": []})[0].startswith("platform.priorities: List should")
    assert errors(ComputeClassConfig, {"name": "c", "priorities": [{"type": "preemptible"}]})[0].startswith(
        "platform.priorities.0.type: Input should be 'pools', 'reservation', 'onDemand', 'flexStart' or 'spot'")


def test_capacity_buffer_section():
    assert CapacityBufferConfig.model_validate({}).replicas == 0
    section = CapacityBufferConfig.model_validate({"replicas": 2, "strategy": "standby"})
    chunk = cb.BufferChunk({"nvidia.com/gpu": "1"}, "img")
    args = section.to_args(namespace="serving", name="qwen-buffer", chunk=chunk, gke_version="1.36")
    assert (args.replicas, args.strategy, args.chunk, args.gke_version) == (2, "standby", chunk, "1.36")
    context = {"gke_version": "cluster.minMasterVersion", "node_auto_provisioning": "cluster.nodeAutoProvisioning"}
    assert section.component_errors("serving.capacityBuffer", context, namespace="serving", name="qwen-buffer",
                                    chunk=chunk, gke_version="1.35.2-gke.1842000") == [
        ("serving.capacityBuffer.strategy", "standby buffers need cluster node auto-provisioning "
                                            "(https://cloud.google.com/kubernetes-engine/docs/how-to/configure-"
                                            "capacity-buffer); enable it (cluster.nodeAutoProvisioning) or use active"),
        ("cluster.minMasterVersion", "'1.35.2-gke.1842000' is older than 1.36.0-gke.2253000, which a standby "
                                     "capacity buffer needs (https://cloud.google.com/kubernetes-engine/docs/how-to/"
                                     "configure-capacity-buffer); raise the cluster version or turn the feature off"),
    ]
    assert CapacityBufferConfig().component_errors("serving.capacityBuffer", {}, namespace="s", name="b") == []
    assert errors(CapacityBufferConfig, {"replicas": -1})[0].startswith("platform.replicas: Input should be greater")
    assert errors(CapacityBufferConfig, {"strategy": "warm"})[0].startswith("platform.strategy: Input should be")


def test_pod_snapshot_section():
    assert PodSnapshotConfig.model_validate({}).enabled is False
    assert errors(PodSnapshotConfig, {"enabled": True, "retention": "1w"}) == [
        "platform.retention: '1w' is not a duration like 7d, 12h, 30min, 2mo or 1y "
        "(https://cloud.google.com/kubernetes-engine/docs/reference/crds/podsnapshot)"
    ]
    section = PodSnapshotConfig.model_validate({"enabled": True, "retention": "7d"})
    context = {"gpus_per_replica": "serving.vllm.tensorParallelSize", "weights_backend": "model.weights.backend"}
    assert section.component_errors("serving.podSnapshots", context, namespace="serving", name="qwen", bucket="b",
                                    selector={"app": "qwen"}, weights_backend="gcsfuse", gpus_per_replica=2) == [
        ("serving.vllm.tensorParallelSize", f"Pod snapshots restore single-GPU pods only ({RECIPE}); a replica here "
                                            "uses 2 GPUs"),
        ("model.weights.backend", f"pods with GCS FUSE CSI volumes cannot be snapshotted ({RECIPE}); "
                                  "model.weights.backend gcsfuse must change to use Pod snapshots"),
    ]
    assert PodSnapshotConfig().component_errors("serving.podSnapshots", context, namespace="s", name="q", bucket="b",
                                                selector={}, weights_backend="gcsfuse") == []


def test_simulator_reads_the_sections_shape():
    from types import SimpleNamespace

    from stack.config.planning import PlanningConfig
    from stack.plan.simulate.startup import stack_startup

    serving = SimpleNamespace(capacity_buffer=CapacityBufferConfig(replicas=2, strategy="standby"),
                              pod_snapshots=PodSnapshotConfig(enabled=True))
    startup = stack_startup(SimpleNamespace(serving=serving, planning=PlanningConfig()))
    assert (startup.buffer_replicas, startup.buffer_strategy, startup.snapshots) == (2, "standby", True)


def test_fallback_order_prices():
    priorities = ComputeClassConfig.model_validate(CLASS).to_args().priorities
    rows = [r.as_dict() for r in price_fallback_order(priorities, {"l4-spot": ("g2-standard-8", True)})]
    assert [(r["rule"], r["lowHourly"], r["hourly"]) for r in rows] == [
        ("reservation a3-highgpu-1g", 11.0613, 11.0613),
        ("on-demand a3-highgpu-1g", 11.0613, 11.0613),
        ("flex-start a3-highgpu-1g", round(11.0613 * 0.47, 4), 11.0613),
        ("spot g2-standard-12 / g2-standard-16 / g2-standard-32 / g2-standard-4 / g2-standard-8", 0.2507, 0.6145),
        ("pools l4-spot", 0.3027, 0.3027),
    ]
    assert rows[2]["source"].startswith("on-demand less up to 53% (DWS pricing)")
    assert rows[0]["source"].startswith("a reservation bills its VMs at the on-demand rate")


def test_fallback_prices_take_overrides_and_say_unknown():
    priorities = (cc.OnDemand(cc.Shape("a3-highgpu-1g")), cc.Spot(cc.Shape("a3-megagpu-8g")),
                  cc.ExistingPools(("missing",)))
    rows = price_fallback_order(priorities, {}, {"a3-highgpu-1g": MachinePriceOverride(on_demand_hourly=9.5)})
    assert [(r.low_hourly, r.hourly) for r in rows] == [(9.5, 9.5), (None, None), (None, None)]
