"""ruff on the guard-rail code (policy pack, validate, images, their tests); `make lint` covers the whole repo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = ["policy", "stack/checks", "stack/validate.py", "images", "tests/policy", "tests/validate"]


def test_ruff_is_clean_on_the_guard_rails():
    ruff = Path(sys.executable).parent / "ruff"
    proc = subprocess.run([str(ruff), "check", "--output-format", "concise", *PATHS], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
