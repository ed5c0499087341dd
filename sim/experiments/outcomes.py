"""Outcomes: one number per run, from one metric's series in one group.

Reducers: `value` at a quarter; over a window (the whole run by default) `mean`, `min`, `max`,
`initial`, `final`, `change` (final - initial) and `first_crossing` (the first quarter the series
is at or past a threshold, as a decimal year: 2027Q2 -> 2027.25; empty when it never crosses).
A series missing from a run gives an empty value (NaN), never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.experiments.schema import Outcome, quarter_year
from sim.metrics_registry import WORLD_GROUP, normalise_group
from sim.quarters import parse_quarter


def reduce_series(dates: list[str], values: np.ndarray, outcome: Outcome) -> float:
    """The outcome of one series given in time order."""
    if not dates:
        return math.nan
    ordinals = np.array([parse_quarter(d) for d in dates])
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
        picked = rows[match]
        steps = timeseries["step"].to_numpy()[picked]
        picked = picked[np.argsort(steps, kind="quicksort")] if steps.size > 1 else picked
        dates = [str(d) for d in timeseries["date"].array.take(picked).tolist()]
        result[name] = reduce_series(dates, timeseries["value"].to_numpy(dtype=float)[picked], outcome)
    return result
