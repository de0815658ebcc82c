"""The typed settings → vLLM flags mapping (flag spellings of vLLM 0.32)."""

from workloads.vllm_args import EngineSettings, engine_args


def test_defaults_render_explicit_flags_with_drain_timeout():
    args = engine_args(EngineSettings(model="/models/m", served_model_name="m"))
    assert args == [
        "--model", "/models/m", "--served-model-name", "m", "--host", "0.0.0.0", "--port", "8000",
        "--tensor-parallel-size", "1", "--pipeline-parallel-size", "1", "--gpu-memory-utilization", "0.9",
        "--kv-cache-dtype", "auto", "--dtype", "auto", "--enable-prefix-caching", "--enable-chunked-prefill",
        "--shutdown-timeout", "60",
    ]  # fmt: skip


def test_optional_flags_and_negations_and_extra_args_in_order():
    args = engine_args(
        EngineSettings(
            model="gs://b/p",
            served_model_name="m",
            max_model_len=8192,
            max_num_seqs=64,
            max_num_batched_tokens=4096,
            quantization="fp8",
            enable_prefix_caching=False,
            enable_chunked_prefill=False,
            distributed_executor_backend="ray",
            extra=("--load-format", "runai_streamer"),
        )
    )
    assert "--no-enable-prefix-caching" in args and "--no-enable-chunked-prefill" in args
    tail = args[args.index("--shutdown-timeout") + 2 :]
    assert tail == [
        "--max-model-len", "8192", "--max-num-seqs", "64", "--max-num-batched-tokens", "4096",
        "--quantization", "fp8", "--distributed-executor-backend", "ray", "--load-format", "runai_streamer",
    ]  # fmt: skip
