"""Benchmark helper for `waits.sweep_overhead`: each run's replicate CPU, timed inside the sweep's workers.

`install(log)` (in the sweep's process, before the sweep) makes the local executor's workers run `timed_execute`,
which is `sim.experiments.executors.execute` with `sim.runner.run_replicate` timed in process time; each
replicate's seconds are appended to `log` (one line each), so the sweep's own CPU can be set against the
replicates it ran, in the same runs on the same machine at the same moment. Only for benchmarks: the workers
import this module by name (the sweep's process puts its folder on `sys.path`, which the fork server gets).
"""

from __future__ import annotations

import os
import time
from typing import Any

import sim.experiments.executors as executors
import sim.runner

_EXECUTE = executors.execute  # the real one: captured before `install` replaces it in the sweep's process
LOG_VARIABLE = "SIM_BENCHMARK_REPLICATE_LOG"


def install(log: str) -> None:
    """Time the replicates of every local sweep this process starts from now on into `log`."""
    os.environ[LOG_VARIABLE] = log  # before the fork server starts: its workers inherit it
    executors.execute = timed_execute  # type: ignore[assignment]  # LocalExecutor hands the pool this name


def timed_execute(task: Any, world: Any = None) -> Any:
    """`execute`, with the run's `run_replicate` timed (process time) and logged."""
    original = sim.runner.run_replicate

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.process_time() - started  # before the log is opened: its cost is the sweep's, not the run's
            with open(os.environ[LOG_VARIABLE], "a", encoding="utf-8") as handle:
                handle.write(f"{spent!r}\n")

    sim.runner.run_replicate = timed  # execute imports it from sim.runner when it runs
    try:
        return _EXECUTE(task, world)
    finally:
        sim.runner.run_replicate = original
