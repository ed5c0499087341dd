"""Tidy tables of a run: the time series, its summary over replicates, and the event log.

The column names and the `group` label format are part of the output contract
(see docs and `design.md`, "Outputs of `sim run`"). CSV bytes are deterministic: the same
data give byte-identical files whatever the input row order (rows are sorted on a total key,
floats are written with `%.10g`, lines end with LF, no index, no timestamps).

The world total's group is `world`. Files written before it had a name have an empty `group`,
which pandas reads as NaN: `read_table` (and every table built here) turns it into `world`.

`with_group_keys` adds one column per group key (`origin`, `openness`, `country`, `user_bloc`, ...,
every key of the metric registry's group families) parsed from `group`, for the wide CSV of
`sim run --wide` and the Parquet parts of `sim sweep`: `df[df.origin == "CN"]` instead of parsing
labels. A key a row is not split by is empty (NaN in pandas, NA in R); `group` stays as it is.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics_registry import METRICS, WORLD_GROUP, parsed_group

TIMESERIES_COLUMNS: list[str] = ["scenario", "replicate", "seed", "step", "date", "metric", "group", "value"]
SUMMARY_KEYS: list[str] = ["scenario", "step", "date", "metric", "group"]
SUMMARY_STATS: list[str] = ["mean", "median", "q10", "q90"]
SUMMARY_COLUMNS: list[str] = SUMMARY_KEYS + SUMMARY_STATS
EVENT_COLUMNS: list[str] = ["date", "rule_id", "kind", "event", "target", "sources"]

_TIMESERIES_ORDER = ["scenario", "replicate", "metric", "group", "step", "seed", "date", "value"]
_SUMMARY_ORDER = ["scenario", "metric", "group", "step"]
_EVENT_LEAD = ["scenario", "replicate", "seed", "step"]
_EVENT_ORDER = ["scenario", "replicate", "step", "date"]
FLOAT_FORMAT = "%.10g"
SOURCES_SEPARATOR = ";"


# --------------------------------------------------------------------------- helpers
def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; has {list(frame.columns)}")


def _ordered_columns(frame: pd.DataFrame, first: Sequence[str]) -> list[str]:
    """Contract columns first (those present), then any extra columns in their given order."""
    head = [c for c in first if c in frame.columns]
    return head + [c for c in frame.columns if c not in head]


def _clean_group(frame: pd.DataFrame) -> pd.DataFrame:
    """The world total of older files (an empty or missing group label) becomes `world`."""
    if "group" in frame.columns:
        old = frame["group"].isna() | (frame["group"] == "")
        if old.any():
            frame = frame.copy()
            frame["group"] = frame["group"].where(~old, WORLD_GROUP)
    return frame


def sort_rows(frame: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """Rows sorted on `keys` (those present) then every other column: a total, order-free sort."""
    by = [c for c in keys if c in frame.columns]
    by += [c for c in frame.columns if c not in by]
    if frame.empty or not by:
        return frame.reset_index(drop=True)
    sortable = frame.copy()
    for column in by:  # mixed/object columns (e.g. lists) sort by their text
        if sortable[column].dtype == object:
            sortable[column] = sortable[column].map(lambda v: "" if v is None else str(v))
    order = sortable.sort_values(by, kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- tables
def timeseries_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The time series in contract column order, sorted by scenario, replicate, metric, group, step."""
    _require(timeseries, TIMESERIES_COLUMNS, "timeseries")
    frame = _clean_group(timeseries)[_ordered_columns(timeseries, TIMESERIES_COLUMNS)]
    return sort_rows(frame, _TIMESERIES_ORDER)


def summarise(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Statistics over replicates per scenario, step, date, metric and group.

    Columns: scenario, step, date, metric, group, mean, median, q10, q90; q10/q90 are the
    10th/90th percentiles with numpy's default linear interpolation. Missing values (NaN) are
    skipped. Rows are sorted by scenario, metric, group, step.
    """
    _require(timeseries, ["scenario", "replicate", "step", "date", "metric", "group", "value"], "timeseries")
    frame = _clean_group(timeseries)
    if frame.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in SUMMARY_STATS else object) for c in SUMMARY_COLUMNS}
        )
    values = pd.to_numeric(frame["value"], errors="raise").astype(float)
    grouped = values.groupby([frame[k] for k in SUMMARY_KEYS], sort=False, dropna=False)
    stats = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "median": grouped.median(),
            "q10": grouped.quantile(0.1, interpolation="linear"),
            "q90": grouped.quantile(0.9, interpolation="linear"),
        }
    ).reset_index()
    stats = stats[SUMMARY_COLUMNS]
    stats = stats.sort_values([*_SUMMARY_ORDER, "date"], kind="stable").reset_index(drop=True)
    return stats


def _sources_text(value: object) -> object:
    """Claim ids as one CSV cell: lists/tuples joined by `;`, strings kept, missing kept."""
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        return SOURCES_SEPARATOR.join(str(v) for v in items)
    return value


def split_sources(value: object) -> list[str]:
    """Claim ids from an events `sources` cell: a list, or text separated by `;`, `,` or spaces."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [str(v) for v in value]
    text = str(value)
    for sep in (",", " "):
        text = text.replace(sep, SOURCES_SEPARATOR)
    return [part for part in text.split(SOURCES_SEPARATOR) if part]


def events_table(events: pd.DataFrame | None) -> pd.DataFrame:
    """The event log in a stable form for `events.csv`.

    Columns: scenario, replicate, seed, step (those present), then date, rule_id, kind, event,
    target, sources, then any others; `sources` lists become `D4.4;D4.6`. Rows are sorted by
    scenario, replicate, step/date with a stable sort, so the model's order of events within a
    quarter is kept. An empty log (even one without columns) keeps the header date, rule_id,
    kind, event, target, sources.
    """
    if events is None or (events.empty and len(events.columns) == 0):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    frame = events.copy()
    if "sources" in frame.columns:
        frame["sources"] = frame["sources"].map(_sources_text).astype(object)
    frame = frame[_ordered_columns(frame, [*_EVENT_LEAD, *EVENT_COLUMNS])]
    by = [c for c in _EVENT_ORDER if c in frame.columns]
    if frame.empty or not by:
        return frame.reset_index(drop=True)
    return frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)


def group_keys() -> list[str]:
    """Every key a group label can have, from the metric registry's group families, in registry order."""
    keys: list[str] = []
    for metric in METRICS:
        for family in metric.groups:
            keys += [key for key in family if key not in keys]
    return keys


def with_group_keys(frame: pd.DataFrame, *, categorical: bool = False) -> pd.DataFrame:
    """`frame` with one text column per group key (`group_keys()`), right after `group`, parsed from it.

    A row's value is empty (missing) for a key its group does not have; the world total has none.
    Keys found in labels but not in the registry (from newer files) are added after the known ones.
    `categorical=True` gives pandas categories of text (for Parquet: a dictionary column costs a
    byte or two per row, where ten text columns would cost more than the rest of the table).
    """
    _require(frame, ["group"], "table")
    frame = _clean_group(frame)
    codes, distinct = pd.factorize(frame["group"])  # each distinct label parsed once
    labels = distinct.tolist()
    parsed = {label: parsed_group(label) for label in labels}
    keys = group_keys()
    keys += sorted({k for pairs in parsed.values() for k in pairs} - set(keys))
    taken = [k for k in keys if k in frame.columns and k != "group"]
    if taken:
        raise ValueError(f"table already has column(s) {taken} named like group keys")
    columns: dict[str, Any] = {}
    if categorical:  # each key's codes from the group's: one pass over the rows, not one per key
        found: dict[str, dict[int, str]] = {key: {} for key in keys}  # key -> {distinct label's index: value}
        for i, label in enumerate(labels):
            for key, value in parsed[label].items():
                found[key][i] = value
        for key in keys:
            of_label = found[key]
            present = sorted(set(of_label.values()))
            position = {v: j for j, v in enumerate(present)}
            key_codes = np.full(max(len(labels), 1), -1, dtype=np.int64)  # -1: the label has no such key
            key_codes[list(of_label)] = [position[v] for v in of_label.values()]
            dtype = pd.CategoricalDtype(pd.Index(present, dtype="str"))
            # Codes built here are in range: pandas need not check the ~50,000 rows' codes again.
            columns[key] = pd.Categorical.from_codes(key_codes[codes], dtype=dtype, validate=False)
    else:
        for key in keys:
            values = frame["group"].map({label: pairs.get(key) for label, pairs in parsed.items()})
            columns[key] = values.astype(object)
    at = list(frame.columns).index("group") + 1
    head, tail = list(frame.columns[:at]), list(frame.columns[at:])
    return pd.concat([frame[head], pd.DataFrame(columns, index=frame.index), frame[tail]], axis=1)


# --------------------------------------------------------------------------- CSV
def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic CSV bytes: UTF-8, LF line endings, `%.10g` floats, no index."""
    columns = _csv_columns(frame)
    if columns is None:  # a column of another kind (dates, nullable integers, ...): pandas writes it
        buffer = io.StringIO()
        floats = {name: _float_texts(frame[name]) for name in frame.columns if _is_float(frame[name])}
        frame.assign(**floats).to_csv(buffer, index=False, lineterminator="\n")
        return buffer.getvalue().encode("utf-8")
    # Each distinct value is formatted and quoted once (a table of 50,000 rows has ~12,000 distinct
    # floats and ~1,600 distinct texts), then the rows are joined: pandas' own path converts its
    # Arrow-backed text to object arrays chunk by chunk and lets the csv module scan every cell.
    header = _csv_cells([str(name) for name in frame.columns])
    lines = [",".join(header), *map(",".join, zip(*columns, strict=True))]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _is_float(column: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(column.dtype)


def _float_texts(column: pd.Series) -> list[str]:
    """`%.10g` of each value, NaN as an empty field; each distinct value (bit pattern) formatted once."""
    values = column.to_numpy(dtype=np.float64)
    distinct, where = np.unique(values.view(np.int64), return_inverse=True)
    texts = np.array([FLOAT_FORMAT % v if v == v else "" for v in distinct.view(np.float64).tolist()], dtype=object)
    return texts[where].tolist()


def _csv_cells(texts: Sequence[str]) -> list[str]:
    """Each text as the csv module writes it in a row of several fields (quoted when it holds a comma,
    a quote or a line break; quotes doubled): the same dialect as pandas' `to_csv`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cells = []
    for text in texts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow((text, ""))  # a second, empty field: a lone empty field would be written `""`
        cells.append(buffer.getvalue()[:-2])
    return cells


def _csv_columns(frame: pd.DataFrame) -> list[list[str]] | None:
    """Each column as the cells `to_csv` would write (floats `%.10g`, missing text empty, text quoted
    as needed); None when a column is of a kind left to pandas (integers with missing values, dates,
    numbers among text, ...) or the frame has fewer than two columns."""
    if len(frame.columns) < 2 or frame.columns.duplicated().any():
        return None
    columns: list[list[str]] = []
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            columns.append(_float_texts(column))
            continue
        if not (isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind in "iubO")):
            return None
        codes, distinct = pd.factorize(column)  # missing values get code -1
        values = distinct.tolist()
        if dtype.kind == "O" and not all(type(v) is str for v in values):
            return None  # numbers or lists among the text: pandas' own formatting
        texts = np.array([*_csv_cells([str(v) for v in values]), ""], dtype=object)  # [-1]: missing, empty
        columns.append(texts[codes].tolist())
    return columns


def read_table(path: str | os.PathLike[str], dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a CSV written by this package; an empty `group` (a world total of older files) reads as `world`."""
    columns: dict[str, Any] = {"group": str, **(dict(dtypes) if dtypes else {})}
    frame = pd.read_csv(path, dtype=columns)
    return _clean_group(frame)
