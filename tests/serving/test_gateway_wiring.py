"""The ``gateway`` section wired into the stack (issue 18 items 2, 3 and 7's guard rails, one model): what an
enabled gateway renders, that every new object validates against its vendored CRD, the cluster and VPC sides
(Gateway API, proxy-only subnet), the vLLM NetworkPolicy's load-balancer sources, the policy pack on a render
whose InferencePool lost its HealthCheckPolicy, and each refusal naming its field.

The renders here start from dev with its second model and gateway settings dropped (``models={}``,
``gateway.picker={}``: upstream's picker size), so one model's wiring is seen alone; dev's system pool (e2-standard-4)
cannot hold upstream's 8-CPU endpoint picker, so they give the system pool e2-standard-16 (that the smaller pool
refuses upstream's picker is itself tested). Many models: tests/serving/test_many_models.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra import discovery, network
from infra.cluster import GATEWAY_API_CHANNEL
from policy.rules import check_stack
from stack.checks.crds import has_crd_schema, validate_custom
from stack.cli import main
from stack.config.gateway import HEALTH_CHECK_RANGES, PROXY_ONLY_CIDR, machine_vcpus
from stack.render import RenderResult, load_stack_config, render_config

SINGLE = ("models={}", "gateway.picker={}", "gateway.bodyBasedRouting=false")
ON = (*SINGLE, "gateway.enabled=true", "cluster.systemPool.machineType=e2-standard-16")
BBR = (*ON, "gateway.bodyBasedRouting=true")
POOL_REF = {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "vllm"}


def render(stack: str, *overrides: str) -> RenderResult:
    return render_config(load_stack_config(stack, list(overrides)), stack)


def one(result: RenderResult, kind: str) -> dict[str, Any]:
    (found,) = result.manifests_of_kind(kind)
    return found


def named(result: RenderResult, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in result.manifests_of_kind(kind) if m["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def dev_on() -> RenderResult:
    return render("dev", *ON)


@pytest.fixture(scope="module")
def dev_bbr() -> RenderResult:
    return render("dev", *BBR)


@pytest.fixture(scope="module")
def dev_off() -> RenderResult:
    return render("dev", *SINGLE, "gateway.enabled=false")


def test_gateway_is_internal_http_and_waits_until_programmed(dev_on):
    gateway = one(dev_on, "Gateway")
    assert gateway["metadata"]["name"] == "inference-gateway" and gateway["metadata"]["namespace"] == "llm"
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-rilb"
    (listener,) = gateway["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
    assert gateway["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Programmed"


def test_inference_pool_selects_the_servers_pods_on_the_serving_port(dev_on):
    pool = one(dev_on, "InferencePool")
    assert pool["apiVersion"] == "inference.networking.k8s.io/v1"
    server = named(dev_on, "Deployment", "vllm")
    assert pool["spec"]["selector"]["matchLabels"] == server["spec"]["selector"]["matchLabels"]
    assert pool["spec"]["targetPorts"] == [{"number": 8000}]
    assert pool["spec"]["endpointPickerRef"] == {"name": "vllm-epp", "port": {"number": 9002},
                                                 "failureMode": "FailOpen"}


def test_health_check_probes_health_and_backend_timeout_is_at_least_300(dev_on):
    health = one(dev_on, "HealthCheckPolicy")
    assert health["spec"]["targetRef"] == POOL_REF
    assert health["spec"]["default"]["config"] == {"type": "HTTP",
                                                    "httpHealthCheck": {"requestPath": "/health", "port": 8000}}
    backend = one(dev_on, "GCPBackendPolicy")
    assert backend["spec"]["targetRef"] == POOL_REF and backend["spec"]["default"]["timeoutSec"] == 300


def test_picker_runs_on_the_system_pool_by_digest_sized_as_upstream(dev_on):
    picker = named(dev_on, "Deployment", "vllm-epp")
    pod = picker["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("ghcr.io/llm-d/llm-d-router-endpoint-picker@sha256:")
    assert container["resources"] == {"requests": {"cpu": "8", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}
    assert pod["nodeSelector"] == {"gke-inference/role": "system"} and picker["spec"]["replicas"] == 1
    # The picker scrapes the vLLM pods: it carries the label their NetworkPolicy admits.
    assert picker["spec"]["template"]["metadata"]["labels"]["gke-inference/client"] == "true"
    (record,) = [i for i in dev_on.images() if i["image"] == container["image"]]
    assert record["source"] == "lookup" and record["query"] == "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"


def test_picker_metrics_are_scraped_by_managed_prometheus_with_a_token(dev_on):
    monitoring = named(dev_on, "PodMonitoring", "vllm-epp")
    (endpoint,) = monitoring["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["authorization"] == {
        "type": "Bearer", "credentials": {"secret": {"name": "vllm-epp-metrics-token", "key": "token"}}}
    token = named(dev_on, "Secret", "vllm-epp-metrics-token")
    assert token["type"] == "kubernetes.io/service-account-token"


def test_route_without_body_based_routing_takes_every_request_to_the_pool(dev_on):
    route = one(dev_on, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "inference-gateway", "namespace": "llm"}]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [POOL_REF]
    assert dev_on.manifests_of_kind("GCPRoutingExtension") == []


def test_body_based_routing_adds_the_router_extension_and_a_model_header_match(dev_bbr):
    extension = one(dev_bbr, "GCPRoutingExtension")
    assert extension["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                "name": "inference-gateway"}]
    assert extension["spec"]["extensionChains"][0]["extensions"][0]["requestBodySendMode"] == "FullDuplexStreamed"
    (rule,) = one(dev_bbr, "HTTPRoute")["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"},
                                "headers": [{"type": "Exact", "name": "X-Gateway-Model-Name",
                                             "value": "llama-3.1-8b"}]}]
    router = named(dev_bbr, "Deployment", "inference-gateway-bbr")
    (container,) = router["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("ghcr.io/llm-d/llm-d-inference-payload-processor@sha256:")


@pytest.mark.parametrize("fixture", ["dev_on", "dev_bbr"])
def test_every_new_custom_object_validates_against_its_vendored_crd(fixture, request):
    result = request.getfixturevalue(fixture)
    kinds = {"Gateway", "HTTPRoute", "InferencePool", "HealthCheckPolicy", "GCPBackendPolicy", "GCPRoutingExtension",
             "PodMonitoring"}
    objects = [m for m in result.manifests if m["kind"] in kinds]
    expected = 7 if fixture == "dev_on" else 9  # + the router's gRPC HealthCheckPolicy and the routing extension
    assert len(objects) == expected
    for obj in objects:
        assert has_crd_schema(obj), obj["kind"]
        assert validate_custom(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_cluster_gets_the_gateway_api_and_the_vpc_a_proxy_only_subnet(dev_on):
    (cluster,) = dev_on.of_type("gcp:container/cluster:Cluster")
    assert cluster["inputs"]["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    subnets = {r["name"]: r["inputs"] for r in dev_on.of_type("gcp:compute/subnetwork:Subnetwork")}
    proxy = subnets["network-proxy-only"]
    assert {k: proxy[k] for k in ("name", "region", "ipCidrRange", "purpose", "role")} == {
        "name": "gke-inference-proxy-us-central1", "region": "us-central1", "ipCidrRange": PROXY_ONLY_CIDR,
        "purpose": "REGIONAL_MANAGED_PROXY", "role": "ACTIVE"}


def test_values_sent_to_google_are_in_the_discovery_enums():
    assert GATEWAY_API_CHANNEL in discovery.enum("container.v1", "GatewayAPIConfig.channel")
    assert network.PROXY_ONLY_PURPOSE in discovery.enum("compute.v1", "Subnetwork.purpose")
    assert network.PROXY_ONLY_ROLE in discovery.enum("compute.v1", "Subnetwork.role")


def test_vllm_admits_the_proxies_and_google_health_checkers_on_its_port(dev_on, dev_off):
    ingress = named(dev_on, "NetworkPolicy", "vllm")["spec"]["ingress"]
    assert {"from": [{"ipBlock": {"cidr": c}} for c in (PROXY_ONLY_CIDR, *HEALTH_CHECK_RANGES)],
            "ports": [{"port": "http", "protocol": "TCP"}]} in ingress
    assert HEALTH_CHECK_RANGES == ("35.191.0.0/16", "130.211.0.0/22")
    assert not any("ipBlock" in peer for rule in named(dev_off, "NetworkPolicy", "vllm")["spec"]["ingress"]
                   for peer in rule.get("from", []))


def test_gateway_off_renders_nothing_of_it(dev_off):
    assert [m for m in dev_off.manifests if m["kind"] in ("Gateway", "InferencePool", "HTTPRoute")] == []
    (cluster,) = dev_off.of_type("gcp:container/cluster:Cluster")
    assert "gatewayApiConfig" not in cluster["inputs"]
    assert [r["name"] for r in dev_off.of_type("gcp:compute/subnetwork:Subnetwork")] == ["network-subnet"]


def test_policy_pack_fails_the_render_when_the_pool_loses_its_health_check(dev_on):
    assert [v for v in check_stack(dev_on.resources) if v.rule.startswith("k8s-inference-pool")] == []
    without = [r for r in dev_on.resources if (r.get("inputs") or {}).get("kind") != "HealthCheckPolicy"]
    violations = check_stack(without)
    assert [(v.rule, v.resource) for v in violations] == [("k8s-inference-pool-health-check", "InferencePool/llm/vllm")]


def test_validate_passes_with_the_gateway_on(capsys):
    argv = ["validate", "dev", *[a for o in ON for a in ("--set", o)], "--no-checkov", "--no-vllm"]
    assert main(argv) == 0, capsys.readouterr()


@pytest.mark.parametrize(("overrides", "first_line"), [
    (("gateway.picker={}",),
     "error: platform.gateway.picker.cpu: 8 CPU does not fit a system node: cluster.systemPool.machineType "
     "e2-standard-4 has 4 vCPUs"),
    ((*ON, "gateway.class=gke-l7-regional-external-managed"),
     "error: platform.gateway.tls: the external class gke-l7-regional-external-managed serves the internet"),
    ((*ON, "gateway.backendTimeoutSeconds=60"),
     "error: platform.gateway.backendTimeoutSeconds:"),
    ((*ON, "gateway.proxyOnlySubnetCidr=10.10.0.0/23"),
     "error: platform.gateway.proxyOnlySubnetCidr: 10.10.0.0/23 overlaps network.subnetCidr"),
    ((*ON, "gateway.proxyOnlySubnetCidr=10.129.0.0/27"),
     "error: platform.gateway.proxyOnlySubnetCidr: 10.129.0.0/27 is a /27; a proxy-only subnet needs at least 64"),
    ((*ON, "gateway.pickerImage=ghcr.io/llm-d/llm-d-router-endpoint-picker:latest"),
     "error: platform.gateway.pickerImage: 'ghcr.io/llm-d/llm-d-router-endpoint-picker:latest': `latest` moves"),
    ((*ON, "gateway.tls={secretName: a, preSharedCertificate: b}"),
     "error: platform.gateway.tls.secretName: set exactly one of secretName and preSharedCertificate"),
])
def test_gateway_settings_that_cannot_work_exit_2_naming_the_field(overrides, first_line, tmp_path, capsys):
    argv = ["render", "dev", *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(first_line), err
    assert not (tmp_path / "out").exists()


def test_external_gateway_with_a_certificate_serves_https():
    result = render("dev", *ON, "gateway.class=gke-l7-regional-external-managed", "gateway.tls.secretName=llm-tls")
    (listener,) = one(result, "Gateway")["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTPS", 443)
    assert listener["tls"] == {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret",
                                                                          "name": "llm-tls"}]}


@pytest.mark.parametrize(("machine", "vcpus"), [
    ("e2-standard-4", 4), ("n2-highmem-16", 16), ("c3-standard-22-lssd", 22), ("n2-custom-6-24576", 6),
    ("e2-medium", None),
])
def test_system_machine_vcpus_are_read_from_the_name(machine, vcpus):
    assert machine_vcpus(machine) == vcpus
