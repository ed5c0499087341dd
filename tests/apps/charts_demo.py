"""A small solara page with the classroom's chart and world map (sim/app/charts.py, sim/app/worldmap.py).

Served by tests/test_app_charts_browser.py; also a way to look at them by hand:
`SOLARA_ASSETS_PROXY=True SOLARA_ASSETS_PROXY_CACHE_DIR=.venv/share/solara/cdn solara run tests/apps/charts_demo.py`.
A click on a country shows its code in the "clicked:" line (the page helper's selection does the same).
"""

from __future__ import annotations

import math

import solara

from sim.app.charts import FONT_PX, Line, bars_option, curves_option
from sim.app.figure import FigureEcharts
from sim.app.worldmap import NO_USE_COLOUR, WORLD_MAP, MapUnavailable, map_option, world_geojson
from sim.blocs import BLOC_COLOURS

QUARTERS = [f"{year}Q{q}" for year in range(2025, 2036) for q in range(1, 5)][2:]  # 2025Q3 .. 2035Q4
SHOWN = 18  # quarters revealed, as after 18 steps of the page
BLOC_OF = {"USA": "US", "CAN": "US", "GBR": "US", "JPN": "US", "AUS": "US", "CHN": "CN", "RUS": "CN",
           "IRN": "CN", "PAK": "CN", "DEU": "EU", "FRA": "EU", "ITA": "EU", "ESP": "EU", "POL": "EU",
           "IND": "other", "BRA": "other", "IDN": "other", "NGA": "other", "SGP": "US"}  # fmt: skip


def logistic(mid: float, rate: float) -> list[float]:
    return [1 / (1 + math.exp(-rate * (i - mid))) for i in range(len(QUARTERS))]


def curves() -> dict:
    lines = []
    for bloc, (mid, rate) in {"US": (10, 0.35), "CN": (14, 0.3), "EU": (16, 0.25), "other": (24, 0.2)}.items():
        values = logistic(mid, rate)
        band = ([max(0.0, v - 0.08) for v in values], [min(1.0, v + 0.08) for v in values])
        lines.append(Line(bloc, values, BLOC_COLOURS[bloc], band=band if bloc == "US" else None))
    lines.append(Line("world", logistic(17, 0.25), "#000000", dashed=True))
    return curves_option("Share of firms using AI", QUARTERS, lines, unit="share", shown=SHOWN,
                         y_name="firms using AI", file_name="adoption")  # fmt: skip


@solara.component
def Page():  # noqa: N802  (solara's name for the page)
    clicked, set_clicked = solara.use_state("")
    fills = {iso3: BLOC_COLOURS[bloc] for iso3, bloc in BLOC_OF.items()}
    tips = {iso3: f"{iso3}: in the {bloc} bloc\n(demo values)" for iso3, bloc in BLOC_OF.items()}
    legend = [(bloc, colour) for bloc, colour in BLOC_COLOURS.items()] + [("no AI use yet", NO_USE_COLOUR)]
    solara.Text(f"clicked: {clicked or 'nothing'}", classes=["clicked-country"], style={"font-size": f"{FONT_PX}px"})
    try:
        maps = {WORLD_MAP: world_geojson()}
    except MapUnavailable as error:
        solara.Error(str(error))
        maps = None
    if maps is not None:
        FigureEcharts(  # keeps the reader's zoom when the selection changes the option
            option=map_option(fills, tips, legend, title="Who uses AI, by bloc", selected=clicked or None),
            maps=maps,
            on_click=lambda event: set_clicked(str(event.get("name") or "")),
            attributes={"style": "height: 520px; width: 100%;", "class": "demo-map"},
            responsive=True,
        )
    solara.FigureEcharts(option=curves(), attributes={"style": "height: 420px; width: 100%;", "class": "demo-curves"},
                         responsive=True)  # fmt: skip
    names = ["USA", "CHN", "DEU", "IND", "BRA"]
    solara.FigureEcharts(
        option=bars_option("Top countries", names, [0.71, 0.64, 0.52, 0.31, float("nan")],
                           [fills[n] for n in names], selected=clicked or None, file_name="top-countries"),
        attributes={"style": "height: 320px; width: 100%;", "class": "demo-bars"}, responsive=True,
    )  # fmt: skip
