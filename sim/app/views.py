"""What the class watches, as plain data built from a computed story: chart options (ECharts dicts), the
world map's colours, the narrated feed, the CSV exports, and the playback state machine.

Nothing here simulates or draws: a quarter of playback only changes how many quarters are *revealed*
(`Playback.shown`), and the builders slice the precomputed arrays of `sim.app.stories`. The page
(sim/app/page.py) renders the results with solara.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.app.charts import FONT_PX, Line, curves_option
from sim.app.levers import LeverSettings, lever_summary
from sim.app.stories import Ensemble, Story, StoryEvent, country_key
from sim.app.worldmap import NO_USE_COLOUR, map_option
from sim.blocs import BLOC_ADJECTIVES, BLOC_COLOURS, BLOCS, OPENNESS_COLOURS, OTHER

SPEEDS = {"slow": 1.5, "normal": 0.8, "fast": 0.35}  # seconds between quarters while playing
MODES = {
    "one": "One story",
    "many": "Many stories",
    "difference": "Difference from baseline",  # this preset with its levers minus the baseline preset
    "levers": "Lever effect (minus neutral levers)",  # this preset with its levers minus itself, neutral
}
MAX_FEED_EVENTS = 80


# -- playback ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Playback:
    """How far the story is revealed and whether it is playing: one state, so controls cannot race.

    Every control returns a new state from the current one; the page keeps one reactive `Playback`
    per session and the ticker only ever calls `tick()` on the latest value.
    """

    total: int
    shown: int = 0
    playing: bool = False

    def play(self) -> Playback:
        """Start (from the beginning again when the story has been shown to the end)."""
        return replace(self, shown=0 if self.shown >= self.total else self.shown, playing=True)

    def pause(self) -> Playback:
        return replace(self, playing=False)

    def toggle(self) -> Playback:
        return self.pause() if self.playing else self.play()

    def step(self) -> Playback:
        """One quarter more, paused."""
        return replace(self, shown=min(self.shown + 1, self.total), playing=False)

    def tick(self) -> Playback:
        """One quarter more while playing; stops at the end. A paused state does not move."""
        if not self.playing:
            return self
        shown = min(self.shown + 1, self.total)
        return replace(self, shown=shown, playing=shown < self.total)

    def reset(self, total: int | None = None) -> Playback:
        """Back to the start, paused (for a new story: its number of quarters)."""
        return Playback(self.total if total is None else total)


def levers_for_new_preset(current: LeverSettings) -> tuple[LeverSettings, str]:
    """A new preset starts from neutral levers (a lever set for one lesson must not carry over
    silently); the message says so when levers had been moved."""
    if current == LeverSettings():
        return current, ""
    return LeverSettings(), f"New preset: the levers are back to neutral (they were: {lever_summary(current)})."


def date_label(story: Story, shown: int) -> str:
    """The last revealed quarter, like `2025Q3 · quarter 11 of 32` (or the start, before any)."""
    if shown <= 0:
        return f"{story.quarter(0)} · not started (0 of {story.total} quarters)"
    return f"{story.quarter(shown - 1)} · quarter {shown} of {story.total}"


# -- curves -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curves:
    """The series a chart draws: one story's values, or the median and 10-90% band over many stories
    (of the levels, or of the paired difference from neutral levers)."""

    values: dict[str, np.ndarray]
    low: dict[str, np.ndarray] | None = None
    high: dict[str, np.ndarray] | None = None
    difference: bool = False
    stories: int = 1
    reference: str = ""
    mode: str = "one"

    @classmethod
    def of(cls, story: Story, ensemble: Ensemble | None, mode: str) -> Curves:
        """The curves of the chosen mode (one story when the bands are not ready)."""
        if mode == "one" or ensemble is None:
            return cls(story.series)
        difference = mode in ("difference", "levers")
        bands = ensemble.difference if difference else ensemble.levels
        return cls(bands.median, bands.low, bands.high, difference, ensemble.count, ensemble.reference, mode)

    def line(self, key: str, name: str, colour: str, dashed: bool = False) -> Line:
        values = _plain_list(self.values[key])
        band = None
        if self.low is not None and self.high is not None:
            band = (_plain_list(self.low[key]), _plain_list(self.high[key]))
        return Line(name, values, colour, dashed=dashed, band=band)

    def subtitle(self) -> str:
        if self.difference and self.mode == "levers":
            return f"lever effect: minus neutral levers, median and band 10-90% of {self.stories} paired stories"
        if self.difference:
            return f"minus {self.reference}: median and band 10-90% of {self.stories} paired stories"
        if self.low is not None:
            return f"median of {self.stories} stories, band 10-90%"
        return ""


def _plain_list(values: np.ndarray) -> list[Any]:
    return [None if not math.isfinite(v) else round(float(v), 4) for v in values]


def _chart(curves: Curves, story: Story, shown: int, title: str, lines: list[Line], **kw: Any) -> dict[str, Any]:
    quarters = [story.quarter(i) for i in range(story.total)]
    if curves.difference:  # around zero, either way; the subtitle says it is a difference
        kw["y_min"], kw["y_max"] = None, None
    option = curves_option(title, quarters, lines, shown=shown, **kw)
    for axis in option["xAxis"]:  # on a narrow screen the years would run into each other: drop some
        axis.setdefault("axisLabel", {})["hideOverlap"] = True
    subtitle = curves.subtitle()
    if subtitle:  # under the title, so a long title and what the lines mean both fit (also in the saved PNG)
        option["title"]["subtext"] = subtitle
        option["title"]["subtextStyle"] = {"fontSize": FONT_PX, "color": "#444444"}
        option["grid"]["top"] = option["grid"]["top"] + FONT_PX + 12
    return option


def bloc_name(bloc: str) -> str:
    """How the page names a bloc's models: `US models`, `Chinese models`, `other origins`."""
    return "other origins" if bloc == OTHER else f"{BLOC_ADJECTIVES.get(bloc, bloc)} models"  # type: ignore[call-overload]


def adoption_options(curves: Curves, story: Story, shown: int) -> list[dict[str, Any]]:
    """Two charts: open vs closed models, and by the models' origin (shares of AI-using firms)."""
    openness = [
        curves.line("adoption.open", "open models", OPENNESS_COLOURS["open"]),
        curves.line("adoption.closed", "closed models", OPENNESS_COLOURS["closed"]),
    ]
    origin = [curves.line(f"adoption.{b}", bloc_name(b), BLOC_COLOURS[b]) for b in BLOCS]
    name = _file(story)
    return [
        _chart(curves, story, shown, "AI-using firms: open or closed models", openness, unit="",
               file_name=f"{name}-open-closed"),
        _chart(curves, story, shown, "AI-using firms: whose models", origin, unit="", file_name=f"{name}-origin"),
    ]  # fmt: skip


def influence_options(curves: Curves, story: Story, shown: int) -> list[dict[str, Any]]:
    """Each bloc's share of the world's AI use: weighted by GDP, and one country one vote."""
    gdp = [curves.line(f"influence.gdp.{b}", bloc_name(b), BLOC_COLOURS[b]) for b in BLOCS]
    votes = [curves.line(f"influence.countries.{b}", bloc_name(b), BLOC_COLOURS[b]) for b in BLOCS]
    name = _file(story)
    return [
        _chart(curves, story, shown, "Influence, counted by money (GDP)", gdp, unit="",
               file_name=f"{name}-influence-gdp"),
        _chart(curves, story, shown, "Influence, one country one vote", votes, unit="",
               file_name=f"{name}-influence-countries"),
    ]  # fmt: skip


def china_options(curves: Curves, story: Story, shown: int) -> list[dict[str, Any]]:
    """China's share of the world's AI compute, and how many months Chinese models trail US ones."""
    compute = [curves.line("compute.CN", "China's compute", BLOC_COLOURS["CN"])]
    gap = [
        curves.line("gap.CN-US", "China behind the US", BLOC_COLOURS["CN"]),
        curves.line("gap.open-closed", "open behind closed", OPENNESS_COLOURS["open"], dashed=True),
    ]
    name = _file(story)
    return [
        _chart(curves, story, shown, "China's share of the world's AI computing power", compute, unit="",
               y_max=None, file_name=f"{name}-china-compute"),
        _chart(curves, story, shown, "How far behind: months of progress", gap, unit="months", percent=False,
               y_min=None if curves.difference else 0.0, y_max=None, y_name="months",
               file_name=f"{name}-capability-gap"),
    ]  # fmt: skip


def country_option(curves: Curves, story: Story, shown: int, iso3: str) -> dict[str, Any]:
    """One country: the share of its AI use on each bloc's models, and of its firms using AI."""
    name = story.country_names[story.countries.index(iso3)]
    lines = [curves.line(country_key(iso3, f"use.{b}"), bloc_name(b), BLOC_COLOURS[b]) for b in BLOCS]
    lines.append(curves.line(country_key(iso3, "rate"), "firms using AI", "#555555", dashed=True))
    return _chart(curves, story, shown, f"{name}: whose models it uses", lines, unit="",
                  file_name=f"{_file(story)}-{iso3}")  # fmt: skip


def _file(story: Story) -> str:
    return f"{story.preset}-story{story.number}"


# -- the world map ----------------------------------------------------------------------------------

MAP_LEGEND = [*((bloc_name(b), BLOC_COLOURS[b]) for b in BLOCS), ("not in the model, or no AI use yet", NO_USE_COLOUR)]


def world_option(story: Story, shown: int, selected: str | None = None) -> dict[str, Any]:
    """The world map at the last revealed quarter: each country in the colour of the bloc whose models
    it mostly uses (firms and government); hover for the share, click for the country's curves."""
    fills: dict[str, str] = {}
    tips: dict[str, str] = {}
    if shown > 0:
        for iso3, (bloc, share) in story.dominant(shown - 1).items():
            name = story.country_names[story.countries.index(iso3)]
            fills[iso3] = BLOC_COLOURS[bloc]
            tips[iso3] = f"{name}: mostly {bloc_name(bloc)} ({share:.0%} of its AI use)\nclick for its curves"
    title = "Whose models each country mostly uses" + (f", {story.quarter(shown - 1)}" if shown else " (press play)")
    return map_option(fills, tips, MAP_LEGEND, title=title, selected=selected)


# -- the feed ---------------------------------------------------------------------------------------


def feed(story: Story, shown: int) -> list[StoryEvent]:
    """The events of the revealed quarters, newest first."""
    return list(reversed(story.events_until(shown)))[:MAX_FEED_EVENTS]


# -- exports ----------------------------------------------------------------------------------------

CSV_SERIES: dict[str, str] = {  # column -> series
    "firms using AI (share of all firms)": "adoption.world",
    "open models (share of AI-using firms)": "adoption.open",
    "closed models (share of AI-using firms)": "adoption.closed",
    **{f"{bloc_name(b)} (share of AI-using firms)": f"adoption.{b}" for b in BLOCS},
    **{f"influence by GDP: {bloc_name(b)}": f"influence.gdp.{b}" for b in BLOCS},
    **{f"influence one country one vote: {bloc_name(b)}": f"influence.countries.{b}" for b in BLOCS},
    "China's share of AI compute": "compute.CN",
    "months China trails the US": "gap.CN-US",
    "months open models trail closed ones": "gap.open-closed",
}


def _number(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"


def series_csv(curves: Curves, story: Story, shown: int) -> str:
    """The revealed quarters of the world series as CSV (with the band's columns in many-stories mode)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns: list[tuple[str, dict[str, np.ndarray], str]] = []
    what = curves.subtitle().split(":")[0] + ", median" if curves.difference else "median" if curves.low else ""
    for column, key in CSV_SERIES.items():
        columns.append((f"{column}{' (' + what + ')' if what else ''}", curves.values, key))
        if curves.low is not None and curves.high is not None:
            columns.append((f"{column} (10th percentile)", curves.low, key))
            columns.append((f"{column} (90th percentile)", curves.high, key))
    writer.writerow(["quarter", *(c[0] for c in columns)])
    for i in range(shown):
        writer.writerow([story.quarter(i), *(_number(float(arrays[key][i])) for _, arrays, key in columns)])
    return out.getvalue()


def countries_csv(story: Story, shown: int) -> str:
    """One row per revealed quarter and country: its use by origin, firms using AI, open share."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["quarter", "iso3", "country", "mostly uses", *(f"share of AI use on {bloc_name(b)}" for b in BLOCS),
         "firms using AI", "share on open models"]
    )  # fmt: skip
    for i in range(shown):
        dominant = story.dominant(i)
        for iso3, name in zip(story.countries, story.country_names, strict=True):
            top = dominant.get(iso3)
            writer.writerow(
                [story.quarter(i), iso3, name, bloc_name(top[0]) if top else "no AI use yet",
                 *(_number(float(story.series[country_key(iso3, f"use.{b}")][i])) for b in BLOCS),
                 _number(float(story.series[country_key(iso3, "rate")][i])),
                 _number(float(story.series[country_key(iso3, "open")][i]))]
            )  # fmt: skip
    return out.getvalue()


def lever_value_text(value: Any, unit_hint: str = "") -> str:
    """A lever's value as shown beside it: `1.5×`, `+0.20`, `+3`, or the option's words."""
    if isinstance(value, str):
        return value
    if unit_hint == "×":
        return f"{value:g}×"
    if unit_hint == "±":
        return f"{value:+.2f}"
    return f"{value:+d}" if isinstance(value, int) else f"{value:g}"


def shares_text(values: Sequence[tuple[str, float]]) -> str:
    """`US models 77%, Chinese models 18%` for the page's number lines."""
    return ", ".join(f"{name} {value:.0%}" for name, value in values)
