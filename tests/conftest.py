"""Shared fixtures: the raw platform objects of the committed stack files.

Tests start from a known-valid config and change one thing, so each failure they assert has
exactly one cause.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.config import CONFIG_KEY, CONFIG_NAMESPACE

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_raw_platform(stack: str) -> dict[str, Any]:
    """The ``gke-inference:platform`` object of ``Pulumi.<stack>.yaml``, as plain YAML data."""
    document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(document["config"][f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"])


@pytest.fixture
def dev_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the dev stack's platform object."""
    return load_raw_platform("dev")


@pytest.fixture
def prod_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the prod stack's platform object."""
    return load_raw_platform("prod")
