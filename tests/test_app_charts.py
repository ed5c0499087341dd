"""The classroom page's charts and world map as ECharts options (sim/app/charts.py, sim/app/worldmap.py).

Fast and without a browser: the options are plain data. tests/test_app_charts_browser.py draws them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.app.charts import FONT_PX, GAP, MIN_CHART_PX, PLOT_OVERHEAD_PX, Line, bars_option, curves_option
from sim.app.serve import BROWSER_PACKAGES
from sim.app.worldmap import NO_USE_COLOUR, WORLD_MAP, MapUnavailable, map_option, world_geojson
from sim.blocs import BLOC_COLOURS

ROOT = Path(__file__).resolve().parents[1]
QUARTERS = [f"{year}Q{q}" for year in range(2025, 2031) for q in range(1, 5)][2:]  # 2025Q3 .. 2030Q4
TEXT_KEYS = ("textStyle", "axisLabel", "nameTextStyle", "endLabel", "label")


def texts(option: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every shown text style in an option: (where, style)."""
    if isinstance(option, dict):
        for key, value in option.items():
            if key == "media":  # ECharts media queries only move labels: their texts are the base option's
                continue
            if key in TEXT_KEYS and isinstance(value, dict) and value.get("show", True):
                yield f"{path}.{key}", value
            yield from texts(value, f"{path}.{key}")
    elif isinstance(option, list):
        for i, value in enumerate(option):
            yield from texts(value, f"{path}[{i}]")


def adoption(shown: int | None = None, **lines: list[float | None]) -> dict[str, Any]:
    return curves_option(
        "Share of firms using AI",
        QUARTERS,
        [Line(name, values, BLOC_COLOURS.get(name, "#000000")) for name, values in lines.items()],
        unit="share",
        shown=shown,
    )


def ramp(scale: float = 1.0) -> list[float | None]:
    return [scale * i / len(QUARTERS) for i in range(len(QUARTERS))]


def polygons(iso3: str) -> list[list[list[float]]]:
    """Outer rings of one country's shapes."""
    (feature,) = [f for f in world_geojson()["features"] if f["properties"]["name"] == iso3]
    return [polygon[0] for polygon in feature["geometry"]["coordinates"]]


def centre_of_largest(iso3: str) -> tuple[float, float]:
    """The mean point of the country's largest shape (by number of points): its mainland."""
    ring = max(polygons(iso3), key=len)
    return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)


# --- the world's shapes ------------------------------------------------------------------------------


def test_world_map_names_each_country_by_its_iso3_code(world) -> None:
    features = world_geojson()["features"]
    names = [f["properties"]["name"] for f in features]
    assert len(features) >= 170
    assert len(names) == len(set(names)), "one feature per country"
    coded = [n for n in names if re.fullmatch(r"[A-Z]{3}", n)]
    assert set(names) - set(coded) == {"Kosovo", "Northern Cyprus", "Somaliland"}  # no ISO numeric code
    assert {"USA", "CHN", "DEU", "IND", "BRA", "FRA", "JPN", "RUS"} <= set(coded)
    assert "ATA" not in names  # Antarctica is left out: a fifth of the map for no AI user
    # every economy of the model can be coloured and clicked, small ones (Singapore, Hong Kong) too
    assert {c.iso3 for c in world.countries if not c.is_aggregate} <= set(names)
    assert all(f["properties"]["label"] for f in features)


def test_world_map_puts_countries_where_they_are_on_the_globe() -> None:
    lon, lat = centre_of_largest("USA")
    assert -125 < lon < -65 and 25 < lat < 50  # the contiguous US: west of Greenwich, north of the equator
    lon, lat = centre_of_largest("AUS")
    assert 113 < lon < 154 and -40 < lat < -10
    lon, lat = centre_of_largest("BRA")
    assert -74 < lon < -34 and -34 < lat < 5
    lon, lat = centre_of_largest("SGP")
    assert 103.5 < lon < 104.2 and 1.1 < lat < 1.5
    assert all(p[0] > 0 for p in max(polygons("DEU"), key=len)) and all(p[1] > 47 for p in polygons("DEU")[0])


def test_world_map_shapes_never_run_across_the_whole_map() -> None:
    """Russia, Fiji and the Aleutians cross 180°: cut there, no edge of a shape spans half the globe."""
    for feature in world_geojson()["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert len(ring) >= 3
                assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
                assert all(abs(a[0] - b[0]) < 180 for a, b in pairwise(ring)), feature["properties"]["name"]
    east, west = (
        max(p[0] for ring in polygons("RUS") for p in ring),
        min(p[0] for ring in polygons("RUS") for p in ring),
    )
    assert east == 180 and west == -180  # Chukotka's tip is drawn at the map's left edge


def test_world_map_is_json_and_decoded_once() -> None:
    assert world_geojson() is world_geojson()
    text = json.dumps(world_geojson(), allow_nan=False)
    assert len(text) < 600_000  # sent to each browser once; a class of 60 on a school network


def test_missing_world_map_says_to_run_make_app_assets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOLARA_ASSETS_PROXY_CACHE_DIR", str(tmp_path))
    world_geojson.cache_clear()
    try:
        with pytest.raises(MapUnavailable, match=r"make app-assets"):
            world_geojson()
    finally:
        world_geojson.cache_clear()


# --- the map option ----------------------------------------------------------------------------------


def test_map_colours_the_given_countries_and_greys_the_rest_with_borders() -> None:
    fills = {"USA": BLOC_COLOURS["US"], "CHN": BLOC_COLOURS["CN"]}
    legend = [("US bloc", BLOC_COLOURS["US"]), ("CN bloc", BLOC_COLOURS["CN"]), ("no AI use yet", NO_USE_COLOUR)]
    option = map_option(
        fills, {"USA": "United States\n62% of firms use AI"}, legend, title="Who uses AI", selected="CHN"
    )
    (series,) = option["series"]
    assert series["type"] == "map" and series["map"] == WORLD_MAP and series["roam"] is True
    items = {item["name"]: item for item in series["data"]}
    assert items["USA"]["itemStyle"]["areaColor"] == BLOC_COLOURS["US"]
    assert items["CHN"]["itemStyle"]["areaColor"] == BLOC_COLOURS["CN"]
    assert "itemStyle" not in items["FRA"]  # not given: the series' grey
    assert series["itemStyle"]["areaColor"] == NO_USE_COLOUR != option["backgroundColor"]
    assert series["itemStyle"]["borderWidth"] > 0 and series["itemStyle"]["borderColor"] not in (
        NO_USE_COLOUR,
        "#FFFFFF",
    )
    # hovering keeps the key's colour (ECharts would paint it yellow)
    assert items["USA"]["emphasis"]["itemStyle"]["areaColor"] == BLOC_COLOURS["US"]
    assert items["CHN"]["itemStyle"]["borderWidth"] >= 2 and "borderWidth" not in items["USA"]["itemStyle"]
    assert items["USA"]["tooltip"]["formatter"] == "United States<br/>62% of firms use AI"
    assert items["FRA"]["tooltip"]["formatter"] == "France"  # a name, not a code
    assert set(option["toolbox"]["feature"]) == {"restore", "saveAsImage"}  # reset zoom, save as PNG
    assert map_option({}, {}, [], file_name="map-2027Q1")["toolbox"]["feature"]["saveAsImage"]["name"] == "map-2027Q1"
    json.dumps(option, allow_nan=False)


def test_map_key_lists_each_entry_in_large_text() -> None:
    legend = [("US bloc", BLOC_COLOURS["US"]), ("no AI use yet", NO_USE_COLOUR)]
    (key,) = map_option({}, {}, legend)["graphic"]
    labels = [g["style"]["text"] for g in key["children"] if g["type"] == "text"]
    swatches = [g["style"]["fill"] for g in key["children"] if g["type"] == "rect" and g["shape"]["width"] < 60]
    assert labels == ["US bloc", "no AI use yet"]  # in reading order
    assert swatches == [BLOC_COLOURS["US"], NO_USE_COLOUR]
    sizes = [int(re.match(r"(\d+)px", g["style"]["font"]).group(1)) for g in key["children"] if g["type"] == "text"]
    assert min(sizes) >= FONT_PX >= 18
    assert map_option({}, {}, [])["graphic"] == []


def test_map_key_sits_in_a_strip_under_the_map_not_over_it() -> None:
    legend = [*((f"{b} models", c) for b, c in BLOC_COLOURS.items()), ("not in the model, or no AI use yet", "#ddd")]
    option = map_option({}, {}, legend, title="t")
    (key,) = option["graphic"]
    (series,) = option["series"]
    assert key["bottom"] + key["height"] < series["bottom"]  # the map's box ends above the key
    assert key["width"] <= 680  # fits under the map on a 1024 px wide screen
    texts_y = sorted({g["y"] for g in key["children"] if g["type"] == "text"})
    assert len(texts_y) >= 2  # long entries wrap into rows rather than run off the map's side
    assert all(g["z"] > 2 for g in key["children"])  # over a zoomed map's shapes (series z is 2)
    assert map_option({}, {}, [])["series"][0]["bottom"] <= 8  # no key, no strip


def test_map_tooltips_are_plain_text_even_with_markup() -> None:
    option = map_option({}, {"USA": "<b>{a}</b>"}, [])
    (usa,) = [item for item in option["series"][0]["data"] if item["name"] == "USA"]
    assert "<b>" not in usa["tooltip"]["formatter"] and "{" not in usa["tooltip"]["formatter"]


def test_map_text_is_large() -> None:
    option = map_option({"USA": "#0072B2"}, {}, [("x", "#0072B2")], title="t")
    found = dict(texts(option))
    assert ".title.textStyle" in found and ".tooltip.textStyle" in found
    assert all(style.get("fontSize", FONT_PX) >= 18 for style in found.values())


# --- curves ------------------------------------------------------------------------------------------


def test_curves_reveal_values_only_up_to_the_quarter_shown() -> None:
    option = adoption(shown=5, US=ramp(), CN=ramp(0.5))
    category = option["xAxis"][0]
    assert category["data"] == QUARTERS  # the whole period from the start, whatever is shown
    us, cn = option["series"]
    assert us["data"][:5] == [round(100 * v, 1) for v in ramp()[:5]]  # percent
    # nothing past the quarter shown (so no tooltip there either), and every line as long
    assert len(us["data"]) == len(cn["data"]) == 5
    short = adoption(shown=5, US=ramp()[:3], CN=ramp())["series"]  # a line with fewer values: padded with gaps
    assert short[0]["data"][3:] == [GAP, GAP] and len(short[1]["data"]) == 5
    everything = adoption(US=ramp())["series"][0]["data"]
    assert len(everything) == len(QUARTERS) and GAP not in everything
    assert everything[-1] == round(100 * ramp()[-1], 1)
    assert adoption(shown=0, US=ramp())["series"][0]["data"] == []


def test_curves_end_in_a_label_with_name_and_value_instead_of_a_legend() -> None:
    option = adoption(shown=4, US=ramp())
    (us,) = option["series"]
    assert us["endLabel"]["show"] is True and us["endLabel"]["formatter"] == "{a}: {c}%"
    assert us["endLabel"]["color"] == BLOC_COLOURS["US"]
    assert "legend" not in option
    assert option["grid"]["right"] >= FONT_PX * 5  # room for "US: 12.5%" right of the plot


def test_curves_tooltip_lists_each_line_as_percent() -> None:
    tooltip = adoption(US=ramp(), CN=ramp())["tooltip"]
    assert tooltip["trigger"] == "axis"
    assert tooltip["formatter"].startswith("<b>{b0}</b>")
    assert "US: {c0}%" in tooltip["formatter"] and "CN: {c1}%" in tooltip["formatter"]
    raw = curves_option("Price", QUARTERS, [Line("price", ramp(3.0), "#000")], unit="USD", percent=False)
    assert "price: {c0} USD" in raw["tooltip"]["formatter"] and "%" not in raw["yAxis"]["axisLabel"]["formatter"]


def test_curves_text_is_never_smaller_than_font_px() -> None:
    option = curves_option(
        "Share of firms using AI", QUARTERS, [Line("US", ramp(), "#0072B2", band=(ramp(0.9), ramp(1.1)))],
        unit="share", y_name="firms", shown=6,
    )  # fmt: skip
    found = dict(texts(option))
    for where in (".title.textStyle", ".tooltip.textStyle", ".toolbox.tooltip.textStyle", ".yAxis.axisLabel",
                  ".yAxis.nameTextStyle", ".xAxis[1].axisLabel", ".series[0].endLabel"):  # fmt: skip
        assert where in found, f"{where} has no text style"
    small = {where: style.get("fontSize") for where, style in found.items() if style.get("fontSize", 0) < 18}
    assert not small


def test_curves_are_json_with_nan_and_numpy_values_as_gaps() -> None:
    values = [0.1, float("nan"), np.float64(0.3), None, np.float32(0.5), math.inf, *ramp()[6:]]
    option = adoption(US=values)
    text = json.dumps(option, allow_nan=False)  # NaN or a numpy type would fail here
    data = json.loads(text)["series"][0]["data"]
    assert data[:6] == [10.0, GAP, 30.0, GAP, 50.0, GAP]
    assert all(type(v) in (float, str) for v in data)
    band = curves_option("x", QUARTERS, [Line("US", values, "#000", band=(values, values))], unit="share")
    json.dumps(band, allow_nan=False)


def test_curves_band_is_a_shaded_area_between_lower_and_upper() -> None:
    lower, upper = ramp(0.8), ramp(1.2)
    option = curves_option(
        "x", QUARTERS, [Line("US", ramp(), "#0072B2", band=(lower, upper)), Line("CN", ramp(), "#D55E00")],
        unit="share", shown=8,
    )  # fmt: skip
    assert [s["name"] for s in option["series"]] == ["US", "CN", "US lower", "US range"]
    low, width = option["series"][2], option["series"][3]
    assert low["stack"] == width["stack"] and "areaStyle" not in low and width["areaStyle"]["color"] == "#0072B2"
    assert low["data"][:8] == [round(100 * v, 1) for v in lower[:8]]
    assert width["data"][7] == pytest.approx(100 * (upper[7] - lower[7]), abs=0.11)
    assert len(width["data"]) == len(low["data"]) == 8
    assert low["tooltip"] == {"show": False} and width["tooltip"] == {"show": False}  # no tooltip noise
    assert "band" not in json.dumps(adoption(US=ramp()))


def test_curves_axis_labels_years_over_the_whole_period() -> None:
    option = adoption(shown=2, US=ramp())
    years = option["xAxis"][1]
    assert years["type"] == "time" and years["axisLabel"]["formatter"] == "{yyyy}"
    assert years["min"] == 1751328000000  # 2025-07-01, the first quarter
    assert years["max"] == 1917043200000  # 2030-10-01, the last
    assert years["axisLabel"]["showMinLabel"] is False  # no "2025" under July
    assert option["useUTC"] is True
    plain = curves_option("x", ["a", "b"], [Line("l", [1, 2], "#000")], unit="")
    assert len(plain["xAxis"]) == 1 and plain["xAxis"][0]["axisLabel"]["fontSize"] >= 18


def test_curves_export_a_png_and_never_animate() -> None:
    option = curves_option("x", QUARTERS, [Line("US", ramp(), "#000")], unit="share", file_name="adoption-2027Q1")
    save = option["toolbox"]["feature"]["saveAsImage"]
    assert save["name"] == "adoption-2027Q1" and save["pixelRatio"] == 2
    assert option["animation"] is False  # solara replaces the option each quarter: no replayed entry animation


def test_curves_axis_range() -> None:
    option = adoption(US=ramp())
    assert (option["yAxis"]["min"], option["yAxis"]["max"]) == (0, 100)
    assert "markLine" not in option["series"][0]  # no zero line when nothing goes below zero


def test_free_axis_spans_the_whole_period_on_round_numbers_and_stays_still() -> None:
    values = [7 * v for v in ramp()]  # 0 .. 6.8 USD
    free = [
        curves_option("x", QUARTERS, [Line("p", values, "#000")], unit="USD", y_min=None, y_max=None,
                      percent=False, shown=shown)["yAxis"]
        for shown in (1, 10, len(QUARTERS))
    ]  # fmt: skip
    assert free[0] == free[1] == free[2]  # the axis does not jump as the story plays
    assert (free[0]["min"], free[0]["max"], free[0]["interval"]) == (0, 8, 2)
    ceiling = curves_option("x", QUARTERS, [Line("p", ramp(0.23), "#000")], unit="", y_max=None)["yAxis"]
    assert (ceiling["min"], ceiling["max"]) == (0, 25)  # percent, from zero to a round number above 23%


def test_difference_axis_includes_zero_and_marks_it() -> None:
    lower = curves_option("x", QUARTERS, [Line("US", [-0.031] * 10 + [0.004] * 12, "#000")], unit="",
                          y_min=None, y_max=None, shown=12)  # fmt: skip
    axis = lower["yAxis"]
    assert axis["min"] == -4 and axis["max"] == 1 and axis["interval"] == 1
    assert lower["series"][0]["markLine"]["data"] == [{"yAxis": 0}]
    assert all(axis.get("axisLine", {}).get("onZero") is False for axis in lower["xAxis"])  # years stay below
    same = curves_option("x", QUARTERS, [Line("US", [0.0] * 22, "#000")], unit="", y_min=None, y_max=None)
    assert (same["yAxis"]["min"], same["yAxis"]["max"]) == (-1, 1)  # a preset against itself: zero in the middle


def end_label_boxes(option: dict[str, Any], chart_px: float) -> list[tuple[float, float]]:
    """(top, bottom) in pixels of each line's end label in a chart `chart_px` high (its plot at least
    `chart_px - PLOT_OVERHEAD_PX`), as ECharts places them: centred on the line's last value, moved by
    the label's offset (the base option's, then each media query's that holds), `lineHeight` high."""
    axis = option["yAxis"]
    plot_px = chart_px - PLOT_OVERHEAD_PX
    offsets = {s["name"]: s["endLabel"]["offset"] for s in option["series"] if "endLabel" in s}
    for media in option["media"]:
        if chart_px >= media["query"]["minHeight"]:
            offsets.update({s["name"]: s["endLabel"]["offset"] for s in media["option"]["series"]})
    boxes = []
    for series in option["series"]:
        if "endLabel" not in series or not series["data"]:
            continue
        last = [v for v in series["data"] if v != GAP][-1]
        centre = (axis["max"] - last) / (axis["max"] - axis["min"]) * plot_px + offsets[series["name"]][1]
        half = series["endLabel"]["lineHeight"] / 2
        boxes.append((centre - half, centre + half))
    return boxes


@pytest.mark.parametrize("chart_px", [MIN_CHART_PX, 400, 450, 500, 600, 680, 900])
def test_end_labels_of_lines_near_zero_do_not_overlap_nor_leave_the_plot(chart_px) -> None:
    option = adoption(shown=12, US=[0.79] * 12, CN=[0.194] * 12, EU=[0.009] * 12, other=[0.004] * 12)
    boxes = sorted(end_label_boxes(option, chart_px))
    plot_px = chart_px - PLOT_OVERHEAD_PX
    assert len(boxes) == 4
    for (_, bottom), (top, _) in pairwise(boxes):
        assert top >= bottom - 1e-6, boxes  # no two labels overlap
    assert boxes[0][0] >= 0 and boxes[-1][1] <= plot_px + 1e-6  # none runs into the year labels under the plot
    labels = [s["endLabel"] for s in option["series"]]
    assert all(label["fontSize"] >= 18 and label["lineHeight"] >= label["fontSize"] for label in labels)
    assert option["series"][0]["endLabel"]["offset"] == [0, 0]  # a label with room stays at its line


def test_end_labels_of_a_taller_chart_stay_nearer_their_lines() -> None:
    option = adoption(shown=12, US=[0.79] * 12, CN=[0.194] * 12, EU=[0.009] * 12, other=[0.004] * 12)
    queries = [media["query"]["minHeight"] for media in option["media"]]
    assert queries == sorted(queries) and queries[0] > MIN_CHART_PX  # the tallest that holds is applied last
    moved = [abs(sum(s["endLabel"]["offset"][1] for s in media["option"]["series"])) for media in option["media"]]
    smallest = abs(sum(s["endLabel"]["offset"][1] for s in option["series"]))
    assert smallest > moved[0] >= moved[-1]
    names = [[s["name"] for s in media["option"]["series"]] for media in option["media"]]
    assert all(n == ["US", "CN", "EU", "other"] for n in names)  # matched to the lines by name


@pytest.mark.parametrize("chart_px", [MIN_CHART_PX, 500, 700])
def test_end_labels_of_a_preset_against_itself_all_at_zero_do_not_overlap(chart_px) -> None:
    zeros = [0.0] * 12
    option = curves_option("x", QUARTERS, [Line(n, zeros, "#000") for n in ("US", "CN", "EU", "other")],
                           unit="", y_min=None, y_max=None, shown=12)  # fmt: skip
    boxes = sorted(end_label_boxes(option, chart_px))
    plot_px = chart_px - PLOT_OVERHEAD_PX
    assert all(top >= bottom - 1e-6 for (_, bottom), (top, _) in pairwise(boxes)), boxes
    assert boxes[0][0] >= 0 and boxes[-1][1] <= plot_px + 1e-6


# --- bars --------------------------------------------------------------------------------------------


def test_bars_show_each_value_at_its_bar_and_gaps_for_missing() -> None:
    option = bars_option("Top countries", ["USA", "CHN", "IND"], [0.7, float("nan"), 0.25], "#0072B2", selected="IND")
    (series,) = option["series"]
    assert [d["value"] for d in series["data"]] == [70.0, GAP, 25.0]
    assert series["data"][2]["itemStyle"]["borderWidth"] >= 2
    assert option["yAxis"]["data"] == ["USA", "CHN", "IND"] and option["yAxis"]["inverse"] is True
    assert all(style.get("fontSize", FONT_PX) >= 18 for _, style in texts(option))
    json.dumps(option, allow_nan=False)


def test_bars_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 names but 1 values"):
        bars_option("x", ["USA", "CHN"], [0.1], "#000")
    with pytest.raises(ValueError, match="2 names but 3 colours"):
        bars_option("x", ["USA", "CHN"], [0.1, 0.2], ["#000"] * 3)


# --- the browser files -------------------------------------------------------------------------------


def test_fetch_script_fetches_exactly_the_packages_the_server_requires() -> None:
    script = (ROOT / "scripts" / "fetch_solara_assets.sh").read_text()
    loop = re.search(r"for spec in (.*?); do", script, re.S)
    assert loop
    assert loop.group(1).replace("\\\n", " ").split() == list(BROWSER_PACKAGES)


def test_required_echarts_is_the_version_solara_loads() -> None:
    import solara.components

    vue = (Path(solara.components.__file__).parent / "echarts.vue").read_text()
    version = re.search(r'const version = "([^"]+)"', vue)
    assert version and f"echarts@{version.group(1)}" in BROWSER_PACKAGES


def test_keep_view_figure_is_solaras_echarts_template_plus_the_kept_view() -> None:
    """sim/app/figure.py's template is a copy of solara's: when a solara upgrade changes solara's, this says so."""
    import solara.components

    from sim.app.figure import KeepViewEchartsWidget

    folder, name = Path(KeepViewEchartsWidget.template_file[0]).parent, KeepViewEchartsWidget.template_file[1]
    ours = (folder / name).read_text().splitlines()
    theirs = (Path(solara.components.__file__).parent / "echarts.vue").read_text().splitlines()
    changed = ["        this.chart.setOption(this.option, true);", '<style id="solara-markdown-editor">']
    assert [line for line in theirs if line not in ours] == changed  # the watcher's update, the style's id
    assert "        this.chart.setOption(this.keepView(this.option), true);" in ours
    assert '"app/*.vue"' in (ROOT / "pyproject.toml").read_text()  # shipped with the package
