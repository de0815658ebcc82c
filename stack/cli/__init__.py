"""``gke-infer``: the command line (design.md §4). ``python -m stack.cli`` works too.

Each command lives in its own module exposing ``register(subparsers)``; the subparser sets
``func(args) -> int``. Exit codes: 0 ok, 1 a validation/test failure, 2 bad configuration or input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = [
    "stack.cli.render",
    "stack.cli.plan",
    "stack.checks.validate",
    "stack.cli.rehearse",
    "stack.cli.local", "loadtest.cli",
]
"""Modules providing a ``register(subparsers)`` function, in the order shown by ``--help``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gke-infer", description="Render, validate, estimate and exercise the gke-inference stacks offline."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The STACK positional and repeatable ``--set PATH=VALUE`` shared by stack commands."""
    parser.add_argument("stack", metavar="STACK", help="stack name: reads Pulumi.STACK.yaml (e.g. dev, prod)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a config field by its path (dots, [i] for list items); VALUE is YAML",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
