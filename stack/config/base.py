"""The base of every config section: camelCase keys, unknown keys refused, immutable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from infra.validation import Problem


class Model(BaseModel):
    """Base for every config section: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, use_enum_values=False
    )


class FieldError(ValueError):
    """A validation failure of one field, given relative to the model that raises it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class FieldErrors(ValueError):
    """Several field failures found together (``format_errors`` prints one line each)."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


class ArgPaths:
    """Where each argument of a component comes from in the stack YAML: the one map from arg paths to fields.

    ``section`` is the YAML path of the config section the args mostly come from; ``fields`` maps an
    argument path (or a prefix of one) to its YAML path where that is not ``section`` + the camelCase
    argument name. Paths are relative to the platform object, as ``FieldError`` fields of StackConfig are.
    """

    def __init__(self, section: str, fields: Mapping[str, str] | None = None):
        self.section = section
        self.fields = dict(fields or {})

    KEYED = frozenset({"labels", "resource_labels"})
    """Arguments that are maps: the segment after them is a key, kept as written."""

    def __call__(self, arg_path: str) -> str:
        parts = arg_path.split(".")
        tail = [p if index and parts[index - 1] in self.KEYED else to_camel(p) for index, p in enumerate(parts)]
        for cut in range(len(parts), 0, -1):
            head = ".".join(parts[:cut])
            if head in self.fields:
                return ".".join([self.fields[head], *tail[cut:]]).strip(".")
        return ".".join([self.section, *tail]).strip(".")

    def errors(self, problems: Iterable[Problem]) -> list[tuple[str, str]]:
        """``(yaml path, message)`` per problem, references to other arguments given as YAML paths too."""
        return [(self(p.property_path), p.render(self)) for p in problems]
