"""Write a finished run to its output folder (the `sim run` output contract).

Files, each written atomically (temporary name, fsync, rename):
`timeseries.csv`, `summary.csv`, `events.csv`, `scenario.resolved.yaml`,
`figures/{adoption,influence,dependence,capability,compute}.png` (and `.svg`/`.pdf` when asked for),
`report.html`, and `manifest.json` last; with `wide=True` also `timeseries_wide.csv` and
`summary_wide.csv`, the same rows with the group's keys as columns (`sim.outputs.tables.with_group_keys`).
The manifest lists every other file with its SHA-256, so it doubles as the completion
marker: a folder without `manifest.json` holds an incomplete run. A stale manifest from an
earlier run in the same folder is removed before anything else is rewritten.

`sim run` calls this on an empty staging folder and swaps the folder into place when it is
complete (sim/outputs/folder.py), so a run folder under its final name is always whole.

The three CSV files are byte-identical for the same input frames, whatever their row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.metrics_registry import Metric, headlines, normalise_group
from sim.outputs.atomic import atomic_unlink, atomic_write_bytes
from sim.outputs.figures import FIGURES, Stamp, render_figures
from sim.outputs.manifest import MANIFEST_NAME, file_entry, manifest_bytes
from sim.outputs.report import render_report
from sim.outputs.tables import csv_bytes, events_table, summarise, timeseries_table, with_group_keys


# --------------------------------------------------------------------------- headline numbers
def headline_value(value: float, metric: Metric) -> str:
    """A headline number as shown: a percentage for shares and 0-1 indices, else the value and its unit."""
    if pd.isna(value):
        return "n/a"
    return f"{value * 100:.1f}%" if metric.percent else f"{value:.1f} {metric.unit}"


def _with_band(row: pd.Series, metric: Metric) -> str:
    median, low, high = (headline_value(row[k], metric) for k in ("median", "q10", "q90"))
    if low == high:
        return median
    unit = "%" if metric.percent else f" {metric.unit}"
    return f"{median} (10–90%: {low.removesuffix(unit)}–{high})"


def headline_numbers(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """Headline (label, value) pairs at the last step: medians with the 10–90% range over replicates.

    The horizon date, then the registry's headlines (`sim.metrics_registry.headlines`) in its
    order. Metrics absent from the summary are left out. With several scenarios, each label is
    prefixed by the scenario.
    """
    if summary.empty:
        return []
    out: list[tuple[str, str]] = []
    wanted = {(metric.name, headline.group) for metric, headline in headlines()}
    scenarios = sorted(summary["scenario"].unique())
    for scenario in scenarios:
        rows = summary[summary["scenario"] == scenario]
        last = rows[rows["step"] == rows["step"].max()]
        # Only the headline rows are looked at: the last quarter has ~1,600 groups (per country).
        keys = zip(last["metric"].tolist(), map(normalise_group, last["group"].tolist()), strict=True)
        position = {key: i for i, key in enumerate(keys) if key in wanted}  # the last row of a key, as before
        prefix = f"{scenario}: " if len(scenarios) > 1 else ""
        out.append((f"{prefix}Horizon", str(last["date"].iloc[0])))
        for metric, headline in headlines():
            at = position.get((metric.name, headline.group))
            if at is not None:
                out.append((prefix + headline.label, _with_band(last.iloc[at], metric)))
    return out


# --------------------------------------------------------------------------- writing
def write_run_outputs(
    out_dir: Path,
    *,
    scenario_name: str,
    description: str,
    timeseries: pd.DataFrame,
    events: pd.DataFrame | None,
    resolved_yaml: str,
    manifest: Mapping[str, Any],
    rules: Sequence[Mapping[str, Any]],
    claims: Mapping[str, str],
    headline: Sequence[tuple[str, str]] | None = None,
    figure_formats: Sequence[str] = ("png",),
    wide: bool = False,
) -> dict[str, Path]:
    """Write every output file of a run into `out_dir`; return {relative name: path}, manifest last.

    `figure_formats`: any of png, svg, pdf; each figure is drawn once and saved in each. The
    figures' footers take the scenario, replicates, bands, version and date from `manifest`.
    `headline`: the report's headline numbers, by default `headline_numbers` of the summary written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_unlink(out_dir / MANIFEST_NAME)  # the folder is incomplete from here until the end
    written: dict[str, Path] = {}
    files: dict[str, dict[str, Any]] = {}

    def put(name: str, data: bytes) -> None:
        path = atomic_write_bytes(out_dir / name, data)
        written[name] = path
        files[name] = file_entry(data)

    series = timeseries_table(timeseries)
    summary = summarise(series)
    log = events_table(events)
    put("timeseries.csv", csv_bytes(series))
    put("summary.csv", csv_bytes(summary))
    put("events.csv", csv_bytes(log))
    if wide:
        put("timeseries_wide.csv", csv_bytes(with_group_keys(series)))
        put("summary_wide.csv", csv_bytes(with_group_keys(summary)))
    put("scenario.resolved.yaml", resolved_yaml.encode("utf-8"))

    makers = {name: (lambda make=make: make(summary, scenario_name)) for name, make in FIGURES.items()}
    images, figures = render_figures(makers, figure_formats, Stamp.from_manifest(manifest))
    for name, data in images.items():
        put(name, data)

    page = render_report(
        title=scenario_name,
        description=description,
        summary=summary,
        events=log,
        rules=rules,
        claims=claims,
        manifest=manifest,
        figures=figures,
        headline=headline_numbers(summary) if headline is None else headline,
    )
    put("report.html", page.encode("utf-8"))

    written[MANIFEST_NAME] = atomic_write_bytes(out_dir / MANIFEST_NAME, manifest_bytes({**manifest, "files": files}))
    return written
