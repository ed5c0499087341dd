"""The classroom page's world map: Natural Earth country shapes as GeoJSON, and an ECharts `map` option.

The shapes come from npm's `world-atlas` package (Natural Earth 1:110m, TopoJSON, countries keyed by
ISO 3166-1 numeric code), fetched with solara's other browser files into the local CDN copy by
`scripts/fetch_solara_assets.sh` (`make app-assets`). Small countries that the 1:110m file leaves out
(Singapore, Hong Kong, Bahrain, ...) are taken from the 1:50m file of the same package, so every
economy of the model can be shown and clicked.

`world_geojson()` decodes the TopoJSON here in Python (no dependency) once per server: the page
registers it under `WORLD_MAP` with `solara.FigureEcharts(maps={WORLD_MAP: world_geojson()})`.
Each feature's `properties.name` is its ISO3 code (what `map_option` colours and what a click
reports); `properties.label` is a readable name for tooltips.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import iso3166

from sim.app.charts import FONT_PX, TEXT_COLOUR, toolbox

WORLD_MAP = "world"
WORLD_ATLAS = "world-atlas@2.0.2"  # the npm package, as fetched into the local CDN copy (sim/app/serve.py)
COARSE, FINE = "countries-110m.json", "countries-50m.json"
# Antarctica takes a fifth of the map's height and has no AI users: left out.
LEFT_OUT = frozenset({"ATA"})
# world-atlas gives these areas no ISO numeric code; they keep a name so they are not holes in the map.
UNCODED_LABELS = {"Kosovo": "Kosovo", "N. Cyprus": "Northern Cyprus", "Somaliland": "Somaliland"}
NO_USE_COLOUR = "#D9D9D9"  # light grey: countries the caller did not colour (e.g. no AI use yet)
BORDER_COLOUR = "#8C8C8C"  # every border visible, also between two grey countries
SELECTED_BORDER = "#000000"
SEA_COLOUR = "#FFFFFF"
COORD_DIGITS = 3  # about 100 m: far finer than the 1:50m shapes, and it keeps the JSON small


class MapUnavailable(Exception):  # noqa: N818  (the name the page imports)
    """The map's shapes are not installed (the page shows this message instead of the map)."""


def atlas_dir() -> Path:
    """Where `scripts/fetch_solara_assets.sh` puts world-atlas: beside solara's browser files."""
    from sim.app.serve import assets_dir

    return assets_dir() / WORLD_ATLAS


def _read_topology(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapUnavailable(
            f"the world map's shapes are not installed ({path} is missing); run `make app-assets` "
            "(or scripts/fetch_solara_assets.sh) and restart the page"
        ) from None
    except (OSError, ValueError) as error:
        raise MapUnavailable(
            f"{path}: cannot read the world map's shapes ({error}); run `make app-assets` again"
        ) from None


def _decode_arcs(topology: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute (longitude, latitude) points of every arc: quantized arcs are delta-encoded integers."""
    transform = topology.get("transform")
    arcs: list[list[tuple[float, float]]] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((round(x * sx + tx, COORD_DIGITS), round(y * sy + ty, COORD_DIGITS)))
        arcs.append(points)
    return arcs


def _ring(indices: Sequence[int], arcs: Sequence[Sequence[tuple[float, float]]]) -> list[list[float]]:
    """One closed ring from its arcs; a negative index ~i is arc i reversed; shared end points are kept once."""
    points: list[list[float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        start = 1 if points else 0
        points.extend([x, y] for x, y in arc[start:])
    return points


def _unwrap(ring: list[list[float]]) -> list[list[float]]:
    """The ring with longitudes made continuous (a step of more than 180 degrees is a crossing of the
    antimeridian, not a line across the whole map), so it may run past 180 or -180."""
    out = [list(ring[0])]
    for x, y in ring[1:]:
        previous = out[-1][0]
        x += 360 * round((previous - x) / 360)
        out.append([x, y])
    return out


def _clip(ring: list[list[float]], edge: float, keep_below: bool) -> list[list[float]]:
    """Sutherland-Hodgman: the part of a ring on one side of the meridian x = edge."""
    out: list[list[float]] = []
    for i, (x, y) in enumerate(ring):
        px, py = ring[i - 1]
        inside, was_inside = (x <= edge, px <= edge) if keep_below else (x >= edge, px >= edge)
        if inside != was_inside:  # the edge between them crosses the meridian: add the crossing point
            out.append([edge, round(py + (y - py) * (edge - px) / (x - px), COORD_DIGITS)])
        if inside:
            out.append([x, y])
    return out


def _split_polygon(rings: list[list[list[float]]]) -> list[list[list[list[float]]]]:
    """A polygon as one or two: one whose outer ring crosses the antimeridian is cut there, and the
    part beyond it is moved to the other edge of the map (Russia's far east, Fiji, the Aleutians)."""
    outer = _unwrap(rings[0])
    low, high = min(x for x, _ in outer), max(x for x, _ in outer)
    if low >= -180 and high <= 180:
        return [rings]
    edge, shift = (180.0, -360.0) if high > 180 else (-180.0, 360.0)
    near = _clip(outer, edge, keep_below=edge > 0)
    far = [[round(x + shift, COORD_DIGITS), y] for x, y in _clip(outer, edge, keep_below=edge < 0)]
    return [[part] for part in (near, far) if len(part) >= 3]  # holes of such shapes are left out


def _geometry(geometry: Mapping[str, Any], arcs: Sequence[Sequence[tuple[float, float]]]) -> dict[str, Any] | None:
    kind = geometry.get("type")
    if kind == "Polygon":
        polygons = [geometry["arcs"]]
    elif kind == "MultiPolygon":
        polygons = geometry["arcs"]
    else:
        return None  # a null geometry: nothing to draw
    parts = [part for polygon in polygons for part in _split_polygon([_ring(r, arcs) for r in polygon])]
    return {"type": "MultiPolygon", "coordinates": parts}


def _features(topology: Mapping[str, Any]) -> list[dict[str, Any]]:
    """GeoJSON features of the `countries` object, named by ISO3 (or by label for the few uncoded areas)."""
    arcs = _decode_arcs(topology)
    features = []
    for shape in topology["objects"]["countries"]["geometries"]:
        geometry = _geometry(shape, arcs)
        if geometry is None:
            continue
        atlas_name = shape.get("properties", {}).get("name", "")
        country = iso3166.countries_by_numeric.get(str(shape.get("id", "")))
        if country is not None:
            name, label = country.alpha3, country.apolitical_name
        elif atlas_name in UNCODED_LABELS:
            name = label = UNCODED_LABELS[atlas_name]
        else:
            continue  # an unnamed shape nothing could refer to
        if name in LEFT_OUT:
            continue
        features.append({"type": "Feature", "properties": {"name": name, "label": label}, "geometry": geometry})
    return features


@functools.lru_cache(maxsize=1)
def world_geojson() -> dict[str, Any]:
    """The world's countries as a GeoJSON FeatureCollection, `properties.name` = ISO3 code.

    Decoded once per server process and shared by every session (do not mutate it).
    Raises MapUnavailable, with what to run, when world-atlas is not installed.
    """
    folder = atlas_dir()
    features = _features(_read_topology(folder / COARSE))
    have = {f["properties"]["name"] for f in features}
    # Countries too small for 1:110m (Singapore, Hong Kong, Bahrain, Malta, ...), from 1:50m.
    features += [f for f in _features(_read_topology(folder / FINE)) if f["properties"]["name"] not in have]
    return {"type": "FeatureCollection", "features": features}


def country_label(iso3: str) -> str:
    """A readable name for an ISO3 code ('United States of America'), or the code itself when unknown."""
    country = iso3166.countries_by_alpha3.get(iso3.upper())
    return country.apolitical_name if country is not None else iso3


def _html(text: str) -> str:
    """Plain words for ECharts' HTML tooltip: markup escaped, newlines as line breaks, no template braces."""
    escaped = html.escape(str(text)).replace("{", "(").replace("}", ")")
    return escaped.replace("\n", "<br/>")


KEY_WIDTH_PX = 640  # the key's rows are at most this wide: it fits the map at 1024 px wide screens (~680 px)
KEY_ROW_PX = FONT_PX + 12


def _key_px(label: str) -> int:
    """An entry's width: swatch, gap, text (0.6 em a character, more than sans-serif takes), gap."""
    return FONT_PX + 6 + 10 + int(0.6 * FONT_PX * len(label)) + 24


def _legend_graphic(legend: Sequence[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """The key under the map, centred: entries in rows at most `KEY_WIDTH_PX` wide, in the page's font size,
    on a white panel above the map's shapes (a zoomed map runs under it). Returns the graphic elements and
    the height to keep free under the map, so the key covers no land at any width."""
    rows: list[list[tuple[str, str]]] = []
    for entry in legend:
        if rows and sum(_key_px(label) for label, _ in rows[-1]) + _key_px(entry[0]) <= KEY_WIDTH_PX:
            rows[-1].append(entry)
        else:
            rows.append([entry])
    if not rows:
        return [], 0
    pad = 8
    width = max(sum(_key_px(label) for label, _ in row) for row in rows) + 2 * pad
    height = len(rows) * KEY_ROW_PX + 2 * pad
    children: list[dict[str, Any]] = [
        {
            "type": "rect",
            "z": 100,
            "silent": True,
            "shape": {"x": 0, "y": 0, "width": width, "height": height, "r": 4},
            "style": {"fill": "rgba(255,255,255,0.92)", "stroke": "#BBBBBB", "lineWidth": 1},
        }
    ]
    for r, row in enumerate(rows):
        x, middle = pad, pad + r * KEY_ROW_PX + KEY_ROW_PX / 2
        for label, colour in row:
            children.append(
                {
                    "type": "rect",
                    "z": 101,
                    "silent": True,
                    "shape": {"x": x, "y": middle - FONT_PX / 2, "width": FONT_PX + 6, "height": FONT_PX},
                    "style": {"fill": colour, "stroke": BORDER_COLOUR, "lineWidth": 1},
                }
            )
            children.append(
                {
                    "type": "text",
                    "z": 101,
                    "silent": True,
                    "x": x + FONT_PX + 16,
                    "y": middle,
                    "style": {"text": label, "fill": TEXT_COLOUR, "font": f"{FONT_PX}px sans-serif",
                              "verticalAlign": "middle", "lineHeight": FONT_PX + 6},
                }
            )  # fmt: skip
            x += _key_px(label)
    key = {"type": "group", "id": "map-key", "left": "center", "bottom": 8, "width": width, "height": height,
           "children": children}  # fmt: skip
    return [key], height + 16


def map_option(
    fills: Mapping[str, str],
    tooltips: Mapping[str, str],
    legend: Sequence[tuple[str, str]],
    *,
    title: str = "",
    selected: str | None = None,
    others_colour: str = NO_USE_COLOUR,
    file_name: str = "world-map",
) -> dict[str, Any]:
    """An ECharts option: the world map (registered as `WORLD_MAP`) with each country filled by `fills`.

    - `fills`: ISO3 -> colour; every other country is `others_colour` (light grey) with a visible border.
      Pass `("no AI use yet", NO_USE_COLOUR)` in `legend` to name that grey in the key.
    - `tooltips`: ISO3 -> plain text shown on hover (lines split on newlines); others show their name.
    - `legend`: (label, colour) pairs drawn as a key under the map (never over a country).
    - `selected`: an ISO3 code outlined in black.
    - `file_name`: the PNG the toolbox saves; its other button resets the zoom.
    A click on a country reaches `FigureEcharts(on_click=...)` with `{"name": ISO3, ...}`.
    """
    data: list[dict[str, Any]] = []
    for iso3 in sorted(set(fills) | set(tooltips) | ({selected} if selected else set())):
        fill = fills.get(iso3, others_colour)
        item: dict[str, Any] = {
            "name": iso3,
            "itemStyle": {"areaColor": fill},
            # hovering darkens the border only: the fill keeps meaning what the key says
            "emphasis": {"itemStyle": {"areaColor": fill, "borderColor": "#333333", "borderWidth": 1.5}},
        }
        text = tooltips.get(iso3, country_label(iso3))
        item["tooltip"] = {"formatter": _html(text)}
        if iso3 == selected:
            item["itemStyle"].update(borderColor=SELECTED_BORDER, borderWidth=3)
            item["emphasis"]["itemStyle"].update(borderColor=SELECTED_BORDER, borderWidth=3)
        data.append(item)
    named = {item["name"] for item in data}
    # every other country's tooltip is its name, not a code a student would have to decode
    data += [
        {"name": c.alpha3, "tooltip": {"formatter": _html(c.apolitical_name)}}
        for c in iso3166.countries
        if c.alpha3 not in named
    ]
    text_style = {"fontSize": FONT_PX, "color": TEXT_COLOUR}
    key, key_px = _legend_graphic(legend)
    return {
        "animation": False,  # each quarter's update recolours; nothing should fly in
        "backgroundColor": SEA_COLOUR,
        # a zoomed map runs under the title: a white box keeps it readable
        "title": {
            "text": title,
            "left": "center",
            "top": 4,
            "backgroundColor": "rgba(255,255,255,0.85)",
            "borderRadius": 4,
            "textStyle": {**text_style, "fontWeight": "bold"},
        },
        "tooltip": {"trigger": "item", "textStyle": text_style, "confine": True},
        "toolbox": toolbox(file_name, reset_zoom=True),
        "graphic": key,
        "series": [
            {
                "type": "map",
                "map": WORLD_MAP,
                "name": title or "world",
                "roam": True,
                "scaleLimit": {"min": 1, "max": 12},
                "top": FONT_PX * 3 if title else FONT_PX,
                "bottom": key_px or 8,  # the key's strip: the map is drawn above it
                "left": 8,
                "right": 8,
                "selectedMode": False,  # the page keeps the selection; ECharts' own toggling would disagree
                "label": {"show": False},
                "emphasis": {
                    "label": {"show": False},
                    "itemStyle": {"areaColor": "#BDBDBD", "borderColor": "#333333", "borderWidth": 1.5},
                },
                "itemStyle": {"areaColor": others_colour, "borderColor": BORDER_COLOUR, "borderWidth": 0.6},
                "tooltip": {"formatter": "{b}"},
                "data": data,
            }
        ],
    }
