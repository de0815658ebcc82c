"""`gke-infer loadtest --url URL --model NAME ...`: locust, headless, against an OpenAI server.

Writes `OUT/report.json` (p50/p90/p99 TTFT, TPOT, ITL, E2E latency; request and token
throughput; errors; goodput against `--slo`), `OUT/requests.jsonl` and PNG plots.
Metric definitions are `vllm bench serve`'s (loadtest/metrics.py). SIGTERM/Ctrl-C stops
sending, lets requests in flight finish, and still writes the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `loadtest` to the `gke-infer` command line."""
    p = subparsers.add_parser(
        "loadtest", help="locust load test of an OpenAI-compatible streaming server",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--model", required=True, help="served model name")
    p.add_argument("--api-key-env", default="VLLM_API_KEY", metavar="VAR",
                   help="environment variable holding the API key, sent as Bearer if set "
                   "(default VLLM_API_KEY; never written to the report)")
    p.add_argument("--endpoint", choices=["completions", "chat"], default="completions",
                   help="/v1/completions or /v1/chat/completions (default completions)")
    p.add_argument("--dataset", choices=["random", "conversations"], default="random",
                   help="random token prompts (vLLM's random dataset) or the bundled chats")
    p.add_argument("--dataset-path", type=Path, default=None,
                   help="JSONL of {messages, output_len} for --dataset conversations")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="tokenizer directory (tokenizer.json); required for --dataset random")
    p.add_argument("--num-prompts", type=int, default=100, help="requests to send (default 100)")
    p.add_argument("--input-len", type=int, default=128, help="random: prompt tokens (default 128)")
    p.add_argument("--output-len", type=int, default=None,
                   help="output tokens (random default 64; conversations: per line unless set)")
    p.add_argument("--range-ratio", type=float, default=0.0,
                   help="random: lengths vary by +/- this fraction (default 0)")
    p.add_argument("--no-ignore-eos", action="store_true",
                   help="let the model stop at EOS (default: ignore_eos, exact output lengths)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--users", type=int, default=None,
                      help="closed loop: N concurrent users, each sending back to back")
    mode.add_argument("--request-rate", type=float, default=None,
                      help="open loop: mean arrivals per second (Poisson with --burstiness 1)")
    p.add_argument("--burstiness", type=float, default=1.0,
                   help="open loop: gamma shape of inter-arrivals (1 = Poisson)")
    p.add_argument("--max-concurrency", type=int, default=None,
                   help="open loop: cap on requests in flight (default: number of prompts, "
                   "at most 512)")
    p.add_argument("--duration", type=float, default=None,
                   help="closed loop: stop sending after this many seconds")
    p.add_argument("--seed", type=int, default=0, help="dataset and arrival seed (default 0)")
    p.add_argument("--percentiles", default="50,90,99", help="percentiles (default 50,90,99)")
    p.add_argument("--slo", action="append", default=[], metavar="METRIC:MS",
                   help="goodput SLO, repeatable: ttft:500 tpot:50 e2el:2000")
    p.add_argument("--request-timeout", type=float, default=600.0,
                   help="per-request network timeout in seconds (default 600)")
    p.add_argument("--out", type=Path, default=Path("out/loadtest"),
                   help="output directory (default out/loadtest)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--start-on-stdin", action="store_true",
                   help="load the dataset and spawn the users, print a line starting with "
                   f"'{READY_LINE}' and wait for a line on stdin before the first request: "
                   "lets a coordinator start several load generators at one instant")
    p.set_defaults(func=run)


READY_LINE = "ready:"


class StartAborted(RuntimeError):
    """stdin closed before the start line: the coordinator is gone, so nothing is sent."""


def wait_for_start() -> None:
    """Tell the coordinator everything is loaded, then block until it writes a line."""
    print(f"{READY_LINE} waiting for a line on stdin to start", flush=True)
    if not sys.stdin.readline():
        raise StartAborted("--start-on-stdin: stdin closed before a start line; nothing sent")


class UsageError(ValueError):
    """A bad command-line value; the message names the flag."""


def parse_slos(items: list[str]) -> dict[str, float]:
    """`["ttft:500", "tpot:50"]` -> {"ttft": 500.0, "tpot": 50.0} (milliseconds)."""
    slos: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition(":")
        if name not in ("ttft", "tpot", "e2el") or not value:
            raise UsageError(f"--slo {item!r}: expected ttft:MS, tpot:MS or e2el:MS")
        try:
            slos[name] = float(value)
        except ValueError:
            raise UsageError(f"--slo {item!r}: {value!r} is not a number of milliseconds") from None
        if slos[name] <= 0:
            raise UsageError(f"--slo {item!r}: must be > 0 ms")
    return slos


def parse_percentiles(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--percentiles {text!r}: expected numbers like 50,90,99") from None
    if not values or any(not 0 < v <= 100 for v in values):
        raise UsageError(f"--percentiles {text!r}: each must be in (0, 100]")
    return values


def load_requests(args: argparse.Namespace):
    from loadtest.datasets import HFTokenizer, conversation_dataset, random_dataset

    if args.num_prompts < 1:
        raise UsageError("--num-prompts must be >= 1")
    tokenizer = HFTokenizer(args.tokenizer) if args.tokenizer else None
    if args.dataset == "random":
        if tokenizer is None:
            raise UsageError("--dataset random needs --tokenizer DIR (the served model's tokenizer)")
        return random_dataset(tokenizer, args.num_prompts, args.input_len,
                              args.output_len or 64, range_ratio=args.range_ratio, seed=args.seed)
    kwargs = {"path": args.dataset_path} if args.dataset_path else {}
    return conversation_dataset(args.num_prompts, output_len=args.output_len, seed=args.seed,
                                tokenizer=tokenizer, **kwargs)


def run(args: argparse.Namespace) -> int:
    try:
        slos = parse_slos(args.slo)
        percentiles = parse_percentiles(args.percentiles)
        requests = load_requests(args)
        if args.users is not None and args.users < 1:
            raise UsageError("--users must be >= 1")
        if args.max_concurrency is not None and args.max_concurrency < 1:
            raise UsageError("--max-concurrency must be >= 1")
    except (UsageError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # Imported only now: locust monkey-patches the process for gevent.
    import signal

    import gevent

    from loadtest.locustfile import Plan, run_plan
    from loadtest.progress import Progress
    from loadtest.report import write_report

    open_loop = args.request_rate is not None
    users = (args.max_concurrency or min(len(requests), 512)) if open_loop else (args.users or 1)
    plan = Plan(requests=requests, endpoint=args.endpoint, model=args.model,
                api_key=os.environ.get(args.api_key_env) or None,
                ignore_eos=not args.no_ignore_eos, request_rate=args.request_rate,
                burstiness=args.burstiness, seed=args.seed, duration_limit=args.duration,
                request_timeout=args.request_timeout)
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, plan.stop_dispatch)
    mode = (f"open loop {args.request_rate:g} req/s (burstiness {args.burstiness:g}, "
            f"max concurrency {users})" if open_loop else f"closed loop, {users} users")
    progress = Progress(total=len(requests), quiet=args.quiet, title=f"{args.url} {mode}")
    try:
        with progress:
            duration = run_plan(plan, args.url, users, on_tick=progress.update,
                                before_begin=wait_for_start if args.start_on_stdin else None)
    except StartAborted as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    config = {
        "url": args.url, "model": args.model, "endpoint": args.endpoint,
        "dataset": args.dataset, "num_prompts": len(requests), "input_len": args.input_len,
        "output_len": args.output_len, "range_ratio": args.range_ratio,
        "ignore_eos": not args.no_ignore_eos, "mode": "open" if open_loop else "closed",
        "users": users, "request_rate": args.request_rate, "burstiness": args.burstiness,
        "seed": args.seed, "percentiles": percentiles, "started_at": plan.started_at,
        "stopped_early": len(plan.records) < len(requests),
    }
    report = write_report(args.out, plan.records, duration, config, percentiles=percentiles,
                          slos_ms=slos, plots=not args.no_plots)
    print_summary(report, args.out)
    return 0 if report["summary"]["failed"] == 0 else 1


def print_summary(report: dict, out: Path) -> None:
    s = report["summary"]
    print(f"{s['completed']} ok, {s['failed']} failed in {s['duration']:.2f}s: "
          f"{s['request_throughput']:.2f} req/s, {s['output_throughput']:.1f} output tok/s")
    for name in ("ttft", "tpot", "itl", "e2el"):
        pcts = " ".join(f"{k.split('_')[0]} {v:.1f}" for k, v in s.items()
                        if k.startswith("p") and k.endswith(f"_{name}_ms"))
        print(f"  {name.upper():5} ms: mean {s[f'mean_{name}_ms']:.1f} "
              f"median {s[f'median_{name}_ms']:.1f} {pcts}")
    if s["request_goodput"] is not None:
        print(f"  goodput {s['request_goodput']:.2f} req/s against {report['slos_ms']}")
    if report["connection_retries"]:
        print(f"  {report['connection_retries']} requests resent on a fresh connection (a reused "
              "one closed before any response byte)")
    for error, count in report["errors"].items():
        print(f"  error x{count}: {error}")
    print(f"wrote {', '.join(str(out / f) for f in report['files'])}")
