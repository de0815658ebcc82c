"""The deployed program does not import the offline planner or simulator: a change to prices, the cost
estimate or the simulator cannot change what ``pulumi up`` does (issue 17, structure-review §3 problem 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT

PLANNER = ("stack.plan", "stack.cli")
"""The planner (``gke-infer estimate`` / ``simulate``) and the commands; the program may use ``stack.cold_start``
and ``stack.decisions``, which both import."""
PROGRAM_FILES = sorted((REPO_ROOT / "stack" / "program").glob("*.py"))


def test_importing_the_program_loads_no_planner_module():
    """Walks the real import graph: a fresh interpreter imports ``stack.program`` (what ``__main__.py`` runs)."""
    code = "import json, sys; import stack.program; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert "stack.decisions" in loaded and "stack.cold_start" in loaded
    assert [m for m in loaded if m.startswith(PLANNER)] == []


def test_program_files_name_no_planner_module():
    """The plain grep the issue asks for: no program file mentions the planner modules at all."""
    pattern = re.compile(r"stack\.plan\b|from stack\.plan|stack\.estimate|stack\.simulate")
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for path in PROGRAM_FILES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert len(PROGRAM_FILES) >= 5
    assert hits == []
