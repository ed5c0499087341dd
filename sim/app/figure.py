"""`FigureEcharts` for the classroom page: solara's, except that an update keeps the map's zoom and pan.

solara's FigureEcharts replaces the whole option on every update (`setOption(option, notMerge=True)`),
so a student who zoomed into Europe would be thrown back to the whole world each quarter. This one uses
a copy of solara's template (echarts_keep_view.vue) that carries a map series' `zoom` and `center` from
the chart into each new option, unless the new option sets them; the toolbox's "reset zoom" shows the
whole world again. Same arguments as `solara.FigureEcharts`; ECharts comes from solara's CDN proxy as there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import solara
from solara.components.echarts import EchartsWidget


class KeepViewEchartsWidget(EchartsWidget):
    """solara's ECharts widget with a template that keeps the reader's map view across updates."""

    template_file = (__file__, "echarts_keep_view.vue")


@solara.component
def FigureEcharts(  # noqa: N802  (solara's component naming, as solara.FigureEcharts)
    option: dict[str, Any],
    on_click: Callable[[Any], Any] | None = None,
    maps: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    responsive: bool = False,
) -> solara.Element:
    """An ECharts figure: `option` (sim/app/charts.py, sim/app/worldmap.py), `maps` to register (e.g.
    `{WORLD_MAP: world_geojson()}`), `on_click` called with ECharts' event (`event["name"]` is the
    clicked country's ISO3 on the world map), `attributes` for the container (give it a height)."""
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
