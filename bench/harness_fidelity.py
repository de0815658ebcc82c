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

`--grid` runs a grid of cells instead (bench/grid.py), side by side, `--rounds` (default 3)
each: per shape (`--cell INxOUT@RATES`, default 128/32 and 1024/128) it warms the server,
measures its closed-loop capacity (our harness alone, 32 users) when a rate is given as a
fraction of it (`0.2x`: light, `0.6x`, `1.5x`: saturating), then runs each rate. Per cell:
each metric's median per-round ratio and its spread (lowest-highest), both tools' figures,
failed requests, the load average before and after. Cells are merged into
`bench/results/grid.json` (a re-run replaces a cell and keeps the earlier run under it) and
the table of all cells is printed (the one in bench/README.md).
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

from bench.grid import (  # noqa: E402
    KEYS,
    GridSpecError,
    RateSpec,
    Shape,
    cell_key,
    fidelity_ratio,
    grid_table,
    load_results,
    merge_cell,
    off_target,
    parse_cell_spec,
    prompts_per_tool,
    save_results,
    summarize_cell,
    wire_table,
)
from bench.wire import Capture, summarize, wire_requests  # noqa: E402
from loadtest.cli import READY_LINE  # noqa: E402
from stack.local.serve import free_port  # noqa: E402
from stack.local.serve_env import ensure_serve_env  # noqa: E402
from stack.local.tiny_model import make_tiny_model  # noqa: E402
from stack.local.vllm_cli import vllm_command  # noqa: E402

# The probe scripts import each other as siblings (they run from one ConfigMap directory).
sys.path.insert(0, str(REPO / "workloads" / "probes"))
from engine_liveness import parse_metrics  # noqa: E402

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
                seed: int, gated: bool = False, load: list[str] | None = None) -> Client:
    """`gke-infer loadtest`; `gated`: it loads, says READY_LINE and waits for a stdin line;
    `load`: other load flags instead of `--request-rate RATE` (e.g. a closed loop)."""
    cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "stack.cli", "loadtest", "--url", url,
           "--model", model, "--tokenizer", str(model_dir), "--dataset", "random",
           "--num-prompts", str(args.num_prompts), "--input-len", str(args.input_len),
           "--output-len", str(args.output_len), *(load or ["--request-rate", str(rate)]),
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
    out.mkdir(parents=True, exist_ok=True)
    # Its progress bar and triton's exit-time noise go to a file, not the bench's output.
    stderr = open(out / "stderr.log", "wb")  # noqa: SIM115 - the child writes to it until exit
    return Client("theirs", cmd, lambda: json.loads((out / "theirs.json").read_text()),
                  popen={"env": env, "stdout": subprocess.DEVNULL, "stderr": stderr})


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


def print_ratio(key: str, ours: list[dict], theirs: list[dict], *, paired: bool) -> None:
    """Print `ratio <name> <value>` (and `rounds <name> ...` when paired)."""
    name = key.removesuffix("_ms")
    value, per_round = fidelity_ratio(key, ours, theirs, paired=paired)
    if per_round:
        print(f"rounds {name} " + " ".join(f"{r:.3f}" for r in per_round))
    print(f"ratio {name} {value:.3f}")


@dataclass
class Bench:
    """The running server and what every round needs."""

    url: str
    port: int
    model: str
    model_dir: Path
    python: Path
    work: Path


@contextlib.contextmanager
def vllm_server():
    """Start the bench's vLLM server (tiny model, prefix caching off); stop it on exit."""
    python = ensure_serve_env()
    work = Path(tempfile.mkdtemp(prefix="harness-fidelity-"))
    model_dir = make_tiny_model(work / "model", python=python)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    log = open(work / "vllm.log", "wb")  # noqa: SIM115 - the server writes to it until stopped
    server = subprocess.Popen(
        [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
         "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
         "--gpu-memory-utilization", "0.3",
         # Both tools send the same prompts: without this the later one gets cache hits.
         "--no-enable-prefix-caching"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        print(f"vLLM healthy in {wait_healthy(url, server):.1f}s (work dir {work})", flush=True)
        yield Bench(url, port, "tiny", model_dir, python, work)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def warm_up(bench: Bench, args: argparse.Namespace) -> None:
    """The first requests compile kernels: send a few before measuring anything."""
    warm = argparse.Namespace(**{**vars(args), "num_prompts": 8})
    run_sequential(bench.url, [ours_client(bench.url, bench.model, bench.model_dir, warm, 4.0,
                                           bench.work / f"warmup-{args.input_len}", seed=0)])


def run_round(bench: Bench, args: argparse.Namespace, total_rate: float, i: int, tag: str, *,
              side_by_side: bool = True, wire: bool = False) -> tuple[dict, dict, str]:
    """One round of both tools (`args`: num_prompts, input_len, output_len, seed).

    Side by side each tool sends at half `total_rate`; the tools swap seeds SEED and SEED+1
    every round (on one seed each request would have its twin from the other tool at the same
    instant). Returns ours' and theirs' figures and how the round ran.
    """
    rate = total_rate / 2 if side_by_side else total_rate
    ours_seed, theirs_seed = ((args.seed + i % 2, args.seed + 1 - i % 2) if side_by_side
                              else (args.seed, args.seed))
    work = bench.work / tag
    ours = ours_client(bench.url, bench.model, bench.model_dir, args, rate, work / f"ours-{i}",
                       seed=ours_seed, gated=side_by_side)
    theirs = theirs_client(bench.url, bench.model, bench.model_dir, args, rate,
                           work / f"theirs-{i}", bench.python, seed=theirs_seed)
    capture = Capture(work / f"round-{i}.pcap", bench.port) if wire else None
    if capture:
        capture.start()
    if side_by_side:
        results = run_side_by_side(bench.url, ours, theirs)
        how = f"side by side, seeds ours {ours_seed} theirs {theirs_seed}"
    else:  # alternate who goes first, so drift in the server's speed favours no one
        order = [ours, theirs] if i % 2 == 0 else [theirs, ours]
        results, how = run_sequential(bench.url, order), f"{order[0].name} first"
    if capture:
        capture.stop()
        add_wire_view(results, wire_requests(capture.path, bench.port))
    o, t = results["ours"], results["theirs"]
    retries = json.loads((work / f"ours-{i}" / "report.json").read_text())["connection_retries"]
    o["connection_retries"] = retries
    print(f"round {i + 1} ({how}): " + "  ".join(
        f"{k} ours {o[k]:.2f} theirs {t[k]:.2f}" for k in KEYS)
        + f"  failed ours {o['failed']} theirs {t['failed']}  retries ours {retries}", flush=True)
    print("  " + "  ".join(f"{k} ours {o[k]:.2f} theirs {t[k]:.2f}"
                           for k in DETAIL_KEYS if k in o), flush=True)
    return o, t, how


def print_checks(ours_all: list[dict], theirs_all: list[dict], *, wire: bool,
                 paired: bool) -> None:
    for name, rounds in (("ours", ours_all), ("theirs", theirs_all)):
        # Each client against the server's own histograms: the client's measurement
        # error, whatever the server's speed was.
        itl = statistics.median(r["mean_itl_ms"] / r["server_mean_itl_ms"] for r in rounds)
        ttft = statistics.median(r["mean_ttft_ms"] - r["server_mean_ttft_ms"] for r in rounds)
        print(f"check {name} client/server mean ITL {itl:.3f}, "
              f"client-server mean TTFT {ttft:+.2f} ms")
    if wire:
        for name, rounds in (("ours", ours_all), ("theirs", theirs_all)):
            delay = statistics.median(r["median_ttft_ms"] - r["wire_median_ttft_ms"]
                                      for r in rounds)
            print(f"wire {name} median TTFT reported - on the wire {delay:+.2f} ms")
        for key in ("wire_median_ttft_ms", "wire_median_tpot_ms"):
            print_ratio(key, ours_all, theirs_all, paired=paired)
    for key in KEYS:
        print_ratio(key, ours_all, theirs_all, paired=paired)


def capacity(bench: Bench, args: argparse.Namespace, shape: Shape, *, users: int,
             seconds: float) -> float:
    """Closed-loop request throughput of the server for `shape` with `users` back to back
    (our harness alone): the scale for rates given as a fraction of capacity."""
    # Enough prompts for the duration at any capacity seen here (47 req/s at 128/32), few
    # enough to build quickly: the random dataset costs seconds of CPU per thousand 1024-token
    # prompts (100 000 kept the 1024/128 probe building its dataset for over 5 minutes).
    probe = argparse.Namespace(**{**vars(args), "num_prompts": max(64, users * 30),
                                  "input_len": shape.input_len, "output_len": shape.output_len})
    out = bench.work / f"capacity-{shape.input_len}x{shape.output_len}"
    client = ours_client(bench.url, bench.model, bench.model_dir, probe, 0.0, out, seed=args.seed,
                         load=["--users", str(users), "--duration", str(seconds)])
    summary = run_sequential(bench.url, [client])["ours"]
    print(f"capacity {shape.label}: {summary['request_throughput']:.2f} req/s "
          f"({summary['output_throughput']:.0f} output tok/s) closed loop, {users} users",
          flush=True)
    return float(summary["request_throughput"])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_grid(bench: Bench, args: argparse.Namespace,
             specs: list[tuple[Shape, list[RateSpec]]]) -> dict:
    """Every cell of `specs` for `args.rounds` rounds, merged into `args.results` (JSON)."""
    results = load_results(args.results)
    results.setdefault("runs", []).append({"uptime_start": uptime(), "cells": []})
    for shape, rates in specs:
        warm_up(bench, argparse.Namespace(**{**vars(args), "input_len": shape.input_len,
                                             "output_len": shape.output_len}))
        cap = None
        if any(r.of_capacity for r in rates):
            cap = capacity(bench, args, shape, users=args.capacity_users,
                           seconds=args.capacity_seconds)
            results.setdefault("capacity", {})[shape.label] = {
                "req_s": cap, "users": args.capacity_users, "uptime": uptime()}
        for spec in rates:
            rate = spec.resolve(cap)
            cell_args = argparse.Namespace(**{
                **vars(args), "input_len": shape.input_len, "output_len": shape.output_len,
                "num_prompts": prompts_per_tool(rate, args.round_seconds)})
            print(f"cell {shape.label} at {rate:g} req/s ({cell_args.num_prompts} prompts per "
                  f"tool, {args.rounds} rounds; {uptime()})", flush=True)
            load_before = os.getloadavg()[0]
            ours_all, theirs_all = [], []
            for i in range(args.rounds):
                o, t, _ = run_round(bench, cell_args, rate, i, cell_key(shape.label, rate)
                                    .replace("/", "x"), wire=args.wire)
                ours_all.append(o)
                theirs_all.append(t)
            cell = {"shape": shape.label, "rate": rate, "num_prompts": cell_args.num_prompts,
                    "rate_spec": f"{spec.value:g}{'x' if spec.of_capacity else ''}",
                    **summarize_cell(ours_all, theirs_all),
                    "load_before": load_before, "load_after": os.getloadavg()[0],
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "connection_retries": sum(o["connection_retries"] for o in ours_all),
                    "rounds_ours": ours_all, "rounds_theirs": theirs_all}
            print_checks(ours_all, theirs_all, wire=args.wire, paired=True)
            off = off_target(cell)
            print(f"cell {cell_key(shape.label, rate)}: "
                  + ("within 0.9-1.1" if not off else "OFF TARGET: " + ", ".join(off)), flush=True)
            merge_cell(results, cell)
            results["runs"][-1]["cells"].append(cell_key(shape.label, rate))
            save_results(args.results, results)  # after every cell: a crash keeps what ran
    results["runs"][-1]["uptime_end"] = uptime()
    save_results(args.results, results)
    return results


DEFAULT_CELLS = ("128x32@0.2x,0.6x,1.5x", "1024x128@0.2x,0.6x,1.5x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["side-by-side", "sequential"], default="side-by-side",
                        help="both tools at once at half the rate each (default), or one "
                             "after the other at the full rate (not with --grid)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds (default 4, grid 3; side by side, an even number gives "
                             "each tool each of the two seeds equally often)")
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
    grid = parser.add_argument_group("grid (--grid)")
    grid.add_argument("--grid", action="store_true",
                      help="run the cells of --cell side by side, --rounds each, and print "
                           "and store the table (bench/grid.py)")
    grid.add_argument("--cell", action="append", default=None, metavar="INxOUT@RATES",
                      help="a shape and its total rates, repeatable; a rate ending in x is a "
                           "fraction of the shape's closed-loop capacity measured first "
                           f"(default {' '.join(DEFAULT_CELLS)})")
    grid.add_argument("--round-seconds", type=float, default=15.0,
                      help="a round's arrival schedule length; sets prompts per tool (16-400)")
    grid.add_argument("--capacity-users", type=int, default=32,
                      help="closed-loop users for the capacity probe (default 32)")
    grid.add_argument("--capacity-seconds", type=float, default=15.0)
    grid.add_argument("--table", action="store_true",
                      help="only print the table of the cells in --results (runs nothing)")
    grid.add_argument("--results", type=Path, default=REPO / "bench" / "results" / "grid.json",
                      help="JSON the cells are merged into (a re-run cell replaces its entry, "
                           "the earlier one is kept under it)")
    args = parser.parse_args()
    if args.table:
        print(grid_table(load_results(args.results)))
        print()
        print(wire_table(load_results(args.results)))
        return 0
    if args.wire and (why := Capture.available()):
        parser.error(f"--wire: {why}")
    if args.grid and args.mode != "side-by-side":
        parser.error("--grid runs side by side only (paired per-round ratios)")
    try:
        specs = [parse_cell_spec(c) for c in (args.cell or DEFAULT_CELLS)] if args.grid else []
    except GridSpecError as err:
        parser.error(str(err))
    args.rounds = args.rounds or (3 if args.grid else 4)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")

    with vllm_server() as bench:
        if args.grid:
            print(grid_table(run_grid(bench, args, specs)))
            return 0
        side_by_side = args.mode == "side-by-side"
        print(f"{args.mode}: {args.num_prompts} prompts per tool, in {args.input_len} / out "
              f"{args.output_len} tokens, {args.rate:g} req/s Poisson in total, seed "
              f"{args.seed}", flush=True)
        warm_up(bench, args)
        ours_all, theirs_all = [], []
        for i in range(args.rounds):
            o, t, _ = run_round(bench, args, args.rate, i, "rounds", side_by_side=side_by_side,
                                wire=args.wire)
            ours_all.append(o)
            theirs_all.append(t)
        print_checks(ours_all, theirs_all, wire=args.wire, paired=side_by_side)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
