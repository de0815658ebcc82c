"""The harness's dataset, arrivals and metrics against vLLM's own benchmark code.

vLLM 0.32's `vllm.benchmarks` (in .venv-serve) generates the random dataset and the arrival
schedule and computes the metrics for the same inputs; the harness must give the same
prompts, the same send times and the same numbers.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from loadtest.arrivals import arrival_times
from loadtest.datasets import HFTokenizer, random_dataset
from loadtest.metrics import RequestRecord, compute_metrics

pytestmark = pytest.mark.integration

_VLLM_SIDE = r"""
import asyncio, json, sys
import numpy as np
from vllm.tokenizers import get_tokenizer
from vllm.benchmarks.datasets import RandomDataset
from vllm.benchmarks.serve import calculate_metrics, get_request
from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput

cfg = json.load(sys.stdin)
tok = get_tokenizer(cfg["tokenizer"])
reqs = RandomDataset(random_seed=cfg["seed"]).sample(
    tokenizer=tok, num_requests=cfg["n"], input_len=cfg["input_len"],
    output_len=cfg["output_len"], range_ratio=cfg["range_ratio"])
dataset = [[r.prompt, r.prompt_len, r.expected_output_len] for r in reqs]

outputs = []
for o in cfg["outputs"]:
    out = RequestFuncOutput(success=o["success"], latency=o["latency"], ttft=o["ttft"],
                            itl=o["itl"], output_tokens=o["output_tokens"] or 0,
                            prompt_len=o["prompt_len"], start_time=o["start"])
    outputs.append(out)
metrics, _ = calculate_metrics(input_requests=reqs[:len(outputs)], outputs=outputs,
                               dur_s=cfg["duration"], tokenizer=tok,
                               selected_percentiles=[50.0, 90.0, 99.0],
                               goodput_config_dict=cfg["slos"])
m = {k: v for k, v in vars(metrics).items() if not k.startswith("percentiles_")}
for name in ("ttft", "tpot", "itl", "e2el"):
    for p, v in getattr(metrics, f"percentiles_{name}_ms"):
        m[f"p{int(p)}_{name}_ms"] = v

# Arrival offsets: vLLM sleeps until start + delay_i; record the planned delays.
import vllm.benchmarks.serve as s
np.random.seed(cfg["seed"])
delays = []
async def collect():
    import time
    t0 = time.time()
    async for _req, _rate in get_request(reqs, cfg["rate"], cfg["burstiness"]):
        delays.append(time.time() - t0)
asyncio.run(collect())
print("__RESULT__" + json.dumps({"dataset": dataset, "metrics": m, "delays": delays},
                                default=float))
"""


@pytest.fixture(scope="module")
def vllm_side(serve_python, tiny_model_dir, outputs):
    cfg = {"tokenizer": str(tiny_model_dir), "seed": 7, "n": 12, "input_len": 48,
           "output_len": 16, "range_ratio": 0.5, "duration": 3.5,
           "slos": {"ttft": 120.0, "tpot": 12.0}, "rate": 40.0, "burstiness": 0.7,
           "outputs": [o.to_json() for o in outputs]}
    proc = subprocess.run([str(serve_python), "-c", _VLLM_SIDE], input=json.dumps(cfg),
                          capture_output=True, text=True, timeout=600)
    assert "__RESULT__" in proc.stdout, proc.stderr[-3000:]
    return cfg, json.loads(proc.stdout.split("__RESULT__", 1)[1])


@pytest.fixture(scope="module")
def outputs():
    recs = []
    for i in range(12):
        itl = [0.004 + 0.001 * ((i + k) % 4) for k in range(i % 6)]
        recs.append(RequestRecord(start=10.0 + 0.2 * i, success=i != 5, ttft=0.05 + 0.02 * (i % 7),
                                  itl=itl, latency=0.05 + 0.02 * (i % 7) + sum(itl),
                                  output_tokens=len(itl) + 1, prompt_len=40 + i))
    return recs


def test_random_dataset_matches_vllm(vllm_side, tiny_model_dir):
    cfg, theirs = vllm_side
    ours = random_dataset(HFTokenizer(tiny_model_dir), cfg["n"], cfg["input_len"],
                          cfg["output_len"], range_ratio=cfg["range_ratio"], seed=cfg["seed"])
    assert [[r.prompt, r.prompt_len, r.expected_output_len] for r in ours] == theirs["dataset"]


def test_metrics_match_vllm(vllm_side, outputs):
    cfg, theirs = vllm_side
    ours = compute_metrics(outputs, cfg["duration"], [50, 90, 99], cfg["slos"])
    keys = [k for k in theirs["metrics"] if k in ours and k != "duration"]
    assert len(keys) >= 28
    for key in keys:
        assert ours[key] == pytest.approx(theirs["metrics"][key], rel=1e-9, abs=1e-12), key


def test_arrival_schedule_matches_vllm(vllm_side):
    cfg, theirs = vllm_side
    ours = arrival_times(cfg["n"], cfg["rate"], cfg["burstiness"], cfg["seed"])
    # vLLM's are measured sleeps (wall clock), ours the planned offsets.
    assert len(ours) == len(theirs["delays"])
    for planned, slept in zip(ours, theirs["delays"], strict=True):
        assert slept == pytest.approx(planned, abs=0.02)
