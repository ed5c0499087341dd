"""The class-play pages (`sim app --class`): students govern countries or AI labs in one shared world.

One solara app, routed by the link's query (every link carries a token; the gate, sim/app/classgate.py,
already refused wrong ones, and each page checks again with the class):

- `/?teacher=TOKEN`: the teacher's dashboard (join code, who has decided, timer, advance, kick and
  reassign, world map and curves, feed; after the last round the debrief and the decisions CSV);
- `/?join=CLASSTOKEN` (or `/` and the typed join code): a student gives a name and picks an actor;
- `/?student=STUDENTTOKEN`: the student's page. Joining puts the student's token in the address, so
  a closed tab or a reload comes back to the same country.

Every page polls the class once a second (the class is in this server process: sim/app/classplay_state.py)
and redraws only when something it shows changed. Requests go through `ClassRoom`, whose refusals are
`Outcome` messages shown as they are: no page ever shows a traceback.
"""

# ruff: noqa: N802  (Solara components are named like classes)

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import parse_qs

import solara
import solara.lab

from sim.app.charts import FONT_PX
from sim.app.classplay_state import class_options, remember_browser, replay_if_ready, the_class, token_of_browser
from sim.app.classplay_views import (
    actor_option,
    class_map_option,
    clock,
    debrief_html,
    esc,
    feed_html,
    option_groups,
    round_title,
    world_options,
)
from sim.app.figure import FigureEcharts
from sim.app.worldmap import WORLD_MAP, MapUnavailable, world_geojson
from sim.classplay import ClassRoom, Outcome, StudentView

log = logging.getLogger(__name__)

TITLE = "Class play: AI geopolitics"
POLL_S = 1.0
TIMER_CHOICES = (2, 3, 5)  # minutes
CHART_STYLE = "height: 420px; width: 100%;"
MAP_STYLE = "height: 480px; width: 100%;"
T = TypeVar("T")

CSS = f"""
.cp-page {{ font-size: {FONT_PX}px; line-height: 1.45; color: #222; padding: 8px 20px; max-width: 1800px; }}
.cp-page .v-label, .cp-page .v-btn, .cp-page .v-select__selection, .cp-page input, .cp-page .v-messages,
.v-menu__content .v-list-item__title, .cp-page .v-alert, .cp-page .v-expansion-panel-header {{
    font-size: {FONT_PX}px !important; }}
.cp-page .v-btn {{ text-transform: none; letter-spacing: 0; }}
.cp-page .v-label--active {{ transform: translateY(-26px) scale(1) !important; }}  /* floated labels stay 18 px */
.cp-page .v-text-field {{ padding-top: 22px; }}
.cp-form {{ max-width: 760px; }}
.cp-gap {{ margin-top: 16px !important; }}
.cp-page .cp-option.v-btn {{ white-space: normal; height: auto !important; min-height: 44px; padding: 8px 14px;
                             text-align: left; justify-content: flex-start; max-width: 100%; }}
.cp-page .cp-option .v-btn__content {{ white-space: normal; flex: 1 1 auto; line-height: 1.3; }}
.cp-title {{ font-size: 26px; font-weight: 700; margin: 0; }}
.cp-actor {{ font-size: 34px; font-weight: 700; margin: 0; }}
.cp-round {{ font-size: 26px; font-weight: 700; }}
.cp-clock {{ font-size: 26px; font-weight: 700; color: #0b57a4; }}
.cp-code {{ font-size: 120px; font-weight: 800; letter-spacing: 14px; line-height: 1.05; font-family: monospace; }}
.cp-link {{ font-size: {FONT_PX}px; word-break: break-all; color: #333; }}
.cp-grid {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; align-items: start; }}
@media (max-width: 1100px) {{ .cp-grid {{ grid-template-columns: minmax(0, 1fr); }} }}
.cp-card {{ border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; margin: 8px 0; background: #fff; }}
.cp-card h3 {{ margin: 0 0 6px 0; font-size: 22px; }}
.cp-topic {{ font-weight: 700; margin-top: 10px; }}
.cp-claims {{ color: #555; font-size: {FONT_PX}px; margin-left: 4px; }}
.cp-claim {{ display: inline-block; background: #eef3fb; border-radius: 4px; padding: 0 6px; margin: 0 3px;
             font-size: {FONT_PX}px; }}
.cp-feed {{ max-height: 520px; overflow-y: auto; }}
.cp-event {{ padding: 5px 0; border-bottom: 1px solid #e4e4e4; }}
.cp-decision {{ color: #0b3d91; }}
.cp-class {{ color: #555; font-style: italic; }}
.cp-decided {{ color: #1b6e20; font-weight: 700; }}
.cp-undecided {{ color: #8a4b00; }}
.cp-list {{ margin: 0; padding-left: 20px; columns: 2; }}
.cp-table {{ border-collapse: collapse; width: 100%; }}
.cp-table th, .cp-table td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }}
.cp-table td:not(:first-child) {{ text-align: right; white-space: nowrap; }}
.cp-consequences li {{ margin: 2px 0; }}
"""


def _html(tag: str, text: str, classes: list[str] | None = None) -> None:
    solara.HTML(tag=tag, unsafe_innerHTML=esc(text), classes=classes or [])


def _raw(tag: str, markup: str, classes: list[str] | None = None) -> Any:
    return solara.HTML(tag=tag, unsafe_innerHTML=markup, classes=classes or [])


def use_poll(read: Callable[[], T], key: Any = None) -> T:
    """`read()` now and again every POLL_S; the component redraws only when the value changed."""
    value = solara.use_reactive(solara.use_memo(read, [key]))

    async def loop() -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                new = read()
            except Exception:  # a read that fails once (a class mid-update) is read again next second
                log.exception("class page poll")
                continue
            if new != value.value:
                value.set(new)

    solara.lab.use_task(loop, dependencies=[key])
    return value.value


def _show(outcome: Outcome | None) -> None:
    if outcome is None or not outcome.message:
        return
    (solara.Success if outcome.ok else solara.Error)(outcome.message)


def _world_map() -> dict | str:
    try:
        return world_geojson()
    except MapUnavailable as error:
        return str(error)


@solara.component
def Echart(option: dict, style: str = CHART_STYLE, maps: dict | None = None) -> None:
    # the classroom page's figure: a map keeps the reader's zoom and pan when its colours change
    FigureEcharts(option=option, maps=maps or {}, attributes={"style": style}, responsive=True)


@solara.component
def Map(option: dict) -> None:
    geojson = solara.use_memo(_world_map, [])
    if isinstance(geojson, str):
        solara.Warning(f"The world map is not available: {geojson}")
    else:
        Echart(option, MAP_STYLE, maps={WORLD_MAP: geojson})


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds)


@solara.component
def Clock(room: ClassRoom) -> None:
    """The round timer, redrawn alone every second."""
    seconds = use_poll(lambda: _whole(room.status().seconds_left))
    _html("div", clock(seconds), ["cp-clock"])


# -- routing ------------------------------------------------------------------------------------------


@solara.component
def Page() -> None:
    """The app: every page of the class, inside one guard that turns a fault of ours into one line."""
    solara.Style(CSS)
    solara.Title(TITLE)
    error, clear = solara.use_exception()
    if error is not None:
        log.error("class page fault: %s: %s", type(error).__name__, error)
        with solara.Div(classes=["cp-page"]):
            solara.Error(f"This page met a fault of ours ({type(error).__name__}); the teacher's server log has "
                         "details. Your class and decisions are kept.")  # fmt: skip
            solara.Button("Show the page again", color="primary", on_click=clear)
        return
    Routed()


@solara.component
def Routed() -> None:
    """The page the link asks for (teacher, join, student, or the code form)."""
    try:
        room: ClassRoom | str | None = the_class()  # one per server process, built at its start
    except Exception as error:  # sim app --class checked the options: this is a fault of ours, in one line
        log.exception("the class could not be opened")
        room = f"The class could not be opened: {error}"
    router = solara.use_router()
    query = {k: v[-1] for k, v in parse_qs(router.search or "", keep_blank_values=True).items()}
    with solara.Div(classes=["cp-page"]):
        if room is None:
            solara.Error("This server has no class: start it with `sim app --class`.")
        elif isinstance(room, str):
            solara.Error(room)
        elif "teacher" in query:
            if room.is_teacher(query["teacher"]):
                Teacher(room)
            else:
                solara.Error("This teacher link is not this class's. Use the link `sim app --class` printed.")
        elif "student" in query:
            Student(room, query["student"], lambda: router.push("/"))
        elif "join" in query and room.admits(query["join"]):
            Join(room, lambda token: router.push(f"/?student={token}"))
        else:
            if "join" in query:
                solara.Error("This join link is not this class's. Ask your teacher for the class's code.")
            Code(room, lambda: router.push(f"/?join={room.class_token}"))


@solara.component
def Code(room: ClassRoom, admitted: Callable[[], None]) -> None:
    """A student without the join link types the code the teacher's screen shows."""
    code = solara.use_reactive("")
    wrong = solara.use_reactive(False)

    def check() -> None:
        if code.value.strip() and room.admits(code.value):
            admitted()
        else:
            wrong.set(True)

    _html("h1", TITLE, ["cp-title"])
    _html("p", "Type the class code your teacher shows (six letters and digits).")
    with solara.Div(classes=["cp-form"]):
        solara.InputText("Class code", value=code, continuous_update=True)
        solara.Button("Enter the class", color="primary", on_click=check)
        if wrong.value:
            solara.Error("That is not this class's code. Check the teacher's screen and try again.")


@solara.component
def Join(room: ClassRoom, joined: Callable[[str], None]) -> None:
    """A student gives a name and picks a free country or lab (or lets the class assign one)."""
    name = solara.use_reactive("")
    wanted = solara.use_reactive("Assign me one")
    refused = solara.use_reactive("")
    actors = use_poll(lambda: [(a.id, a.label) for a, free in room.actors() if free])
    labels = {label: actor_id for actor_id, label in actors}
    browser = solara.get_session_id()  # solara's cookie: the same browser, whatever the tab
    earlier = token_of_browser(browser)
    before = room.view(earlier) if earlier else None

    def join() -> None:
        outcome = room.join(name.value, labels.get(wanted.value))
        if outcome.ok:
            remember_browser(browser, outcome.value)
            joined(outcome.value)
        else:
            refused.set(outcome.message)

    _html("h1", TITLE, ["cp-title"])
    length = "a year" if room.round_quarters == 4 else "a quarter"
    first, last = room.round_quarters_of(1)[0], room.round_quarters_of(room.rounds)[1]
    _html("p", f"You will govern one country (or run one AI lab) in the class's shared world: {room.rounds} "
               f"rounds of {length}, {first} to {last}. Each round you take its decisions; the teacher ends the "
               "round and the world moves on.")  # fmt: skip
    if isinstance(before, StudentView) and earlier:  # the tab was closed: back to the same country in one click
        with solara.Div(classes=["cp-card", "cp-form"]):
            _html("p", f"This browser joined as {before.name}, governing {before.actor.label}.")
            solara.Button(f"Continue as {before.name}", color="primary", on_click=lambda: joined(earlier))
            _html("p", "Someone else on this computer? Join below with your own name.")
    with solara.Div(classes=["cp-form"]):
        solara.InputText("Your name (the teacher sees it)", value=name, continuous_update=True)
        solara.Select(label="Country or AI lab (free ones; largest economies first)",
                      values=["Assign me one", *labels], value=wanted)  # fmt: skip
        solara.Button("Join the class", color="primary", on_click=join, disabled=not name.value.strip())
        if refused.value:
            solara.Error(refused.value)


# -- the student's page -------------------------------------------------------------------------------


def _student_key(view: StudentView | Outcome) -> Any:
    """What the page shows, without the timer (the clock redraws alone)."""
    return replace(view, seconds_left=None) if isinstance(view, StudentView) else view


@solara.component
def Student(room: ClassRoom, token: str, leave: Callable[[], None]) -> None:
    # one poll for both: a new round changes the view and the feed at once, and is then drawn once
    view, feed_count = use_poll(lambda: (_student_key(room.view(token)), len(room.feed())), key=token)
    said: solara.Reactive[Any] = solara.use_reactive(None)
    replay = replay_if_ready()
    actor = view.actor if isinstance(view, StudentView) else None
    round_ = view.round if isinstance(view, StudentView) else 0
    chart = solara.use_memo(lambda: actor_option(room, actor, room.world(), replay) if actor else {},
                            [actor, round_, replay is not None])  # fmt: skip
    if isinstance(view, Outcome) or actor is None:
        _html("h1", TITLE, ["cp-title"])
        solara.Error(view.message)
        solara.Button("Join again", on_click=leave)
        return
    world_quarter = view.last_quarter if view.round > 1 else None

    def decide(option_id: str) -> None:
        """Take an option; taking a chosen one again takes it back (the actor keeps course on that topic)."""
        chosen = {o.id for o in view.chosen} if isinstance(view, StudentView) else set()
        act = room.undo if option_id in chosen else room.decide
        said.set((round_, act(token, option_id)))

    with solara.Row(justify="space-between", style={"align-items": "baseline", "flex-wrap": "wrap"}):
        _html("h1", f"You govern {actor.label}", ["cp-actor"])
        with solara.Row(style={"align-items": "baseline", "gap": "24px"}):
            _html("div", round_title(view.round, room.rounds, view.first_quarter, view.last_quarter, view.finished),
                  ["cp-round"])  # fmt: skip
            if not view.finished:
                Clock(room)
    _html("div", f"Playing as {view.name}. Keep this page's address: it brings you back to {actor.label}.",
          ["cp-link"])  # fmt: skip
    if view.simulating:
        solara.Info("The teacher ended the round: the world is being simulated…")
    with solara.Div(classes=["cp-grid"]):
        with solara.Div():
            if view.finished:
                StudentDebrief(room, actor.label)
            else:
                Decisions(view, decide)
                if said.value and said.value[0] == view.round and not said.value[1].ok:  # "Decided:" is above
                    _show(said.value[1])
        with solara.Div():
            with solara.Div(classes=["cp-card"]):  # beside the decisions: what the last ones did
                _html("h3", "What the last round did" if view.round > 1 else "Before the first round")
                if view.consequences:
                    items = "".join(f"<li>{esc(line)}</li>" for line in view.consequences)
                    _raw("ul", items, ["cp-consequences"])
                else:
                    _html("p", "Nothing played yet: your first decisions act from the first round's first quarter.")
            Echart(chart).key(f"actor-{actor.id}-{world_quarter}-{replay is not None}")
            _html("p", "Solid lines: the class's world. Dashed lines of the same colour: the same world without "
                       "the class's moves (same seeds; hover for the numbers).")  # fmt: skip
    with solara.Div(classes=["cp-card"]):
        _html("h3", "What happened (newest first)")
        _raw("div", feed_html(room.feed()), ["cp-feed"]).key(f"feed-{feed_count}")
        if view.history:
            earlier = "".join(f"<li>Round {d.round}: {esc(d.option.label)}</li>" for d in view.history)
            _html("h3", f"{actor.label}'s earlier decisions")
            _raw("ul", earlier)


@solara.component
def Decisions(view: StudentView, decide: Callable[[str], None]) -> None:
    """This round's options in plain words with their claims; the chosen ones marked."""
    chosen = {o.id for o in view.chosen}
    with solara.Div(classes=["cp-card"]):
        _html("h3", "Your decisions this round")
        if chosen:
            labels = "; ".join(o.label for o in view.chosen)
            _html("p", f"Decided: {labels}. Until the teacher ends the round you can change it (click a chosen "
                       "option again to take it back).", ["cp-decided"])  # fmt: skip
        else:
            _html("p", f"Not decided yet. If you do not decide, {view.actor.name} follows its own course "
                       "(the model's rules).", ["cp-undecided"])  # fmt: skip
        keep = next((o for o in view.options if o.topic == "keep"), None)
        if keep is not None:
            OptionButton(keep, keep.id in chosen, decide)
        for heading, options in option_groups(view.options):
            _html("div", heading, ["cp-topic"])
            if len(options) <= 4:
                for option in options:
                    OptionButton(option, option.id in chosen, decide)
            else:
                OptionPicker(options, chosen, decide)


@solara.component
def OptionButton(option: Any, chosen: bool, decide: Callable[[str], None]) -> None:
    claims = f"  [{' '.join(option.claims)}]" if option.claims else ""
    with solara.Div(style={"margin": "4px 0"}):
        solara.Button(("✓ " if chosen else "") + option.label + claims, color="primary" if chosen else None,
                      outlined=not chosen, on_click=lambda: decide(option.id), classes=["cp-option"])  # fmt: skip


@solara.component
def OptionPicker(options: list[Any], chosen: set[str], decide: Callable[[str], None]) -> None:
    """Many options on one topic (bans): a list to pick from and one button."""
    by_label = {o.label: o for o in options}
    current = next((o.label for o in options if o.id in chosen), None)
    picked = solara.use_reactive(current)
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        with solara.Div(style={"min-width": "420px", "flex": "1 1 420px"}):
            solara.Select(label="Choose", values=list(by_label), value=picked)
        option = by_label.get(picked.value or "")
        done = current is not None and current == picked.value
        solara.Button("✓ decided (click to take back)" if done else "Decide this", color="primary",
                      outlined=done, disabled=option is None,
                      on_click=lambda: decide(option.id) if option else None)  # fmt: skip
    if option is not None and option.claims:
        _html("div", "Claims: " + " ".join(option.claims), ["cp-claims"])


@solara.component
def StudentDebrief(room: ClassRoom, label: str) -> None:
    frame = solara.use_memo(room.debrief, [])
    with solara.Div(classes=["cp-card"]):
        _html("h3", "The end: your country with and without the class's moves")
        _raw("div", debrief_html(frame, [label]))


# -- the teacher's page -------------------------------------------------------------------------------


def _teacher_key(room: ClassRoom) -> Any:
    status = room.status()
    return (replace(status, seconds_left=None), len(room.feed()),
            tuple((s.id, s.name, s.actor.id) for s in room.students()))  # fmt: skip


@solara.component
def Teacher(room: ClassRoom) -> None:
    key = use_poll(lambda: _teacher_key(room))
    status, feed_count, roster = key
    said: solara.Reactive[Any] = solara.use_reactive(None)
    replay = replay_if_ready()
    world = room.world()
    quarter = world.last_quarter if world is not None else None
    players = {actor_id.split(":", 1)[1]: name for _, name, actor_id in roster if actor_id.startswith("country:")}
    charts = solara.use_memo(lambda: world_options(room, world, replay), [quarter, replay is not None])
    title = f"Whose models each country mostly uses, {quarter}" if quarter else "The world before the first round"
    world_map = solara.use_memo(lambda: class_map_option(room, world, players, title), [quarter, roster])

    def advance() -> None:
        said.set(room.advance())

    with solara.Row(justify="space-between", style={"align-items": "baseline", "flex-wrap": "wrap"}):
        _html("h1", f"{TITLE} · teacher", ["cp-title"])
        _html("div", round_title(status.round, status.rounds, status.first_quarter, status.last_quarter,
                                 status.finished), ["cp-round"])  # fmt: skip
        if not status.finished:
            Clock(room)
    with solara.Div(classes=["cp-grid"]):
        with solara.Div(classes=["cp-card"]):
            _html("h3", "Students join with this code")
            _html("div", room.join_code, ["cp-code"])
            options = class_options()
            where = options.join_url if options and options.join_url else "the join link"
            _html("div", f"at {where.split('?')[0]} (or open the join link: {where})", ["cp-link"])
            _html("h3", "This round", ["cp-gap"])
            if status.finished:
                _html("p", "Every round has been played: the debrief is below.")
            else:
                with solara.Row(style={"flex-wrap": "wrap", "align-items": "center"}):
                    for minutes in TIMER_CHOICES:
                        solara.Button(f"{minutes} min timer", outlined=True,
                                      on_click=lambda m=minutes: said.set(room.start_timer(60 * m)))  # fmt: skip
                    last = status.round == status.rounds
                    solara.Button("End the last round and simulate" if last else
                                  f"End round {status.round} and simulate", color="primary",
                                  disabled=status.simulating, on_click=advance)  # fmt: skip
                if status.simulating:
                    solara.Info("Simulating the round…")
            _show(said.value)
        with solara.Div(classes=["cp-card"]):
            Roster(room, status, roster, said)
    with solara.Div(classes=["cp-grid"]):
        Map(world_map)  # one widget for the class: the teacher's zoom stays from round to round
        with solara.Div():
            for i, option in enumerate(charts):
                Echart(option, "height: 300px; width: 100%;").key(f"world-{i}-{quarter}-{replay is not None}")
            _html("p", "Solid: the class's world. Dashed: without the class's moves (same seeds).")
    if status.finished:
        Debrief(room, world, players)
    with solara.Div(classes=["cp-card"]):
        _html("h3", "What happened: who did what (newest first)")
        _raw("div", feed_html(room.feed()), ["cp-feed"]).key(f"feed-{feed_count}")
    with solara.Div(classes=["cp-card"]):
        _html("h3", "Decisions so far")
        solara.FileDownload(room.csv_bytes, filename="class-decisions.csv",
                            label="Download every decision (CSV)", mime_type="text/csv")  # fmt: skip


@solara.component
def Roster(room: ClassRoom, status: Any, roster: tuple, said: solara.Reactive) -> None:
    """Who has decided this round, and the teacher's kick and reassign."""
    decided = status.decided
    undecided = status.undecided
    if status.finished:
        _html("div", f"{len(undecided)} students played", ["cp-topic"])
        items = "".join(f"<li>{esc(name)} · {esc(label)}</li>" for _, name, label in undecided)
    else:
        _html("div", f"Decided: {len(decided)} of {len(decided) + len(undecided)} students", ["cp-topic"])
        items = "".join(f'<li class="cp-decided">✓ {esc(name)} · {esc(label)}</li>' for _, name, label in decided)
        items += "".join(f'<li class="cp-undecided">… {esc(name)} · {esc(label)}</li>'
                         for _, name, label in undecided)  # fmt: skip
    _raw("ul", items or "<li>No student has joined yet.</li>", ["cp-list"])
    who: solara.Reactive[str | None] = solara.use_reactive(None)
    to: solara.Reactive[str | None] = solara.use_reactive(None)
    if not roster:
        return
    # by name, so the teacher finds a student (Vuetify draws a long list's first 20 items until scrolled)
    students = {f"{name} ({sid})": sid for sid, name, _ in sorted(roster, key=lambda r: r[1].casefold())}
    free = {a.label: a.id for a, is_free in room.actors() if is_free}
    with solara.Details("Remove a student, or give them another country or lab"), \
            solara.Row(style={"flex-wrap": "wrap", "align-items": "center"}):  # fmt: skip
            with solara.Div(style={"min-width": "260px"}):
                solara.Select(label="Student", values=list(students), value=who)
            with solara.Div(style={"min-width": "260px"}):
                solara.Select(label="Free country or lab", values=list(free), value=to)
            # The buttons read the choices when clicked, not as last drawn: a quick click never acts on
            # the student chosen before.
            def chosen() -> tuple[str | None, str | None]:
                now = {f"{s.name} ({s.id})": s.id for s in room.students()}
                actors = {a.label: a.id for a, is_free in room.actors() if is_free}
                return now.get(who.value or ""), actors.get(to.value or "")

            def reassign() -> None:
                sid, actor = chosen()
                if sid and actor:
                    said.set(room.reassign(sid, actor))

            def kick() -> None:
                sid, _ = chosen()
                if sid:
                    said.set(room.kick(sid))

            none = students.get(who.value or "") is None
            solara.Button("Give them this one", outlined=True, disabled=none or to.value not in free,
                          on_click=reassign)  # fmt: skip
            solara.Button("Remove from the class", outlined=True, color="error", disabled=none, on_click=kick)


@solara.component
def Debrief(room: ClassRoom, world: Any, players: dict[str, str]) -> None:
    """Both worlds side by side, the differences per actor, and the command that re-runs the class's world."""
    replay = solara.use_memo(lambda: replay_if_ready() or room.replay(), [])
    quarter = world.last_quarter if world is not None else None
    frame = solara.use_memo(room.debrief, [quarter])
    ours = class_map_option(room, world, players, f"With the class's moves, {quarter}")
    theirs = class_map_option(room, replay, players, f"Without them (replay, same seeds), {quarter}", quarter)
    with solara.Div(classes=["cp-card"]):
        _html("h3", "Debrief: the class's world beside the same world without the class's moves")
        with solara.Div(classes=["cp-grid"]):
            Map(ours).key("debrief-ours")
            Map(theirs).key("debrief-theirs")
        _raw("div", debrief_html(frame))
        with solara.Details("Re-run the class's world from the command line"):
            overrides = " ".join(f"--set '{o}'" for o in room.overrides())
            options = class_options()
            preset = options.preset if options else room.scenario.name
            _html("pre", f"sim run {preset} --seed {room.seed} {overrides}")
        _html("h3", "Questions for the class")
        questions = [
            "Which decision changed the world most? Would the world have gone that way anyway (the dashed lines)?",
            "Which countries followed their own course? Did that hurt them?",
            "Did a ban or a programme help the country that chose it, or a bloc?",
            "Which claims (D-numbers) did your decisions rest on, and do you believe them?",
        ]
        _raw("ol", "".join(f"<li>{esc(q)}</li>" for q in questions))
