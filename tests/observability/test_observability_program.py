"""build_observability rendered under the recording mock engine: exact objects per autoscaling mode."""

from __future__ import annotations

import json

import pytest

from stack.checks.validate import validate_manifests
from stack.program.observability import build_observability
from tests.observability.conftest import FakeServing, provider, record
from workloads import metrics as M

COLD_START = 240.0
"""A replica cold start in seconds (what stack/plan/estimate.py computes for the dev stack is of this order)."""
GMP = "https://monitoring.googleapis.com/v1/projects/gke-inference-dev/location/global/prometheus"
DEV_BEHAVIOR = {
    # stack.plan.simulate.default_behavior for the dev stack (maxReplicas 2) and a 240 s cold start.
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 1, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
    },
}
ADAPTER_TYPES = (
    "kubernetes:apiregistration.k8s.io/v1:APIService",
    "gke-inference:workloads:MetricsAdapter",
)


def render(config, serving=None, stack="dev", **kwargs):
    return record(
        lambda: build_observability(
            config, stack, provider(), {config.serving.name: (serving or FakeServing(), COLD_START)}, **kwargs
        ),
        stack=stack,
    )


def test_pod_monitoring_exact(dev_config):
    rec = render(dev_config())
    (pm,) = rec.kind("PodMonitoring")
    assert pm == {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": {
            "name": "vllm-metrics",
            "namespace": "llm",
            "labels": {"app.kubernetes.io/component": "metrics"},
            # up ends only once the collector accepted it (prometheus-engine's only condition)
            "annotations": {"pulumi.com/waitFor": "condition=ConfigurationCreateSuccess"},
        },
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "vllm"}},
            "endpoints": [{"port": "http", "path": "/metrics", "scheme": "http", "interval": "15s", "timeout": "10s"}],
            "targetLabels": {"metadata": ["pod", "container", "node", "top_level_controller_name"]},
        },
    }


QUEUE_METRIC = "autoscaling.metrics=[{metric: queue, target: 5}]"
"""The metric these exact-shape tests render (the shipped stacks pick theirs by simulation, docs/capacity.md)."""


def test_hpa_mode_renders_adapter_and_one_hpa(dev_config):
    rec = render(dev_config(QUEUE_METRIC))
    (hpa,) = rec.kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"] == {
        "name": "vllm",
        "namespace": "llm",
        "labels": {"app.kubernetes.io/component": "autoscaler"},
    }
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
        "minReplicas": 1,
        "maxReplicas": 2,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
                    "target": {"type": "AverageValue", "averageValue": "5"},
                },
            }
        ],
        "behavior": DEV_BEHAVIOR,
    }
    assert sorted(a["metadata"]["name"] for a in rec.kind("APIService")) == [
        "v1beta1.custom.metrics.k8s.io",
        "v1beta1.external.metrics.k8s.io",
        "v1beta2.custom.metrics.k8s.io",
    ]
    assert not rec.kind("ScaledObject") and not rec.of_type("kubernetes:helm.sh/v4:Chart")
    assert rec.outputs["autoscaler"] == "HorizontalPodAutoscaler/vllm"
    # The HPA waits for the adapter's APIServices.
    assert {
        "metrics-adapter-v1beta1-custom",
        "metrics-adapter-v1beta2-custom",
        "metrics-adapter-v1beta1-external",
    } <= set(rec.named("vllm-autoscaler")["dependsOn"])


def test_adapter_identity_is_workload_identity_with_monitoring_viewer(dev_config):
    rec = render(dev_config())
    email = "cm-adapter-dev@gke-inference-dev.iam.gserviceaccount.com"
    (ksa,) = [m for m in rec.kind("ServiceAccount") if m["metadata"]["namespace"] == "custom-metrics"]
    assert ksa["metadata"]["name"] == "custom-metrics-stackdriver-adapter"
    assert ksa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": email}
    viewer = rec.named("metrics-adapter-wi-monitoring-viewer")
    assert viewer["type"] == "gcp:projects/iAMMember:IAMMember"  # non-authoritative
    assert viewer["inputs"] == {
        "project": "gke-inference-dev",
        "role": "roles/monitoring.viewer",
        "member": f"serviceAccount:{email}",
    }
    wi = rec.named("metrics-adapter-wi-wi-user")["inputs"]
    assert wi["role"] == "roles/iam.workloadIdentityUser"
    assert (
        wi["member"]
        == "serviceAccount:gke-inference-dev.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"
    )
    assert rec.outputs["metricsAdapterServiceAccount"] == email
    assert not [
        r
        for r in rec.resources
        if r["type"] in ("gcp:projects/iAMBinding:IAMBinding", "gcp:projects/iAMPolicy:IAMPolicy")
    ]


def test_adapter_deployment_is_hardened(dev_config):
    rec = render(dev_config())
    (dep,) = [m for m in rec.kind("Deployment") if m["metadata"]["namespace"] == "custom-metrics"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
    assert c["command"] == [
        "/adapter",
        "--use-new-resource-model=true",
        "--fallback-for-container-metrics=true",
        "--secure-port=6443",
        "--cert-dir=/tmp/certs",
    ]
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532
    assert c["resources"] == {
        "requests": {"cpu": "250m", "memory": "200Mi"},
        "limits": {"cpu": "250m", "memory": "200Mi"},
    }
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "https", "scheme": "HTTPS"}
    assert c["ports"] == [{"name": "https", "containerPort": 6443, "protocol": "TCP"}]
    (svc,) = [m for m in rec.kind("Service") if m["metadata"]["namespace"] == "custom-metrics"]
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]


def test_adapter_image_override_is_used(dev_config):
    pinned = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0@sha256:" + "0" * 64
    rec = render(dev_config(), adapter_image=pinned)
    (dep,) = [m for m in rec.kind("Deployment") if m["metadata"]["namespace"] == "custom-metrics"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == pinned


def test_adapter_rbac_matches_upstream(dev_config):
    rec = render(dev_config())
    bindings = {m["metadata"]["name"]: m for m in rec.kind("ClusterRoleBinding")}
    assert bindings["custom-metrics:system:auth-delegator"]["roleRef"]["name"] == "system:auth-delegator"
    assert bindings["external-metrics-reader"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}
    ]
    (reader,) = rec.kind("RoleBinding")
    assert reader["metadata"]["namespace"] == "kube-system"
    assert reader["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "extension-apiserver-authentication-reader",
    }
    roles = {m["metadata"]["name"]: m["rules"] for m in rec.kind("ClusterRole")}
    assert roles["custom-metrics-resource-reader"] == [
        {"apiGroups": [""], "resources": ["pods", "nodes", "nodes/stats"], "verbs": ["get", "list", "watch"]}
    ]


def test_adapter_is_skippable(dev_config):
    rec = render(dev_config("autoscaling.installMetricsAdapter=false"))
    assert not [r for r in rec.resources if r["type"] in ADAPTER_TYPES]
    assert not rec.of_type("gke-inference:infra:WorkloadIdentity")
    assert len(rec.kind("HorizontalPodAutoscaler")) == 1
    assert "metricsAdapterServiceAccount" not in rec.outputs


def test_every_kubernetes_object_uses_the_explicit_provider(dev_config):
    for overrides in ((), ("autoscaling.mode=keda",)):
        rec = render(dev_config(*overrides))
        kube = [r for r in rec.resources if r["type"].startswith("kubernetes:") and r["custom"]]
        assert kube
        for r in kube:
            assert r["provider"].split("::")[-2:] == ["gke-k8s", "gke-k8s-id"], r["name"]


def test_combined_metrics_prod(prod_config):
    rec = render(
        prod_config(
            "autoscaling.minReplicas=2",
            "autoscaling.metrics=[{metric: queue, target: 5}, {metric: kvCache, target: 0.85}]",
        ),
        FakeServing(served_model_name="llama-3.3-70b"), stack="prod",
    )
    (hpa,) = rec.kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 10
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
                "target": {"type": "AverageValue", "averageValue": "5"},
            },
        },
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge"},
                "target": {"type": "AverageValue", "averageValue": "850m"},
            },
        },
    ]


def test_gpu_duty_cycle_is_external_and_scaled_by_gpus_per_replica(prod_config):
    config = prod_config("autoscaling.metrics=[{metric: gpuDutyCycle, target: 70}]")
    assert config.gpus_per_replica() == 8
    rec = render(config, stack="prod")
    (hpa,) = rec.kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"] == [
        {
            "type": "External",
            "external": {
                "metric": {
                    "name": "prometheus.googleapis.com|dcgm_fi_dev_gpu_util|gauge",
                    "selector": {
                        "matchLabels": {
                            "resource.labels.cluster": config.cluster.name,
                            "metric.labels.exported_namespace": "llm",
                        }
                    },
                },
                "target": {"type": "AverageValue", "averageValue": "560"},
            },
        }
    ]


def test_leaderworkerset_target(prod_config):
    serving = FakeServing(
        target_api_version="leaderworkerset.x-k8s.io/v1", target_kind="LeaderWorkerSet", target_name="llama"
    )
    rec = render(prod_config(), serving, stack="prod")
    (hpa,) = rec.kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "llama",
    }
    assert hpa["metadata"]["name"] == "llama"


def test_behavior_overrides_from_config(dev_config):
    rec = render(
        dev_config(
            "autoscaling.behavior.scaleDownStabilizationSeconds=900",
            "autoscaling.behavior.scaleUpPods=2",
            "autoscaling.behavior.scaleDownPeriodSeconds=120",
        )
    )
    behavior = rec.kind("HorizontalPodAutoscaler")[0]["spec"]["behavior"]
    assert behavior["scaleDown"] == {
        "stabilizationWindowSeconds": 900,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
    }
    assert behavior["scaleUp"]["policies"][0] == {"type": "Pods", "value": 2, "periodSeconds": 15}


def test_behavior_is_the_simulators_and_follows_the_cold_start(prod_config):
    from stack.plan.simulate.behavior import default_behavior

    config = prod_config()
    for cold in (120.0, 900.0):
        rec = record(
            lambda cold=cold: build_observability(
                config, "prod", provider(), {config.serving.name: (FakeServing(), cold)}
            ),
            stack="prod",
        )
        behavior = rec.kind("HorizontalPodAutoscaler")[0]["spec"]["behavior"]
        assert behavior == default_behavior(config, cold).to_manifest()
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] == max(300, cold)
        assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0


def test_keda_mode_exact(dev_config):
    rec = render(
        dev_config(
            "autoscaling.mode=keda",
            QUEUE_METRIC,
            "autoscaling.keda.cron=[{start: '0 8 * * 1-5', end: '0 18 * * 1-5', replicas: 1, timezone: Europe/Paris}]",
        )
    )
    assert not rec.kind("HorizontalPodAutoscaler")
    assert not [r for r in rec.resources if r["type"] in ADAPTER_TYPES]
    (auth,) = rec.kind("TriggerAuthentication")
    assert auth == {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "vllm-gmp", "namespace": "llm", "labels": {"app.kubernetes.io/component": "autoscaler"}},
        "spec": {"podIdentity": {"provider": "gcp"}},
    }
    (so,) = rec.kind("ScaledObject")
    assert so["metadata"] == {
        "name": "vllm",
        "namespace": "llm",
        "labels": {"app.kubernetes.io/component": "autoscaler"},
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},  # KEDA's ConditionReady
    }
    assert so["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
        "minReplicaCount": 0,
        "maxReplicaCount": 2,
        "pollingInterval": 15,
        "cooldownPeriod": 900,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": DEV_BEHAVIOR}},
        "triggers": [
            {
                "type": "prometheus",
                "name": "queue",
                "metadata": {
                    "serverAddress": GMP,
                    "query": "sum (vllm:num_requests_waiting{"
                    'cluster="inference-dev",namespace="llm",model_name="llama-3.1-8b"})',
                    "threshold": "5",
                    "activationThreshold": "0.5",
                },
                "authenticationRef": {"name": "vllm-gmp", "kind": "TriggerAuthentication"},
            },
            {
                "type": "cron",
                "name": "cron-0",
                "metadata": {
                    "timezone": "Europe/Paris",
                    "start": "0 8 * * 1-5",
                    "end": "0 18 * * 1-5",
                    "desiredReplicas": "1",
                },
            },
        ],
    }
    assert rec.outputs["autoscaler"] == "ScaledObject/vllm"


def test_keda_chart_pinned_with_workload_identity(dev_config):
    rec = render(dev_config("autoscaling.mode=keda"))
    (chart,) = rec.of_type("kubernetes:helm.sh/v4:Chart")
    email = "keda-dev@gke-inference-dev.iam.gserviceaccount.com"
    assert chart["inputs"] == {
        "chart": "keda",
        "version": "2.20.2",
        "namespace": "keda",
        "repositoryOpts": {"repo": "https://kedacore.github.io/charts"},
        "values": {"podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": email}}},
    }
    assert rec.named("keda-wi-monitoring-viewer")["inputs"] == {
        "project": "gke-inference-dev",
        "role": "roles/monitoring.viewer",
        "member": f"serviceAccount:{email}",
    }
    assert (
        rec.named("keda-wi-wi-user")["inputs"]["member"]
        == "serviceAccount:gke-inference-dev.svc.id.goog[keda/keda-operator]"
    )
    assert rec.outputs["kedaServiceAccount"] == email
    # The ScaledObject waits for the chart (its CRDs come with it).
    assert "keda-chart" in rec.named("vllm-scaledobject")["dependsOn"]


def test_keda_assumed_present(dev_config):
    rec = render(dev_config("autoscaling.mode=keda", "autoscaling.keda.install=false"))
    assert not rec.of_type("kubernetes:helm.sh/v4:Chart")
    assert not rec.of_type("gke-inference:infra:WorkloadIdentity")
    assert len(rec.kind("ScaledObject")) == 1


def test_keda_kv_cache_and_gpu_triggers(prod_config):
    config = prod_config(
        "autoscaling.mode=keda",
        "autoscaling.metrics=[{metric: kvCache, target: 0.8}, {metric: gpuDutyCycle, target: 70}]",
    )
    rec = render(config, stack="prod")
    triggers = rec.kind("ScaledObject")[0]["spec"]["triggers"]
    assert [(t["name"], t["metadata"]["query"], t["metadata"]["threshold"]) for t in triggers] == [
        (
            "kvcache",
            f'sum (vllm:kv_cache_usage_perc{{cluster="{config.cluster.name}",namespace="llm",'
            'model_name="llama-3.1-8b"})',
            "0.8",
        ),
        (
            "gpudutycycle",
            f'sum (dcgm_fi_dev_gpu_util{{cluster="{config.cluster.name}",exported_namespace="llm"}})',
            "560",
        ),
    ]


def test_mode_none_scales_nothing(dev_config):
    rec = render(dev_config("autoscaling.mode=none"))
    assert not rec.kind("HorizontalPodAutoscaler") and not rec.kind("ScaledObject")
    assert not [r for r in rec.resources if r["type"] in ADAPTER_TYPES]
    assert len(rec.kind("PodMonitoring")) == 1 and len(rec.of_type("gcp:monitoring/dashboard:Dashboard")) == 1
    assert rec.outputs["autoscaler"] == "none"


def test_adapter_and_keda_never_together(dev_config):
    for overrides in ((), ("autoscaling.mode=keda",), ("autoscaling.mode=none",)):
        rec = render(dev_config(*overrides))
        has_adapter = bool(rec.kind("APIService"))
        has_keda = bool(rec.of_type("kubernetes:helm.sh/v4:Chart") or rec.kind("ScaledObject"))
        assert not (has_adapter and has_keda), overrides
        assert not (rec.kind("HorizontalPodAutoscaler") and rec.kind("ScaledObject")), overrides


def test_workload_identity_required(dev_config):
    with pytest.raises(ValueError, match=r"cluster\.workloadIdentity: false, but the metrics adapter"):
        render(
            dev_config(
                "cluster.workloadIdentity=false",
                "model.weights.backend=huggingFace",
                "gpuPools.l4-spot.workloadMetadata=GCE_METADATA",
            )
        )


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("autoscaling.mode=keda", "autoscaling.keda.cron=[{start: '0 8 * * *', end: '0 9 * * *', replicas: 2}]"),
        ("autoscaling.metrics=[{metric: gpuDutyCycle, target: 70}, {metric: running, target: 32}]",),
    ],
)
def test_rendered_objects_pass_kubernetes_and_crd_schemas(dev_config, overrides):
    rec = render(dev_config(*overrides))
    kinds = {m["kind"] for m in rec.manifests()}
    assert "PodMonitoring" in kinds
    assert ("ScaledObject" in kinds) == ("autoscaling.mode=keda" in overrides)
    assert validate_manifests(rec.manifests(), "1.33") == []


def test_schema_validation_catches_a_broken_podmonitoring(dev_config):
    rec = render(dev_config())
    (pm,) = rec.kind("PodMonitoring")
    broken = json.loads(json.dumps(pm))
    del broken["spec"]["endpoints"][0]["port"]
    broken["spec"]["endpoints"][0]["intervall"] = "15s"
    assert len(validate_manifests([broken], "1.33")) >= 1


def _all_text(rec) -> str:
    # Dashboard JSON is a string inside the inputs: dump everything, then the embedded JSON too.
    text = json.dumps([r["inputs"] for r in rec.resources])
    for board in rec.of_type("gcp:monitoring/dashboard:Dashboard"):
        text += board["inputs"]["dashboardJson"]
    return text


@pytest.mark.parametrize("mode", ["hpa", "keda"])
def test_no_metric_name_outside_the_registry(dev_config, mode):
    rec = render(
        dev_config(
            f"autoscaling.mode={mode}",
            "autoscaling.metrics=[{metric: queue, target: 5}, {metric: kvCache, target: 0.8},"
            " {metric: gpuDutyCycle, target: 70}, {metric: poolQueue, target: 5}, {metric: poolKvCache, target: 0.8}]",
        )
    )
    text = _all_text(rec)
    found = set(M.METRIC_TOKEN.findall(text))
    assert M.unregistered_names(text) == set()
    # Non-vacuous: every registered metric is used somewhere (dashboard, alerts, HPA/KEDA).
    used = {M.lookup(token).name for token in found}
    assert used == {m.name for m in M.ALL_METRICS}


def test_scan_would_catch_a_stray_name():
    assert M.unregistered_names('{"query": "sum(vllm:gpu_cache_usage_perc)"}') == {"vllm:gpu_cache_usage_perc"}


def test_scale_to_zero_without_a_wake_signal_warns(dev_config):
    def wake_warnings(*overrides):
        return [w for w in dev_config(*overrides).warnings() if "keda.wakeQuery" in w]

    assert "nothing scales the server back up" in wake_warnings("autoscaling.mode=keda")[0]
    cron = "autoscaling.keda.cron=[{start: '0 8 * * *', end: '0 9 * * *', replicas: 1}]"
    assert "outside the cron windows" in wake_warnings("autoscaling.mode=keda", cron)[0]
    assert wake_warnings("autoscaling.mode=keda", "autoscaling.keda.minReplicas=1") == []
    assert wake_warnings("autoscaling.mode=keda", "autoscaling.keda.wakeQuery='sum(rate(lb_requests[1m]))'") == []
    assert wake_warnings() == []


def test_wake_query_becomes_a_trigger_that_exists_at_zero(dev_config):
    from stack.render import render_config

    query = "sum(rate(loadbalancing_googleapis_com:https_request_count[1m]))"
    config = dev_config(
        "autoscaling.mode=keda", f"autoscaling.keda.wakeQuery='{query}'", "autoscaling.keda.wakeThreshold=2"
    )
    scaled = render_config(config, "dev").manifests_of_kind("ScaledObject")[0]
    wake = [t for t in scaled["spec"]["triggers"] if t.get("name") == "wake"]
    assert len(wake) == 1
    assert wake[0]["type"] == "prometheus"
    assert wake[0]["metadata"]["query"] == query
    assert wake[0]["metadata"]["threshold"] == "2"
    assert wake[0]["metadata"]["activationThreshold"] == "0"
