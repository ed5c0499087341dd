"""Figures of a run: median lines with a shaded 10–90% band over replicates.

Built on `matplotlib.figure.Figure` directly (no pyplot, no GUI backend, never `show`), so
they render headless, in worker processes and in notebooks alike. Every figure takes the
summary table (`tables.summarise`) and a title naming the scenario; a metric missing from the
summary leaves its panel with a note instead of failing, and a single replicate simply gives
a band of zero width. The x axis is the step (its order); ticks are labelled with the period
labels (`2024Q1`) found in the summary's `date` column.

Colours are fixed across figures and pages, from `sim.blocs` (Okabe-Ito): bloc US blue, CN
vermillion, EU orange, other grey; open weights bluish green, closed reddish purple; the world
total black.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter, MultipleLocator

from sim.blocs import BLOC_COLOURS, BLOCS, OPENNESS, OPENNESS_COLOURS, REGION_COLOURS, REGIONS, WORLD_COLOUR
from sim.metrics_registry import BY_NAME, GAP_PAIRS, WORLD_GROUP, normalise_group, parse_group
from sim.outputs.atomic import atomic_write_bytes

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
_LINESTYLES = ["-", "--", "-."]
WORLD = "world"
DPI = 110
NOTE = "line: median over replicates · band: 10–90% of replicates"


@dataclass(frozen=True)
class Line:
    """One series to draw: legend label, colour and the per-step statistics (sorted by step)."""

    label: str
    colour: str
    data: pd.DataFrame


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
    chosen: dict[str, str] = {}
    for group in rows["group"].unique():
        pairs = parse_group(group)
        if set(pairs) == {key, *fixed} and all(pairs.get(k) == v for k, v in fixed.items()):
            chosen[group] = pairs[key]
    values = _order(list(set(chosen.values())), preferred)
    lines = []
    scenarios = sorted(rows["scenario"].unique()) if "scenario" in rows.columns else [None]
    for scenario in scenarios:
        in_scenario = rows if scenario is None else rows[rows["scenario"] == scenario]
        for value in values:
            groups = [g for g, v in chosen.items() if v == value]
            data = in_scenario[in_scenario["group"].isin(groups)].sort_values("step")
            if data.empty:
                continue
            name = label(value) + (f" · {scenario}" if len(scenarios) > 1 else "")
            lines.append(Line(name, _colour(value, palette or {}, values), data))
    return lines


def _world_and_regions(summary: pd.DataFrame, metric: str) -> list[Line]:
    """The world total (`group == "world"`) followed by one line per `region=<r>`."""
    rows = _metric_rows(summary, metric)
    lines = []
    world = rows[rows["group"] == WORLD_GROUP].sort_values("step")
    scenarios = sorted(rows["scenario"].unique()) if "scenario" in rows.columns else [None]
    for scenario in scenarios:
        data = world if scenario is None else world[world["scenario"] == scenario]
        if not data.empty:
            lines.append(
                Line(WORLD + (f" · {scenario}" if len(scenarios) > 1 else ""), WORLD_COLOUR, data)
            )
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


def _date_ticks(ax: Axes, timeline: pd.DataFrame) -> None:
    """Major ticks on each year's first quarter (every 2nd year for long runs), minor per step."""
    if timeline.empty:
        return
    steps = timeline["step"].to_numpy()
    dates = timeline["date"].astype(str).to_numpy()
    major = [i for i, d in enumerate(dates) if d.endswith("Q1")]
    if not major:  # labels not in quarter form: about eight evenly spaced ticks
        major = list(np.unique(np.linspace(0, len(steps) - 1, num=min(8, len(steps))).round().astype(int)))
    stride = 1 + (len(major) - 1) // 10
    major = major[::stride]
    ax.set_xticks([steps[i] for i in major], [dates[i] for i in major])
    ax.xaxis.set_minor_locator(MultipleLocator(1))
    ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5)
    ax.tick_params(axis="x", which="major", labelsize=9)


def _is_share(lines: Sequence[Line]) -> bool:
    values = np.concatenate(
        [line.data[["median", "q10", "q90"]].to_numpy(dtype=float).ravel() for line in lines]
    )
    values = values[np.isfinite(values)]
    return bool(values.size > 0 and values.min() >= -1e-9 and values.max() <= 1 + 1e-9)


def draw_panel(
    ax: Axes,
    lines: Sequence[Line],
    *,
    title: str,
    ylabel: str,
    timeline: pd.DataFrame,
    missing: str,
    zero_line: bool = False,
) -> None:
    """Median lines with 10–90% bands; a note in place of the panel when there is nothing to draw."""
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    if not lines:
        ax.text(
            0.5,
            0.5,
            f"No data: {missing}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="#555555",
            style="italic",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("#dddddd")
        return
    for index, line in enumerate(lines):
        x = line.data["step"].to_numpy(dtype=float)
        ax.fill_between(
            x,
            line.data["q10"].to_numpy(dtype=float),
            line.data["q90"].to_numpy(dtype=float),
            color=line.colour,
            alpha=0.18,
            linewidth=0,
        )
        ax.plot(
            x,
            line.data["median"].to_numpy(dtype=float),
            color=line.colour,
            linewidth=2,
            linestyle=_LINESTYLES[index // 6 % 3] if len(lines) > 6 else "-",
            label=line.label,
        )
    if _is_share(lines):
        top = ax.get_ylim()[1]
        ax.set_ylim(0.0, min(top, 1.02))
        span = ax.get_ylim()[1]
        decimals = 0 if span >= 0.05 else 1 if span >= 0.005 else 2
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.{decimals}f}%"))
    if zero_line:
        ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(True, which="major", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _date_ticks(ax, timeline)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        ncol=1 if len(lines) <= 12 else 2,
    )


def _figure(title: str, subject: str, panels: int) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(10.5, 1.2 + 3.1 * panels), dpi=DPI, layout=ConstrainedLayoutEngine(h_pad=0.12, hspace=0.06))
    axes = list(fig.subplots(panels, 1, squeeze=False)[:, 0])
    fig.suptitle(f"{subject} — {title}", fontsize=14, fontweight="bold", x=0.01, ha="left")
    return fig, axes


def _footer(fig: Figure) -> None:
    fig.supxlabel(NOTE, fontsize=8.5, color="#555555", x=0.01, ha="left")


# --------------------------------------------------------------------------- figures
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
        ylabel=BY_NAME["adoption_share"].unit,
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
        ylabel=BY_NAME["adoption_share"].unit,
        timeline=timeline,
        missing="metric adoption_share (origin=…) not in this run",
    )
    draw_panel(
        ax3,
        _world_and_regions(summary, "adoption_rate"),
        title="Adoption rate: firms using any AI model",
        ylabel=BY_NAME["adoption_rate"].unit,
        timeline=timeline,
        missing="metric adoption_rate not in this run",
    )
    _footer(fig)
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
            ylabel=BY_NAME["influence"].unit,
            timeline=timeline,
            missing=f"metric influence (weight={weight}) not in this run",
        )
    _footer(fig)
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
            ylabel=BY_NAME[metric].unit,
            timeline=timeline,
            missing=f"metric {metric} (weight={weight}) not in this run",
        )
    draw_panel(
        axes[3],
        select_lines(summary, "government_use", "origin", palette=BLOC_COLOURS, preferred=BLOCS,
                     label=lambda b: f"{b} models"),
        title="Governments whose AI runs on each origin's models",
        ylabel=BY_NAME["government_use"].unit,
        timeline=timeline,
        missing="metric government_use not in this run",
    )
    _footer(fig)
    return fig


def capability_figure(summary: pd.DataFrame, title: str) -> Figure:
    """Capability index by model family, and the capability gaps in months."""
    timeline = _timeline(summary)
    fig, (ax1, ax2) = _figure(title, "Capability", 2)
    draw_panel(
        ax1,
        select_lines(summary, "capability", "family"),
        title="Capability index by model family",
        ylabel=BY_NAME["capability"].unit,
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
        ylabel=BY_NAME["capability_gap_months"].unit,
        timeline=timeline,
        missing="metric capability_gap_months not in this run",
        zero_line=True,
    )
    _footer(fig)
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
        ylabel=BY_NAME["compute_share"].unit,
        timeline=timeline,
        missing="metric compute_share not in this run",
    )
    draw_panel(
        ax2,
        select_lines(summary, "release_open_share", "bloc", palette=BLOC_COLOURS, preferred=BLOCS),
        title="Labs whose current release is open-weights",
        ylabel=BY_NAME["release_open_share"].unit,
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
        ylabel=BY_NAME["coauthorship_share"].unit,
        timeline=timeline,
        missing="metric coauthorship_share not in this run",
    )
    _footer(fig)
    return fig


FIGURES: dict[str, Callable[[pd.DataFrame, str], Figure]] = {
    "adoption": adoption_figure,
    "influence": influence_figure,
    "dependence": dependence_figure,
    "capability": capability_figure,
    "compute": compute_figure,
}


# --------------------------------------------------------------------------- saving
def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes of `fig` (deterministic metadata: no software/date stamps)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def close_figure(fig: Figure) -> None:
    """Release a figure (also from pyplot's registry if pyplot is in use)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> bytes:
    """Save `fig` as PNG at `path` atomically, close it, and return the bytes written."""
    try:
        data = figure_png(fig, dpi=dpi)
        atomic_write_bytes(path, data)
    finally:
        close_figure(fig)
    return data
