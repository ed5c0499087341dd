"""Experiments over scenarios: paired comparisons, designs over uncertainties and levers, sensitivity.

`sim.sweep(EXPERIMENT.yaml, workers=2)` runs an experiment file's design (see docs/experiments.md);
`sim.compare(BASE.yaml, OTHER.yaml, replicates=10)` runs scenarios with common random numbers.
Modules: schema (the file format), plan (checks, design points, run ids), design, outcomes,
executors (local processes, Dask), store (runs.csv, Parquet parts, resume), sensitivity, sweep, compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.experiments.plan import Plan, make_plan
    from sim.experiments.schema import load_experiment
    from sim.experiments.sweep import SweepInterrupted, SweepResult

__all__ = ["Plan", "SweepInterrupted", "SweepResult", "load_experiment", "make_plan"]

_EXPORTS = {
    "Plan": "sim.experiments.plan",
    "make_plan": "sim.experiments.plan",
    "load_experiment": "sim.experiments.schema",
    "SweepInterrupted": "sim.experiments.sweep",
    "SweepResult": "sim.experiments.sweep",
}


def __getattr__(name: str) -> Any:
    # Lazy: a worker process imports only what it runs.
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim.experiments' has no attribute {name!r}")
