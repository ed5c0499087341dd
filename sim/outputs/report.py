"""The run report: one self-contained HTML page that opens offline.

No external resources at all: figures are embedded as `data:image/png;base64` URIs, the
style is inline, the rules timeline is inline SVG, and there is no script. The page is the
template `sim/templates/report.html.j2` (autoescaped, `sim.outputs.pages`); this module works
out what it shows: the headline cards, the timeline's geometry, the merged event log, the
cited claims and the manifest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sim.outputs.pages import inline_pngs, render
from sim.outputs.tables import EVENT_COLUMNS, split_sources

MAX_EVENT_ROWS = 1000
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)
_OPEN_ENDED = {"", "open-ended", "open", "none", "never", "-"}
_KIND_COLOURS = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#e45756",
    "#72b7b2",
    "#9d755d",
    "#eeca3b",
    "#ff9da6",
    "#bab0ac",
]

# --------------------------------------------------------------------------- quarters
def quarter_index(label: object) -> int | None:
    """`"2025Q1"` -> a running quarter number (year * 4 + quarter - 1); None if not a quarter."""
    match = _QUARTER.match(str(label)) if label is not None else None
    return int(match.group(1)) * 4 + int(match.group(2)) - 1 if match else None


def quarter_label(index: int) -> str:
    """Inverse of `quarter_index`."""
    return f"{index // 4}Q{index % 4 + 1}"


def _run_quarters(summary: pd.DataFrame | None, rules: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """First and last quarter of the run (from the summary's dates, else from the rules)."""
    indices: list[int] = []
    if summary is not None and not summary.empty and "date" in summary.columns:
        indices = [i for i in (quarter_index(d) for d in summary["date"].unique()) if i is not None]
    if not indices:
        for rule in rules:
            indices += [i for i in (quarter_index(rule.get("start")), quarter_index(rule.get("end"))) if i]
    return (min(indices), max(indices)) if indices else None


def _rule_window(rule: Mapping[str, Any], run: tuple[int, int]) -> tuple[int, int, bool, bool] | None:
    """(first, last) quarter of a rule clipped to the run, whether it starts before / runs past it."""
    start = quarter_index(rule.get("start"))
    end_text = str(rule.get("end") or "").strip().lower()
    end = None if end_text in _OPEN_ENDED else quarter_index(rule.get("end"))
    first = run[0] if start is None else start
    last = run[1] if end is None else end
    if last < run[0] or first > run[1] or last < first:
        return None
    return max(first, run[0]), min(last, run[1]), first < run[0], end is None or last > run[1]


# --------------------------------------------------------------------------- pieces
def _kind_colours(rules: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    kinds = sorted({str(rule.get("kind", "")) for rule in rules})
    return {kind: _KIND_COLOURS[i % len(_KIND_COLOURS)] for i, kind in enumerate(kinds)}


def _gantt(rules: Sequence[Mapping[str, Any]], run: tuple[int, int], colours: Mapping[str, str]) -> dict[str, Any]:
    """Geometry of the rules timeline: one bar per rule over the run's quarters, year gridlines."""
    label_w, plot_w, row_h, top = 230, 800, 24, 26
    quarters = run[1] - run[0] + 1
    qw = plot_w / quarters
    height = top + row_h * len(rules) + 8
    gridlines = []
    for q in range(run[0], run[1] + 1):
        if q % 4 == 0 or q == run[0]:
            x = label_w + (q - run[0]) * qw
            year = q // 4 if q % 4 == 0 and (run[1] - q) >= 2 else None
            gridlines.append({"x": f"{x:.1f}", "year": year, "label_x": f"{x + 3:.1f}"})
    gridlines.append({"x": label_w + plot_w, "year": None, "label_x": ""})
    rows = []
    for index, rule in enumerate(rules):
        y = top + index * row_h
        name = str(rule.get("id", ""))
        when = f"{rule.get('start') or 'start'} – {rule.get('end') or 'open-ended'}"
        tip = f"{name} ({rule.get('kind', '')}): {when}"
        if rule.get("summary"):
            tip += f". {rule['summary']}"
        row: dict[str, Any] = {"tip": tip, "short": name if len(name) <= 32 else name[:31] + "…",
                               "text_y": y + 16, "bar": None}
        window = _rule_window(rule, run)
        if window is not None:
            first, last, before, after = window
            x = label_w + (first - run[0]) * qw
            width = max((last - first + 1) * qw, 3.0)
            end = x + width
            row["bar"] = {
                "x": f"{x:.1f}", "y": y + 5, "width": f"{width:.1f}",
                "colour": colours.get(str(rule.get("kind", "")), _KIND_COLOURS[0]),
                # arrow heads: in force before the run starts / open-ended or beyond the horizon
                "before": f"{x:.1f},{y + 3} {x - 7:.1f},{y + row_h / 2} {x:.1f},{y + row_h - 3}" if before else "",
                "after": f"{end:.1f},{y + 3} {end + 7:.1f},{y + row_h / 2} {end:.1f},{y + row_h - 3}" if after else "",
            }
        rows.append(row)
    return {
        "width": label_w + plot_w + 10, "height": height, "grid_top": top - 6, "grid_bottom": height - 4,
        "year_y": top - 10, "label_x": label_w - 12, "outside_x": label_w + 6, "bar_height": row_h - 10,
        "gridlines": gridlines, "rows": rows, "first": quarter_label(run[0]), "last": quarter_label(run[1]),
    }


def _rule_rows(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": rule.get("id"), "kind": rule.get("kind"), "summary": rule.get("summary"),
            "window": f"{rule.get('start') or 'start of run'} – {rule.get('end') or 'open-ended'}",
            "sources": split_sources(rule.get("sources")),
        }
        for rule in rules
    ]


_RUN_COLUMNS = ("scenario", "replicate", "seed", "step")


def merge_replicate_events(events: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct event across replicates, in time order, with `replicates` = in how many.

    Rule-driven events happen in every replicate, stochastic ones in some. Without several
    replicates the log is returned in time order as it is. Run columns (scenario, replicate,
    seed, step) are dropped from the display.
    """
    frame = events.copy()
    if "sources" in frame.columns:
        frame["sources"] = frame["sources"].map(lambda v: " ".join(split_sources(v)))
    keep = [c for c in EVENT_COLUMNS if c in frame.columns]
    keep += [c for c in frame.columns if c not in keep and c not in _RUN_COLUMNS]
    if "scenario" in frame.columns and frame["scenario"].nunique() > 1:
        keep.insert(0, "scenario")
    if "step" in frame.columns:
        when = pd.to_numeric(frame["step"], errors="coerce")
    elif "date" in frame.columns:
        when = frame["date"].map(quarter_index).astype(float)
    else:
        when = pd.Series(0.0, index=frame.index)
    frame = frame.assign(_when=when.fillna(float("inf")).to_numpy(), _row=range(len(frame)))
    if "replicate" not in frame.columns or frame["replicate"].nunique() <= 1:
        return frame.sort_values(["_when", "_row"], kind="stable")[keep].reset_index(drop=True)
    total = frame["replicate"].nunique()
    cells = frame[keep].astype(object).where(frame[keep].notna(), "")  # hashable, NaN-free group keys
    grouped = (
        cells.join(frame[["replicate", "_when", "_row"]])
        .groupby(keep, sort=False, dropna=False)
        .agg(replicates=("replicate", "nunique"), _when=("_when", "min"), _row=("_row", "min"))
        .reset_index()
        .sort_values(["_when", "_row"], kind="stable")
    )
    grouped["replicates"] = grouped["replicates"].map(lambda n: f"{n} of {total}")
    return grouped[[*keep, "replicates"]].reset_index(drop=True)


def _events(events: pd.DataFrame | None) -> dict[str, Any] | None:
    """The event table: columns, and per row (column, value) with sources as a list of claim ids."""
    if events is None or events.empty:
        return None
    merged = merge_replicate_events(events)
    shown = merged.head(MAX_EVENT_ROWS)
    columns = list(shown.columns)
    rows = []
    for record in shown.to_dict("records"):
        cells: list[tuple[str, Any]] = []
        for column in columns:
            value = record.get(column)
            if column == "sources":
                cells.append((column, split_sources(value)))
            else:
                blank = value is None or (isinstance(value, float) and pd.isna(value))
                cells.append((column, "" if blank else value))
        rows.append(cells)
    return {"columns": columns, "rows": rows, "total": len(merged)}


def _cited(rules: Sequence[Mapping[str, Any]], events: pd.DataFrame | None) -> list[str]:
    cited: list[str] = []
    for rule in rules:
        cited += split_sources(rule.get("sources"))
    if events is not None and not events.empty and "sources" in events.columns:
        for value in events["sources"]:
            cited += split_sources(value)
    return sorted(set(cited), key=_claim_key)


def _claim_key(claim: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\s]", claim.lstrip("D")))


def _manifest_rows(manifest: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(key, shown value, shown as a block) per manifest entry: mappings as JSON, lists joined."""
    rows = []
    for key, value in manifest.items():
        if isinstance(value, Mapping):
            rows.append((str(key), json.dumps(value, indent=2, sort_keys=True, default=str), True))
        elif isinstance(value, (list, tuple)):
            rows.append((str(key), ", ".join(str(v) for v in value), False))
        else:
            rows.append((str(key), "—" if value is None else str(value), False))
    return rows


def _headline_cards(headline: Sequence[tuple[str, str]]) -> list[dict[str, str | None]]:
    """Each value in large type; a trailing parenthetical (the 10–90% range) on a smaller line."""
    cards = []
    for label, value in headline:
        match = re.match(r"^(.*?)\s+\((.*)\)$", str(value))
        big, small = (match.group(1), match.group(2)) if match else (str(value), None)
        cards.append({"label": label, "value": big, "range": small})
    return cards


# --------------------------------------------------------------------------- page
SECTIONS = (
    ("headline", "At the horizon"),
    ("figures", "Curves"),
    ("rules", "Rules timeline"),
    ("events", "Events"),
    ("sources", "Sources"),
    ("manifest", "Manifest"),
)


def render_report(
    *,
    title: str,
    description: str,
    summary: pd.DataFrame | None,
    events: pd.DataFrame | None,
    rules: Sequence[Mapping[str, Any]],
    claims: Mapping[str, str],
    manifest: Mapping[str, Any],
    figures: Mapping[str, bytes],
    headline: Sequence[tuple[str, str]],
) -> str:
    """The report page as a string (UTF-8 HTML5, no external resources, no script)."""
    meta = []
    for key, label in (
        ("replicates", "replicates"),
        ("bands", "10-90% bands"),
        ("created_utc", "created"),
        ("git_commit", "commit"),
        ("package_version", "version"),
    ):
        if manifest.get(key) not in (None, ""):
            value = str(manifest[key])
            meta.append((label, value[:12] if key == "git_commit" else value))
    colours = _kind_colours(rules)
    run = _run_quarters(summary, rules) if rules else None
    return render(
        "report.html.j2",
        title=title,
        description=description,
        meta=meta,
        sections=SECTIONS,
        headline=_headline_cards(headline),
        figures=inline_pngs(figures),
        rules=_rule_rows(rules),
        gantt=None if run is None else _gantt(rules, run, colours),
        kind_colours=list(colours.items()),
        events=_events(events),
        claims=claims,
        cited=_cited(rules, events),
        manifest_rows=_manifest_rows(manifest),
        manifest_json=json.dumps(manifest, indent=2, sort_keys=True, default=str),
    )
