"""Benchmark: does our locust harness measure what `vllm bench serve` measures?

One local vLLM server (CPU build, tiny model, no probes or API key, so nothing else touches
it), the same random dataset (same tokenizer, seed, lengths) and the same Poisson request
rate; our harness (`gke-infer loadtest`) and then `vllm bench serve` (through
stack/local/vllm_cli.py), one after the other, `--rounds` times. Prints per round and overall
(ratio of the per-tool medians over rounds):

    ratio median_ttft <ours/theirs>
    ratio median_tpot <ours/theirs>
    ratio output_throughput <ours/theirs>

Target 0.9-1.1. Run: `.venv/bin/python bench/harness_fidelity.py [--rounds 2] [--rate 8]`.
This is a measurement, not a test: numbers vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stack.local.serve import free_port  # noqa: E402
from stack.local.serve_env import ensure_serve_env  # noqa: E402
from stack.local.tiny_model import make_tiny_model  # noqa: E402
from stack.local.vllm_cli import vllm_command  # noqa: E402

KEYS = ("median_ttft_ms", "median_tpot_ms", "output_throughput")


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 600) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"vLLM exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("vLLM not healthy in time")


def run_ours(url: str, model: str, model_dir: Path, args, out: Path) -> dict:
    cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "stack.cli", "loadtest", "--url", url,
           "--model", model, "--tokenizer", str(model_dir), "--dataset", "random",
           "--num-prompts", str(args.num_prompts), "--input-len", str(args.input_len),
           "--output-len", str(args.output_len), "--request-rate", str(args.rate),
           "--seed", str(args.seed), "--out", str(out), "--no-plots", "--quiet"]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return json.loads((out / "report.json").read_text())["summary"]


def run_theirs(url: str, model: str, model_dir: Path, args, out: Path, python: Path) -> dict:
    cmd = vllm_command(
        "bench", "serve", "--backend", "vllm", "--base-url", url, "--model", model,
        "--tokenizer", str(model_dir), "--dataset-name", "random",
        "--random-input-len", str(args.input_len), "--random-output-len", str(args.output_len),
        "--num-prompts", str(args.num_prompts), "--request-rate", str(args.rate),
        "--ignore-eos", "--seed", str(args.seed), "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "50,90,99", "--save-result", "--result-dir", str(out),
        "--result-filename", "theirs.json", python=python)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out / "theirs.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="ours-then-theirs rounds")
    parser.add_argument("--rate", type=float, default=8.0, help="request rate (req/s)")
    parser.add_argument("--num-prompts", type=int, default=160)
    parser.add_argument("--input-len", type=int, default=128)
    parser.add_argument("--output-len", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    python = ensure_serve_env()
    work = Path(tempfile.mkdtemp(prefix="harness-fidelity-"))
    model_dir = make_tiny_model(work / "model", python=python)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    model = "tiny"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    log = open(work / "vllm.log", "wb")  # noqa: SIM115 - the server writes to it until stopped
    server = subprocess.Popen(
        [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
         "--served-model-name", model, "--host", "127.0.0.1", "--port", str(port),
         "--gpu-memory-utilization", "0.3", "--disable-log-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        print(f"vLLM healthy in {wait_healthy(url, server):.1f}s; "
              f"{args.num_prompts} prompts, in {args.input_len} / out {args.output_len} tokens, "
              f"{args.rate:g} req/s Poisson, seed {args.seed}", flush=True)
        # Warm both paths (first requests compile kernels) before measuring.
        run_ours(url, model, model_dir, argparse.Namespace(**{**vars(args), "num_prompts": 8}),
                 work / "warmup")
        ours_all, theirs_all = [], []
        for i in range(args.rounds):
            ours = run_ours(url, model, model_dir, args, work / f"ours-{i}")
            theirs = run_theirs(url, model, model_dir, args, work / f"theirs-{i}", python)
            ours_all.append(ours)
            theirs_all.append(theirs)
            print(f"round {i + 1}: " + "  ".join(
                f"{k} ours {ours[k]:.2f} theirs {theirs[k]:.2f}" for k in KEYS)
                + f"  failed ours {ours['failed']} theirs {theirs['failed']}", flush=True)
        for key in KEYS:
            o = statistics.median(r[key] for r in ours_all)
            t = statistics.median(r[key] for r in theirs_all)
            print(f"ratio {key.removesuffix('_ms')} {o / t:.3f}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
