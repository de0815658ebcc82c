"""model.weights.gcsfuse.rapidCache wired into the stack (issue 19, item 4): one Rapid Cache (AnywhereCache) per
zone of the pools that read the weights, on the model bucket, with the section's TTL and ingest-on-write; nothing
without it; refused with another backend or a deprecated admission policy; the estimate's GCS FUSE term says what
the cache changes."""

from __future__ import annotations

import json

import pytest

from stack.cli import main
from stack.program.weights import weights_zones
from stack.render import load_stack_config, render_config

CACHE = "gcp:storage/anywhereCache:AnywhereCache"
ON = ("model.weights.gcsfuse.rapidCache={enabled: true, ttlSeconds: 3600, ingestOnWrite: true}",)


def test_one_cache_per_zone_of_the_weight_readers_on_the_model_bucket():
    config = load_stack_config("dev", list(ON))
    rendered = render_config(config, "dev")
    caches = rendered.of_type(CACHE)
    assert weights_zones(config) == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert sorted(c["inputs"]["zone"] for c in caches) == weights_zones(config)
    for cache in caches:
        assert cache["inputs"] == {"bucket": config.bucket_name("dev"), "zone": cache["inputs"]["zone"],
                                   "ttl": "3600s", "ingestOnWrite": True}
        assert "models-bucket" in cache["dependencies"] and "gke-cluster" not in cache["dependencies"]


def test_caches_follow_a_pool_limited_to_fewer_zones():
    config = load_stack_config("dev", [*ON, "gpuPools.l4-spot.zones=[us-central1-b]"])
    zones = [c["inputs"]["zone"] for c in render_config(config, "dev").of_type(CACHE)]
    assert zones == ["us-central1-b"]


def test_no_cache_by_default():
    assert render_config(load_stack_config("dev"), "dev").of_type(CACHE) == []


@pytest.mark.parametrize(("overrides", "first_line"), [
    ((*ON, "model.weights.backend=huggingFace"),
     "error: platform.model.weights.gcsfuse.rapidCache.enabled: the caches serve replicas that read the bucket "
     "through GCS FUSE"),
    (("model.weights.gcsfuse.rapidCache.admissionPolicy=admit-on-second-miss",),
     "error: platform.model.weights.gcsfuse.rapidCache.admissionPolicy: 'admit-on-second-miss' is deprecated"),
    (("model.weights.gcsfuse.rapidCache.ttlSeconds=0",),
     "error: platform.model.weights.gcsfuse.rapidCache.ttlSeconds:"),
])
def test_rapid_cache_settings_that_cannot_work_exit_2(overrides, first_line, tmp_path, capsys):
    argv = ["render", "dev", *[a for o in overrides for a in ("--set", o)], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[0].startswith(first_line), err
    assert not (tmp_path / "out").exists()


def test_the_estimate_says_what_the_cache_changes_and_keeps_the_number(capsys):
    assert main(["estimate", "dev", "--json"]) == 0
    plain = capsys.readouterr().out
    assert main(["estimate", "dev", "--json", "--set", ON[0]]) == 0
    cached = capsys.readouterr().out

    def fuse_term(out: str) -> dict:
        terms = json.loads(out)["coldStart"]["terms"]
        (term,) = [t for t in terms if t["name"].startswith("weights: gcsfuse")]
        return term

    assert fuse_term(cached)["seconds"] == fuse_term(plain)["seconds"]
    assert "Rapid Cache" in fuse_term(cached)["assumption"] and "Rapid Cache" not in fuse_term(plain)["assumption"]
