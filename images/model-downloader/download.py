"""Copy a Hugging Face model snapshot at a pinned revision to ``gs://bucket/prefix`` or a local path.

Idempotent: after every file is in place, a marker ``<prefix>/.complete-<revision>`` is written
last. A run that finds the marker does nothing, so the Job can be retried or re-applied freely; a
run that died half-way left no marker and starts over (files are overwritten, never half-trusted).

    python download.py --repo-id Qwen/Qwen3-8B --revision <40-hex commit> --target gs://bucket/models/qwen3-8b
    python download.py --repo-id ... --revision ... --target /mnt/models/qwen3-8b

The hub token is read from ``HF_TOKEN`` (a Secret in the Job) and is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REVISION = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_PATTERNS = ("*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken", "*.py", "*.jinja")
"""Weights, configs, tokenizers and chat templates; skips .bin/.pth/.gguf duplicates."""


def marker_name(revision: str) -> str:
    """The marker object/file name for a revision."""
    return f".complete-{revision}"


class Target:
    """Where the snapshot goes: ``exists``/``write_text`` for the marker, ``upload_tree`` for files."""

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def write_text(self, name: str, text: str) -> None:
        raise NotImplementedError

    def upload_tree(self, source: Path) -> int:
        """Copy every file under ``source`` (relative paths kept); return the number of files."""
        raise NotImplementedError


@dataclass
class LocalTarget(Target):
    """A directory on a mounted disk."""

    root: Path

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def write_text(self, name: str, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(self.root / name)  # atomic: the marker is either absent or complete

    def upload_tree(self, source: Path) -> int:
        count = 0
        for path in files_under(source):
            dest = self.root / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            with path.open("rb") as src, tmp.open("wb") as out:
                while chunk := src.read(16 * 1024 * 1024):
                    out.write(chunk)
            tmp.replace(dest)
            count += 1
        return count


@dataclass
class GcsTarget(Target):
    """``gs://bucket/prefix``; uploads in parallel with google-cloud-storage's transfer manager."""

    bucket: str
    prefix: str
    workers: int = 16

    def _bucket(self):  # imported lazily: the unit tests run without the GCS client
        from google.cloud import storage

        return storage.Client().bucket(self.bucket)

    def _key(self, name: str) -> str:
        return f"{self.prefix.strip('/')}/{name}" if self.prefix.strip("/") else name

    def exists(self, name: str) -> bool:
        return self._bucket().blob(self._key(name)).exists()

    def write_text(self, name: str, text: str) -> None:
        self._bucket().blob(self._key(name)).upload_from_string(text, content_type="application/json")

    def upload_tree(self, source: Path) -> int:
        from google.cloud.storage import transfer_manager

        names = [str(p.relative_to(source)) for p in files_under(source)]
        results = transfer_manager.upload_many_from_filenames(
            self._bucket(), names, source_directory=str(source), blob_name_prefix=self._key(""),
            max_workers=self.workers, raise_exception=True,
        )
        failed = [n for n, r in zip(names, results, strict=True) if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"upload failed for {len(failed)} file(s), e.g. {failed[0]}")
        return len(names)


def files_under(root: Path) -> list[Path]:
    """Regular files under ``root``, sorted, skipping the hub client's own cache folder."""
    return sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.relative_to(root).parts)


def parse_target(target: str) -> Target:
    """``gs://bucket/prefix`` → GcsTarget; anything else is a local directory."""
    if target.startswith("gs://"):
        bucket, _, prefix = target[len("gs://"):].partition("/")
        if not bucket:
            raise ValueError(f"--target {target!r}: no bucket name")
        return GcsTarget(bucket, prefix)
    return LocalTarget(Path(target))


Fetch = Callable[[str, str, Path, Iterable[str], "str | None"], None]


def hub_fetch(repo_id: str, revision: str, dest: Path, patterns: Iterable[str], token: str | None) -> None:
    """Download the snapshot with huggingface_hub into ``dest``."""
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id=repo_id, revision=revision, local_dir=str(dest), allow_patterns=list(patterns),
                      token=token, max_workers=16)


def run(repo_id: str, revision: str, target: Target, patterns: Iterable[str] = DEFAULT_PATTERNS,
        token: str | None = None, fetch: Fetch = hub_fetch, staging: Path | None = None) -> str:
    """Copy the snapshot unless the target already holds it; return ``"skipped"`` or ``"copied N files"``.

    Raises ValueError for a revision that is not a full commit hash (a branch would make the marker lie).
    """
    if not REVISION.match(revision):
        raise ValueError(f"--revision {revision!r}: pin a full 40-hex commit hash, not a branch or tag")
    marker = marker_name(revision)
    if target.exists(marker):
        return "skipped"
    with tempfile.TemporaryDirectory(prefix="snapshot-", dir=staging) as scratch:
        fetch(repo_id, revision, Path(scratch), tuple(patterns), token)
        count = target.upload_tree(Path(scratch))
    if count == 0:
        raise RuntimeError(f"{repo_id}@{revision}: no files matched {list(patterns)}; nothing was marked complete")
    target.write_text(marker, json.dumps({"repoId": repo_id, "revision": revision, "files": count}))
    return f"copied {count} files"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo-id", required=True, help="hub repository, e.g. Qwen/Qwen3-8B")
    parser.add_argument("--revision", required=True, help="full 40-hex commit hash of the snapshot")
    parser.add_argument("--target", required=True, help="gs://bucket/prefix or a directory")
    parser.add_argument("--pattern", action="append", dest="patterns", help="allow pattern (repeatable)")
    args = parser.parse_args(argv)
    try:
        result = run(args.repo_id, args.revision, parse_target(args.target), args.patterns or DEFAULT_PATTERNS,
                     token=os.environ.get("HF_TOKEN") or None, fetch=hub_fetch)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.repo_id}@{args.revision} -> {args.target}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
