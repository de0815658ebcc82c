"""VllmPodMonitoring on its own: one awaited PodMonitoring with the exact scrape endpoint, and every refusal."""

from __future__ import annotations

import dataclasses
import re

from workloads.monitoring import VllmPodMonitoring, VllmPodMonitoringArgs, keep_registered_relabeling

ENDPOINT = {"port": "http", "path": "/metrics", "scheme": "http", "interval": "15s", "timeout": "10s"}


def args(**change) -> VllmPodMonitoringArgs:
    return dataclasses.replace(VllmPodMonitoringArgs(namespace="llm", selector_labels={"app": "vllm"}), **change)


def test_one_awaited_pod_monitoring(recorder):
    rec = recorder.run(lambda: VllmPodMonitoring("pm", args(labels={"team": "ml"})))
    assert rec.tree() == {("gke-inference:workloads:VllmPodMonitoring", "pm", None),
                          ("kubernetes:monitoring.googleapis.com/v1:PodMonitoring", "pm-podmonitoring", "pm")}
    assert rec.inputs("pm-podmonitoring") == {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": {"name": "vllm", "namespace": "llm",
                     "labels": {"app.kubernetes.io/component": "metrics", "team": "ml"},
                     "annotations": {"pulumi.com/waitFor": "condition=ConfigurationCreateSuccess"}},
        "spec": {"selector": {"matchLabels": {"app": "vllm"}}, "endpoints": [ENDPOINT],
                 "targetLabels": {"metadata": ["pod", "container", "node", "top_level_controller_name"]}},
    }


def test_keep_only_registered_series(recorder):
    rec = recorder.run(lambda: VllmPodMonitoring("pm", args(keep_only_registered=True)))
    (endpoint,) = rec.inputs("pm-podmonitoring")["spec"]["endpoints"]
    assert endpoint == {**ENDPOINT, "metricRelabeling": keep_registered_relabeling()}
    pattern = re.compile(f"^{endpoint['metricRelabeling'][0]['regex']}$")
    assert pattern.match("vllm:time_to_first_token_seconds_bucket")
    assert pattern.match("vllm:num_requests_waiting")
    assert not pattern.match("vllm:num_requests_waiting_by_reason")
    assert not pattern.match("vllm:gpu_cache_usage_perc")


# -- refusals ---------------------------------------------------------------------------------


def refused(recorder, **change) -> list[tuple[str, str]]:
    return recorder.refused(lambda: VllmPodMonitoring("pm", args(**change)))


def test_wrong_types_are_named(recorder):
    assert refused(recorder, target_labels="pod") == [("target_labels", "expected tuple[str, ...], got str 'pod'")]


def test_durations(recorder):
    assert refused(recorder, timeout="20s") == [
        ("timeout", "20s exceeds interval 15s; the CRD requires timeout <= interval"),
    ]
    assert refused(recorder, interval="15 seconds") == [
        ("interval", "'15 seconds' is not a Prometheus duration like 15s or 1m"),
    ]


def test_selector_port_labels_and_names(recorder):
    assert refused(recorder, selector_labels={}, port="8000", target_labels=("namespace",), name="VLLM") == [
        ("selector_labels", "empty; a PodMonitoring must select pods by label"),
        ("port", "'8000'; use the container port's name (e.g. http) so `container` is labelled"),
        ("target_labels", "must include 'pod' (the custom-metrics adapter matches metric.labels.pod)"),
        ("target_labels", "['namespace'] not allowed; choose from container, node, pod, top_level_controller_name, "
                          "top_level_controller_type"),
        ("name", "'VLLM' is not a valid PodMonitoring name: at most 253 lowercase letters, digits, '-' or '.', "
                 "alphanumeric at both ends"),
    ]
