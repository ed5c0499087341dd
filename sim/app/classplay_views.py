"""What the class-play pages draw, as plain data: chart and map options, the feed and tables as HTML,
and small texts. Nothing here simulates: the worlds come from the class (sim/classplay), the options
from the classroom page's builders (`charts.curves_option`, `worldmap.map_option`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from sim.app.charts import FONT_PX, Line, curves_option
from sim.app.classplay_state import cut, quarters_of_class, series, summed
from sim.app.views import MAP_LEGEND, bloc_name
from sim.app.worldmap import map_option
from sim.blocs import BLOC_COLOURS, BLOCS, OPENNESS_COLOURS
from sim.classplay import Actor, ClassRoom, FeedEntry, Option
from sim.classplay.worlds import WorldState

ORIGINS = ("US", "CN", "EU")
WITHOUT = "without the class"
TOPICS = {  # topic -> heading on the student's page, in the order shown
    "programme": "Programmes of other blocs",
    "ban": "Ban models",
    "privacy": "Data protection and audits",
    "capacity": "Digital capacity",
    "alliance": "Alliances",
    "release": "Your next models",
}
MAX_FEED = 60


def esc(text: object) -> str:
    return html.escape(str(text))


def clock(seconds: float | None) -> str:
    """`2:05 left`, `time is up`, or `no timer`."""
    if seconds is None:
        return "no timer"
    if seconds <= 0:
        return "time is up"
    whole = math.ceil(seconds)
    return f"{whole // 60}:{whole % 60:02d} left"


def round_title(round_: int, rounds: int, first: str, last: str, finished: bool) -> str:
    if finished:
        return f"All {rounds} rounds played"
    span = first if first == last else f"{first}–{last}"
    return f"Round {round_} of {rounds} · {span}"


def _shown(quarters: list[str], last: str | None) -> int:
    return 0 if last is None else sum(1 for q in quarters if q <= last)


def actor_lines(room: ClassRoom, actor: Actor, world: WorldState | None, replay: WorldState | None,
                quarters: list[str]) -> tuple[str, list[Line]]:  # fmt: skip
    """The title and lines of one actor's chart: its numbers with the class's moves (solid) and in the
    replay without them (dashed), up to the last quarter played."""
    last = world.last_quarter if world is not None else None
    lines: list[Line] = []

    def both(name: str, colour: str, get: Any) -> None:
        ours = cut(get(world), quarters, last) if world is not None else [None] * len(quarters)
        theirs = cut(get(replay), quarters, last) if replay is not None else [None] * len(quarters)
        lines.append(Line(name, ours, colour))
        lines.append(Line(f"{name}, {WITHOUT}", theirs, colour, dashed=True))

    if actor.kind == "lab":
        families = [f"family={f.id}" for f in room.prepared.world.families if f.lab == actor.code]
        both(f"{actor.name}'s models", BLOC_COLOURS.get(actor.bloc, "#555555"),
             lambda s: summed(s, "adoption_share", families, quarters))  # fmt: skip
        return f"Share of the world's AI use on {actor.name}'s models", lines
    for bloc in ORIGINS:
        group = f"country={actor.code},origin={bloc}"
        both(bloc_name(bloc), BLOC_COLOURS[bloc], lambda s, g=group: series(s, "adoption_share", g, quarters))
    return f"{actor.name}: whose AI models it uses", lines


def quiet_dashed(option: dict) -> dict:
    """A key below the chart names the solid lines (the class's world) instead of end labels, and the
    dashed twins (without the class) are named in the tooltip: eight end labels would take half the
    width of a chart that shares the screen with the decisions."""
    solid = []
    for entry in option["series"]:
        if entry.get("type") != "line" or "endLabel" not in entry:
            continue
        entry["endLabel"] = {**entry["endLabel"], "show": False}
        if entry["lineStyle"].get("type") != "dashed":
            solid.append(entry["name"])
    option["grid"]["right"] = FONT_PX * 2
    option["grid"]["bottom"] = FONT_PX * 4
    option["legend"] = {"data": solid, "bottom": 0, "left": "center", "textStyle": {"fontSize": FONT_PX},
                        "itemWidth": 28, "itemHeight": 6, "selectedMode": False}  # fmt: skip
    return option


def actor_option(room: ClassRoom, actor: Actor, world: WorldState | None, replay: WorldState | None) -> dict:
    """The student's chart: their country's (or lab's) curves with and without the class's moves."""
    quarters = quarters_of_class(room)
    title, lines = actor_lines(room, actor, world, replay, quarters)
    last = world.last_quarter if world is not None else None
    return quiet_dashed(curves_option(title, quarters, lines, unit="", shown=_shown(quarters, last),
                                      file_name=f"class-{actor.code}"))  # fmt: skip


def world_options(room: ClassRoom, world: WorldState | None, replay: WorldState | None) -> list[dict]:
    """The world's curves with (solid) and without (dashed) the class's moves: whose models, open or closed."""
    quarters = quarters_of_class(room)
    last = world.last_quarter if world is not None else None
    shown = _shown(quarters, last)

    def pair(name: str, colour: str, metric: str, group: str) -> list[Line]:
        ours = cut(series(world, metric, group, quarters), quarters, last) if world else [None] * len(quarters)
        theirs = cut(series(replay, metric, group, quarters), quarters, last) if replay else [None] * len(quarters)
        return [Line(name, ours, colour), Line(f"{name}, {WITHOUT}", theirs, colour, dashed=True)]

    origin = [line for b in ORIGINS for line in pair(bloc_name(b), BLOC_COLOURS[b], "adoption_share", f"origin={b}")]
    openness = pair("open models", OPENNESS_COLOURS["open"], "adoption_share", "openness=open")
    return [
        quiet_dashed(curves_option("The world's AI use: whose models", quarters, origin, unit="", shown=shown,
                                   file_name="class-world-origin")),
        quiet_dashed(curves_option("The world's AI use on open models", quarters, openness, unit="", shown=shown,
                                   file_name="class-world-open")),
    ]  # fmt: skip


def dominant(room: ClassRoom, state: WorldState, quarter: str | None = None) -> dict[str, tuple[str, float]]:
    """ISO3 -> (bloc whose models the country mostly uses, share) at `quarter` (default the world's last)."""
    out: dict[str, tuple[str, float]] = {}
    for country in room.prepared.world.countries:
        shares = {b: state.value("adoption_share", f"country={country.iso3},origin={b}", quarter) or 0.0
                  for b in BLOCS}
        bloc = max(shares, key=lambda b: shares[b])
        if shares[bloc] > 0:
            out[country.iso3] = (bloc, shares[bloc])
    return out


def class_map_option(room: ClassRoom, state: WorldState | None, players: Mapping[str, str], title: str,
                     quarter: str | None = None) -> dict:
    """The world map: each country in the colour of the bloc whose models it mostly uses; the tooltip
    names the student who governs it."""
    fills: dict[str, str] = {}
    tips: dict[str, str] = {}
    names = {c.iso3: c.name for c in room.prepared.world.countries}
    if state is not None:
        for iso3, (bloc, share) in dominant(room, state, quarter).items():
            fills[iso3] = BLOC_COLOURS[bloc]
            who = f" (governed by {players[iso3]})" if iso3 in players else ""
            tips[iso3] = f"{names.get(iso3, iso3)}{who}: mostly {bloc_name(bloc)} ({share:.0%} of its AI use)"
    for iso3, student in players.items():
        tips.setdefault(iso3, f"{names.get(iso3, iso3)} (governed by {student})")
    return map_option(fills, tips, MAP_LEGEND, title=title)


def feed_html(entries: Iterable[FeedEntry], limit: int = MAX_FEED) -> str:
    """The feed, newest first: the class's decisions stand out from what the model did."""
    rows = []
    for entry in list(entries)[::-1][:limit]:
        where = f"Round {entry.round} · {entry.quarter}" if entry.round else entry.quarter
        claims = "".join(f'<span class="cp-claim">{esc(c)}</span>' for c in entry.claims)
        text = f"<b>{esc(where)}</b> — {esc(entry.text)} {claims}"
        rows.append(f'<div class="cp-event cp-{esc(entry.kind)}">{text}</div>')
    return "".join(rows) or '<div class="cp-event">Nothing has happened yet.</div>'


def option_groups(options: list[Option]) -> list[tuple[str, list[Option]]]:
    """The options by topic, in the order of `TOPICS` (keep course is shown on its own)."""
    groups = []
    for topic, heading in TOPICS.items():
        chosen = [o for o in options if o.topic == topic]
        if chosen:
            groups.append((heading, chosen))
    known = set(TOPICS) | {"keep"}
    others = [o for o in options if o.topic not in known]
    if others:
        groups.append(("Other decisions", others))
    return groups


def _number(value: object) -> float | None:
    """A table cell as a float (None when empty or not a number)."""
    return float(value) if isinstance(value, (int, float)) else None


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _points(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    points = 100 * value
    return "no change" if abs(points) < 0.5 else f"{points:+.0f} points"


def debrief_html(frame: pd.DataFrame, actors: list[str] | None = None) -> str:
    """The debrief table: each measure with and without the class's moves and the difference
    (only the rows of `actors` and the world when given)."""
    if frame.empty:
        return "<p>No round has been played yet.</p>"
    rows = []
    for row in frame.itertuples(index=False):
        if actors is not None and row.actor != "world" and row.actor not in actors:
            continue
        rows.append(
            f"<tr><td>{esc(row.measure)}</td><td>{_pct(_number(row.with_moves))}</td>"
            f"<td>{_pct(_number(row.without_moves))}</td><td>{_points(_number(row.difference))}</td></tr>"
        )
    head = "<tr><th>At the end</th><th>with the class's moves</th><th>without (replay)</th><th>difference</th></tr>"
    return f'<table class="cp-table">{head}{"".join(rows)}</table>'
