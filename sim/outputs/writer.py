"""Write a finished run to its output folder (the `sim run` output contract).

Files, each written atomically (temporary name, fsync, rename):
`timeseries.csv`, `summary.csv`, `events.csv`, `scenario.resolved.yaml`,
`figures/{adoption,influence,capability,compute}.png`, `report.html`, and `manifest.json`
last. The manifest lists every other file with its SHA-256, so it doubles as the completion
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

from sim.blocs import BLOCS
from sim.outputs.atomic import atomic_unlink, atomic_write_bytes
from sim.outputs.figures import FIGURES, close_figure, figure_png
from sim.outputs.manifest import MANIFEST_NAME, file_entry, manifest_bytes
from sim.outputs.report import render_report
from sim.outputs.tables import (
    csv_bytes,
    events_table,
    group_label,
    parse_group,
    summarise,
    timeseries_table,
)


# --------------------------------------------------------------------------- headline numbers
def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value * 100:.1f}%"


def _with_band(row: pd.Series) -> str:
    median, low, high = _percent(row["median"]), _percent(row["q10"]), _percent(row["q90"])
    return median if low == high else f"{median} (10–90%: {low.rstrip('%')}–{high})"


def headline_numbers(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """Headline (label, value) pairs at the last step: medians as percentages, with the 10–90% range.

    The horizon date; the world adoption rate; open vs closed shares; the share on each
    origin bloc's models; each bloc's GDP-weighted influence. Metrics absent from the
    summary are left out. With several scenarios, each label is prefixed by the scenario.
    """
    if summary.empty:
        return []
    out: list[tuple[str, str]] = []
    scenarios = sorted(summary["scenario"].unique())
    for scenario in scenarios:
        rows = summary[summary["scenario"] == scenario]
        last = rows[rows["step"] == rows["step"].max()]
        by_key = {
            (m, "" if pd.isna(g) else g): r for (m, g), r in last.set_index(["metric", "group"]).iterrows()
        }
        prefix = f"{scenario}: " if len(scenarios) > 1 else ""
        out.append((f"{prefix}Horizon", str(last["date"].iloc[0])))
        wanted: list[tuple[str, str, str]] = [
            ("adoption_rate", "", "AI adoption rate (world)"),
            ("adoption_share", group_label(openness="open"), "Open-weights share of AI users"),
            ("adoption_share", group_label(openness="closed"), "Closed-weights share of AI users"),
        ]
        origins = _blocs(last, "adoption_share", "origin")
        wanted += [
            ("adoption_share", group_label(origin=b), f"AI users on {b}-origin models") for b in origins
        ]
        blocs = _blocs(last, "influence", "bloc", weight="gdp")
        wanted += [
            ("influence", group_label(bloc=b, weight="gdp"), f"Influence of {b} (GDP-weighted)")
            for b in blocs
        ]
        for metric, group, label in wanted:
            row = by_key.get((metric, group))
            if row is not None:
                out.append((prefix + label, _with_band(row)))
    return out


def _blocs(rows: pd.DataFrame, metric: str, key: str, **fixed: str) -> list[str]:
    """Values of `key` among the groups `{key: v} | fixed` of `metric`, in bloc order."""
    found = set()
    for group in rows.loc[rows["metric"] == metric, "group"].unique():
        pairs = parse_group(group)
        if set(pairs) == {key, *fixed} and all(pairs[k] == v for k, v in fixed.items()):
            found.add(pairs[key])
    return [b for b in BLOCS if b in found] + sorted(found - set(BLOCS))


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
    headline: Sequence[tuple[str, str]],
) -> dict[str, Path]:
    """Write every output file of a run into `out_dir`; return {relative name: path}, manifest last."""
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
    put("scenario.resolved.yaml", resolved_yaml.encode("utf-8"))

    figures: dict[str, bytes] = {}
    for name, make in FIGURES.items():
        fig = make(summary, scenario_name)
        try:
            figures[name] = figure_png(fig)
        finally:
            close_figure(fig)
        put(f"figures/{name}.png", figures[name])

    page = render_report(
        title=scenario_name,
        description=description,
        summary=summary,
        events=log,
        rules=rules,
        claims=claims,
        manifest=manifest,
        figures=figures,
        headline=headline,
    )
    put("report.html", page.encode("utf-8"))

    written[MANIFEST_NAME] = atomic_write_bytes(out_dir / MANIFEST_NAME, manifest_bytes({**manifest, "files": files}))
    return written
