"""NodeServiceAccount (least-privilege roles) and WorkloadIdentity (GSA a KSA may impersonate)."""

from __future__ import annotations

import pytest

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


# -- refused arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("account_id", ["gke", "a" * 31, "1nodes", "gke-nodes-", "GKE-nodes", "gke_nodes"])
def test_account_id_rule_of_iam(recorder, account_id):
    args = NodeServiceAccountArgs(project="p-test", account_id=account_id)
    assert recorder.refused(lambda: NodeServiceAccount("nodes", args)) == [(
        "account_id",
        f"'{account_id}' is not a service account id: 6–30 lowercase letters, digits or hyphens, starting with a "
        "letter and not ending with a hyphen",
    )]


def test_roles_must_be_predefined_and_listed_once(recorder):
    roles = ("roles/logging.logWriter", "projects/p/roles/custom", "roles/logging.logWriter")
    args = NodeServiceAccountArgs(project="p-test", account_id="gke-dev-nodes", roles=roles)
    assert recorder.refused(lambda: NodeServiceAccount("nodes", args)) == [
        ("roles.1", "'projects/p/roles/custom' is not a predefined role (roles/SERVICE.ROLE)"),
        ("roles.2", "'logging.logWriter' is listed twice; each role may appear once"),
    ]


def test_workload_identity_names_and_display_name(recorder):
    args = WorkloadIdentityArgs(project="p-test", account_id="vllm-dev", namespace="LLM", ksa_name="vllm_sa")
    assert recorder.refused(lambda: WorkloadIdentity("vllm", args)) == [
        ("namespace", "'LLM' is not a valid Kubernetes namespace: at most 63 lowercase letters, digits or '-', "
                      "alphanumeric at both ends"),
        ("ksa_name", "'vllm_sa' is not a valid Kubernetes service account name: at most 253 lowercase letters, "
                     "digits, '-' or '.', alphanumeric at both ends"),
    ]
    long = WorkloadIdentityArgs(project="p-test", account_id="vllm-dev", namespace="llm", ksa_name="k" * 80)
    assert recorder.refused(lambda: WorkloadIdentity("vllm", long)) == [(
        "ksa_name",
        "the service account's display name 'Workload Identity for <namespace>/<ksa_name>' is 106 bytes; IAM allows "
        "100: shorten namespace or ksa_name",
    )]


def test_dict_instead_of_args_is_named(recorder):
    assert recorder.refused(lambda: WorkloadIdentity("vllm", {"project": "p-test"})) == [  # type: ignore[arg-type]
        ("args", "expected WorkloadIdentityArgs, got dict {'project': 'p-test'}: build it with "
                 "WorkloadIdentityArgs(...)")
    ]
