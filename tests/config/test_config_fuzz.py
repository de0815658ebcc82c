"""Seeded fuzz of config validation (issue 20): every mutation of a committed stack file is either refused with
field paths (each ConfigError line starts with ``platform.``) or accepted; a sample of the accepted ones renders
through the mock engine without a traceback (a component's refusal there is a ConfigError too: exit 2).

Mutations: delete a key, set a leaf to a value of another type or an extreme, blank or pad a string, empty or
grow a list, add an unknown key, or set a field to another legal-looking value (zones, machines, backends, modes).
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from stack.config import ConfigError, StackConfig
from stack.render import render_config
from tests.conftest import load_raw_platform

SEED = 20
MUTATIONS = 240
RENDERED = 5

EXTREMES: list[Any] = [None, "", " ", "x y", "x" * 300, 0, -1, 10**9, 1.5, True, [], {}, ["a"], {"a": 1}]
PLAUSIBLE: dict[str, list[Any]] = {
    "zones": [["us-central1-z"], ["us-central1-f"], ["europe-west4-a"], ["us-central1-a", "us-central1-a"]],
    "machineType": ["a3-ultragpu-8g", "g2-standard-96", "a2-ultragpu-1g", "n1-standard-8", "n2-standard-8"],
    "backend": ["gcsfuse", "persistentDisk", "hyperdiskMl", "filestore", "runaiStreamer", "huggingFace"],
    "mode": ["hpa", "keda", "none", "nvmeBlock", "ephemeral", "existing"],
    "id": ["", "org/name with space", "gpt2", "Qwen/Qwen2.5-1.5B-Instruct"],
    "extraArgs": [["--max-num-seqs", "4"], ["--enforce-eager"], ["-tp", "2"]],
    "maxReplicas": [1, 12, 13, 10**6],
    "maxNodes": [1, 999, 1001, 10**5],
    "shutdownTimeoutSeconds": [5, 3000, 10**9],
    "maxModelLen": [128, 8192, 131072, 131073],
    "environment": ["dev", "prod", "staging"],
}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in ``node`` (dict keys and list indices)."""
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


def mutate(raw: dict[str, Any], rng: random.Random) -> str:
    """Apply one random mutation to ``raw`` in place; return what it did."""
    path = rng.choice(paths(raw))
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    key, value = path[-1], parent[path[-1]]
    kind = rng.choice(["delete", "extreme", "plausible", "string", "list", "unknown"])
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
        return f"delete {path}"
    if kind == "plausible" and key in PLAUSIBLE:
        parent[key] = copy.deepcopy(rng.choice(PLAUSIBLE[key]))
    elif kind == "string" and isinstance(value, str):
        parent[key] = rng.choice([value + " ", " " + value, value.upper(), value[: len(value) // 2], ""])
    elif kind == "list" and isinstance(value, list):
        parent[key] = rng.choice([[], value + value, value[:1]])
    elif kind == "unknown" and isinstance(value, dict):
        value["notAField"] = 1
    else:
        parent[key] = copy.deepcopy(rng.choice(EXTREMES))
    return f"{kind} {path} = {parent.get(key) if isinstance(parent, dict) else parent[key]!r}"


def fuzz() -> tuple[list[tuple[str, StackConfig]], list[str], list[str]]:
    """(accepted (stack, config)), refusal lines, and failures (anything not a field-path refusal)."""
    rng = random.Random(SEED)
    accepted: list[tuple[str, StackConfig]] = []
    refusals: list[str] = []
    failures: list[str] = []
    for _ in range(MUTATIONS):
        stack = rng.choice(["dev", "prod"])
        raw = load_raw_platform(stack)
        what = mutate(raw, rng)
        try:
            accepted.append((stack, StackConfig.parse(raw, stack)))
        except ConfigError as err:
            refusals += err.lines
            failures += [f"{stack}: {what}: {line}" for line in err.lines if not line.startswith("platform.")]
        except Exception as err:  # the finding: any exception that is not a refusal
            failures.append(f"{stack}: {what}: {type(err).__name__}: {err}")
    return accepted, refusals, failures


@pytest.fixture(scope="module")
def outcome() -> tuple[list[tuple[str, StackConfig]], list[str], list[str]]:
    return fuzz()


def test_every_mutation_is_refused_with_a_field_path_or_accepted(outcome):
    accepted, refusals, failures = outcome
    assert failures == []
    assert len(refusals) >= MUTATIONS // 2  # most mutations break something: the fuzz reaches the rules
    assert len(accepted) >= RENDERED


def test_the_fuzz_is_seeded():
    first, second = fuzz(), fuzz()
    assert [line for line in first[1]] == [line for line in second[1]]


def test_a_sample_of_accepted_mutations_renders(outcome):
    accepted, _, _ = outcome
    sample = random.Random(SEED).sample(accepted, RENDERED)
    rendered = 0
    for stack, config in sample:
        try:
            result = render_config(config, stack)
        except ConfigError as err:  # a component's refusal: exit 2 naming the component and argument
            assert all("'" in line and ":" in line for line in err.lines), err.lines
            continue
        assert result.resources
        rendered += 1
    assert rendered >= 1
