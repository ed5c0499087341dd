"""Time one model's quarters phase by phase (rules, labs, countries, firms, metrics).

The phases are the model's own schedule, `sim.model.schedule.PHASES` (each wrapped with a timer for
the duration of the measurement), so the profile follows the schedule instead of a copy of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sim.model import schedule
from sim.model.model import GeopoliticsModel
from sim.runner import release_model
from sim.scenario.schema import Scenario
from sim.world import World

PHASES = schedule.PHASES


@dataclass
class PhaseProfile:
    firms: int
    steps: int = 0
    build_s: float = 0.0
    total_s: float = 0.0
    phase_s: dict[str, float] = field(default_factory=lambda: {phase.name: 0.0 for phase in PHASES})

    def per_step_ms(self, phase: str) -> float:
        return 1e3 * self.phase_s[phase] / max(self.steps, 1)

    @property
    def step_ms(self) -> float:
        return 1e3 * self.total_s / max(self.steps, 1)

    @property
    def other_ms(self) -> float:
        """The model's own bookkeeping between phases (Mesa's step wrapper, the quarter counter)."""
        return self.step_ms - sum(self.per_step_ms(phase.name) for phase in PHASES)


def _timed(function: Callable[..., Any], profile: PhaseProfile, name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            profile.phase_s[name] += time.perf_counter() - started

    return wrapper


@contextlib.contextmanager
def _phases_timed(profile: PhaseProfile) -> Iterator[None]:
    original = schedule.PHASES
    try:
        schedule.PHASES = tuple(
            dataclasses.replace(phase, function=_timed(phase.function, profile, phase.name)) for phase in original
        )
        yield
    finally:
        schedule.PHASES = original


def profile_run(scenario: Scenario, world: World, seed: int) -> PhaseProfile:
    """Build a model (timed) and run every quarter with each phase timed."""
    profile = PhaseProfile(firms=scenario.population.firms)
    started = time.perf_counter()
    model = GeopoliticsModel(scenario, world, seed=seed)
    profile.build_s = time.perf_counter() - started
    with _phases_timed(profile):
        started = time.perf_counter()
        model.run()
        profile.total_s = time.perf_counter() - started
    profile.steps = model.steps
    release_model(model)
    return profile
