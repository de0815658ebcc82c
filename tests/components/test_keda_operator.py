"""KedaOperator on its own: its namespace and the pinned chart with Workload Identity, and every refusal."""

from __future__ import annotations

from workloads.keda import CHART_VERSION, KedaOperator, KedaOperatorArgs

GSA = "keda@p.iam.gserviceaccount.com"


def test_namespace_then_pinned_chart_with_workload_identity(recorder):
    rec = recorder.run(lambda: KedaOperator("keda", KedaOperatorArgs(google_service_account=GSA,
                                                                     values={"resources": {"operator": {}}})))
    assert rec.tree() == {
        ("gke-inference:workloads:KedaOperator", "keda", None),
        ("kubernetes:core/v1:Namespace", "keda-ns", "keda"),
        ("kubernetes:helm.sh/v4:Chart", "keda-chart", "keda"),
    }
    assert rec.named("keda-chart")["dependencies"] == ["keda-ns"]
    assert rec.inputs("keda-ns")["metadata"] == {"name": "keda", "labels": {"app.kubernetes.io/part-of": "keda"}}
    assert rec.inputs("keda-chart") == {
        "chart": "keda",
        "version": CHART_VERSION,
        "namespace": "keda",
        "repositoryOpts": {"repo": "https://kedacore.github.io/charts"},
        "values": {"podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": GSA}},
                   "resources": {"operator": {}}},
    }
    assert CHART_VERSION == "2.20.2"
    assert rec.value.namespace == "keda"


def test_refusals(recorder):
    assert recorder.refused(lambda: KedaOperator("keda", KedaOperatorArgs(google_service_account=GSA,
                                                                          chart_version="v2.20.2", namespace="KEDA"))) \
        == [
        ("namespace", "'KEDA' is not a valid namespace: at most 63 lowercase letters, digits or '-', alphanumeric at "
                      "both ends"),
        ("chart_version", "'v2.20.2'; give the chart version without 'v' (e.g. 2.20.2)"),
    ]
    assert recorder.refused(lambda: KedaOperator("keda", KedaOperatorArgs(google_service_account=GSA,
                                                                          values=[("a", 1)]))) == [
        ("values", "expected Mapping[str, Any], got list [('a', 1)]"),
    ]
