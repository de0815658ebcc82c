"""MetricsAdapter on its own: namespace, Workload Identity KSA, RBAC, hardened Deployment, Service, NetworkPolicy and
the three APIServices that wait for it, and every refusal. (Upstream RBAC parity and the stack wiring:
tests/observability/test_observability_program.py.)"""

from __future__ import annotations

from workloads.metrics_adapter import IMAGE, MetricsAdapter, MetricsAdapterArgs

GSA = "adapter@p.iam.gserviceaccount.com"
NAME = "custom-metrics-stackdriver-adapter"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "gke-inference"}
SELECTOR = {"app.kubernetes.io/name": NAME, "k8s-app": NAME}
ROLE = "kubernetes:rbac.authorization.k8s.io/v1"


def test_children_and_their_order(recorder):
    rec = recorder.run(lambda: MetricsAdapter("ma", MetricsAdapterArgs(google_service_account=GSA)))
    assert {(r["type"], r["name"], tuple(r["dependencies"])) for r in rec.resources if r["parent"] == "ma"} == {
        ("kubernetes:core/v1:Namespace", "ma-ns", ()),
        ("kubernetes:core/v1:ServiceAccount", "ma-ksa", ("ma-ns",)),
        (f"{ROLE}:ClusterRoleBinding", "ma-auth-delegator", ()),
        (f"{ROLE}:RoleBinding", "ma-auth-reader", ()),
        (f"{ROLE}:ClusterRole", "ma-resource-reader", ()),
        (f"{ROLE}:ClusterRoleBinding", "ma-resource-reader", ("ma-resource-reader",)),
        (f"{ROLE}:ClusterRole", "ma-external-reader", ()),
        (f"{ROLE}:ClusterRoleBinding", "ma-external-reader", ("ma-external-reader",)),
        ("kubernetes:apps/v1:Deployment", "ma-deployment", ("ma-ksa", "ma-ns")),
        ("kubernetes:core/v1:Service", "ma-svc", ("ma-ns",)),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "ma-netpol", ("ma-ns",)),
        # The aggregated APIs are registered once the adapter serves them.
        ("kubernetes:apiregistration.k8s.io/v1:APIService", "ma-v1beta1-custom", ("ma-deployment", "ma-svc")),
        ("kubernetes:apiregistration.k8s.io/v1:APIService", "ma-v1beta2-custom", ("ma-deployment", "ma-svc")),
        ("kubernetes:apiregistration.k8s.io/v1:APIService", "ma-v1beta1-external", ("ma-deployment", "ma-svc")),
    }
    ksa = rec.inputs("ma-ksa")
    assert ksa["metadata"] == {"name": NAME, "namespace": "custom-metrics", "labels": LABELS,
                               "annotations": {"iam.gke.io/gcp-service-account": GSA}}
    external = rec.inputs("ma-v1beta1-external")
    assert external["spec"] == {"group": "external.metrics.k8s.io", "version": "v1beta1", "versionPriority": 100,
                                "groupPriorityMinimum": 100, "insecureSkipTLSVerify": True,
                                "service": {"name": NAME, "namespace": "custom-metrics", "port": 443}}
    netpol = rec.inputs("ma-netpol")
    assert netpol["spec"] == {"podSelector": {"matchLabels": SELECTOR}, "policyTypes": ["Ingress"],
                              "ingress": [{"ports": [{"port": "https", "protocol": "TCP"}]}]}
    assert [a.__class__.__name__ for a in rec.value.apiservices] == ["APIService"] * 3


def test_the_deployment_is_hardened_and_sized_by_the_args(recorder):
    args = MetricsAdapterArgs(google_service_account=GSA, cpu="500m", memory="400Mi", replicas=2,
                              extra_args=("--external-metric-cache-ttl=30s",))
    deployment = recorder.run(lambda: MetricsAdapter("ma", args)).inputs("ma-deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                      "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    assert (pod["serviceAccountName"], pod["nodeSelector"]) == (NAME, {"kubernetes.io/os": "linux"})
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["/adapter", "--use-new-resource-model=true",
                                     "--fallback-for-container-metrics=true", "--secure-port=6443",
                                     "--cert-dir=/tmp/certs", "--external-metric-cache-ttl=30s"]
    amounts = {"cpu": "500m", "memory": "400Mi"}
    assert container["resources"] == {"requests": amounts, "limits": amounts}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                            "capabilities": {"drop": ["ALL"]},
                                            "seccompProfile": {"type": "RuntimeDefault"}}


def test_refusals(recorder):
    assert recorder.refused(lambda: MetricsAdapter("ma", MetricsAdapterArgs(
        google_service_account=GSA, replicas=0, image="example.com/adapter:v1", labels={"bad key!": "x"}))) == [
        ("replicas", "0 must be ≥ 1 (run at least one adapter or do not install it)"),
        ("image", "'example.com/adapter:v1' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                  "(ContainerImage.ref)"),
        ("labels.bad key!", "'bad key!' is not a Kubernetes label key: [prefix/]name, name ≤ 63 alphanumerics, '-', "
                            "'_' or '.', alphanumeric at both ends"),
    ]
    assert recorder.refused(lambda: MetricsAdapter("ma", MetricsAdapterArgs(google_service_account=GSA,
                                                                            extra_args="--v=2"))) == [
        ("extra_args", "expected tuple[str, ...], got str '--v=2'"),
    ]
