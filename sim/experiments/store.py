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
OUT/manifest.json            written last, once every run is ok
```

Crash safety: a run's Parquet part is written atomically (temporary name, fsync, rename) before
its row is appended to runs.csv with a single `write` of one whole line, so a row always has its
data. A part without a row (stopped between the two) is simply run again. On opening, runs.csv
is rewritten (atomically) with the rows to keep: finished (`ok`) runs of the current plan whose
part exists, one per run id; a torn last line from a power cut is dropped. When every run is
done, runs.csv is rewritten in design order, so it does not depend on finishing order.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.executors import STATUS_OK, RunOutput
from sim.experiments.outcomes import compute_outcomes
from sim.experiments.schema import RESERVED_COLUMNS, Outcome
from sim.outputs.atomic import atomic_path, atomic_unlink, atomic_write_bytes, remove_stale_temporaries
from sim.outputs.manifest import MANIFEST_NAME
from sim.outputs.tables import with_group_keys

RUNS_NAME, PARTS_DIR, ERRORS_DIR = "runs.csv", "timeseries", "errors"


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
        self._fd: int | None = None

    @property
    def runs_path(self) -> Path:
        return self.out / RUNS_NAME

    def part_path(self, run_id: str) -> Path:
        return self.out / PARTS_DIR / f"{run_id}.parquet"

    def open(self, planned: dict[str, dict[str, Any]], outcomes: dict[str, Outcome]) -> int:
        """Keep the finished runs of the plan, drop the rest; return how many results of runs no
        longer in the plan were removed. `planned`: run id -> its fixed cells (values, seed...)."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / PARTS_DIR).mkdir(exist_ok=True)
        for folder in (self.out, self.out / PARTS_DIR):  # what a killed earlier sweep was writing
            remove_stale_temporaries(folder)
        atomic_unlink(self.out / MANIFEST_NAME)  # incomplete from here until every run is ok
        previous = self._read_previous()
        for run_id, old in previous.items():
            if run_id in planned and old.get("status") == STATUS_OK and self.part_path(run_id).is_file():
                if all(name in old for name in self.outcome_names):
                    values = {name: old[name] for name in self.outcome_names}
                else:  # outcomes changed since: recompute them from the stored timeseries
                    series = pd.read_parquet(self.part_path(run_id))
                    values = {k: cell(v) for k, v in compute_outcomes(series, outcomes).items()}
                self.rows[run_id] = self._cells(planned[run_id], STATUS_OK, "", values)
        removed = 0
        for part in (self.out / PARTS_DIR).glob("*.parquet"):
            if part.stem not in planned:
                part.unlink()
                removed += 1
        self._rewrite(self.rows.values())
        self._fd = os.open(self.runs_path, os.O_WRONLY | os.O_APPEND)
        return removed

    def _read_previous(self) -> dict[str, dict[str, str]]:
        if not self.runs_path.is_file():
            return {}
        text = self.runs_path.read_bytes().decode("utf-8", errors="replace")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]  # a torn last line: that run is simply run again
        found: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row.get("run_id") and None not in row:
                found[row["run_id"]] = row  # the last row of a run wins
        return found

    def _cells(self, fixed: dict[str, Any], status: str, error: str, outcomes: dict[str, str]) -> list[str]:
        record = {**{k: cell(v) for k, v in fixed.items()}, "status": status, "error": error, **outcomes}
        return [record.get(column, "") for column in self.columns]

    def _rewrite(self, rows: Iterable[list[str]]) -> None:
        data = b"".join([line(self.columns), *(line(r) for r in rows)])
        atomic_write_bytes(self.runs_path, data)

    def record(self, fixed: dict[str, Any], output: RunOutput) -> None:
        """Store a finished run: its Parquet part (atomically), then its row (one append)."""
        if output.status == STATUS_OK and output.timeseries is not None:
            with atomic_path(self.part_path(output.run_id)) as tmp:
                with_group_keys(output.timeseries, categorical=True).to_parquet(tmp, index=False)
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
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def frame(self) -> pd.DataFrame:
        return read_runs(self.runs_path)


def read_runs(path: Path) -> pd.DataFrame:
    """runs.csv as a frame (run_id, status and error as text; an empty outcome is NaN)."""
    frame = pd.read_csv(path, dtype={"run_id": str, "status": str, "error": str})
    frame["error"] = frame["error"].fillna("")
    return frame
