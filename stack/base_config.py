"""The base of every config section: camelCase keys, unknown keys refused, immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
