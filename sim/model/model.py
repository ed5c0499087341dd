"""The model: countries, labs and firms choosing between open and closed AI, one quarter per step.

Its state is declared per entity in `sim.model.state` (every array with its dtype, shape, initial
value and meaning) and allocated at the start of set-up. Each step is one quarter and runs the
phases of `sim.model.schedule.PHASES`, in this order (`sim explain --schedule` prints them):

1. **Rules** (`rules.py`): the policy state is reset and every rule active this quarter writes its
   effect (export controls, bans, programmes, tension, ...); rules that start or end are logged.
   Each rule's state (partners, bans in force, incident draws) lives in its effect object.
2. **Labs** (`labs.py`): families due are released; capability is the lab's effective training
   compute (its country's chips under controls, domestic substitution) in months of frontier
   progress plus its know-how, which grows with talent and catches up on the releases it can reach
   (D3.2, D4.3, D4.6); every `release_interval` quarters each
   lab chooses open or closed for its *next* release (D4.4): what it already published keeps its
   openness (release lines; D4.1, D4.11); research papers are written, a share co-authored
   across blocs (D3.1, D0.7).
3. **Countries**, in four phases: technological alignment moves (`alignment.py`: export controls
   push targets away from the issuer, programmes and alliances pull partners, tension polarises:
   D4.4, D1.5, D0.7); readiness and compute grow (`countries.py`: capacity building, chip access:
   D0.8, D1.3, D4.6); rules with country behaviour act (programme offers accepted or declined by
   payoff, endogenous bans raised or lifted: D1.4, D1.5, D4.8); governments pick the line they use,
   under the same access rules as firms (`access.py`).
4. **Firms** (`firms.py`): non-users below their sector's ceiling consider AI at a Bass rate and
   adopt if the release lines they can get beat going without (D0.8, D4.8); a share of users
   re-evaluate, users of
   a frozen release line also over their upgrade cycle, and users of a line that became
   unavailable must; choosers pick by a multinomial logit over the release lines available to
   them (D2.3, D2.5, D4.8, D4.10, D4.11).
5. **Metrics** (`metrics.py`): the contract's metrics are recorded for the quarter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mesa
import numpy as np
from mesa.agent import AgentSet

from sim.metrics_registry import ALIGNMENT_BLOCS
from sim.model import access, alignment, countries, firms, labs, prices, schedule, state
from sim.model.agents import Country, Firm, Lab
from sim.model.policy import PolicyState
from sim.model.rules import RuleEngine
from sim.model.state import (
    CountryState,
    FamilyState,
    FirmState,
    LabState,
    LineState,
    ModelState,
    PricePointState,
)
from sim.model.streams import stream
from sim.quarters import parse_quarter, quarter_label
from sim.rules.base import Rule
from sim.scenario.schema import Scenario
from sim.world import World

_UNSET = object()
# Index structures that know their model's arrays by identity (`alignment._layout`, `labs._layout`): each
# model gets the kept one bound to its own arrays (`for_model`).
_LAYOUTS = (alignment.AlignmentLayout, labs.LabsLayout)
# The last `_setup_world` values built in this process, with the (world, alignment parameters) they came from.
# name -> (value, how it is copied for a model; None for a layout, which is bound to the model instead)
_Kept = dict[str, tuple[Any, Callable[[Any], Any] | None]]
_LAST_WORLD: tuple[tuple[World, object], _Kept] | None = None


def _kept_world(world: World, alignment_params: object) -> _Kept | None:
    """The values of the last `_setup_world` in this process, each with the function that copies it for
    a model, if they came from an equal world and equal alignment parameters (see
    `GeopoliticsModel._setup_world`), else None."""
    last = _LAST_WORLD
    if last is not None and last[0][0] == world and last[0][1] == alignment_params:
        return last[1]
    return None


_IMMUTABLE = (str, int, float, tuple, type(None))


def _as_is(value: object) -> object:
    return value


def _rows_copied(value: list[list[Any]]) -> list[list[Any]]:
    return [row.copy() for row in value]


def _copier(value: object) -> Callable[[Any], Any]:
    """How a kept set-up value is copied for each model (arrays, lists and dicts copied: a model may write
    into its own; immutable values as they are), chosen once when it is kept."""
    if isinstance(value, np.ndarray):
        return np.ndarray.copy
    if isinstance(value, _IMMUTABLE):
        return _as_is
    if isinstance(value, dict) and all(isinstance(v, _IMMUTABLE) for v in value.values()):
        return dict.copy
    if isinstance(value, list) and all(isinstance(v, _IMMUTABLE) for v in value):
        return list.copy
    if isinstance(value, list) and all(
        isinstance(row, list) and all(isinstance(v, _IMMUTABLE) for v in row) for row in value
    ):
        return _rows_copied
    raise TypeError(f"set-up value of type {type(value).__name__} cannot be copied for another model")


class GeopoliticsModel(
    ModelState, CountryState, LabState, FamilyState, PricePointState, LineState, FirmState, mesa.Model
):
    """The simulation of one scenario with one seed. See the module docstring for the schedule; the
    state it holds is declared in `sim.model.state` (inherited from the entity classes there)."""

    def __init__(
        self, scenario: Scenario, world: World, seed: int | None = None, create_agents: bool = True
    ) -> None:
        self.run_seed = int(scenario.seed if seed is None else seed)
        super().__init__(seed=self.run_seed)
        self.scenario = scenario
        self.world = world
        self.params = scenario.parameters
        self.start = parse_quarter(scenario.time.start)
        self.end = parse_quarter(scenario.time.end)
        self.quarter = self.start
        self.n_countries = len(world.countries)
        self.n_labs, self.n_families = len(world.labs), len(world.families)
        self.n_lines = 2 * self.n_families  # a closed API and open weights per family (see _setup_lines)
        self.n_firms = scenario.population.firms
        kept = _kept_world(world, self.params.alignment)
        # the price points' count from the kept set-up when there is one (listing them costs ~80 µs)
        self.n_price_points = len(prices.schedule_points(world)) if kept is None else kept["price_point_usd"][0].size
        self.n_sectors = len(self.params.firms.sectors)
        self.n_alignment_blocs = len(ALIGNMENT_BLOCS)
        state.allocate(self)
        self._setup_world(kept)
        labs.setup(self)
        self.policy = PolicyState(self.n_countries, self.n_lines, self.n_labs)
        self.engine = RuleEngine(self, scenario.rules)
        self.engine.apply_rules()  # the rules in force at the start shape the initial state
        countries.backcast_compute(self)
        labs.anchor_compute(self)
        firms.setup(self)
        # Agents are created on first look (see `firms`), countries and labs before firms; [] when
        # agents are not wanted.
        self._country_agents = self._lab_agents = self._firm_agents = None if create_agents else []
        self.running = True

    # -- set-up ----------------------------------------------------------------------------------
    def _setup_world(self, kept: _Kept | None) -> None:
        """The countries, labs, families, prices, lines, access, structural alignment and the alignment and
        labs phases' index structures: what the world
        data and the alignment parameters alone decide. A run's or a sweep's replicates build the same
        values (~0.7 ms), so the last ones built in this process are copied when the world and the
        alignment parameters are equal to theirs (pydantic's field-by-field equality: ~1 µs for the same
        objects, ~0.1 ms for an equal copy such as a sweep task's), and built otherwise (`kept`: the
        values `_kept_world` found for this model)."""
        global _LAST_WORLD
        if kept is not None:
            layouts = []
            for name, (value, copy) in kept.items():
                if copy is None:
                    layouts.append((name, value))
                else:
                    setattr(self, name, copy(value))
            for name, value in layouts:  # bound to this model's arrays, set above
                setattr(self, name, value.for_model(self))
            return
        before = dict(vars(self))
        self._setup_countries()
        self._setup_labs_and_families()
        labs._layout(self)  # the labs phase's index structures, from the arrays above only
        built: _Kept = {}
        for name, value in vars(self).items():
            if before.get(name, _UNSET) is not value:
                if isinstance(value, _LAYOUTS):
                    built[name] = (value.for_model(self), None)
                else:
                    copy = _copier(value)
                    built[name] = (copy(value), copy)
        _LAST_WORLD = ((self.world, self.params.alignment), built)

    def _setup_countries(self) -> None:
        rows = self.world.countries
        self.country_ids = np.array([c.iso3 for c in rows])
        self.country_names = [c.name for c in rows]
        self.country_index = {c.iso3: i for i, c in enumerate(rows)}
        self.country_bloc = np.array([c.bloc for c in rows])
        self.country_region = np.array([c.region for c in rows])
        self.south = self.country_region == "south"
        self.gdp = np.array([c.gdp_usd_bn for c in rows], dtype=float)
        self.us_alignment = np.array([c.us_alignment for c in rows], dtype=float)
        self.privacy_strictness = np.array([c.privacy_strictness for c in rows], dtype=float)
        self.readiness = np.array([c.digital_readiness for c in rows], dtype=float)
        self.talent = np.array([c.ai_talent for c in rows], dtype=float)
        self.compute = np.array([c.ai_compute_share for c in rows], dtype=float)
        self.domestic_substitution = np.array([c.domestic_chip_substitution for c in rows], dtype=float)

    def _setup_labs_and_families(self) -> None:
        labs_, fams = self.world.labs, self.world.families
        self.lab_ids = np.array([lab.id for lab in labs_])
        self.lab_names = [lab.name for lab in labs_]
        self.lab_index = {lab.id: i for i, lab in enumerate(labs_)}
        self.lab_country = np.array([self.country_index[lab.country] for lab in labs_])
        self.lab_bloc = self.country_bloc[self.lab_country]
        self.lab_compute_share = np.array([lab.compute_share for lab in labs_], dtype=float)
        self.lab_talent = np.array([lab.talent for lab in labs_], dtype=float)
        self.family_ids = np.array([f.id for f in fams])
        self.family_names = [f.name for f in fams]
        self.family_index = {f.id: i for i, f in enumerate(fams)}
        self.family_lab = np.array([self.lab_index[f.lab] for f in fams])
        self.family_origin = np.array([f.origin for f in fams])
        self.family_release = np.array([parse_quarter(f.released) for f in fams])
        self.release_lag = np.array([f.release_lag_months for f in fams], dtype=float)
        self.base_price = np.array([f.price_usd_per_mtok for f in fams], dtype=float)
        self.active_params = np.array([f.active_params_b for f in fams], dtype=float)
        prices.setup(self)
        first_open = np.array([f.openness == "open" for f in fams])
        self.lab_open = np.array([first_open[self.family_lab == i].any() for i in range(self.n_labs)], dtype=bool)
        self._setup_lines(first_open)
        access.setup(self)
        alignment.setup(self)

    def _setup_lines(self, first_open: np.ndarray) -> None:
        """Release lines: what firms and governments choose between (see `labs`).

        Each family has a closed line (its lab's API) and an open line (its published weights):
        line l is family `l % n_families`, open when `l >= n_families`. A line exists from the
        quarter its lab first released on it (`line_since`); it is *current* while the lab's
        release policy matches its openness and then follows the lab's newest model, and *stale*
        (frozen at its last release) after the lab switched (D4.1, D4.4, D4.6, D4.11).
        """
        f = self.n_families
        self.line_family = np.tile(np.arange(f), 2)
        self.line_open = np.repeat([False, True], f)
        self.line_origin = self.family_origin[self.line_family]
        self.line_lab = self.family_lab[self.line_family]
        kinds = np.where(self.line_open, "open", "closed")
        self.line_ids = np.char.add(np.char.add(self.family_ids[self.line_family].astype(str), ":"), kinds)
        self.line_current = self.line_open == first_open[self.line_family]
        self.line_since = np.where(self.line_current, self.family_release[self.line_family], labs.NEVER)
        self.line_frozen = np.full(self.n_lines, labs.NEVER)  # quarter the lab last released on a stale line

    # -- shared helpers --------------------------------------------------------------------------
    def bloc_affinity(self, bloc: str) -> np.ndarray:
        """Every country's current technological alignment (0 to 1) with a bloc's stack: model state
        that policy moves (see `sim.model.alignment`). 1 within the bloc; `other` is neutral (0.5)
        everywhere: it is the rest of the world, not a stack whose members favour each other."""
        return alignment.bloc_alignment(self, bloc)

    def privacy(self) -> np.ndarray:
        """Each country's privacy strictness this quarter: its data plus regulation (0 to 1, D0.5)."""
        return np.clip(self.privacy_strictness + self.policy.privacy_shift, 0.0, 1.0)

    def stream(self, purpose: str) -> np.random.Generator:
        """The random stream for `purpose` (common random numbers across scenarios)."""
        if purpose not in self._streams:
            self._streams[purpose] = stream(self.run_seed, purpose)
        return self._streams[purpose]

    @property
    def date(self) -> str:
        return quarter_label(self.quarter)

    @property
    def released(self) -> np.ndarray:
        """Families whose first release has happened."""
        return self.family_release <= self.quarter

    @property
    def line_released(self) -> np.ndarray:
        """Lines their lab has released on (they may be stale)."""
        return self.line_since <= self.quarter

    @property
    def line_available(self) -> np.ndarray:
        """Lines that can be chosen: published weights stay available for good; a stale closed API
        is served for `closed_api_retirement_quarters` after the lab's last closed release."""
        retire = self.params.labs.closed_api_retirement_quarters
        # Asked ~7 times a quarter (labs, governments, firms) and the same between switches: kept with
        # everything it is computed from (the lines' arrays by content, so a write in place counts) and
        # handed out read-only, as every caller shares it.
        key = (
            self.quarter,
            retire,
            self.line_since.tobytes(),
            self.line_current.tobytes(),
            self.line_frozen.tobytes(),
            self.line_open.tobytes(),
        )
        cached = self._line_available
        if cached is not None and cached[0] == key:
            return cached[1]
        serving = self.line_open | self.line_current | (self.quarter < self.line_frozen + retire)
        available = self.line_released & serving
        available.setflags(write=False)
        self._line_available = (key, available)
        return available

    @property
    def line_stale(self) -> np.ndarray:
        """Released lines that no longer get their lab's new releases (frozen)."""
        return self.line_released & ~self.line_current

    @property
    def firm_family(self) -> np.ndarray:
        """Each firm's model family (-1: uses no AI), whichever line of it the firm is on."""
        return np.where(self.firm_line >= 0, self.line_family[np.maximum(self.firm_line, 0)], -1)

    def log_event(
        self,
        rule_id: str,
        rule: Rule | None,
        text: str,
        target: str = "",
        kind: str | None = None,
        sources: list[str] | None = None,
    ) -> None:
        """Record a narrated event of this quarter (events.csv, the report, the classroom feed)."""
        self.events.append(
            {
                "step": self.quarter - self.start,
                "date": self.date,
                "rule_id": rule_id,
                "kind": kind or (rule.kind if rule is not None else ""),
                "event": text,
                "target": target,
                "sources": " ".join(sources if sources is not None else (rule.sources if rule else [])),
            }
        )

    # -- the schedule ----------------------------------------------------------------------------
    def step(self) -> None:
        """One quarter: the phases of `sim.model.schedule.PHASES`, in order (see the module docstring)."""
        if self.quarter > self.end:
            self.running = False
            return
        for phase in schedule.PHASES:
            phase.function(self)
        self.quarter += 1
        self.running = self.quarter <= self.end

    def run(self) -> None:
        while self.running:
            self.step()

    # -- agents ---------------------------------------------------------------------------------
    # Countries, labs and firms are Mesa agents, but each is only a view of one row of its type's
    # arrays, and creating one costs ~8 us in Mesa 3.3.1 (registration in the model's dict and two
    # weak-reference sets): at 500k firms more than all 32 quarters of firm choices, and for the 82
    # countries and labs about a third of a default-size model's set-up. So the views are created
    # the first time anyone looks at the agents (`firms`, `country_agents`, `lab_agents`, `agents`,
    # `agents_by_type`), countries, then labs, then firms: the same order and unique ids as if made
    # up front, and a run that never looks (every batch run) does not pay for them.
    def _country_and_lab_agents_created(self) -> None:
        if self._country_agents is None:
            self._country_agents = [Country(self, i) for i in range(self.n_countries)]
        if self._lab_agents is None:
            self._lab_agents = [Lab(self, i) for i in range(self.n_labs)]

    def _all_agents_created(self) -> None:
        self._country_and_lab_agents_created()
        if self._firm_agents is None:
            self._firm_agents = [Firm(self, i) for i in range(self.n_firms)]

    @property
    def country_agents(self) -> list[Country]:
        """The country agents, in country-array order (`model.country_agents[i].index == i`)."""
        self._country_and_lab_agents_created()
        return self._country_agents or []

    @property
    def lab_agents(self) -> list[Lab]:
        """The lab agents, in lab-array order."""
        self._country_and_lab_agents_created()
        return self._lab_agents or []

    @property
    def firms(self) -> list[Firm]:
        """The firm agents, one per firm, in firm-array order (`model.firms[i].index == i`)."""
        self._all_agents_created()
        return self._firm_agents or []

    @property
    def firm_agents(self) -> list[Firm]:
        return self.firms

    @property
    def agents(self) -> AgentSet:
        """All agents (countries, labs, firms), as in `mesa.Model`."""
        self._all_agents_created()
        return super().agents

    @agents.setter
    def agents(self, agents: object) -> None:
        mesa.Model.agents.fset(self, agents)  # Mesa's own error: the name is reserved

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], AgentSet]:
        self._all_agents_created()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._all_agents_created()
        return super().agent_types

    def remove_all_agents(self) -> None:
        self._all_agents_created()
        super().remove_all_agents()
