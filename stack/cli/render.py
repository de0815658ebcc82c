"""``gke-infer render STACK [--out DIR] [--set PATH=VALUE ...]``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from stack.cli import add_stack_arguments
from stack.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="render a stack offline through Pulumi's mock engine", description=__doc__
    )
    add_stack_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default out/STACK)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")
    parser.set_defaults(func=run)


def print_config_errors(err: ConfigError) -> int:
    """Print one line per configuration error to stderr; return exit code 2."""
    for line in err.lines:
        print(f"error: {line}", file=sys.stderr)
    print("nothing was rendered; fix the fields above in Pulumi.<stack>.yaml or the --set values", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from stack.render import preview_tree, render_stack

    out_dir = args.out or Path("out") / args.stack
    try:
        result = render_stack(args.stack, args.overrides, out_dir)
    except ConfigError as err:
        return print_config_errors(err)
    for warning in result.config.warnings() if result.config else []:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(preview_tree(result.stack, result.resources, result.outputs), end="")
    kinds = Counter(m["kind"] for m in result.manifests)
    print(
        f"rendered {args.stack}: {len(result.resources)} resources, {len(result.manifests)} Kubernetes manifests"
        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if kinds else "")
        + f" -> {out_dir}/resources.json, {out_dir}/manifests/, {out_dir}/preview.txt"
    )
    return 0
