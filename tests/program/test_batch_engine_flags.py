"""The batch Job runs the served engine: its vLLM flags come from workloads/vllm_args.engine_flags over
StackConfig.engine_settings (the server's mapping), never spelled by hand, and vLLM's run_batch parser takes them."""

from __future__ import annotations

import json
import subprocess

import pytest

from stack.checks.vllm_check import SERVE_VENV
from stack.render import load_stack_config, render_config
from workloads.vllm_args import engine_flags

PARSE = """
import json, sys
from vllm.entrypoints.launchers.run_batch import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser
ns = make_arg_parser(FlexibleArgumentParser()).parse_args(json.loads(sys.argv[1]))
print(json.dumps({"tp": ns.tensor_parallel_size, "batched": ns.max_num_batched_tokens, "model": ns.model}))
"""


@pytest.fixture(scope="module")
def prod():
    config = load_stack_config("prod")
    return config, render_config(config, "prod")


def container_args(result, kind: str, name: str, container: str) -> list[str]:
    manifest = next(m for m in result.manifests if m["kind"] == kind and m["metadata"]["name"] == name)
    return next(c for c in manifest["spec"]["template"]["spec"]["containers"] if c["name"] == container)["args"]


def test_batch_flags_are_the_served_engine_flags(prod):
    config, result = prod
    batch = container_args(result, "Job", "vllm-batch", "vllm-batch")
    flags = batch[batch.index("--served-model-name") + 2:]
    assert flags == engine_flags(config.engine_settings())  # prod: one node per replica, no executor backend
    assert flags[flags.index("--max-num-batched-tokens") + 1] == "8192"  # serving.vllm.maxNumBatchedTokens
    server = container_args(result, "Deployment", "vllm", "vllm")
    start = server.index("--port") + 2
    assert server[start:start + len(flags)] == flags


def test_multi_node_backend_stays_off_the_single_node_batch(prod):
    # Replicas of two 4-GPU nodes (tensor 4 × pipeline 2) served by ray; the batch runs them on one 8-GPU node.
    config = load_stack_config("prod", [
        "gpuPools.h100-4={machineType: a3-highgpu-4g, autoscaling: {minNodes: 0, maxNodes: 20}, "
        "zones: [us-central1-a]}",
        "serving.pool=h100-4", "serving.spotPool=null", "serving.nodesPerReplica=2",
        "serving.vllm.tensorParallelSize=4", "serving.vllm.pipelineParallelSize=2", "batch.pool=h100-spot",
    ])
    assert config.engine_settings().distributed_executor_backend == "ray"
    batch = container_args(render_config(config, "prod"), "Job", "vllm-batch", "vllm-batch")
    assert "--distributed-executor-backend" not in batch


@pytest.mark.skipif(
    not (SERVE_VENV / "bin" / "python").exists(), reason=f"{SERVE_VENV.name} not built (make serve-env)"
)
def test_vllm_run_batch_parser_accepts_the_rendered_args(prod):
    _, result = prod
    args = container_args(result, "Job", "vllm-batch", "vllm-batch")
    done = subprocess.run([str(SERVE_VENV / "bin" / "python"), "-c", PARSE, json.dumps(args)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed == {"tp": 8, "batched": 8192, "model": args[args.index("--model") + 1]}
