"""Scenario lab for AI geopolitics: an agent-based model of open-weights vs closed AI adoption."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sim.api import RunResult, run
    from sim.experiments.compare import CompareResult, compare
    from sim.experiments.sweep import SweepResult, sweep
    from sim.scenario import prepare

__all__ = ["CompareResult", "RunResult", "SweepResult", "__version__", "compare", "prepare", "run", "sweep"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import sim` in a worker process stays cheap.
    if name in ("run", "RunResult"):
        from sim import api

        return getattr(api, name)
    if name == "prepare":
        from sim.scenario import prepare

        return prepare
    if name in ("compare", "CompareResult", "sweep", "SweepResult"):
        from importlib import import_module

        return getattr(import_module(f"sim.experiments.{name.lower().removesuffix('result')}"), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
