"""The model-downloader image's adapter mode (``download.py --adapter NAME=SOURCE``): the layout vLLM reads, the
markers that make a restarted init container a no-op, its scratch kept on the target, and its contract with the
VllmServer's init container (``workloads/lora_serving.py``)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.weights.test_downloader import load_download_py
from workloads.gateway.lora import LoraAdapters, parse_adapter_source
from workloads.lora_serving import fetch_args

COMMIT = "0123456789abcdef0123456789abcdef01234567"
IMAGE = "us-central1-docker.pkg.dev/p/inference/model-downloader@sha256:" + "d" * 64


@pytest.fixture(scope="module")
def download():
    return load_download_py()


class Sources:
    """Stand-ins for the hub and the bucket that write the files each would deliver, and count the calls."""

    def __init__(self) -> None:
        self.hub: list[tuple[str, str, tuple[str, ...], str | None]] = []
        self.bucket: list[str] = []

    def fetch(self, repo_id, revision, dest, patterns, token):
        self.hub.append((repo_id, revision, tuple(patterns), token))
        (dest / "adapter_config.json").write_text('{"r": 8}')
        (dest / "adapter_model.safetensors").write_bytes(b"lora")

    def copy(self, source, dest):
        self.bucket.append(source)
        (dest / "adapter_config.json").write_text('{"r": 16}')
        (dest / "nested").mkdir()
        (dest / "nested" / "adapter_model.safetensors").write_bytes(b"lora")


def test_each_adapter_lands_in_its_own_directory_with_its_marker(download, tmp_path):
    sources = Sources()
    adapters = [download.parse_adapter(f"chat=acme/chat-lora@{COMMIT}"),
                download.parse_adapter("team/sql=gs://adapters-bucket/sql/")]
    results = download.run_adapters(adapters, tmp_path, token="t", fetch=sources.fetch, copy=sources.copy)
    assert results == {"chat": "copied 2 files", "team/sql": "copied 2 files"}
    assert (tmp_path / "chat" / "adapter_model.safetensors").read_bytes() == b"lora"
    assert (tmp_path / "team" / "sql" / "nested" / "adapter_model.safetensors").read_bytes() == b"lora"
    assert json.loads((tmp_path / "chat" / f".complete-{COMMIT}").read_text()) == {
        "repoId": "acme/chat-lora", "revision": COMMIT, "files": 2}
    sql_marker = ".complete-" + hashlib.sha1(b"gs://adapters-bucket/sql").hexdigest()
    assert json.loads((tmp_path / "team" / "sql" / sql_marker).read_text()) == {
        "source": "gs://adapters-bucket/sql", "files": 2}
    # Hub adapters at their pinned revision, with the adapter file patterns and the token; scratch removed.
    assert sources.hub == [("acme/chat-lora", COMMIT, download.ADAPTER_PATTERNS, "t")]
    assert {"adapter_model.bin", "adapter_model.pt", "*.safetensors", "*.json"} <= set(download.ADAPTER_PATTERNS)
    assert sources.bucket == ["gs://adapters-bucket/sql"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat", "team"]


def test_a_restarted_fetch_copies_nothing_twice(download, tmp_path):
    sources = Sources()
    adapters = [download.parse_adapter(f"chat=acme/chat-lora@{COMMIT}"),
                download.parse_adapter("sql=gs://adapters-bucket/sql")]
    download.run_adapters(adapters, tmp_path, fetch=sources.fetch, copy=sources.copy)
    again = download.run_adapters(adapters, tmp_path, fetch=sources.fetch, copy=sources.copy)
    assert again == {"chat": "skipped", "sql": "skipped"}
    assert (len(sources.hub), len(sources.bucket)) == (1, 1)


def test_an_empty_bucket_path_marks_nothing_complete(download, tmp_path):
    adapter = download.parse_adapter("sql=gs://adapters-bucket/none")
    with pytest.raises(RuntimeError, match=r"^gs://adapters-bucket/none: no objects under it; nothing was marked "
                                           r"complete$"):
        download.run_adapters([adapter], tmp_path, copy=lambda source, dest: None)
    assert not any(p.name.startswith(".complete-") for p in tmp_path.rglob("*"))
    assert not (tmp_path / download.SCRATCH).exists()


def test_the_servers_init_container_args_are_what_the_image_parses(download, monkeypatch, tmp_path):
    lora = LoraAdapters(adapters={"sql": "gs://adapters-bucket/sql", "chat": f"acme/chat@{COMMIT}"},
                        fetch_image=IMAGE, adapters_dir=str(tmp_path))
    seen = {}

    def fake_run_adapters(adapters, root, token):
        seen.update(adapters=adapters, root=root, token=token)
        return {a.name: "skipped" for a in adapters}

    monkeypatch.setattr(download, "run_adapters", fake_run_adapters)
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_HOME", "/tmp/hf")
    assert download.main(fetch_args(lora)) == 0
    assert seen == {"adapters": [download.Adapter("chat", f"acme/chat@{COMMIT}"),
                                 download.Adapter("sql", "gs://adapters-bucket/sql")],
                    "root": tmp_path, "token": None}
    assert os.environ["HF_HOME"] == str(tmp_path / ".fetch" / "hf-home")  # off the read-only root filesystem


@pytest.mark.parametrize("argv,error", [
    (["--target", "/adapters", "--adapter", "sql"],
     "error: --adapter 'sql': write NAME=SOURCE with NAME letters, digits, '.', '_', '-' or '/' (no empty, '.' or "
     "'..' part)"),
    (["--target", "/adapters", "--adapter", "a/../../etc=gs://b/x"],
     "error: --adapter 'a/../../etc=gs://b/x': write NAME=SOURCE with NAME letters, digits, '.', '_', '-' or '/' (no "
     "empty, '.' or '..' part)"),
    (["--target", "/adapters", "--adapter", "sql=acme/sql@main"],
     "error: --adapter 'sql=acme/sql@main': the source is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>"),
    (["--target", "gs://bucket/adapters", "--adapter", "sql=gs://b/x"],
     "error: --adapter fetches into a local --target directory; it takes no --repo-id, --revision or --pattern"),
    (["--target", "/adapters", "--adapter", "sql=gs://b/x", "--repo-id", "o/m"],
     "error: --adapter fetches into a local --target directory; it takes no --repo-id, --revision or --pattern"),
    (["--target", "/adapters"], "error: give --repo-id and --revision (a model snapshot), or --adapter NAME=SOURCE"),
])
def test_bad_arguments_exit_2_saying_what_to_write(download, capsys, argv, error):
    assert download.main(argv) == 2
    assert capsys.readouterr().err.strip() == error


@pytest.mark.parametrize("source", [
    "gs://adapters-bucket/sql", "gs://adapters-bucket/a/b/", f"acme/chat-lora@{COMMIT}", f"a.b/c_d-e@{COMMIT}",
    "gs://adapters-bucket", "acme/chat-lora", f"acme/chat-lora@{COMMIT[:8]}", "/local/dir", "s3://b/x",
])
def test_the_image_takes_exactly_the_sources_the_config_accepts(download, source):
    try:
        parse_adapter_source(source)
        accepted = True
    except ValueError:
        accepted = False
    try:
        download.parse_adapter(f"x={source}")
        taken = True
    except ValueError:
        taken = False
    assert taken == accepted
