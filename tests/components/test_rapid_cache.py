"""RapidCache: one gcp.storage.AnywhereCache per zone with exact inputs; refused zones, policies and TTLs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.rapid_cache import RapidCache, RapidCacheArgs

ARGS = RapidCacheArgs(bucket="p-test-models", bucket_location="us-central1", zones=("us-central1-a", "us-central1-b"))


def test_one_cache_per_zone_with_exact_inputs(recorder):
    rec = recorder.run(lambda: RapidCache("models-cache", ARGS))
    assert rec.tree() == {
        ("gke-inference:infra:RapidCache", "models-cache", None),
        ("gcp:storage/anywhereCache:AnywhereCache", "models-cache-us-central1-a", "models-cache"),
        ("gcp:storage/anywhereCache:AnywhereCache", "models-cache-us-central1-b", "models-cache"),
    }
    assert rec.inputs("models-cache-us-central1-a") == {
        "bucket": "p-test-models", "zone": "us-central1-a", "ttl": "86400s", "ingestOnWrite": False,
    }


def test_ttl_ingest_and_the_default_policy(recorder):
    args = replace(ARGS, zones=("us-central1-c",), ttl_seconds=3600, ingest_on_write=True,
                   admission_policy="admit-on-first-miss")
    rec = recorder.run(lambda: RapidCache("models-cache", args))
    # The policy is the service default and the SDK marks the field deprecated: it is never sent.
    assert rec.inputs("models-cache-us-central1-c") == {
        "bucket": "p-test-models", "zone": "us-central1-c", "ttl": "3600s", "ingestOnWrite": True,
    }


def test_multi_region_buckets_are_not_zone_checked(recorder):
    rec = recorder.run(lambda: RapidCache("models-cache", replace(ARGS, bucket_location="US", zones=("us-east1-b",))))
    assert rec.names() == ["models-cache", "models-cache-us-east1-b"]


REFUSALS = [
    (dict(zones=()), "zones", "give at least one zone (those of the serving pools)"),
    (dict(zones=("us-central1-a", "us-central1-a")), "zones.1",
     "'us-central1-a' is listed twice; each zone (a bucket has one cache per zone) may appear once"),
    (dict(zones=("europe-west4-a",)), "zones.0",
     "'europe-west4-a' is not in bucket_location us-central1: a cache must be in a zone of the bucket's location"),
    (dict(admission_policy="admit-on-second-miss"), "admission_policy",
     "'admit-on-second-miss' is deprecated and ignored (treated as admit-on-first-miss, pulumi-gcp 10.2.0); use "
     "admit-on-first-miss or leave it unset"),
    (dict(admission_policy="no_read_admission"), "admission_policy",
     "'no_read_admission' is not one of admit-on-first-miss"),
    (dict(ttl_seconds=0), "ttl_seconds", "0: a TTL is a positive number of seconds"),
    (dict(zones="us-central1-a"), "zones", "expected tuple[str, ...], got str 'us-central1-a'"),
]


@pytest.mark.parametrize(("change", "path", "reason"), REFUSALS, ids=[r[1] + ":" + r[2][:30] for r in REFUSALS])
def test_refusals(recorder, change, path, reason):
    args = replace(ARGS, **change)
    assert recorder.refused(lambda: RapidCache("models-cache", args)) == [(path, reason)]
