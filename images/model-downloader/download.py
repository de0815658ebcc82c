"""Copy a Hugging Face model snapshot at a pinned revision to ``gs://bucket/prefix`` or a local path;
or fetch LoRA adapters (hub repositories at pinned revisions, or bucket paths) into a local directory.

Idempotent: after every file is in place, a marker ``<prefix>/.complete-<revision>`` is written
last. A run that finds the marker does nothing, so the Job can be retried or re-applied freely; a
run that died half-way left no marker and starts over (files are overwritten, never half-trusted).

    python download.py --repo-id Qwen/Qwen3-8B --revision <40-hex commit> --target gs://bucket/models/qwen3-8b
    python download.py --repo-id ... --revision ... --target /mnt/models/qwen3-8b
    python download.py --target /adapters --adapter sql=gs://bucket/adapters/sql --adapter chat=org/chat@<40 hex>

Adapter mode (the vLLM pod's init container, ``workloads/lora_serving.py``) puts each adapter in
``<target>/<NAME>``, with the same marker: ``.complete-<revision>`` for a hub adapter,
``.complete-<sha1 of the gs:// source>`` for a bucket one (a bucket path has no revision; the target is the
pod's emptyDir, so each new pod copies afresh). Its scratch (staging, ``HF_HOME``) lives in
``<target>/.fetch`` and is removed at the end: the pod's root filesystem is read-only.

The hub token is read from ``HF_TOKEN`` or the file ``HF_TOKEN_PATH`` names (a Secret) and is never printed.
Bucket objects are read with the pod's Google credentials (Workload Identity).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REVISION = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_PATTERNS = ("*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken", "*.py", "*.jinja")
"""Weights, configs, tokenizers and chat templates; skips .bin/.pth/.gguf duplicates."""
ADAPTER_PATTERNS = (*DEFAULT_PATTERNS, "adapter_model.bin", "adapter_model.pt")
"""An adapter's files: vLLM reads ``adapter_config.json`` and ``adapter_model.safetensors``, else
``adapter_model.bin`` or ``.pt`` (vLLM 0.32.0 ``lora/lora_model.py`` ``LoRAModel.from_local_checkpoint``)."""
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")
"""The names ``workloads/gateway/lora.py`` accepts (each is a directory under the target)."""
BUCKET_SOURCE = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/(\S+)$")
HUB_SOURCE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)@([0-9a-f]{40})$")
SCRATCH = ".fetch"
"""Adapter mode's scratch folder under the target."""


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


def fill(target: Target, marker: str, record: dict[str, str], stage: Callable[[Path], None], empty: str,
         staging: Path | None = None) -> str:
    """Unless ``target`` holds ``marker``: ``stage`` the files into a scratch directory, copy them to ``target``,
    then write the marker (``record`` and the file count) last. ``"skipped"`` or ``"copied N files"``;
    RuntimeError(``empty``) when nothing was staged (no marker is written)."""
    if target.exists(marker):
        return "skipped"
    with tempfile.TemporaryDirectory(prefix="snapshot-", dir=staging) as scratch:
        stage(Path(scratch))
        count = target.upload_tree(Path(scratch))
    if count == 0:
        raise RuntimeError(f"{empty}; nothing was marked complete")
    target.write_text(marker, json.dumps({**record, "files": count}))
    return f"copied {count} files"


def run(repo_id: str, revision: str, target: Target, patterns: Iterable[str] = DEFAULT_PATTERNS,
        token: str | None = None, fetch: Fetch = hub_fetch, staging: Path | None = None) -> str:
    """Copy the snapshot unless the target already holds it; return ``"skipped"`` or ``"copied N files"``.

    Raises ValueError for a revision that is not a full commit hash (a branch would make the marker lie).
    """
    if not REVISION.match(revision):
        raise ValueError(f"--revision {revision!r}: pin a full 40-hex commit hash, not a branch or tag")
    patterns = tuple(patterns)
    return fill(target, marker_name(revision), {"repoId": repo_id, "revision": revision},
                lambda dest: fetch(repo_id, revision, dest, patterns, token),
                f"{repo_id}@{revision}: no files matched {list(patterns)}", staging)


Copy = Callable[[str, Path], None]


def gcs_copy(source: str, dest: Path, workers: int = 8) -> None:
    """Download every object under ``gs://bucket/path/`` into ``dest`` (relative names kept), in threads."""
    from google.cloud import storage  # imported lazily: the unit tests run without the GCS client
    from google.cloud.storage import transfer_manager

    bucket_name, _, path = source[len("gs://"):].partition("/")
    prefix = path.strip("/") + "/"
    bucket = storage.Client().bucket(bucket_name)
    names = [blob.name[len(prefix):] for blob in bucket.list_blobs(prefix=prefix) if not blob.name.endswith("/")]
    transfer_manager.download_many_to_path(
        bucket, names, destination_directory=str(dest), blob_name_prefix=prefix,
        worker_type=transfer_manager.THREAD, max_workers=workers, raise_exception=True,
    )


def bucket_marker(source: str) -> str:
    """The marker of a bucket copy: ``.complete-<sha1 of the source>`` (a bucket path has no revision)."""
    return marker_name(hashlib.sha1(source.rstrip("/").encode()).hexdigest())


def run_bucket(source: str, target: Target, copy: Copy = gcs_copy, staging: Path | None = None) -> str:
    """Copy everything under the ``gs://`` ``source`` unless the target already holds it (its marker)."""
    source = source.rstrip("/")
    return fill(target, bucket_marker(source), {"source": source}, lambda dest: copy(source, dest),
                f"{source}: no objects under it", staging)


@dataclass(frozen=True)
class Adapter:
    """One ``--adapter NAME=SOURCE``."""

    name: str
    source: str


def parse_adapter(item: str) -> Adapter:
    """``NAME=gs://BUCKET/PATH`` or ``NAME=ORG/REPO@<40-hex commit>``; ValueError saying what is wrong."""
    name, sep, source = item.partition("=")
    if not sep or not ADAPTER_NAME.match(name) or set(name.split("/")) & {"", ".", ".."}:
        raise ValueError(f"--adapter {item!r}: write NAME=SOURCE with NAME letters, digits, '.', '_', '-' or '/' "
                         "(no empty, '.' or '..' part)")
    if not (BUCKET_SOURCE.match(source) or HUB_SOURCE.match(source)):
        raise ValueError(f"--adapter {item!r}: the source is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>")
    return Adapter(name, source)


def run_adapters(adapters: Iterable[Adapter], root: Path, token: str | None = None, fetch: Fetch = hub_fetch,
                 copy: Copy = gcs_copy) -> dict[str, str]:
    """Put each adapter in ``root/<name>`` (skipped where its marker is); ``{name: result}``.

    Staging goes to ``root/.fetch`` (``main`` puts the hub client's ``HF_HOME`` there too), removed at the end,
    so every byte written lands on ``root``'s volume."""
    scratch = root / SCRATCH
    scratch.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for adapter in adapters:
            target = LocalTarget(root / adapter.name)
            hub = HUB_SOURCE.match(adapter.source)
            if hub:
                results[adapter.name] = run(hub.group(1), hub.group(2), target, ADAPTER_PATTERNS, token, fetch,
                                            staging=scratch)
            else:
                results[adapter.name] = run_bucket(adapter.source, target, copy, staging=scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo-id", help="hub repository, e.g. Qwen/Qwen3-8B")
    parser.add_argument("--revision", help="full 40-hex commit hash of the snapshot")
    parser.add_argument("--target", required=True, help="gs://bucket/prefix or a directory")
    parser.add_argument("--pattern", action="append", dest="patterns", help="allow pattern (repeatable)")
    parser.add_argument("--adapter", action="append", dest="adapters", metavar="NAME=SOURCE",
                        help="adapter mode (repeatable): fetch SOURCE (gs://BUCKET/PATH or ORG/REPO@<40-hex commit>) "
                             "into TARGET/NAME; TARGET must be a directory")
    args = parser.parse_args(argv)
    token = os.environ.get("HF_TOKEN") or None
    try:
        if args.adapters:
            if args.repo_id or args.revision or args.patterns or args.target.startswith("gs://"):
                raise ValueError("--adapter fetches into a local --target directory; it takes no --repo-id, "
                                 "--revision or --pattern")
            adapters = [parse_adapter(item) for item in args.adapters]
            # huggingface_hub reads HF_HOME when hub_fetch imports it; the image's default (/tmp) is read-only here.
            os.environ["HF_HOME"] = str(Path(args.target) / SCRATCH / "hf-home")
            results = run_adapters(adapters, Path(args.target), token)
            for name, result in results.items():
                print(f"adapter {name} -> {Path(args.target) / name}: {result}")
            return 0
        if not (args.repo_id and args.revision):
            raise ValueError("give --repo-id and --revision (a model snapshot), or --adapter NAME=SOURCE")
        result = run(args.repo_id, args.revision, parse_target(args.target), args.patterns or DEFAULT_PATTERNS,
                     token=token, fetch=hub_fetch)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.repo_id}@{args.revision} -> {args.target}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
