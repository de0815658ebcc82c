"""``gke-infer rehearse DIR``: the deploy rehearsal on a render already written to DIR.

``gke-infer validate STACK`` runs the same check on the render it makes; this command checks a
render directory as it is (e.g. one a CI job produced, or one edited to plant a defect).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rehearse",
        help="prove a rendered stack deployable: every reference made or looked up, every resource after what it needs",
        description=__doc__,
    )
    parser.add_argument("render_dir", metavar="DIR", type=Path, help="a render directory (holds resources.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stack.checks.rehearsal import rehearse_render_dir

    if not (args.render_dir / "resources.json").is_file():
        print(f"error: {args.render_dir}/resources.json not found; run `gke-infer render STACK --out DIR`",
              file=sys.stderr)
        return 2
    violations = rehearse_render_dir(args.render_dir)
    for violation in violations:
        print(f"  {violation}")
    print(f"rehearse {args.render_dir}: {'PASS' if not violations else 'FAIL'}: {len(violations)} violations")
    return 1 if violations else 0
