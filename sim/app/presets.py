"""Preset scenarios for the classroom: every `*.yaml` in the scenarios folder that validates (default
the built-in scenarios, `sim/builtin/`, which the repository also shows as `scenarios/`).

Each preset's header comment states the question it answers; the page shows it as the lesson's
question. The folder is read when a browser session opens, so presets added later appear on reload.

Whatever else is in the folder never breaks or stalls a page load: hidden files (an editor's lock file
such as `.#baseline.yaml`, often a link to nowhere) are not presets; a link to nowhere, a folder, pipe
or device named `*.yaml`, a file that cannot be read or a scenario that does not validate is listed as
unavailable with the reason. Only regular files are opened (opening a pipe waits for a writer forever).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sim.errors import InputError
from sim.resources import builtin_dir

log = logging.getLogger(__name__)

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


def _unreadable(path: Path) -> str | None:
    """Why a file cannot be opened as a scenario, found without opening it; None for a regular file."""
    try:
        info = path.stat()  # follows a link
    except FileNotFoundError:
        return "a link to a file that does not exist" if path.is_symlink() else "the file is gone"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISDIR(info.st_mode):
        return "a folder, not a scenario file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device), so not opened"
    return None


def _problem(path: Path) -> str | None:
    """Why a scenario cannot be offered (its first problem), or None."""
    from sim.scenario import prepare

    unreadable = _unreadable(path)
    if unreadable:
        return unreadable
    # A preset's validity depends on the files it extends and the world data too; the file's
    # own mtime is a cheap key that is right for the common case of editing the preset itself.
    key = (path, path.stat().st_mtime)
    if key not in _checked:
        try:
            prepare(path)
            _checked[key] = None
        except InputError as error:
            _checked[key] = error.problems[0].format() if error.problems else "invalid scenario"
        except Exception as error:  # a fault of ours: the class sees one line, the server log the traceback
            log.exception("could not check the preset %s", path)
            _checked[key] = f"could not be checked ({type(error).__name__}: {error})"
    return _checked[key]


def _preset(path: Path) -> tuple[Preset | None, str | None]:
    """The preset in this file, or why it is unavailable (never an exception: the page must load)."""
    try:
        problem = _problem(path)
        if problem:
            return None, problem
        return Preset(path.stem, path, header_question(path)), None
    except OSError as error:  # changed or removed while being read
        return None, f"cannot be read ({error.strerror or error})"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def list_presets(folder: Path | None = None) -> tuple[list[Preset], list[str]]:
    """Valid presets (baseline first, then by name) and one line per scenario that was left out."""
    folder = folder or scenarios_dir()
    presets, skipped = [], []
    try:
        paths = sorted(folder.glob("*.yaml"))
    except OSError as error:
        return [], [f"{folder}: cannot be read ({error.strerror or error})"]
    for path in paths:
        if path.name.endswith(".schema.yaml") or path.name.startswith("."):
            continue  # the schema, and hidden files (editor lock files and the like) are not presets
        preset, problem = _preset(path)
        if preset is None:
            # The class sees file names, not where the server keeps them.
            shown = (problem or "").replace(f"{folder}{os.sep}", "").replace(str(folder), "the presets folder")
            skipped.append(f"{path.name}: {shown}")
        else:
            presets.append(preset)
    presets.sort(key=lambda p: (p.name != FIRST, p.name))
    return presets, skipped
