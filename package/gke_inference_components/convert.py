"""From a facade's TypedDict arguments to the validated args dataclass of the component behind it.

Pulumi's component analyzer infers a package schema only from ``TypedDict`` arguments (field docstrings become
the schema's descriptions); the components take frozen dataclasses checked by ``validate_*_args``. A facade
picks the keys the caller set (the dataclass defaults fill the rest), turns lists into the tuples the
dataclasses hold and enum members into their values, and hands the result to the same validator.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from infra.validation import Problem, raise_if_problems


def plain(value: Any) -> Any:
    """An enum member as its value, a list as a tuple (recursively); anything else unchanged."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return tuple(plain(item) for item in value)
    return value


def picked(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """The ``keys`` the caller set (a missing or None key leaves the dataclass default), made :func:`plain`."""
    return {key: plain(values[key]) for key in keys if values.get(key) is not None}


def nested_problems(prefix: str, problems: list[Problem]) -> list[Problem]:
    """Problems of a nested argument block, their paths (and ``{refs}``) put under ``prefix``."""
    return [
        Problem(f"{prefix}.{p.property_path}", p.render(lambda path: "{" + f"{prefix}.{path}" + "}"))
        for p in problems
    ]


def missing(values: Mapping[str, Any], typed_dict: Any, path: str = "") -> list[Problem]:
    """A problem per required key of ``typed_dict`` the caller left out (``path`` prefixes nested blocks).

    Pulumi's provider refuses a missing required input before construction; a Python caller of the facade
    gets the same refusal here instead of a dataclass ``TypeError``."""
    return [
        Problem(f"{path}{key}", "required; set it")
        for key in sorted(typed_dict.__required_keys__)
        if values.get(key) is None
    ]


def flat_args(component: str, name: str, args: Mapping[str, Any], typed_dict: Any, dataclass: Any,
              validate: Any) -> Any:
    """A flat facade's dataclass (every TypedDict key is a dataclass field), refused as the component refuses
    it: missing required keys first, then the component's own validator."""
    return block_args(component, name, args, Block(typed_dict, dataclass), validate)


@dataclass(frozen=True)
class Block:
    """How one TypedDict becomes one args dataclass: its nested blocks (by key) become their dataclasses too.

    ``many``: the key holds a list of such blocks (a tuple of dataclasses in the component's args)."""

    typed_dict: Any
    dataclass: Any
    blocks: Mapping[str, "Block"] = field(default_factory=dict)
    many: bool = False


def _one(values: Mapping[str, Any], block: Block, path: str) -> tuple[Any, list[Problem]]:
    problems = missing(values, block.typed_dict, path)
    nested: dict[str, Any] = {}
    for key, inner in block.blocks.items():
        given = values.get(key)
        if given is None:
            continue
        if inner.many:
            items = [_one(item, inner, f"{path}{key}.{index}.") for index, item in enumerate(given)]
            nested[key] = tuple(item for item, _ in items)
            problems += [p for _, item_problems in items for p in item_problems]
        else:
            nested[key], inner_problems = _one(given, inner, f"{path}{key}.")
            problems += inner_problems
    if problems:
        return None, problems
    flat = tuple(key for key in block.typed_dict.__annotations__ if key not in block.blocks)
    return block.dataclass(**picked(values, *flat), **nested), []


def block_args(component: str, name: str, args: Mapping[str, Any], block: Block, validate: Any) -> Any:
    """The args dataclass of ``block`` built from ``args`` (nested blocks included), refused as the component
    refuses it: missing required keys first (by their path), then the component's own validator."""
    real, problems = _one(args, block, "")
    raise_if_problems(component, name, problems)
    raise_if_problems(component, name, validate(real))
    return real
