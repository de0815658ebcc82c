"""NodeServiceAccount (least-privilege roles) and WorkloadIdentity (GSA a KSA may impersonate)."""

from __future__ import annotations

from infra.identity import (
    NODE_ROLES,
    NodeServiceAccount,
    NodeServiceAccountArgs,
    WorkloadIdentity,
    WorkloadIdentityArgs,
)

NODE_EMAIL = "gke-dev-nodes@p-test.iam.gserviceaccount.com"


def test_node_service_account(recorder):
    rec = recorder.run(
        lambda: NodeServiceAccount("nodes", NodeServiceAccountArgs(project="p-test", account_id="gke-dev-nodes"))
    )
    assert rec.inputs("nodes-sa") == {
        "project": "p-test",
        "accountId": "gke-dev-nodes",
        "displayName": "GKE inference nodes (least privilege)",
    }
    members = {r["name"]: r["inputs"] for r in rec.of_type("gcp:projects/iAMMember:IAMMember")}
    assert members == {
        f"nodes-{role.split('/')[1].replace('.', '-')}": {
            "project": "p-test",
            "role": role,
            "member": f"serviceAccount:{NODE_EMAIL}",
        }
        for role in NODE_ROLES
    }
    assert sorted(m["role"] for m in members.values()) == [
        "roles/autoscaling.metricsWriter",
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
    ]
    # Non-authoritative only: no bindings or policies that would remove others' grants.
    assert {r["type"] for r in rec.resources} == {
        "gke-inference:infra:NodeServiceAccount",
        "gcp:serviceaccount/account:Account",
        "gcp:projects/iAMMember:IAMMember",
    }
    assert rec.resolve(rec.value.email) == NODE_EMAIL
    assert rec.resolve(rec.value.member) == f"serviceAccount:{NODE_EMAIL}"


def test_workload_identity(recorder):
    args = WorkloadIdentityArgs(
        project="p-test",
        account_id="vllm-dev",
        namespace="llm",
        ksa_name="vllm",
        project_roles=("roles/monitoring.viewer",),
    )
    rec = recorder.run(lambda: WorkloadIdentity("vllm", args))
    assert rec.tree() == {
        ("gke-inference:infra:WorkloadIdentity", "vllm", None),
        ("gcp:serviceaccount/account:Account", "vllm-gsa", "vllm"),
        ("gcp:serviceaccount/iAMMember:IAMMember", "vllm-wi-user", "vllm"),
        ("gcp:projects/iAMMember:IAMMember", "vllm-monitoring-viewer", "vllm"),
    }
    assert rec.inputs("vllm-gsa") == {
        "project": "p-test",
        "accountId": "vllm-dev",
        "displayName": "Workload Identity for llm/vllm",
    }
    assert rec.inputs("vllm-wi-user") == {
        "serviceAccountId": "projects/p-test/serviceAccounts/vllm-dev@p-test.iam.gserviceaccount.com",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:p-test.svc.id.goog[llm/vllm]",
    }
    assert rec.inputs("vllm-monitoring-viewer") == {
        "project": "p-test",
        "role": "roles/monitoring.viewer",
        "member": "serviceAccount:vllm-dev@p-test.iam.gserviceaccount.com",
    }
    assert rec.resolve(rec.value.email) == "vllm-dev@p-test.iam.gserviceaccount.com"
