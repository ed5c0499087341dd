"""What the class watches: adoption and influence curves, a world view, the narrated event feed.

Each view is a Solara component of the model; it re-renders when Mesa's SolaraViz steps the model
(`update_counter`). Curves are drawn with matplotlib into PNGs and the world view is plain HTML, so
the page needs nothing from the network.
"""

# ruff: noqa: N802  (Solara components are named like classes, as in Mesa and Solara)

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import solara
from matplotlib.figure import Figure
from mesa.visualization.utils import update_counter

from sim.app.levers import lever_summary
from sim.blocs import BLOC_ADJECTIVES, BLOC_COLOURS, BLOCS, OPENNESS, OPENNESS_COLOURS, OTHER
from sim.model.metrics import use_by_origin
from sim.quarters import quarter_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from mesa import Model

    from sim.app.classroom import ClassroomModel

WORLD_GROUPS = (  # (heading, own bloc, region or None) in the order shown
    ("United States", "US", None),
    ("China", "CN", None),
    ("European Union", "EU", None),
    ("Other Global North", OTHER, "north"),
    ("Global South", OTHER, "south"),
)
MAX_FEED_EVENTS = 60  # newest first; older ones stay in the model and in `sim run`'s events.csv


def quarters_done(model: ClassroomModel) -> int:
    return model.quarter - model.start


def date_label(model: ClassroomModel) -> str:
    """The last simulated quarter, like `2025Q3 · quarter 11 of 32` (or the start, before any step)."""
    done = quarters_done(model)
    if done == 0:
        return f"{quarter_label(model.start)} · not started (0 of {model.total_steps} quarters)"
    return f"{quarter_label(model.quarter - 1)} · quarter {done} of {model.total_steps}"


@solara.component
def DateCounter(model: Model) -> None:
    """Replaces SolaraViz's `Step: N` with the quarter the story has reached."""
    update_counter.get()
    if hasattr(model, "total_steps"):
        solara.Text(date_label(model), classes=["sim-date"])
    else:  # any other Mesa model keeps Mesa's own counter
        solara.Text(f"Step: {model.steps}")


def series(model: ClassroomModel, metric: str, groups: list[str]) -> dict[str, tuple[list[int], list[float]]]:
    """Steps and values of each group of a metric recorded so far."""
    out: dict[str, tuple[list[int], list[float]]] = {g: ([], []) for g in groups}
    for step, _date, name, grp, value in model.rows:
        if name == metric and grp in out:
            out[grp][0].append(step)
            out[grp][1].append(value)
    return out


def _axis_dates(ax: Axes, model: ClassroomModel) -> None:
    # The whole period is on the axis from the start, so the class sees how far the story has come.
    total = model.total_steps
    ticks = [s for s in range(total) if (model.start + s) % 4 == 0] or [0]
    ax.set_xlim(-0.5, total - 0.5)
    ax.set_xticks(ticks, [quarter_label(model.start + s)[:4] for s in ticks])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)


def _panel(ax: Axes, model: ClassroomModel, metric: str, lines: dict[str, tuple[str, str]], title: str) -> None:
    data = series(model, metric, list(lines))
    for grp, (label, colour) in lines.items():
        steps, values = data[grp]
        ax.plot(steps, values, color=colour, label=label, linewidth=2)
    _axis_dates(ax, model)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")


def _figure(model: ClassroomModel, left: tuple, right: tuple, title: str) -> Figure:
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    _panel(axes[0], model, *left)
    _panel(axes[1], model, *right)
    fig.suptitle(title, fontsize=11)
    return fig


@solara.component
def AdoptionCurves(model: ClassroomModel) -> None:
    """Share of AI-using firms on open vs closed models, and by the models' origin."""
    update_counter.get()
    openness = {f"openness={o}": (f"{o} models", OPENNESS_COLOURS[o]) for o in OPENNESS}
    origin = {f"origin={b}": (f"{BLOC_ADJECTIVES[b]} models", BLOC_COLOURS[b]) for b in BLOCS}
    fig = _figure(
        model,
        ("adoption_share", openness, "open vs closed"),
        ("adoption_share", origin, "by origin of the model"),
        f"Adoption: share of AI-using firms, {date_label(model)}",
    )
    solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.quarter])


@solara.component
def InfluenceCurves(model: ClassroomModel) -> None:
    """Each bloc's influence: the share of AI use on its models, by GDP and one country one vote."""
    update_counter.get()
    lines = {b: (BLOC_ADJECTIVES[b] if b != OTHER else "other origins", BLOC_COLOURS[b]) for b in BLOCS}
    by_gdp = {f"bloc={b},weight=gdp": lines[b] for b in BLOCS}
    by_country = {f"bloc={b},weight=countries": lines[b] for b in BLOCS}
    fig = _figure(
        model,
        ("influence", by_gdp, "weighted by GDP"),
        ("influence", by_country, "one country, one vote"),
        f"Influence: share of AI use on each bloc's models, {date_label(model)}",
    )
    solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.quarter])


def world_html(model: ClassroomModel) -> str:
    """Countries as tiles coloured by the bloc whose models they mostly use (shade: how much)."""
    use = use_by_origin(model)
    parts = ['<div class="sim-world">']
    for heading, bloc, region in WORLD_GROUPS:
        members = [
            i
            for i in range(model.n_countries)
            if model.country_bloc[i] == bloc and (region is None or model.country_region[i] == region)
        ]
        if not members:
            continue
        parts.append(f'<div class="sim-world-group"><b>{html.escape(heading)}</b><div class="sim-tiles">')
        for i in sorted(members, key=lambda c: -model.gdp[c]):
            total = use[i].sum()
            if total <= 0:
                colour, share, who = "#ffffff", 0.0, "no AI use yet"
            else:
                top = int(use[i].argmax())
                colour, share = BLOC_COLOURS[BLOCS[top]], float(use[i, top] / total)
                who = f"mostly {BLOC_ADJECTIVES[BLOCS[top]]} models ({share:.0%})"
            opacity = 0.25 + 0.75 * share
            title = html.escape(f"{model.country_names[i]}: {who}")
            parts.append(
                f'<div class="sim-tile" title="{title}" style="background:{colour};opacity:{opacity:.2f}">'
                f"{html.escape(str(model.country_ids[i]))}</div>"
            )
        parts.append("</div></div>")
    legend = " ".join(
        f'<span class="sim-key" style="background:{BLOC_COLOURS[b]}"></span>{BLOC_ADJECTIVES[b]} models' for b in BLOCS
    )
    parts.append(f'<div class="sim-legend">{legend} · paler = a smaller majority; hover a tile for the name</div>')
    parts.append("</div>")
    return "".join(parts)


WORLD_CSS = """
.sim-world { font-size: 12px; max-height: 330px; overflow-y: auto; }
.sim-world-group { display: flex; margin-bottom: 4px; }
.sim-world-group b { flex: 0 0 92px; font-weight: 600; font-size: 11px; }
.sim-tiles { display: flex; flex-wrap: wrap; gap: 2px; }
.sim-tile { width: 34px; height: 18px; line-height: 18px; text-align: center; color: #fff; font-weight: 600;
            border-radius: 2px; font-size: 10px; text-shadow: 0 0 2px #000; }
.sim-legend { margin-top: 6px; color: #444; }
.sim-key { display: inline-block; width: 12px; height: 12px; margin: 0 3px 0 8px; vertical-align: middle; }
.sim-command { white-space: pre-wrap; font-size: 11px; max-height: 120px; overflow-y: auto; }
.sim-feed { max-height: 420px; overflow-y: auto; font-size: 13px; }
.sim-event { padding: 3px 0; border-bottom: 1px solid #eee; }
.sim-event .sim-real { color: #666; font-style: italic; font-size: 12px; }
"""


@solara.component
def WorldView(model: ClassroomModel) -> None:
    update_counter.get()
    with solara.Column():
        solara.HTML(
            tag="div", unsafe_innerHTML="<b>The world: whose models each country mostly uses</b> (firms and government)"
        )
        solara.HTML(tag="div", unsafe_innerHTML=world_html(model))


def narrate(model: ClassroomModel, event: dict) -> tuple[str, str]:
    """An event as the feed says it (`2025Q1 — Italy bans DeepSeek ... (D4.8)`) and its real-world note."""
    text = str(event["event"])
    rule_id = str(event["rule_id"])
    if rule_id and text.startswith(f"{rule_id} starts: "):
        text = text[len(rule_id) + len(" starts: ") :]
    elif rule_id and text.startswith(f"{rule_id} ends"):
        text = f"rule {text}"
    text = re.sub(r" \[\d+ countr(?:y|ies)\]", "", text)
    sources = ", ".join(str(event["sources"]).split())
    line = f"{event['date']} — {text}" + (f" ({sources})" if sources else "")
    rule = model.scenario.rules.get(rule_id)
    starts = rule is not None and str(event["event"]).startswith(f"{rule_id} starts")
    return line, (rule.note if rule is not None and starts and rule.note else "")


def feed_html(model: ClassroomModel) -> str:
    items = []
    for event in reversed(model.events[-MAX_FEED_EVENTS:]):
        line, note = narrate(model, event)
        real = f'<div class="sim-real">Real world: {html.escape(note)}</div>' if note else ""
        items.append(f'<div class="sim-event">{html.escape(line)}{real}</div>')
    if not items:
        items.append('<div class="sim-event">Nothing has happened yet: press Step or ▶.</div>')
    return f'<div class="sim-feed">{"".join(items)}</div>'


@solara.component
def EventFeed(model: ClassroomModel) -> None:
    """The narrated events, newest first."""
    update_counter.get()
    with solara.Column():
        solara.HTML(tag="div", unsafe_innerHTML="<b>What happened</b> (newest first; claim ids in brackets)")
        solara.HTML(tag="div", unsafe_innerHTML=feed_html(model))


@solara.component
def Lesson(model: ClassroomModel) -> None:
    """The lesson's question (the preset's header comment), what the levers changed, and how to rerun it."""
    update_counter.get()
    with solara.Column():
        # Plain HTML, not solara.Markdown: its widget fetches mermaid from a CDN, and the page is offline.
        solara.HTML(tag="h3", unsafe_innerHTML=html.escape(f"{model.preset.name} · {date_label(model)}"))
        question = model.preset.question or model.scenario.description
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in question.split("\n\n"))
        solara.HTML(tag="div", unsafe_innerHTML=paragraphs)
        if model.notice:
            solara.Warning(model.notice)
        if model.error:
            solara.Error(model.error)
        facts = (
            f"Levers: {lever_summary(model.settings)} ({len(model.overrides)} scenario values changed). "
            f"{model.n_firms:,} firms, {model.n_countries} countries, {model.total_steps} quarters; "
            f"story {model.story} (a fixed seed: Reset replays it)."
        )
        solara.HTML(tag="p", unsafe_innerHTML=html.escape(facts))
        with solara.Details("Rerun this story from the command line"):
            solara.HTML(tag="pre", unsafe_innerHTML=html.escape(model.command), classes=["sim-command"])
