"""LoRA helpers: adapter sources, the vLLM flags that serve them, and what is refused (pure functions)."""

from __future__ import annotations

import pytest

from workloads.gateway.lora import (
    MAX_LORA_RANKS,
    AdapterSource,
    adapter_buckets,
    adapter_problems,
    lora_settings_problems,
    lora_vllm_args,
    parse_adapter_source,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ADAPTERS = {"sql-lora": "gs://models-bucket/adapters/sql", "chat-lora": f"acme/chat-lora@{COMMIT}"}


def test_flags_serve_every_adapter_from_its_local_directory():
    assert lora_vllm_args(ADAPTERS, "/adapters") == [
        "--enable-lora", "--max-loras", "2", "--max-lora-rank", "16",
        "--lora-modules", "chat-lora=/adapters/chat-lora", "sql-lora=/adapters/sql-lora",
    ]  # fmt: skip


def test_flags_take_explicit_batch_slots_and_rank():
    assert lora_vllm_args(ADAPTERS, "/adapters/", max_loras=1, max_lora_rank=64)[:5] == [
        "--enable-lora", "--max-loras", "1", "--max-lora-rank", "64"]


def test_no_adapters_no_flags():
    assert lora_vllm_args({}, "/adapters") == []


@pytest.mark.parametrize("value,expected", [
    ("gs://models-bucket/adapters/sql/", AdapterSource("bucket", "gs://models-bucket/adapters/sql")),
    (f"acme/chat-lora@{COMMIT}", AdapterSource("hub", "acme/chat-lora", COMMIT)),
])
def test_sources_parse(value, expected):
    assert parse_adapter_source(value) == expected


@pytest.mark.parametrize("value,message", [
    ("acme/chat-lora", "'acme/chat-lora' has no pinned revision: write ORG/REPO@<40-hex commit> (a branch or tag "
                       "moves)"),
    ("acme/chat-lora@main", "'acme/chat-lora@main' is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>"),
    ("gs://models-bucket", "'gs://models-bucket' is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>"),
    ("/local/path", "'/local/path' has no pinned revision: write ORG/REPO@<40-hex commit> (a branch or tag moves)"),
])
def test_unpinned_or_unknown_sources_are_refused(value, message):
    with pytest.raises(ValueError) as caught:
        parse_adapter_source(value)
    assert str(caught.value) == message


def test_adapter_problems_name_each_adapter():
    problems = adapter_problems("model.adapters", {"base": "gs://bkt/x", "ok": "gs://bkt/y", "x=y": "acme/r"},
                                base_name="base")
    assert [(p.property_path, p.reason) for p in problems] == [
        ("model.adapters.base", "'base' is the base model's served name; give the adapter its own"),
        ("model.adapters.x=y", "'x=y' is not a usable adapter name: 1–128 letters, digits, '.', '_', '-' or '/', "
                               "alphanumeric at both ends"),
        ("model.adapters.x=y", "'acme/r' has no pinned revision: write ORG/REPO@<40-hex commit> (a branch or tag "
                               "moves)"),
    ]


@pytest.mark.parametrize("name", ["a/../../etc", "a//b", "team/./x"])
def test_adapter_names_stay_one_directory_under_adapters_dir(name):
    """Each name is a directory under adapters_dir (--lora-modules NAME=<dir>/<NAME>): no part may climb out."""
    assert [p.reason for p in adapter_problems("lora.adapters", {name: "gs://bkt/x"})] == [
        f"'{name}' has an empty, '.' or '..' part between '/': the name is a directory under adapters_dir; name it "
        "without one"]
    assert adapter_problems("lora.adapters", {"team/sql-v1.2": "gs://bkt/x"}) == []


def test_adapter_buckets_are_the_bucket_sources_buckets():
    assert adapter_buckets({**ADAPTERS, "b": "gs://models-bucket/other", "c": "gs://second-bucket/c"}) == [
        "models-bucket", "second-bucket"]


def test_settings_problems_follow_vllm():
    assert MAX_LORA_RANKS == (1, 8, 16, 32, 64, 128, 256, 320, 512)
    problems = lora_settings_problems("lora.", 2, max_loras=3, max_lora_rank=12)
    assert [(p.property_path, p.reason) for p in problems] == [
        ("lora.max_loras", "3: must be 1–2 (vLLM requires ≥ 1; more slots than adapters only reserve GPU memory)"),
        ("lora.max_lora_rank", "12 is not one of vLLM's ranks 1, 8, 16, 32, 64, 128, 256, 320, 512"),
    ]
    assert lora_settings_problems("", 2, max_loras=None, max_lora_rank=16) == []


def test_bad_input_to_the_flag_builder_raises_naming_the_argument():
    with pytest.raises(ValueError, match=r"^adapters_dir: 'adapters' must be an absolute path in the pod$"):
        lora_vllm_args(ADAPTERS, "adapters")
    with pytest.raises(ValueError, match=r"^max_loras: 0: must be 1–2"):
        lora_vllm_args(ADAPTERS, "/adapters", max_loras=0)
