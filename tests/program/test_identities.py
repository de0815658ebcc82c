"""One account-id scheme and one way to make a Workload Identity (stack/program/identities.py, stack/decisions.py)."""

from __future__ import annotations

import re

import pytest

from stack.decisions import gsa_account_id
from stack.render import load_stack_config, render_config
from tests.conftest import REPO_ROOT

ACCOUNT = "gcp:serviceaccount/account:Account"


@pytest.mark.parametrize(
    ("stack", "overrides", "ids"),
    [
        # The ids the stacks had before the schemes were merged: changing one would replace the account.
        # dev's second model `qwen` adds its own downloader and server accounts, prefixed by its key.
        ("dev", [], ["cm-adapter-dev", "gke-dev-nodes", "loadtest-dev", "model-dl-dev", "qwen-model-dl-dev",
                     "qwen-vllm-dev", "vllm-dev"]),
        ("prod", [], ["cm-adapter-prod", "gke-prod-nodes", "hdml-pop-prod", "llama-8b-model-dl-prod",
                      "llama-8b-vllm-prod", "model-dl-prod", "vllm-batch-prod", "vllm-prod"]),
        ("dev", ["autoscaling.mode=keda"], ["gke-dev-nodes", "keda-dev", "loadtest-dev", "model-dl-dev",
                                            "qwen-model-dl-dev", "qwen-vllm-dev", "vllm-dev"]),
    ],
)
def test_service_account_ids_are_unchanged(stack, overrides, ids):
    result = render_config(load_stack_config(stack, overrides), stack)
    assert sorted(r["inputs"]["accountId"] for r in result.of_type(ACCOUNT)) == ids


def test_long_stack_names_shorten_the_prefix_never_the_stack():
    """A 20-character stack name (the longest gke-<stack>-nodes allows) keeps every id unique per stack."""
    stack = "team-a-canary-europe"
    assert len(stack) == 20
    assert gsa_account_id("vllm-batch", stack) == "vllm-batc-team-a-canary-europe"
    assert gsa_account_id("cm-adapter", stack) == "cm-adapte-team-a-canary-europe"
    assert gsa_account_id("vllm", stack) == "vllm-team-a-canary-europe"
    assert all(len(gsa_account_id(p, stack)) <= 30 for p in ("model-dl", "hdml-pop", "loadtest", "keda"))


def test_bucket_grants_are_children_of_their_identity_and_keep_their_urns():
    result = render_config(load_stack_config("dev", []), "dev")
    reader = result.named("models-vllm-reader")
    assert (reader["parent"], reader["inputs"]["role"]) == ("vllm-identity", "roles/storage.objectViewer")
    assert reader["aliases"] == [
        {"name": "models-vllm-reader", "parent": "models", "type": "gcp:storage/bucketIAMMember:BucketIAMMember"}
    ]
    writer = result.named("weights-download-identity-bucket-writer")
    assert (writer["parent"], writer["inputs"]["role"]) == ("weights-download-identity", "roles/storage.objectUser")


def test_program_files_build_identities_only_through_stack_identity():
    offenders = [
        f"{path.name}:{number}"
        for path in sorted((REPO_ROOT / "stack").glob("*_program.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bWorkloadIdentity\(|BucketIAMMember\(|\.grant\(|account_id=", line)
    ]
    assert offenders == []
