"""The run manifest: what ran, on what, with which seeds, so a run can be reproduced.

`build_manifest` never fails on environment questions: a missing package, no git, or a
directory that is not a repository give `None` for that entry.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"  # written last in every output folder: its presence marks the folder complete
MANIFEST_VERSION = 1
_DEPENDENCIES = ("numpy", "mesa", "pandas", "pydantic", "matplotlib", "pyyaml")
_GIT_TIMEOUT_S = 3.0


def file_entry(data: bytes) -> dict[str, Any]:
    """How a manifest lists one output file (what `sim.outputs.folder` reads to know a folder's files)."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as the UTF-8 JSON text written to `MANIFEST_NAME`."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def scenario_hash(text: str) -> str:
    """SHA-256 hex digest of the resolved scenario text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_version() -> str | None:
    """`sim.__version__` if the package imports, else the installed distribution's version."""
    try:
        version = getattr(importlib.import_module("sim"), "__version__", None)
    except ImportError:
        version = None
    if version:
        return str(version)
    for dist in metadata.packages_distributions().get("sim", []):
        found = _distribution_version(dist)
        if found:
            return found
    return None


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(directory: str | Path | None = None) -> dict[str, Any]:
    """`{"commit": sha or None, "dirty": bool or None}` for the working tree holding `directory`.

    By default the directory of this package's source, i.e. the code that actually ran.
    """
    where = Path(directory) if directory is not None else Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit.strip() or None, "dirty": None if status is None else bool(status.strip())}


def environment() -> dict[str, Any]:
    """Python, dependency versions and platform."""
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {name: _distribution_version(name) for name in _DEPENDENCIES},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
    }


def created_utc() -> str:
    """Now in UTC (`2026-12-01T15:04:05Z`), or the time `SOURCE_DATE_EPOCH` names when it is set (the
    reproducible-builds convention): the date in figure footers and pages then stays the same, and
    so do their bytes, when the same scenario and seed are run again."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch.isdigit() else _dt.datetime.now(_dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _command_text(command_line: str | Iterable[str]) -> str:
    return command_line if isinstance(command_line, str) else shlex.join(str(a) for a in command_line)


def build_manifest(
    *,
    scenario_name: str,
    scenario_hash: str,
    seeds: Iterable[int],
    replicates: int,
    command_line: str | Iterable[str],
    wall_time_s: float,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a run as a JSON-ready dict (the writer adds the list of files).

    `extra` entries are added at the top level; they may not replace a standard entry.
    """
    git = git_state()
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "scenario": scenario_name,
        "scenario_hash": scenario_hash,
        "replicates": int(replicates),
        "seeds": [int(s) for s in seeds],
        "command_line": _command_text(command_line),
        "wall_time_s": round(float(wall_time_s), 3),
        "created_utc": created_utc(),
        "package_version": package_version(),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        **environment(),
    }
    for key, value in (extra or {}).items():
        if key in manifest:
            raise ValueError(f"manifest extra key {key!r} would replace a standard entry")
        manifest[key] = value
    return manifest
