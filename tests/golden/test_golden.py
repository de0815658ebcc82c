"""A fresh render of each stack must equal its snapshot in tests/golden/<stack>/.

The render changes whenever the program does; an intended change is re-recorded with
``make golden-update`` (``python -m tests.golden.update``) and reviewed in the diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.golden.update import GOLDEN_DIR, STACKS, record

MAX_DIFF_LINES = 200
MAX_LINE_CHARS = 240
"""Longer diff lines (e.g. a script embedded in a ConfigMap) are cut, so the report stays readable."""


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> text of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else f"{line[:MAX_LINE_CHARS]}… (+{len(line) - MAX_LINE_CHARS} chars)"


def describe_differences(stack: str, golden: dict[str, str], fresh: dict[str, str]) -> str:
    """A readable report: missing/extra files, then a unified diff per changed file."""
    lines = [f"the {stack} render differs from tests/golden/{stack}/:"]
    for name in sorted(golden.keys() - fresh.keys()):
        lines.append(f"  no longer rendered: {name}")
    for name in sorted(fresh.keys() - golden.keys()):
        lines.append(f"  newly rendered:     {name}")
    diff: list[str] = []
    for name in sorted(golden.keys() & fresh.keys()):
        if golden[name] != fresh[name]:
            diff.extend(
                difflib.unified_diff(
                    golden[name].splitlines(),
                    fresh[name].splitlines(),
                    fromfile=f"golden/{stack}/{name}",
                    tofile=f"rendered/{stack}/{name}",
                    lineterm="",
                )
            )
    diff = [cut(line) for line in diff]
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... {len(diff) - MAX_DIFF_LINES} more diff lines"]
    lines.extend(diff)
    lines.append("run `make golden-update` if the change is intended, then review and commit tests/golden/")
    return "\n".join(lines)


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_golden(stack, tmp_path):
    golden_dir = GOLDEN_DIR / stack
    assert golden_dir.is_dir(), f"no snapshot in {golden_dir}; run `make golden-update` to record it"
    fresh = snapshot(record(stack, root=tmp_path))
    golden = snapshot(golden_dir)
    assert {"resources.json", "preview.txt"} <= golden.keys()
    if fresh != golden:
        pytest.fail(describe_differences(stack, golden, fresh), pytrace=False)


def test_difference_report_is_readable():
    golden = {
        "resources.json": '[\n  {"name": "a", "maxNodes": 2}\n]\n',
        "manifests/000-namespace-llm.yaml": "kind: Namespace\n",
    }
    fresh = {
        "resources.json": '[\n  {"name": "a", "maxNodes": 3}\n]\n',
        "manifests/000-service-llm-vllm.yaml": "kind: Service\n",
    }
    assert describe_differences("dev", golden, fresh).splitlines() == [
        "the dev render differs from tests/golden/dev/:",
        "  no longer rendered: manifests/000-namespace-llm.yaml",
        "  newly rendered:     manifests/000-service-llm-vllm.yaml",
        "--- golden/dev/resources.json",
        "+++ rendered/dev/resources.json",
        "@@ -1,3 +1,3 @@",
        " [",
        '-  {"name": "a", "maxNodes": 2}',
        '+  {"name": "a", "maxNodes": 3}',
        " ]",
        "run `make golden-update` if the change is intended, then review and commit tests/golden/",
    ]


def test_long_diff_lines_are_cut():
    golden = {"resources.json": "x" * 1000 + "\n"}
    fresh = {"resources.json": "y" * 1000 + "\n"}
    lines = describe_differences("prod", golden, fresh).splitlines()
    assert lines[4] == "-" + "x" * (MAX_LINE_CHARS - 1) + "… (+761 chars)"
    assert lines[5] == "+" + "y" * (MAX_LINE_CHARS - 1) + "… (+761 chars)"
