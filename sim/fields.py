"""Building blocks shared by every part of the scenario schema."""

from __future__ import annotations

import json
import types
from functools import cache
from importlib import resources
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


def _numbers(tp: Any) -> tuple[bool, bool]:
    """(whether the type is a number, whether it is a tuple or list of numbers), Annotated and Optional removed."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        return (all(_numbers(m)[0] for m in members), False) if members else (False, False)
    if get_origin(tp) in (tuple, list):
        items = [a for a in get_args(tp) if a is not Ellipsis]
        return False, bool(items) and all(_numbers(a)[0] for a in items)
    return tp in (int, float), False


@cache
def _numeric_fields(model: type[BaseModel]) -> dict[str, tuple[bool, bool]]:
    return {name: _numbers(field.annotation) for name, field in model.model_fields.items()}


class StrictModel(BaseModel):
    """Every scenario section: unknown keys are errors, NaN and infinities are refused, and so are true/false
    where a number belongs (pydantic would read `firms: true` as 1 firm)."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, populate_by_name=True, validate_default=True
    )

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        # A model validator, not a field one: pydantic refuses "before" validators on a union's `kind` field.
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            number, numbers = _numeric_fields(cls)[name]
            key = name if name in data or not field.alias else field.alias
            value = data.get(key)
            if number and isinstance(value, bool):
                raise FieldError(f"expected a number, got {str(value).lower()} (true/false is not a number)", key)
            if numbers and isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    if isinstance(item, bool):
                        raise FieldError(f"expected a number, got {str(item).lower()} (true/false is not a number)",
                                         key, i)
        return data


class FieldError(ValueError):
    """A model validator's complaint about one of its fields: reported at that field, not the mapping.

    `FieldError("end is before start", "end")`; the path may go deeper (`"tiers", 0`).
    """

    def __init__(self, message: str, *path: str | int):
        super().__init__(message)
        self.path = path


# Upper bound of a behavioural parameter that gives none of its own: utilities and rates this large already
# make every choice certain, and beyond them exp() overflows (a weight of 1e308 gave NaN and 100% US).
MAX_PARAMETER = 100.0


def param(default: Any, unit: str, meaning: str, **constraints: Any) -> Any:
    """A behavioural parameter: its default, unit and one-line meaning travel into the JSON Schema.

    Without an upper bound (`le`, `lt`) of its own it gets `le=MAX_PARAMETER`, so arithmetic stays finite."""
    numeric = isinstance(default, int | float) and not isinstance(default, bool)
    if numeric and "le" not in constraints and "lt" not in constraints:
        constraints["le"] = MAX_PARAMETER
    return Field(
        default,
        description=f"{meaning} [{unit}]",
        json_schema_extra={"unit": unit},
        **constraints,
    )


@cache
def claims() -> dict[str, str]:
    """Claim id -> text, from the source documents' digest shipped inside the package."""
    data = json.loads(resources.files("sim").joinpath("claims.json").read_text(encoding="utf-8"))
    return dict(data["claims"])


@cache
def documents() -> dict[str, dict[str, str]]:
    data = json.loads(resources.files("sim").joinpath("claims.json").read_text(encoding="utf-8"))
    return dict(data["documents"])


def _known_claim(value: str) -> str:
    if value not in claims():
        from sim.errors import did_you_mean

        raise ValueError(
            f"unknown claim id {value!r}; claims are D0.1 to D4.12 as listed in "
            f"shared/sources/claims.md{did_you_mean(value, claims())}"
        )
    return value


ClaimId = Annotated[
    str,
    StringConstraints(pattern=r"^D\d+\.\d+$"),
    AfterValidator(_known_claim),
    Field(description="A claim id from the source documents, like D4.8", examples=["D4.8"]),
]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 3166-1 alpha-3 code, like ITA")
]
FamilyId = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$"), Field(description="A model family id, like qwen")
]
LabId = Annotated[str, Field(description="A lab id of the world data, like openai")]
