"""`validate` says what it warns about and what it could not check (issue 20 item 2): the configuration's
warnings (the same ones `render` prints), and one "not checked: <what> — <why>" line per gap."""

from __future__ import annotations

import io

import pytest

from policy.model import Violation
from stack.checks import checkov_runner
from stack.checks.checkov_runner import WORKER_PROBE_SKIPS, pod_template_objects
from stack.checks.validate import Section, not_checked_section, print_report, unrendered_sources, warnings_section
from stack.cli import main
from stack.render import load_stack_config

KEDA = ("autoscaling.mode=keda",)
"""dev with KEDA: minReplicas 0 by default and no wakeQuery, so nothing wakes the server at zero."""


def sets(overrides) -> list[str]:
    return [a for override in overrides for a in ("--set", override)]


# -- the report -------------------------------------------------------------------------------


def test_warnings_and_gaps_print_under_their_own_sections_and_in_the_summary():
    checks = [Section("kubernetes", "2 objects: 0 errors"),
              Section("crds", "1 custom resources: 0 errors", not_checked=["3 CEL rules — no CEL evaluator offline"]),
              Section("checkov", "skipped (--no-checkov)", skipped=True)]
    resources = [{"type": "kubernetes:helm.sh/v4:Chart", "name": "keda-chart",
                  "inputs": {"chart": "keda", "version": "2.20.2", "repositoryOpts": {"repo": "https://charts.example"}}}]
    sections = [*checks, warnings_section(["platform.x: suspicious"]), not_checked_section(checks, resources)]
    out = io.StringIO()
    assert print_report("dev", sections, out=out) == 0
    assert out.getvalue().splitlines() == [
        "kubernetes  ok   2 objects: 0 errors",
        "crds        ok   1 custom resources: 0 errors",
        "checkov     SKIP skipped (--no-checkov)",
        "warnings    WARN 1 warning on the configuration (legal, but review them)",
        "  warning: platform.x: suspicious",
        "not-checked NOTE 3 parts of the render no check here read",
        "  not checked: checkov — skipped (--no-checkov)",
        "  not checked: 3 CEL rules — no CEL evaluator offline",
        "  not checked: Helm chart keda 2.20.2 from https://charts.example (resource keda-chart) — its objects are "
        "expanded by the Kubernetes provider at deploy time; the mock engine records only the chart and no chart is "
        "vendored, so no schema, policy or checkov check reads them",
        "validate dev: PASS: 2 checks run, 0 violations, 1 warning, 3 not checked, skipped: checkov",
    ]


def test_warnings_do_not_turn_a_failure_into_a_pass():
    out = io.StringIO()
    sections = [Section("policy", "1 violations", [Violation("r", "x", "f", "fix it")]), warnings_section(["w"])]
    assert print_report("dev", sections, out=out) == 1
    assert out.getvalue().splitlines()[-1] == "validate dev: FAIL: 1 checks run, 1 violations, 1 warning"


@pytest.mark.parametrize("resource,what", [
    ({"type": "kubernetes:helm.sh/v3:Release", "name": "r", "inputs": {"chart": "oci://x/charts/y"}},
     "Helm chart oci://x/charts/y (unpinned) (resource r)"),
    ({"type": "kubernetes:yaml/v2:ConfigFile", "name": "crds", "inputs": {"file": "https://x/crds.yaml"}},
     "kubernetes:yaml/v2:ConfigFile (resource crds)"),
])
def test_every_provider_expanded_source_is_listed(resource, what):
    (line,) = unrendered_sources([resource, {"type": "kubernetes:apps/v1:Deployment", "name": "d", "inputs": {}}])
    assert line.startswith(f"{what} — its objects are expanded by the Kubernetes provider at deploy time")


# -- the CLI on a KEDA-to-zero stack ------------------------------------------------------------


def test_validate_prints_render_s_warnings_and_names_the_keda_chart(tmp_path, capsys):
    expected = load_stack_config("dev", list(KEDA)).warnings()
    wake = [w for w in expected if w.startswith("platform.autoscaling.keda.wakeQuery: minReplicas 0 ")]
    assert len(wake) == 1, expected

    assert main(["render", "dev", "--quiet", "--out", str(tmp_path / "render"), *sets(KEDA)]) == 0
    rendered = [line.removeprefix("warning: ") for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning: ")]
    code = main(["validate", "dev", "--no-checkov", "--no-vllm", "--out", str(tmp_path / "validate"), *sets(KEDA)])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0, "\n".join(lines)
    assert rendered == expected
    warnings = f"{len(expected)} warning{'' if len(expected) == 1 else 's'}"
    start = lines.index(f"warnings    WARN {warnings} on the configuration (legal, but review them)")
    assert lines[start + 1:start + 1 + len(expected)] == [f"  warning: {w}" for w in expected]
    gaps = [line.removeprefix("  not checked: ") for line in lines if line.startswith("  not checked: ")]
    assert gaps[:2] == ["checkov — skipped (--no-checkov)", "vllm-args — skipped (--no-vllm)"]
    assert [g for g in gaps if g.startswith("Helm chart")] == [
        "Helm chart keda 2.20.2 from https://kedacore.github.io/charts (resource keda-chart) — its objects are "
        "expanded by the Kubernetes provider at deploy time; the mock engine records only the chart and no chart is "
        "vendored, so no schema, policy or checkov check reads them"]
    assert lines[-1] == (f"validate dev: PASS: 4 checks run, 0 violations, {warnings}, "
                         f"{len(gaps)} not checked, skipped: checkov, vllm-args")


# -- checkov's view of a LeaderWorkerSet ---------------------------------------------------------


def lws(*, worker_ports=False, restart="RecreateGroupOnPodRestart", leader_probes=True, size=2, annotations=None):
    probe = {"httpGet": {"path": "/health", "port": 8000}}
    probes = {"livenessProbe": probe, "readinessProbe": probe} if leader_probes else {}
    leader = {"name": "vllm", "image": "i", **probes}
    worker = {"name": "vllm", "image": "i", **({"ports": [{"containerPort": 8000}]} if worker_ports else {})}
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": "big", "namespace": "llm", "annotations": annotations or {}},
            "spec": {"replicas": 3, "leaderWorkerTemplate": {
                "size": size, "restartPolicy": restart,
                "leaderTemplate": {"metadata": {"labels": {"role": "leader"}}, "spec": {"containers": [leader]}},
                "workerTemplate": {"metadata": {"labels": {"role": "worker"},
                                                "annotations": {"checkov.io/skip1": "CKV_K8S_43=worker reason"}},
                                   "spec": {"containers": [worker]}}}}}


def skips_of(obj) -> list[str]:
    return list(obj["metadata"].get("annotations", {}).values())


def test_each_template_becomes_a_deployment_with_the_lws_and_template_skips():
    (leader_label, leader), (worker_label, worker) = pod_template_objects(
        lws(annotations={"checkov.io/skip1": "CKV_K8S_15=lws reason", "team": "x"}))
    assert (leader_label, worker_label) == ("leaderTemplate", "workerTemplate")
    assert leader["spec"]["replicas"] == 3 and leader["spec"]["selector"] == {"matchLabels": {"role": "leader"}}
    assert skips_of(leader) == ["CKV_K8S_15=lws reason"]  # no other annotation is copied
    assert skips_of(worker) == ["CKV_K8S_15=lws reason", "CKV_K8S_43=worker reason",
                                *(f"{check}={reason}" for check, reason in WORKER_PROBE_SKIPS)]
    assert list(worker["metadata"]["annotations"]) == [f"checkov.io/skip{n}" for n in range(1, 5)]


@pytest.mark.parametrize("change", [dict(worker_ports=True), dict(restart="None"), dict(leader_probes=False)])
def test_the_worker_probe_skips_apply_only_where_their_reason_holds(change):
    (_, worker) = pod_template_objects(lws(**change))[1]
    assert skips_of(worker) == ["CKV_K8S_43=worker reason"]


def test_a_one_pod_group_has_no_worker_and_a_missing_leader_template_is_the_worker_s():
    group = lws(size=1)
    assert [label for label, _ in pod_template_objects(group)] == ["leaderTemplate"]
    del group["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    group["spec"]["leaderWorkerTemplate"]["size"] = 2
    (_, leader), _ = pod_template_objects(group)
    assert leader["spec"]["template"] == group["spec"]["leaderWorkerTemplate"]["workerTemplate"]


def test_findings_on_a_synthesized_template_name_the_leader_worker_set():
    renames = {"Deployment.llm.big-worker": "LeaderWorkerSet.llm.big workerTemplate",
               "Pod.llm.big-worker": "LeaderWorkerSet.llm.big workerTemplate"}
    output = {"summary": {"passed": 1, "parsing_errors": 0}, "results": {"failed_checks": [
        {"check_id": "CKV_K8S_20", "check_name": "no escalation", "resource": "Deployment.llm.big-worker"},
        {"check_id": "CKV2_K8S_6", "check_name": "netpol", "resource": "Pod.llm.big-worker.role-worker"},
        {"check_id": "CKV_K8S_20", "check_name": "no escalation", "resource": "Deployment.llm.big-workers"},
    ]}}
    report = checkov_runner.parse_report(output, renames)
    worker = "LeaderWorkerSet.llm.big workerTemplate"
    assert [v.resource for v in report.violations] == [worker, worker, "Deployment.llm.big-workers"]
