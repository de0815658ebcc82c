"""`gke-infer tiny-model DIR` and `gke-infer serve-local STACK [--set ...]`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `tiny-model` and `serve-local` to the `gke-infer` command line."""
    register_tiny_model(subparsers)
    register_serve_local(subparsers)


def register_tiny_model(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tiny-model", help="write a tiny deterministic Llama + tokenizer for local vLLM",
        description="Write a tiny Llama (random weights, fixed seed, head_dim 64) with a byte-level "
        "BPE tokenizer and chat template into DIR. Builds .venv-serve first if missing.")
    parser.add_argument("dir", metavar="DIR", type=Path, help="output directory")
    parser.set_defaults(func=run_tiny_model)


def register_serve_local(subparsers: argparse._SubParsersAction) -> None:
    from stack.cli import add_stack_arguments

    parser = subparsers.add_parser(
        "serve-local", help="run the stack's rendered vLLM container for real on CPU",
        description="Render STACK, take its vLLM container (args, env, probes, preStop, grace "
        "period), adapt GPU-only settings to the CPU build with a tiny model (printing each "
        "change), serve on 127.0.0.1, run the probes like the kubelet, drain on Ctrl-C/SIGTERM.")
    add_stack_arguments(parser)
    parser.add_argument("--port", type=int, default=8000,
                        help="local port of the first model (default 8000); each further model takes the next")
    parser.add_argument("--model", default=None,
                        help="serve only this model (its serving.name, e.g. vllm or a `models` key); default: all")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="model directory to serve (default: the tiny model, made once "
                        "under ~/.cache/gke-inference)")
    parser.add_argument("--manifests", type=Path, default=None,
                        help="use these already-rendered manifests (a directory of YAML) "
                        "instead of rendering STACK")
    parser.set_defaults(func=run_serve_local)


def _say(name: str) -> Callable[[str], None]:
    """Print a server's own messages under its name."""
    return lambda message: print(f"  [{name}] {message}")


def run_tiny_model(args: argparse.Namespace) -> int:
    from stack.local.tiny_model import make_tiny_model

    out = make_tiny_model(args.dir)
    print(f"tiny model written to {out}")
    return 0


def run_serve_local(args: argparse.Namespace) -> int:
    from stack.local.serve import LocalServer, describe, main_loop
    from stack.local.spec import SpecError, find_all_in_dir, find_in_dir

    if args.manifests is not None:
        manifests = args.manifests
    else:
        from stack.cli.render import print_config_errors
        from stack.config import ConfigError
        from stack.render import render_stack

        out_dir = Path(tempfile.mkdtemp(prefix=f"serve-local-{args.stack}-"))
        try:
            render_stack(args.stack, overrides=args.overrides, out_dir=out_dir)
        except ConfigError as err:
            return print_config_errors(err)
        manifests = out_dir / "manifests"
    try:
        specs = [find_in_dir(manifests, args.model)] if args.model else find_all_in_dir(manifests)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.model_dir is None:
        from stack.local.tiny_model import cached_tiny_model

        model_dir = cached_tiny_model()
    else:
        model_dir = args.model_dir
    servers = []
    for index, spec in enumerate(specs):
        print(f"serving container {spec.kind}/{spec.name}: {spec.container.get('image', '?')}")
        server = LocalServer(spec, model_dir, port=args.port + index, say=_say(spec.name))
        for line in describe(server):
            print(line)
        servers.append(server)
    return main_loop(servers)
