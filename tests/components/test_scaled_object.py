"""VllmScaledObject on its own: TriggerAuthentication + ScaledObject (Managed Prometheus and cron triggers,
HPA behavior, awaited Ready), and every refusal."""

from __future__ import annotations

import dataclasses

from workloads.autoscaling import ScaleTarget
from workloads.keda import CronTrigger, PrometheusTrigger, VllmScaledObject, VllmScaledObjectArgs

BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 600, "selectPolicy": "Max",
                  "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
}
QUEUE = PrometheusTrigger("queue", "sum (vllm:num_requests_waiting)", 5, 0.5)
GMP = "https://monitoring.googleapis.com/v1/projects/p-123456/location/global/prometheus"
META = {"namespace": "llm", "labels": {"app.kubernetes.io/component": "autoscaler"}}


def args(**change) -> VllmScaledObjectArgs:
    base = VllmScaledObjectArgs(namespace="llm", target=ScaleTarget("apps/v1", "Deployment", "vllm"),
                                project="p-123456", triggers=[QUEUE], min_replicas=0, max_replicas=3,
                                behavior=BEHAVIOR)
    return dataclasses.replace(base, **change)


def test_trigger_authentication_then_scaled_object(recorder):
    window = CronTrigger("UTC", "0 8 * * 1-5", "0 18 * * 1-5", 2)
    rec = recorder.run(lambda: VllmScaledObject("so", args(cron=(window,))))
    assert rec.tree() == {
        ("gke-inference:workloads:VllmScaledObject", "so", None),
        ("kubernetes:keda.sh/v1alpha1:TriggerAuthentication", "so-triggerauth", "so"),
        ("kubernetes:keda.sh/v1alpha1:ScaledObject", "so-scaledobject", "so"),
    }
    assert rec.named("so-scaledobject")["dependencies"] == ["so-triggerauth"]
    assert rec.inputs("so-triggerauth") == {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
        "metadata": {**META, "name": "vllm-gmp"}, "spec": {"podIdentity": {"provider": "gcp"}},
    }
    scaled = rec.inputs("so-scaledobject")
    assert scaled["metadata"] == {**META, "name": "vllm", "annotations": {"pulumi.com/waitFor": "condition=Ready"}}
    assert scaled["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
        "minReplicaCount": 0,
        "maxReplicaCount": 3,
        "pollingInterval": 15,
        "cooldownPeriod": 900,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": BEHAVIOR}},
        "triggers": [
            {"type": "prometheus", "name": "queue",
             "metadata": {"serverAddress": GMP, "query": "sum (vllm:num_requests_waiting)", "threshold": "5",
                          "activationThreshold": "0.5"},
             "authenticationRef": {"name": "vllm-gmp", "kind": "TriggerAuthentication"}},
            {"type": "cron", "name": "cron-0",
             "metadata": {"timezone": "UTC", "start": "0 8 * * 1-5", "end": "0 18 * * 1-5", "desiredReplicas": "2"}},
        ],
    }


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: VllmScaledObject("so", args(**change)))


def test_wrong_types_are_named(recorder):
    assert refused(recorder, max_replicas=3.0) == [("max_replicas", "expected int, got float 3.0")]


def test_replica_limits_and_windows(recorder):
    assert refused(recorder, max_replicas=0) == [("max_replicas", "0; must be ≥ 1 and ≥ min_replicas 0")]
    assert refused(recorder, min_replicas=-1) == [("min_replicas", "-1 must be ≥ 0")]
    window = CronTrigger("UTC", "0 8 * * *", "0 18 * * *", 5)
    assert refused(recorder, cron=(window,)) == [
        ("cron.0.replicas", "a window holds 5 replicas, above max_replicas 3"),
    ]


def test_triggers_project_polling_and_names(recorder):
    assert refused(recorder, triggers=[], project="", polling_seconds=0, cooldown_seconds=-1, name="SO") == [
        ("triggers", "empty; give at least one metric trigger"),
        ("polling_seconds", "0 must be ≥ 1"),
        ("cooldown_seconds", "-1 must be ≥ 0"),
        ("project", "empty; the Managed Prometheus query URL needs the GCP project id"),
        ("name", "'SO' is not a valid ScaledObject name: at most 253 lowercase letters, digits, '-' or '.', "
                 "alphanumeric at both ends"),
    ]
