"""The ``models`` section: more models beside the top-level one (docs/models.md).

The top-level ``model``/``serving``/``autoscaling`` blocks are the stack's first model, so a single-model stack
stays as short as it was. Each ``models.<key>`` entry adds one more model on the same cluster, pools, bucket,
registry and Gateway:

* ``model`` is the entry's own, whole (a model's id, pinned revision and weights never come from another model);
* ``serving`` and ``autoscaling`` start from the top-level blocks and the entry overrides what differs (deep
  merge; lists are replaced), except what names or sizes one model: ``serving.name`` (default: the key),
  ``serving.replicas``, ``serving.nodesPerReplica``, ``serving.vllm.servedModelName``,
  ``serving.vllm.tensorParallelSize``, ``serving.vllm.pipelineParallelSize``, ``serving.lora``, ``serving.priority``
  and ``serving.computeClass`` (sized for the top-level model) are never inherited;
* stack-wide serving settings (namespace, image, compute class, pod snapshots) are the top-level ones and may not be
  set in an entry.

Each entry is validated as a whole stack of its own (:func:`model_view`: the same rules as the top-level model,
with the entry's values), and problems are reported under ``models.<key>``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from stack.config.base import Model
from stack.config.serving import ModelConfig

MODEL_KEY_PATTERN = r"^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$"
"""A DNS label of at most 12 characters: the key prefixes the model's Kubernetes objects and its service accounts'
ids (``<key>-vllm-<stack>`` must stay within a GSA id's 30 characters, stack/decisions.py ``gsa_account_id``)."""
ModelKey = Annotated[str, StringConstraints(pattern=MODEL_KEY_PATTERN)]

NOT_INHERITED = ("name", "replicas", "nodesPerReplica", "lora", "priority", "computeClass")
"""``serving`` keys an entry never takes from the top-level model (they name or size that model)."""
NOT_INHERITED_VLLM = ("servedModelName", "tensorParallelSize", "pipelineParallelSize")
"""``serving.vllm`` keys an entry never takes: its name, and how its weights are split over GPUs."""
STACK_WIDE = ("namespace", "image", "computeClass", "podSnapshots")
"""``serving`` keys only the top-level block sets: one namespace (the Gateway's routes and the shared objects live
there), one serving image (the image cache is built for its digest), one ComputeClass, one Pod-snapshot setup."""


class ExtraModel(Model):
    """Another model of the stack: its own model block; serving and autoscaling overrides of the top-level ones."""

    model: ModelConfig = Field(description="The model: hub id, pinned revision, size, weights (not inherited).")
    serving: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the top-level `serving` (same keys, e.g. pool, vllm, lora, priority); "
        "name defaults to the entry's key; namespace, image, computeClass and podSnapshots are stack-wide.",
    )
    autoscaling: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the top-level `autoscaling` (same keys)."
    )


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top: maps merge key by key, anything else (lists included) is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stack_wide_errors(key: str, entry: ExtraModel) -> list[tuple[str, str]]:
    """An entry setting a stack-wide serving key."""
    return [(f"models.{key}.serving.{name}", "stack-wide: set it on the top-level serving block, which every model "
                                             "shares") for name in STACK_WIDE if name in entry.serving]


def view_raw(top: Mapping[str, Any], key: str, entry: ExtraModel) -> dict[str, Any]:
    """The raw config of one entry as a stack of its own: ``top`` (the top-level raw config, camelCase keys) with
    the entry's model and its serving/autoscaling overrides, and no ``models``."""
    raw = {k: copy.deepcopy(v) for k, v in top.items() if k != "models"}
    if "loadtest" in raw:  # names a model of the whole stack, checked there
        raw["loadtest"] = {k: v for k, v in raw["loadtest"].items() if k != "model"}
    serving = {k: v for k, v in top.get("serving", {}).items() if k not in NOT_INHERITED}
    vllm = {k: v for k, v in serving.get("vllm", {}).items() if k not in NOT_INHERITED_VLLM}
    if "vllm" in serving:
        serving["vllm"] = vllm
    raw["model"] = entry.model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    raw["serving"] = deep_merge({**serving, "name": key}, entry.serving)
    raw["autoscaling"] = deep_merge(top.get("autoscaling", {}), entry.autoscaling)
    return raw


def entry_error(key: str, line: str, config_key: str) -> tuple[str, str]:
    """A view's error line (``platform.<path>: <message>``) under ``models.<key>``: the entry's own blocks keep
    their path; a rule of the rest of the stack that the entry's values break is reported on the entry."""
    path, _, message = line.partition(": ")
    relative = path.removeprefix(f"{config_key}.")
    if relative.split(".")[0] in ("model", "serving", "autoscaling"):
        return f"models.{key}.{relative}", message
    return f"models.{key}", f"{relative}: {message}"
