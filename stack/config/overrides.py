"""``--set PATH=VALUE`` overrides on the raw config object, before validation.

Paths use the config's own (camelCase) keys, dots for nesting and ``[i]`` for list items:
``gpuPools.l4-spot.autoscaling.maxNodes=4``, ``cluster.masterAuthorizedNetworks[0].cidr=10.0.0.0/8``.
Values are parsed as YAML (``true``, ``3``, ``[a, b]``, ``{k: v}``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from stack.config import CONFIG_KEY, ConfigError

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """Split ``a.b[2].c`` into ``["a", "b", 2, "c"]``."""
    parts: list[str | int] = []
    position = 0
    for match in _SEGMENT.finditer(path):
        gap = path[position : match.start()]
        if gap not in ("", "."):
            raise ValueError(f"unexpected {gap!r} in path {path!r}")
        parts.append(int(match.group(2)) if match.group(2) is not None else match.group(1))
        position = match.end()
    if not parts or position != len(path):
        raise ValueError(f"path {path!r} is not of the form a.b[0].c")
    return parts


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``PATH=VALUE`` applied (ConfigError naming the path on error)."""
    result = copy.deepcopy(raw)
    errors = []
    for override in overrides:
        path, sep, text = override.partition("=")
        if not sep or not path:
            errors.append(f"--set {override!r}: expected PATH=VALUE, e.g. gpuPools.l4.spot=false")
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            errors.append(
                f"{CONFIG_KEY}.{path}: value {text!r} is not valid YAML; quote a string, e.g. --set '{path}=\"...\"'"
            )
            continue
        try:
            _set(result, parse_path(path), value)
        except (ValueError, KeyError, IndexError, TypeError) as err:
            errors.append(f"{CONFIG_KEY}.{path}: cannot set ({err})")
    if errors:
        raise ConfigError(errors)
    return result


def _set(node: Any, parts: list[str | int], value: Any) -> None:
    for index, part in enumerate(parts[:-1]):
        following = parts[index + 1]
        if isinstance(part, int):
            if not isinstance(node, list):
                raise TypeError(f"[{part}] indexes a {type(node).__name__}, not a list")
            if part == len(node):  # one past the end appends, as for the last segment
                node.append([] if isinstance(following, int) else {})
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise TypeError(f"{part!r} is inside a {type(node).__name__}, not a mapping")
            node = node.setdefault(part, [] if isinstance(following, int) else {})
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list):
            raise TypeError(f"[{last}] indexes a {type(node).__name__}, not a list")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    else:
        if not isinstance(node, dict):
            raise TypeError(f"{last!r} is inside a {type(node).__name__}, not a mapping")
        node[last] = value
