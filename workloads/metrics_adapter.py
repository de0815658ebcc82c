"""The Stackdriver custom-metrics adapter: serves Managed Prometheus series to the HPA.

Mirrors GoogleCloudPlatform/k8s-stackdriver
``custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model.yaml`` at
673c7dd8 (release 0.16.9; ../shared/reference/gke-iac-reference.md §7): namespace
``custom-metrics``, service account, RBAC (auth-delegator, extension-apiserver-authentication-reader
in kube-system, resource reader, external-metrics reader for the HPA controller), Deployment,
Service and the three APIServices. Differences, all hardening:

* a NetworkPolicy admitting only the serving port;
* non-root (uid 65532 of the distroless base), read-only root filesystem, all capabilities dropped,
  seccomp RuntimeDefault; so the server listens on 6443 (``--secure-port``) instead of privileged
  443, and writes its self-signed serving certificate to an ``emptyDir`` (``--cert-dir``);
* a liveness probe beside upstream's readiness probe; ``imagePullPolicy: IfNotPresent`` for a pinned image;
* the KSA is annotated for Workload Identity (the GSA gets ``roles/monitoring.viewer``; created by
  the caller, since workloads/ creates no GCP resources).

The adapter owns ``v1beta1.external.metrics.k8s.io``; KEDA's metrics server wants the same
APIService, so never install both (reference §6.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems
from workloads.arg_rules import at_least, pinned_image
from workloads.checkov import checkov_skip_annotations
from workloads.pod_security import container_security_context, pod_security_context

NAMESPACE = "custom-metrics"
NAME = "custom-metrics-stackdriver-adapter"
IMAGE = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
"""Pinned by tag: the image of k8s-stackdriver's production manifest at 673c7dd8 (tag cm-sd-adapter-v0.16.9).
No published digest was reachable offline; resolve one with
``crane digest gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0`` and pass
``IMAGE + "@sha256:..."`` as ``MetricsAdapterArgs.image``."""
SECURE_PORT = 6443
RUN_AS_USER = 65532
"""The ``nonroot`` user of gcr.io/distroless images (the adapter's base is distroless/static)."""
APISERVICES = (
    ("v1beta1.custom.metrics.k8s.io", "custom.metrics.k8s.io", "v1beta1", 100),
    ("v1beta2.custom.metrics.k8s.io", "custom.metrics.k8s.io", "v1beta2", 200),
    ("v1beta1.external.metrics.k8s.io", "external.metrics.k8s.io", "v1beta1", 100),
)
"""(name, group, version, versionPriority) as upstream registers them."""
EXTERNAL_WILDCARD_REASON = (
    "external.metrics.k8s.io resources are metric names chosen by each HPA, so the HPA controller's read "
    "rule needs '*'; the group holds no secrets"
)
CHECKOV_SKIPS = (
    ("CKV_K8S_15", "the image is pinned; IfNotPresent avoids a registry round trip on every restart"),
    ("CKV_K8S_38", "an aggregated API server authenticates callers with its service account token (TokenReview)"),
)


@dataclass(frozen=True)
class MetricsAdapterArgs:
    google_service_account: pulumi.Input[str]
    """Email of the GSA (``roles/monitoring.viewer``) that the adapter's KSA impersonates."""
    image: pulumi.Input[str] = IMAGE
    """Adapter image; pin by digest where one is known (the stack passes a looked-up ``NAME@sha256:...``)."""
    replicas: int = 1
    """Adapter replicas (upstream runs one)."""
    cpu: str = "250m"
    """CPU request and limit (upstream: 250m)."""
    memory: str = "200Mi"
    """Memory request and limit (upstream at 0.16.9: 200Mi)."""
    extra_args: tuple[str, ...] = ()
    """More adapter flags, e.g. ``--external-metric-cache-ttl=30s``."""
    tolerations: Sequence[Mapping[str, str]] = ()
    """Tolerations (upstream tolerates GPU/TPU taints; by default the adapter stays on CPU nodes)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object."""



UPSTREAM_IMAGE = "gcr.io/gke-release/custom-metrics-stackdriver-adapter"
"""The adapter's upstream repository; its tags are accepted (GKE's own release), any other image needs a digest."""


def validate_metrics_adapter_args(args: MetricsAdapterArgs) -> list[Problem]:
    """Problems with the adapter's arguments (pure): replicas, and a non-upstream image pinned by digest."""
    problems = type_problems(args, MetricsAdapterArgs)
    if problems:
        return problems
    problems = at_least("replicas", args.replicas, 1, "run at least one adapter or do not install it")
    if not (isinstance(args.image, str) and args.image.startswith(UPSTREAM_IMAGE)):
        problems += pinned_image("image", args.image)
    return problems + kubernetes_labels("labels", args.labels)


def adapter_command(extra: Sequence[str] = ()) -> list[str]:
    """The adapter's command line (new resource model, as the GMP HPA guide deploys it)."""
    return [
        "/adapter",
        "--use-new-resource-model=true",
        "--fallback-for-container-metrics=true",
        f"--secure-port={SECURE_PORT}",
        "--cert-dir=/tmp/certs",
        *extra,
    ]


class MetricsAdapter(pulumi.ComponentResource):
    """The Stackdriver custom/external metrics adapter. Pass an explicit Kubernetes provider in ``opts``."""

    namespace: str = NAMESPACE
    service_account: str = NAME
    deployment: k8s.apps.v1.Deployment
    apiservices: list[k8s.apiregistration.v1.APIService]

    def __init__(self, name: str, args: MetricsAdapterArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("MetricsAdapter", name, validate_metrics_adapter_args(args))
        super().__init__("gke-inference:workloads:MetricsAdapter", name, {}, opts)
        child = child_options(self, opts)
        labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "gke-inference", **args.labels}
        selector = {"app.kubernetes.io/name": NAME, "k8s-app": NAME}

        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": labels}, opts=child)
        in_ns = child_options(self, opts, depends_on=[namespace])
        subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]

        ksa = k8s.core.v1.ServiceAccount(
            f"{name}-ksa",
            metadata={
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": labels,
                "annotations": {"iam.gke.io/gcp-service-account": args.google_service_account},
            },
            opts=in_ns,
        )
        k8s.rbac.v1.ClusterRoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-auth-delegator",
            metadata={"name": "custom-metrics:system:auth-delegator", "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
            subjects=subject,
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-auth-reader",
            metadata={"name": "custom-metrics-auth-reader", "namespace": "kube-system", "labels": labels},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            subjects=subject,
            opts=child,
        )
        reader = k8s.rbac.v1.ClusterRole(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-resource-reader",
            metadata={"name": "custom-metrics-resource-reader", "labels": labels},
            rules=[
                {"apiGroups": [""], "resources": ["pods", "nodes", "nodes/stats"], "verbs": ["get", "list", "watch"]}
            ],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-resource-reader",
            metadata={"name": "custom-metrics-resource-reader", "labels": labels},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "custom-metrics-resource-reader",
            },
            subjects=subject,
            opts=child_options(self, opts, depends_on=[reader]),
        )
        external_reader = k8s.rbac.v1.ClusterRole(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-external-reader",
            metadata={
                "name": "external-metrics-reader",
                "labels": labels,
                "annotations": checkov_skip_annotations([("CKV_K8S_49", EXTERNAL_WILDCARD_REASON)]),
            },
            rules=[{"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["list", "get", "watch"]}],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-external-reader",
            metadata={
                "name": "external-metrics-reader",
                "labels": labels,
                "annotations": checkov_skip_annotations([("CKV2_K8S_5", EXTERNAL_WILDCARD_REASON)]),
            },
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "external-metrics-reader",
            },
            subjects=[{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}],
            opts=child_options(self, opts, depends_on=[external_reader]),
        )
        self.deployment = k8s.apps.v1.Deployment(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-deployment",
            metadata={
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": labels,
                "annotations": checkov_skip_annotations(CHECKOV_SKIPS),
            },
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": {**labels, **selector}}, "spec": self._pod_spec(args)},
            },
            opts=child_options(self, opts, depends_on=[namespace, ksa]),
        )
        service = k8s.core.v1.Service(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-svc",
            metadata={"name": NAME, "namespace": NAMESPACE, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
            },
            opts=in_ns,
        )
        # Only the aggregated API port is reachable (callers are the kube-apiserver, outside the pod network).
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-netpol",
            metadata={"name": NAME, "namespace": NAMESPACE, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": "https", "protocol": "TCP"}]}],
            },
            opts=in_ns,
        )
        self.apiservices = [
            k8s.apiregistration.v1.APIService(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-{api_name.split('.')[0]}-{group.split('.')[0]}",
                metadata={"name": api_name, "labels": labels},
                spec={
                    # Upstream registers the adapter without a CA bundle: its serving cert is self-signed.
                    "insecureSkipTLSVerify": True,
                    "group": group,
                    "version": version,
                    "groupPriorityMinimum": 100,
                    "versionPriority": priority,
                    "service": {"name": NAME, "namespace": NAMESPACE, "port": 443},
                },
                opts=child_options(self, opts, depends_on=[service, self.deployment]),
            )
            for api_name, group, version, priority in APISERVICES
        ]
        self.register_outputs({"namespace": NAMESPACE, "serviceAccount": NAME})

    @staticmethod
    def _pod_spec(args: MetricsAdapterArgs) -> dict[str, Any]:
        probe_get = {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
        resources = {"cpu": args.cpu, "memory": args.memory}
        spec: dict[str, Any] = {
            "serviceAccountName": NAME,
            "securityContext": pod_security_context(RUN_AS_USER),
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "containers": [
                {
                    "name": "pod-custom-metrics-stackdriver-adapter",
                    "image": args.image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": adapter_command(args.extra_args),
                    "ports": [{"name": "https", "containerPort": SECURE_PORT, "protocol": "TCP"}],
                    "resources": {"requests": dict(resources), "limits": dict(resources)},
                    "readinessProbe": {
                        "httpGet": probe_get,
                        "initialDelaySeconds": 40,
                        "periodSeconds": 10,
                        "timeoutSeconds": 5,
                    },
                    "livenessProbe": {
                        "httpGet": {**probe_get, "path": "/livez"},
                        "initialDelaySeconds": 60,
                        "periodSeconds": 20,
                        "timeoutSeconds": 5,
                        "failureThreshold": 3,
                    },
                    "securityContext": container_security_context(RUN_AS_USER),
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
        }
        if args.tolerations:
            spec["tolerations"] = [dict(t) for t in args.tolerations]
        return spec
