"""Upstream facts the gateway components render: API versions, ports, header names, image repositories.

Every constant names where it was read. Snapshots (bare git mirrors, ``git show <ref>:<path>``):

* llm-d/llm-d-router tag v0.10.0 = 71f4f0999f95b96c49a9d0c4afbd18dfdb943c26 (2026-08-17), the endpoint
  picker (EPP) and its chart library ``config/charts/routerlib``;
* llm-d/llm-d-inference-payload-processor HEAD a3af1b069101df6ccee3686c69886e11150ab81e (2026-05-05), the
  body-based router (BBR; no release tag in that snapshot) and its chart ``config/charts/payload-processor``;
* kubernetes-sigs/gateway-api-inference-extension (GAIE) tag v1.5.0 = df9f8909 (the last GAIE release that
  shipped the BBR chart, ``config/charts/body-based-routing``) and v1.6.0 = 992e5c29 (InferencePool CRD);
* kubernetes-sigs/gateway-api tag v1.6.1 = 8bb74df0 (Gateway/HTTPRoute CRDs) and v1.5.0 (conformance tests);
* GoogleCloudPlatform/gke-gateway-api HEAD fc40d606 (GKE policy CRDs).

The CRDs themselves are vendored in ``stack/schemas/`` (PROVENANCE.md there).
"""

from __future__ import annotations

# -- API versions ----------------------------------------------------------------------------------

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_GROUP}/v1"
"""Gateway and HTTPRoute: GA ``v1`` (stack/schemas/gateway-api, gateway-api v1.6.1 standard channel)."""
INFERENCE_GROUP = "inference.networking.k8s.io"
INFERENCE_POOL_API_VERSION = f"{INFERENCE_GROUP}/v1"
"""InferencePool: GA ``inference.networking.k8s.io/v1``, the only served version (GAIE v1.6.0 CRD)."""
OBJECTIVE_GROUP = "llm-d.ai"
OBJECTIVE_API_VERSION = f"{OBJECTIVE_GROUP}/v1alpha2"
"""InferenceObjective moved from ``inference.networking.x-k8s.io/v1alpha2`` (GAIE ≤ v1.5.0) to
``llm-d.ai/v1alpha2`` (llm-d-router commit 0fb6a7c5, 2026-05-21; chart template
``routerlib/templates/_inferenceobjective.yaml`` @v0.10.0 renders this group)."""
GKE_NETWORKING_API_VERSION = "networking.gke.io/v1"
"""HealthCheckPolicy, GCPBackendPolicy, GCPRoutingExtension (gke-gateway-api ``config/crd`` @fc40d606)."""
EPP_CONFIG_API_VERSION = "llm-d.ai/v1alpha1"
"""``EndpointPickerConfig`` file format (``routerlib/templates/_config.yaml`` @v0.10.0); a config file, not a CRD."""

# -- GatewayClasses ----------------------------------------------------------------------------------

INTERNAL_CLASS = "gke-l7-rilb"
EXTERNAL_CLASS = "gke-l7-regional-external-managed"
GATEWAY_CLASSES = (INTERNAL_CLASS, EXTERNAL_CLASS)
"""The two GatewayClasses GKE Inference Gateway supports; both need a proxy-only subnet and Gateway API enabled
on the cluster (llm-d ``docs/infrastructure/gateway/gke.md`` @3b9ac7a9; https://cloud.google.com/
kubernetes-engine/docs/how-to/deploy-gke-inference-gateway). llm-d's ``gke-l7-regional-internal-managed`` recipe
names a class GKE does not have (../shared/reference/field-2026-12.md §1.3): not offered."""

# -- Body-based router (payload processor) -----------------------------------------------------------

PAYLOAD_PROCESSOR_IMAGE = "ghcr.io/llm-d/llm-d-inference-payload-processor"
"""Repository of the BBR image (chart ``payload-processor/values.yaml``: registry ``ghcr.io/llm-d``, repository
``llm-d-inference-payload-processor``, tag ``main`` with pullPolicy Always — never deploy that; resolve a release
tag to a digest). Release images are tagged with the git tag (``.github/workflows/ci-release.yaml``)."""
BBR_GRPC_PORT = 9004
BBR_HEALTH_PORT = 9005
BBR_METRICS_PORT = 9090
"""ext_proc, gRPC health and metrics ports (``pkg/server/options.go``: DefaultGrpcPort 9004, DefaultGrpcHealthPort
9005, MetricsPort 9090; chart values ``port: 9004``, ``healthCheckPort: 9005``)."""
MODEL_HEADER = "X-Gateway-Model-Name"
"""Header the ``body-field-to-header`` plugin sets from the body's ``model`` field
(``pkg/plugins/bodyfieldtoheader/body_field_to_header.go``: ``ModelHeader``; chart values ``headerName``)."""
BASE_MODEL_HEADER = "X-Gateway-Base-Model-Name"
"""Header the ``base-model-to-header`` plugin sets (``pkg/plugins/basemodelextractor/base_model_to_header.go``)."""
BBR_EXTENSION_EVENTS = ("RequestHeaders", "RequestBody", "RequestTrailers")
"""A GCPRoutingExtension with ``requestBodySendMode: FullDuplexStreamed`` may list only these events, and must list
RequestBody and RequestTrailers (GCPRoutingExtension CRD field descriptions, gke-gateway-api @fc40d606); GAIE v1.5.0
``body-based-routing/templates/gke.yaml`` renders exactly these three."""
BBR_EXTENSION_TIMEOUT = "1s"
"""Per-message timeout of the extension (both charts: ``timeout: 1s``; the CRD allows 10–1000 ms)."""

# -- Endpoint picker (llm-d router) -----------------------------------------------------------------

EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker"
EPP_RELEASE_TAG = "v0.10.0"
"""The EPP image repository (``routerlib/values.yaml`` @v0.10.0: registry ``ghcr.io/llm-d``, repository
``llm-d-router-endpoint-picker``, default tag ``main`` with pullPolicy Always) and the release whose CRDs and
chart these components follow; the release workflow tags images with the git tag
(``.github/workflows/ci-release.yaml`` @v0.10.0, image name ``${repo}-endpoint-picker``). Resolve
``EPP_IMAGE:EPP_RELEASE_TAG`` to a digest and pass it as the picker image."""
EPP_EXT_PROC_PORT = 9002
EPP_HEALTH_PORT = 9003
EPP_METRICS_PORT = 9090
"""ext_proc (gRPC), gRPC health and metrics ports (``pkg/epp/server/options.go`` @v0.10.0 defaults; chart
``_deployment.yaml`` container ports ``grpc`` 9002, ``grpc-health`` 9003, ``metrics`` 9090). GKE health-checks the
picker backend on gRPC 9003 by default, so no HealthCheckPolicy is needed for it
(``llm-d-router-gateway/templates/gke.yaml`` @v0.10.0)."""
EPP_CPU = "8"
EPP_MEMORY = "8Gi"
EPP_MEMORY_LIMIT = "16Gi"
"""Chart defaults (``routerlib/values.yaml`` @v0.10.0): requests 8 CPU / 8Gi, memory limit 16Gi, no CPU limit
("CPU limits unset for burst capacity")."""
EPP_TERMINATION_GRACE_SECONDS = 130
"""``terminationGracePeriodSeconds: 130`` ("should mirror the longest grace period of the pods within the pool",
``routerlib/templates/_deployment.yaml`` @v0.10.0)."""
OBJECTIVE_HEADER = "x-llm-d-inference-objective"
LEGACY_OBJECTIVE_HEADER = "x-gateway-inference-objective"
"""The EPP looks an InferenceObjective up by the request header naming it, not by model
(``pkg/epp/metadata/consts.go`` @v0.10.0: ``ObjectiveKey``, deprecated alias ``OldObjectiveKey``;
``pkg/epp/requestcontrol/director.go``: ``ObjectiveGet(reqCtx.ObjectiveKey)``, default priority when absent)."""
ENGINE_LABEL = "llm-d.ai/engine-type"
"""Pod label choosing the metric names the EPP scrapes; default engine ``vllm`` when absent
(``pkg/epp/framework/plugins/datalayer/extractor/metrics/README.md`` @v0.10.0)."""

# -- GKE policies ------------------------------------------------------------------------------------

HEALTH_PATH = "/health"
"""vLLM answers ``GET /health`` 200 while the engine lives (../shared/reference/field-2026-12.md §4). Without a
HealthCheckPolicy the load balancer probes ``GET /`` → 404 → every backend UNHEALTHY → 503 (§1.3; GAIE PRs #1475,
#633). The chart's policy: HTTP ``/health`` on the first target port (``llm-d-router-gateway/templates/gke.yaml``)."""
HEALTH_CHECK_INTERVAL_SECONDS = 2
HEALTH_CHECK_TIMEOUT_SECONDS = 2
"""``checkIntervalSec: 2``, ``timeoutSec: 2`` ("more aggressive than the default 5s for faster switch over",
``llm-d-router-gateway/templates/gke.yaml`` @v0.10.0)."""
MIN_BACKEND_TIMEOUT_SECONDS = 300
"""The chart's GCPBackendPolicy ``timeoutSec: 300`` ("5-minute timeout"); a long generation streams for minutes, and
the load balancer cuts the response at this timeout. The project refuses less."""

# -- Managed Prometheus ------------------------------------------------------------------------------

GMP_NAMESPACE = "gmp-system"
GMP_AUTOPILOT_NAMESPACE = "gke-gmp-system"
GMP_COLLECTOR_SERVICE_ACCOUNT = "collector"
"""The GMP collector's namespace (``gke-gmp-system`` on Autopilot) and service account, which must read the
metrics token Secret (``routerlib/templates/_gke.yaml`` @v0.10.0)."""
METRICS_INTERVAL = "10s"
"""``monitoring.interval`` chart default (``routerlib/values.yaml`` @v0.10.0)."""
