"""The classroom page: Mesa's SolaraViz with presets, plain-words levers and narrated events.

Served by `sim app` (`solara run sim/app/page.py`). Every browser session builds its own model in
`Page` (a module-level model would be shared by every student). Presets and levers apply on Reset,
as SolaraViz re-creates the model with the chosen parameters; the seed is fixed, so Reset with the
same choices replays the same story.
"""

# ruff: noqa: N802  (Solara components are named like classes, as in Mesa and Solara)

from __future__ import annotations

import html
import logging
from collections.abc import Callable

import mesa.visualization.solara_viz as solara_viz
import solara
from mesa.visualization import SolaraViz

from sim.app.classroom import ClassroomModel
from sim.app.levers import LEVERS
from sim.app.presets import list_presets, scenarios_dir
from sim.app.views import WORLD_CSS, AdoptionCurves, DateCounter, EventFeed, InfluenceCurves, Lesson, WorldView

log = logging.getLogger(__name__)

TITLE = "AI geopolitics: open vs closed models"
STORIES = 10  # story numbers offered: replicates 0..9 of the preset, each a different roll of chance
PLAY_INTERVAL_MS = 300  # pause between quarters when playing, slow enough to narrate

# SolaraViz shows `Step: N` through this module-level component; the class should see the date.
solara_viz.ShowSteps = DateCounter


def model_params(presets: list[str]) -> dict:
    """The choices in SolaraViz's "Model Parameters" card: preset, story number, then the levers."""
    return {
        "preset": {
            "type": "Select",
            "value": presets[0],
            "values": presets,
            "label": "Preset scenario (press Reset to load it)",
        },
        "story": {
            "type": "SliderInt",
            "value": 0,
            "min": 0,
            "max": STORIES - 1,
            "step": 1,
            "label": "Story number (another roll of chance)",
        },
        **{lever.name: lever.model_param() for lever in LEVERS},
    }


@solara.component
def Page() -> None:
    presets, skipped = solara.use_memo(list_presets, [])
    if not presets:
        solara.Error(f"No scenario in {scenarios_dir()} could be loaded. " + " ".join(skipped))
        return

    def first_model() -> ClassroomModel | str:
        try:
            return ClassroomModel(preset=presets[0].name)
        except Exception as error:  # the page says what went wrong; the server log has the traceback
            log.exception("could not build the classroom model")
            return f"The model could not be built: {type(error).__name__}: {error}"

    initial = solara.use_memo(first_model, [])
    if isinstance(initial, str):
        solara.Error(initial)
        return
    model: solara.Reactive[ClassroomModel] = solara.use_reactive(initial)
    shown = solara.use_ref(initial)

    def retire_replaced() -> None:
        # Reset swaps in a new model; release the old one (Mesa 3.3.1 keeps every model alive).
        if shown.current is not model.value:
            shown.current.retire()
            shown.current = model.value

    solara.use_effect(retire_replaced, [model.value])

    def retire_at_session_end() -> Callable[[], None]:
        return lambda: shown.current.retire()

    solara.use_effect(retire_at_session_end, [])

    solara.Style(WORLD_CSS)
    with solara.Sidebar():
        solara.Info("Choose a preset and move the levers, then press Reset to start that story.", dense=True)
        with solara.Details("What the levers do"):
            items = "".join(
                f"<li><b>{html.escape(lv.label)}</b>: {html.escape(lv.meaning)}; unit: {html.escape(lv.unit)}.</li>"
                for lv in LEVERS
            )
            solara.HTML(tag="ul", unsafe_innerHTML=items)
        if skipped:
            solara.Warning("Left out (invalid): " + "; ".join(skipped), dense=True)
    SolaraViz(
        model,
        components=[Lesson, AdoptionCurves, InfluenceCurves, WorldView, EventFeed],
        model_params=model_params([p.name for p in presets]),
        name=TITLE,
        play_interval=PLAY_INTERVAL_MS,
    )
