"""images/model-downloader/download.py: idempotency through the completion marker, on a local directory.

The hub is not reachable here, so ``fetch`` is a stand-in that writes a snapshot's files (and can
fail half-way); the target, the marker and the copy are the real code.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REV = "0123456789abcdef0123456789abcdef01234567"
REV2 = "fedcba9876543210fedcba9876543210fedcba98"


def _load():
    spec = importlib.util.spec_from_file_location("download", ROOT / "images" / "model-downloader" / "download.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["download"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


download = _load()


class Snapshot:
    """Writes a two-file snapshot; counts calls; optionally fails after the first file."""

    def __init__(self, fail: bool = False):
        self.calls: list[tuple[str, str, tuple[str, ...], str | None]] = []
        self.fail = fail

    def __call__(self, repo_id, revision, dest: Path, patterns, token):
        self.calls.append((repo_id, revision, tuple(patterns), token))
        (dest / "config.json").write_text(json.dumps({"revision": revision}))
        if self.fail:
            raise ConnectionError("hub went away")
        (dest / "weights").mkdir()
        (dest / "weights" / "model.safetensors").write_bytes(b"\x00" * 1024)
        (dest / ".cache").mkdir()
        (dest / ".cache" / "hub-metadata").write_text("client bookkeeping, not part of the model")


def test_first_run_copies_then_marks_complete(tmp_path):
    target = tmp_path / "models" / "tiny"
    fetch = Snapshot()
    result = download.run("org/tiny", REV, download.LocalTarget(target), token="tok", fetch=fetch, staging=tmp_path)
    assert result == "copied 2 files"
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        f".complete-{REV}", "config.json", "weights/model.safetensors"]
    assert json.loads((target / f".complete-{REV}").read_text()) == {"repoId": "org/tiny", "revision": REV, "files": 2}
    assert fetch.calls == [("org/tiny", REV, download.DEFAULT_PATTERNS, "tok")]


def test_second_run_is_a_no_op(tmp_path):
    target = download.LocalTarget(tmp_path / "m")
    fetch = Snapshot()
    download.run("org/tiny", REV, target, fetch=fetch, staging=tmp_path)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")}
    assert download.run("org/tiny", REV, target, fetch=fetch, staging=tmp_path) == "skipped"
    assert len(fetch.calls) == 1
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")} == before


def test_a_new_revision_downloads_again(tmp_path):
    target = download.LocalTarget(tmp_path / "m")
    fetch = Snapshot()
    download.run("org/tiny", REV, target, fetch=fetch, staging=tmp_path)
    assert download.run("org/tiny", REV2, target, fetch=fetch, staging=tmp_path) == "copied 2 files"
    assert [c[1] for c in fetch.calls] == [REV, REV2]
    assert (tmp_path / "m" / f".complete-{REV2}").exists()


def test_an_interrupted_run_leaves_no_marker_and_the_retry_completes(tmp_path):
    target = download.LocalTarget(tmp_path / "m")
    with pytest.raises(ConnectionError):
        download.run("org/tiny", REV, target, fetch=Snapshot(fail=True), staging=tmp_path)
    assert not (tmp_path / "m" / f".complete-{REV}").exists()
    assert download.run("org/tiny", REV, target, fetch=Snapshot(), staging=tmp_path) == "copied 2 files"
    assert (tmp_path / "m" / f".complete-{REV}").exists()


def test_empty_snapshot_is_not_marked_complete(tmp_path):
    def nothing(repo_id, revision, dest, patterns, token):
        pass

    with pytest.raises(RuntimeError, match="no files matched"):
        download.run("org/tiny", REV, download.LocalTarget(tmp_path / "m"), fetch=nothing, staging=tmp_path)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


@pytest.mark.parametrize("revision", ["main", "v1.0", REV[:12], REV.upper()])
def test_revision_must_be_a_full_commit_hash(tmp_path, revision):
    with pytest.raises(ValueError, match="40-hex commit"):
        download.run("org/tiny", revision, download.LocalTarget(tmp_path), fetch=Snapshot())


def test_target_parsing():
    gcs = download.parse_target("gs://models-bucket/qwen3/8b")
    assert (type(gcs).__name__, gcs.bucket, gcs.prefix, gcs._key(".complete-x")) == (
        "GcsTarget", "models-bucket", "qwen3/8b", "qwen3/8b/.complete-x")
    assert download.parse_target("gs://models-bucket")._key("a") == "a"
    assert download.parse_target("/mnt/models").root == Path("/mnt/models")
    with pytest.raises(ValueError):
        download.parse_target("gs:///x")


def test_cli_reads_the_token_from_env_and_never_prints_it(tmp_path, monkeypatch, capsys):
    seen = Snapshot()
    monkeypatch.setattr(download, "hub_fetch", seen)
    monkeypatch.setenv("HF_TOKEN", "hf_notarealtoken000000000000000000")
    monkeypatch.setattr(download.tempfile, "tempdir", str(tmp_path))
    assert download.main(["--repo-id", "org/tiny", "--revision", REV, "--target", str(tmp_path / "m")]) == 0
    assert seen.calls[0][3] == "hf_notarealtoken000000000000000000"
    out = capsys.readouterr()
    assert "hf_notarealtoken" not in out.out + out.err
    assert out.out.strip() == f"org/tiny@{REV} -> {tmp_path / 'm'}: copied 2 files"
    assert download.main(["--repo-id", "org/tiny", "--revision", "main", "--target", str(tmp_path)]) == 2
