"""Benchmark: does our locust harness measure what `vllm bench serve` measures?

One local vLLM server (CPU build, tiny model, no probes, no API key, prefix caching off), the
same random dataset (same tokenizer, seeds, lengths: vLLM's defaults, 1024 in / 128 out) and
the same Poisson arrival process for our harness (`gke-infer loadtest`) and `vllm bench serve`
(through stack/local/vllm_cli.py), `--rounds` times. Two ways to put them against each other:

- `--mode side-by-side` (default): both at once, each at half the request rate, so both
  observe the same server at the same moments. Their measured runs begin at one instant: ours
  loads and waits (`--start-on-stdin`), theirs starts, and ours is released when theirs
  prints "Starting main benchmark run", so neither tool's start-up (seconds of CPU on a
  2-core machine) stalls the server during the other's run. The tools take seeds SEED and
  SEED+1 and swap every round (on one seed each request would meet its twin from the other
  tool at the same instant); over an even number of rounds each tool runs both datasets.
- `--mode sequential`: one after the other at the full rate on one seed (order alternating
  per round), as the issue first asked. On a shared 2-core machine the server's own speed
  (its `vllm:inter_token_latency_seconds` histogram) moves 10-50 % between consecutive
  runs, so these ratios measure the machine as much as the tools.

Per round it prints both tools' figures, what vLLM itself measured meanwhile (mean TTFT and
ITL from its histograms) and each client's CPU share while tokens were flowing; then each
client's mean ITL against the server's (its measurement error), each round's ours/theirs
ratios, and their median over rounds (sequential: the ratio of the per-tool medians over
rounds), one per line:

    ratio median_ttft <ours/theirs>
    ratio median_tpot <ours/theirs>
    ratio output_throughput <ours/theirs>

Target 0.9-1.1. Run: `.venv/bin/python bench/harness_fidelity.py [--mode sequential]
[--rounds 4] [--rate 4] [--wire]`. A measurement, not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.wire import Capture, summarize, wire_requests  # noqa: E402
from loadtest.cli import READY_LINE  # noqa: E402
from stack.local.serve import free_port  # noqa: E402
from stack.local.serve_env import ensure_serve_env  # noqa: E402
from stack.local.tiny_model import make_tiny_model  # noqa: E402
from stack.local.vllm_cli import vllm_command  # noqa: E402
from workloads.probes.engine_liveness import parse_metrics  # noqa: E402

KEYS = ("median_ttft_ms", "median_tpot_ms", "output_throughput")
DETAIL_KEYS = ("mean_ttft_ms", "mean_itl_ms", "server_mean_ttft_ms", "server_mean_itl_ms",
               "client_cpu_pct", "wire_median_ttft_ms", "wire_median_tpot_ms")
# Who sent a request on the wire, by User-Agent: geventhttpclient (ours) or aiohttp (vLLM's).
USER_AGENT_OF = {"ours": "gevent-http-client", "theirs": "aiohttp"}
# Server-side histograms: what vLLM itself measured while the tools ran (sum, count).
SERVER_HISTOGRAMS = ("vllm:inter_token_latency_seconds", "vllm:time_to_first_token_seconds")
SERVER_NAMES = (*(f"{h}_{part}" for h in SERVER_HISTOGRAMS for part in ("sum", "count")),
                "vllm:generation_tokens_total")
THEIR_START_LINE = "Starting main benchmark run"  # vllm/benchmarks/serve.py prints it


def server_metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        return parse_metrics(r.read().decode(), SERVER_NAMES)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Client:
    """One load generator: its command, where its result lands, and what was seen of it."""

    name: str
    cmd: list[str]
    read_result: Callable[[], dict]
    popen: dict = field(default_factory=dict)
    ok_exit_codes: tuple[int, ...] = (0,)  # anything else aborts the benchmark
    proc: subprocess.Popen | None = None
    cpu: dict[int, float] = field(default_factory=dict)  # sample index -> CPU seconds

    def start(self, **extra) -> None:
        self.proc = subprocess.Popen(self.cmd, preexec_fn=prioritized, **{**self.popen, **extra})


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


CLIENT_NICE = -10


def prioritized() -> None:
    """preexec_fn for a client process: schedule it ahead of the server where allowed.

    On a 2-core machine the server (API process, engine, spinning OpenMP worker) keeps both
    cores busy, and a client that waits for a CPU stamps its clock late: on the wire (tcpdump
    on lo) the server answered both tools alike while each client's own TTFT came out several
    ms later, by how much depending on the client. A load generator must not be the
    bottleneck, so both get a higher priority (needs root or CAP_SYS_NICE; else unchanged).
    """
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, CLIENT_NICE)


def ours_client(url: str, model: str, model_dir: Path, args, rate: float, out: Path, *,
                seed: int, gated: bool = False) -> Client:
    """`gke-infer loadtest`; `gated`: it loads, says READY_LINE and waits for a stdin line."""
    cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "stack.cli", "loadtest", "--url", url,
           "--model", model, "--tokenizer", str(model_dir), "--dataset", "random",
           "--num-prompts", str(args.num_prompts), "--input-len", str(args.input_len),
           "--output-len", str(args.output_len), "--request-rate", str(rate),
           "--seed", str(seed), "--out", str(out), "--no-plots", "--quiet",
           *(["--start-on-stdin"] if gated else [])]
    # Exit 1 = some requests failed (the report counts them, as vLLM's result does).
    return Client("ours", cmd, lambda: json.loads((out / "report.json").read_text())["summary"],
                  popen={"cwd": REPO, "stdout": subprocess.DEVNULL}, ok_exit_codes=(0, 1))


def theirs_client(url: str, model: str, model_dir: Path, args, rate: float, out: Path,
                  python: Path, *, seed: int) -> Client:
    cmd = vllm_command(
        "bench", "serve", "--backend", "vllm", "--base-url", url, "--model", model,
        "--tokenizer", str(model_dir), "--dataset-name", "random",
        "--random-input-len", str(args.input_len), "--random-output-len", str(args.output_len),
        "--num-prompts", str(args.num_prompts), "--request-rate", str(rate),
        "--ignore-eos", "--seed", str(seed), "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "50,90,99", "--save-result", "--result-dir", str(out),
        "--result-filename", "theirs.json", python=python)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING",
           "PYTHONUNBUFFERED": "1"}
    return Client("theirs", cmd, lambda: json.loads((out / "theirs.json").read_text()),
                  popen={"env": env, "stdout": subprocess.DEVNULL})


def watch(url: str, clients: list[Client], started: Callable[[], None]) -> dict[str, dict]:
    """Sample the clients' CPU and the server's token counter until every client has exited.

    `started()` is called on every tick (it starts the clients that are due). Returns per
    client its tool's summary plus the server's mean ITL/TTFT over the whole run and the
    client's CPU share over the ticks in which the server was generating tokens.
    """
    before = server_metrics(url)
    times: list[float] = []
    tokens: list[float] = []
    while True:
        started()
        with contextlib.suppress(OSError, ValueError):
            tokens.append(server_metrics(url)["vllm:generation_tokens_total"])
            times.append(time.monotonic())
            for c in clients:
                if c.proc is not None and c.proc.poll() is None:
                    with contextlib.suppress(OSError, IndexError):  # it just exited
                        c.cpu[len(times) - 1] = process_cpu_s(c.proc.pid)
        if all(c.proc is not None and c.proc.poll() is not None for c in clients):
            break
        time.sleep(0.5)
    after = server_metrics(url)
    for c in clients:
        if c.proc is not None and c.proc.returncode not in c.ok_exit_codes:
            raise subprocess.CalledProcessError(c.proc.returncode, c.cmd)

    def mean_ms(h: str) -> float:
        count = after[f"{h}_count"] - before[f"{h}_count"]
        return 1000.0 * (after[f"{h}_sum"] - before[f"{h}_sum"]) / count if count else 0.0

    results = {}
    for c in clients:
        busy = [i for i in range(1, len(times))
                if tokens[i] > tokens[i - 1] and i in c.cpu and i - 1 in c.cpu]
        cpu = sum(c.cpu[i] - c.cpu[i - 1] for i in busy)
        wall = sum(times[i] - times[i - 1] for i in busy)
        results[c.name] = {**c.read_result(),
                           "server_mean_itl_ms": mean_ms(SERVER_HISTOGRAMS[0]),
                           "server_mean_ttft_ms": mean_ms(SERVER_HISTOGRAMS[1]),
                           "client_cpu_pct": 100.0 * cpu / wall if wall else 0.0}
    return results


def add_wire_view(results: dict[str, dict], requests) -> None:
    """Add each tool's wire medians (its own requests, told apart by User-Agent)."""
    for name, summary in results.items():
        mine = [r for r in requests if USER_AGENT_OF[name] in r.user_agent]
        wire = summarize(mine)
        summary["wire_median_ttft_ms"] = wire["median_ttft_ms"]
        summary["wire_median_tpot_ms"] = wire["median_tpot_ms"]


def start_once(client: Client) -> None:
    if client.proc is None:
        client.start()


def run_sequential(url: str, clients: list[Client]) -> dict[str, dict]:
    """Each client alone, in the given order."""
    results: dict[str, dict] = {}
    for c in clients:
        results.update(watch(url, [c], partial(start_once, c)))
    return results


def run_side_by_side(url: str, ours: Client, theirs: Client) -> dict[str, dict]:
    """Both tools' measured runs begin at one instant; neither's start-up falls in the other's.

    Ours starts first, gated: it loads its dataset and spawns its users, prints READY_LINE
    and waits. Then theirs starts (importing vLLM takes seconds of CPU); the moment it prints
    THEIR_START_LINE, a line on ours' stdin releases ours. Starting either tool while the
    other is measuring stalls the server on 2 cores: in a trial, the median TTFT of the tool
    already running went from 43 to 117 ms while the other one started up.
    """
    ours_ready = threading.Event()

    def follow_ours(stream) -> None:
        for line in stream:
            if line.startswith(READY_LINE):
                ours_ready.set()
        ours_ready.set()  # it exited before getting ready: its exit code tells why

    def release_ours_when_theirs_begins(stream) -> None:
        for line in stream:
            if THEIR_START_LINE in line:
                break
        assert ours.proc is not None and ours.proc.stdin is not None
        with contextlib.suppress(OSError):  # ours already exited: its exit code tells why
            ours.proc.stdin.write("go\n")
            ours.proc.stdin.flush()
        for _ in stream:  # keep the pipe drained until theirs exits
            pass

    def start_due() -> None:
        if ours.proc is None:
            ours.start(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert ours.proc is not None
            threading.Thread(target=follow_ours, args=(ours.proc.stdout,), daemon=True).start()
        if theirs.proc is None and ours_ready.is_set():
            theirs.start(stdout=subprocess.PIPE, text=True)
            assert theirs.proc is not None
            threading.Thread(target=release_ours_when_theirs_begins,
                             args=(theirs.proc.stdout,), daemon=True).start()

    return watch(url, [ours, theirs], start_due)


def fidelity_ratio(key: str, ours: list[dict], theirs: list[dict], *,
                   paired: bool) -> tuple[float, list[float]]:
    """Ours/theirs for `key` over the rounds: (the ratio, each round's ratio if `paired`).

    Side by side (`paired`), each round's two figures come from one server at the same
    moments, so the ratio is taken per round and the median over rounds returned; the
    server's speed moves several-fold between rounds here, and a ratio of medians over rounds
    would compare different rounds' servers. Sequential rounds are not paired: the ratio of
    the per-tool medians over rounds.
    """
    if paired:
        per_round = [o[key] / t[key] for o, t in zip(ours, theirs, strict=True)]
        return statistics.median(per_round), per_round
    return (statistics.median(r[key] for r in ours) / statistics.median(r[key] for r in theirs),
            [])


def print_ratio(key: str, ours: list[dict], theirs: list[dict], *, paired: bool) -> None:
    """Print `ratio <name> <value>` (and `rounds <name> ...` when paired)."""
    name = key.removesuffix("_ms")
    value, per_round = fidelity_ratio(key, ours, theirs, paired=paired)
    if per_round:
        print(f"rounds {name} " + " ".join(f"{r:.3f}" for r in per_round))
    print(f"ratio {name} {value:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["side-by-side", "sequential"], default="side-by-side",
                        help="both tools at once at half the rate each (default), or one "
                             "after the other at the full rate")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds (default 4; side by side, an even number gives each tool "
                             "each of the two seeds equally often)")
    # 4 req/s of 1024-token prompts keeps the tiny model on 2 cores well short of saturation;
    # at 8 the server's TTFT and TPOT swing several-fold between rounds (bench/README.md).
    parser.add_argument("--rate", type=float, default=4.0,
                        help="total request rate in req/s (default 4)")
    parser.add_argument("--num-prompts", type=int, default=160, help="prompts per tool")
    # vLLM's defaults for its random dataset (vllm/benchmarks/datasets/datasets.py).
    parser.add_argument("--input-len", type=int, default=1024)
    parser.add_argument("--output-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0,
                        help="dataset and arrival seed; side by side the tools swap between "
                             "SEED and SEED+1 each round")
    parser.add_argument("--wire", action="store_true",
                        help="also capture the traffic (tcpdump on lo) and report TTFT and TPOT "
                             "as the network saw them, per tool (bench/wire.py)")
    args = parser.parse_args()
    if args.wire and (why := Capture.available()):
        parser.error(f"--wire: {why}")

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
         "--gpu-memory-utilization", "0.3",
         # Both tools send the same prompts: without this the later one gets cache hits.
         "--no-enable-prefix-caching"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    side_by_side = args.mode == "side-by-side"
    rate = args.rate / 2 if side_by_side else args.rate
    try:
        print(f"vLLM healthy in {wait_healthy(url, server):.1f}s; {args.mode}: "
              f"{args.num_prompts} prompts per tool, in {args.input_len} / out "
              f"{args.output_len} tokens, {rate:g} req/s Poisson per tool, seed {args.seed}",
              flush=True)
        # Warm the server (first requests compile kernels) before measuring.
        run_sequential(url, [ours_client(url, model, model_dir, argparse.Namespace(
            **{**vars(args), "num_prompts": 8}), args.rate, work / "warmup", seed=args.seed)])
        ours_all, theirs_all = [], []
        for i in range(args.rounds):
            # Side by side on one seed, each request would have its twin from the other tool
            # at the same instant; so the tools take SEED and SEED+1, swapping every round.
            ours_seed, theirs_seed = ((args.seed + i % 2, args.seed + 1 - i % 2) if side_by_side
                                      else (args.seed, args.seed))
            ours = ours_client(url, model, model_dir, args, rate, work / f"ours-{i}",
                               seed=ours_seed, gated=side_by_side)
            theirs = theirs_client(url, model, model_dir, args, rate, work / f"theirs-{i}",
                                   python, seed=theirs_seed)
            capture = Capture(work / f"round-{i}.pcap", port) if args.wire else None
            if capture:
                capture.start()
            if side_by_side:
                results = run_side_by_side(url, ours, theirs)
                how = f"side by side, seeds ours {ours_seed} theirs {theirs_seed}"
            else:  # alternate who goes first, so drift in the server's speed favours no one
                order = [ours, theirs] if i % 2 == 0 else [theirs, ours]
                results, how = run_sequential(url, order), f"{order[0].name} first"
            if capture:
                capture.stop()
                add_wire_view(results, wire_requests(capture.path, port))
            o, t = results["ours"], results["theirs"]
            ours_all.append(o)
            theirs_all.append(t)
            print(f"round {i + 1} ({how}): " + "  ".join(
                f"{k} ours {o[k]:.2f} theirs {t[k]:.2f}" for k in KEYS)
                + f"  failed ours {o['failed']} theirs {t['failed']}", flush=True)
            print("  " + "  ".join(f"{k} ours {o[k]:.2f} theirs {t[k]:.2f}"
                                   for k in DETAIL_KEYS if k in o), flush=True)
        for name, rounds in (("ours", ours_all), ("theirs", theirs_all)):
            # Each client against the server's own histograms: the client's measurement
            # error, whatever the server's speed was.
            itl = statistics.median(r["mean_itl_ms"] / r["server_mean_itl_ms"] for r in rounds)
            ttft = statistics.median(r["mean_ttft_ms"] - r["server_mean_ttft_ms"] for r in rounds)
            print(f"check {name} client/server mean ITL {itl:.3f}, "
                  f"client-server mean TTFT {ttft:+.2f} ms")
        if args.wire:
            for name, rounds in (("ours", ours_all), ("theirs", theirs_all)):
                delay = statistics.median(r["median_ttft_ms"] - r["wire_median_ttft_ms"]
                                          for r in rounds)
                print(f"wire {name} median TTFT reported - on the wire {delay:+.2f} ms")
            for key in ("wire_median_ttft_ms", "wire_median_tpot_ms"):
                print_ratio(key, ours_all, theirs_all, paired=side_by_side)
        for key in KEYS:
            print_ratio(key, ours_all, theirs_all, paired=side_by_side)
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
