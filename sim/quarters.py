"""Quarters, the model's unit of time: one step is one quarter, labelled like `2025Q1`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# Years 2000 to 2199: the model's growth and decay terms stay finite there (year 9999 overflowed to NaN)
# and the world data describe the 2020s. ASCII digits only (Python's \d also matches '٢٠٢٥').
YEAR_MIN, YEAR_MAX = 2000, 2199
QUARTER_PATTERN = r"^(20|21)[0-9]{2}Q[1-4]$"
_QUARTER_RE = re.compile(QUARTER_PATTERN, re.ASCII)


def parse_quarter(text: str) -> int:
    """`2025Q1` -> an ordinal (year * 4 + quarter - 1); raises ValueError with a plain message."""
    if not isinstance(text, str) or not _QUARTER_RE.match(text):
        if isinstance(text, str) and re.fullmatch(r"[0-9]{4}Q[1-4]", text, re.ASCII):
            raise ValueError(f"{text!r} is outside the years the model covers: {YEAR_MIN}Q1 to {YEAR_MAX}Q4")
        raise ValueError(f"{text!r} is not a quarter; write it like 2025Q1 (year {YEAR_MIN} to {YEAR_MAX} in "
                         "digits 0-9, Q, 1 to 4)")
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
        label = quarter_from_date(value.year, value.month)
        parse_quarter(label)  # within the years covered
        return label
    if isinstance(value, str):
        parse_quarter(value.strip().upper())
        return value.strip().upper()
    raise ValueError(f"{value!r} is not a quarter; write it like 2025Q1")


Quarter = Annotated[
    str,
    BeforeValidator(_coerce),
    PlainSerializer(lambda v: v, return_type=str),
    WithJsonSchema({"type": "string", "pattern": QUARTER_PATTERN, "examples": ["2025Q1"],
                    "description": f"a quarter from {YEAR_MIN}Q1 to {YEAR_MAX}Q4, like 2025Q1"}),
]
"""A quarter label such as `2025Q1`, years 2000 to 2199 (a date like 2025-02-04 is read as its quarter)."""
