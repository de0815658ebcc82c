"""Trimmed Google API discovery documents (see ``extract.py`` and each file's ``provenance``).

Tests read them to check that every enum value and pattern the components accept is one Google's
API accepts; nothing at deploy time depends on them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def document(name: str) -> dict[str, Any]:
    """A vendored document by name, e.g. ``container.v1``."""
    loaded: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return loaded


def field(name: str, path: str) -> dict[str, Any]:
    """A schema property, e.g. ``field("container.v1", "ReleaseChannel.channel")``."""
    schema, prop = path.split(".", 1)
    found: dict[str, Any] = document(name)["schemas"][schema][prop]
    return found


def enum(name: str, path: str) -> set[str]:
    """The enum of a string property, or of the items of a repeated one."""
    spec = field(name, path)
    return set(spec.get("enum") or spec["items"]["enum"])
