"""ModelBucket: private, uniform, versioned bucket; non-authoritative IAM members."""

from __future__ import annotations

from dataclasses import replace

from infra.storage import ModelBucket, ModelBucketArgs

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
        "versioning": {"enabled": True},
        "hierarchicalNamespace": {"enabled": True},
        "softDeletePolicy": {"retentionDurationSeconds": 7 * 86400},
        "forceDestroy": False,
        "labels": {"env": "dev"},
    }


def test_protect_versioning_soft_delete(recorder):
    args = replace(ARGS, protect=True, versioning=False, soft_delete_days=0, hierarchical_namespace=False, labels={})
    bucket = recorder.run(lambda: ModelBucket("models", args)).named("models-bucket")
    assert bucket["protect"] is True
    assert bucket["inputs"]["versioning"] == {"enabled": False}
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
