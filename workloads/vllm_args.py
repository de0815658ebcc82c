"""vLLM command-line arguments from typed settings (one place that spells vLLM flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVING_PORT = 8000
"""vLLM's OpenAI server port; /metrics is served on the same port."""


@dataclass(frozen=True)
class EngineSettings:
    """The vLLM engine flags the platform sets. ``None`` leaves vLLM's default."""

    served_model_name: str
    """Name clients send as `model`."""
    model: str | None = None
    """Value of --model: a local path or a gs:// URI (runai_streamer). Unset where the weights backend gives
    it (``VllmServer`` takes ``weights.model_path``)."""
    tensor_parallel_size: int = 1
    """--tensor-parallel-size."""
    pipeline_parallel_size: int = 1
    """--pipeline-parallel-size."""
    max_model_len: int | None = None
    """--max-model-len."""
    gpu_memory_utilization: float = 0.9
    """--gpu-memory-utilization."""
    max_num_seqs: int | None = None
    """--max-num-seqs."""
    max_num_batched_tokens: int | None = None
    """--max-num-batched-tokens."""
    enable_prefix_caching: bool = True
    """--enable-prefix-caching / --no-enable-prefix-caching."""
    enable_chunked_prefill: bool = True
    """--enable-chunked-prefill / --no-enable-chunked-prefill."""
    quantization: str | None = None
    """--quantization."""
    kv_cache_dtype: str = "auto"
    """--kv-cache-dtype."""
    dtype: str = "auto"
    """--dtype."""
    shutdown_timeout_seconds: int = 60
    """--shutdown-timeout: without it vLLM aborts in-flight requests on SIGTERM."""
    distributed_executor_backend: str | None = None
    """--distributed-executor-backend (ray for multi-node)."""
    port: int = SERVING_PORT
    """--port."""
    extra: tuple[str, ...] = field(default=())
    """Backend flags (e.g. --load-format runai_streamer) and user extra args, appended in order."""


def engine_args(s: EngineSettings, model: Any = None) -> list[Any]:
    """The container args for ``vllm serve``-equivalent ``python3 -m vllm.entrypoints.openai.api_server``.

    ``model`` (a path or a ``pulumi.Input[str]``) replaces ``s.model``; one of them must be given.
    """
    model = model if model is not None else s.model
    if model is None:
        raise ValueError("engine.model: unset and no model path given")
    args = [
        "--model", model,
        "--served-model-name", s.served_model_name,
        "--host", "0.0.0.0",
        "--port", str(s.port),
    ]  # fmt: skip
    return args + engine_flags(s)


def engine_flags(s: EngineSettings) -> list[str]:
    """The engine flags alone (no model, name, host or port): what the server and the offline batch runner
    (``vllm.entrypoints.openai.run_batch``, whose parser takes the same engine arguments) both pass."""
    args = [
        "--tensor-parallel-size", str(s.tensor_parallel_size),
        "--pipeline-parallel-size", str(s.pipeline_parallel_size),
        "--gpu-memory-utilization", f"{s.gpu_memory_utilization:g}",
        "--kv-cache-dtype", s.kv_cache_dtype,
        "--dtype", s.dtype,
        "--enable-prefix-caching" if s.enable_prefix_caching else "--no-enable-prefix-caching",
        "--enable-chunked-prefill" if s.enable_chunked_prefill else "--no-enable-chunked-prefill",
        "--shutdown-timeout", str(s.shutdown_timeout_seconds),
    ]  # fmt: skip
    optional = {
        "--max-model-len": s.max_model_len,
        "--max-num-seqs": s.max_num_seqs,
        "--max-num-batched-tokens": s.max_num_batched_tokens,
        "--quantization": s.quantization,
        "--distributed-executor-backend": s.distributed_executor_backend,
    }
    for flag, value in optional.items():
        if value is not None:
            args += [flag, str(value)]
    return args + list(s.extra)


def typed_flags() -> frozenset[str]:
    """Every flag ``engine_args`` spells from a typed setting (both spellings of the boolean ones), derived from
    the functions themselves so a new typed setting is covered without a hand list."""
    probe = EngineSettings(served_model_name="name", max_model_len=1, max_num_seqs=1, max_num_batched_tokens=1,
                           quantization="q", distributed_executor_backend="b")
    negated = EngineSettings(served_model_name="name", enable_prefix_caching=False, enable_chunked_prefill=False)
    spelled = engine_args(probe, model="model") + engine_flags(negated)
    return frozenset(a for a in spelled if isinstance(a, str) and a.startswith("--"))


def redefined_flags(extra: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    """``(index, flag)`` for each of ``extra`` that redefines a typed flag (``--max-num-seqs 8`` or
    ``--max-num-seqs=8``): vLLM takes the last occurrence, so such an extra argument would silently override the
    typed setting every other rule (memory, autoscaling targets) reads. Pure; VllmServer and the config run it."""
    typed = typed_flags()
    found = ((index, _canonical(arg.split("=", 1)[0])) for index, arg in enumerate(extra))
    return [(index, flag) for index, flag in found if flag in typed]


SHORT_FLAGS = {"-tp": "--tensor-parallel-size", "-pp": "--pipeline-parallel-size"}
"""vLLM's short spellings of typed flags (vllm/engine/arg_utils.py EngineArgs.add_cli_args)."""


def _canonical(flag: str) -> str:
    """``--max_num_seqs`` → ``--max-num-seqs`` (vLLM's FlexibleArgumentParser takes both), ``-tp`` → its long
    form."""
    if flag.startswith("--"):
        return "--" + flag[2:].replace("_", "-")
    return SHORT_FLAGS.get(flag, flag)
