"""The metric rows of one model: (step, date, metric, group, value), kept in preallocated arrays.

A default-size replicate records ~50,000 rows (~1,530 a quarter, most of them per-country groups).
As Python tuples that cost more than the quarters' arithmetic, and turning them into a table cost
more again, so the rows are columns: the value, the step, and the metric and group as codes into
label lists that grow as new labels appear. The capacity comes from the metric registry
(`sim.metrics_registry.rows_per_quarter` x the run's quarters), so a run allocates once; a model
stepped past its planned quarters grows the arrays.

`MetricRows` still reads as the sequence of tuples the model used to keep (`model.rows[i]`,
iteration, `==`), and `frame()` builds the replicate's table from the columns in one go. The metrics
phase writes a quarter's values in place (`free`) and gives them their codes at once (`commit`);
replicates of a scenario share their text columns' strings (`_decoded`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Row = tuple[int, str, str, str, float]
# A table's group labels, their codes, and the codes of label lists seen (`MetricRows.coding`)
GroupCoding = tuple[list[str], dict[str, int], dict[int, tuple[Sequence[str], np.ndarray]]]
ROW_COLUMNS = ["step", "date", "metric", "group", "value"]


def string_column(codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """`labels[codes]` as pandas' string column (the `str` dtype a frame of Python strings gets),
    decoded from a dictionary array: a third of the cost of converting an object array."""
    import pandas as pd
    import pyarrow as pa  # no stubs or py.typed: ignored for mypy in pyproject.toml

    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(labels), pa.large_string()))
    return pd.array(dictionary.dictionary_decode(), dtype=pd.StringDtype(na_value=np.nan))


# The last column decoded for each column name: (labels, codes, column). Replicates of one scenario record the same
# metrics and groups in the same order (only the values differ), so their text columns are the same strings: a
# sweep's or a run's next replicate reuses them instead of decoding ~50,000 strings again (pandas keeps Arrow
# strings immutable, so frames can share them).
_DECODED: dict[str, tuple[list[str], np.ndarray, pd.api.extensions.ExtensionArray]] = {}


def _decoded(name: str, codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """`string_column(codes, labels)`, or the same column decoded last time for `name` if codes and labels are
    equal; each caller gets its own column object (a shallow copy: setting a cell in one frame replaces that
    frame's Arrow array, never the shared one)."""
    last = _DECODED.get(name)
    if last is not None and last[0] == labels and np.array_equal(last[1], codes):
        return last[2].copy()
    column = string_column(codes, labels)
    _DECODED[name] = (list(labels), codes.copy(), column)
    return column.copy()


class MetricRows(Sequence[Row]):
    """Metric rows as columns (see the module docstring); reads as a sequence of (step, date,
    metric, group, value) tuples."""

    def __init__(self) -> None:
        self.size = 0
        self._step = np.empty(0, np.int64)
        self._metric = np.empty(0, np.int32)
        self._group = np.empty(0, np.int32)
        self._value = np.empty(0, np.float64)
        self.metrics: list[str] = []
        self.groups: list[str] = []
        self.dates: dict[int, str] = {}
        self._metric_codes: dict[str, int] = {}
        self._group_codes: dict[str, int] = {}
        # Label lists seen before (the metrics layout's, fixed for a run) -> their codes; the list is
        # kept with its codes so a list freed and another allocated at its address is not mistaken for it.
        self._list_codes: dict[int, tuple[Sequence[str], np.ndarray]] = {}

    # -- writing ---------------------------------------------------------------------------------
    def reserve(self, rows: int) -> None:
        """Make room for `rows` more rows (doubling at least, so growing row by row stays cheap)."""
        need = self.size + rows
        if need <= self._value.size:
            return
        capacity = max(need, 2 * self._value.size)
        for name in ("_step", "_metric", "_group", "_value"):
            old = getattr(self, name)
            new = np.empty(capacity, old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def metric_code(self, metric: str) -> int:
        code = self._metric_codes.get(metric)
        if code is None:
            code = self._metric_codes[metric] = len(self.metrics)
            self.metrics.append(metric)
        return code

    def group_code(self, group: str) -> int:
        code = self._group_codes.get(group)
        if code is None:
            code = self._group_codes[group] = len(self.groups)
            self.groups.append(group)
        return code

    def coding(self) -> GroupCoding:
        """A copy of how the group labels are coded so far, for another table to `adopt`."""
        return list(self.groups), dict(self._group_codes), dict(self._list_codes)

    def adopt(self, coding: GroupCoding) -> None:
        """Code the group labels as `coding` (from `coding()`) does: a table with no groups yet then gives every
        label the code the other table gave it (label lists coded there are not looked up again)."""
        if self.groups:
            raise ValueError(f"metric rows: {len(self.groups)} groups coded already")
        groups, codes, lists = coding
        self.groups, self._group_codes, self._list_codes = list(groups), dict(codes), dict(lists)

    def group_codes(self, groups: Sequence[str]) -> np.ndarray:
        """The codes of a list of group labels; a list seen before is looked up once, not label by label."""
        seen = self._list_codes.get(id(groups))
        if seen is not None and seen[0] is groups and len(seen[1]) == len(groups):
            return seen[1]
        known = self._group_codes
        # new labels get the next codes in the order they first appear (as `group_code` one by one would give
        # them); then every label is looked up by the dict's own method, not a Python call per label
        new = [g for g in dict.fromkeys(groups) if g not in known]
        if new:
            known.update(zip(new, range(len(self.groups), len(self.groups) + len(new)), strict=True))
            self.groups.extend(new)
        codes = np.fromiter(map(known.__getitem__, groups), dtype=np.int32, count=len(groups))
        if isinstance(groups, list):  # a tuple or a generator's list may be built anew each call
            self._list_codes[id(groups)] = (groups, codes)
        return codes

    def write(self, metric: np.ndarray | int, groups: np.ndarray | int, values: np.ndarray | float) -> None:
        """Append rows: their metric codes (one for all, or one each), `groups` codes (one or many) and their
        `values`; `stamp` gives them their step once the quarter's rows are all written."""
        start = self.size
        if isinstance(groups, np.ndarray):
            end = start + groups.size
            if end > self._value.size:
                self.reserve(groups.size)
            self._group[start:end] = groups
            self._value[start:end] = values
            self._metric[start:end] = metric
        else:  # one row: scalar stores, no slices
            end = start + 1
            if end > self._value.size:
                self.reserve(1)
            self._group[start] = groups
            self._value[start] = values
            self._metric[start] = metric
        self.size = end

    def free(self, rows: int) -> np.ndarray:
        """The value column's next `rows` places (room made first) for values written there in place; `commit`
        then makes them rows. Growing the columns later copies only committed rows."""
        self.reserve(rows)
        return self._value[self.size : self.size + rows]

    def commit(self, metrics: np.ndarray, groups: np.ndarray, step: int, date: str) -> None:
        """The next `groups.size` rows, whose values are in place (`free`), have these metric and group codes
        and are the quarter `step` (labelled `date`)."""
        start = self.size
        end = start + groups.size
        if end > self._value.size:
            raise ValueError(f"metric rows: {groups.size} rows committed with room for {self._value.size - start}")
        self._metric[start:end] = metrics
        self._group[start:end] = groups
        self._step[start:end] = step
        self.dates[step] = date
        self.size = end

    def stamp(self, first: int, step: int, date: str) -> None:
        """Rows `first` to the last written are the quarter `step` (labelled `date`)."""
        self._step[first : self.size] = step
        self.dates[step] = date

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return list(self)[index]
        i = range(self.size)[index]  # IndexError and negative indices as a list has them
        step = int(self._step[i])
        return (step, self.dates[step], self.metrics[self._metric[i]], self.groups[self._group[i]],
                float(self._value[i]))

    def __iter__(self) -> Iterator[Row]:
        n = self.size
        steps = self._step[:n].tolist()
        metrics, groups, dates = self.metrics, self.groups, self.dates
        return iter(
            [(s, dates[s], metrics[m], groups[g], v) for s, m, g, v in zip(
                steps, self._metric[:n].tolist(), self._group[:n].tolist(), self._value[:n].tolist(), strict=True)]
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricRows | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"MetricRows({self.size} rows, {len(self.metrics)} metrics, {len(self.groups)} groups)"

    def frame(self, **constants: str | int) -> pd.DataFrame:
        """The rows as a table: columns step, date, metric, group, value, in the order recorded,
        after a column for each of `constants` (`scenario=..., replicate=..., seed=...`: the same
        value on every row; text as strings, numbers as int64)."""
        import pandas as pd

        clash = [name for name in constants if name in ROW_COLUMNS]
        if clash:
            raise ValueError(f"metric rows: constant column(s) {clash} would replace the rows' own {ROW_COLUMNS}")
        n = self.size
        steps = self._step[:n].copy()
        known = sorted(self.dates)
        if known and known[-1] - known[0] + 1 == len(known):  # quarters 0..k (always, in a run): integers, exact
            date_codes = (steps - known[0]).astype(np.int32)
        else:
            date_codes = np.searchsorted(np.array(known, dtype=np.int64), steps).astype(np.int32)
        columns: dict[str, object] = {
            name: _decoded(f"constant {name}", np.zeros(n, np.int32), [value]) if isinstance(value, str)
            else np.full(n, value, dtype=np.int64)
            for name, value in constants.items()
        }
        columns.update(
            step=steps,
            date=_decoded("date", date_codes, [self.dates[s] for s in known]),
            metric=_decoded("metric", self._metric[:n], self.metrics),
            group=_decoded("group", self._group[:n], self.groups),
            value=self._value[:n].copy(),
        )
        # copy=False: the columns are this frame's own already (a dict's columns are copied by default). The dict's
        # keys are the columns in order (`constants`, then `ROW_COLUMNS`): naming them again in `columns=` made
        # pandas build a second index of the names and look each column up in it (~60 us a replicate)
        return pd.DataFrame(columns, copy=False)
