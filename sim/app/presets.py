"""Preset scenarios for the classroom: every `*.yaml` in the scenarios folder that validates (default
the built-in scenarios, `sim/builtin/`, which the repository also shows as `scenarios/`).

Each preset's header comment states the question it answers; the page shows it as the lesson's
question. The folder is read when a browser session opens, so presets added later appear on reload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim.errors import InputError
from sim.resources import builtin_dir

SCENARIOS_ENV = "SIM_APP_SCENARIOS"  # `sim app --scenarios DIR` passes the folder to the page this way
FIRST = "baseline"  # offered first and chosen when the page opens


@dataclass(frozen=True)
class Preset:
    """A scenario file the page can offer."""

    name: str  # the file name without .yaml, shown in the picker
    path: Path
    question: str  # the header comment, without the `#`s


def scenarios_dir() -> Path:
    """The folder the presets come from: $SIM_APP_SCENARIOS or the built-in scenarios."""
    folder = os.environ.get(SCENARIOS_ENV)
    return Path(folder) if folder else builtin_dir()


def header_question(path: Path) -> str:
    """The comment block at the top of a scenario file, without `#` and editor modelines."""
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line.startswith("#"):
            if line:  # the first field ends the header; blank lines inside it are skipped
                break
            continue
        text = line.lstrip("#").strip()
        if text.startswith("yaml-language-server:"):
            continue
        lines.append(text)
    # Paragraphs are separated by empty `#` lines; lines inside a paragraph are joined.
    paragraphs = " ".join(line if line else "\n\n" for line in lines).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


_checked: dict[tuple[Path, float], str | None] = {}  # (file, mtime) -> problem, or None when valid


def _problem(path: Path) -> str | None:
    """Why a scenario cannot be offered (its first validation problem), or None."""
    from sim.scenario import prepare

    # A preset's validity depends on the files it extends and the world data too; the file's
    # own mtime is a cheap key that is right for the common case of editing the preset itself.
    key = (path, path.stat().st_mtime)
    if key not in _checked:
        try:
            prepare(path)
            _checked[key] = None
        except InputError as error:
            _checked[key] = error.problems[0].format() if error.problems else "invalid scenario"
    return _checked[key]


def list_presets(folder: Path | None = None) -> tuple[list[Preset], list[str]]:
    """Valid presets (baseline first, then by name) and one line per scenario that was left out."""
    folder = folder or scenarios_dir()
    presets, skipped = [], []
    for path in sorted(folder.glob("*.yaml")):
        if path.name.endswith(".schema.yaml"):
            continue
        problem = _problem(path)
        if problem:
            skipped.append(f"{path.name}: {problem}")
            continue
        presets.append(Preset(path.stem, path, header_question(path)))
    presets.sort(key=lambda p: (p.name != FIRST, p.name))
    return presets, skipped
