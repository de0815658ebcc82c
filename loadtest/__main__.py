"""``python -m loadtest --url URL --model NAME ...``: the harness without the rest of gke-infer
(the in-cluster Job runs it this way from a ConfigMap)."""

from __future__ import annotations

import argparse
import sys

from loadtest.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["loadtest", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
