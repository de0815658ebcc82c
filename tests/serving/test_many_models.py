"""Many models on one stack (issue 18 items 1, 3, 4, 6 and 7): dev serves two models behind one Inference Gateway,
each its own component tree named after its key; entries inherit serving and autoscaling; LoRA adapters are served
and routed by name; the refusals name ``models.<key>`` paths and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy.rules import check_stack
from stack.checks.crds import has_crd_schema, validate_custom
from stack.cli import main
from stack.config import ConfigError
from stack.render import RenderResult, load_stack_config, render_config

HUB_ADAPTER = "org/chat-lora@" + "a" * 40
LORA = ("models.qwen.serving.lora={enabled: true, adapters: {sql: {source: 'gs://team-adapters/sql', priority: 5}, "
        f"chat: {{source: '{HUB_ADAPTER}'}}}}}}")


@pytest.fixture(scope="module")
def dev() -> RenderResult:
    return render_config(load_stack_config("dev"), "dev")


@pytest.fixture(scope="module")
def dev_lora() -> RenderResult:
    return render_config(load_stack_config("dev", [LORA]), "dev")


def named(result: RenderResult, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in result.manifests_of_kind(kind) if m["metadata"]["name"] == name]
    return found


def pool_ref(name: str) -> dict[str, str]:
    return {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": name}


@pytest.mark.parametrize(("server", "served"), [("vllm", "llama-3.1-8b"), ("qwen", "qwen2.5-1.5b")])
def test_each_model_has_its_server_pool_picker_policies_and_route_on_the_one_gateway(dev, server, served):
    (gateway,) = dev.manifests_of_kind("Gateway")
    deployment = named(dev, "Deployment", server)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--served-model-name") + 1] == served
    pool = named(dev, "InferencePool", server)
    assert pool["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert named(dev, "Deployment", f"{server}-epp")["spec"]["replicas"] == 1
    (health,) = [h for h in dev.manifests_of_kind("HealthCheckPolicy") if h["spec"]["targetRef"] == pool_ref(server)]
    assert health["spec"]["default"]["config"]["httpHealthCheck"]["requestPath"] == "/health"
    (backend,) = [b for b in dev.manifests_of_kind("GCPBackendPolicy") if b["spec"]["targetRef"] == pool_ref(server)]
    assert backend["spec"]["default"]["timeoutSec"] >= 300
    route = named(dev, "HTTPRoute", server)
    assert [ref["name"] for ref in route["spec"]["parentRefs"]] == [gateway["metadata"]["name"]]
    (rule,) = route["spec"]["rules"]
    assert [m["headers"][0]["value"] for m in rule["matches"]] == [served]
    assert rule["backendRefs"] == [pool_ref(server)]


def test_one_url_body_based_routing_and_every_custom_object_validates(dev):
    (extension,) = dev.manifests_of_kind("GCPRoutingExtension")
    assert extension["spec"]["targetRefs"][0]["kind"] == "Gateway"
    kinds = {"Gateway", "HTTPRoute", "InferencePool", "HealthCheckPolicy", "GCPBackendPolicy", "GCPRoutingExtension",
             "PodMonitoring"}
    objects = [m for m in dev.manifests if m["kind"] in kinds]
    # 1 Gateway, 1 extension, the router's HealthCheckPolicy; per model: pool, route, 2 policies, 2 PodMonitorings
    assert len(objects) == 3 + 2 * 6
    for obj in objects:
        assert has_crd_schema(obj), obj["kind"]
        assert validate_custom(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_the_entry_inherits_serving_and_names_everything_after_its_key(dev):
    config = load_stack_config("dev")
    qwen = config.model_views()["qwen"]
    assert (qwen.serving.pool, qwen.serving.vllm.max_num_seqs, qwen.serving.require_api_key) == ("l4-spot", 64, False)
    assert (qwen.serving.name, qwen.served_model_name(), qwen.max_replicas()) == ("qwen", "qwen2.5-1.5b", 1)
    names = {r["name"] for r in dev.resources}
    assert {"qwen-vllm", "qwen-vllm-identity", "qwen-weights-download", "qwen-smoke-test", "qwen-observability",
            "qwen-vllm-autoscaler", "qwen-vllm-metrics", "qwen-pool"} <= names
    # the top-level model keeps the names (and so the URNs) it always had
    assert {"vllm", "vllm-identity", "weights-download", "smoke-test", "observability", "vllm-pool"} <= names
    (hpa,) = [m for m in dev.manifests_of_kind("HorizontalPodAutoscaler") if m["metadata"]["name"] == "qwen"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 1)
    (download,) = [m for m in dev.manifests_of_kind("Job") if "qwen2-5-1-5b" in m["metadata"]["name"]]
    assert download["spec"]["template"]["spec"]["serviceAccountName"] == "qwen-model-downloader"


def test_each_model_gets_its_own_dashboard_and_alerts(dev):
    boards = sorted(r["inputs"]["dashboardJson"] for r in dev.of_type("gcp:monitoring/dashboard:Dashboard"))
    assert len(boards) == 2
    assert any("gke-inference dev: qwen2.5-1.5b" in b for b in boards)
    assert any("gke-inference dev: llama-3.1-8b" in b for b in boards)
    alerts = [r["inputs"]["displayName"] for r in dev.of_type("gcp:monitoring/alertPolicy:AlertPolicy")]
    assert sum("qwen2.5-1.5b" in a for a in alerts) == sum("llama-3.1-8b" in a for a in alerts) > 0


def test_lora_adapters_are_served_fetched_and_routed_with_their_priority(dev_lora):
    pod = named(dev_lora, "Deployment", "qwen")["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[args.index("--lora-modules"):] == ["--lora-modules", "chat=/adapters/chat", "sql=/adapters/sql"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-adapters"]
    rules = named(dev_lora, "HTTPRoute", "qwen")["spec"]["rules"]
    matched = {m["headers"][0]["value"] for rule in rules for m in rule["matches"]}
    assert matched == {"qwen2.5-1.5b", "chat", "sql"}
    (objective,) = dev_lora.manifests_of_kind("InferenceObjective")
    assert objective["spec"]["priority"] == 5 and objective["spec"]["poolRef"]["name"] == "qwen"
    (crd,) = dev_lora.manifests_of_kind("CustomResourceDefinition")
    assert crd["metadata"]["name"] == "inferenceobjectives.llm-d.ai"
    assert validate_custom(objective) == []
    grants = [r["inputs"] for r in dev_lora.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
              if r["inputs"]["bucket"] == "team-adapters"]
    assert [g["role"] for g in grants] == ["roles/storage.objectViewer"]
    # the top-level model is untouched
    top = named(dev_lora, "Deployment", "vllm")["spec"]["template"]["spec"]
    assert "--enable-lora" not in top["containers"][0]["args"]


def test_policy_pack_fails_a_render_whose_second_pool_lost_its_health_check(dev):
    assert [v for v in check_stack(dev.resources) if v.rule.startswith("k8s-inference-pool")] == []
    without = [r for r in dev.resources
               if not ((r.get("inputs") or {}).get("kind") == "HealthCheckPolicy"
                       and r["inputs"]["spec"]["targetRef"].get("name") == "qwen")]
    assert [(v.rule, v.resource) for v in check_stack(without)] == [
        ("k8s-inference-pool-health-check", "InferencePool/llm/qwen")]


@pytest.mark.parametrize(("overrides", "first_line"), [
    (("models.qwen.serving.lora.adapters.sql.source=gs://team-adapters/sql",),
     "error: platform.models.qwen.serving.lora.adapters: sql: LoRA is off for this model; set lora.enabled: true"),
    (("models.qwen.serving.vllm.servedModelName=llama-3.1-8b",),
     "error: platform.models.qwen.serving.vllm.servedModelName: 'llama-3.1-8b' is already served by model 'vllm'"),
    (("models.qwen.serving.name=vllm",),
     "error: platform.models.qwen.serving.name: 'vllm' is already the server of model 'vllm'"),
    (("models.qwen.serving.lora={enabled: true, adapters: {llama-3.1-8b: {source: 'gs://team-adapters/x'}}}",),
     "error: platform.models.qwen.serving.lora.adapters.llama-3.1-8b: 'llama-3.1-8b' is already served by model"),
    (("models.qwen.model.parametersBillions=70.6",),
     "error: platform.models.qwen."),
    (("models.qwen.serving.namespace=other",),
     "error: platform.models.qwen.serving.namespace: stack-wide: set it on the top-level serving block"),
    (("gateway.bodyBasedRouting=false",),
     "error: platform.gateway.bodyBasedRouting: 2 models share the Gateway: set it true"),
    (("loadtest.model=mistral",),
     "error: platform.loadtest.model: 'mistral' is not a model of the stack; one of: vllm, qwen"),
    (("gpuPools.l4-spot.autoscaling.maxNodes=2",),
     "error: platform.models.qwen.autoscaling.maxReplicas: the models on l4-spot need up to vllm 2 + qwen 1 = 3 nodes"),
    (("models.Qwen_2={model: {id: a/b, revision: " + "b" * 40 + ", parametersBillions: 1}}",),
     "error: platform.models.Qwen_2.[key]: String should match pattern"),
])
def test_many_model_settings_that_cannot_work_exit_2_naming_the_field(overrides, first_line, tmp_path, capsys):
    argv = ["render", "dev", *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(first_line), err
    assert not (tmp_path / "out").exists()


def test_a_model_too_large_for_its_pool_is_refused_under_its_entry():
    with pytest.raises(ConfigError) as err:
        load_stack_config("dev", ["models.qwen.model.parametersBillions=70.6"])
    assert all(line.startswith("platform.models.qwen.") for line in err.value.lines), err.value.lines
    assert any("GPU" in line or "memory" in line for line in err.value.lines), err.value.lines


def test_the_load_test_targets_the_model_named(tmp_path):
    result = render_config(load_stack_config("dev", ["loadtest.model=qwen"]), "dev")
    (job,) = [m for m in result.manifests_of_kind("Job") if m["metadata"]["name"].startswith("loadtest")]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--model") + 1] == "qwen2.5-1.5b"
    assert args[args.index("--url") + 1] == "http://qwen.llm.svc.cluster.local:8000"


def test_estimate_prices_each_model_and_the_shared_rest_adding_up_to_the_total(capsys):
    import json

    assert main(["estimate", "prod", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)["cost"]
    models = {m["model"]: m for m in cost["models"]}
    assert set(models) == {"vllm", "llama-8b"}
    assert models["vllm"]["servedModelName"] == "llama-3.3-70b"
    small = models["llama-8b"]
    assert small["replicas"] == {"min": 1, "max": 4} and small["nodes"] == {"min": 1, "max": 4}
    for which in ("min", "max"):
        parts = sum(m["hourly"][which] for m in models.values()) + cost["shared"]["hourly"][which]
        assert parts == pytest.approx(cost["total"]["hourly"][which], abs=1e-3)
    # the small model's serving share is its L4 nodes (one at its minimum), never the H100 price
    l4 = next(line for line in cost["lines"] if line["item"] == "pool l4")
    assert models["llama-8b"]["hourly"]["min"] >= l4["nodeHourly"]["onDemand"]
    assert models["llama-8b"]["hourly"]["min"] < models["vllm"]["hourly"]["min"] / 100


def test_estimate_prints_the_cost_per_model_table(capsys):
    assert main(["estimate", "prod"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Cost per model"):]
    assert "llama-3.3-70b" in table and "llama-3.1-8b" in table and "shared" in table and "total" in table


def test_simulate_and_estimate_take_a_model_by_key(tmp_path, capsys):
    assert main(["estimate", "dev", "--model", "qwen"]) == 0
    assert capsys.readouterr().out.startswith("dev: Qwen/Qwen2.5-1.5B-Instruct (1.54B")
    assert main(["simulate", "dev", "--model", "qwen", "--duration", "300", "--json", "--out", str(tmp_path)]) == 0
    assert main(["simulate", "dev", "--model", "mistral"]) == 2
    assert "--model mistral: not a model of the stack; one of: vllm, qwen" in capsys.readouterr().err


def test_the_simulator_leaves_the_other_models_their_minimum_nodes():
    from stack.plan.estimate import resolve_throughput
    from stack.plan.simulate.presets import fleet_params

    config = load_stack_config("dev")  # l4-spot: 3 nodes; each model keeps at least one replica
    views = config.model_views()
    assert (views["vllm"].pool_reserved("l4-spot"), views["qwen"].pool_reserved("l4-spot")) == (1, 1)
    (pool,) = fleet_params(views["vllm"], resolve_throughput(views["vllm"])).pools
    assert (pool.name, pool.max_groups) == ("l4-spot", 2)
    alone = load_stack_config("dev", ["models={}"])
    (pool,) = fleet_params(alone, resolve_throughput(alone)).pools
    assert alone.pool_reserved("l4-spot") == 0 and pool.max_groups == 3
