"""A class's world: the preset plus the decisions so far, simulated from the start with the class's seed.

Re-simulating is exact: every random stream draws the same numbers every quarter whatever the rules
(`sim.model.streams`, common random numbers) and a decision's rule acts only from its quarter, so
the world with a decision is the world without it up to the quarter before (tests/test_classplay.py
checks it, metric by metric). The world after round k is therefore the run of the preset plus
every decision of rounds 1..k, stopped at round k's last quarter; the replay without the students'
moves is the preset alone on the same seed, the run `sim.api.run` makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sim.model.streams import replicate_seeds
from sim.quarters import parse_quarter, quarter_label
from sim.rules.alliance import AllianceEffect
from sim.rules.program import ProgramEffect
from sim.runner import EVENT_COLUMNS, release_model
from sim.scenario.schema import Scenario
from sim.world import World


@dataclass
class WorldState:
    """One simulated world, up to a quarter: its tidy series and events (the columns `sim run` writes)
    and what decides which options the actors have next (partners, members, labs' release policy)."""

    quarter_ordinal: int  # the next quarter to simulate (one past the last simulated)
    timeseries: pd.DataFrame
    events: pd.DataFrame
    partners: dict[str, set[str]] = field(default_factory=dict)  # programme rule id -> partner ISO3 codes
    declined: dict[str, set[str]] = field(default_factory=dict)  # programme rule id -> ISO3 codes that declined
    members: dict[str, set[str]] = field(default_factory=dict)  # alliance rule id -> member ISO3 codes
    lab_open: dict[str, bool] = field(default_factory=dict)  # lab id -> its current releases are open

    @property
    def last_quarter(self) -> str:
        """The last simulated quarter, like `2025Q4`."""
        return quarter_label(self.quarter_ordinal - 1)

    _by_quarter: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict, repr=False)

    def value(self, metric: str, group: str, quarter: str | None = None) -> float | None:
        """One series' value at `quarter` (default the last simulated); None when not there."""
        date = quarter or self.last_quarter
        values = self._by_quarter.get(date)
        if values is None:  # one quarter's rows, indexed once: every student's page reads a dozen a round
            ts = self.timeseries
            rows = ts[ts["date"] == date]
            values = dict(zip(zip(rows["metric"], rows["group"], strict=True), rows["value"], strict=True))
            self._by_quarter[date] = values
        found = values.get((metric, group))
        return None if found is None else float(found)


def model_seed(seed: int) -> int:
    """The model's seed for a scenario seed: replicate 0's, as `sim run` and `sim.api.run` use it."""
    return replicate_seeds(seed, 1)[0]


def simulate(scenario: Scenario, world: World, seed: int, through: str | None = None) -> WorldState:
    """Run `scenario` with replicate 0's seed for scenario seed `seed`, through quarter `through`
    (default: its end), and keep what the class needs; the model is released afterwards."""
    from sim.model.model import GeopoliticsModel

    run_seed = model_seed(seed)
    model = GeopoliticsModel(scenario, world, seed=run_seed, create_agents=False)
    last = parse_quarter(through) if through is not None else model.end
    while model.running and model.quarter <= last:
        model.step()
    frame = model.rows.frame(scenario=scenario.name, replicate=0, seed=run_seed)
    events = pd.DataFrame(model.events, columns=EVENT_COLUMNS[3:])
    events.insert(0, "seed", run_seed)
    events.insert(0, "replicate", 0)
    events.insert(0, "scenario", scenario.name)
    state = WorldState(model.quarter, frame, events[EVENT_COLUMNS])
    ids = model.country_ids
    for rule_id, effect in model.engine.effects.items():
        if isinstance(effect, ProgramEffect):
            state.partners[rule_id] = {str(c) for c in ids[effect.partners]}
            state.declined[rule_id] = {str(c) for c in ids[effect.declined]}
        elif isinstance(effect, AllianceEffect):
            state.members[rule_id] = {str(c) for c in ids[effect.members]}
    state.lab_open = {str(lab): bool(model.lab_open[i]) for i, lab in enumerate(model.lab_ids)}
    release_model(model)
    return state
