"""`FigureEcharts` for the classroom page: solara's, except that an update keeps the map's zoom and pan.

solara's FigureEcharts replaces the whole option on every update (`setOption(option, notMerge=True)`),
so a student who zoomed into Europe would be thrown back to the whole world each quarter. This one uses
a copy of solara's template (echarts_keep_view.vue) that carries a map series' `zoom` and `center` from
the chart into each new option, unless the new option sets them; the toolbox's "reset zoom" shows the
whole world again. Same arguments as `solara.FigureEcharts`; ECharts comes from solara's CDN proxy as there.

An option or the maps may come wrapped in `Whole`: reacton, solara's renderer, walks every list and dict
in a component's arguments at each render (looking for child elements, and comparing item by item),
which for a chart's option (~500 values) and the world's shapes (~37,000) was most of the server's work
per quarter with a class playing. A `Whole` is passed down as one value and unwrapped only when the
widget's state is sent to the browser, so the browser gets exactly the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import solara
import traitlets
from solara.components.echarts import EchartsWidget


class Whole:
    """A JSON value (a chart's option, the maps) that the component tree passes on as one value.

    Equal when the values are equal (compared by Python's dict and list equality, in C), so a quarter
    that changes nothing in a chart sends nothing for it, as with a plain dict.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Whole) and (self.value is other.value or self.value == other.value)

    __hash__ = None  # type: ignore[assignment]  # mutable contents, like the dict it holds

    def __repr__(self) -> str:
        return f"Whole({type(self.value).__name__})"


def _to_json(value: Any, _widget: Any) -> Any:
    """The widget state as the browser gets it: a `Whole` unwrapped, anything else as it is."""
    return value.value if isinstance(value, Whole) else value


class KeepViewEchartsWidget(EchartsWidget):
    """solara's ECharts widget with a template that keeps the reader's map view across updates."""

    template_file = (__file__, "echarts_keep_view.vue")
    option = traitlets.Any({}).tag(sync=True, to_json=_to_json)
    maps = traitlets.Any({}).tag(sync=True, to_json=_to_json)


@solara.component
def FigureEcharts(  # noqa: N802  (solara's component naming, as solara.FigureEcharts)
    option: dict[str, Any] | Whole,
    on_click: Callable[[Any], Any] | None = None,
    maps: dict[str, Any] | Whole | None = None,
    attributes: dict[str, Any] | None = None,
    responsive: bool = False,
) -> solara.Element:
    """An ECharts figure: `option` (sim/app/charts.py, sim/app/worldmap.py), `maps` to register (e.g.
    `{WORLD_MAP: world_geojson()}`), each plain or in a `Whole`; `on_click` called with ECharts' event
    (`event["name"]` is the clicked country's ISO3 on the world map), `attributes` for the container
    (give it a height)."""
    return KeepViewEchartsWidget.element(
        option=option,
        on_click=on_click,
        on_mouseover=None,
        on_mouseover_enabled=False,
        on_mouseout=None,
        on_mouseout_enabled=False,
        maps=maps or {},
        attributes=attributes or {"style": "height: 400px;"},
        responsive=responsive,
    )
