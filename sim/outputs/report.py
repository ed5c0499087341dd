"""The run report: one self-contained HTML page that opens offline.

No external resources at all: figures are embedded as `data:image/png;base64` URIs, the
style is inline, the rules timeline is inline SVG, and there is no script. Every piece of
text from the scenario, the claims or the event log is escaped with `html.escape`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

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

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d2330;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 28px 60px; background: #fff; min-height: 100vh; }
h1 { font-size: 28px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid #e3e6eb; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.description { font-size: 16px; color: #333a48; margin: 4px 0 10px; }
p.meta, p.note { color: #5b6272; font-size: 13px; margin: 4px 0; }
nav { font-size: 13px; margin: 10px 0 0; }
nav a { margin-right: 14px; }
a { color: #1f5fbf; text-decoration: none; }
a:hover { text-decoration: underline; }
.headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { border: 1px solid #e3e6eb; border-radius: 8px; padding: 10px 12px; background: #fafbfc; }
.card .label { font-size: 12.5px; color: #5b6272; }
.card .value { font-size: 21px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .range { font-size: 12px; color: #5b6272; font-variant-numeric: tabular-nums; }
figure { margin: 18px 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #eceef2; border-radius: 4px; }
figcaption { font-size: 13px; color: #5b6272; margin-top: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid #eceef2; }
th { background: #f2f4f7; font-weight: 600; }
td.id, td.nowrap, td.date, td.replicates { white-space: nowrap; }
table.rules td.summary { width: 46%; }
th.sources, td.sources { min-width: 150px; }
table.events td.event { width: 42%; }
td.rule_id { min-width: 170px; }
.scroll { overflow-x: auto; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
a.claim { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  background: #eef3fb; border-radius: 3px; padding: 0 3px; margin-right: 3px; white-space: nowrap; }
.gantt { width: 100%; height: auto; display: block; margin: 6px 0 4px; }
.gantt text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1d2330; }
.gantt .axis { fill: #5b6272; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12.5px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
ol.claims { font-size: 13.5px; padding-left: 0; list-style: none; }
ol.claims li { margin: 4px 0; }
ol.claims li:target { background: #fff6d6; }
dl.manifest { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; font-size: 13.5px; }
dl.manifest dt { font-weight: 600; color: #333a48; }
dl.manifest dd { margin: 0; word-break: break-all; }
pre { background: #f6f8fa; border: 1px solid #eceef2; border-radius: 6px; padding: 10px; overflow-x: auto;
  font-size: 12px; }
details summary { cursor: pointer; color: #1f5fbf; margin: 8px 0; }
"""


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
def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _claim_links(ids: Iterable[str], claims: Mapping[str, str]) -> str:
    links = []
    for claim in ids:
        text = claims.get(claim, "claim text not found in the sources list")
        links.append(f'<a class="claim" href="#claim-{_e(claim)}" title="{_e(text)}">{_e(claim)}</a>')
    return " ".join(links)  # spaces let a long list wrap


def _kind_colours(rules: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    kinds = sorted({str(rule.get("kind", "")) for rule in rules})
    return {kind: _KIND_COLOURS[i % len(_KIND_COLOURS)] for i, kind in enumerate(kinds)}


def _gantt_svg(rules: Sequence[Mapping[str, Any]], run: tuple[int, int], colours: Mapping[str, str]) -> str:
    """One bar per rule over the run's quarters, year gridlines, tooltips with the rule summary."""
    label_w, plot_w, row_h, top = 230, 800, 24, 26
    quarters = run[1] - run[0] + 1
    qw = plot_w / quarters
    height = top + row_h * len(rules) + 8
    svg_open = (
        f'<svg class="gantt" viewBox="0 0 {label_w + plot_w + 10} {height}" role="img" aria-label="Rules"'
    )
    parts = [svg_open + ">"]
    for q in range(run[0], run[1] + 1):
        if q % 4 == 0 or q == run[0]:
            x = label_w + (q - run[0]) * qw
            parts.append(
                f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 4}" stroke="#dfe3e8"/>'
            )
            if q % 4 == 0 and (run[1] - q) >= 2:
                parts.append(f'<text class="axis" x="{x + 3:.1f}" y="{top - 10}">{q // 4}</text>')
    right = label_w + plot_w
    parts.append(f'<line x1="{right}" y1="{top - 6}" x2="{right}" y2="{height - 4}" stroke="#dfe3e8"/>')
    for row, rule in enumerate(rules):
        y = top + row * row_h
        name = str(rule.get("id", ""))
        short = name if len(name) <= 32 else name[:31] + "…"
        when = f"{rule.get('start') or 'start'} – {rule.get('end') or 'open-ended'}"
        tip = f"{name} ({rule.get('kind', '')}): {when}"
        if rule.get("summary"):
            tip += f". {rule['summary']}"
        parts.append(f"<g><title>{_e(tip)}</title>")
        parts.append(f'<text x="{label_w - 12}" y="{y + 16}" text-anchor="end">{_e(short)}</text>')
        window = _rule_window(rule, run)
        if window is None:
            parts.append(f'<text class="axis" x="{label_w + 6}" y="{y + 16}">outside the run</text></g>')
            continue
        first, last, before, after = window
        x = label_w + (first - run[0]) * qw
        width = max((last - first + 1) * qw, 3.0)
        colour = colours.get(str(rule.get("kind", "")), _KIND_COLOURS[0])
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 5}" width="{width:.1f}" height="{row_h - 10}" rx="3" '
            f'fill="{colour}"/>'
        )
        if before:  # started before the run: an arrow head at the left end
            parts.append(
                f'<polygon points="{x:.1f},{y + 3} {x - 7:.1f},{y + row_h / 2} {x:.1f},{y + row_h - 3}" '
                f'fill="{colour}"/>'
            )
        if after:  # open-ended or beyond the horizon: an arrow head at the right end
            tip_x = x + width
            parts.append(
                f'<polygon points="{tip_x:.1f},{y + 3} {tip_x + 7:.1f},{y + row_h / 2} '
                f'{tip_x:.1f},{y + row_h - 3}" fill="{colour}"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _rules_section(
    rules: Sequence[Mapping[str, Any]], claims: Mapping[str, str], summary: pd.DataFrame | None
) -> str:
    if not rules:
        return '<p class="note">This scenario has no rules.</p>'
    colours = _kind_colours(rules)
    out = []
    run = _run_quarters(summary, rules)
    if run is not None:
        out.append(_gantt_svg(rules, run, colours))
        legend = "".join(
            f'<span><i style="background:{c}"></i>{_e(k or "(no kind)")}</span>' for k, c in colours.items()
        )
        out.append(
            f'<p class="legend">{legend}<span>◀ ▶ in force before the start / after the end of the run'
            "</span></p>"
        )
        out.append(
            f'<p class="note">Run: {quarter_label(run[0])} – {quarter_label(run[1])}; '
            f"hover a bar for the rule's summary.</p>"
        )
    rows = []
    for rule in rules:
        window = f"{rule.get('start') or 'start of run'} – {rule.get('end') or 'open-ended'}"
        rows.append(
            f'<tr><td class="id"><code>{_e(rule.get("id"))}</code></td>'
            f'<td class="nowrap">{_e(rule.get("kind"))}</td>'
            f'<td class="nowrap">{_e(window)}</td><td class="summary">{_e(rule.get("summary"))}</td>'
            f'<td class="sources">{_claim_links(split_sources(rule.get("sources")), claims)}</td></tr>'
        )
    out.append(
        '<table class="rules"><thead><tr><th>Rule</th><th>Kind</th><th>When</th><th>What it does</th>'
        '<th class="sources">Sources</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    return "".join(out)


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


def _events_section(events: pd.DataFrame | None, claims: Mapping[str, str]) -> str:
    if events is None or events.empty:
        return '<p class="note">No events were logged in this run.</p>'
    merged = merge_replicate_events(events)
    shown = merged.head(MAX_EVENT_ROWS)
    columns = list(shown.columns)
    head = "".join(f'<th class="{_e(c)}">{_e(c.replace("_", " "))}</th>' for c in columns)
    rows = []
    for record in shown.to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            if column == "sources":
                cells.append(f'<td class="sources">{_claim_links(split_sources(value), claims)}</td>')
            else:
                text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else value
                cells.append(f'<td class="{_e(column)}">{_e(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if "replicates" in columns:
        note += '<p class="note">Events of all replicates merged; "replicates": in how many it occurred.</p>'
    if len(merged) > len(shown):
        note += f'<p class="note">First {len(shown)} of {len(merged)} events; all are in events.csv.</p>'
    table = f'<table class="events"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<div class="scroll">{table}</div>{note}'


def _claims_section(ids: Sequence[str], claims: Mapping[str, str]) -> str:
    if not ids:
        return '<p class="note">No sources are cited.</p>'
    items = "".join(
        f'<li id="claim-{_e(c)}"><a class="claim" href="#claim-{_e(c)}">{_e(c)}</a> '
        f"{_e(claims.get(c, 'claim text not found in the sources list'))}</li>"
        for c in ids
    )
    return f'<ol class="claims">{items}</ol>'


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


def _manifest_section(manifest: Mapping[str, Any]) -> str:
    if not manifest:
        return '<p class="note">No manifest.</p>'
    rows = []
    for key, value in manifest.items():
        if isinstance(value, Mapping):
            shown = f"<pre>{_e(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"
        elif isinstance(value, (list, tuple)):
            shown = f'<span class="mono">{_e(", ".join(str(v) for v in value))}</span>'
        else:
            shown = f'<span class="mono">{_e("—" if value is None else value)}</span>'
        rows.append(f"<dt>{_e(key)}</dt><dd>{shown}</dd>")
    full = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    return (
        f'<dl class="manifest">{"".join(rows)}</dl>'
        f"<details><summary>Full manifest (JSON)</summary><pre>{_e(full)}</pre></details>"
    )


def _figures_section(figures: Mapping[str, bytes]) -> str:
    if not figures:
        return '<p class="note">No figures.</p>'
    out = []
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure id="figure-{_e(name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{_e(name)} figure"><figcaption>{_e(name.capitalize())}: median over replicates '
            f"(line) with the 10–90% range (band).</figcaption></figure>"
        )
    return "".join(out)


def _headline_value(value: str) -> str:
    """The value in large type; a trailing parenthetical (the 10–90% range) on a smaller line."""
    match = re.match(r"^(.*?)\s+\((.*)\)$", value)
    if not match:
        return f'<div class="value">{_e(value)}</div>'
    return f'<div class="value">{_e(match.group(1))}</div><div class="range">{_e(match.group(2))}</div>'


def _headline_section(headline: Sequence[tuple[str, str]]) -> str:
    if not headline:
        return '<p class="note">No headline numbers.</p>'
    cards = "".join(
        f'<div class="card"><div class="label">{_e(label)}</div>{_headline_value(str(value))}</div>'
        for label, value in headline
    )
    return f'<div class="headline">{cards}</div>'


# --------------------------------------------------------------------------- page
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
        ("created_utc", "created"),
        ("git_commit", "commit"),
        ("package_version", "version"),
    ):
        if manifest.get(key) not in (None, ""):
            value = str(manifest[key])
            meta.append(
                f"{label} <span class='mono'>{_e(value[:12] if key == 'git_commit' else value)}</span>"
            )
    cited = _cited(rules, events)
    sections = [
        ("headline", "At the horizon", _headline_section(headline)),
        ("figures", "Curves", _figures_section(figures)),
        ("rules", "Rules timeline", _rules_section(rules, claims, summary)),
        ("events", "Events", _events_section(events, claims)),
        ("sources", "Sources", _claims_section(cited, claims)),
        ("manifest", "Manifest", _manifest_section(manifest)),
    ]
    nav = "".join(f'<a href="#{anchor}">{_e(name)}</a>' for anchor, name, _ in sections)
    body = "".join(
        f'<section id="{anchor}"><h2>{_e(name)}</h2>{content}</section>' for anchor, name, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{_e(title)}</h1><p class="description">{_e(description)}</p>'
        f'<p class="meta">{" · ".join(meta)}</p><nav>{nav}</nav></header>'
        f"{body}</main></body></html>\n"
    )
