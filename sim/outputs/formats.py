"""The figure formats `sim run` and `sim compare` can write (`--figure-format`), without importing matplotlib."""

from __future__ import annotations

from collections.abc import Iterable

FIGURE_FORMATS = ("png", "svg", "pdf")

__all__ = ["FIGURE_FORMATS", "parse_figure_formats"]


def parse_figure_formats(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """`--figure-format` values (repeated, or comma lists: `png,svg`) as distinct formats in the given order.

    Nothing given means PNG. An unknown format raises ValueError naming the allowed ones.
    """
    if values is None:
        return ("png",)
    items = [values] if isinstance(values, str) else list(values)
    formats: list[str] = []
    for item in items:
        for part in str(item).split(","):
            fmt = part.strip().lower().lstrip(".")
            if not fmt:
                continue
            if fmt not in FIGURE_FORMATS:
                raise ValueError(f"unknown figure format {part.strip()!r}; choose from {', '.join(FIGURE_FORMATS)}")
            if fmt not in formats:
                formats.append(fmt)
    return tuple(formats) or ("png",)
