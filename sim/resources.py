"""Where the built-in scenarios, world data, experiments and the scenario JSON Schema live.

They are package data of `sim` (`sim/builtin/`, read with `importlib.resources`), so an installed
wheel carries them; in the repository `scenarios/` is a link to the same folder. A built-in scenario
is addressed by its name (`baseline`, with or without `.yaml`) wherever a scenario file is expected:
`sim run baseline`, `extends: baseline`. A path that exists always wins over a built-in name.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sim.errors import did_you_mean

SUFFIX = ".yaml"


def builtin_dir() -> Path:
    """The folder of the built-in scenarios (`sim/builtin/`, the repository's `scenarios/`)."""
    # Scenarios extend each other and name data files by relative path, so they must be real files:
    # a plain (non-zipped) install, which is what pip makes.
    folder = resources.files("sim").joinpath("builtin")
    if not isinstance(folder, Path) or not folder.is_dir():
        raise RuntimeError(f"the built-in scenarios are missing from the installed package ({folder})")
    return folder


def data_dir() -> Path:
    """The built-in world data and checks: countries, families, targets, patterns (`scenarios/data/`)."""
    return builtin_dir() / "data"


def experiments_dir() -> Path:
    """The built-in experiment files (`scenarios/experiments/`)."""
    return builtin_dir() / "experiments"


def schema_path() -> Path:
    """The JSON Schema of the scenario format that editors use (`scenarios/scenario.schema.json`)."""
    return builtin_dir() / "scenario.schema.json"


def builtin_scenarios() -> dict[str, Path]:
    """Name -> file of every built-in scenario, sorted by name."""
    return {path.stem: path for path in sorted(builtin_dir().glob(f"*{SUFFIX}"))}


def _as_name(reference: str) -> str | None:
    """`baseline` or `baseline.yaml` -> `baseline`; None for anything that is a path, not a bare name."""
    if not reference or os.sep in reference or (os.altsep and os.altsep in reference) or reference.startswith("."):
        return None
    return reference.removesuffix(SUFFIX)


def find_builtin(reference: str) -> Path | None:
    """The built-in scenario a bare name (with or without `.yaml`) names, or None."""
    name = _as_name(reference)
    return builtin_scenarios().get(name) if name else None


def resolve_scenario(reference: str, base: Path | None = None) -> Path | None:
    """The file a scenario reference means: an existing path (relative to `base`, else the current
    folder) first, then a built-in scenario of that name; None when it is neither."""
    from sim.userfiles import exists, name_problem

    candidate = Path(base or Path.cwd()) / reference
    if name_problem(candidate):  # a name too long for the file system, or with a NUL: not a file
        return None
    # Something there that is not a folder (a file, a pipe, a link loop) is what was meant: reading it
    # says what is wrong with it, rather than a built-in scenario of that name being taken silently.
    if exists(candidate) and not candidate.is_dir():
        return candidate
    return find_builtin(reference)


def not_found(reference: str) -> str:
    """Why a bare name is not a scenario: the built-in names, and the nearest one."""
    names = list(builtin_scenarios())
    name = _as_name(reference) or reference
    hint = did_you_mean(name, names)
    return f"no such file or built-in scenario {reference!r}{hint}; built-in scenarios: {', '.join(names)}"


def is_bare_name(reference: str) -> bool:
    """Whether a reference could be a built-in name (no folder in it)."""
    return _as_name(reference) is not None
