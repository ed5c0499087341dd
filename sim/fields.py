"""Building blocks shared by every part of the scenario schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Every scenario section: unknown keys are errors, NaN and infinities are refused."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, populate_by_name=True, validate_default=True
    )


class FieldError(ValueError):
    """A model validator's complaint about one of its fields: reported at that field, not the mapping.

    `FieldError("end is before start", "end")`; the path may go deeper (`"tiers", 0`).
    """

    def __init__(self, message: str, *path: str | int):
        super().__init__(message)
        self.path = path


def param(default: Any, unit: str, meaning: str, **constraints: Any) -> Any:
    """A behavioural parameter: its default, unit and one-line meaning travel into the JSON Schema."""
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
