"""serving.computeClass / capacityBuffer / podSnapshots wired into the stack (issue 19): what prod ships renders
and validates against the vendored CRDs, a ComputeClass reaches the pools and the server, and each combination
that cannot work exits 2 naming the field."""

from __future__ import annotations

import pytest

from stack.checks.crds import has_crd_schema, validate_custom
from stack.cli import main
from stack.render import load_stack_config, render_config

COMPUTE_CLASS = (
    "serving.computeClass={name: h100-serving, nodePoolAutoCreation: true, priorities: ["
    "{type: onDemand, machineType: a3-highgpu-8g}, {type: pools, pools: [h100-spot]}]}"
)


def render(stack: str, *overrides: str):
    return render_config(load_stack_config(stack, list(overrides)), stack)


@pytest.fixture(scope="module")
def prod():
    return render("prod")


@pytest.fixture(scope="module")
def prod_with_class():
    return render("prod", COMPUTE_CLASS, "serving.spotPool=null", "autoscaling.maxReplicas=6")


def test_prod_ships_an_active_buffer_shaped_like_its_serving_pod(prod):
    (buffer,) = prod.manifests_of_kind("CapacityBuffer")
    assert buffer["apiVersion"] == "autoscaling.x-k8s.io/v1beta1"
    assert buffer["spec"] == {
        "provisioningStrategy": "buffer.x-k8s.io/active-capacity",
        "replicas": 1,
        "scalableRef": {"apiGroup": "apps", "kind": "Deployment", "name": "vllm"},
    }
    assert has_crd_schema(buffer) and validate_custom(buffer) == []


def test_a_replica_spanning_nodes_buffers_pod_templates_one_per_node():
    result = render("prod", "serving.nodesPerReplica=2", "serving.vllm.pipelineParallelSize=2", "batch.enabled=false",
                    "autoscaling.minReplicas=2", "autoscaling.maxReplicas=5")
    (buffer,) = result.manifests_of_kind("CapacityBuffer")
    (template,) = result.manifests_of_kind("PodTemplate")
    assert buffer["spec"]["replicas"] == 2 and buffer["spec"]["podTemplateRef"] == {"name": "vllm-headroom"}
    assert validate_custom(buffer) == []
    spec = template["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "h100",
                                    "cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "8"


def test_a_compute_class_reaches_the_pools_it_lists_and_the_server(prod_with_class):
    classes = {c["metadata"]["name"]: c for c in prod_with_class.manifests_of_kind("ComputeClass")}
    serving_class = classes["h100-serving"]
    assert validate_custom(serving_class) == []
    assert [p.get("nodepools") for p in serving_class["spec"]["priorities"]] == [None, ["h100-spot"]]
    pools = {r["name"]: r["inputs"] for r in prod_with_class.of_type("gcp:container/nodePool:NodePool")}
    spot = pools["h100-spot-pool"]["nodeConfig"]
    assert spot["labels"]["cloud.google.com/compute-class"] == "h100-serving"
    assert {"key": "cloud.google.com/compute-class", "value": "h100-serving", "effect": "NO_SCHEDULE"} in spot["taints"]
    assert "cloud.google.com/compute-class" not in pools["h100-pool"]["nodeConfig"]["labels"]
    (deployment,) = [d for d in prod_with_class.manifests_of_kind("Deployment") if d["metadata"]["name"] == "vllm"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/compute-class": "h100-serving",
                                   "cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert {"key": "cloud.google.com/compute-class", "operator": "Equal", "value": "h100-serving",
            "effect": "NoSchedule"} in pod["tolerations"]


@pytest.mark.parametrize(("overrides", "first_line"), [
    (("cluster.minMasterVersion='1.34'",),
     "error: platform.cluster.minMasterVersion: '1.34' is older than 1.35.2-gke.1842000, which an active capacity "
     "buffer needs"),
    (("serving.capacityBuffer.strategy=standby",),
     "error: platform.serving.capacityBuffer.strategy: standby buffers need cluster node auto-provisioning"),
    (("serving.podSnapshots.enabled=true",),
     "error: platform.serving.vllm.tensorParallelSize:"),
    (("serving.computeClass={name: c, priorities: [{type: pools, pools: [a100]}]}", "serving.spotPool=null"),
     "error: platform.serving.computeClass.priorities.0.pools: 'a100' is not a gpuPools key"),
    ((COMPUTE_CLASS,),
     "error: platform.serving.spotPool: a ComputeClass orders the capacity itself"),
])
def test_capacity_combinations_that_cannot_work_exit_2(overrides, first_line, tmp_path, capsys):
    argv = ["render", "prod", *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(first_line), err
    assert not (tmp_path / "out").exists()


def test_pod_snapshots_are_refused_for_gcs_fuse_weights(tmp_path, capsys):
    code = main(["render", "dev", "--set", "serving.podSnapshots.enabled=true", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "platform.model.weights.backend:" in err and "GCS FUSE" in err, err


def test_estimate_prices_the_fallback_order(capsys):
    import json

    from stack.prices import MACHINE_PRICES

    class_with_fallbacks = (
        "serving.computeClass={name: h100-serving, nodePoolAutoCreation: true, priorities: ["
        "{type: onDemand, machineType: a3-highgpu-8g}, {type: spot, machineType: a3-highgpu-8g}, "
        "{type: pools, pools: [h100-spot]}]}"
    )
    assert main(["estimate", "prod", "--json", "--set", class_with_fallbacks, "--set", "serving.spotPool=null"]) == 0
    rules = json.loads(capsys.readouterr().out)["fallbackOrder"]
    a3 = MACHINE_PRICES["a3-highgpu-8g"]
    assert [(r["rule"], r["hourly"]) for r in rules] == [
        ("on-demand a3-highgpu-8g", a3.on_demand), ("spot a3-highgpu-8g", a3.spot), ("pools h100-spot", a3.spot),
    ]
    assert main(["estimate", "prod", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fallbackOrder"] == []  # no ComputeClass, no order to price
