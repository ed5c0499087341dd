"""The model's state, declared once per entity (Starsim's `define_states`).

Every variable the model holds is declared here with its dtype, its shape (which entities it
indexes), its value before set-up, and a one-line meaning; `allocate` creates them all on the model
at the start of set-up, and the phases (`sim.model.schedule`) then read and write only these.
Agents' state is struct-of-arrays: one row per country, lab, family, release line or firm.
`tests/test_model.py` fails when a phase or set-up creates a model attribute not declared here, or
when a declared array leaves its dtype or shape.

Each entity is a class whose attributes are the declarations (`declare(...)`); `GeopoliticsModel`
inherits them all, so a type checker sees every variable with its type, and reading a variable
before it is allocated raises a clear error instead of returning the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from sim.model.metric_rows import MetricRows

if TYPE_CHECKING:
    from sim.model.agents import Country, Firm, Lab
    from sim.model.alignment import AlignmentLayout
    from sim.model.firms import ChoiceSets
    from sim.model.labs import LabsLayout
    from sim.model.metrics import _Layout
    from sim.model.policy import PolicyState
    from sim.model.rules import RuleEngine
    from sim.scenario.parameters import Parameters
    from sim.scenario.schema import Scenario
    from sim.world import World

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


class _Input:
    def __repr__(self) -> str:
        return "INPUT"


INPUT: Any = _Input()  # set by the constructor from its arguments (scenario, world, seed), not allocated

# The size of each dimension a state variable can index: the model attribute that holds it.
DIMENSIONS = {
    "countries": "n_countries",
    "labs": "n_labs",
    "families": "n_families",
    "lines": "n_lines",
    "firms": "n_firms",
    "price_points": "n_price_points",
    "sectors": "n_sectors",
    "alignment_blocs": "n_alignment_blocs",
}


@dataclass
class StateSpec:
    """One declared state variable: an array over `dims` of `dtype` (a numpy scalar type), or, with
    no dims and a Python `dtype`, one value; `init` is its value before set-up (a fill value, None
    for an uninitialised array, a zero-argument factory for containers, or INPUT)."""

    dtype: type
    dims: tuple[str, ...]
    init: Any
    meaning: str
    name: str = ""
    entity: str = ""
    is_array: bool = field(init=False)

    def __post_init__(self) -> None:
        unknown = [d for d in self.dims if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"state dims {unknown} unknown; dims are {', '.join(DIMENSIONS)}")
        self.is_array = issubclass(self.dtype, np.generic)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.entity = getattr(owner, "ENTITY", owner.__name__)

    def __get__(self, instance: object, owner: type) -> Any:
        # Only reached when the instance has no value yet (a non-data descriptor: an allocated
        # value in the instance's dict takes precedence, so reading state costs nothing extra).
        if instance is None:
            return self
        raise AttributeError(f"model state {self.name!r} is declared but not allocated yet (see sim.model.state)")

    def shape(self, model: object) -> tuple[int, ...]:
        """The array's shape in this model (the sizes of its dims)."""
        return tuple(int(getattr(model, DIMENSIONS[d])) for d in self.dims)

    def initial(self, model: object) -> Any:
        """The value allocated before set-up."""
        if self.is_array:
            shape = self.shape(model)
            if self.init is None:
                return np.empty(shape, dtype=self.dtype)  # set-up fills it; untouched pages cost nothing
            return np.full(shape, self.init, dtype=self.dtype)
        if callable(self.init):  # a container: a fresh one per model
            return self.init()
        return self.init


def declare(dtype: type, dims: tuple[str, ...], init: Any, meaning: str) -> Any:
    """Declare a state variable (typed `Any` so the class annotation gives its static type)."""
    return StateSpec(dtype, dims, init, meaning)


class Entity:
    """An entity whose state variables are the `declare(...)` attributes of its class."""

    ENTITY: ClassVar[str] = ""


class ModelState(Entity):
    """Model-level values: inputs, sizes, the clock, global scalars and the model's components."""

    ENTITY = "model"
    scenario: Scenario = declare(object, (), INPUT, "the validated scenario being run")
    world: World = declare(object, (), INPUT, "the world data (countries, labs, families)")
    params: Parameters = declare(object, (), INPUT, "the scenario's behavioural parameters")
    run_seed: int = declare(int, (), INPUT, "seed of this run (the scenario's, or the replicate's)")
    start: int = declare(int, (), INPUT, "first quarter (ordinal, see sim.quarters)")
    end: int = declare(int, (), INPUT, "last quarter, inclusive")
    quarter: int = declare(int, (), INPUT, "the current quarter")
    n_countries: int = declare(int, (), INPUT, "countries and regional aggregates")
    n_labs: int = declare(int, (), INPUT, "labs")
    n_families: int = declare(int, (), INPUT, "model families")
    n_lines: int = declare(int, (), INPUT, "release lines: two per family (closed API, open weights)")
    n_firms: int = declare(int, (), INPUT, "firms (population.firms)")
    n_price_points: int = declare(int, (), INPUT, "listed closed-API prices, each family's first one included")
    n_sectors: int = declare(int, (), INPUT, "firm sectors (parameters.firms.sectors)")
    n_alignment_blocs: int = declare(int, (), INPUT, "blocs with a technology stack (US, CN, EU)")
    country_index: dict[str, int] = declare(dict, (), dict, "row of each country by ISO3 code")
    lab_index: dict[str, int] = declare(dict, (), dict, "row of each lab by id")
    family_index: dict[str, int] = declare(dict, (), dict, "row of each family by id")
    events: list[dict[str, object]] = declare(list, (), list, "narrated events so far (events.csv)")
    rows: MetricRows = declare(
        object, (), MetricRows, "metric rows so far: (step, date, metric, group, value), as columns"
    )
    _streams: dict[str, np.random.Generator] = declare(dict, (), dict, "random stream of each purpose")
    policy: PolicyState = declare(object, (), None, "this quarter's policy state, written by the rules")
    engine: RuleEngine = declare(object, (), None, "the rules' effects, built at model start")
    coauthorship_share: float = declare(float, (), float("nan"), "US-CN co-authored share of this quarter's papers")
    world_open_share: float = declare(float, (), 0.0, "world share of AI-using firms on open weights")
    reference_compute: float = declare(
        float, (), float("nan"), "the frontier lab's effective compute at the start (0 compute months)"
    )
    best_history: dict[str, list[float]] = declare(
        dict, (), dict, "best capability of each side of each capability gap, per quarter so far"
    )
    utility_this_quarter: tuple[int, FloatArray, FloatArray] | None = declare(
        object, (), None, "(quarter, utility, risk) per country x line from the governments phase, for the firms phase"
    )
    metrics_layout: _Layout | None = declare(object, (), None, "group labels and masks of the metrics, built once")
    _line_available: tuple[tuple[object, ...], BoolArray] | None = declare(
        object, (), None, "the lines available this quarter with what they were computed from (line_available)"
    )
    alignment_layout: AlignmentLayout | None = declare(
        object, (), None, "index structures of the alignment phase (fixed structure), built once"
    )
    labs_layout: LabsLayout | None = declare(
        object, (), None, "index structures of the labs phase (fixed structure), built once"
    )
    _country_agents: list[Country] | None = declare(
        list, (), list, "Mesa views of the countries; None until first looked at"
    )
    _lab_agents: list[Lab] | None = declare(list, (), list, "Mesa views of the labs; None until first looked at")
    _firm_agents: list[Firm] | None = declare(list, (), list, "Mesa views of the firms; None until first looked at")


class CountryState(Entity):
    """Countries and regional aggregates (rows of countries.yaml); tables over countries x lines or
    families are the country's view of each line or family."""

    ENTITY = "countries"
    country_ids: StrArray = declare(np.str_, ("countries",), "", "ISO3 code (X.. for aggregates)")
    country_names: list[str] = declare(list, (), list, "name of each country")
    country_bloc: StrArray = declare(np.str_, ("countries",), "", "bloc: US, CN, EU or other")
    country_region: StrArray = declare(np.str_, ("countries",), "", "region: north or south")
    south: BoolArray = declare(np.bool_, ("countries",), False, "in the Global South")
    gdp: FloatArray = declare(np.float64, ("countries",), np.nan, "GDP [USD bn] (gdp_usd_bn)")
    us_alignment: FloatArray = declare(np.float64, ("countries",), np.nan, "UN voting alignment with the US (-1..1)")
    privacy_strictness: FloatArray = declare(
        np.float64, ("countries",), np.nan, "privacy strictness in the data (0 lax..1 strict, D0.5)"
    )
    readiness: FloatArray = declare(np.float64, ("countries",), np.nan, "digital readiness (0..1), grows (D0.8)")
    talent: FloatArray = declare(np.float64, ("countries",), np.nan, "AI talent index (ai_talent)")
    compute: FloatArray = declare(
        np.float64, ("countries",), np.nan, "AI compute, share of the world's at the start; grows under controls"
    )
    domestic_substitution: FloatArray = declare(
        np.float64, ("countries",), np.nan, "share of denied chips its own accelerators replace, in the data year"
    )
    government_line: IntArray = declare(np.int64, ("countries",), -1, "release line the government uses (-1: none)")
    government_family: IntArray = declare(np.int64, ("countries",), -1, "family of the government's line (-1: none)")
    alignment_structural: FloatArray = declare(
        np.float64, ("countries", "alignment_blocs"), np.nan, "alignment the world data imply (see alignment)"
    )
    alignment: FloatArray = declare(
        np.float64, ("countries", "alignment_blocs"), np.nan, "technological alignment with each stack (0..1)"
    )
    alignment_labels: list[list[str]] = declare(list, (), list, "metric group of each country x bloc alignment")
    line_alignment: FloatArray = declare(
        np.float64, ("countries", "lines"), 0.5, "alignment with each line's origin bloc (0.5: other)"
    )
    line_unserved: FloatArray = declare(
        np.float64, ("countries", "lines"), 0.0, "share of firms a line's lab does not serve (access)"
    )
    line_foreign: FloatArray = declare(np.float64, ("countries", "lines"), 0.0, "1 where a line's provider is foreign")
    distrust: FloatArray = declare(np.float64, ("countries", "lines"), 0.0, "distrust of each line (risk units)")
    fixed_utility: FloatArray = declare(
        np.float64, ("countries", "lines"), np.nan, "utility terms fixed at set-up: open local adaptation (firms)"
    )
    fixed_risk: FloatArray = declare(
        np.float64, ("countries", "lines"), np.nan, "risk fixed at set-up: data transfer abroad, open weights (firms)"
    )
    firms_by_country: FloatArray = declare(np.float64, ("countries",), 0.0, "firms in the country")
    potential_by_country: IntArray = declare(np.int64, ("countries",), 0, "firms that would ever adopt")
    size_by_country: FloatArray = declare(np.float64, ("countries",), 0.0, "summed firm size")
    adopters_by_country: FloatArray = declare(np.float64, ("countries",), 0.0, "AI-using firms")
    line_counts: FloatArray = declare(np.float64, ("countries", "lines"), 0.0, "firms using each line")
    line_weight: FloatArray = declare(np.float64, ("countries", "lines"), 0.0, "firms using each line, by size")
    family_counts: FloatArray = declare(
        np.float64, ("countries", "families"), 0.0, "firms using each family (its lines together)"
    )
    family_weight: FloatArray = declare(np.float64, ("countries", "families"), 0.0, "family users, by size")
    share_country: FloatArray = declare(
        np.float64, ("countries", "families"), 0.0, "share of the country's AI users on each family"
    )
    origin_share_country: FloatArray = declare(
        np.float64, ("countries", "families"), 0.0, "share of its AI users on families of each family's origin"
    )


class LabState(Entity):
    """Labs (labs in families.yaml)."""

    ENTITY = "labs"
    lab_ids: StrArray = declare(np.str_, ("labs",), "", "lab id")
    lab_names: list[str] = declare(list, (), list, "name of each lab")
    lab_country: IntArray = declare(np.int64, ("labs",), -1, "row of the lab's country")
    lab_bloc: StrArray = declare(np.str_, ("labs",), "", "bloc of the lab's country")
    lab_compute_share: FloatArray = declare(np.float64, ("labs",), np.nan, "share of its bloc's AI compute")
    lab_talent: FloatArray = declare(np.float64, ("labs",), np.nan, "talent (research speed multiplier)")
    lab_open: BoolArray = declare(np.bool_, ("labs",), False, "its next release is open weights (D4.4)")
    compute_months: FloatArray = declare(
        np.float64, ("labs",), np.nan, "effective training compute in frontier months (D4.3, D4.6)"
    )


class FamilyState(Entity):
    """Model families (families.yaml): successive releases under one name, owned by one lab."""

    ENTITY = "families"
    family_ids: StrArray = declare(np.str_, ("families",), "", "family id")
    family_names: list[str] = declare(list, (), list, "name of each family")
    family_lab: IntArray = declare(np.int64, ("families",), -1, "row of the family's lab")
    family_origin: StrArray = declare(np.str_, ("families",), "", "origin bloc")
    family_release: IntArray = declare(np.int64, ("families",), -1, "quarter of its first release")
    release_lag: FloatArray = declare(np.float64, ("families",), np.nan, "months behind the frontier at release")
    base_price: FloatArray = declare(np.float64, ("families",), np.nan, "API list price at release [USD per Mtok]")
    family_price_start: IntArray = declare(np.int64, ("families",), -1, "its first row in the price points")
    family_price_trend_from: IntArray = declare(
        np.int64, ("families",), -1, "quarter from which its closed price falls at closed_price_decline"
    )
    active_params: FloatArray = declare(np.float64, ("families",), np.nan, "active parameters [billions]")
    capability: FloatArray = declare(
        np.float64, ("families",), np.nan, "frontier months of the lab's newest model (nan: unreleased)"
    )
    knowledge: FloatArray = declare(np.float64, ("families",), np.nan, "know-how months of the newest model")
    share_world: FloatArray = declare(np.float64, ("families",), 0.0, "world share of AI users on the family")
    origin_share_world: FloatArray = declare(
        np.float64, ("families",), 0.0, "world share of AI users on families of its origin"
    )


class LineState(Entity):
    """Release lines: a family's closed API (line f) and open weights (line f + n_families)."""

    ENTITY = "lines"
    line_family: IntArray = declare(np.int64, ("lines",), -1, "the line's family")
    line_open: BoolArray = declare(np.bool_, ("lines",), False, "open weights (else the closed API)")
    line_origin: StrArray = declare(np.str_, ("lines",), "", "origin bloc of its family")
    line_lab: IntArray = declare(np.int64, ("lines",), -1, "row of its lab")
    line_ids: StrArray = declare(np.str_, ("lines",), "", "`family:open` or `family:closed`")
    line_current: BoolArray = declare(np.bool_, ("lines",), False, "gets its lab's new releases (else frozen)")
    line_since: IntArray = declare(np.int64, ("lines",), -1, "quarter its lab first released on it (NEVER: not yet)")
    line_frozen: IntArray = declare(np.int64, ("lines",), -1, "quarter of its last release if stale (NEVER: current)")
    line_capability: FloatArray = declare(np.float64, ("lines",), np.nan, "frontier months of its last release")
    line_knowledge: FloatArray = declare(np.float64, ("lines",), np.nan, "know-how months of its last release")
    line_alignment_weight: FloatArray = declare(
        np.float64, ("lines",), np.nan, "weight of alignment in its utility (x open_alignment_factor if open; firms)"
    )


class FirmState(Entity):
    """Firms (population.firms, spread over countries by GDP) and their sectors."""

    ENTITY = "firms"
    sector_names: list[str] = declare(list, (), list, "name of each sector")
    sector_risk: FloatArray = declare(np.float64, ("sectors",), np.nan, "risk sensitivity of each sector")
    firm_country: IntArray = declare(np.int64, ("firms",), -1, "row of the firm's country")
    firm_sector: IntArray = declare(np.int64, ("firms",), -1, "row of the firm's sector")
    firm_cell: IntArray = declare(np.int64, ("firms",), -1, "(country, sector) cell: country x n_sectors + sector")
    firm_size: FloatArray = declare(np.float64, ("firms",), np.nan, "size relative to the smallest firm (Pareto)")
    firm_large: BoolArray = declare(np.bool_, ("firms",), False, "size at least large_firm_size")
    firm_compliance: FloatArray = declare(
        np.float64, ("firms",), np.nan, "fixed draw: blocked when below a line's blocked share"
    )
    firm_potential: BoolArray = declare(np.bool_, ("firms",), False, "below its sector's adoption ceiling")
    firm_hazard_scale: FloatArray = declare(np.float64, ("firms",), np.nan, "size effect on the adoption hazard")
    firm_line: IntArray = declare(np.int64, ("firms",), -1, "release line in use (-1: no AI)")
    choice_key: int = declare(int, (), 0, "key of the taste noise's counter-based draws (firms.taste_noise)")
    closed_prices: FloatArray | None = declare(
        object, (), None, "each family's closed-API price in each quarter of the run, made on first use (prices)"
    )
    choice_sets: ChoiceSets | None = declare(
        object, (), None, "the firms' choice sets, kept while their inputs are unchanged (firms.choice_sets)"
    )


class PricePointState(Entity):
    """Listed closed-API prices (families.yaml `prices`, see `sim.model.prices`): by family in time order."""

    ENTITY = "price_points"
    price_point_family: IntArray = declare(np.int64, ("price_points",), -1, "row of the family priced")
    price_point_quarter: IntArray = declare(np.int64, ("price_points",), -1, "quarter from which it is listed")
    price_point_usd: FloatArray = declare(
        np.float64, ("price_points",), np.nan, "blended list price, 3:1 input:output [USD per Mtok]"
    )


ENTITIES: tuple[type[Entity], ...] = (
    ModelState, CountryState, LabState, FamilyState, PricePointState, LineState, FirmState
)


def specs(entity: type) -> tuple[StateSpec, ...]:
    """The declarations of one entity, in declaration order."""
    return tuple(v for v in vars(entity).values() if isinstance(v, StateSpec))


STATES: tuple[StateSpec, ...] = tuple(spec for entity in ENTITIES for spec in specs(entity))
STATE_NAMES: frozenset[str] = frozenset(spec.name for spec in STATES)


def _plan(spec: StateSpec) -> tuple[str, tuple[str, ...], Any, Any, int]:
    """How `allocate` makes a variable: (name, dims, dtype, init, kind), kind 0 an input (not made), 1 an
    array (np.empty, filled unless init is None: what np.full does), 2 a container from its factory,
    3 the value itself."""
    if spec.init is INPUT:
        return spec.name, spec.dims, spec.dtype, spec.init, 0
    if spec.is_array:
        return spec.name, spec.dims, spec.dtype, spec.init, 1
    return spec.name, spec.dims, spec.dtype, spec.init, 2 if callable(spec.init) else 3


_PLANS = tuple(_plan(spec) for spec in STATES)


def allocate(model: object) -> None:
    """Create every declared variable on `model` with its initial value (INPUT ones must be set)."""
    given = vars(model)
    shapes: dict[tuple[str, ...], tuple[int, ...]] = {}  # each dims' shape, read once (not once per variable)
    for name, dims, dtype, init, kind in _PLANS:
        if kind == 1:
            shape = shapes.get(dims)
            if shape is None:
                shape = shapes[dims] = tuple(int(getattr(model, DIMENSIONS[d])) for d in dims)
            value: Any = np.empty(shape, dtype=dtype)
            if init is not None:  # what np.full does, without its Python wrapper
                value.fill(init)
        elif kind == 2:  # a container: a fresh one per model
            value = init()
        elif kind == 3:
            value = init
        else:
            if name not in given:
                raise AttributeError(f"model state {name!r} is an input but was not set before allocation")
            continue
        setattr(model, name, value)


def check(model: object) -> list[str]:
    """Declared arrays whose dtype or shape differ from their declaration in this model."""
    problems = []
    for spec in STATES:
        value = vars(model).get(spec.name)
        if spec.is_array:
            if not isinstance(value, np.ndarray):
                problems.append(f"{spec.name}: {type(value).__name__}, declared an array")
                continue
            declared = np.dtype(spec.dtype)
            # strings: any length (the data decide it); numbers and booleans: exactly the declared dtype
            same_dtype = value.dtype.kind == "U" if declared.kind == "U" else value.dtype == declared
            if not same_dtype or value.shape != spec.shape(model):
                problems.append(f"{spec.name}: {value.dtype}{value.shape}, declared {declared}{spec.shape(model)}")
    return problems
