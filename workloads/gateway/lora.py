"""LoRA adapters: where each one comes from, and the vLLM flags that serve them (pure).

An adapter is served under its own name next to the base model (clients send it as ``model``); the
gateway routes that name to the base model's InferencePool and the picker's ``lora-affinity-scorer``
prefers replicas that already hold it (``workloads/gateway/model_pool.py``).

Sources (``name → source``):

* ``gs://BUCKET/PATH`` — adapter files in a bucket;
* ``ORG/REPO@REVISION`` — a Hugging Face repository at a pinned 40-hex commit.

vLLM reads every adapter from a local directory here: ``--lora-modules NAME=<adapters_dir>/<NAME>``. The
server's pod puts each adapter there before vLLM starts (``workloads/lora_serving.py``: an init container of
the model-downloader image copies the bucket path, or downloads the repository at the pinned revision, into
an emptyDir). vLLM's own Hub fallback cannot pin a revision:
``vllm/lora/utils.py`` ``get_adapter_absolute_path`` calls ``snapshot_download(repo_id=lora_path)`` with no
revision (vLLM 0.32.0, ``.venv-serve``), so a hub id handed to vLLM would follow the repository's head.

Flags (vLLM 0.32.0 ``engine/arg_utils.py`` LoRA group, ``config/lora.py``, ``entrypoints/launchers/
cli_args.py``; checked with vLLM's own parser): ``--enable-lora``; ``--max-loras`` (adapters in one batch,
default 1, ≥ 1); ``--max-lora-rank`` (one of ``MAX_LORA_RANKS``, default 16); ``--lora-modules`` takes
``name=path`` items (the parser splits on the first ``=`` when the item has no ``,``, else reads JSON).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi

from infra.validation import Problem

MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""``MaxLoRARanks`` of vLLM 0.32.0 ``config/lora.py`` (``--max-lora-rank`` choices)."""
DEFAULT_MAX_LORA_RANK = 16
"""``LoRAConfig.max_lora_rank`` default (vLLM 0.32.0)."""

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")
"""Adapter names: what clients send as ``model``. No ``=`` or ``,`` (``--lora-modules`` parsing, above) and
no spaces (the name is matched exactly in the routing header)."""
_BUCKET = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/(\S+)$")
_HUB = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)@([0-9a-f]{40})$")
"""``ORG/REPO@<40 hex>``: a commit hash, the only revision that cannot move."""


DEFAULT_ADAPTERS_DIR = "/adapters"


@dataclass(frozen=True)
class LoraAdapters:
    """LoRA adapters a ``VllmServer`` serves beside its base model (``VllmServerArgs.lora``)."""

    adapters: Mapping[str, str]
    """Served name (what clients send as ``model``) → ``gs://BUCKET/PATH`` or ``ORG/REPO@<40-hex commit>``."""
    fetch_image: pulumi.Input[str]
    """The model-downloader image (``images/model-downloader``), pinned by digest: its init container fetches
    every adapter into the pod before vLLM starts."""
    max_loras: int | None = None
    """Adapters in one batch (``--max-loras``); None = the number of adapters."""
    max_lora_rank: int = DEFAULT_MAX_LORA_RANK
    """The highest adapter rank served (``--max-lora-rank``, one of ``MAX_LORA_RANKS``)."""
    hf_token_secret: str | None = None
    """Secret (key ``token``) with the hub token for gated hub adapters, mounted into the fetching init
    container only; None for public ones."""
    adapters_dir: str = DEFAULT_ADAPTERS_DIR
    """Absolute pod path of the emptyDir the adapters are fetched into (read-only in the vLLM container)."""
    size_limit: str = "10Gi"
    """``sizeLimit`` of that emptyDir: every adapter, plus the largest one again while it is staged."""


def adapter_buckets(adapters: Mapping[str, str]) -> list[str]:
    """The buckets the bucket adapters are read from (sorted, once each): the server's Google service account
    needs read access (``roles/storage.objectViewer``) on each."""
    return sorted({match.group(1) for source in adapters.values() if (match := _BUCKET.match(source))})


@dataclass(frozen=True)
class AdapterSource:
    """Where one adapter's files come from."""

    kind: Literal["bucket", "hub"]
    location: str
    """``gs://BUCKET/PATH`` or ``ORG/REPO``."""
    revision: str | None = None
    """The pinned commit (hub only)."""


def parse_adapter_source(value: str) -> AdapterSource:
    """``gs://BUCKET/PATH`` or ``ORG/REPO@<40-hex commit>``; ValueError saying what to write otherwise."""
    if _BUCKET.match(value):
        return AdapterSource("bucket", value.rstrip("/"))
    hub = _HUB.match(value)
    if hub:
        return AdapterSource("hub", hub.group(1), hub.group(2))
    if "@" not in value and "/" in value and not value.startswith("gs://"):
        raise ValueError(f"'{value}' has no pinned revision: write ORG/REPO@<40-hex commit> (a branch or tag moves)")
    raise ValueError(f"'{value}' is neither gs://BUCKET/PATH nor ORG/REPO@<40-hex commit>")


def adapter_name_problems(path: str, names: Iterable[str], base_name: str | None = None) -> list[Problem]:
    """Problems with adapter names, each under ``path.<name>``; ``base_name`` (the model's own name) is taken."""
    problems = []
    for name in names:
        where = f"{path}.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(Problem(where, f"'{name}' is not a usable adapter name: 1–128 letters, digits, '.', '_', "
                                           "'-' or '/', alphanumeric at both ends"))
        elif set(name.split("/")) & {"", ".", ".."}:
            problems.append(Problem(where, f"'{name}' has an empty, '.' or '..' part between '/': the name is a "
                                           "directory under adapters_dir; name it without one"))
        elif base_name is not None and name == base_name:
            problems.append(Problem(where, f"'{name}' is the base model's served name; give the adapter its own"))
    return problems


def adapter_problems(path: str, adapters: Mapping[str, str], base_name: str | None = None) -> list[Problem]:
    """Problems with ``adapters`` (name → source), each under ``path.<name>``: names, then sources."""
    problems = adapter_name_problems(path, adapters, base_name)
    for name, source in adapters.items():
        if not isinstance(source, str):
            problems.append(Problem(f"{path}.{name}", f"expected a source string, got {type(source).__name__}"))
            continue
        try:
            parse_adapter_source(source)
        except ValueError as err:
            problems.append(Problem(f"{path}.{name}", str(err)))
    return problems


def lora_settings_problems(path: str, adapter_count: int, max_loras: int | None, max_lora_rank: int) -> list[Problem]:
    """``max_loras`` ≥ 1 and not above the adapter count; ``max_lora_rank`` one of vLLM's choices."""
    problems = []
    if max_loras is not None and not 1 <= max_loras <= max(adapter_count, 1):
        problems.append(Problem(f"{path}max_loras", f"{max_loras}: must be 1–{max(adapter_count, 1)} (vLLM requires "
                                                    "≥ 1; more slots than adapters only reserve GPU memory)"))
    if max_lora_rank not in MAX_LORA_RANKS:
        problems.append(Problem(f"{path}max_lora_rank", f"{max_lora_rank} is not one of vLLM's ranks "
                                                        f"{', '.join(map(str, MAX_LORA_RANKS))}"))
    return problems


def adapter_dir(adapters_dir: str, name: str) -> str:
    """Where the adapter ``name`` lives in the pod: ``<adapters_dir>/<name>``."""
    return f"{adapters_dir.rstrip('/')}/{name}"


def lora_vllm_args(
    adapters: Mapping[str, str],
    adapters_dir: str,
    *,
    max_loras: int | None = None,
    max_lora_rank: int = DEFAULT_MAX_LORA_RANK,
) -> list[str]:
    """The vLLM flags that serve ``adapters`` (name → source) from ``adapters_dir`` (an absolute pod path).

    ``max_loras`` defaults to the number of adapters (every adapter may share one batch). Empty
    ``adapters`` → no flags. ValueError naming the argument on bad input (the same rules as
    :func:`adapter_problems` and :func:`lora_settings_problems`).
    """
    if not adapters:
        return []
    problems = adapter_problems("adapters", adapters) + lora_settings_problems("", len(adapters), max_loras,
                                                                                 max_lora_rank)
    if not adapters_dir.startswith("/"):
        problems.append(Problem("adapters_dir", f"'{adapters_dir}' must be an absolute path in the pod"))
    if problems:
        raise ValueError("; ".join(f"{p.property_path}: {p.render()}" for p in problems))
    modules = [f"{name}={adapter_dir(adapters_dir, name)}" for name in sorted(adapters)]
    return [
        "--enable-lora",
        "--max-loras", str(max_loras if max_loras is not None else len(adapters)),
        "--max-lora-rank", str(max_lora_rank),
        "--lora-modules", *modules,
    ]  # fmt: skip
