"""LwsOperator on its own: its namespace and the pinned LWS chart, and every refusal. (The multi-node stack that
installs it: tests/serving/test_lws_operator.py.)"""

from __future__ import annotations

from workloads.lws_operator import CHART_VERSION, LwsOperator, LwsOperatorArgs

SYSTEM = {"gke-inference/role": "system"}


def test_namespace_then_pinned_chart(recorder):
    rec = recorder.run(lambda: LwsOperator("lws", LwsOperatorArgs(node_selector=SYSTEM, values={"replicaCount": 2})))
    assert rec.tree() == {
        ("gke-inference:workloads:LwsOperator", "lws", None),
        ("kubernetes:core/v1:Namespace", "lws-ns", "lws"),
        ("kubernetes:helm.sh/v4:Chart", "lws-chart", "lws"),
    }
    assert rec.named("lws-chart")["dependencies"] == ["lws-ns"]
    # lws-system is fixed by the chart's conversion webhook Service.
    assert rec.inputs("lws-ns")["metadata"] == {"name": "lws-system", "labels": {"app.kubernetes.io/part-of": "lws"}}
    assert rec.inputs("lws-chart") == {
        "chart": "oci://registry.k8s.io/lws/charts/lws",
        "version": "0.10.0",
        "name": "lws",
        "namespace": "lws-system",
        "values": {"nodeSelector": SYSTEM, "replicaCount": 2},
    }
    assert CHART_VERSION == "0.10.0" and rec.value.namespace == "lws-system"


def test_without_a_node_selector_the_chart_gets_no_values(recorder):
    assert recorder.run(lambda: LwsOperator("lws", LwsOperatorArgs())).inputs("lws-chart")["values"] == {}


def test_refusals(recorder):
    assert recorder.refused(lambda: LwsOperator("lws", LwsOperatorArgs(chart_version="v0.10.0",
                                                                       node_selector={"bad key!": "x"}))) == [
        ("chart_version", "'v0.10.0'; give the chart version without 'v' (e.g. 0.10.0)"),
        ("node_selector.bad key!", "'bad key!' is not a Kubernetes label key: [prefix/]name, name ≤ 63 "
                                   "alphanumerics, '-', '_' or '.', alphanumeric at both ends"),
    ]
    assert recorder.refused(lambda: LwsOperator("lws", LwsOperatorArgs(node_selector="system"))) == [
        ("node_selector", "expected Mapping[str, str], got str 'system'"),
    ]
