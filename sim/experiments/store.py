"""The sweep's folder: runs streamed to disk as they finish, so a sweep can stop anywhere and resume.

```
OUT/experiment.yaml          the experiment file as given (with the command line's --set)
OUT/scenario.resolved.yaml   the base scenario after `set:` and --set
OUT/design.csv               every design point and policy with the values it sets
OUT/runs.csv                 one row per run: run_id, design_point, policy, values, replicate, seed,
                             status, error, outcomes
OUT/timeseries/<run_id>.parquet   each finished run's tidy timeseries, with a run_id column and the
                             group's keys as columns (origin, country, ...: sim.outputs.tables.with_group_keys)
OUT/errors/<run_id>.txt      the traceback of a run that failed
OUT/parts.index.jsonl        one line per stored part: run_id, sha256, rows (appended as parts are stored)
OUT/folder.json              whose folder this is (sim/outputs/folder.py: a sweep of which experiment file)
OUT/manifest.json            written last, once every run is ok
```

Crash safety: a run's Parquet part is written atomically (temporary name, fsync, rename) before
its row is appended to runs.csv with a single `write` of one whole line, so a row always has its
data. The worker that ran the run writes the part itself when it sees this folder (local workers,
a Dask worker on the same machine: `executors.PartFolder`) and returns only its sha256 and row
count; otherwise (a Dask worker on another machine) it sends the table back and this process
writes it. Either way the index line and the row are appended here, in that order, after the part
is in place. A part without a row (stopped between the two) is simply run again. On opening, runs.csv
is rewritten (atomically) with the rows to keep: finished (`ok`) runs of the current plan whose
part verifies, one per run id; a torn last line from a power cut is dropped.

Nothing is reused on trust: a part is kept only when its sha256 and row count match its line in
parts.index.jsonl (appended after the part is in place, before its row), and a row only when its
outcomes are numbers. A damaged part, row or runs.csv line means that run is run again (one note
says so); a damaged index is rebuilt from the parts that read back whole with their own run id.
The manifest is removed only after the new runs.csv and index are in place. When every run is
done, runs.csv is rewritten in design order, so it does not depend on finishing order.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.executors import STATUS_OK, RunOutput
from sim.experiments.outcomes import compute_outcomes
from sim.experiments.schema import RESERVED_COLUMNS, Outcome
from sim.metrics_registry import parsed_group
from sim.outputs.atomic import atomic_path, atomic_unlink, atomic_write_bytes, remove_stale_temporaries
from sim.outputs.manifest import MANIFEST_NAME
from sim.outputs.tables import group_keys, with_group_keys

RUNS_NAME, PARTS_DIR, ERRORS_DIR, INDEX_NAME = "runs.csv", "timeseries", "errors", "parts.index.jsonl"
_RUN_ID = re.compile(r"^[0-9a-f]{16}$")  # what plan.run_id gives: a part named so is one a sweep wrote


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_rows(path: Path, run_id: str | None = None) -> int | None:
    """Rows of a Parquet part that reads back whole (with only `run_id` in its run_id column); else None."""
    import pyarrow.parquet as pq

    try:
        rows = int(pq.ParquetFile(path).metadata.num_rows)
        if run_id is None:
            return rows
        ids = pq.read_table(path, columns=["run_id"]).column("run_id").unique().to_pylist()
    except Exception:  # pyarrow raises many kinds for a damaged file; all mean "damaged"
        return None
    return rows if ids in ([run_id], []) else None


def write_part(path: str | os.PathLike[str], timeseries: pd.DataFrame, run_id: str | None = None) -> dict[str, Any]:
    """Store one run's timeseries (with its run_id column) atomically at `path`; return its sha256 and rows.

    Called by the worker that ran the run when it sees the sweep's folder, else by the sweep's process:
    the same bytes either way. The bytes are those of `with_group_keys(timeseries, categorical=True)
    .to_parquet(path, index=False)`; a replicate's table is turned into Arrow directly (`part_table`) and
    encoded in memory (`_parquet_bytes`), anything else goes through pandas. `run_id`, when given, is the
    value of a run_id column put first (the worker's way: the frame is left as it is, and the column is made
    in Arrow, ~0.8 ms less than inserting it into the frame and checking it back)."""
    if run_id is not None and "run_id" in timeseries.columns:
        raise ValueError("the timeseries has a run_id column already; give run_id only for a table without one")
    built = _part(timeseries, run_id)
    if built is None:
        if run_id is not None:
            timeseries = timeseries.copy()
            timeseries.insert(0, "run_id", run_id)
        with atomic_path(path) as tmp:
            with_group_keys(timeseries, categorical=True).to_parquet(tmp, index=False)
            return {"sha256": _sha256(tmp), "rows": len(timeseries)}
    data = _parquet_bytes(*built)
    atomic_write_bytes(path, data)  # fsynced, renamed, its folder fsynced: as atomic_path does
    return {"sha256": hashlib.sha256(data).hexdigest(), "rows": len(timeseries)}


# pyarrow's defaults (the writer pandas' to_parquet uses): a column whose dictionary reaches
# dictionary_pagesize_limit bytes falls back to plain encoding, and a data page holds at most
# max_rows_per_page rows (or data_pagesize bytes, which dictionary indices of that many rows stay far below).
_DICTIONARY_LIMIT = 1 << 20
_PAGE_ROWS = 20_000
_HASHED: set[str] = set()  # text columns whose dictionary could not be given last time (a replicate's dates)


def _bit_width(entries: int) -> int:
    """The bit width of a Parquet dictionary page's indices for `entries` values (as Arrow's encoder has it)."""
    return 1 if entries <= 1 else (entries - 1).bit_length()


def _parquet_bytes(table: Any, encoded: dict[str, Any]) -> bytes:
    """The file `pq.write_table(table, compression="snappy")` writes, byte for byte: the columns equal to the last
    part's this process wrote are that part's chunks (`part_splice`, ~4 ms less a run), the others are encoded
    by `_encoded_bytes`."""
    from sim.experiments.part_splice import part_bytes

    return part_bytes(table, lambda part: _encoded_bytes(part, encoded))


def _encoded_bytes(table: Any, encoded: dict[str, Any]) -> bytes:
    """The file `pq.write_table(table, compression="snappy")` writes, byte for byte, for ~40% less CPU.

    Two of the writer's costs are left out where they cannot change a byte:
    - hashing every text cell into the column's dictionary: a text column whose dictionary (distinct
      values in order of first appearance: `encoded`, or made here) is written directly gives the same
      pages, provided its first page's indices already have the whole dictionary's bit width (the writer,
      hashing, widens the indices as its dictionary grows; given the dictionary, it uses the whole one's
      width from the first page). The file's Arrow schema (the `ARROW:schema` metadata, which would say
      "dictionary") is then the table's own, stored by hand;
    - statistics updated in batches of 1,024 rows (for a dictionary column each batch takes a `unique` and
      a `take`): one batch of all rows. Batches matter only where a page is cut by its size in bytes or a
      dictionary falls back to plain encoding (both checked after each batch), which the columns' sizes
      exclude here; pages are cut after the same rows whatever the batch.
    A table where either could happen (a dictionary near the limit, more than ~130,000 rows) is written
    the default way."""
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    rows = table.num_rows
    # One chunk each (`_part`'s), taken as it is: combine_chunks would copy it.
    arrays = [column.chunk(0) if column.num_chunks == 1 else column.combine_chunks() for column in table.columns]
    # Each value of a number column could be a distinct dictionary entry of 8 bytes.
    direct = rows * 8 < _DICTIONARY_LIMIT
    for i, (field, array) in enumerate(zip(table.schema, arrays, strict=True)):
        if not direct:
            break
        if pa.types.is_dictionary(field.type):
            direct = array.dictionary.nbytes < _DICTIONARY_LIMIT
        elif pa.types.is_large_string(field.type):
            given = None
            if field.name not in _HASHED and array.null_count == 0 and rows:
                given = encoded[field.name] if field.name in encoded else _text_dictionary(field.name, array)
                # Codes in order of first appearance: the first page's distinct values are its largest code + 1.
                first = int(given.indices.slice(0, _PAGE_ROWS).to_numpy().max()) + 1
                if _bit_width(first) != _bit_width(len(given.dictionary)):
                    given = None
                    _HASHED.add(field.name)
            if given is not None:
                arrays[i] = given
            # The dictionary's text with 8-byte offsets: at least what the writer counts (4-byte lengths).
            direct = (given.dictionary if given is not None else array).nbytes < _DICTIONARY_LIMIT
    if not direct:
        pq.write_table(table, sink, compression="snappy")
        return bytes(sink.getvalue())
    stored = base64.b64encode(table.schema.serialize().to_pybytes())
    written = pa.Table.from_arrays(arrays, names=table.column_names)
    with pq.ParquetWriter(sink, written.schema, compression="snappy", store_schema=False,
                          write_batch_size=max(rows, 1)) as writer:
        writer.write_table(written)
        writer.add_key_value_metadata({**(table.schema.metadata or {}), b"ARROW:schema": stored})
    return bytes(sink.getvalue())


_LAST_TEXT: dict[str, tuple[Any, Any]] = {}  # column name -> (the last run's column, its dictionary encoding)


def _text_dictionary(name: str, array: Any) -> Any:
    """`pc.dictionary_encode(array)` (no missing values): distinct values in order of first appearance.
    The last run's encoding when the column equals the last run's (the scenario name, the metrics); a column
    of one value (the run id) without hashing its cells."""
    import pyarrow as pa
    import pyarrow.compute as pc

    last = _LAST_TEXT.get(name)
    if last is not None and last[0].equals(array):
        return last[1]
    first = array[0]
    if array[-1] == first and pc.all(pc.equal(array, first)).as_py():
        encoded = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(array), np.int32)), array.slice(0, 1))
    else:
        encoded = pc.dictionary_encode(array)
    _LAST_TEXT[name] = (array, encoded)
    return encoded


# The text dtype of a replicate's table (`sim.model.metric_rows.string_column`): Arrow's strings inside.
_TEXT = pd.StringDtype(storage="pyarrow", na_value=np.nan)


def part_table(timeseries: pd.DataFrame) -> Any:
    """The Arrow table pandas makes of `with_group_keys(timeseries, categorical=True)`, or None (`_part`)."""
    built = _part(timeseries)
    return None if built is None else built[0]


def _part(timeseries: pd.DataFrame, run_id: str | None = None) -> tuple[Any, dict[str, Any]] | None:
    """The Arrow table pandas makes of `with_group_keys(timeseries, categorical=True)` (`Table.from_pandas`,
    no index: the same columns, types, values and schema metadata), built without that frame: its text
    columns are passed on as they are, each group key is a dictionary column made from the codes of the
    group column's distinct labels, and the schema (pandas' metadata included) is pandas' own for a frame of
    no rows with the same dtypes. ~3 ms where the frame and its conversion took ~7 (a sweep stores one a run);
    ~1 ms when the group column is the last run's (`_group_keys`).

    None when the table is not of that form (a column that is not text, int64 or float64, or not named by
    a text; a missing or empty group label, which `with_group_keys` first turns into the world's; `attrs`,
    which pandas writes into the file): the caller goes through pandas then. With the table, the group
    column's dictionary encoding (made for the keys; `_parquet_bytes` writes the column from it), and the
    run id's when `run_id` puts that column first (`write_part`)."""
    import pyarrow as pa

    columns = list(timeseries.columns)
    if timeseries.attrs or not all(isinstance(name, str) for name in columns):
        return None  # pandas writes attrs into the file's metadata, and other names as they are
    if "group" not in columns or len(set(columns)) != len(columns):
        return None
    series = [column for _, column in timeseries.items()]
    kinds = []
    for column in series:
        if column.dtype == _TEXT and getattr(column.dtype, "storage", None) == "pyarrow":
            kinds.append("str")
        elif column.dtype in (np.dtype(np.int64), np.dtype(np.float64)):
            kinds.append(str(column.dtype))
        else:
            return None
    group = pa.array(series[columns.index("group")].array)
    if isinstance(group, pa.ChunkedArray):
        group = group.combine_chunks()
    if group.null_count:
        return None
    made = _group_keys(group)
    if made is None:
        return None
    encoded, keys, key_arrays, categories = made
    if any(key in columns or (run_id is not None and key == "run_id") for key in keys):
        return None  # with_group_keys refuses it, with its message
    at = columns.index("group") + 1
    names, dtypes, arrays = columns[:at], kinds[:at], [_arrow(c, pa) for c in series[:at]]
    given = {"group": encoded}
    if run_id is not None:  # a first column of one value, in Arrow: its strings and its dictionary
        names, dtypes = ["run_id", *names], ["str", *dtypes]
        arrays.insert(0, _repeated(run_id, len(timeseries), pa))
        given["run_id"] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(timeseries), np.int32)),
                                                          arrays[0].slice(0, 1))
    names += keys
    dtypes += ["category"] * len(keys)
    arrays += key_arrays
    names += columns[at:]
    dtypes += kinds[at:]
    arrays += [_arrow(c, pa) for c in series[at:]]
    table = pa.Table.from_arrays(arrays, schema=_part_schema(tuple(names), tuple(dtypes), categories))
    return table, given


def _repeated(text: str, count: int, pa: Any) -> Any:
    """`count` times `text` as Arrow's large strings (what pandas gives a column made from one value)."""
    data = text.encode("utf-8")
    offsets = np.arange(count + 1, dtype=np.int64) * len(data)
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data * count))


_LAST_GROUPS: list[tuple[Any, Any]] = []  # [(a group column, what _group_keys made of it)]: the last run's


def _group_keys(group: Any) -> tuple[Any, list[str], list[Any], tuple[tuple[str, ...], ...]] | None:
    """The group column's dictionary encoding (labels in order of first appearance), its keys, a dictionary
    column per key and each key's values; None when a label is empty (pandas' way then).

    The runs of a sweep mostly have the same group column, row for row: the last one's columns are reused
    when the new column is equal to it (a comparison of ~0.05 ms against ~2 ms of hashing and gathering)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    known = _LAST_GROUPS[:]  # one read: a Dask worker's threads may replace it meanwhile
    if known and known[0][0].equals(group):
        return known[0][1]
    encoded = pc.dictionary_encode(group)
    labels = tuple(encoded.dictionary.to_pylist())
    if "" in labels:
        return None
    keys, key_codes = _label_keys(labels)
    codes = encoded.indices.to_numpy()
    # -1 (the label has no such key) is a missing value, as in a pandas categorical's codes
    key_arrays = [pa.DictionaryArray.from_arrays(of_label[codes], present, from_pandas=True)
                  for of_label, present in key_codes]
    categories = tuple(tuple(present.to_pylist()) for _, present in key_codes)
    made = (encoded, keys, key_arrays, categories)
    _LAST_GROUPS[:] = [(group, made)]
    return made


def _arrow(column: pd.Series, pa: Any) -> Any:
    """A text column's own Arrow strings (what `from_pandas` takes), or a number column's values (NaN as a
    missing value, as `from_pandas` has it)."""
    return pa.array(column.array) if column.dtype == _TEXT else pa.array(column.to_numpy(), from_pandas=True)


def _codes_dtype(count: int) -> type[np.signedinteger[Any]]:
    """The integer type pandas gives a categorical's codes for `count` categories (and Arrow its indices)."""
    for kind in (np.int8, np.int16, np.int32):
        if count < np.iinfo(kind).max:
            return kind
    return np.int64


@functools.lru_cache(maxsize=32)
def _label_keys(labels: tuple[str, ...]) -> tuple[list[str], list[tuple[np.ndarray, Any]]]:
    """The group keys of `labels` (registry order, then unknown ones sorted, as `with_group_keys`) and per key
    each label's code into the key's sorted values (-1: the label has no such key) with those values as Arrow
    strings. Remembered: the runs of a sweep have the same labels in the same order."""
    import pyarrow as pa

    parsed = [parsed_group(label) for label in labels]
    keys = group_keys()
    keys += sorted({k for pairs in parsed for k in pairs} - set(keys))
    found: dict[str, dict[int, str]] = {key: {} for key in keys}  # key -> {label's index: value}
    for i, pairs in enumerate(parsed):
        for key, value in pairs.items():
            found[key][i] = value
    result = []
    for key in keys:
        of_label = found[key]
        present = sorted(set(of_label.values()))
        position = {v: j for j, v in enumerate(present)}
        codes = np.full(max(len(labels), 1), -1, dtype=_codes_dtype(len(present)))
        codes[list(of_label)] = [position[v] for v in of_label.values()]
        codes.flags.writeable = False  # shared by the runs that look it up
        result.append((codes, pa.array(present, pa.large_string())))
    return keys, result


@functools.lru_cache(maxsize=32)
def _part_schema(names: tuple[str, ...], dtypes: tuple[str, ...], categories: tuple[tuple[str, ...], ...]) -> Any:
    """pandas' Arrow schema (with its metadata) of a frame with these columns: `str`, int64, float64, or
    categories of text (`categories`, in order)."""
    import pyarrow as pa

    given = iter(categories)
    frame: dict[str, Any] = {}
    for name, dtype in zip(names, dtypes, strict=True):
        if dtype == "category":
            kind = pd.CategoricalDtype(pd.Index(list(next(given)), dtype="str"))
            frame[name] = pd.Categorical.from_codes(np.zeros(0, np.int8), dtype=kind)
        else:
            frame[name] = pd.Series([], dtype=_TEXT if dtype == "str" else dtype)
    return pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=False).schema


def _is_number(text: str) -> bool:
    """An outcome cell as this store writes it: empty (NaN) or a finite number."""
    if text == "":
        return True
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def cell(value: Any) -> str:
    """A CSV cell: floats in their shortest exact form, empty for NaN/None, lists as JSON-like text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def line(cells: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


class RunStore:
    """runs.csv, the Parquet parts and the error files of one sweep folder."""

    def __init__(self, out_dir: Path, factor_names: Sequence[str], outcome_names: Sequence[str]):
        self.out = Path(out_dir)
        self.factor_names, self.outcome_names = list(factor_names), list(outcome_names)
        self.columns = [*RESERVED_COLUMNS[:3], *self.factor_names, *RESERVED_COLUMNS[3:], *self.outcome_names]
        self.rows: dict[str, list[str]] = {}  # run id -> cells of its row in runs.csv
        self.index: dict[str, dict[str, Any]] = {}  # run id -> {"sha256", "rows"} of its stored part
        self.notes: list[str] = []  # what opening found damaged and will run again, one line each
        self._fd: int | None = None
        self._index_fd: int | None = None

    @property
    def runs_path(self) -> Path:
        return self.out / RUNS_NAME

    def part_path(self, run_id: str) -> Path:
        return self.out / PARTS_DIR / f"{run_id}.parquet"

    @property
    def index_path(self) -> Path:
        return self.out / INDEX_NAME

    def open(self, planned: dict[str, dict[str, Any]], outcomes: dict[str, Outcome]) -> int:
        """Keep the finished runs of the plan that verify, drop the rest; return how many results of runs
        no longer in the plan were removed. `planned`: run id -> its fixed cells (values, seed...).
        What was found damaged (and will be run again) is left in `notes`."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / PARTS_DIR).mkdir(exist_ok=True)
        for folder in (self.out, self.out / PARTS_DIR):  # what a killed earlier sweep was writing
            remove_stale_temporaries(folder)
        index = self._read_index(planned)
        previous, unreadable = self._read_previous()
        if unreadable:
            self.notes.append(f"{RUNS_NAME} had {unreadable} unreadable line(s) (damaged or not text); "
                              "their runs are run again")
        damaged: list[str] = []
        for run_id, old in previous.items():
            if run_id not in planned or old.get("status") != STATUS_OK or not self.part_path(run_id).is_file():
                continue
            problem = self._verify_part(run_id, index.get(run_id))
            if problem is None:
                bad = [n for n in self.outcome_names if n in old and not _is_number(old[n] or "")]
                problem = f"outcome {bad[0]} is {_short(old[bad[0]])}, not a number" if bad else None
            if problem is not None:
                damaged.append(f"{run_id} ({problem})")
                continue
            if all(name in old for name in self.outcome_names):
                values = {name: old[name] for name in self.outcome_names}
            else:  # outcomes changed since: recompute them from the stored timeseries
                series = pd.read_parquet(self.part_path(run_id))
                values = {k: cell(v) for k, v in compute_outcomes(series, outcomes).items()}
            self.rows[run_id] = self._cells(planned[run_id], STATUS_OK, "", values)
            self.index[run_id] = index[run_id]
        if damaged:
            more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
            self.notes.append(f"{len(damaged)} stored result(s) failed verification and are run again: "
                              f"{', '.join(damaged[:3])}{more}")
        removed = 0
        for part in (self.out / PARTS_DIR).glob("*.parquet"):
            if part.stem in self.rows:
                continue
            if part.stem not in planned and (part.stem in index or _RUN_ID.match(part.stem)):
                removed += 1  # a result of a run no longer in the design
            elif part.stem not in planned:
                continue  # not a part a sweep wrote: not ours to delete
            part.unlink()  # damaged, or with no verified row: it is run again
        self._rewrite_index()
        self._rewrite(self.rows.values())
        atomic_unlink(self.out / MANIFEST_NAME)  # incomplete from here until every run is ok
        self._fd = os.open(self.runs_path, os.O_WRONLY | os.O_APPEND)
        self._index_fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND)
        return removed

    def _verify_part(self, run_id: str, entry: dict[str, Any] | None) -> str | None:
        """Why the stored part of `run_id` cannot be reused, or None when it verifies."""
        path = self.part_path(run_id)
        if entry is None:
            return "its timeseries is not in the parts index"
        if _sha256(path) != entry["sha256"]:
            return "its timeseries file changed since it was stored"
        if _part_rows(path) != entry["rows"]:
            return "its timeseries has the wrong number of rows"
        return None

    def _read_index(self, planned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """parts.index.jsonl as run id -> entry (the last line of a run wins; a torn last line is dropped).

        A damaged index (a line that is not an entry) or none beside stored parts is rebuilt from the parts
        of planned runs that read back whole with their own run id."""
        entries: dict[str, dict[str, Any]] = {}
        damaged = False
        try:
            data = self.index_path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError:
            data, damaged = None, True
        if data is not None:
            # The text after the last newline is a torn append (its row was never written): ignored.
            for raw in data.split(b"\n")[:-1]:
                entry = _index_entry(raw)
                if entry is None:
                    damaged = True
                    break
                entries[entry["run_id"]] = entry
        elif not damaged:  # no index beside stored rows: a folder of an older sim, or the index was deleted
            damaged = self.runs_path.is_file() and any(
                p.stem in planned for p in (self.out / PARTS_DIR).glob("*.parquet"))
        if not damaged:
            return entries
        entries = {}
        for part in sorted((self.out / PARTS_DIR).glob("*.parquet")):
            rows = _part_rows(part, part.stem) if part.stem in planned else None
            if rows is not None:
                entries[part.stem] = {"run_id": part.stem, "sha256": _sha256(part), "rows": rows}
        self.notes.append(f"{INDEX_NAME} was missing or damaged: rebuilt from the {len(entries)} stored "
                          "part(s) that read back whole")
        return entries

    def _rewrite_index(self) -> None:
        data = b"".join(_index_line(self.index[rid]) for rid in self.rows)
        atomic_write_bytes(self.index_path, data)

    def _read_previous(self) -> tuple[dict[str, dict[str, str]], int]:
        """The rows of runs.csv by run id (the last row of a run wins), and how many lines could not be read.

        Read line by line, so a binary file, a NUL byte or a huge field costs the lines it is in, not the sweep."""
        try:
            data = self.runs_path.read_bytes() if self.runs_path.is_file() else b""
        except OSError:
            return {}, 1
        lines = data.split(b"\n")
        if lines and lines[-1]:
            lines = lines[:-1]  # a torn last line: that run is simply run again
        lines = [raw for raw in lines if raw.strip()]
        if not lines:
            return {}, 0
        header = _csv_line(lines[0])
        if header is None or "run_id" not in header or "status" not in header:
            return {}, len(lines)
        found: dict[str, dict[str, str]] = {}
        unreadable = 0
        for raw in lines[1:]:
            cells = _csv_line(raw)
            if cells is None or len(cells) != len(header):
                unreadable += 1
                continue
            row = dict(zip(header, cells, strict=True))
            if not _RUN_ID.match(row["run_id"]):
                unreadable += 1
                continue
            found[row["run_id"]] = row
        return found, unreadable

    def _cells(self, fixed: dict[str, Any], status: str, error: str, outcomes: dict[str, str]) -> list[str]:
        record = {**{k: cell(v) for k, v in fixed.items()}, "status": status, "error": error, **outcomes}
        return [record.get(column, "") for column in self.columns]

    def _rewrite(self, rows: Iterable[list[str]]) -> None:
        data = b"".join([line(self.columns), *(line(r) for r in rows)])
        atomic_write_bytes(self.runs_path, data)

    def record(self, fixed: dict[str, Any], output: RunOutput) -> None:
        """Store a finished run: its Parquet part (atomically; already in place when the worker stored it),
        then its index line, then its row (one append each)."""
        if output.status == STATUS_OK and (output.part is not None or output.timeseries is not None):
            if output.part is None:
                assert output.timeseries is not None
                stored = write_part(self.part_path(output.run_id), output.timeseries)
            else:
                stored = output.part
            entry = {"run_id": output.run_id, "sha256": stored["sha256"], "rows": stored["rows"]}
            assert self._index_fd is not None, "store not opened"
            os.write(self._index_fd, _index_line(entry))  # after the part is in place, before its row
            os.fsync(self._index_fd)
            self.index[output.run_id] = entry
            if (self.out / ERRORS_DIR / f"{output.run_id}.txt").exists():  # it failed before: not any more
                atomic_unlink(self.out / ERRORS_DIR / f"{output.run_id}.txt")
        elif output.traceback:
            atomic_write_bytes(self.out / ERRORS_DIR / f"{output.run_id}.txt", output.traceback.encode("utf-8"))
        error = " ".join(output.error.split())  # one line
        row = self._cells(fixed, output.status, error, {k: cell(v) for k, v in output.outcomes.items()})
        self.rows[output.run_id] = row
        assert self._fd is not None, "store not opened"
        os.write(self._fd, line(row))
        os.fsync(self._fd)

    def finished(self) -> set[str]:
        return {rid for rid, row in self.rows.items() if row[self.columns.index("status")] == STATUS_OK}

    def finalize(self, order: Sequence[str]) -> None:
        """Rewrite runs.csv in design order (deterministic whatever the finishing order)."""
        self.close()
        self._rewrite(self.rows[rid] for rid in order if rid in self.rows)

    def close(self) -> None:
        for name in ("_fd", "_index_fd"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def frame(self) -> pd.DataFrame:
        return read_runs(self.runs_path)


def _short(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "...")


def _index_line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")


def _index_entry(raw: bytes) -> dict[str, Any] | None:
    """One line of parts.index.jsonl, or None when it is not a whole entry."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("run_id"), str) or \
            not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("rows"), int):
        return None
    return entry


def _csv_line(raw: bytes) -> list[str] | None:
    """One line of runs.csv as cells, or None when it is not text or not CSV (a NUL byte, a field too long)."""
    try:
        text = raw.decode("utf-8")
        if "\0" in text:
            return None
        return next(csv.reader([text]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None


def read_runs(path: Path) -> pd.DataFrame:
    """runs.csv as a frame (run_id, status and error as text; an empty outcome is NaN)."""
    frame = pd.read_csv(path, dtype={"run_id": str, "status": str, "error": str})
    frame["error"] = frame["error"].fillna("")
    return frame
