"""LoRA adapters on the vLLM server's pod: what ``VllmServerArgs.lora`` adds, and what it refuses.

One init container of the model-downloader image (``images/model-downloader/download.py --adapter NAME=SOURCE``)
fetches every adapter into an emptyDir before vLLM starts: a hub adapter at its pinned commit, a bucket adapter
copied from GCS as the pod's Kubernetes service account (Workload Identity, ``google_service_account``). vLLM
mounts that emptyDir read-only and serves each adapter by name (``workloads/gateway/lora.py``
``lora_vllm_args``). The hub token, when one is needed, is mounted into the init container only.

Every pod of the server fetches its own copy: a multi-node replica's workers load the adapter weights from
their own disk too (vLLM 0.32.0 ``lora/worker_manager.py`` ``WorkerLoRAManager._load_adapter`` reads the
``--lora-modules`` path in each worker process), so the
LeaderWorkerSet's leader and worker templates both carry the init container and the mount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.validation import Problem, dns_subdomain, type_problems
from workloads.arg_rules import pinned_image
from workloads.gateway.lora import (
    LoraAdapters,
    adapter_buckets,
    adapter_problems,
    lora_settings_problems,
    lora_vllm_args,
)
from workloads.pod_security import container_security_context
from workloads.weights import HF_TOKEN_DIR, token_volume

FETCH_CONTAINER = "fetch-adapters"
ADAPTERS_VOLUME = "lora-adapters"
TOKEN_VOLUME = "lora-hf-token"
"""Not ``weights.HF_TOKEN_VOLUME``: a huggingFace weights backend may mount its own token volume in the same pod."""
FETCH_RESOURCES = {"cpu": "1", "memory": "2Gi"}
"""Requests = limits: adapters are megabytes to a few GB, one at a time. Equal requests and limits keep the pod's
Guaranteed QoS class, which counts init containers too (Kubernetes ``pkg/apis/core/helper/qos/qos.go``
``ComputePodQOS``; https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/#guaranteed)."""
LORA_FLAGS = frozenset({"--enable-lora", "--max-loras", "--max-lora-rank", "--lora-modules"})
"""The flags ``lora_vllm_args`` renders: ``engine.extra`` may not set them beside ``lora``."""
_QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
"""A binary-SI size (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/)."""


def lora_problems(lora: LoraAdapters, served_model_name: str, google_service_account: Any,
                  extra: tuple[str, ...], mount_paths: tuple[str, ...]) -> list[Problem]:
    """Every problem with ``lora`` under ``lora.*`` (and ``google_service_account`` / ``engine.extra.<i>``).

    Args:
        lora: the adapters.
        served_model_name: the base model's served name (no adapter may take it).
        google_service_account: the server's GSA; bucket adapters are read as it.
        extra: ``engine.extra``; it may not set a LoRA flag beside ``lora``.
        mount_paths: the vLLM container's other mount paths; ``adapters_dir`` may not overlap one.
    """
    problems = type_problems(lora, LoraAdapters, "lora")
    if problems:
        return problems
    if not lora.adapters:
        problems.append(Problem("lora.adapters", "no adapter: name at least one, or leave lora unset"))
    problems += adapter_problems("lora.adapters", lora.adapters, served_model_name)
    problems += lora_settings_problems("lora.", len(lora.adapters), lora.max_loras, lora.max_lora_rank)
    problems += pinned_image("lora.fetch_image", lora.fetch_image)
    problems += _dir_problems(lora.adapters_dir, mount_paths)
    if not _QUANTITY.match(lora.size_limit):
        problems.append(Problem("lora.size_limit", f"'{lora.size_limit}' is not a size like 10Gi (Mi, Gi or Ti)"))
    if lora.hf_token_secret is not None:
        problems += dns_subdomain("lora.hf_token_secret", lora.hf_token_secret, "Secret name")
    buckets = adapter_buckets(lora.adapters)
    if buckets and google_service_account is None:
        problems.append(Problem("google_service_account", (
            f"bucket adapters ({', '.join(f'gs://{b}' for b in buckets)}) are read through Workload Identity: set "
            "{google_service_account} to a GSA that may read them")))
    for index, arg in enumerate(extra):
        if arg.split("=", 1)[0] in LORA_FLAGS:
            problems.append(Problem(f"engine.extra.{index}", (
                f"{arg!r} is a LoRA flag the server sets from {{lora}}; set it there (max_loras, max_lora_rank, "
                "adapters)")))
    return problems


def _dir_problems(adapters_dir: str, mount_paths: tuple[str, ...]) -> list[Problem]:
    if not adapters_dir.startswith("/") or adapters_dir.rstrip("/") == "":
        return [Problem("lora.adapters_dir", f"'{adapters_dir}' must be an absolute pod path below / "
                                             "(e.g. /adapters)")]
    own = adapters_dir.rstrip("/") + "/"
    for path in mount_paths:
        other = path.rstrip("/") + "/"
        if own.startswith(other) or other.startswith(own):
            return [Problem("lora.adapters_dir", f"'{adapters_dir}' overlaps the vLLM container's mount {path}; "
                                                 "pick a path of its own")]
    return []


@dataclass(frozen=True)
class LoraPod:
    """What ``lora`` adds to the server's pod template."""

    init_container: dict[str, Any]
    """Fetches every adapter into the emptyDir (the only container that sees the hub token)."""
    volumes: list[dict[str, Any]]
    """The adapters' emptyDir, and the hub-token Secret when there is one."""
    volume_mount: dict[str, Any]
    """The emptyDir in the vLLM container, read-only."""
    vllm_args: list[str]
    """``--enable-lora`` ... ``--lora-modules NAME=<adapters_dir>/<NAME> ...``."""


def fetch_args(lora: LoraAdapters) -> list[str]:
    """The init container's ``download.py`` arguments: the target, then ``--adapter NAME=SOURCE`` by name."""
    args = ["--target", lora.adapters_dir]
    for name in sorted(lora.adapters):
        args += ["--adapter", f"{name}={lora.adapters[name]}"]
    return args


def lora_pod(lora: LoraAdapters, run_as_user: int) -> LoraPod:
    """The init container, volumes, mount and vLLM flags for ``lora`` (validated by :func:`lora_problems`).

    Args:
        lora: the adapters.
        run_as_user: the pod's user; the init container runs as it, so vLLM can read what it wrote.
    """
    env: list[dict[str, Any]] = [{"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}]
    mounts: list[dict[str, Any]] = [{"name": ADAPTERS_VOLUME, "mountPath": lora.adapters_dir}]
    volumes: list[dict[str, Any]] = [{"name": ADAPTERS_VOLUME, "emptyDir": {"sizeLimit": lora.size_limit}}]
    if lora.hf_token_secret is not None:
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/token"})
        mounts.append({"name": TOKEN_VOLUME, "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append({**token_volume(lora.hf_token_secret), "name": TOKEN_VOLUME})
    init = {
        "name": FETCH_CONTAINER,
        "image": lora.fetch_image,
        "imagePullPolicy": "IfNotPresent",
        "args": fetch_args(lora),
        "env": env,
        "resources": {"requests": dict(FETCH_RESOURCES), "limits": dict(FETCH_RESOURCES)},
        "securityContext": container_security_context(run_as_user),
        "volumeMounts": mounts,
    }
    flags = lora_vllm_args(lora.adapters, lora.adapters_dir, max_loras=lora.max_loras,
                           max_lora_rank=lora.max_lora_rank)
    return LoraPod(init, volumes, {"name": ADAPTERS_VOLUME, "mountPath": lora.adapters_dir, "readOnly": True}, flags)
