"""The metrics of the output contract (design.md), recorded once per quarter.

Groups follow the contract: `key=value` pairs joined by `,` with keys in alphabetical order, `world`
for a world total. Adoption is measured on firms weighted by their size (`model.line_weight`).

AI use of a country: its AI-using firms, weighted by size, and its government, which counts as one
user with weight `parameters.countries.government_weight` (the firms together get the rest; a
country with only one of the two is all that one; with neither it has no AI use). Use is split by
the origin bloc of the release line and by its openness. Influence of bloc b is each country's use
on b-origin lines, summed over countries weighted by GDP (`weight=gdp`), population
(`weight=population`) or one country one vote (`weight=countries`). Regional aggregates (`XAF`, ...)
are weighted by their GDP or population like any row; for one country one vote an aggregate counts
as its population in median-sized economies (the median population of the countries that are not
aggregates), and never less than one: the data has no member counts, and Africa's 584 million
people then count as about 16 countries, not as one like Estonia. Influence splits into
`dependence` (use of b's closed lines, its labs' APIs, in countries of other blocs), `open_adoption`
(use of b's open-weights lines in countries of other blocs) and the bloc's use in its own
countries, which is not dependence. `government_use` counts governments the same way as
`weight=countries` does.

The group labels and the masks and weights they select do not change during a run, so they are
built once per model (`_Layout`, copied from the last model's when its inputs are the same); each
quarter the AI use is computed once (`_Use`), and so are the sums over the world, each region and each
user bloc that several reporters divide (`_Totals`). The values go straight into the model's value
column; the rows' metric and group codes are looked up only when a quarter's groups differ from the
last quarter's (`_Recorder`). Reporters whose inputs stay the same for several quarters (the origins of the
governments' lines, the labs' openness, the bans) reuse the values last computed from the same inputs. Every value
is the same operation on the same numbers as before these shortcuts: the tables are byte-identical
(benchmarks/identical.py).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.blocs import BLOCS, OPENNESS, REGIONS
from sim.metrics_registry import (
    COAUTHORSHIP_PAIR,
    GAP_PAIRS,
    INFLUENCE_WEIGHTS,
    METRICS,
    PROGRAMME_KINDS,
    SPLIT_WEIGHTS,
    group_label,
    rows_per_quarter,
)
from sim.model.labs import lag_months
from sim.model.metric_rows import GroupCoding, MetricRows

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

Reporter = Callable[["GeopoliticsModel", "_Layout", "Put"], None]
# `ndarray.sum` is this reduction behind a Python wrapper (numpy's `_methods._sum`): called directly, the same
# sums (~0.5 us less a call, ~20 calls a quarter)
_sum = np.add.reduce
# The ~1,000 labels of a layout are the same for every model of a world: built once per process, not
# once per replicate (a label is a sort and a join of its parts, checked for `,` and `=`).
_label = functools.lru_cache(maxsize=1 << 16)(group_label)


class Put:
    """Records values of one metric this quarter: `put(group, value)`, or `put.each(groups, values)`
    for many groups at once (the per-country groups are most of a quarter's rows). The values go
    straight into the model's value column (`sim.model.metric_rows`), the groups into the quarter's
    keys (`_Recorder`); the rows are made when `collect` has run every reporter."""

    def __init__(self, recorder: _Recorder, name: str) -> None:
        self.recorder, self.name = recorder, name
        self.code = recorder.rows.metric_code(name)

    def __call__(self, group: str, value: float | np.ndarray) -> None:
        recorder = self.recorder
        pos = recorder.pos
        if pos >= recorder.values.size:
            recorder.grow(1)
        recorder.values[pos] = float(value)
        recorder.pos = pos + 1
        recorder.keys.append(group)

    def each(self, groups: Sequence[str], values: np.ndarray) -> None:
        if not isinstance(values, np.ndarray):
            values = np.asarray(values, dtype=float)
        n = len(groups)
        if n != values.size:
            raise ValueError(f"{self.name}: {n} groups for {values.size} values")
        recorder = self.recorder
        pos = recorder.pos
        end = pos + n
        if end > recorder.values.size:
            recorder.grow(n)
        recorder.values[pos:end] = values if values.ndim == 1 else values.ravel()  # other dtypes cast as astype
        recorder.pos = end
        recorder.keys.append(groups)


# A model's first quarter codes its ~1,100 group labels (~0.4 ms); the next replicate of the scenario records the
# same keys (its layout's lists are the last one's, `_layout`) and takes the labels' order and codes from here:
# (metric labels, keys, the table's group coding after them, metric codes, group codes).
_FIRST_CODES: tuple[list[str], list[object], GroupCoding, np.ndarray, np.ndarray] | None = None


class _Recorder:
    """A model's metric rows, quarter by quarter (`begin`, the reporters' `Put`s, `end`). The values go in place
    into the value column; each row's metric and group are kept as keys (a metric's code, then the group label or
    label list of each `put`) and turned into codes only when they differ from the last quarter's: most quarters
    record the same groups in the same order (capability, the capability gaps and partners can vary), and
    looking ~60 labels and lists up, then joining the pieces, cost more than the values."""

    def __init__(self, rows: MetricRows, bound: int) -> None:
        self.rows = rows
        self.bound = bound  # the registry's bound on a quarter's rows: room made at `begin`
        self.values = np.empty(0)  # the value column's free places this quarter (`MetricRows.free`)
        self.pos = 0
        self.keys: list[object] = []
        # the keys of the last quarter whose codes were looked up, and their metric and group codes
        self.template: tuple[list[object], np.ndarray, np.ndarray] | None = None

    def begin(self) -> None:
        self.values = self.rows.free(self.bound)
        self.pos = 0
        self.keys = []

    def grow(self, rows: int) -> None:
        """More room than the registry's bound (a value count it does not foresee): the values so far move along."""
        old = self.values
        self.values = self.rows.free(max(2 * old.size, self.pos + rows))
        self.values[: self.pos] = old[: self.pos]

    def end(self, step: int, date: str) -> None:
        """Make the quarter's values rows of quarter `step`, in the order recorded."""
        keys, template = self.keys, self.template
        if template is None or template[0] != keys:
            template = self.template = (keys, *self._codes(keys))
        if template[2].size != self.pos:
            raise RuntimeError(f"metrics: {self.pos} values recorded for {template[2].size} groups")
        self.rows.commit(template[1], template[2], step, date)

    def _codes(self, keys: list[object]) -> tuple[np.ndarray, np.ndarray]:
        """Metric and group codes of the rows the keys describe; new group labels are coded in the order
        they appear, as they were recorded."""
        global _FIRST_CODES
        rows = self.rows
        first, last = not rows.groups, _FIRST_CODES  # (another model's thread may replace it meanwhile)
        if first and last is not None and last[0] == rows.metrics and last[1] == keys:
            # the same keys on a table with no groups yet code the same labels in the same order
            rows.adopt(last[2])
            return last[3], last[4]
        codes = self._look_up(keys)
        if first:
            _FIRST_CODES = (list(rows.metrics), keys, rows.coding(), *codes)
        return codes

    def _look_up(self, keys: list[object]) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows
        metrics: list[int] = []  # of each piece
        sizes: list[int] = []
        groups: list[np.ndarray | list[int]] = []  # a label list's codes, or the codes of labels put one by one
        single: list[int] | None = None
        metric = -1
        for key in keys:
            if isinstance(key, int):  # a metric's code: its rows follow
                metric, single = key, None
            elif isinstance(key, str):
                if single is None:
                    single = []
                    groups.append(single)
                    metrics.append(metric)
                    sizes.append(0)
                single.append(rows.group_code(key))
                sizes[-1] += 1
            else:
                single = None
                groups.append(rows.group_codes(key))  # type: ignore[arg-type]
                metrics.append(metric)
                sizes.append(len(groups[-1]))
        if not groups:
            return np.empty(0, np.int32), np.empty(0, np.int32)
        return np.repeat(np.array(metrics, np.int32), sizes), np.concatenate(groups).astype(np.int32, copy=False)


def country_weights(population: np.ndarray, is_aggregate: np.ndarray) -> np.ndarray:
    """How many countries each row counts as for one country one vote: 1 for an economy; for a
    regional aggregate its population in median-sized economies, at least 1 (see the module docstring)."""
    economies = population[~is_aggregate]
    if economies.size == 0:
        return np.ones_like(population)
    return np.where(is_aggregate, np.maximum(population / np.median(economies), 1.0), 1.0)


@dataclass(frozen=True)
class _RegionLabels:
    """The adoption groups of the world or of one region (the contract's `region=` crossing)."""

    rate: str
    openness: list[str]
    origin: list[str]
    cross: list[list[str]]  # origin x openness
    family: list[str]

    @property
    def shares(self) -> list[str]:
        """The adoption_share groups in the order `_adoption_share` records them."""
        return [*self.openness, *self.origin, *(label for row in self.cross for label in row), *self.family]


class _Layout:
    """The fixed part of the metrics of one model: group labels, and the country, family and lab
    masks and the country weights each group selects."""

    def __init__(self, model: GeopoliticsModel) -> None:
        self.regions: list[tuple[np.ndarray, dict[str, str]]] = [(np.ones(model.n_countries, bool), {})]
        self.regions += [(model.country_region == r, {"region": r}) for r in REGIONS]
        self.family_of_origin = {b: model.family_origin == b for b in BLOCS}
        self.adoption: list[_RegionLabels] = []
        for _, extra in self.regions:
            self.adoption.append(
                _RegionLabels(
                    rate=_label(**extra),
                    openness=[_label(openness=o, **extra) for o in OPENNESS],
                    origin=[_label(origin=b, **extra) for b in BLOCS],
                    cross=[[_label(openness=o, origin=b, **extra) for o in OPENNESS] for b in BLOCS],
                    family=[_label(family=str(f), **extra) for f in model.family_ids],
                )
            )
        self.adoption_shares = [labels.shares for labels in self.adoption]
        countries = [str(c) for c in model.country_ids]
        self.country = [_label(country=c) for c in countries]
        self.user_blocs = [model.country_bloc == u for u in BLOCS]
        # The same selections as row numbers (`_rows`): the world region selects every row and takes none.
        self.region_rows = [None if mask.all() else np.flatnonzero(mask) for mask, _ in self.regions]
        self.user_bloc_rows = [np.flatnonzero(mask) for mask in self.user_blocs]
        self.user_bloc = [_label(user_bloc=u) for u in BLOCS]
        # The world, each region, then each user bloc: the selections whose sums several reporters divide (`_Totals`)
        self.selections = [*self.region_rows, *self.user_bloc_rows]
        self.selection_index = selection_index(self.selections, model.n_countries)
        self.rates = [labels.rate for labels in self.adoption]
        self.all_shares = [label for labels in self.adoption_shares for label in labels]
        # Country x bloc (x openness) labels flattened row-major, as `ravel()` orders the values.
        self.country_origin = [_label(country=c, origin=b) for c in countries for b in BLOCS]
        self.country_openness = [_label(country=c, openness=o) for c in countries for o in OPENNESS]
        self.origin_user = [[_label(origin=b, user_bloc=u) for b in BLOCS] for u in BLOCS]
        self.openness_user = [[_label(openness=o, user_bloc=u) for o in OPENNESS] for u in BLOCS]
        self.class_user = [[*by_origin, *by_openness] for by_origin, by_openness in zip(
            self.origin_user, self.openness_user, strict=True)]
        self.all_class_user = [label for labels in self.class_user for label in labels]
        self.origin = [_label(origin=b) for b in BLOCS]
        self.labs_of_bloc = [(_label(bloc=b), model.lab_bloc == b) for b in BLOCS]
        self.labs_of_bloc = [(label, labs) for label, labs in self.labs_of_bloc if labs.any()]
        self.countries_of_bloc = [_label(bloc=b) for b in BLOCS]  # the user blocs' countries (`_Totals`)
        self.capability = [_label(family=str(f)) for f in model.family_ids]
        self.released: dict[bytes, list[str]] = {}  # `_capability`'s labels by the released families
        self.gaps = [(_label(pair=pair), sides) for pair, sides in GAP_PAIRS]
        self.coauthorship = _label(pair=COAUTHORSHIP_PAIR)
        self.programmes: dict[str, str] = {}  # `_partners`' labels by rule id
        self.banning = [  # bans are per release line: a ban on a family covers all its lines
            (_label(origin=b), model.line_origin == b) for b, of in self.family_of_origin.items() if of.any()
        ]
        self.banning_labels = [label for label, _ in self.banning]
        # line x origin, one-hot: whether a country bans any line of each origin is one boolean product (exact)
        self.banning_lines = np.stack([of_origin for _, of_origin in self.banning], axis=1) \
            if self.banning else np.zeros((model.n_lines, 0), bool)
        self.release_labels = [label for label, _ in self.labs_of_bloc]
        self.release_labs = np.stack([labs for _, labs in self.labs_of_bloc]) if self.labs_of_bloc \
            else np.zeros((0, len(model.lab_bloc)), bool)  # bloc x lab
        self.release_counts = self.release_labs.sum(axis=1)
        self.influence = {w: [_label(bloc=b, weight=w) for b in BLOCS] for w in INFLUENCE_WEIGHTS}
        self.bloc_country = [_label(bloc=b, country=c) for c in countries for b in BLOCS]
        self.alignment = [label for labels in model.alignment_labels for label in labels]  # country x bloc
        rows = model.world.countries
        population = np.array([c.population_m for c in rows], dtype=float)
        counts = country_weights(population, np.array([c.is_aggregate for c in rows], dtype=bool))
        self.counted = counts  # governments and one-country-one-vote count rows this way
        self.counted_total = counts.sum()
        self.counted_of_bloc = [(mine, mine.sum()) for mine in (counts.take(rows) for rows in self.user_bloc_rows)]
        # The per-country quantities summed over each selection (`_Totals`), one row each, filled every quarter;
        # the firms' use by class and the family weights side by side, and a row of -0.0 (`selection_index`)
        self.per_country = np.empty((len(_Totals.QUANTITIES), model.n_countries))
        self.by_class = _Totals.class_buffer(model.n_countries, len(BLOCS) * len(OPENNESS) + model.n_families)
        self.weights = {"gdp": model.gdp / model.gdp.sum(), "population": population / population.sum(),
                        "countries": counts / counts.sum()}
        # Line -> (origin, openness) class, one-hot: AI use by class is one matrix product a quarter.
        origin = np.array([BLOCS.index(str(b)) for b in model.line_origin])
        openness = np.where(model.line_open, OPENNESS.index("open"), OPENNESS.index("closed"))
        self.line_class = np.zeros((model.n_lines, len(BLOCS) * len(OPENNESS)))
        self.line_class[np.arange(model.n_lines), origin * len(OPENNESS) + openness] = 1.0
        # ... and a last row of zeros for no line: a government's class row is one take
        self.line_class_or_none = np.concatenate([self.line_class, np.zeros((1, self.line_class.shape[1]))])
        # line (and none) -> origin, one-hot: a government's origin row is a take too (the class row's sum over
        # openness: 0.0 and 1.0 exactly)
        self.line_origin_or_none = self.line_class_or_none.reshape(-1, len(BLOCS), len(OPENNESS)).sum(axis=2)
        self.foreign = model.country_bloc[:, None] != np.array(BLOCS)[None, :]  # country x bloc
        self.government_labels = [*self.origin, *(label for labels in self.origin_user for label in labels),
                                  *self.country_origin]
        # The values of reporters whose inputs stay the same for several quarters, with the inputs' bytes they were
        # computed from (each a pure function of them and of this layout's fixed arrays: layout copies may share them)
        self.government_values: tuple[bytes, np.ndarray] | None = None
        self.release_values: tuple[bytes, np.ndarray] | None = None
        self.banning_values: tuple[bytes, np.ndarray] | None = None
        self._use: _Use | None = None  # this quarter's, set by `collect` before the reporters run
        self._totals: _Totals | None = None  # this quarter's too
        self.recorder: tuple[_Recorder, list[Put]] | None = None  # the model's rows' (`_recorder`)

    def fresh(self) -> _Layout:
        """This layout for another model built from the same inputs: the labels, masks and weights shared (they are
        only read), the per-quarter state its own."""
        layout = copy.copy(self)
        layout.per_country = np.empty_like(self.per_country)
        layout.by_class = self.by_class.copy()
        layout._use = layout._totals = layout.recorder = None
        return layout

    @property
    def use(self) -> _Use:
        if self._use is None:
            raise RuntimeError("metrics: the quarter's AI use is read before `collect` computed it")
        return self._use

    @use.setter
    def use(self, value: _Use) -> None:
        self._use = value

    @property
    def totals(self) -> _Totals:
        if self._totals is None:
            raise RuntimeError("metrics: the quarter's sums are read before `collect` computed them")
        return self._totals

    @totals.setter
    def totals(self, value: _Totals) -> None:
        self._totals = value


class _Use:
    """This quarter's AI use, country x origin bloc x openness (`OPENNESS` order): size-weighted
    firm use, the firms' shares, the government's line, and both combined (see the module docstring)."""

    def __init__(self, model: GeopoliticsModel, layout: _Layout) -> None:
        shape = (model.n_countries, len(BLOCS), len(OPENNESS))
        self.size = model.size_by_country
        self.firms = (model.line_weight @ layout.line_class).reshape(shape)
        self.users = _sum(self.firms, (1, 2))
        have_firms = self.users > 0
        self.firm_share = self.firms / np.where(have_firms, self.users, 1.0)[:, None, None]
        has = model.government_line >= 0
        none = len(layout.line_class)  # the zero row
        self.government_row = np.where(has, model.government_line, none)  # in the layout's "or none" tables
        self.government = layout.line_class_or_none.take(self.government_row, axis=0) \
            .reshape(shape)
        gw = model.params.countries.government_weight
        weight_gov = (np.where(have_firms, gw, 1.0) * has)[:, None, None]
        weight_firms = (np.where(has, 1.0 - gw, 1.0) * have_firms)[:, None, None]
        total = weight_gov + weight_firms
        use = weight_gov * self.government + weight_firms * self.firm_share
        # np.zeros, not np.zeros_like (a Python function; use is a float64 C-ordered array either way): ~3 us
        self.combined = np.divide(use, total, out=np.zeros(use.shape), where=total > 0)


def selection_index(selections: Sequence[np.ndarray | None], countries: int) -> np.ndarray:
    """Place x selection (C-contiguous): down each column a selection's rows (None: all) in order, then `countries`
    (the row after the last country) to fill."""
    rows = [np.arange(countries) if picked is None else picked for picked in selections]
    index = np.full((max([1, *map(len, rows)]), len(rows)), countries, dtype=np.intp)
    for i, picked in enumerate(rows):
        index[: len(picked), i] = picked
    return index


class _Totals:
    """This quarter's sums over each selection of `_Layout.selections` (the world, each region, each user bloc),
    taken once for every reporter that divides them: `sums[selection, quantity]` for the `QUANTITIES` (the rows of
    `_Layout.per_country`), and `by_class[selection]` the firms' use by bloc and openness (8 columns) then by family;
    `rates` and `country_rates` the adoption rates by size and by count of each selection and each country.

    Exact as the reporters' own sums were: a sum along the last axis of a C-contiguous array is the pairwise sum of
    each row alone, and a sum along the first axis adds rows one after another in each column whatever the other
    columns (with at least two columns of each part: one column alone numpy sums pairwise, so the families are
    summed on their own then). The first-axis sums are one sum along the first axis of every selection's rows
    taken place by place (`selection_index`: place x selection x column, padded with -0.0, which changes no sum;
    numpy starts a sum at 0.0, so a selection with no rows still sums to 0.0): each step adds one place of every
    selection at once (~70 additions of ~130 numbers, where the middle axis of selection x place x column made
    ~500 of ~20: the same additions in the same order, in half the time); the last-axis ones stay one per
    selection, as padding would change how the pairwise sum splits its elements."""

    QUANTITIES = ("users", "size", "adopters", "firms", "compute")  # the rates divide 0 by 1 and 2 by 3

    @staticmethod
    def class_buffer(countries: int, columns: int) -> np.ndarray:
        """Countries x columns, and a last row of -0.0: adding it changes no sum (x + -0.0 is x, -0.0 included)."""
        buffer = np.empty((countries + 1, columns))
        buffer[-1] = -0.0
        return buffer

    def __init__(self, model: GeopoliticsModel, layout: _Layout, use: _Use) -> None:
        x = layout.per_country
        x[0], x[1], x[2], x[3], x[4] = use.users, use.size, model.adopters_by_country, model.firms_by_country, \
            model.compute
        self.sums = sums = np.empty((len(layout.selections), len(x)))
        for i, rows in enumerate(layout.selections):
            _sum(x if rows is None else x.take(rows, axis=1), 1, out=sums[i])
        # The adoption rates by size and by count (users / size, adopters / firms) of each selection and of each
        # country: one division for both (elementwise, so the bits of each pair divided alone), not one each
        self.rates = _ratio(sums[:, 0:4:2], sums[:, 1:4:2])  # selection x (by size, by count)
        self.country_rates = _ratio(x[0:4:2], x[1:4:2])  # (by size, by count) x country
        firms = use.firms.reshape(model.n_countries, -1)
        families = model.family_weight
        if families.shape[1] >= 2:
            # every selection's rows at once (place x selection x column), padded with the -0.0 row: summed along
            # the places, each column adds the selection's rows one after another, as its own take summed along
            # the first axis did
            both = layout.by_class
            both[:-1, : firms.shape[1]] = firms
            both[:-1, firms.shape[1] :] = families
            self.by_class = _sum(both.take(layout.selection_index, axis=0), 0)
        else:
            self.by_class = np.stack([
                np.concatenate([_rows(firms, rows).sum(axis=0), _rows(families, rows).sum(axis=0)])
                for rows in layout.selections
            ])


# The last layout built, with what it was built from (`_layout_inputs`): a run's or a sweep's replicates of one
# scenario have the same countries, families, labs and lines, so the next replicate copies it instead of building
# its ~1,100 labels and its masks again (~0.7 ms).
_LAST_LAYOUT: tuple[tuple[object, ...], _Layout] | None = None


def _layout_inputs(model: GeopoliticsModel) -> tuple[object, ...]:
    """Everything `_Layout` reads from the model, as comparable values."""
    arrays = (model.country_ids, model.country_region, model.country_bloc, model.family_ids, model.family_origin,
              model.lab_bloc, model.line_origin, model.line_open, model.gdp)
    return (
        *((a.dtype.str, a.shape, a.tobytes()) if a.dtype.kind != "O" else ("O", a.shape, tuple(a.tolist()))
          for a in (np.asarray(a) for a in arrays)),
        tuple(map(tuple, model.alignment_labels)),
        tuple((c.population_m, c.is_aggregate) for c in model.world.countries),
    )


def _layout(model: GeopoliticsModel) -> _Layout:
    global _LAST_LAYOUT
    layout = model.metrics_layout
    if layout is None:
        inputs = _layout_inputs(model)
        last = _LAST_LAYOUT
        if last is not None and last[0] == inputs:
            layout = last[1].fresh()
        else:
            layout = _Layout(model)
            _LAST_LAYOUT = (inputs, layout)
        model.metrics_layout = layout
    return layout


def collect(model: GeopoliticsModel) -> None:
    """Record this quarter's value of every registry metric, through the metric's reporter."""
    layout = _layout(model)
    layout.use = use = _Use(model, layout)
    layout.totals = _Totals(model, layout, use)
    recorder, puts = _recorder(model, layout)
    recorder.begin()
    keys = recorder.keys
    for metric, put in zip(METRICS, puts, strict=True):
        keys.append(put.code)
        REPORTERS[metric.name](model, layout, put)
    recorder.end(model.quarter - model.start, model.date)


def _recorder(model: GeopoliticsModel, layout: _Layout) -> tuple[_Recorder, list[Put]]:
    """The model's recorder and a `Put` per registry metric, made at the first quarter (or for new rows)."""
    rows = model.rows
    if layout.recorder is None or layout.recorder[0].rows is not rows:
        programmes = sum(rule.kind in PROGRAMME_KINDS for rule in model.engine.rules.values())
        per_quarter = rows_per_quarter(model.n_families, programmes, model.n_countries)
        if not rows.size:  # the whole run's rows at once: the registry's bound per quarter x the quarters
            rows.reserve(per_quarter * max(model.end - model.quarter + 1, 1))
        recorder = _Recorder(rows, per_quarter)
        layout.recorder = (recorder, [Put(recorder, metric.name) for metric in METRICS])
    return layout.recorder


# --------------------------------------------------------------------------- reporters
def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, the whole broadcast over the part's trailing axes; 0 where the whole is 0 (no firms, no users)."""
    if getattr(whole, "ndim", 0) == 0:  # one whole (most calls): the same division without broadcasting
        return part / whole if whole > 0 else np.zeros(np.shape(part))
    # the whole along the part's leading axes (every call here): the result has the part's shape, without asking
    # np.broadcast_shapes (~2 us)
    shape = part.shape if part.shape[: whole.ndim] == whole.shape else None
    whole = whole.reshape(whole.shape + (1,) * (part.ndim - whole.ndim))
    out = np.zeros(shape if shape is not None else np.broadcast_shapes(part.shape, whole.shape))
    return np.divide(part, whole, out=out, where=whole > 0)


def _sum_openness(values: np.ndarray) -> np.ndarray:
    """`np.add.reduce(values, 2)` of a country x bloc x openness array, as the additions that reduction makes: it
    starts from 0.0 and adds the closed then the open values (two numbers: no pairwise split), so the bits are the
    same, -0.0 included (tests/test_metrics_totals.py); two calls over country x bloc instead of a reduction whose
    inner loop runs over 2 numbers at a time (~2 us less)."""
    if values.shape[2] != 2:
        return _sum(values, 2)
    total = 0.0 + values[:, :, 0]
    total += values[:, :, 1]
    return total


def _rows(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """`values[mask]` for the country mask `rows` was made from: the same rows in the same order, so their
    sums are the same bits, taken by number (about half the cost of a boolean mask at these sizes); None: all."""
    return values if rows is None else values.take(rows, axis=0)


def _adoption_rate(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    # Firms weighted by size: the adoption metrics read as shares of economic activity, not counts
    # of firms (which Eurostat and the US Census report).
    totals = layout.totals
    _put_rates(layout, put, totals.rates[:, 0], totals.country_rates[0])


def _adoption_rate_firms(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    # Firms counted, not weighted: the quantity Eurostat and the US Census BTOS publish.
    totals = layout.totals
    _put_rates(layout, put, totals.rates[:, 1], totals.country_rates[1])


def _put_rates(layout: _Layout, put: Put, of_selection: np.ndarray, of_country: np.ndarray) -> None:
    """The world's and regions' rates, each country's, then each user bloc's (`_Layout.selections` order)."""
    regions = len(layout.region_rows)
    put.each(layout.rates, of_selection[:regions])
    put.each(layout.country, of_country)
    put.each(layout.user_bloc, of_selection[regions:])


def _adoption_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    use, totals = layout.use, layout.totals
    regions = len(layout.region_rows)
    # selection x (bloc x openness, then family): firm use over the selection's users
    shares = _ratio(totals.by_class, totals.sums[:, 0])
    by_class = shares[:, : len(BLOCS) * len(OPENNESS)].reshape(-1, len(BLOCS), len(OPENNESS))
    on_openness = _sum(by_class, 1)  # selection x openness, each over the blocs
    on_origin = _sum(by_class, 2)  # selection x bloc
    # openness, origin, origin x openness, family (`_RegionLabels.shares`) of each region in turn
    put.each(layout.all_shares, np.concatenate(
        [on_openness[:regions], on_origin[:regions], shares[:regions]], axis=1).ravel())
    share = use.firm_share  # country x bloc x openness
    put.each(layout.country_origin, _sum_openness(share).ravel())
    put.each(layout.country_openness, _sum(share, 1).ravel())
    # origin then openness of each user bloc in turn (`_Layout.class_user`)
    put.each(layout.all_class_user, np.concatenate([on_origin[regions:], on_openness[regions:]], axis=1).ravel())


def _influence(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    by_origin = _sum_openness(layout.use.combined)  # country x bloc
    for weight, labels in layout.influence.items():
        put.each(labels, layout.weights[weight] @ by_origin)


def _split(layout: _Layout, openness: str) -> np.ndarray:
    """Country x bloc: AI use on the bloc's lines of this openness in countries of other blocs."""
    return layout.use.combined[:, :, OPENNESS.index(openness)] * layout.foreign


def _dependence(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    dependence = _split(layout, "closed")
    for weight in SPLIT_WEIGHTS:
        put.each(layout.influence[weight], layout.weights[weight] @ dependence)
    put.each(layout.bloc_country, dependence.ravel())


def _open_adoption(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    adoption = _split(layout, "open")
    for weight in SPLIT_WEIGHTS:
        put.each(layout.influence[weight], layout.weights[weight] @ adoption)


def _government_use(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    on_origin = layout.line_origin_or_none.take(layout.use.government_row, axis=0)  # country x bloc, one-hot
    # The values depend only on the origins of the governments' lines, which stay the same in about half the
    # quarters (the lines themselves in about a quarter): the last origins' values are reused as they are (the same
    # products of the same numbers), keyed on the origins' one-hot rows.
    key = on_origin.tobytes()
    last = layout.government_values
    if last is None or last[0] != key:
        parts = [layout.counted @ on_origin / layout.counted_total]
        for rows, (mine, total) in zip(layout.user_bloc_rows, layout.counted_of_bloc, strict=True):
            parts.append(_ratio(mine @ on_origin.take(rows, axis=0), total))
        parts.append(on_origin.ravel())
        last = layout.government_values = (key, np.concatenate(parts))
    # the world's by origin, each user bloc's by origin, each country's by origin (`_Layout.government_labels`)
    put.each(layout.government_labels, last[1])


def _release_open_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    # The share of a bloc's labs releasing open weights: a count over the bloc's labs, divided as `mean` divides
    # (the float of a count of 0s and 1s, exact, over the number of labs), for all blocs at once.
    # (the labs' openness changes a few times a run: the shares of the last openness reused, keyed on it)
    key = model.lab_open.tobytes()
    last = layout.release_values
    if last is None or last[0] != key:
        opened = _sum(layout.release_labs & model.lab_open, 1)  # integers (int64): np.count_nonzero's counts
        last = layout.release_values = (key, opened / layout.release_counts)
    put.each(layout.release_labels, last[1])


def _compute_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    sums = layout.totals.sums[:, _Totals.QUANTITIES.index("compute")]  # the world's first, the user blocs' last
    total = sums[0]
    put.each(layout.countries_of_bloc, sums[-len(BLOCS):] / total)
    put.each(layout.country, model.compute / total)


def _capability(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    released = model.released
    # the labels of the released families, one list per set of them (a few a run), in family order
    labels = layout.released.get(key := released.tobytes())
    if labels is None:
        labels = layout.released[key] = [layout.capability[f] for f in np.flatnonzero(released)]
    put.each(labels, model.capability[released])


def _capability_gap_months(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for label, (trailer, leader) in layout.gaps:
        lag = lag_months(model, trailer, leader)
        if math.isfinite(lag):
            put(label, lag)


def _coauthorship_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    put(layout.coauthorship, model.coauthorship_share)


def _countries_banning(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    banned = model.policy.banned_government  # government bans include every ban for all users
    # (bans change a few times a run: the counts of the last bans reused, keyed on them)
    key = banned.tobytes()
    last = layout.banning_values
    if last is None or last[0] != key:
        # country x origin: the country bans some of the origin's lines (a boolean product: or of ands)
        bans = banned @ layout.banning_lines
        last = layout.banning_values = (key, _sum(bans, 0))  # integers (int64): np.count_nonzero's counts
    put.each(layout.banning_labels, last[1])


def _partners(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    labels = layout.programmes
    for rule_id, effect in model.engine.effects.items():
        if effect.rule.kind in PROGRAMME_KINDS:
            label = labels.get(rule_id)
            if label is None:
                label = labels[rule_id] = _label(program=rule_id)
            put(label, effect.partner_count())


def _alignment(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    # bloc=<bloc>,country=<ISO3>: the model state that `sim.model.alignment` moves (row-major)
    put.each(layout.alignment, model.alignment.ravel())


# How each registry metric is computed, keyed by the registry's names (tests/test_model.py checks both agree).
REPORTERS: dict[str, Reporter] = {
    "adoption_rate": _adoption_rate,
    "adoption_rate_firms": _adoption_rate_firms,
    "adoption_share": _adoption_share,
    "influence": _influence,
    "dependence": _dependence,
    "open_adoption": _open_adoption,
    "government_use": _government_use,
    "release_open_share": _release_open_share,
    "compute_share": _compute_share,
    "capability": _capability,
    "capability_gap_months": _capability_gap_months,
    "coauthorship_share": _coauthorship_share,
    "countries_banning": _countries_banning,
    "partners": _partners,
    "alignment": _alignment,
}


def use_by_origin(model: GeopoliticsModel) -> np.ndarray:
    """Country x bloc: share of each country's AI use (firms size-weighted, and the government) on
    each bloc's models, as the influence metric counts it (see the module docstring)."""
    return _Use(model, _layout(model)).combined.sum(axis=2)
