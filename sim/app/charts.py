"""The classroom page's charts as ECharts options, drawn in the browser by `solara.FigureEcharts`.

Pure builders: plain dicts of JSON values (no numpy, no NaN: gaps are "-", which ECharts leaves out),
so the server sends data, not images, and a quarter's update costs a few kilobytes per session.
ECharts takes no JavaScript functions here, so every formatter is an ECharts string template built
in Python, and values are rounded before they are sent (the tooltip shows them as they are).

Every text is `FONT_PX` pixels or larger: the page is projected in a classroom.
solara replaces the whole option on each update (`setOption(option, notMerge=True)`), which would
replay ECharts' entry animation every quarter; animation is therefore off.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FONT_PX = 18  # the one text size of every chart and map (labels, titles, tooltips, keys)
TEXT_COLOUR = "#222222"
GRID_COLOUR = "#E0E0E0"
BAND_OPACITY = 0.18
QUARTER = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$")
DAY_MS = 86_400_000
YEAR_MS = 365.25 * DAY_MS
GAP = "-"  # ECharts' "no value here": the line breaks, the tooltip shows "-"
# An end label's height. Given, since ECharts otherwise takes the width of a CJK glyph in the browser's
# fonts as a text's height (11 to 36 px for 18 px text, by the fonts installed), which its overlap layout uses.
LABEL_PX = FONT_PX + 6
# End labels are spread for the plot's height in a chart of a given height, so that they overlap neither
# each other nor the year labels: a taller plot only spreads its lines further apart, so labels placed for
# a plot of at least that height overlap in none. The smallest chart the page draws is MIN_CHART_PX high
# (sim/app/page.py CHART_STYLE); taller charts get their own layout from ECharts media queries (by the
# chart's height), so their labels stay nearer their lines.
MIN_CHART_PX = 340
LABEL_LAYOUT_CHART_PX = (450, 560, 680)
PLOT_OVERHEAD_PX = 160  # at most, what a chart holds besides its plot: title, subtitle, margins, year labels
MIN_PLOT_PX = MIN_CHART_PX - PLOT_OVERHEAD_PX


@dataclass(frozen=True)
class Line:
    """One curve: its name (also its end label), values per quarter (None = no value), colour.

    `band` = (lower, upper) per quarter, e.g. the 10-90% range over stories, drawn as a shaded area.
    """

    name: str
    values: Sequence[float | None]
    colour: str
    dashed: bool = False
    band: tuple[Sequence[float], Sequence[float]] | None = None


def _text(size: int = FONT_PX, **extra: Any) -> dict[str, Any]:
    return {"fontSize": size, "color": TEXT_COLOUR, **extra}


def _plain(text: str) -> str:
    """Text for an HTML tooltip template: markup escaped, no template braces."""
    return html.escape(str(text)).replace("{", "(").replace("}", ")")


def _number(value: Any) -> float | None:
    """A plain float (numpy's too), or None for None, NaN, infinities and anything not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sent(value: Any, scale: float, decimals: int) -> float | str:
    """A value as the browser gets it: scaled and rounded, or the gap marker."""
    number = _number(value)
    return GAP if number is None else round(number * scale, decimals)


def _decimals(values: Sequence[Any]) -> int:
    """Decimals that keep about three significant digits of the largest value (0-4)."""
    biggest = max((abs(n) for n in map(_number, values) if n is not None), default=0.0)
    if biggest == 0:
        return 2
    return max(0, min(4, 2 - math.floor(math.log10(biggest))))


def _series_values(values: Sequence[Any], shown: int, scale: float, decimals: int) -> list[Any]:
    """Values as sent: the first `shown` quarters, scaled and rounded, gaps as "-".

    Every line gets exactly `shown` items (a short list is padded with gaps), so at each revealed quarter
    the axis tooltip lists every line and its template's {c0}, {c1}, ... keep pointing at the same lines;
    past `shown` no line has an item, and ECharts shows no tooltip there (rather than "-%" for each).
    """
    return [_sent(values[i] if i < len(values) else None, scale, decimals) for i in range(shown)]


def _start_ms(quarter: str) -> int | None:
    """The first day of a quarter "YYYYQn", in milliseconds since 1970 (UTC), as ECharts' time axis counts."""
    match = QUARTER.match(quarter.strip())
    if not match:
        return None
    year, q = int(match.group(1)), int(match.group(2))
    return int(datetime(year, 3 * q - 2, 1, tzinfo=UTC).timestamp() * 1000)


def _x_axes(quarters: Sequence[str]) -> list[dict[str, Any]]:
    """The quarters' axis, labelled by year: a category axis without labels that the lines and the tooltip
    use, and on top of it a time axis over the same span that draws a tick and a label at each 1 January.
    (A value axis in years would print "2,026": ECharts groups the digits of its numbers.)"""
    category = {
        "type": "category", "data": list(quarters), "boundaryGap": False,
        "axisTick": {"show": False}, "axisLabel": {"show": False},
        # onZero off: with values below zero the axis and its years would run through the middle of the plot
        "axisLine": {"onZero": False, "lineStyle": {"color": "#888888"}}, "axisPointer": {"label": {"show": False}},
    }  # fmt: skip
    starts = [_start_ms(q) for q in quarters]
    if len(quarters) < 2 or None in starts:
        category["axisLabel"] = _text(hideOverlap=True)  # quarters that are not "YYYYQn": label them as they are
        return [category]
    first, last = int(starts[0]), int(starts[-1])  # type: ignore[arg-type]
    years = (last - first) / YEAR_MS
    step = next(s for s in (1, 2, 5, 10, 25, 50, 100) if years / s <= 12)  # at most ~12 labels
    return [
        category,
        {
            "type": "time", "position": "bottom", "min": first, "max": last,
            "minInterval": step * 365 * DAY_MS, "maxInterval": step * 366 * DAY_MS,
            # the ends are quarters, not years: no year label there unless the quarter is a Q1
            # margin: the first year sits under the y axis' lowest label ("0%"), centred on the axis line;
            # 0.75 of a line keeps the two apart instead of touching at the corner
            "axisLabel": _text(formatter="{yyyy}", showMinLabel=quarters[0].endswith("Q1"),
                               showMaxLabel=quarters[-1].endswith("Q1"), margin=round(FONT_PX * 0.75)),
            "axisTick": {"show": True}, "axisLine": {"show": False, "onZero": False},
            "splitLine": {"show": True, "lineStyle": {"color": GRID_COLOUR}},
            "axisPointer": {"show": False}, "silent": True,
        },
    ]  # fmt: skip


def _nice_range(low: float, high: float) -> tuple[float, float, float]:
    """(min, max, interval) of a y axis spanning low..high and zero, on round numbers (1, 2, 2.5 or 5 times a
    power of ten, at most 6 intervals)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:  # nothing but zeros (e.g. a preset against itself): zero in the middle
        return (-1.0, 1.0, 0.5)
    for power in range(math.floor(math.log10(high - low)) - 1, 400):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            interval = mantissa * 10.0**power
            bottom, top = math.floor(low / interval + 1e-9), math.ceil(high / interval - 1e-9)
            if top - bottom <= 6:
                return (round(bottom * interval, 10), round(top * interval, 10), interval)
    raise ValueError(f"no axis range for {low}..{high}")  # unreachable for finite numbers


def _spread(wanted: Sequence[float], apart: float, top: float, bottom: float) -> list[float]:
    """Positions (pixels down from the plot's top) as near the `wanted` ones (sorted, top first) as they can
    be while at least `apart` from each other and within top..bottom: labels that would overlap move apart
    as a block around where they want to be, and a block that would leave the plot is pushed back in."""
    blocks: list[list[int]] = []  # runs of labels stacked `apart` from each other
    starts: list[float] = []
    for index in range(len(wanted)):
        blocks.append([index])
        starts.append(0.0)
        while True:
            block = blocks[-1]
            start = sum(wanted[j] - k * apart for k, j in enumerate(block)) / len(block)
            starts[-1] = max(top, min(start, bottom - (len(block) - 1) * apart))
            if len(blocks) > 1 and starts[-2] + len(blocks[-2]) * apart > starts[-1]:
                blocks[-2:] = [blocks[-2] + blocks[-1]]  # overlaps the block above: one block
                starts.pop()
                continue
            break
    return [start + k * apart for block, start in zip(blocks, starts, strict=True) for k in range(len(block))]


def _end_offsets(ends: Sequence[float | None], y_min: float, y_max: float, plot_px: float) -> list[int]:
    """Vertical offsets (pixels) of the lines' end labels so that none overlaps another, none runs into the
    year labels under the plot, in any plot at least `plot_px` high. `ends` are the values the labels
    show (None: no label), in the axis' units."""
    px = plot_px / (y_max - y_min)
    labelled = sorted((i for i, end in enumerate(ends) if end is not None), key=lambda i: -ends[i])  # type: ignore[operator]
    wanted = [(y_max - ends[i]) * px for i in labelled]  # type: ignore[operator]
    placed = _spread(wanted, LABEL_PX + 1, LABEL_PX / 2 + 1, plot_px - LABEL_PX / 2 - 1)  # +1: whole pixels
    offsets = [0] * len(ends)
    for i, want, at in zip(labelled, wanted, placed, strict=True):
        offsets[i] = round(at - want)
    return offsets


def _label_px(text: str) -> int:
    return int(0.58 * FONT_PX * len(text)) + 16


def curves_option(
    title: str,
    quarters: Sequence[str],
    lines: Sequence[Line],
    *,
    unit: str,
    shown: int | None = None,
    y_min: float | None = 0.0,
    y_max: float | None = 1.0,
    percent: bool = True,
    y_name: str = "",
    file_name: str = "chart",
) -> dict[str, Any]:
    """An ECharts option: one line per `Line` over the whole period `quarters` (x axis labelled by year).

    - `shown`: how many quarters are revealed (None = all); the axis still spans the whole period.
    - `percent`: values are fractions shown as % (0.62 -> 62%; `y_min`/`y_max` are fractions too);
      otherwise values are shown as they are, followed by `unit`.
    - `y_min`/`y_max` None: the axis spans every value of the whole period and zero, on round numbers, so it
      stays still while the story plays; below zero, a line marks zero.
    - Each line ends in a label "name: value" in its colour; labels of close lines are moved apart (by
      `_end_offsets`, and ECharts' own overlap layout behind it); a band is shaded in the line's colour.
    - The toolbox saves the chart as a PNG named `file_name` (twice the screen's resolution).
    """
    length = len(quarters)
    shown = length if shown is None else max(0, min(int(shown), length))
    scale = 100.0 if percent else 1.0
    suffix = "%" if percent else (f" {unit}" if unit else "")
    everything = [v for line in lines for v in line.values] + [
        v for line in lines if line.band for side in line.band for v in side
    ]
    decimals = 1 if percent else _decimals(everything)
    sent_all = [v for v in (_sent(v, scale, decimals) for v in everything) if isinstance(v, float)]
    auto = _nice_range(min(sent_all, default=0.0), max(sent_all, default=0.0))
    interval = auto[2] if y_min is None and y_max is None else None
    axis_min = auto[0] if y_min is None else round(y_min * scale, 6)
    axis_max = max(auto[1], axis_min + auto[2]) if y_max is None else round(y_max * scale, 6)
    datas = [_series_values(line.values, shown, scale, decimals) for line in lines]
    ends = [next((v for v in reversed(data) if v != GAP), None) for data in datas]

    def offsets_for(chart_px: int) -> list[int]:
        if axis_max <= axis_min:
            return [0] * len(lines)
        return _end_offsets(ends, axis_min, axis_max, chart_px - PLOT_OVERHEAD_PX)

    offsets = offsets_for(MIN_CHART_PX)
    series: list[dict[str, Any]] = []
    rows = []
    for index, line in enumerate(lines):
        rows.append(f'<span style="color:{line.colour}">\u25cf</span> {_plain(line.name)}: {{c{index}}}{suffix}')
        # a white outline keeps the label readable where it crosses a grid line, the zero line or a band
        end_label = _text(show=True, formatter=f"{{a}}: {{c}}{suffix}", color=line.colour, fontWeight="bold",
                          lineHeight=LABEL_PX, offset=[0, offsets[index]], textBorderColor="#FFFFFF",
                          textBorderWidth=3)  # fmt: skip
        series.append(
            {
                "type": "line",
                "name": line.name,
                "data": datas[index],
                "xAxisIndex": 0,
                "showSymbol": False,
                "symbolSize": 8,
                "connectNulls": False,
                "z": 3,
                "lineStyle": {"color": line.colour, "width": 3, "type": "dashed" if line.dashed else "solid"},
                "itemStyle": {"color": line.colour},
                "endLabel": end_label,
                # a safety net for a plot lower than MIN_PLOT_PX: ECharts moves overlapping labels apart
                "labelLayout": {"moveOverlap": "shiftY"},
                "emphasis": {"focus": "none"},
            }
        )
    for line in lines:  # bands after the lines: the tooltip template counts the lines only
        if line.band is None:
            continue
        lower, upper = line.band
        low = _series_values(lower, shown, scale, decimals)
        high = _series_values(upper, shown, scale, decimals)
        # stacked: an invisible lower edge, then the width of the band, shaded
        width = [GAP if GAP in (a, b) else round(b - a, decimals) for a, b in zip(low, high, strict=True)]
        quiet = {
            "type": "line",
            "stack": f"band {line.name}",
            "xAxisIndex": 0,
            "showSymbol": False,
            "silent": True,
            "tooltip": {"show": False},
            "lineStyle": {"opacity": 0},
            "z": 1,
            "emphasis": {"disabled": True},
        }
        series.append({**quiet, "name": f"{line.name} lower", "data": low})
        series.append(
            {
                **quiet,
                "name": f"{line.name} range",
                "data": width,
                "areaStyle": {"color": line.colour, "opacity": BAND_OPACITY},
            }
        )
    y_axis: dict[str, Any] = {
        "type": "value",
        "name": y_name,
        "nameLocation": "middle",
        "nameGap": FONT_PX * 3,
        "nameTextStyle": _text(),
        "axisLabel": _text(formatter=f"{{value}}{'%' if percent else ''}"),
        "splitLine": {"lineStyle": {"color": GRID_COLOUR}},
    }
    y_axis.update(min=axis_min, max=axis_max)
    if interval is not None:
        y_axis["interval"] = interval
    if axis_min < 0 and series:  # a difference either way: zero is the line to read it against
        series[0]["markLine"] = {
            "silent": True, "symbol": "none", "label": {"show": False}, "animation": False,
            "lineStyle": {"color": "#555555", "width": 2, "type": "solid"}, "data": [{"yAxis": 0}],
        }  # fmt: skip
    longest = max((_label_px(f"{line.name}: 100.0{suffix}") for line in lines), default=40)
    return {
        "animation": False,
        "useUTC": True,  # the year ticks fall on 1 January wherever the browser is
        "backgroundColor": "#FFFFFF",  # also the saved PNG's background
        "textStyle": _text(),
        "title": {"text": title, "left": 8, "top": 4, "textStyle": _text(FONT_PX + 2, fontWeight="bold")},
        "grid": {
            "left": FONT_PX * (5 if y_name else 3),
            "right": longest,
            "top": FONT_PX * 3,
            "bottom": FONT_PX * 2,
            "containLabel": True,
        },
        "tooltip": {
            "trigger": "axis",
            "textStyle": _text(),
            "confine": True,
            "formatter": "<b>{b0}</b><br/>" + "<br/>".join(rows),
            "axisPointer": {"type": "line", "lineStyle": {"color": "#999999"}},
        },
        "toolbox": toolbox(file_name),
        "xAxis": _x_axes(quarters),
        "yAxis": y_axis,
        "series": series,
        # a taller chart: its own end label layout (ECharts applies every query that holds, in order)
        "media": [
            {
                "query": {"minHeight": chart_px},
                "option": {
                    "series": [
                        {"name": line.name, "endLabel": {"offset": [0, offset]}}
                        for line, offset in zip(lines, offsets_for(chart_px), strict=True)
                    ]
                },
            }
            for chart_px in LABEL_LAYOUT_CHART_PX
        ],
    }


def toolbox(file_name: str, *, reset_zoom: bool = False) -> dict[str, Any]:
    """The corner buttons: save as PNG (twice the screen's resolution, named `file_name`), and for a map
    "reset zoom". Their names show in a tooltip in the page's font size (ECharts' own hover titles are
    12 px and cannot be enlarged)."""
    feature: dict[str, Any] = {}
    if reset_zoom:
        feature["restore"] = {"title": "reset zoom"}
    feature["saveAsImage"] = {"name": file_name, "pixelRatio": 2, "title": "save as PNG", "backgroundColor": "#FFFFFF"}
    return {
        "right": 8,
        "top": 0,
        "itemSize": FONT_PX + 4,
        "showTitle": False,
        # a toolbox tooltip's template gets the button's name as {a} and its title as {b}
        "tooltip": {"show": True, "formatter": "{b}", "textStyle": _text()},
        "feature": feature,
    }


def bars_option(
    title: str,
    names: Sequence[str],
    values: Sequence[float | None],
    colours: Sequence[str] | str,
    *,
    unit: str = "",
    percent: bool = True,
    x_max: float | None = None,
    selected: str | None = None,
    file_name: str = "chart",
) -> dict[str, Any]:
    """An ECharts option: horizontal bars, the first name at the top (e.g. the top countries by a metric).

    `colours` is one colour or one per bar; each bar ends in its value; `selected` (a name) is outlined.
    Values are fractions shown as % when `percent`; a None or NaN value is an empty row.
    """
    if len(names) != len(values):
        raise ValueError(f"bars_option: {len(names)} names but {len(values)} values")
    colour_of = [colours] * len(names) if isinstance(colours, str) else list(colours)
    if len(colour_of) != len(names):
        raise ValueError(f"bars_option: {len(names)} names but {len(colour_of)} colours")
    scale = 100.0 if percent else 1.0
    suffix = "%" if percent else (f" {unit}" if unit else "")
    decimals = 1 if percent else _decimals(values)
    data = []
    for name, value, colour in zip(names, values, colour_of, strict=True):
        style: dict[str, Any] = {"color": colour}
        if name == selected:
            style.update(borderColor="#000000", borderWidth=3)
        data.append({"value": _sent(value, scale, decimals), "itemStyle": style})
    x_axis: dict[str, Any] = {
        "type": "value",
        "min": 0,
        "axisLabel": _text(formatter=f"{{value}}{'%' if percent else ''}"),
        "splitLine": {"lineStyle": {"color": GRID_COLOUR}},
    }
    if x_max is not None:
        x_axis["max"] = round(x_max * scale, 6)
    return {
        "animation": False,
        "backgroundColor": "#FFFFFF",
        "textStyle": _text(),
        "title": {"text": title, "left": 8, "top": 4, "textStyle": _text(FONT_PX + 2, fontWeight="bold")},
        "grid": {
            "left": 12,
            "right": _label_px(f"100.0{suffix}"),
            "top": FONT_PX * 3,
            "bottom": FONT_PX * 2,
            "containLabel": True,  # the names, however long, stay inside the chart
        },
        "tooltip": {"trigger": "item", "textStyle": _text(), "confine": True, "formatter": f"{{b}}: {{c}}{suffix}"},
        "toolbox": toolbox(file_name),
        "xAxis": x_axis,
        "yAxis": {
            "type": "category",
            "data": list(names),
            "inverse": True,
            "axisLabel": _text(),
            "axisTick": {"show": False},
        },
        "series": [
            {
                "type": "bar",
                "name": title,
                "data": data,
                "barMaxWidth": FONT_PX * 2,
                "label": _text(show=True, position="right", formatter=f"{{c}}{suffix}"),
            }
        ],
    }
