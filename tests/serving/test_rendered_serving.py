"""The rendered vLLM serving objects of the dev and prod stacks, field by field."""

from __future__ import annotations

import hashlib

import pytest

from stack.checks.validate import validate_manifests
from stack.plan.estimate import estimate_cold_start
from stack.program.serving import STARTUP_BUDGET_FACTOR
from stack.render import load_stack_config, render_config
from tests.serving.test_lws_operator import LWS_OVERRIDES
from workloads.vllm_server import (
    DRAIN_EXIT_RESERVE_SECONDS,
    DRAIN_QUIET_SECONDS,
    DRAIN_SCRIPT,
    LIVENESS_FAILURES,
    LIVENESS_PERIOD,
    READINESS_SCRIPT,
    STARTUP_PROBE_PERIOD,
)

BACKENDS = ("gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace")


def render(stack: str, *overrides: str):
    return render_config(load_stack_config(stack, list(overrides)), stack)


@pytest.fixture(scope="module")
def dev():
    return render("dev")


@pytest.fixture(scope="module")
def prod():
    return render("prod")


def only(result, kind: str, name: str | None = None) -> dict:
    found = [m for m in result.manifests_of_kind(kind) if name is None or m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def vllm_container(workload: dict) -> dict:
    spec = workload["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == "vllm")


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_container_requests_the_replica_gpus_and_sized_resources(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    container = vllm_container(only(result, "Deployment", "vllm"))
    gpus = result.config.gpus_per_replica()
    assert container["resources"]["limits"]["nvidia.com/gpu"] == str(gpus)
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"]
    assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]
    assert flag(container["args"], "--tensor-parallel-size") == str(result.config.serving.vllm.tensor_parallel_size)
    assert flag(container["args"], "--served-model-name") == result.config.served_model_name()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_probes_cover_the_cold_start_and_catch_a_hung_engine(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    container = vllm_container(only(result, "Deployment", "vllm"))
    startup = container["startupProbe"]
    budget = startup["failureThreshold"] * startup["periodSeconds"]
    cold_start = estimate_cold_start(result.config).total_seconds
    assert startup["periodSeconds"] == STARTUP_PROBE_PERIOD
    assert budget >= cold_start * STARTUP_BUDGET_FACTOR
    assert budget == result.outputs["startupBudgetSeconds"]
    assert startup["httpGet"] == {"path": "/health", "port": "http"}
    # /health stays 200 while vLLM drains: readiness also fails on the preStop hook's drain marker.
    readiness = container["readinessProbe"]
    assert readiness["exec"]["command"] == ["python3", "/etc/vllm-probe/readiness.py"]
    assert (readiness["periodSeconds"], readiness["failureThreshold"]) == (2, 1)
    liveness = container["livenessProbe"]
    # /health stays 200 while the engine is hung: liveness runs the engine-aware script instead.
    assert liveness["exec"]["command"] == ["python3", "/etc/vllm-probe/engine_liveness.py"]
    assert (liveness["periodSeconds"], liveness["failureThreshold"]) == (LIVENESS_PERIOD, LIVENESS_FAILURES)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert int(env["PROBE_TIMEOUT_SECONDS"]) < liveness["timeoutSeconds"]
    assert env["PROBE_MODEL"] == result.config.served_model_name()
    probe_config = only(result, "ConfigMap", "vllm-probe")
    assert "def main" in probe_config["data"]["engine_liveness.py"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_drain_prestop_then_shutdown_timeout_within_grace_period(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    deployment = only(result, "Deployment", "vllm")
    pod = deployment["spec"]["template"]["spec"]
    container = vllm_container(deployment)
    serving = result.config.serving
    # preStop: serve until the traffic stopped and nothing is in flight. Both stacks may run on Spot (dev's
    # only pool, prod's overflow pool), so minimum + quiet period + exit reserve fit GKE's default 15 s notice.
    assert container["lifecycle"]["preStop"] == {
        "exec": {"command": ["python3", "/etc/vllm-probe/drain_wait.py"]}}
    env = {e["name"]: e.get("value") for e in container["env"]}
    deadline = serving.pre_stop_seconds + serving.drain_queue_seconds
    assert env["DRAIN_MAX_SECONDS"] == str(deadline)
    assert env["DRAIN_QUIET_SECONDS"] == str(DRAIN_QUIET_SECONDS)
    minimum = min(serving.pre_stop_seconds, 15 - DRAIN_EXIT_RESERVE_SECONDS - DRAIN_QUIET_SECONDS)
    assert env["DRAIN_MIN_SECONDS"] == str(minimum) == "7"
    probe_config = only(result, "ConfigMap", "vllm-probe")
    assert probe_config["data"]["drain_wait.py"] == DRAIN_SCRIPT.read_text()
    assert probe_config["data"]["readiness.py"] == READINESS_SCRIPT.read_text()
    assert flag(container["args"], "--shutdown-timeout") == str(serving.shutdown_timeout_seconds)
    assert "--enable-server-load-tracking" in container["args"]  # the hook reads /load
    # The whole preStop, then vLLM's drain, then 15 s to exit: a deletion never SIGKILLs mid-drain.
    assert pod["terminationGracePeriodSeconds"] == deadline + serving.shutdown_timeout_seconds + 15
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_hardened_security_context_with_writable_paths_on_volumes(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    pod = only(result, "Deployment", "vllm")["spec"]["template"]["spec"]
    container = vllm_container(only(result, "Deployment", "vllm"))
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
    assert "sizeLimit" in volumes[mounts["/dev/shm"]]["emptyDir"]
    for writable in ("/cache", "/tmp"):
        assert "emptyDir" in volumes[mounts[writable]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HF_HOME"].startswith("/cache/") and env["VLLM_CACHE_ROOT"].startswith("/cache/")


def test_image_is_pinned_by_digest_and_pulled_through_the_registry_proxy(prod):
    container = vllm_container(only(prod, "Deployment", "vllm"))
    config = prod.config
    proxy = f"{config.region}-docker.pkg.dev/{config.project}/{config.registry.docker_hub_proxy_id}/"
    name, tag = config.serving.image.split(":")
    # The tag is looked up at preview (mocked offline: sha256 of the reference), pulled through the proxy.
    digest = hashlib.sha256(f"{name}:{tag}".encode()).hexdigest()
    assert container["image"] == f"{proxy}{name}@sha256:{digest}"
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_prod_schedules_on_demand_first_then_spot_and_tolerates_both(prod):
    pod = only(prod, "Deployment", "vllm")["spec"]["template"]["spec"]
    affinity = pod["affinity"]["nodeAffinity"]
    required = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert required == {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["h100", "h100-spot"]}
    preferred = [
        (p["weight"], p["preference"]["matchExpressions"][0]["values"])
        for p in affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    ]
    assert preferred == [(100, ["h100"]), (50, ["h100-spot"])]
    keys = {t["key"] for t in pod["tolerations"]}
    assert keys == {"nvidia.com/gpu", "cloud.google.com/gke-spot"}
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}


def test_dev_selects_its_pool_through_the_pool_scheduling(dev):
    pod = only(dev, "Deployment", "vllm")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "l4-spot",
        "cloud.google.com/gke-accelerator": "nvidia-l4",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_and_network_policy(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    service = only(result, "Service", "vllm")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    policy = only(result, "NetworkPolicy", "vllm")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    sources = [rule["from"][0] for rule in policy["ingress"]]
    assert sources[0]["podSelector"] == {"matchLabels": {"gke-inference/client": "true"}}
    assert sources[1]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}}
    assert all(rule["ports"] == [{"port": "http", "protocol": "TCP"}] for rule in policy["ingress"])


def test_a_pdb_whenever_more_than_one_replica_can_run(dev, prod):
    for result in (dev, prod):  # dev scales 1..2, prod 2..10
        assert only(result, "PodDisruptionBudget", "vllm")["spec"] == {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "vllm"}},
        }
    single = render("dev", "autoscaling.mode=none", "serving.replicas=1")
    assert single.manifests_of_kind("PodDisruptionBudget") == []


def test_namespace_denies_ingress_by_default(prod):
    policy = only(prod, "NetworkPolicy", "default-deny-ingress")
    assert policy["metadata"]["namespace"] == "llm"
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_prod_takes_the_api_key_from_a_secret_dev_has_none(dev, prod):
    env = {e["name"]: e for e in vllm_container(only(prod, "Deployment", "vllm"))["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}}
    assert "VLLM_API_KEY" not in {e["name"] for e in vllm_container(only(dev, "Deployment", "vllm"))["env"]}
    secret = only(prod, "Secret", "vllm-api-key")
    assert secret["stringData"] == {"token": "[secret]"}


def test_autoscaled_deployment_leaves_replicas_to_the_autoscaler(dev, prod):
    for result in (dev, prod):
        assert "replicas" not in only(result, "Deployment", "vllm")["spec"]
    fixed = render("dev", "autoscaling.mode=none", "serving.replicas=2")
    assert only(fixed, "Deployment", "vllm")["spec"]["replicas"] == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_renders_its_volume_or_load_format_and_valid_manifests(backend):
    result = render("prod", f"model.weights.backend={backend}")
    container = vllm_container(only(result, "Deployment", "vllm"))
    pod = only(result, "Deployment", "vllm")["spec"]["template"]["spec"]
    model = flag(container["args"], "--model")
    volumes = {v["name"]: v for v in pod["volumes"]}
    if backend == "runaiStreamer":
        assert flag(container["args"], "--load-format") == "runai_streamer"
        assert model.startswith(f"gs://{result.config.bucket_name('prod')}/")
    else:
        assert "--load-format" not in container["args"]
        mount = next(m for m in container["volumeMounts"] if model.startswith(m["mountPath"]))
        volume = volumes[mount["name"]]
        if backend == "gcsfuse":
            assert volume["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
            assert (
                pod
                and only(result, "Deployment", "vllm")["spec"]["template"]["metadata"]["annotations"][
                    "gke-gcsfuse/volumes"
                ]
                == "true"
            )
        elif backend == "huggingFace":
            assert "emptyDir" in volume and pod["initContainers"]
        else:
            claim = volume["persistentVolumeClaim"]["claimName"]
            pvc = only(result, "PersistentVolumeClaim", claim)
            expected = "ReadWriteMany" if backend == "filestore" else "ReadOnlyMany"
            assert pvc["spec"]["accessModes"] == [expected]
            assert mount.get("readOnly") is True
    assert validate_manifests(result.manifests, result.config.cluster.kubernetes_minor) == []


def test_multi_node_replicas_render_a_valid_leader_worker_set():
    result = render("prod", *LWS_OVERRIDES)
    assert result.manifests_of_kind("Deployment") and all(
        d["metadata"]["name"] != "vllm" for d in result.manifests_of_kind("Deployment")
    )
    lws = only(result, "LeaderWorkerSet", "vllm")
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    assert (
        "--pipeline-parallel-size 2" in leader["args"][0] and "--distributed-executor-backend ray" in leader["args"][0]
    )
    worker = template["workerTemplate"]["spec"]["containers"][0]
    assert "ray start --address=$(LWS_LEADER_ADDRESS):6379" in worker["args"][0]
    (hpa,) = [h for h in result.manifests_of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == "vllm"]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    assert validate_manifests(result.manifests, result.config.cluster.kubernetes_minor) == []


def test_serving_image_user_matches_the_pod_security_context():
    from pathlib import Path

    from workloads.vllm_server import RUN_AS_USER

    dockerfile = (Path(__file__).resolve().parents[2] / "images" / "vllm" / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users == [f"{RUN_AS_USER}:{RUN_AS_USER}"]
