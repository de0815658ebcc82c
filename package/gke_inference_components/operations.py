"""Facades of the components around a server: Managed Prometheus scraping, the custom-metrics adapter an HPA
reads vLLM's metrics through, and the smoke test that ends `pulumi up` only when the model answers.

Pass the cluster's Kubernetes provider in the resource options; each facade refuses what its Python component
refuses (same message) before registering anything, then creates that component as its only child.
"""

from typing import Any, NotRequired, TypedDict

import pulumi

from infra.options import child_options
from workloads import metrics_adapter, monitoring, smoke_test

from .convert import flat_args


class VllmPodMonitoringArgs(TypedDict):
    """Arguments of the Managed Prometheus PodMonitoring that scrapes vLLM."""

    namespace: pulumi.Input[str]
    """Namespace of the vLLM pods."""
    selector_labels: dict[str, str]
    """Labels that select the vLLM pods (the server's selector: app.kubernetes.io/name=vllm and
    app.kubernetes.io/instance=<server name>)."""
    port: NotRequired[str]
    """Named container port that serves /metrics. Default http."""
    name: NotRequired[str]
    """Name of the PodMonitoring object. Default vllm."""
    path: NotRequired[str]
    """Metrics path. Default /metrics."""
    interval: NotRequired[str]
    """Scrape interval. Default 15s (the HPA's sync period)."""
    timeout: NotRequired[str]
    """Scrape timeout, at most the interval. Default 10s."""
    target_labels: NotRequired[list[str]]
    """Pod metadata copied onto every series; must contain `pod` (the adapter filters on it)."""
    keep_only_registered: NotRequired[bool]
    """Keep only the vLLM series the project registers (cuts ingestion cost). Default false."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on the PodMonitoring object."""


class VllmPodMonitoring(pulumi.ComponentResource):
    """Managed Prometheus scrapes vLLM's /metrics (a PodMonitoring)."""

    monitoring_name: str
    """The PodMonitoring's name."""

    def __init__(self, name: str, args: VllmPodMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = flat_args("VllmPodMonitoring", name, args, VllmPodMonitoringArgs, monitoring.VllmPodMonitoringArgs,
                         monitoring.validate_vllm_pod_monitoring_args)
        super().__init__("gke-inference:index:VllmPodMonitoring", name, {}, opts)
        self.monitoring_name = monitoring.VllmPodMonitoring(name, real, child_options(self, opts)).name
        self.register_outputs({"monitoringName": self.monitoring_name})


class MetricsAdapterArgs(TypedDict):
    """Arguments of the Stackdriver custom/external metrics adapter."""

    google_service_account: pulumi.Input[str]
    """Email of the GSA (roles/monitoring.viewer) the adapter's service account impersonates."""
    image: NotRequired[pulumi.Input[str]]
    """Adapter image; upstream's tags are accepted, any other image must be pinned by digest."""
    replicas: NotRequired[int]
    """Adapter replicas. Default 1."""
    cpu: NotRequired[str]
    """CPU request and limit. Default 250m."""
    memory: NotRequired[str]
    """Memory request and limit. Default 200Mi."""
    extra_args: NotRequired[list[str]]
    """More adapter flags, e.g. --external-metric-cache-ttl=30s."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Tolerations (by default the adapter stays on CPU nodes)."""
    labels: NotRequired[dict[str, str]]
    """Extra labels on every object."""


class MetricsAdapter(pulumi.ComponentResource):
    """The Stackdriver custom/external metrics adapter: the HPA reads vLLM's Managed Prometheus series through it.
    One per cluster."""

    adapter_namespace: str
    """The adapter's namespace."""

    def __init__(self, name: str, args: MetricsAdapterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = flat_args("MetricsAdapter", name, args, MetricsAdapterArgs, metrics_adapter.MetricsAdapterArgs,
                         metrics_adapter.validate_metrics_adapter_args)
        super().__init__("gke-inference:index:MetricsAdapter", name, {}, opts)
        self.adapter_namespace = metrics_adapter.MetricsAdapter(name, real, child_options(self, opts)).namespace
        self.register_outputs({"adapterNamespace": self.adapter_namespace})


class SmokeTestArgs(TypedDict):
    """Arguments of the smoke test: one chat completion through the server's Service."""

    namespace: pulumi.Input[str]
    """Namespace of the vLLM Service."""
    image: pulumi.Input[str]
    """An image with Python 3.11 or later, pinned by digest (the serving image will do)."""
    target_url: pulumi.Input[str]
    """Base URL of the vLLM Service (a VllmServer's serviceUrl)."""
    model: str
    """Served model name sent as `model`."""
    name: NotRequired[str]
    """Prefix of the Job, ConfigMaps, account and Role. Default smoke-test."""
    api_key_secret: NotRequired[str]
    """Secret with the server's API key under `token` (the server's `<name>-api-key`); unset when none."""
    prompt: NotRequired[str]
    """The user message."""
    max_tokens: NotRequired[int]
    """Completion budget. Default 16."""
    request_timeout_seconds: NotRequired[int]
    """Per-request timeout. Default 120."""
    attempts: NotRequired[int]
    """Tries on connection errors and HTTP 502/503/504. Default 3."""
    backoff_limit: NotRequired[int]
    """Job retries before it fails (and `pulumi up` with it). Default 1."""
    deadline_seconds: NotRequired[int]
    """The whole Job's deadline, scheduling and image pull included. Default 600."""
    client_label: NotRequired[str]
    """Label the server's NetworkPolicy admits. Default gke-inference/client."""
    node_selector: NotRequired[dict[str, str]]
    """Where the Job runs (a CPU pool)."""
    rerun_on: NotRequired[pulumi.Input[Any]]
    """Values whose change re-runs the Job (e.g. the server's image and model); unset runs it once."""


class SmokeTest(pulumi.ComponentResource):
    """A Job that asks the model for one chat completion through its Service and fails `pulumi up` if it does not
    answer. Put the server in `dependsOn` so it runs once the server is ready."""

    job_name: str
    """The Job's name."""
    result_id: pulumi.Output[str]
    """Id of the ConfigMap the Job writes its result (latency) to."""

    def __init__(self, name: str, args: SmokeTestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = flat_args("SmokeTest", name, args, SmokeTestArgs, smoke_test.SmokeTestArgs,
                         smoke_test.validate_smoke_test_args)
        super().__init__("gke-inference:index:SmokeTest", name, {}, opts)
        test = smoke_test.SmokeTest(name, real, child_options(self, opts))
        self.job_name = test.job_name
        self.result_id = test.result_id
        self.register_outputs({"jobName": self.job_name})
