"""Re-record the golden renders: ``python -m tests.golden.update [STACK ...]`` (``make golden-update``).

Renders each stack (default: dev and prod) exactly as ``gke-infer render`` does and writes
``resources.json``, ``manifests/`` and ``preview.txt`` to ``tests/golden/<stack>/``, replacing the
previous snapshot. Review the ``git diff`` of that folder before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent
STACKS = ("dev", "prod")


def record(stack: str, root: Path = GOLDEN_DIR) -> Path:
    """Render ``stack`` into ``root/<stack>`` and return that folder."""
    from stack.render import render_stack

    out_dir = root / stack
    render_stack(stack, out_dir=out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    stacks = (argv if argv is not None else sys.argv[1:]) or list(STACKS)
    for stack in stacks:
        out_dir = record(stack)
        files = sorted(p for p in out_dir.rglob("*") if p.is_file())
        shown = out_dir.relative_to(Path.cwd()) if out_dir.is_relative_to(Path.cwd()) else out_dir
        print(f"recorded {stack}: {len(files)} files -> {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
