"""From a facade's TypedDict arguments to the validated args dataclass of the component behind it.

Pulumi's component analyzer infers a package schema only from ``TypedDict`` arguments (field docstrings become
the schema's descriptions); the components take frozen dataclasses checked by ``validate_*_args``. A facade
picks the keys the caller set (the dataclass defaults fill the rest), turns lists into the tuples the
dataclasses hold and enum members into their values, and hands the result to the same validator.
"""

from collections.abc import Mapping
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
    raise_if_problems(component, name, missing(args, typed_dict))
    real = dataclass(**picked(args, *typed_dict.__annotations__))
    raise_if_problems(component, name, validate(real))
    return real
