"""Read the serving container out of rendered manifests, and adapt it to a CPU machine.

The rendered serving object is a `Deployment` (or a `LeaderWorkerSet`, whose leader pod runs
the server) with a container named `vllm`. `adapt_args` turns its GPU arguments into ones the
CPU build runs with the tiny model, and says exactly what it changed and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

VLLM_CONTAINER = "vllm"
#: Settings the CPU backend needs (reference/real-vllm-on-cpu.md: the default 0.92 refuses to
#: start on a 24 GiB machine; 0.3 worked; VLLM_CPU_KVCACHE_SPACE is the KV cache in GiB).
CPU_GPU_MEMORY_UTILIZATION = "0.3"
CPU_KVCACHE_SPACE_GIB = "1"
#: The tiny model's context (stack/local/tiny_model.py MAX_POSITIONS).
TINY_MAX_MODEL_LEN = 2048

# Flags that take no value (present = on); everything else starting with "--" takes one value.
_BOOLEAN_FLAGS = {
    "--enable-prefix-caching", "--no-enable-prefix-caching", "--enable-chunked-prefill",
    "--no-enable-chunked-prefill", "--enable-expert-parallel", "--enable-log-requests",
    "--enforce-eager", "--trust-remote-code", "--enable-sleep-mode", "--enable-lora",
    "--disable-log-stats", "--enable-auto-tool-choice", "--disable-frontend-multiprocessing",
    "--enable-prompt-tokens-details", "--enable-force-include-usage", "--headless",
    "--disable-fastapi-docs", "--enable-request-id-headers", "--disable-uvicorn-access-log",
    "--enable-server-load-tracking", "--async-scheduling",
    "--no-async-scheduling", "--kv-cache-metrics",
}
# Flags that may repeat their value (nargs="+").
_MULTI_VALUE_FLAGS = {"--served-model-name", "--api-key", "--middleware", "--allowed-origins", "--lora-modules"}
_LORA_FLAGS = {"--enable-lora", "--max-loras", "--max-lora-rank", "--lora-modules"}
"""Serving LoRA adapters: the pod's init container fetches them; locally there are none to serve."""
_ALIASES = {"-tp": "--tensor-parallel-size", "-pp": "--pipeline-parallel-size",
            "-dp": "--data-parallel-size"}


class SpecError(ValueError):
    """The rendered manifests do not contain a usable vLLM serving container."""


@dataclass
class ServingSpec:
    """The serving pod as rendered: the `vllm` container and the pod fields around it."""

    kind: str
    name: str
    container: dict[str, Any]
    pod_spec: dict[str, Any]
    source: Path | None = None

    @property
    def args(self) -> list[str]:
        """The container's command tail + args as vLLM server arguments (entry point dropped)."""
        return server_args(self.container)

    @property
    def termination_grace_period(self) -> float:
        return float(self.pod_spec.get("terminationGracePeriodSeconds", 30))

    @property
    def prestop(self) -> PreStop:
        """The container's preStop hook: `sleep.seconds` (or an exec `sleep N`), or a command."""
        pre = (self.container.get("lifecycle") or {}).get("preStop") or {}
        if "sleep" in pre:
            return PreStop(sleep_seconds=float(pre["sleep"]["seconds"]))
        command = (pre.get("exec") or {}).get("command") or []
        for i, word in enumerate(command):
            if word.endswith("sleep") and i + 1 < len(command):
                return PreStop(sleep_seconds=float(command[i + 1]))
            if "sleep " in word:
                return PreStop(sleep_seconds=float(word.split("sleep ", 1)[1].split()[0].rstrip(";")))
        return PreStop(command=list(command)) if command else PreStop()

    def container_port(self, port: int | str) -> int:
        """Resolve a probe's `port` (number or named container port) to a number."""
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in self.container.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise SpecError(f"container {VLLM_CONTAINER!r}: probe port {port!r} names no containerPort")


@dataclass(frozen=True)
class PreStop:
    """A preStop hook: sleep `sleep_seconds`, or run `command` (in-pod paths); neither = none."""

    sleep_seconds: float = 0.0
    command: list[str] | None = None

    def describe(self) -> str:
        return " ".join(self.command) if self.command else f"sleep {self.sleep_seconds:g}s"


def server_args(container: dict[str, Any]) -> list[str]:
    """vLLM server arguments of a container: `command` after the entry point, then `args`.

    `vllm serve MODEL ...` becomes `--model MODEL ...`; `python3 -m vllm...api_server` is dropped.
    """
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    tail: list[str] = []
    if "serve" in command:
        tail = command[command.index("serve") + 1:]
    elif command and command[-1].startswith("vllm.entrypoints"):
        tail = []
    full = tail + args
    if full and not full[0].startswith("-"):
        full = ["--model", full[0], *full[1:]]
    return full


def _pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet"):
        return (spec.get("template") or {}).get("spec")
    if kind == "LeaderWorkerSet":
        tmpl = spec.get("leaderWorkerTemplate") or {}
        return ((tmpl.get("leaderTemplate") or tmpl.get("workerTemplate") or {}).get("spec"))
    return None


def find_serving_specs(manifest_paths: list[Path]) -> list[ServingSpec]:
    """Every workload whose pod has a container named `vllm` among YAML files (one per model of the stack)."""
    found: list[ServingSpec] = []
    for path in manifest_paths:
        for obj in yaml.safe_load_all(Path(path).read_text()):
            if not isinstance(obj, dict):
                continue
            pod = _pod_spec_of(obj)
            if not pod:
                continue
            for c in pod.get("containers") or []:
                if c.get("name") == VLLM_CONTAINER:
                    found.append(ServingSpec(obj["kind"], obj["metadata"]["name"], c, pod, path))
    if not found:
        raise SpecError(f"no Deployment/LeaderWorkerSet with a container named {VLLM_CONTAINER!r} "
                        "in the rendered manifests; set `serving` in the stack config")
    return found


def find_serving_spec(manifest_paths: list[Path], name: str | None = None) -> ServingSpec:
    """The serving workload called ``name`` (a model's serving.name), or the only one when ``name`` is None."""
    found = find_serving_specs(manifest_paths)
    names = ", ".join(s.name for s in found)
    if name is not None:
        chosen = [s for s in found if s.name == name]
        if not chosen:
            raise SpecError(f"no serving workload named {name!r}; the stack serves: {names}")
        return chosen[0]
    if len(found) > 1:
        raise SpecError(f"several serving workloads ({names}); name one (--model)")
    return found[0]


def find_in_dir(manifests_dir: Path, name: str | None = None) -> ServingSpec:
    """`find_serving_spec` over every `*.yaml` in `manifests_dir` (the render's `manifests/`)."""
    return find_serving_spec(sorted(Path(manifests_dir).glob("*.yaml")), name)


def find_all_in_dir(manifests_dir: Path) -> list[ServingSpec]:
    """`find_serving_specs` over every `*.yaml` in `manifests_dir`."""
    return find_serving_specs(sorted(Path(manifests_dir).glob("*.yaml")))


@dataclass
class Adapted:
    """Result of `adapt_args`: the local arguments and one line per change."""

    args: list[str]
    changes: list[str] = field(default_factory=list)
    served_model_name: str = ""


def _split(args: list[str]) -> list[tuple[str, list[str]]]:
    """Group argv into (flag, values) pairs; `--flag=value` is split."""
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if "=" in a and a.startswith("--"):
            flag, value = a.split("=", 1)
            out.append((_ALIASES.get(flag, flag), [value]))
            i += 1
            continue
        flag = _ALIASES.get(a, a)
        values: list[str] = []
        i += 1
        if flag not in _BOOLEAN_FLAGS:
            while i < len(args) and not args[i].startswith("-"):
                values.append(args[i])
                i += 1
                if flag not in _MULTI_VALUE_FLAGS:
                    break
        out.append((flag, values))
    return out


def adapt_args(args: list[str], *, model_dir: Path, port: int, host: str = "127.0.0.1") -> Adapted:
    """Adapt rendered vLLM args to the CPU build and the tiny model; record every change.

    Kept as rendered: the served model name (clients use the same name), and every flag the CPU
    build accepts. Changed: model path -> `model_dir`; `--port`/`--host` -> local; GPU-only
    settings dropped (tensor/pipeline/data parallelism > 1, fp8 KV cache, quantization, expert
    parallelism, Ray executor); `--gpu-memory-utilization` -> 0.3; Run:ai streaming from
    `gs://` -> the default loader on the local directory; `--max-model-len` capped at the tiny
    model's context.

    Args:
        args: the container's server arguments (`ServingSpec.args`).
        model_dir: the local model directory that replaces the rendered model path.
        port: local port to bind.
        host: local address to bind (default loopback only).
    """
    changes: list[str] = []
    out: list[str] = []
    pairs = _split(args)
    flags = {f for f, _ in pairs}
    original_model = next((v[0] for f, v in pairs if f == "--model" and v), None)
    served = next((v[0] for f, v in pairs if f == "--served-model-name" and v), None)
    for flag, values in pairs:
        value = values[0] if values else None
        if flag == "--model":
            out += ["--model", str(model_dir)]
            changes.append(f"--model {value} -> {model_dir} (tiny local model)")
        elif flag == "--tokenizer":
            out += ["--tokenizer", str(model_dir)]
            changes.append(f"--tokenizer {value} -> {model_dir} (tiny model's tokenizer)")
        elif flag == "--port":
            out += ["--port", str(port)]
            if value != str(port):
                changes.append(f"--port {value} -> {port} (local port)")
        elif flag == "--host":
            out += ["--host", host]
            changes.append(f"--host {value} -> {host} (local only)")
        elif flag in ("--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size"):
            if value and int(value) > 1:
                changes.append(f"dropped {flag} {value} (one CPU worker)")
            else:
                out += [flag, *values]
        elif flag == "--kv-cache-dtype" and value and value.startswith("fp8"):
            changes.append(f"dropped --kv-cache-dtype {value} (fp8 KV cache is a GPU feature)")
        elif flag == "--quantization":
            changes.append(f"dropped --quantization {value} (tiny model is unquantized bf16)")
        elif flag == "--enable-expert-parallel":
            changes.append("dropped --enable-expert-parallel (no experts, one worker)")
        elif flag == "--distributed-executor-backend" and value == "ray":
            changes.append("dropped --distributed-executor-backend ray (single process)")
        elif flag == "--gpu-memory-utilization":
            out += [flag, CPU_GPU_MEMORY_UTILIZATION]
            changes.append(f"--gpu-memory-utilization {value} -> {CPU_GPU_MEMORY_UTILIZATION} "
                           "(CPU backend sizes from VLLM_CPU_KVCACHE_SPACE)")
        elif flag == "--load-format" and value and value.startswith("runai_streamer"):
            changes.append(f"dropped --load-format {value} (model {original_model} -> local "
                           "directory, default loader)")
        elif flag == "--model-loader-extra-config" and "--load-format" in flags and any(
            f == "--load-format" and v and v[0].startswith("runai_streamer") for f, v in pairs
        ):
            changes.append("dropped --model-loader-extra-config (Run:ai streamer settings)")
        elif flag in _LORA_FLAGS:
            if flag == "--lora-modules":
                changes.append(f"dropped LoRA adapters {' '.join(values)} (the pod's init container fetches them; "
                               "none exist locally, and they would not fit the tiny model)")
        elif flag == "--max-model-len" and value and int(value) > TINY_MAX_MODEL_LEN:
            out += [flag, str(TINY_MAX_MODEL_LEN)]
            changes.append(f"--max-model-len {value} -> {TINY_MAX_MODEL_LEN} (tiny model's context)")
        else:
            out += [flag, *values]
    if "--model" not in flags or original_model is None:
        raise SpecError(f"container {VLLM_CONTAINER!r}: no model in its args (--model or "
                        "`vllm serve MODEL`)")
    if served is None:
        served = original_model
        out += ["--served-model-name", served]
        changes.append(f"added --served-model-name {served} (keeps the rendered model name)")
    if "--host" not in flags:
        out += ["--host", host]
        changes.append(f"added --host {host} (local only)")
    if "--port" not in flags:
        out += ["--port", str(port)]
        changes.append(f"added --port {port}")
    if "--gpu-memory-utilization" not in flags:
        out += ["--gpu-memory-utilization", CPU_GPU_MEMORY_UTILIZATION]
        changes.append(f"added --gpu-memory-utilization {CPU_GPU_MEMORY_UTILIZATION} "
                       "(the default 0.92 refuses to start on CPU)")
    return Adapted(out, changes, served)
