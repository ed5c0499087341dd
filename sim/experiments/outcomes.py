"""Outcomes: one number per run, from one metric's series in one group.

Reducers: `value` at a quarter; over a window (the whole run by default) `mean`, `min`, `max`,
`initial`, `final`, `change` (final - initial) and `first_crossing` (the first quarter the series
is at or past a threshold, as a decimal year: 2027Q2 -> 2027.25; empty when it never crosses).
A series missing from a run gives an empty value (NaN), never an error.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.schema import Outcome, quarter_year
from sim.metrics_registry import WORLD_GROUP, normalise_group
from sim.quarters import parse_quarter


@functools.lru_cache(maxsize=1024)
def _ordinal(date: str) -> int:
    """`parse_quarter`, remembered: every run's outcomes parse the same few dozen dates."""
    return parse_quarter(date)


def reduce_series(dates: Sequence[str], values: np.ndarray, outcome: Outcome) -> float:
    """The outcome of one series given in time order."""
    if not dates:
        return math.nan
    ordinals = np.array([_ordinal(d) for d in dates])
    if outcome.at is not None:
        hit = np.flatnonzero(ordinals == parse_quarter(outcome.at))
        return float(values[hit[0]]) if hit.size else math.nan
    if outcome.window is not None:
        inside = (ordinals >= parse_quarter(outcome.window[0])) & (ordinals <= parse_quarter(outcome.window[1]))
        dates = [d for d, keep in zip(dates, inside, strict=True) if keep]
        values = values[inside]
    if values.size == 0:
        return math.nan
    reducer = outcome.reducer
    if reducer == "first_crossing":
        crossed = values >= outcome.threshold if outcome.direction == "above" else values <= outcome.threshold
        hit = np.flatnonzero(crossed)
        return quarter_year(dates[hit[0]]) if hit.size else math.nan
    reduced = {
        "mean": lambda v: v.mean(),
        "min": lambda v: v.min(),
        "max": lambda v: v.max(),
        "initial": lambda v: v[0],
        "final": lambda v: v[-1],
        "change": lambda v: v[-1] - v[0],
    }[reducer](values)
    return float(reduced)


def compute_outcomes(timeseries: pd.DataFrame, outcomes: Mapping[str, Outcome]) -> dict[str, float]:
    """Every outcome of one run from its tidy timeseries (one replicate)."""
    picked = _picked_in_arrow(timeseries, outcomes)
    if picked is not None:
        values = timeseries["value"].to_numpy(dtype=float)
        return {name: reduce_series(picked[name][1], values[picked[name][0]], outcome)
                for name, outcome in outcomes.items()}
    result = {}
    of_metric: dict[str, np.ndarray] = {}  # metric -> its rows (by number, in table order)
    for name, outcome in outcomes.items():
        rows = of_metric.get(outcome.metric)
        if rows is None:  # the metric's column compared once per metric, the groups only on its rows
            rows = of_metric[outcome.metric] = np.flatnonzero(
                np.asarray(timeseries["metric"] == outcome.metric, dtype=bool))
        wanted = normalise_group(outcome.group)
        groups = timeseries["group"].array.take(rows)
        match = np.asarray(groups == wanted, dtype=bool)  # whole columns: normalising each label cost more
        if wanted == WORLD_GROUP:  # the world total as files written before it had a name hold it ("" or missing)
            match = match | np.asarray(groups.isna() | (groups == ""), dtype=bool)
        # The series' rows in step order (as `sort_values("step")` orders them), and only their cells taken:
        # selecting whole rows of the ~19-column table cost more than the rest of a run's outcomes.
        chosen = rows[match]
        steps = timeseries["step"].to_numpy()[chosen]
        chosen = chosen[np.argsort(steps, kind="quicksort")] if steps.size > 1 else chosen
        dates = [str(d) for d in timeseries["date"].array.take(chosen).tolist()]
        result[name] = reduce_series(dates, timeseries["value"].to_numpy(dtype=float)[chosen], outcome)
    return result


def _arrow_text(column: pd.Series) -> Any:
    """The Arrow strings inside a text column of pyarrow storage (a replicate's, or one read from Parquet);
    None for any other column."""
    import pyarrow as pa

    dtype = column.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    array = pa.array(column.array)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _picked_in_arrow(timeseries: pd.DataFrame, outcomes: Mapping[str, Outcome]
                     ) -> dict[str, tuple[np.ndarray, tuple[str, ...]]] | None:
    """Each outcome's rows in step order and their dates, found with Arrow's kernels on the text columns
    (the same rows `compute_outcomes` picks with pandas' operators, without their ~1 ms a run); None when
    a text column is not of Arrow strings, or a picked date is missing: pandas' way then."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not {"metric", "group", "date", "step"} <= set(timeseries.columns):
        return None
    metric, group, date = (_arrow_text(timeseries[c]) for c in ("metric", "group", "date"))
    if metric is None or group is None or date is None:
        return None
    step = timeseries["step"].to_numpy()
    # Which rows are picked depends on these columns and the outcomes' metrics and groups only: the runs of a sweep
    # share them, so the last run's picks are reused when they are equal (~0.1 ms against ~0.8 ms).
    asked = tuple((name, outcome.metric, outcome.group) for name, outcome in outcomes.items())
    known = _LAST_PICKED[:]  # one read: a Dask worker's threads may replace it meanwhile
    if known:
        columns, last_step, last_asked, last_picked = known[0]
        if last_asked == asked and all(new is old or new.equals(old) for new, old in
                                       zip((metric, group, date), columns, strict=True)) \
                and np.array_equal(step, last_step):
            return last_picked
    of_metric: dict[str, np.ndarray] = {}
    picked = {}
    for name, outcome in outcomes.items():
        rows = of_metric.get(outcome.metric)
        if rows is None:  # a missing metric is not equal: as pandas' `==` has it
            equal = pc.fill_null(pc.equal(metric, pa.scalar(outcome.metric, metric.type)), False)
            rows = of_metric[outcome.metric] = np.flatnonzero(equal.to_numpy(zero_copy_only=False))
        wanted = normalise_group(outcome.group)
        groups = group.take(pa.array(rows))
        match = pc.fill_null(pc.equal(groups, pa.scalar(wanted, group.type)), False)
        if wanted == WORLD_GROUP:  # the world total as files written before it had a name hold it ("" or missing)
            old = pc.or_(pc.is_null(groups), pc.fill_null(pc.equal(groups, pa.scalar("", group.type)), False))
            match = pc.or_(match, old)
        chosen = rows[match.to_numpy(zero_copy_only=False)]
        steps = step[chosen]
        chosen = chosen[np.argsort(steps, kind="quicksort")] if steps.size > 1 else chosen
        dates = date.take(pa.array(chosen))
        if dates.null_count:
            return None
        chosen.flags.writeable = False  # shared with the next runs that reuse these picks
        picked[name] = (chosen, tuple(dates.to_pylist()))
    step = step.copy()  # kept to compare the next run's with: the frame's own could change
    step.flags.writeable = False
    _LAST_PICKED[:] = [((metric, group, date), step, asked, picked)]
    return picked


# [((metric, group, date columns), step column, the outcomes' (name, metric, group), what was picked)]: the last run's
_LAST_PICKED: list[tuple[tuple[Any, Any, Any], np.ndarray, tuple[tuple[str, str, str], ...],
                         dict[str, tuple[np.ndarray, tuple[str, ...]]]]] = []
