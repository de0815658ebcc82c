"""The ``gateway`` section: GKE Inference Gateway in front of the stack's model (docs/gateway.md).

Off by default. On, the stack enables the Gateway API on the cluster, adds a proxy-only subnet to the VPC, and
renders one Gateway plus, for the model, an InferencePool, its endpoint picker, a HealthCheckPolicy on
``/health``, a GCPBackendPolicy and an HTTPRoute (``stack/program/gateway.py``). The rules are the components'
own (``validate_inference_gateway_args``, ``validate_model_pool_args``, ``validate_network_args``), run with
this config's values and reported under YAML paths; what only the stack knows (does the picker fit a system
node?) is checked here in :meth:`GatewayConfig.stack_errors`.

The model-specific arguments are built by :meth:`GatewayConfig.model_pool_args`, one call per model, so a
config with several models calls it once for each.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from infra.cluster import GkeClusterArgs
from infra.images import image_problem
from infra.network import NetworkArgs, proxy_only_range, validate_network_args
from stack.config.base import ArgPaths, FieldError, Model
from workloads.batch import cpu_millicores
from workloads.gateway import (
    GatewayRef,
    GatewayTls,
    InferenceGatewayArgs,
    ModelPoolArgs,
    PickerSettings,
    validate_inference_gateway_args,
    validate_model_pool_args,
)
from workloads.gateway import upstream as up
from workloads.pod_sizing import SYSTEM_DAEMONSETS_CPU, gke_reserved_cpu

if TYPE_CHECKING:
    from stack.config import StackConfig

PICKER_IMAGE = f"{up.EPP_IMAGE}:{up.EPP_RELEASE_TAG}"
"""The endpoint picker release the components follow (``workloads/gateway/upstream.py``: llm-d-router v0.10.0)."""
ROUTER_IMAGE = f"{up.PAYLOAD_PROCESSOR_IMAGE}:v0.1.0"
"""The body-based router's first release: "IPP v0.1.0 (stable) was released on July 12, 2026 and is available on
GHCR" (llm-d/llm-d PR #2075, which drops the guides' ``v0.1.0-rc.4`` workaround). The router component mirrors the
payload processor at a3af1b06 (2026-05-05, before that tag): check its flags against the release before relying on
body-based routing."""
PROXY_ONLY_CIDR = "10.129.0.0/23"
"""The proxy-only subnet range of Google's example (https://cloud.google.com/load-balancing/docs/proxy-only-subnets);
outside the stack's default node, pod and Service ranges."""
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
"""Google Cloud health check probe ranges (https://cloud.google.com/load-balancing/docs/firewall-rules: "Health check
ranges: 35.191.0.0/16, 130.211.0.0/22"). Envoy-based load balancers also send traffic from the proxy-only subnet
("Load balancers based on the open source Envoy proxy require an ingress allow firewall rule that permits traffic from
the proxy-only subnet")."""
STAND_IN_IMAGE = "stand-in/resolved-at-preview@sha256:" + "0" * 64
"""Stands in for the picker and router images (resolved at preview) when the config runs the components' rules."""
_VCPUS = re.compile(r"^[a-z][a-z0-9]*-(?:standard|highmem|highcpu|highgpu|ultramem|megamem)-(\d+)(?:-lssd)?$|"
                    r"^(?:[a-z][a-z0-9]*-)?custom-(\d+)-\d+(?:-ext)?$")
"""vCPUs of a predefined or custom machine type: the number in its name (https://cloud.google.com/compute/docs/
machine-resource, "Machine type names": ``<series>-<type>-<vCPUs>``; custom ``<series>-custom-<vCPUs>-<MiB>``)."""


def machine_vcpus(machine_type: str) -> int | None:
    """vCPUs of ``machine_type`` read from its name; None for a name this does not parse (shared-core types)."""
    match = _VCPUS.match(machine_type)
    return int(match.group(1) or match.group(2)) if match else None


class GatewayTlsConfig(Model):
    """The certificate of the HTTPS listener (443): exactly one of the two."""

    secret_name: str | None = Field(
        default=None, description="A `kubernetes.io/tls` Secret in serving.namespace (created outside the stack)."
    )
    pre_shared_certificate: str | None = Field(
        default=None,
        description="A regional Compute Engine SSL certificate in the stack's region "
        "(`networking.gke.io/pre-shared-certs`).",
    )

    @model_validator(mode="after")
    def _one(self) -> GatewayTlsConfig:
        if (self.secret_name is None) == (self.pre_shared_certificate is None):
            raise FieldError("secretName", "set exactly one of secretName and preSharedCertificate")
        return self


class PickerConfig(Model):
    """The endpoint picker of the model's InferencePool (llm-d router)."""

    replicas: int = Field(
        default=1,
        ge=1,
        description="1 (upstream's default). 2 or more run leader election: active-passive, one leader routes and "
        "holds the prefix-cache index, standbys take over through a Lease (each replica requests `cpu`).",
    )
    cpu: str = Field(default=up.EPP_CPU, description="CPU request per replica (upstream's 8; no CPU limit).")
    memory: str = Field(default=up.EPP_MEMORY, description="Memory request per replica (upstream's 8Gi).")
    memory_limit: str = Field(default=up.EPP_MEMORY_LIMIT, description="Memory limit per replica (upstream's 16Gi).")
    failure_mode: Literal["FailOpen", "FailClose"] = Field(
        default="FailOpen",
        description="FailOpen: with the picker down the load balancer still reaches the pods (no load awareness).",
    )

    def to_settings(self, node_selector: Mapping[str, str]) -> PickerSettings:
        """The component's picker settings, on the nodes ``node_selector`` picks."""
        return PickerSettings(replicas=self.replicas, cpu=self.cpu, memory=self.memory,
                              memory_limit=self.memory_limit, failure_mode=self.failure_mode,
                              node_selector=dict(node_selector))


GATEWAY_PATHS = ArgPaths("gateway", {
    "namespace": "serving.namespace", "gateway_class": "gateway.class",
    "payload_processor_image": "gateway.routerImage", "body_based_routing": "gateway.bodyBasedRouting",
    "tls": "gateway.tls", "tls.secret_name": "gateway.tls.secretName",
    "tls.pre_shared_certificate": "gateway.tls.preSharedCertificate",
})
"""InferenceGatewayArgs paths in the stack YAML."""
POOL_PATHS = ArgPaths("gateway", {
    "namespace": "serving.namespace", "name": "serving.name", "served_model_name": "serving.vllm.servedModelName",
    "picker_image": "gateway.pickerImage", "picker": "gateway.picker", "gateway": "gateway",
    "match_model_header": "gateway.bodyBasedRouting", "client_labels": "serving.clientLabel",
    "adapters": "serving.lora.adapters", "priority": "serving.priority",
})
"""ModelPoolArgs paths in the stack YAML (a ``models`` entry is validated as a stack of its own, its errors moved
under ``models.<key>``: stack/config/models.py)."""


class GatewayConfig(Model):
    """GKE Inference Gateway: one URL for the model, replicas picked by queue, KV cache and prefix affinity."""

    enabled: bool = Field(
        default=False,
        description="Render the Gateway, the model's InferencePool, endpoint picker, health check, backend policy "
        "and route; enable the Gateway API on the cluster and add a proxy-only subnet.",
    )
    name: str = Field(default="inference-gateway", description="Name of the Gateway object (in serving.namespace).")
    gateway_class: Literal["gke-l7-rilb", "gke-l7-regional-external-managed"] = Field(
        default="gke-l7-rilb",
        alias="class",
        description="`gke-l7-rilb`: regional internal load balancer (reachable from the VPC). "
        "`gke-l7-regional-external-managed`: regional external, internet-facing; needs `tls`.",
    )
    tls: GatewayTlsConfig | None = Field(
        default=None, description="Serve HTTPS on 443 with this certificate (required for the external class)."
    )
    hostname: str | None = Field(default=None, description="Answer only for this host name; unset accepts any.")
    backend_timeout_seconds: int = Field(
        default=up.MIN_BACKEND_TIMEOUT_SECONDS,
        description="Load balancer backend timeout (GCPBackendPolicy): the longest a response may stream. At least "
        "300 (the load balancer's own default is 30 s and would cut long generations).",
    )
    body_based_routing: bool = Field(
        default=False,
        description="Run the body-based router: the request's `model` becomes a header the route matches, so a "
        "model no route serves gets 404 at the Gateway. Off: the one model's route takes every request (vLLM "
        "answers 404 for an unknown model).",
    )
    router_replicas: int = Field(default=1, ge=1, description="Body-based router replicas (stateless).")
    router_image: str = Field(
        default=ROUTER_IMAGE,
        description="Body-based router image: NAME:TAG (resolved to its digest at preview) or a NAME@sha256 pin.",
    )
    picker: PickerConfig = Field(default_factory=PickerConfig, description="The endpoint picker.")
    picker_image: str = Field(
        default=PICKER_IMAGE,
        description="Endpoint picker image: NAME:TAG (resolved to its digest at preview) or a NAME@sha256 pin.",
    )
    proxy_only_subnet_cidr: str = Field(
        default=PROXY_ONLY_CIDR,
        description="Range of the VPC's proxy-only subnet (at least a /26); created with the network, or the range "
        "of the existing one (the vLLM pods admit the load balancer's proxies from it).",
    )

    @model_validator(mode="after")
    def _images(self) -> GatewayConfig:
        for field, value in (("pickerImage", self.picker_image), ("routerImage", self.router_image)):
            problem = image_problem(value)
            if problem is not None:
                raise FieldError(field, problem)
        return self

    # -- component arguments ------------------------------------------------------------------

    def gateway_args(self, namespace: Any, router_image: Any, node_selector: Mapping[str, str]) -> InferenceGatewayArgs:
        """The InferenceGateway's arguments (the router runs where ``node_selector`` picks)."""
        tls = self.tls
        return InferenceGatewayArgs(
            namespace=namespace,
            payload_processor_image=router_image if self.body_based_routing else None,
            body_based_routing=self.body_based_routing,
            name=self.name,
            gateway_class=self.gateway_class,
            tls=GatewayTls(tls.secret_name, tls.pre_shared_certificate) if tls is not None else None,
            hostname=self.hostname,
            router_replicas=self.router_replicas,
            node_selector=dict(node_selector),
        )

    def model_pool_args(
        self, view: StackConfig, *, selector_labels: Mapping[str, str], picker_image: Any, gateway: Any,
        node_selector: Mapping[str, str], objective_crd: Any = None,
    ) -> ModelPoolArgs:
        """One model's ModelPool arguments (``view``: the model's config): its pool is named after the model's
        server; its adapters and priorities come from ``serving.lora`` and ``serving.priority``."""
        serving = view.serving
        return ModelPoolArgs(
            namespace=serving.namespace,
            served_model_name=view.served_model_name(),
            selector_labels=dict(selector_labels),
            picker_image=picker_image,
            gateway=gateway,
            name=serving.name,
            adapters={name: a.priority for name, a in serving.lora.adapters.items()} if serving.lora.enabled else {},
            priority=serving.priority,
            objective_crd=objective_crd,
            backend_timeout_seconds=self.backend_timeout_seconds,
            picker=self.picker.to_settings(node_selector),
            client_labels={serving.client_label: "true"},
            match_model_header=self.body_based_routing,
        )

    def network_args(self, args: NetworkArgs) -> NetworkArgs:
        """``args`` with the proxy-only subnet when the gateway is on."""
        return replace(args, proxy_only_subnet_cidr=self.proxy_only_subnet_cidr) if self.enabled else args

    def cluster_args(self, args: Any) -> Any:
        """A created cluster's ``args`` with the Gateway API when the gateway is on (an existing cluster: unchanged,
        its Gateway API is the owner's to enable)."""
        return replace(args, gateway_api=True) if self.enabled and isinstance(args, GkeClusterArgs) else args

    def ingress_ip_blocks(self) -> tuple[str, ...]:
        """Source ranges that must reach the model servers' port: the proxies and Google's health checkers."""
        return (self.proxy_only_subnet_cidr, *HEALTH_CHECK_RANGES) if self.enabled else ()

    # -- rules that need the rest of the stack ------------------------------------------------------

    def stack_errors(self, config: StackConfig) -> list[tuple[str, str]]:
        """What the gateway's components refuse with this stack's values, under YAML paths (none when off)."""
        if not self.enabled:
            return []
        serving = config.serving
        gateway = self.gateway_args(serving.namespace, STAND_IN_IMAGE, {})
        errors = GATEWAY_PATHS.errors(validate_inference_gateway_args(gateway, self.name))
        pool = self.model_pool_args(
            config, selector_labels={"app.kubernetes.io/instance": serving.name}, picker_image=STAND_IN_IMAGE,
            gateway=GatewayRef(self.name, serving.namespace), node_selector={},
        )
        # the program installs the InferenceObjective CRD whenever a priority is set
        problems = [p for p in validate_model_pool_args(pool, serving.name) if p.property_path != "objective_crd"]
        errors += POOL_PATHS.errors(problems)
        return errors + self._network_errors(config) + self._picker_fit_errors(config)

    def _network_errors(self, config: StackConfig) -> list[tuple[str, str]]:
        """The proxy-only range: a CIDR of at least /26 clear of the VPC's other ranges (the Network component's
        rules, only the problems the range adds) and of the control plane's."""
        paths = ArgPaths("network", {"proxy_only_subnet_cidr": "gateway.proxyOnlySubnetCidr"})
        network = config.network
        if config.cluster.mode == "create" and network.create:
            base = network.to_args(config.project, config.region, nat=config.cluster.private_nodes)
            before = set(validate_network_args(base))
            added = [p for p in validate_network_args(self.network_args(base)) if p not in before]
            errors = paths.errors(added)
        else:
            errors = paths.errors(proxy_only_range("proxy_only_subnet_cidr", self.proxy_only_subnet_cidr)[1])
        if errors or config.cluster.mode != "create" or not config.cluster.private_nodes:
            return errors
        proxy = ipaddress.IPv4Network(self.proxy_only_subnet_cidr)
        master = ipaddress.IPv4Network(config.cluster.master_ipv4_cidr)
        if proxy.overlaps(master):
            errors.append(("gateway.proxyOnlySubnetCidr", f"{proxy} overlaps cluster.masterIpv4Cidr ({master})"))
        return errors

    def _picker_fit_errors(self, config: StackConfig) -> list[tuple[str, str]]:
        """The picker runs on the system pool: its CPU request must fit what GKE leaves on one system node
        (GKE's reservation, workloads/pod_sizing.py, and the system DaemonSets' share)."""
        machine = config.cluster.system_pool.machine_type
        vcpus = machine_vcpus(machine)
        wanted = cpu_millicores(self.picker.cpu)
        if wanted is None:
            return [("gateway.picker.cpu", f"'{self.picker.cpu}' is not a CPU quantity (e.g. 8 or 500m)")]
        if vcpus is None or config.cluster.mode != "create":
            return []
        room = int((vcpus - gke_reserved_cpu(vcpus) - SYSTEM_DAEMONSETS_CPU) * 1000)
        if wanted > room:
            return [("gateway.picker.cpu", (
                f"{self.picker.cpu} CPU does not fit a system node: cluster.systemPool.machineType {machine} has "
                f"{vcpus} vCPUs, about {room}m left after GKE's reservation and the system DaemonSets, so the picker "
                "would stay Pending; use a larger system machine (e2-standard-16 holds upstream's 8 CPU) or lower "
                "gateway.picker.cpu"))]
        return []

