"""Figures of a run: median lines with a shaded 10–90% band over replicates.

Built on `matplotlib.figure.Figure` directly (no pyplot, no GUI backend, never `show`), so
they render headless, in worker processes and in notebooks alike, always with the Agg canvas.
Every figure takes the summary table (`tables.summarise`) and a title naming the scenario; a
metric missing from the summary leaves its panel with a note instead of failing, and a single
replicate simply gives a band of zero width. The x axis is the step (its order); its ticks are
labelled with the period labels (`2024Q1`) found in the summary's `date` column, under the bottom
panel only (a figure's panels share their time axis).

The panels draw their own ticks (grid lines and tick marks as collections, labels as one artist: the
values matplotlib's locator and formatter give), on `PanelAxes`, which makes no ticks of its own:
matplotlib's per-tick objects were most of a figure's cost. `tick_labels` reads a panel's labels.

Values are shown in one unit per kind of quantity (`sim.outputs.units`): shares in percent, 0-1
indices on a 0-100 scale, months. Lines are labelled at their ends (direct labels); overlays of
several scenarios keep a value's colour and tell the scenarios apart by line style (the base solid),
with a key under the title. `add_footer` stamps a figure with what it shows: scenario(s),
replicates, what the bands carry, the sim version and the run's date (from its manifest).

Layout is fixed (inches, `subplots_adjust`), never constrained or tight layout: those measure
every text of the figure at draw time and cost more than the drawing itself.

Colours are fixed across figures and pages, from `sim.blocs` (Okabe-Ito): bloc US blue, CN
vermillion, EU orange, other grey; open weights bluish green, closed reddish purple; the world
total black.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import XAxis, YAxis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator, ScalarFormatter
from matplotlib.transforms import Affine2D, Bbox, ScaledTranslation

from sim.blocs import BLOC_COLOURS, BLOCS, OPENNESS, OPENNESS_COLOURS, REGION_COLOURS, REGIONS, WORLD_COLOUR
from sim.metrics_registry import BY_NAME, GAP_PAIRS, WORLD_GROUP, normalise_group, parsed_group
from sim.outputs.atomic import atomic_write_bytes
from sim.outputs.fonts import MemoryFontCanvas
from sim.outputs.formats import FIGURE_FORMATS
from sim.outputs.units import Quantity, quantity

# A pair takes the colour of the side the figure is about: the trailer of a gap, the first of a pair.
PAIR_COLOURS = {"open-closed": OPENNESS_COLOURS["open"], "CN-US": BLOC_COLOURS["CN"], "US-CN": BLOC_COLOURS["US"]}
_FALLBACK = [
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#ff7f0e",
    "#393b79",
    "#9467bd",
    "#000000",
    "#98df8a",
    "#c49c94",
    "#f7b6d2",
    "#637939",
]
# One line style per scenario of an overlay: the base solid, then dashed, dotted, dash-dot.
SCENARIO_STYLES: list[Any] = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2))]
WORLD = "world"
DPI = 110
NOTE = "line: median over replicates · band: 10–90% of replicates"
MAX_DIRECT_LABELS = 16  # more lines than this get a legend: their labels would not fit the panel's height
# Fixed geometry in inches: room at the right for the line-end labels, below for ticks and the footer.
# GAP holds the next panel's title only: the years are labelled under the bottom panel alone.
WIDTH, LEFT, RIGHT, TOP, BOTTOM, PANEL, GAP = 10.5, 0.85, 2.05, 0.8, 0.85, 2.45, 0.5
LABEL_PT = 8.5
GRID_COLOUR = "#e5e5e5"


@dataclass(frozen=True)
class Line:
    """One series to draw: its label, colour, per-step statistics (sorted by step) and line style
    (one per scenario in an overlay: the first solid)."""

    label: str
    colour: str
    data: pd.DataFrame
    style: Any = "-"
    scenario: str | None = None


@dataclass(frozen=True)
class Stamp:
    """What a figure's footer says it shows (`add_footer`)."""

    scenarios: tuple[str, ...]
    replicates: int
    bands: str  # as `sim.calibration.ensemble.band_note` words it: `bands: seeds only`
    version: str | None = None
    date: str | None = None  # the run's date (manifest `created_utc`), YYYY-MM-DD

    def text(self) -> str:
        """One line: `baseline vs eu-bans · 10 replicates · bands: seeds only · sim 0.1.0 · 2026-12-01`."""
        plural = "" if self.replicates == 1 else "s"
        parts = [" vs ".join(self.scenarios), f"{self.replicates} replicate{plural}", self.bands]
        parts += [f"sim {self.version}" if self.version else "sim (version unknown)"]
        if self.date:
            parts.append(self.date)
        return " · ".join(parts)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Stamp:
        """The stamp of a run or comparison from its manifest (`scenarios` of a comparison, else `scenario`)."""
        scenarios = manifest.get("scenarios") or [manifest.get("scenario") or "?"]
        created = str(manifest.get("created_utc") or "")
        return cls(tuple(str(s) for s in scenarios), int(manifest.get("replicates") or 0),
                   str(manifest.get("bands") or "bands: seeds only"), manifest.get("package_version"),
                   created[:10] or None)


# --------------------------------------------------------------------------- data selection
def _metric_rows(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = summary[summary["metric"] == metric]
    if "group" in rows.columns and (rows["group"].isna() | (rows["group"] == "")).any():
        rows = rows.assign(group=rows["group"].map(normalise_group))  # a world total of older files
    return rows


def _colour(value: str, palette: dict[str, str], others: Sequence[str]) -> str:
    """Palette colour, else a stable fallback colour by position among the unknown values."""
    if value in palette:
        return palette[value]
    unknown = [v for v in others if v not in palette]
    index = unknown.index(value) if value in unknown else len(unknown)
    return _FALLBACK[index % len(_FALLBACK)]


def _order(values: Sequence[str], preferred: Sequence[str]) -> list[str]:
    known = [v for v in preferred if v in values]
    return known + sorted(v for v in values if v not in known)


def select_lines(
    summary: pd.DataFrame,
    metric: str,
    key: str,
    *,
    fixed: dict[str, str] | None = None,
    palette: dict[str, str] | None = None,
    preferred: Sequence[str] = (),
    label: Callable[[str], str] = str,
) -> list[Line]:
    """Lines of `metric` whose group is exactly `{key: <v>} | fixed`, one per value `v` of `key`.

    Several scenarios in one summary give one line per scenario and value (labelled
    `value · scenario`).
    """
    fixed = fixed or {}
    rows = _metric_rows(summary, metric)
    # Rows are picked by group code, not by comparing labels: a metric with per-country groups has
    # ~20,000 rows and each line would compare all of them.
    codes, labels = pd.factorize(rows["group"])
    chosen: dict[int, str] = {}  # the code of each group drawn -> its value of `key`
    # Only labels with as many pairs (values hold no `,`) and naming `key` can match: parse those alone
    # (a metric with per-country groups has ~1,000 labels, a handful of them drawn).
    named, commas = f"{key}=", len(fixed)
    for code, group in enumerate(labels.tolist()):
        if group.count(",") != commas or named not in group:
            continue
        pairs = parsed_group(group)
        if set(pairs) == {key, *fixed} and all(pairs.get(k) == v for k, v in fixed.items()):
            chosen[code] = pairs[key]
    values = _order(list(set(chosen.values())), preferred)
    lines = []
    scenarios = _scenarios(rows)
    for index, scenario in enumerate(scenarios):
        in_scenario = rows if scenario is None else rows[rows["scenario"] == scenario]
        in_codes = codes if scenario is None else codes[(rows["scenario"] == scenario).to_numpy()]
        for value in values:
            groups = [c for c, v in chosen.items() if v == value]
            data = in_scenario.iloc[np.flatnonzero(np.isin(in_codes, groups))].sort_values("step")
            if data.empty:
                continue
            lines.append(Line(label(value), _colour(value, palette or {}, values), data,
                              _style(index), scenario if len(scenarios) > 1 else None))
    return lines


def _scenarios(rows: pd.DataFrame) -> list[str | None]:
    """The scenarios of a summary in their order of appearance (a comparison's base first)."""
    if "scenario" not in rows.columns or rows.empty:
        return [None]
    return list(pd.unique(rows["scenario"]))


def _style(index: int) -> Any:
    return SCENARIO_STYLES[index % len(SCENARIO_STYLES)]


def _world_and_regions(summary: pd.DataFrame, metric: str) -> list[Line]:
    """The world total (`group == "world"`) followed by one line per `region=<r>`."""
    rows = _metric_rows(summary, metric)
    lines = []
    world = rows[rows["group"] == WORLD_GROUP].sort_values("step")
    scenarios = _scenarios(rows)
    for index, scenario in enumerate(scenarios):
        data = world if scenario is None else world[world["scenario"] == scenario]
        if not data.empty:
            lines.append(Line(WORLD, WORLD_COLOUR, data, _style(index), scenario if len(scenarios) > 1 else None))
    regions = select_lines(
        summary,
        metric,
        "region",
        palette=REGION_COLOURS,
        preferred=REGIONS,
        label=lambda r: f"region {r}",
    )
    return lines + regions


# --------------------------------------------------------------------------- axes
def _timeline(summary: pd.DataFrame) -> pd.DataFrame:
    """Distinct (step, date) of the summary, in step order."""
    if summary.empty:
        return pd.DataFrame({"step": pd.Series(dtype=int), "date": pd.Series(dtype=str)})
    steps = summary[["step", "date"]].drop_duplicates("step").sort_values("step")
    return steps.reset_index(drop=True)


def _year_ticks(timeline: pd.DataFrame) -> tuple[list[Any], list[str]]:
    """Steps and labels of the x ticks: each year's first quarter (every 2nd year for long runs)."""
    steps = timeline["step"].to_numpy()
    dates = timeline["date"].astype(str).to_numpy()
    major = [i for i, d in enumerate(dates) if d.endswith("Q1")]
    if not major:  # labels not in quarter form: about eight evenly spaced ticks
        major = list(np.unique(np.linspace(0, len(steps) - 1, num=min(8, len(steps))).round().astype(int)))
    stride = 1 + (len(major) - 1) // 10
    major = major[::stride]
    return [steps[i] for i in major], [dates[i] for i in major]


def _date_ticks(ax: Axes, timeline: pd.DataFrame) -> None:
    """Ticks on each year's first quarter (every 2nd year for long runs); no per-quarter minor ticks (each
    tick is an object to build and draw: they cost a third of a figure's time)."""
    if timeline.empty:
        return
    ticks, labels = _year_ticks(timeline)
    ax.set_xticks(ticks, labels)
    steps = timeline["step"].to_numpy()
    ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5)
    ax.tick_params(axis="x", which="major", labelsize=9)


def _drawn_date_ticks(ax: Axes, timeline: pd.DataFrame, *, labels: bool, grid: bool = True) -> None:
    """The year ticks of `_date_ticks` (with their grid lines), drawn as two collections and, with `labels`, one
    artist for their labels, instead of matplotlib's ticks (a dozen objects each, built and drawn one by one: most
    of a panel's cost). Without labels for a panel above another: its years are read off the bottom panel."""
    ax.set_xticks([])
    if timeline.empty:
        return
    ticks, names = _year_ticks(timeline)
    steps = timeline["step"].to_numpy()
    ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5)
    on_axis = ax.get_xaxis_transform()  # x in data, y in axes fractions
    if grid:
        ax.add_collection(LineCollection([[(x, 0.0), (x, 1.0)] for x in ticks], colors=GRID_COLOUR, linewidths=0.8,
                                         transform=on_axis, zorder=0.5), autolim=False)  # under the bands, as a grid
    # Tick marks as matplotlib draws them: `xtick.major.size` points down from the bottom spine.
    root = ax.get_figure(root=True)
    assert root is not None
    rc = matplotlib.rcParams
    size, pad = rc["xtick.major.size"], rc["xtick.major.pad"]
    points = Affine2D().scale(1 / 72) + root.dpi_scale_trans
    ax.add_collection(LineCollection([[(0.0, 0.0), (0.0, -size)]], offsets=[(x, 0.0) for x in ticks],
                                     offset_transform=on_axis, transform=points, colors=rc["xtick.color"],
                                     linewidths=rc["xtick.major.width"], capstyle="butt", clip_on=False, zorder=2.5),
                      autolim=False)
    if labels:  # where matplotlib puts an x tick's label: `size + pad` points under the axis, centred
        place = on_axis + ScaledTranslation(0, -(size + pad) / 72, root.dpi_scale_trans)
        colour = rc["xtick.color"] if rc["xtick.labelcolor"] == "inherit" else rc["xtick.labelcolor"]
        _add_tick_labels(ax, "x", [Text(x, 0.0, name, transform=place, ha="center", va="top", fontsize=9, color=colour)
                              for x, name in zip(ticks, names, strict=True)])


def _add_tick_labels(ax: Axes, axis: str, texts: list[Text]) -> None:
    figure = ax.get_figure(root=False)
    assert figure is not None  # a panel of a figure
    for text in texts:
        text.set_figure(figure)
    ax.add_artist(_TickLabels(axis, texts))


def tick_labels(ax: Axes, axis: str) -> list[Text]:
    """The tick labels a panel of these figures shows on its `axis` ("x": the years, on a bottom panel; "y": its
    values), in order: matplotlib's own (`get_xticklabels`, `get_yticklabels`) where it draws them, else ours."""
    mine = [t for artist in ax.artists if isinstance(artist, _TickLabels) and artist.axis == axis
            for t in artist.labels]
    theirs = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return mine or [t for t in theirs if t.get_text()]


def _scaled(line: Line, column: str, scale: float) -> np.ndarray:
    return line.data[column].to_numpy(dtype=float) * scale


def draw_panel(
    ax: Axes,
    lines: Sequence[Line],
    *,
    title: str,
    ylabel: str | None = None,
    timeline: pd.DataFrame,
    missing: str,
    zero_line: bool = False,
    unit: Quantity | None = None,
    difference: bool = False,
) -> None:
    """Median lines with 10–90% bands, labelled at their ends; a note instead when there is nothing to draw.

    `unit` scales the values and names the axis (`sim.outputs.units`): a share level is drawn in
    percent on 0-100, a difference in percentage points; `ylabel` replaces the unit's axis label.
    """
    # A fixed title height: left to itself, matplotlib measures the tick labels at every draw to place it.
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", y=1.0, pad=6)
    scale = unit.scale if unit is not None else 1.0
    if not lines:
        ax.text(0.5, 0.5, f"No data: {missing}", transform=ax.transAxes, ha="center", va="center", fontsize=10,
                color="#555555", style="italic")
        ax.set_xticks([])
        ax.set_yticks([])
        if _bottom(ax):  # the figure's years stay readable under an empty bottom panel
            _drawn_date_ticks(ax, timeline, labels=True, grid=False)
        for spine in ax.spines.values():
            spine.set_color("#dddddd")
        return
    for line in lines:
        x = line.data["step"].to_numpy(dtype=float)
        _band(ax, x, _scaled(line, "q10", scale), _scaled(line, "q90", scale), line.colour,
              0.18 if line.style == "-" else 0.10)
        ax.plot(x, _scaled(line, "median", scale), color=line.colour, linewidth=2 if line.style == "-" else 1.8,
                linestyle=line.style, label=_full_label(line))
    # About five y ticks (0, 20, ... 80%) instead of matplotlib's ten: each tick is a dozen objects to build
    # and a label to draw, and ten grid lines on a 2.45-inch panel add nothing the eye needs.
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    if unit is not None and unit.kind == "share" and not difference:
        low, high = ax.get_ylim()
        ax.set_ylim(0.0 if low >= -5.0 else low, min(high, 102.0))  # shares start at zero
        ax.yaxis.set_major_formatter(FuncFormatter(_percent_tick))
    if difference and unit is not None:
        _at_least_one_unit(ax, unit)
    if zero_line or difference:
        ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
    axis = ylabel if ylabel is not None else (unit.difference_axis if difference else unit.level_axis) if unit else ""
    ax.set_ylabel(axis, fontsize=9)
    # Fixed axis-label places: left to themselves they are placed by measuring every tick label at each draw.
    ax.yaxis.set_label_coords(-0.58 / (WIDTH - LEFT - RIGHT), 0.5)
    ax.xaxis.set_label_coords(0.5, -0.12)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", labelsize=9)
    _drawn_y_ticks(ax)
    # Only the bottom panel labels the years, as the panels of one figure share their x axis.
    _drawn_date_ticks(ax, timeline, labels=_bottom(ax))
    if len(lines) <= MAX_DIRECT_LABELS:
        label_line_ends(ax, lines, scale)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=LABEL_PT, ncol=2)


class _TickLabels(Artist):
    """Tick labels drawn as one artist of the Axes: kept out of `ax.texts`, which holds what a panel says (its line
    labels, its note)."""

    def __init__(self, axis: str, texts: Sequence[Text]) -> None:
        super().__init__()
        self.axis = axis  # "x" or "y"
        self.labels = list(texts)
        self.set_clip_on(False)  # outside the axes, as tick labels are (and so counted in a tight bbox)

    def draw(self, renderer: Any) -> None:
        if self.get_visible():
            for text in self.labels:
                text.draw(renderer)

    def get_window_extent(self, renderer: Any = None) -> Bbox:
        """Where the labels are drawn: a tight save (`bbox_inches="tight"`) keeps them in the picture."""
        boxes = [text.get_window_extent(renderer) for text in self.labels if text.get_text()]
        return Bbox.union(boxes) if boxes and self.get_visible() else Bbox.null()


def _drawn_y_ticks(ax: Axes) -> None:
    """The y ticks matplotlib would draw (the axis' locator and formatter over the panel's final limits) as a grid
    collection, a tick-mark collection and their labels, instead of matplotlib's ticks: a dozen objects each, built
    and drawn one by one, ~90 in the five figures of a run. A formatter that needs an offset (`1e6`, `+1.2e3`
    above the axis) keeps matplotlib's ticks."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high)  # the limits the ticks were placed in stay (nothing drawn later may move them)
    axis = ax.yaxis
    locations = list(axis.get_major_locator()())
    labels = axis.get_major_formatter().format_ticks(locations)  # all of them, as matplotlib: they set the format
    formatter = axis.get_major_formatter()
    if isinstance(formatter, ScalarFormatter) and formatter.get_offset():
        ax.yaxis.grid(True, which="major", color=GRID_COLOUR, linewidth=0.8)
        return
    bottom, top = min(low, high), max(low, high)
    close = (top - bottom) * 1e-10  # matplotlib's tolerance for a tick at the edge of the view
    shown = [(at, label) for at, label in zip(locations, labels, strict=True) if bottom - close <= at <= top + close]
    ax.set_yticks([])
    if not shown:
        return
    root = ax.get_figure(root=True)
    assert root is not None
    on_axis = ax.get_yaxis_transform()  # x in axes fractions, y in data
    ax.add_collection(LineCollection([[(0.0, at), (1.0, at)] for at, _ in shown], colors=GRID_COLOUR,
                                     linewidths=0.8, transform=on_axis, zorder=0.5), autolim=False)
    rc = matplotlib.rcParams
    size, pad = rc["ytick.major.size"], rc["ytick.major.pad"]
    points = Affine2D().scale(1 / 72) + root.dpi_scale_trans
    ax.add_collection(LineCollection([[(0.0, 0.0), (-size, 0.0)]], offsets=[(0.0, at) for at, _ in shown],
                                     offset_transform=on_axis, transform=points, colors=rc["ytick.color"],
                                     linewidths=rc["ytick.major.width"], capstyle="butt", clip_on=False,
                                     zorder=2.5), autolim=False)
    # Where matplotlib puts a y tick's label: `size + pad` points left of the axis, right-aligned.
    place = on_axis + ScaledTranslation(-(size + pad) / 72, 0, root.dpi_scale_trans)
    colour = rc["ytick.color"] if rc["ytick.labelcolor"] == "inherit" else rc["ytick.labelcolor"]
    _add_tick_labels(ax, "y", [Text(0.0, at, label, transform=place, ha="right", va="center_baseline", fontsize=9,
                               color=colour) for at, label in shown])


def _band(ax: Axes, x: np.ndarray, low: np.ndarray, high: np.ndarray, colour: str, alpha: float) -> None:
    """`fill_between(x, low, high)` as one polygon: a quarter of its cost (it checks, masks and interpolates
    for gaps); a band with a gap (NaN) still goes through it."""
    if not (np.isfinite(x).all() and np.isfinite(low).all() and np.isfinite(high).all()) or len(x) < 2:
        ax.fill_between(x, low, high, color=colour, alpha=alpha, linewidth=0)
        return
    outline = np.concatenate([np.column_stack([x, high]), np.column_stack([x[::-1], low[::-1]])])
    ax.add_collection(PolyCollection([outline], facecolors=colour, edgecolors=colour, alpha=alpha, linewidths=0),
                      autolim=False)
    ax.update_datalim(outline)  # the axes' limits take the band in, as fill_between's do (the line drawn next
    # asks for the view to be rescaled)


def _bottom(ax: Axes) -> bool:
    """Whether `ax` is in the bottom row of its figure's grid (or in no grid)."""
    spec = ax.get_subplotspec()
    return spec is None or spec.is_last_row()


def _at_least_one_unit(ax: Axes, unit: Quantity) -> None:
    """A difference axis spans at least one unit (1 pp, 1 index point, 1 month) around zero, ticks to the
    unit's decimals: a difference of hundredths of a month is drawn as the near-zero it is."""
    low, high = ax.get_ylim()
    if high - low < 1.0:
        middle = (high + low) / 2 if low > 0 or high < 0 else 0.0
        ax.set_ylim(min(low, middle - 0.5), max(high, middle + 0.5))
    decimals = unit.decimals
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))  # no 0.25 steps at one decimal
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:+.{decimals}f}" if round(v, decimals) else "0"))


def _percent_tick(value: float, _pos: object) -> str:
    return f"{value:.0f}%" if abs(value - round(value)) < 1e-9 else f"{value:.1f}%"


def _full_label(line: Line) -> str:
    return line.label if line.scenario is None else f"{line.label} · {line.scenario}"


def _short(text: str, width: int = 16) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def label_line_ends(ax: Axes, lines: Sequence[Line], scale: float = 1.0) -> None:
    """Each line's label at its last point, just right of the axes, in the line's colour.

    Labels are moved apart (never closer than a line of text) and joined to their line's end by a
    thin leader when moved; an overlay's labels name the scenario (the first scenario, solid, does not).
    """
    ends = []
    for line in lines:
        last = line.data.iloc[-1]
        value = float(last["median"]) * scale
        if np.isfinite(value):
            ends.append((value, float(last["step"]), line))
    if not ends:
        return
    low, high = ax.get_ylim()
    span = (high - low) or 1.0
    left, right = ax.get_xlim()
    root = ax.get_figure(root=True)
    box = ax.get_position()
    width_in = box.width * (root.get_figwidth() if root is not None else WIDTH - LEFT - RIGHT)
    height_in = box.height * (root.get_figheight() if root is not None else PANEL)
    gap = 1.2 * LABEL_PT / 72 / max(height_in, 0.1)  # one text line in axes fractions
    ends.sort(key=lambda e: e[0])
    wanted = [(v - low) / span for v, _, _ in ends]
    placed = _spread(wanted, gap)
    first = lines[0].scenario
    leaders, colours = [], []
    for (_, step, line), want, at in zip(ends, wanted, placed, strict=True):
        text = line.label if line.scenario in (None, first) else f"{line.label} · {_short(line.scenario or '', 10)}"
        ax.text(LABEL_X, at, text, transform=ax.transAxes, fontsize=LABEL_PT, color=line.colour, va="center",
                ha="left", clip_on=False)
        if abs(at - want) > gap / 3:  # moved: a thin leader to its line's end
            end = ((step - left) / ((right - left) or 1.0), want)
            leaders.append(_leader((LABEL_X, at), end, width_in, height_in))
            colours.append(line.colour)
    # The leaders as one collection in axes fractions (an annotation's arrow per label costs ~10x as much to draw:
    # matplotlib clips each against its text's box by bisection).
    if leaders:
        ax.add_collection(LineCollection(leaders, colors=colours, linewidths=0.6, transform=ax.transAxes,
                                         clip_on=False, zorder=3), autolim=False)


LABEL_X = 1.015  # line-end labels start just right of the axes (axes fraction)
LEADER_GAP_PT = (2.0, 2.0)  # a leader stops short of its label and of its line's end, in points


def _leader(label: tuple[float, float], end: tuple[float, float], width_in: float, height_in: float
            ) -> list[tuple[float, float]]:
    """A leader from a label's left middle to its line's end (axes fractions), `LEADER_GAP_PT` short of each."""
    (x0, y0), (x1, y1) = label, end
    dx, dy = (x1 - x0) * width_in * 72, (y1 - y0) * height_in * 72  # in points
    length = float(np.hypot(dx, dy))
    if length <= sum(LEADER_GAP_PT):
        return [label, label]
    a, b = LEADER_GAP_PT[0] / length, 1 - LEADER_GAP_PT[1] / length
    return [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)]


def _spread(wanted: Sequence[float], gap: float) -> list[float]:
    """Positions as near the wanted ones (sorted ascending) as possible, at least `gap` apart."""
    placed: list[float] = []
    for want in wanted:  # push up past the previous label
        placed.append(max(want, placed[-1] + gap) if placed else want)
    overflow = placed[-1] - max(1.0, wanted[-1]) if placed else 0.0
    if overflow > 0:  # too high: shift down from the top, keeping the gaps
        placed[-1] -= overflow
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - gap)
    return placed


class _TickList:
    """An Axis' tick list that starts empty. matplotlib's (`_LazyTickList`) starts with one major and one minor
    tick made on first look, and an Axes looks at all four while it is built: ~60 ticks of a dozen objects each
    in the five figures, though the panels draw their ticks themselves (`_drawn_y_ticks`, `_drawn_date_ticks`).
    A tick asked for later is made then, from the axis' tick settings, as matplotlib makes every tick after
    the first."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        ticks: list[Any] = []
        setattr(instance, self.name, ticks)  # the instance's own list from now on (until `reset_ticks`)
        return ticks


class _PanelXAxis(XAxis):
    majorTicks = _TickList("majorTicks")  # noqa: N815 (matplotlib's name)
    minorTicks = _TickList("minorTicks")  # noqa: N815


class _PanelYAxis(YAxis):
    majorTicks = _TickList("majorTicks")  # noqa: N815 (matplotlib's name)
    minorTicks = _TickList("minorTicks")  # noqa: N815


class PanelAxes(Axes):
    """The Axes of a figure's panels: matplotlib's, its axes' tick lists starting empty (`_TickList`)."""

    def clear(self) -> None:
        super().clear()
        # matplotlib places the spines (their transform: at the axes' edges) when the first ticks are made,
        # which here are not: place them now, where they would have been.
        for spine in self.spines.values():
            spine.set_position(spine.get_position())

    def _init_axis(self) -> None:  # as matplotlib 3.11's Axes._init_axis, with the axis classes above
        self.xaxis = _PanelXAxis(self, clear=False)
        self.spines.bottom.register_axis(self.xaxis)
        self.spines.top.register_axis(self.xaxis)
        self.yaxis = _PanelYAxis(self, clear=False)
        self.spines.left.register_axis(self.yaxis)
        self.spines.right.register_axis(self.yaxis)


def _figure(title: str, subject: str, panels: int) -> tuple[Figure, list[Axes]]:
    """A figure of `panels` stacked panels in the fixed geometry, with its title; on the Agg canvas."""
    height = TOP + panels * PANEL + (panels - 1) * GAP + BOTTOM
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    MemoryFontCanvas(fig)  # Agg, its fonts read from memory (sim/outputs/fonts.py)
    fig.subplots_adjust(left=LEFT / WIDTH, right=1 - RIGHT / WIDTH, top=1 - TOP / height, bottom=BOTTOM / height,
                        hspace=GAP / PANEL)
    axes = list(fig.subplots(panels, 1, squeeze=False, subplot_kw={"axes_class": PanelAxes})[:, 0])
    fig.suptitle(f"{subject} — {title}", fontsize=14, fontweight="bold", x=LEFT / WIDTH, y=1 - 0.12 / height,
                 ha="left", va="top")
    return fig, axes


def _footer(fig: Figure, note: str = NOTE) -> None:
    """The note on what lines and bands show, at the bottom left."""
    fig.text(LEFT / WIDTH, 0.30 / fig.get_figheight(), note, fontsize=8.5, color="#555555", ha="left", va="bottom")


def add_footer(fig: Figure, stamp: Stamp | None) -> Figure:
    """Stamp `fig` with the scenario(s), replicates, band kind, sim version and date, under its note."""
    if stamp is not None:
        fig.text(LEFT / WIDTH, 0.10 / fig.get_figheight(), stamp.text(), fontsize=8.5, color="#555555",
                 ha="left", va="bottom")
    return fig


def scenario_key(fig: Figure, scenarios: Sequence[str | None]) -> None:
    """A key of an overlay's line styles under the title: `── baseline  - - eu-bans-chinese-models`."""
    named = [s for s in scenarios if s is not None]
    if len(named) < 2:
        return
    handles = [Line2D([], [], color="#333333", linewidth=1.8, linestyle=_style(i)) for i in range(len(named))]
    top = 1 - 0.36 / fig.get_figheight()
    fig.legend(handles, named, loc="upper left", bbox_to_anchor=(LEFT / WIDTH, top), ncol=len(named),
               frameon=False, fontsize=9, handlelength=3.2, borderaxespad=0, borderpad=0)


# --------------------------------------------------------------------------- figures
def _unit(metric: str) -> dict[str, Any]:
    """`draw_panel`'s unit and axis label for a level of `metric`: the registry's unit and how it is shown."""
    unit = quantity(metric)
    name = BY_NAME[metric].unit if metric in BY_NAME else metric
    shown = {"share": f"{name}, %", "index": f"{name} (0-100)" if unit.scale == 100 else name}.get(unit.kind, name)
    return {"unit": unit, "ylabel": shown}


def _finish(fig: Figure, summary: pd.DataFrame) -> None:
    _footer(fig)
    scenario_key(fig, _scenarios(summary))


def adoption_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Adoption: share by openness, share by origin bloc, and the adoption rate (world, regions)."""
    timeline = _timeline(summary)
    fig, (ax1, ax2, ax3) = _figure(title, "Adoption", 3)
    draw_panel(
        ax1,
        select_lines(
            summary,
            "adoption_share",
            "openness",
            palette=OPENNESS_COLOURS,
            preferred=OPENNESS,
            label=lambda o: f"{o} weights",
        ),
        title="Model choice: open vs closed weights",
        **_unit("adoption_share"),
        timeline=timeline,
        missing="metric adoption_share (openness=…) not in this run",
    )
    draw_panel(
        ax2,
        select_lines(
            summary,
            "adoption_share",
            "origin",
            palette=BLOC_COLOURS,
            preferred=BLOCS,
            label=lambda b: f"{b} models",
        ),
        title="Model choice by origin bloc",
        **_unit("adoption_share"),
        timeline=timeline,
        missing="metric adoption_share (origin=…) not in this run",
    )
    draw_panel(
        ax3,
        _world_and_regions(summary, "adoption_rate"),
        title="Adoption rate: firms using any AI model",
        **_unit("adoption_rate"),
        timeline=timeline,
        missing="metric adoption_rate not in this run",
    )
    _finish(fig, summary)
    return fig


def influence_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Influence index by bloc: GDP-weighted, population-weighted and one-country-one-vote."""
    timeline = _timeline(summary)
    fig, axes = _figure(title, "Influence", 3)
    weights = (("gdp", "GDP-weighted"), ("population", "population-weighted"), ("countries", "one country, one vote"))
    for ax, (weight, name) in zip(axes, weights, strict=True):
        draw_panel(
            ax,
            select_lines(
                summary,
                "influence",
                "bloc",
                fixed={"weight": weight},
                palette=BLOC_COLOURS,
                preferred=BLOCS,
            ),
            title=f"Influence of each bloc ({name})",
            **_unit("influence"),
            timeline=timeline,
            missing=f"metric influence (weight={weight}) not in this run",
        )
    _finish(fig, summary)
    return fig


def dependence_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Influence's parts abroad by bloc: dependence on its closed models (by GDP and by population),
    adoption of its open weights (by GDP), and governments on each origin's models. Per-country
    groups are left to the tables: seventy lines would be unreadable."""
    timeline = _timeline(summary)
    fig, axes = _figure(title, "Dependence and open-weights adoption", 4)
    panels = (
        ("dependence", "gdp", "Dependence: AI use abroad on each bloc's closed models (GDP-weighted)"),
        ("dependence", "population", "Dependence: AI use abroad on each bloc's closed models (population-weighted)"),
        ("open_adoption", "gdp", "Open weights: AI use abroad on each bloc's open models (GDP-weighted)"),
    )
    for ax, (metric, weight, heading) in zip(axes, panels, strict=False):
        draw_panel(
            ax,
            select_lines(summary, metric, "bloc", fixed={"weight": weight}, palette=BLOC_COLOURS, preferred=BLOCS),
            title=heading,
            **_unit(metric),
            timeline=timeline,
            missing=f"metric {metric} (weight={weight}) not in this run",
        )
    draw_panel(
        axes[3],
        select_lines(summary, "government_use", "origin", palette=BLOC_COLOURS, preferred=BLOCS,
                     label=lambda b: f"{b} models"),
        title="Governments whose AI runs on each origin's models",
        **_unit("government_use"),
        timeline=timeline,
        missing="metric government_use not in this run",
    )
    _finish(fig, summary)
    return fig


def capability_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Capability index by model family, and the capability gaps in months."""
    timeline = _timeline(summary)
    fig, (ax1, ax2) = _figure(title, "Capability", 2)
    draw_panel(
        ax1,
        select_lines(summary, "capability", "family"),
        title="Capability index by model family",
        **_unit("capability"),
        timeline=timeline,
        missing="metric capability not in this run",
    )
    draw_panel(
        ax2,
        select_lines(
            summary,
            "capability_gap_months",
            "pair",
            palette=PAIR_COLOURS,
            preferred=[pair for pair, _ in GAP_PAIRS],
            label=_gap_label,
        ),
        title="Capability gap: months the first trails the second",
        **_unit("capability_gap_months"),
        timeline=timeline,
        missing="metric capability_gap_months not in this run",
        zero_line=True,
    )
    _finish(fig, summary)
    return fig


def _gap_label(pair: str) -> str:
    first, _, second = pair.partition("-")
    return f"{first} behind {second}" if second else pair


def compute_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Compute share by bloc, share of each bloc's labs releasing open weights, co-authorship."""
    timeline = _timeline(summary)
    fig, (ax1, ax2, ax3) = _figure(title, "Compute, releases and research", 3)
    draw_panel(
        ax1,
        select_lines(summary, "compute_share", "bloc", palette=BLOC_COLOURS, preferred=BLOCS),
        title="Share of world AI compute",
        **_unit("compute_share"),
        timeline=timeline,
        missing="metric compute_share not in this run",
    )
    draw_panel(
        ax2,
        select_lines(summary, "release_open_share", "bloc", palette=BLOC_COLOURS, preferred=BLOCS),
        title="Labs whose current release is open-weights",
        **_unit("release_open_share"),
        timeline=timeline,
        missing="metric release_open_share not in this run",
    )
    draw_panel(
        ax3,
        select_lines(
            summary,
            "coauthorship_share",
            "pair",
            palette=PAIR_COLOURS,
            label=lambda p: p.replace("-", "–") + " co-authored",
        ),
        title="Cross-bloc research: share of papers co-authored",
        **_unit("coauthorship_share"),
        timeline=timeline,
        missing="metric coauthorship_share not in this run",
    )
    _finish(fig, summary)
    return fig


FIGURES: dict[str, Callable[[pd.DataFrame, str], Figure]] = {
    "adoption": adoption_figure,
    "influence": influence_figure,
    "dependence": dependence_figure,
    "capability": capability_figure,
    "compute": compute_figure,
}


# --------------------------------------------------------------------------- saving
# Metadata left out so the same figure gives the same bytes: no software name, no creation date.
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """The bytes of `fig` as PNG, SVG or PDF, deterministic: the same figure gives the same bytes.

    SVG's element ids are hashed with a fixed salt (matplotlib's `svg.hashsalt`) instead of a random one.
    """
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FIGURE_FORMATS)}")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        MemoryFontCanvas(fig)  # a figure made elsewhere (pyplot): render it with Agg too
    if fmt == "png":
        return _png(fig, dpi)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "sim-figure", "svg.fonttype": "none"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, facecolor="white", metadata=_METADATA[fmt])
    return buffer.getvalue()


PNG_COMPRESS_LEVEL = 3  # zlib level: 6 costs twice the time for a file ~10% smaller


def _png(fig: Figure, dpi: int) -> bytes:
    """The figure drawn on a white background as an RGB PNG (no alpha: the background is opaque).

    What `savefig` does, less its costs: it encodes RGBA with Pillow at zlib level 6 (`_png_bytes`)."""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    saved_dpi, face = fig.dpi, fig.get_facecolor()
    fig.dpi = dpi
    fig.set_facecolor("white")
    try:
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
        return _png_bytes(rgb, dpi)
    finally:
        fig.dpi = saved_dpi
        fig.set_facecolor(face)


def _png_bytes(rgb: np.ndarray, dpi: int) -> bytes:
    """An 8-bit RGB PNG of `rgb` (height x width x 3) stating its resolution: rows unfiltered, zlib level 3.

    Pillow tries all five PNG row filters on every row to choose one, and that, more than zlib, was the
    encoding's cost: ~24 ms a figure against ~8 ms unfiltered, for a file about as large (a figure's rows are
    mostly white runs, which zlib takes as well unfiltered)."""
    height, width, _ = rgb.shape
    rows = np.empty((height, 1 + width * 3), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) on every row
    rows[:, 1:] = rgb.reshape(height, width * 3)
    per_metre = int(dpi / 0.0254 + 0.5)  # as Pillow writes `dpi`

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),  # 8 bits, RGB, no interlace
        chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),  # pixels per metre
        chunk(b"IDAT", zlib.compress(rows.data, PNG_COMPRESS_LEVEL)),
        chunk(b"IEND", b""),
    ])


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes of `fig` (deterministic metadata: no software/date stamps)."""
    return figure_bytes(fig, "png", dpi)


def close_figure(fig: Figure) -> None:
    """Release a figure (also from pyplot's registry if pyplot is in use)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and pyplot.fignum_exists(getattr(fig, "number", -1)):
        pyplot.close(fig)
        fig.clear()
    # A figure of ours (not in pyplot's registry) is freed with its last reference: clearing it first
    # would only cost time (~10 ms a figure).


def render_figures(
    figures: Mapping[str, Callable[[], Figure]], formats: Sequence[str], stamp: Stamp | None
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Draw each figure once and save it in every format: ({`figures/<name>.<ext>`: bytes}, {name: page image}).

    The page image is the PNG, else the SVG (a page embeds either); with only PDF asked for, a PNG is
    still rendered for the page but not written.
    """
    files: dict[str, bytes] = {}
    page: dict[str, bytes] = {}
    for name, make in figures.items():
        fig = add_footer(make(), stamp)
        try:
            for fmt in formats:
                files[f"figures/{name}.{fmt}"] = figure_bytes(fig, fmt)
            shown = "png" if "png" in formats or "svg" not in formats else "svg"
            key = f"figures/{name}.{shown}"
            page[name] = files[key] if key in files else figure_bytes(fig, shown)
        finally:
            close_figure(fig)
    return files, page


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> bytes:
    """Save `fig` atomically at `path` in the format its suffix names (PNG by default), close it, return the bytes."""
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    fmt = suffix if suffix in FIGURE_FORMATS else "png"
    try:
        data = figure_bytes(fig, fmt, dpi=dpi)
        atomic_write_bytes(path, data)
    finally:
        close_figure(fig)
    return data
