"""Quarters, the model's unit of time: one step is one quarter, labelled like `2025Q1`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

QUARTER_PATTERN = r"^\d{4}Q[1-4]$"
_QUARTER_RE = re.compile(QUARTER_PATTERN)


def parse_quarter(text: str) -> int:
    """`2025Q1` -> an ordinal (year * 4 + quarter - 1); raises ValueError with a plain message."""
    if not isinstance(text, str) or not _QUARTER_RE.match(text):
        raise ValueError(f"{text!r} is not a quarter; write it like 2025Q1 (year, Q, 1 to 4)")
    year, quarter = int(text[:4]), int(text[5])
    return year * 4 + quarter - 1


def quarter_label(ordinal: int) -> str:
    """An ordinal from `parse_quarter` back to its label."""
    return f"{ordinal // 4}Q{ordinal % 4 + 1}"


def quarter_from_date(year: int, month: int) -> str:
    return f"{year}Q{(month - 1) // 3 + 1}"


def _coerce(value: object) -> str:
    # YAML reads `2025-02-04` as a date: accept it as the quarter that contains it.
    if hasattr(value, "year") and hasattr(value, "month"):
        return quarter_from_date(value.year, value.month)
    if isinstance(value, str):
        parse_quarter(value.strip().upper())
        return value.strip().upper()
    raise ValueError(f"{value!r} is not a quarter; write it like 2025Q1")


Quarter = Annotated[
    str,
    BeforeValidator(_coerce),
    PlainSerializer(lambda v: v, return_type=str),
    WithJsonSchema({"type": "string", "pattern": QUARTER_PATTERN, "examples": ["2025Q1"]}),
]
"""A quarter label such as `2025Q1` (a date like 2025-02-04 is read as its quarter)."""
