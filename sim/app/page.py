"""The classroom page (`sim app`): a teacher picks a preset, moves plain-words levers and plays the story.

A solara layout of its own (no Mesa SolaraViz controls): lesson controls on the left, views in tabs on
the right. The story is computed whole when chosen (sim/app/stories.py, shared by every session through
a bounded cache); playing only reveals the next quarter of precomputed arrays, so a session costs the
server a small dict per quarter and no model. Per session the page keeps only its choices and a
`Playback` (how far the story is revealed, playing or not: one state, so the controls cannot race).
"""

# ruff: noqa: N802  (Solara components are named like classes)

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import html
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import solara
import solara.lab
import solara.server.settings
from solara import v as rv

from sim.app.charts import FONT_PX
from sim.app.figure import FigureEcharts, Whole
from sim.app.levers import LEVERS, Lever, LeverSettings
from sim.app.presets import Preset, list_presets, scenarios_dir
from sim.app.stories import MANY_STORIES, Ensemble, Story, StoryError, get_ensemble, get_story
from sim.app.views import (
    MODES,
    SPEEDS,
    Curves,
    Playback,
    adoption_options,
    china_options,
    countries_csv,
    country_option,
    date_label,
    feed,
    influence_options,
    lever_value_text,
    levers_for_new_preset,
    series_csv,
    world_option,
)
from sim.app.worldmap import WORLD_MAP, MapUnavailable, world_geojson
from sim.blocs import BLOCS

log = logging.getLogger(__name__)

# Solara's "This website runs on Solara" corner banner sits over the page's own text on a projector.
solara.server.settings.theme.show_banner = False

TITLE = "AI geopolitics: open vs closed models"
BASELINE = "baseline"  # the preset "difference from baseline" compares with (the same preset when absent)
STORIES = MANY_STORIES  # story numbers offered: 0..11, each a different roll of chance
CHART_STYLE = "height: min(680px, max(340px, calc(100vh - 290px))); width: 100%;"  # a chart fills the screen
MAP_STYLE = "height: min(720px, max(400px, calc(100vh - 290px))); width: 100%;"
TABS = ("Adoption", "Influence", "China", "Countries", "Events", "Info", "Export")

CSS = f"""
.sim-page {{ font-size: {FONT_PX}px; line-height: 1.45; color: #222; padding: 8px 20px; }}
.sim-page .v-label, .sim-page .v-btn, .sim-page .v-select__selection, .sim-page .v-tab,
.sim-page input, .sim-page .v-messages, .v-menu__content .v-list-item__title {{ font-size: {FONT_PX}px !important; }}
.sim-page .v-btn, .sim-page .v-tab {{ text-transform: none; letter-spacing: 0; }}
/* Vuetify shrinks a field's label to 75% once it holds a value ("Preset" at 13.5 px): keep it full size */
.sim-page .v-label--active {{ transform: translateY(-24px) scale(1) !important; }}
.sim-page .v-tab {{ padding: 0 12px; min-width: 0; }}
.sim-layout {{ display: grid; grid-template-columns: minmax(260px, 340px) minmax(0, 1fr); gap: 20px;
               align-items: start; }}
@media (max-width: 1100px) {{ .sim-layout {{ grid-template-columns: 270px minmax(0, 1fr); }} }}
@media (max-width: 860px) {{ .sim-layout {{ grid-template-columns: minmax(0, 1fr); }} }}
.sim-controls {{ min-width: 0; }}
.sim-main {{ min-width: 0; }}
.sim-charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }}
@media (max-width: 700px) {{ .sim-charts {{ grid-template-columns: minmax(0, 1fr); }} }}
.sim-date {{ font-size: 28px; font-weight: 700; }}
.sim-title {{ font-size: 26px; font-weight: 700; margin: 0; }}
.sim-headline {{ font-size: {FONT_PX + 2}px; margin: 4px 0 8px 0; }}
.sim-question {{ font-size: {FONT_PX}px; }}
.sim-lever-name {{ font-weight: 700; margin-top: 10px; }}
.sim-lever-value {{ color: #0b57a4; }}
.sim-lever-meaning {{ color: #555; font-size: {FONT_PX}px; }}
.sim-feed {{ max-height: 640px; overflow-y: auto; }}
.sim-event {{ padding: 6px 0; border-bottom: 1px solid #e4e4e4; }}
.sim-event .sim-real {{ color: #555; font-style: italic; }}
.sim-claim {{ display: inline-block; background: #eef3fb; border-radius: 4px; padding: 0 6px; margin: 0 3px;
              font-size: {FONT_PX}px; cursor: help; }}
.sim-claims dt {{ font-weight: 700; }} .sim-claims dd {{ margin: 0 0 8px 16px; }}
.sim-command {{ white-space: pre-wrap; font-size: {FONT_PX}px; }}
"""


# -- memory: a closed session's state is freed, and the freed memory goes back to the system ---------

_trim_lock = threading.Lock()
_trim_timer: threading.Timer | None = None
TRIM_DELAY_S = 5.0  # after the last session closed in a burst: its widgets are gone by then


def _give_back_memory() -> None:
    """Collect the closed sessions' cycles, then hand the freed heap back to the system (glibc keeps it
    for reuse otherwise, so the server's RSS would stay at its peak after a class)."""
    global _trim_timer
    with _trim_lock:
        _trim_timer = None
    gc.collect()
    # Not glibc: no trim; the memory is reused by the next sessions instead.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _session_started() -> Callable[[], None]:
    def closed() -> None:
        global _trim_timer
        with _trim_lock:
            if _trim_timer is None:  # one clean-up for a burst of closes
                _trim_timer = threading.Timer(TRIM_DELAY_S, _give_back_memory)
                _trim_timer.daemon = True
                _trim_timer.start()

    return closed


solara.lab.on_kernel_start(_session_started)


# -- lessons (sim/app/lessons.py, another part of issue 17) -----------------------------------------


def claim_text(claim_id: str) -> str | None:
    """What a claim id (`D4.8`) says, from the lessons module."""
    from sim.app.lessons import claim_text as text

    try:
        return text(claim_id)
    except Exception:  # the claim texts are an aid; the feed works without them
        log.exception("could not look up claim %s", claim_id)
        return None


def _claim_body(claim_id: str) -> str:
    """A claim's text without its id in front (the id is shown beside it)."""
    text = claim_text(claim_id) or "claim text not found"
    return text[len(claim_id) + 2 :] if text.startswith(f"{claim_id}: ") else text


def lesson_for(preset: str) -> Any:
    from sim.app.lessons import lesson_for as find

    return find(preset)


# -- small pieces -----------------------------------------------------------------------------------


def _html(tag: str, text: str, classes: list[str] | None = None) -> None:
    solara.HTML(tag=tag, unsafe_innerHTML=html.escape(text), classes=classes or [])


@solara.component
def LeverControl(lever: Lever, value: Any, on_commit: Callable[[Any], None]) -> None:
    """A lever: its name and current value in words, and a slider that commits on release only
    (Vuetify's `change`), so Reset or a story change never sees an in-between position."""
    hint = "×" if lever.label.endswith("×") else "±" if lever.label.endswith("±") else ""
    label = lever.label.rstrip(" ×±")
    with solara.Column(gap="0px", classes=[f"sim-lever-{lever.name}"]):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f"{html.escape(label)}: "
            f'<span class="sim-lever-value">{html.escape(lever_value_text(value, hint))}</span>',
            classes=["sim-lever-name"],
        )
        if lever.kind == "Select":
            solara.Select(label="", values=list(lever.values), value=value, on_value=on_commit, dense=True)
        else:
            cast = int if lever.kind == "SliderInt" else float
            slider = rv.Slider(
                v_model=value, min=lever.min or 0.0, max=lever.max or 0.0, step=lever.step or 1.0, thumb_label=True,
                hide_details=True,
                class_="sim-slider",
            )  # fmt: skip

            def changed(_widget: Any, _event: str, data: Any) -> None:
                on_commit(cast(data))

            solara.v.use_event(slider, "change", changed)
        _html("div", lever.meaning, ["sim-lever-meaning"])


@solara.component
def Echart(
    option: Whole, style: str = CHART_STYLE, on_click: Callable[[Any], None] | None = None, maps: Whole | None = None
) -> None:
    # sim/app/figure.py: solara's FigureEcharts, except that a map keeps the student's zoom across quarters.
    # Option and maps come as `Whole` values: the renderer then does not walk their thousands of items at
    # every quarter of every session (see figure.py).
    FigureEcharts(option=option, maps=maps or Whole({}), on_click=on_click, attributes={"style": style},
                  responsive=True)  # fmt: skip


@solara.component
def Charts(options: list[Whole], started: bool) -> None:
    with solara.Div(classes=["sim-charts"]):
        for i, option in enumerate(options):
            # ECharts 5.4.0 fails to redraw a line first drawn with no values at all (LineView.render reads
            # the previous coordinate system, never set): a chart gets a fresh widget once the story starts.
            Echart(option).key(f"chart-{i}-{started}")


@solara.component
def Feed(story: Story, playback: solara.Reactive[Playback]) -> None:
    """The narrated events of the revealed quarters, newest first, with their claims and what they say."""
    shown = revealed(story, playback)
    events = feed(story, shown)
    if not events:
        _html("p", "Nothing has happened yet: press Play or Step.")
        return
    cited: dict[str, str] = {}
    items = []
    for event in events:
        chips = []
        for claim in event.claims:
            text = cited.setdefault(claim, claim_text(claim) or "claim text not found")
            chips.append(f'<span class="sim-claim" title="{html.escape(text)}">{html.escape(claim)}</span>')
        real = f'<div class="sim-real">Real world: {html.escape(event.note)}</div>' if event.note else ""
        items.append(
            f'<div class="sim-event"><b>{html.escape(event.date)}</b> — {html.escape(event.text)} {"".join(chips)}'
            f"{real}</div>"
        )
    solara.HTML(tag="div", unsafe_innerHTML="".join(items), classes=["sim-feed"])
    with solara.Details("What the cited claims say"):
        rows = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(_claim_body(c))}</dd>" for c in sorted(cited))
        solara.HTML(tag="dl", unsafe_innerHTML=rows, classes=["sim-claims"])


@solara.component
def Info(preset: Preset, story: Story) -> None:
    """The preset's lesson: what it is, how it works, things to try, what to notice, the claims."""
    try:
        lesson = lesson_for(preset.name)
    except Exception:  # the lessons are an aid; the page works without them
        log.exception("could not read the lesson of %s", preset.name)
        lesson = None
    if lesson is None:
        _html("h3", f"{preset.name}: the question")
        for paragraph in (preset.question or "").split("\n\n"):
            _html("p", paragraph)
    else:
        _html("h3", f"{preset.name}: {lesson.question}")
        for heading, text in (("What it is", lesson.what_it_is), ("How it works", lesson.how_it_works)):
            _html("h4", heading)
            _html("p", text)
        for heading, items in (("Things to try", lesson.things_to_try), ("What to notice", lesson.what_to_notice)):
            _html("h4", heading)
            solara.HTML(tag="ul", unsafe_innerHTML="".join(f"<li>{html.escape(i)}</li>" for i in items))
        if lesson.claims:
            _html("h4", "The claims it rests on")
            rows = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(_claim_body(c))}</dd>" for c in lesson.claims)
            solara.HTML(tag="dl", unsafe_innerHTML=rows, classes=["sim-claims"])
    _html("h4", "Rerun this story from the command line")
    solara.HTML(tag="pre", unsafe_innerHTML=html.escape(story.command), classes=["sim-command"])


def _world() -> dict | str:
    try:
        return world_geojson()
    except MapUnavailable as error:
        return str(error)


@solara.component
def Countries(curves: Curves, story: Story, playback: solara.Reactive[Playback]) -> None:
    """The world map; a click on a country shows its curves below."""
    shown = revealed(story, playback)
    selected = solara.use_reactive("")

    def clicked(data: Any) -> None:
        name = data.get("name") if isinstance(data, dict) else None
        if name in story.countries:
            selected.set(name)

    geojson = solara.use_memo(_world, [])
    if isinstance(geojson, str):
        solara.Warning(f"The world map is not available: {geojson}")
    else:
        maps = Whole({WORLD_MAP: geojson})
        Echart(Whole(world_option(story, shown, selected.value or None)), MAP_STYLE, on_click=clicked, maps=maps)
    names = dict(zip(story.country_names, story.countries, strict=True))
    chosen = selected.value or None
    solara.Select(
        label="Country (or click it on the map)",
        values=sorted(names),
        value=story.country_names[story.countries.index(chosen)] if chosen else None,
        on_value=lambda name: selected.set(names[name]) if name else None,
    )
    if chosen:
        Echart(Whole(country_option(curves, story, shown, chosen))).key(f"country-{shown > 0}")


@solara.component
def Export(curves: Curves, story: Story, playback: solara.Reactive[Playback]) -> None:
    """CSV of the revealed quarters (world series; per country); each chart saves itself as PNG."""
    shown = revealed(story, playback)
    if shown == 0:
        _html("p", "Play or step the story first: the files hold the quarters shown so far.")
        return
    base = f"{story.preset}-story{story.number}-to-{story.quarter(shown - 1)}"
    _html("p", f"Data of the quarters shown so far ({story.quarter(0)} to {story.quarter(shown - 1)}), as CSV "
               "for a spreadsheet. Each chart has its own “save as PNG” button at its top right.")  # fmt: skip
    solara.FileDownload(lambda: series_csv(curves, story, shown), filename=f"{base}.csv",
                        label="Download the curves (CSV)", mime_type="text/csv")  # fmt: skip
    solara.FileDownload(lambda: countries_csv(story, shown), filename=f"{base}-countries.csv",
                        label="Download every country (CSV)", mime_type="text/csv")  # fmt: skip


def revealed(story: Story, playback: solara.Reactive[Playback]) -> int:
    """Quarters revealed. Only the components that call this re-render at each quarter (solara
    re-renders the readers of a reactive value), so a quarter redraws the date, the numbers and the
    open tab, not the controls."""
    return min(playback.value.shown, story.total)


CHARTS = {"adoption": adoption_options, "influence": influence_options, "china": china_options}


@solara.component
def ChartsTab(kind: str, curves: Curves, story: Story, playback: solara.Reactive[Playback]) -> None:
    shown = revealed(story, playback)
    Charts([Whole(option) for option in CHARTS[kind](curves, story, shown)], shown > 0)


@solara.component
def DateCounter(story: Story, playback: solara.Reactive[Playback]) -> None:
    _html("div", date_label(story, revealed(story, playback)), ["sim-date"])


@solara.component
def Headline(curves: Curves, story: Story, playback: solara.Reactive[Playback]) -> None:
    _html("div", headline(curves, story, revealed(story, playback)), ["sim-headline"])


@solara.component
def Ticker(playback: solara.Reactive[Playback], interval: float, key: Any) -> None:
    """Reveals the next quarter every `interval` seconds while playing: one task per session, restarted
    (the old one cancelled) when play starts or stops, the speed or the story changes; it reads the
    latest playback at every tick, so a fast play-pause-play cannot leave it stale."""
    playing = playback.value.playing

    async def ticker() -> None:
        due = time.monotonic() + interval
        while playback.value.playing:
            # A steady beat: the time a quarter takes to show is taken out of the wait for the next one.
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = max(due + interval, time.monotonic() + interval / 2)
            playback.set(playback.value.tick())

    solara.lab.use_task(ticker, dependencies=[playing, interval, key])


@solara.component
def PlayButtons(playback: solara.Reactive[Playback]) -> None:
    playing = playback.value.playing
    with solara.Row(gap="6px", style={"flex-wrap": "wrap"}):
        solara.Button("Pause" if playing else "Play", icon_name="mdi-pause" if playing else "mdi-play",
                      color="primary", on_click=lambda: playback.set(playback.value.toggle()))  # fmt: skip
        solara.Button("Step", icon_name="mdi-step-forward", on_click=lambda: playback.set(playback.value.step()))
        solara.Button("Reset", icon_name="mdi-restart", on_click=lambda: playback.set(playback.value.reset()))


def headline(curves: Curves, story: Story, shown: int) -> str:
    """The numbers of the last revealed quarter, in one line for the back of the room (the median in
    "many stories", the lever's effect in "difference")."""
    if shown == 0:
        return "Press Play to start the story."
    i = shown - 1
    s = curves.values
    if curves.difference:
        parts = [
            f"open models {100 * s['adoption.open'][i]:+.1f} points",
            "whose models: " + ", ".join(f"{b} {100 * s[f'adoption.{b}'][i]:+.1f}" for b in BLOCS if b != "other"),
            f"China's lag {s['gap.CN-US'][i]:+.1f} months",
        ]
        what = "Lever effect" if curves.mode == "levers" else f"Difference from {curves.reference}"
        return f"{what} (median of {curves.stories} paired stories): " + " · ".join(parts)
    parts = [
        f"open models {s['adoption.open'][i]:.0%} of AI-using firms",
        "whose models: " + ", ".join(f"{b} {s[f'adoption.{b}'][i]:.0%}" for b in BLOCS if b != "other"),
        f"China trails the US by {s['gap.CN-US'][i]:.0f} months",
    ]
    prefix = f"Median of {curves.stories} stories: " if curves.low is not None else ""
    return prefix + " · ".join(parts)


# -- the page ---------------------------------------------------------------------------------------


def _load(preset: Preset, settings: LeverSettings, number: int) -> Story | str:
    try:
        return get_story(preset.name, preset.path, settings, number)
    except StoryError as error:
        return str(error)
    except Exception as error:  # a fault of ours: the class sees one line, the server log the traceback
        log.exception("could not compute the story")
        return f"The story could not be computed: {type(error).__name__}: {error}"


@solara.component
def Page() -> None:
    presets, skipped = solara.use_memo(list_presets, [])
    solara.Style(CSS)
    solara.Title(TITLE)
    if not presets:
        solara.Error(f"No scenario in {scenarios_dir()} could be loaded. " + " ".join(skipped))
    else:
        Classroom(presets, skipped)


@solara.component
def Classroom(presets: list[Preset], skipped: list[str]) -> None:
    """The page for a non-empty list of presets; every hook of the session's state lives here."""
    by_name = {p.name: p for p in presets}
    preset_name = solara.use_reactive(presets[0].name)
    settings = solara.use_reactive(LeverSettings())
    number = solara.use_reactive(0)
    mode = solara.use_reactive("one")
    speed = solara.use_reactive("normal")
    tab = solara.use_reactive(0)
    notice = solara.use_reactive("")
    preset = by_name.get(preset_name.value, presets[0])
    loaded = solara.use_memo(lambda: _load(preset, settings.value, number.value),
                             [preset.name, settings.value, number.value])  # fmt: skip
    total = loaded.total if isinstance(loaded, Story) else 1
    playback = solara.use_reactive(Playback(total))

    # -- choices: each one loads its story (shared cache) and starts it again from the beginning --
    def choose(name: str | None = None, levers: LeverSettings | None = None, story: int | None = None) -> None:
        message = ""
        if name is not None and name != preset_name.value:
            levers, message = levers_for_new_preset(settings.value)
            preset_name.set(name)
        if levers is not None:
            settings.set(levers)
        if story is not None:
            number.set(story)
        chosen = _load(by_name[preset_name.value], settings.value, number.value)
        playback.set(Playback(chosen.total if isinstance(chosen, Story) else 1))
        notice.set(message)

    def set_lever(name: str) -> Callable[[Any], None]:
        return lambda value: choose(levers=replace(settings.value, **{name: value}))

    baseline = by_name.get(BASELINE)

    def bands() -> Ensemble | None:
        if mode.value == "one":
            return None
        reference = (baseline.name, baseline.path) if mode.value == "difference" and baseline else None
        return get_ensemble(preset.name, preset.path, settings.value, STORIES, reference=reference)

    ensemble_task = solara.lab.use_task(bands, dependencies=[mode.value, preset.name, settings.value])
    ensemble: Ensemble | None = ensemble_task.value if ensemble_task.finished else None

    with solara.Div(classes=["sim-page"]):
        with solara.Row(justify="space-between", style={"align-items": "baseline", "flex-wrap": "wrap"}):
            _html("h1", TITLE, ["sim-title"])
            if isinstance(loaded, Story):
                DateCounter(loaded, playback)
                Ticker(playback, SPEEDS.get(speed.value, SPEEDS["normal"]), (preset.name, settings.value, number.value))
        with solara.Div(classes=["sim-layout"]):
            with solara.Div(classes=["sim-controls"]):
                Controls(presets, preset, settings.value, number.value, mode, speed, playback, choose, set_lever,
                         skipped)  # fmt: skip
            with solara.Div(classes=["sim-main"]):
                if notice.value:
                    solara.Info(notice.value)
                if isinstance(loaded, str):
                    solara.Error(loaded)
                else:
                    Views(loaded, preset, mode.value, playback, tab, ensemble, ensemble_task)


@solara.component
def Views(story: Story, preset: Preset, mode: str, playback: solara.Reactive[Playback], tab: solara.Reactive[int],
          ensemble: Ensemble | None, ensemble_task: Any) -> None:  # fmt: skip
    """The views of the revealed quarters, in tabs (only the open tab is drawn)."""
    if story.notice:
        solara.Warning(story.notice)
    if mode != "one" and ensemble is None:
        if ensemble_task.error:
            solara.Error(f"The {STORIES} stories could not be computed: {ensemble_task.exception}")
        else:
            solara.Info(f"Computing {STORIES} stories for the bands… (one story shown meanwhile)")
    curves = Curves.of(story, ensemble, mode)
    Headline(curves, story, playback)
    with solara.lab.Tabs(value=tab.value, on_value=tab.set, lazy=True):
        with solara.lab.Tab(TABS[0]):
            ChartsTab("adoption", curves, story, playback)
        with solara.lab.Tab(TABS[1]):
            ChartsTab("influence", curves, story, playback)
        with solara.lab.Tab(TABS[2]):
            ChartsTab("china", curves, story, playback)
        with solara.lab.Tab(TABS[3]):
            Countries(curves, story, playback)
        with solara.lab.Tab(TABS[4]):
            Feed(story, playback)
        with solara.lab.Tab(TABS[5]):
            Info(preset, story)
        with solara.lab.Tab(TABS[6]):
            Export(curves, story, playback)


@solara.component
def Controls(
    presets: list[Preset],
    preset: Preset,
    settings: LeverSettings,
    number: int,
    mode: solara.Reactive[str],
    speed: solara.Reactive[str],
    playback: solara.Reactive[Playback],
    choose: Callable[..., None],
    set_lever: Callable[[str], Callable[[Any], None]],
    skipped: list[str],
) -> None:
    """Lesson controls only: preset and its question, playback, how many stories, levers."""
    solara.Select(label="Preset", values=[p.name for p in presets], value=preset.name,
                  on_value=lambda name: choose(name=name), classes=["sim-preset"])  # fmt: skip
    try:
        lesson = lesson_for(preset.name)
    except Exception:  # the lessons are an aid: the preset's own question otherwise
        log.exception("could not read the lesson of %s", preset.name)
        lesson = None
    question = lesson.question if lesson is not None else (preset.question or "").split("\n\n")[0]
    _html("p", question, ["sim-question"])
    PlayButtons(playback)
    _html("div", "Speed", ["sim-lever-name"])
    solara.ToggleButtonsSingle(value=speed.value, values=list(SPEEDS), on_value=speed.set)
    _html("div", "What the charts show", ["sim-lever-name"])
    solara.Select(label="", values=list(MODES.values()), value=MODES[mode.value],
                  on_value=lambda label: mode.set(next(k for k, v in MODES.items() if v == label)))  # fmt: skip
    _html("div", f"Story number: {number} (another roll of chance; the same number replays the same story)",
          ["sim-lever-name"])  # fmt: skip
    story_slider = rv.Slider(v_model=number, min=0, max=STORIES - 1, step=1, thumb_label=True, hide_details=True)
    solara.v.use_event(story_slider, "change", lambda _w, _e, data: choose(story=int(data)))
    _html("h3", "Levers")
    solara.Button("Neutral levers", icon_name="mdi-backup-restore", outlined=True,
                  disabled=settings == LeverSettings(), on_click=lambda: choose(levers=LeverSettings()))  # fmt: skip
    for lever in LEVERS:
        LeverControl(lever, getattr(settings, lever.name), set_lever(lever.name))
    if skipped:
        solara.Warning("Left out (invalid): " + "; ".join(skipped), dense=True)
