"""ModelBucket: private, uniform, HNS (or versioned) bucket; non-authoritative IAM members; refused arguments."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.storage import ModelBucket, ModelBucketArgs, validate_model_bucket_args
from infra.validation import ComponentArgsError

ARGS = ModelBucketArgs(project="p-test", name="p-test-dev-models", location="us-central1", labels={"env": "dev"})


def test_bucket_exact_inputs(recorder):
    rec = recorder.run(lambda: ModelBucket("models", ARGS))
    assert rec.tree() == {
        ("gke-inference:infra:ModelBucket", "models", None),
        ("gcp:storage/bucket:Bucket", "models-bucket", "models"),
    }
    bucket = rec.named("models-bucket")
    assert bucket["protect"] is False
    assert bucket["inputs"] == {
        "project": "p-test",
        "name": "p-test-dev-models",
        "location": "US-CENTRAL1",
        "storageClass": "STANDARD",
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "versioning": {"enabled": False},
        "hierarchicalNamespace": {"enabled": True},
        "softDeletePolicy": {"retentionDurationSeconds": 7 * 86400},
        "forceDestroy": False,
        "labels": {"env": "dev"},
    }


def test_protect_versioning_soft_delete(recorder):
    args = replace(ARGS, protect=True, versioning=True, soft_delete_days=0, hierarchical_namespace=False, labels={})
    bucket = recorder.run(lambda: ModelBucket("models", args)).named("models-bucket")
    assert bucket["protect"] is True
    assert bucket["inputs"]["versioning"] == {"enabled": True}
    assert bucket["inputs"]["softDeletePolicy"] == {"retentionDurationSeconds": 0}
    assert bucket["inputs"]["hierarchicalNamespace"] == {"enabled": False}
    assert "labels" not in bucket["inputs"]


def test_readers_and_writers_are_bucket_iam_members(recorder):
    args = replace(
        ARGS,
        readers=("group:ml@example.com", "serviceAccount:vllm@p-test.iam.gserviceaccount.com"),
        writers=("user:a@example.com",),
    )
    rec = recorder.run(lambda: ModelBucket("models", args))
    members = {r["name"]: r["inputs"] for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert members == {
        "models-reader-0": {
            "bucket": "p-test-dev-models",
            "role": "roles/storage.objectViewer",
            "member": "group:ml@example.com",
        },
        "models-reader-1": {
            "bucket": "p-test-dev-models",
            "role": "roles/storage.objectViewer",
            "member": "serviceAccount:vllm@p-test.iam.gserviceaccount.com",
        },
        "models-writer-0": {
            "bucket": "p-test-dev-models",
            "role": "roles/storage.objectUser",
            "member": "user:a@example.com",
        },
    }
    assert {r["parent"] for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")} == {"models"}
    assert rec.of_type("gcp:storage/bucketIAMBinding:BucketIAMBinding") == []


def test_outputs(recorder):
    rec = recorder.run(lambda: ModelBucket("models", ARGS))
    assert rec.resolve(rec.value.bucket_name) == "p-test-dev-models"
    assert rec.resolve(rec.value.url) == "gs://p-test-dev-models"


# -- refused arguments: nothing is registered --------------------------------------------------


def refused(recorder, args) -> list[tuple[str, str]]:
    """The (path, reason) pairs ModelBucket raises for ``args``; asserts nothing was registered."""
    return recorder.refused(lambda: ModelBucket("models", args))


def test_versioning_on_a_hierarchical_namespace_bucket_is_refused(recorder):
    assert refused(recorder, replace(ARGS, versioning=True)) == [(
        "versioning",
        "Cloud Storage refuses object versioning on a bucket with hierarchical_namespace on (\"Versioning is not "
        "supported for hierarchical namespace buckets\"); turn versioning off (soft delete keeps deleted and "
        "overwritten objects recoverable) or turn hierarchical_namespace off",
    )]


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Models", "goog-models", "my-google-models", "-models", "10.0.0.1",
                                  "models_", "a." + "b" * 64])
def test_bucket_name_rules(recorder, name):
    [(path, reason)] = refused(recorder, replace(ARGS, name=name))
    assert path == "name"
    assert reason.startswith(f"'{name}' is not a valid bucket name: ")


@pytest.mark.parametrize("name", ["abc", "a" * 63, "p-test_dev.models", "0models9"])
def test_valid_bucket_names(name):
    assert validate_model_bucket_args(replace(ARGS, name=name)) == []


@pytest.mark.parametrize("days", [1, 6, 91])
def test_soft_delete_is_off_or_7_to_90_days(recorder, days):
    assert refused(recorder, replace(ARGS, soft_delete_days=days)) == [
        ("soft_delete_days", f"{days} days: Cloud Storage takes 0 (off) or 7–90 days")
    ]


def test_every_problem_is_listed_at_once(recorder):
    args = replace(ARGS, project="P", location="", labels={"Env": "dev", "team": "ML"}, writers=("bob",))
    assert [path for path, _ in refused(recorder, args)] == ["project", "location", "labels.Env", "labels.team",
                                                             "writers.0"]


def test_error_message_lists_each_argument(recorder):
    with pytest.raises(ComponentArgsError) as caught:
        recorder.run(lambda: ModelBucket("models", replace(ARGS, versioning=True, soft_delete_days=3)))
    message = str(caught.value)
    assert message.splitlines()[0] == "ModelBucket 'models': 2 invalid arguments, nothing was created:"
    assert message.splitlines()[2] == "  soft_delete_days: 3 days: Cloud Storage takes 0 (off) or 7–90 days"


def test_wrong_argument_types_are_named(recorder):
    assert refused(recorder, {"project": "p-test"}) == [  # type: ignore[arg-type]
        ("args", "expected ModelBucketArgs, got dict {'project': 'p-test'}: build it with ModelBucketArgs(...)")
    ]
    assert refused(recorder, replace(ARGS, soft_delete_days="7", readers="group:ml@example.com")) == [
        ("soft_delete_days", "expected int, got str '7'"),
        ("readers", "expected tuple[pulumi.Input[str], ...], got str 'group:ml@example.com'"),
    ]
