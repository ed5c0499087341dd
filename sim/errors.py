"""Problems with user input, reported as `FILE:LINE:COLUMN: field.path: message`.

Every check in the project (YAML reading, schema validation, world data, CLI arguments)
reports through `Problem` and raises `InputError`, so the command line can print all
problems of a file at once and exit 2 without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


def dotted(path: tuple[str | int, ...]) -> str:
    """A field path as users write it: ("rules", "us-chips", "sources", 0) -> "rules.us-chips.sources[0]"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, order=True)
class Problem:
    """One problem with user input, located in a file (1-based line and column)."""

    file: str
    line: int
    column: int
    path: str  # dotted field path ("rules.us-chips.strength"), "" for the whole file
    message: str

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class InputError(Exception):
    """Bad user input: one or more problems, each printed on its own line; exit code 2."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(p.format() for p in self.problems))

    @classmethod
    def single(cls, file: str, message: str, line: int = 1, column: int = 1, path: str = "") -> InputError:
        return cls([Problem(file, line, column, path, message)])


def did_you_mean(word: object, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """A ` (did you mean 'x'?)` suffix naming the nearest candidate, or '' when none is near."""
    if not isinstance(word, str):
        return ""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f" (did you mean '{lowered[word.lower()]}'?)"
    close = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if not close:
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
        close = [lowered[c] for c in close]
    return f" (did you mean '{close[0]}'?)" if close else ""


def show_value(value: object, limit: int = 60) -> str:
    """A short, quoted rendering of a bad value for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
