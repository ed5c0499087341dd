"""Run a scenario's replicates, in this process or in worker processes, into tidy tables.

Replicate r uses seed `replicate_seeds(scenario.seed, n)[r]` (numpy SeedSequence spawning), so a
replicate's result does not depend on the number of replicates, of workers, or on the executor.
Workers come from the one pool (`sim.workers`); Mesa 3.3.1 keeps every model alive in a
class-level dict, so each finished model is released deliberately (`release_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.model.streams import replicate_seeds
from sim.scenario.schema import Scenario
from sim.workers import JobError, WorkerDiedError, processes_for, run_jobs
from sim.world import World

EVENT_COLUMNS = [
    "scenario",
    "replicate",
    "seed",
    "step",
    "date",
    "rule_id",
    "kind",
    "event",
    "target",
    "sources",
]


@dataclass
class ReplicateResult:
    replicate: int
    seed: int
    timeseries: pd.DataFrame
    events: pd.DataFrame


def run_replicate(scenario: Scenario, world: World, replicate: int, seed: int) -> ReplicateResult:
    """Simulate one replicate from start to end and return its tidy rows."""
    from sim.model.model import GeopoliticsModel

    model = GeopoliticsModel(scenario, world, seed=seed)
    model.run()
    frame = model.rows.frame(scenario=scenario.name, replicate=replicate, seed=seed)
    release_model(model)
    return ReplicateResult(replicate, seed, frame, _events_frame(model.events, scenario.name, replicate, seed))


def _events_frame(events: list[dict[str, Any]], scenario: str, replicate: int, seed: int) -> pd.DataFrame:
    """The replicate's events with its scenario, replicate and seed in front (`EVENT_COLUMNS`)."""
    if events and all(-(2**63) <= n < 2**63 for n in (replicate, seed)):
        # One frame from whole rows (a third of the cost): the same values and dtypes (int64 numbers,
        # text) as the frame of the events with the three columns inserted, which no events (every
        # column of type object then) or numbers outside int64 still take.
        head = {"scenario": scenario, "replicate": replicate, "seed": seed}
        return pd.DataFrame([{**head, **event} for event in events], columns=EVENT_COLUMNS)
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS[3:])
    frame.insert(0, "seed", seed)
    frame.insert(0, "replicate", replicate)
    frame.insert(0, "scenario", scenario)
    return frame[EVENT_COLUMNS]


def release_model(model: object) -> None:
    """Drop Mesa 3.3.1's class-level references to a finished model so its memory is freed."""
    import mesa

    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)


def _run_one(args: tuple[Scenario, World, int, int]) -> ReplicateResult:
    return run_replicate(*args)


class ReplicateError(RuntimeError):
    """A replicate did not finish: its worker process died, it ran out of memory, or it raised.

    Names the replicate and its seed; `traceback_text` is the worker's traceback when there is one.
    """

    def __init__(self, replicate: int, seed: int, reason: str, traceback_text: str = ""):
        self.replicate, self.seed, self.reason, self.traceback_text = replicate, seed, reason, traceback_text
        super().__init__(f"replicate {replicate} (seed {seed}) did not finish: {reason}")


def iter_replicates(
    scenario: Scenario,
    world: World,
    replicates: int,
    workers: int = 1,
    seed: int | None = None,
    scenarios: Sequence[Scenario] | None = None,
) -> Iterator[ReplicateResult]:
    """Results of replicates 0..n-1 in order, computed by `workers` processes.

    `scenarios`, when given, is the scenario of each replicate (a parameter ensemble's member
    applied to `scenario`, sim.calibration.ensemble); the seeds are the same either way.

    A replicate whose worker dies or that runs out of memory raises ReplicateError naming it;
    the other workers are stopped (a run's outputs need every replicate).
    """
    seeds = replicate_seeds(scenario.seed if seed is None else seed, replicates)
    if scenarios is not None and len(scenarios) != replicates:
        raise ValueError(f"{len(scenarios)} replicate scenarios for {replicates} replicates")
    jobs = [(scenarios[r] if scenarios is not None else scenario, world, r, s) for r, s in enumerate(seeds)]
    processes = processes_for(workers, replicates)
    if not processes:
        for job in jobs:
            try:
                yield _run_one(job)
            except MemoryError:
                raise ReplicateError(job[2], job[3], "it ran out of memory (MemoryError)") from None
        return
    try:
        for finished in run_jobs(_run_one, jobs, processes):  # in replicate order
            yield finished.result
    except WorkerDiedError as error:
        raise ReplicateError(error.index, seeds[error.index], str(error)) from None
    except JobError as error:
        reason = "it ran out of memory (MemoryError)" if error.error_type == "MemoryError" else f"it raised {error}"
        raise ReplicateError(error.index, seeds[error.index], reason, error.traceback_text) from None


def run_scenario(
    scenario: Scenario,
    world: World,
    replicates: int = 1,
    workers: int = 1,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    scenarios: Sequence[Scenario] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All replicates' timeseries and events, as tidy frames sorted by replicate (`scenarios`: per replicate)."""
    series, events = [], []
    for done, result in enumerate(iter_replicates(scenario, world, replicates, workers, seed, scenarios), start=1):
        series.append(result.timeseries)
        events.append(result.events)
        if progress:
            progress(done, replicates)
    return pd.concat(series, ignore_index=True), pd.concat(events, ignore_index=True)
