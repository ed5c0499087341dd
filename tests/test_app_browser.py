"""The classroom page in headless Chromium (Debian's /usr/bin/chromium), served by `sim app` once for the module.

Screenshots go to tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conftest import free_port, stop_group, wait_until_answers

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
READY_S = 90  # server start plus first render on a busy 2-core machine
DATE = re.compile(r"^(\d{4}Q[1-4]) · (?:not started|quarter (\d+) of (\d+))")
MESA_CONTROLS = ("Play Interval", "Render Interval", "Use Threads", "PAGE 0", "Model Parameters")
# The ECharts instance behind a chart's element, from the module the page loaded (require.js).
ECHARTS = """(el) => {
    const name = Object.keys(requirejs.s.contexts._.defined).find(k => k.includes('echarts@'));
    return require(name).getInstanceByDom(el);
}"""

if not Path(CHROMIUM).exists():  # `make test` installs it; a bare `pytest` elsewhere says why it skips
    pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def app_url():
    """`sim app` on a free port, for this module; stopped (its own process group) at the end."""
    from sim.app.serve import missing_browser_packages

    missing = missing_browser_packages()
    assert not missing, f"solara's browser files are missing ({missing}); run `make app-assets`"
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", "--port", str(port)], stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/"
    wait_until_answers(url, server, READY_S, lambda: f"see {ARTIFACTS / 'server.log'}")
    yield url
    stop_group(server)
    log.close()
    assert "Traceback" not in (ARTIFACTS / "server.log").read_text()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "accept_downloads": True}


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page, url: str) -> None:
    page.set_default_timeout(READY_S * 1000)
    page.goto(url)
    page.locator(".sim-date").wait_for()
    page.get_by_role("button", name="Play").wait_for()


def date_of(page) -> tuple[str, int]:
    """(last revealed quarter, quarters revealed) from the date counter."""
    text = page.locator(".sim-date").inner_text()
    match = DATE.match(text)
    assert match, text
    return match.group(1), int(match.group(2) or 0)


def wait_for_quarters(page, at_least: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    while (done := date_of(page)[1]) < at_least:
        assert time.monotonic() < deadline, f"stuck at {done} quarters"
        time.sleep(0.1)
    return done


def step(page, times: int = 1) -> None:
    button = page.get_by_role("button", name="Step", exact=True)
    for _ in range(times):
        before = date_of(page)[1]
        button.click()
        wait_for_quarters(page, before + 1)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_the_page_shows_lesson_controls_only_with_the_date_and_lever_values(page, app_url) -> None:
    open_page(page, app_url)
    assert date_of(page) == ("2023Q1", 0)
    page.get_by_text("Where does the world's AI use go by 2030").first.wait_for()
    for text in ("Chip controls: strength: 1×", "US-China tension: +0.00", "OpenAI partners: extra: +0",
                 "EU privacy stance: as in the scenario"):  # fmt: skip
        page.get_by_text(text, exact=True).wait_for()
    body = page.locator("body").inner_text()
    for internal in MESA_CONTROLS:
        assert internal.lower() not in body.lower(), internal
    assert not re.search(r"^Step: \d+$", body, re.M)
    assert "This website runs on" not in body  # solara's corner banner would cover the page's text
    shoot(page, "01_loaded")


def test_play_pause_play_at_once_keeps_playing_and_the_feed_fills(page, app_url) -> None:
    open_page(page, app_url)
    page.get_by_role("button", name="Play").click()
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").click()  # within about 0.15 s of the first click
    started = time.monotonic()
    wait_for_quarters(page, 4, timeout_s=15)  # normal speed: 0.8 s a quarter
    page.get_by_role("button", name="Pause").click()
    paused_at = date_of(page)[1]
    time.sleep(2)
    assert date_of(page)[1] <= paused_at + 1  # a tick already under way may land; then nothing
    assert time.monotonic() - started < 15
    tab(page, "Events")
    page.get_by_text(re.compile(r"US restricts chips to China, Hong Kong \(50% of a full denial\)")).wait_for()
    claim = page.locator(".sim-claim", has_text="D4.3").first
    assert (claim.get_attribute("title") or "").startswith("D4.3: US models are more closed")
    assert "log-odds" not in page.locator(".sim-feed").inner_text()
    shoot(page, "02_feed")


def test_the_world_map_renders_and_a_click_on_a_country_shows_its_curves(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 2)
    tab(page, "Countries")
    chart = page.locator("[_echarts_instance_]").first
    chart.wait_for()
    deadline = time.monotonic() + 20
    while not chart.evaluate(
        f"(el) => {{ const c = ({ECHARTS})(el); return !!c && c.getOption().series[0].type === 'map'; }}"
    ):
        assert time.monotonic() < deadline, "the map was not drawn"
        time.sleep(0.2)
    # Brazil's middle, as the map projects it, then a real mouse click there; the picker follows the click.
    # On a loaded machine the page may still be laying out (or binding the map's click) when the map's
    # option arrives: the place is measured again and the click repeated until the picker shows Brazil.
    picked = page.locator(".v-select").filter(has_text="Brazil")
    deadline = time.monotonic() + 90
    while True:
        x, y = chart.evaluate(f"(el) => ({ECHARTS})(el).convertToPixel({{seriesIndex: 0}}, [-51.9, -10.0])")
        box = chart.bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        try:
            picked.wait_for(timeout=10_000)
            break
        except PlaywrightTimeoutError:
            assert time.monotonic() < deadline, "a click on Brazil never selected it in the country picker"
    curves = page.locator("[_echarts_instance_]").nth(1)
    curves.wait_for()
    deadline = time.monotonic() + 20
    title = ""
    while not title.startswith("Brazil: whose models it uses"):
        assert time.monotonic() < deadline, title
        time.sleep(0.2)
        title = curves.evaluate(
            f"(el) => {{ const c = ({ECHARTS})(el); return c ? c.getOption().title[0].text : ''; }}"
        )
    lines = curves.evaluate(f"(el) => ({ECHARTS})(el).getOption().series.map(s => s.name)")
    assert lines[:5] == ["US models", "Chinese models", "EU models", "other origins", "firms using AI"]
    shoot(page, "03_country")


def test_csv_export_downloads_the_revealed_quarters(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 3)
    tab(page, "Export")
    with page.expect_download() as info:
        page.get_by_text("Download the curves (CSV)").click()
    download = info.value
    assert download.suggested_filename == "baseline-story0-to-2023Q3.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert [r[0] for r in rows] == ["quarter", "2023Q1", "2023Q2", "2023Q3"]
    with page.expect_download() as info:
        page.get_by_text("Download every country (CSV)").click()
    assert info.value.suggested_filename == "baseline-story0-to-2023Q3-countries.csv"


def test_text_is_at_least_18_px_at_1920_by_1080(browser, app_url) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        open_page(page, app_url)
        step(page, 4)
        chart = chart_at(page, 0, within="")
        sizes = chart.evaluate(
            f"""(el) => {{ const o = ({ECHARTS})(el).getOption();
                return [o.title[0].textStyle.fontSize, o.yAxis[0].axisLabel.fontSize,
                        o.xAxis[1].axisLabel.fontSize, o.series[0].endLabel.fontSize]; }}"""
        )
        assert min(sizes) >= 18, sizes
        for selector in (".sim-question", ".sim-lever-name", ".sim-lever-meaning", ".sim-headline", ".v-tab", ".v-btn",
                         ".sim-controls .v-label--active"):  # fmt: skip
            # the size as drawn: Vuetify scales a filled field's label down with a transform
            size = page.locator(selector).first.evaluate(
                "(el) => { const style = getComputedStyle(el);"
                " const scale = style.transform === 'none' ? 1 : new DOMMatrix(style.transform).a;"
                " return parseFloat(style.fontSize) * scale; }"
            )
            assert size >= 18, (selector, size)
        tab(page, "Info")
        page.get_by_text("Things to try").wait_for()
        for selector in ("h4 + p", "li", ".sim-command"):
            size = page.locator(f".sim-main {selector}").first.evaluate(
                "(el) => parseFloat(getComputedStyle(el).fontSize)"
            )
            assert size >= 18, (selector, size)
        shoot(page, "05_1920_info")
    finally:
        context.close()


def test_a_new_preset_sets_the_levers_back_to_neutral_and_says_so(page, app_url) -> None:
    from sim.app.presets import list_presets

    open_page(page, app_url)
    page.locator(".sim-lever-eu_privacy .v-select").click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text="audits of Chinese models").first.click()
    page.get_by_text("EU privacy stance: audits of Chinese models", exact=True).wait_for()
    chosen = [p.name for p in list_presets()[0]][-1]
    page.locator(".v-select.sim-preset").click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text=chosen).first.click()
    page.get_by_text(re.compile(r"^New preset: the levers are back to neutral")).wait_for()
    page.get_by_text("EU privacy stance: as in the scenario", exact=True).wait_for()
    assert date_of(page)[1] == 0


def test_server_serves_no_files_of_the_project(app_url) -> None:
    for path in ("static/public/page.py", "static/assets/page.py", "static/public/../classroom.py"):
        try:
            with urllib.request.urlopen(app_url + path, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            assert error.code == 404
            continue
        assert b"ClassroomModel" not in body


# -- what the charts draw, read from ECharts in the page --------------------------------------------

# Each line's end label as ECharts placed it ("name: value", its box in the chart's pixels), and the y pixel
# of the plot's bottom. The box is the label's own (ZRText, as high as its line), not one glyph run's.
END_LABELS = f"""(el) => {{
    const chart = ({ECHARTS})(el);
    const option = chart.getOption();
    const names = option.series.filter(s => s.endLabel && s.endLabel.show).map(s => s.name + ': ');
    const labels = [];
    chart.getZr().storage.getDisplayList().forEach((e) => {{
        if (e.type !== 'tspan' || e.ignore || typeof e.style.text !== 'string') return;
        if (!names.some(n => e.style.text.startsWith(n))) return;
        const label = e.parent || e;
        const r = label.getBoundingRect().clone();
        const m = label.getComputedTransform();
        if (m) r.applyTransform(m);
        labels.push({{text: e.style.text, x: r.x, y: r.y, width: r.width, height: r.height, font: e.style.font}});
    }});
    return {{labels, bottom: chart.convertToPixel({{yAxisIndex: 0}}, option.yAxis[0].min)}};
}}"""


def chart_at(page, index: int, ready: str = "(o) => true", within: str = ".sim-charts"):
    """The index-th chart `within` the open tab (the map is outside the curves' grid: within=""), once
    ECharts has drawn an option for which `ready(option)` holds."""
    chart = page.locator(f"{within} [_echarts_instance_]".strip()).nth(index)
    chart.wait_for()
    deadline = time.monotonic() + 30
    while not chart.evaluate(f"(el) => {{ const c = ({ECHARTS})(el); return !!c && ({ready})(c.getOption()); }}"):
        assert time.monotonic() < deadline, f"chart {index} was not drawn as expected: {ready}"
        time.sleep(0.2)
    return chart


def option_of(chart) -> dict:
    return chart.evaluate(f"(el) => ({ECHARTS})(el).getOption()")


def assert_end_labels_apart(chart, lines: int) -> list[str]:
    """Every line's end label is drawn, at least 18 px, none over another nor under the plot's bottom
    (where the years are); returns the labels' texts."""
    found = chart.evaluate(END_LABELS)
    labels = found["labels"]
    assert len(labels) == lines, labels
    for label in labels:
        assert float(re.search(r"(\d+(?:\.\d+)?)px", label["font"]).group(1)) >= 18, label
        assert label["y"] + label["height"] <= found["bottom"] + 1, (label, found["bottom"])
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert overlap_x <= 1 or overlap_y <= 1, (a, b)
    return [label["text"] for label in labels]


def choose_mode(page, current: str, wanted: str) -> None:
    page.locator(".sim-controls .v-select").filter(has_text=current).click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text=wanted).first.click()


def assert_no_error_shown(page) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "could not be computed" not in body
    assert page.locator(".v-alert.error").count() == 0, page.locator(".v-alert.error").first.inner_text()


def test_end_labels_of_lines_close_together_do_not_overlap(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 12)
    chart = chart_at(page, 1, "(o) => o.series.length >= 4 && o.series[0].data.length === 12")
    texts = assert_end_labels_apart(chart, 4)
    ends = sorted(float(re.search(r": (-?[\d.]+)%$", text).group(1)) for text in texts)
    assert ends[1] - ends[0] < 2, f"this test needs two lines ending within 2 points of each other: {texts}"
    shoot(page, "06_end_labels")


def test_many_stories_draw_a_band_and_say_how_many(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 6)
    choose_mode(page, "One story", "Many stories")
    page.locator(".sim-headline", has_text=re.compile(r"^Median of 12 stories: ")).wait_for()
    chart = chart_at(page, 0, "(o) => o.series.some(s => s.name === 'open models range')")
    option = option_of(chart)
    assert option["title"][0]["subtext"] == "median of 12 stories, band 10-90%"
    band = next(s for s in option["series"] if s["name"] == "open models range")
    widths = [v for v in band["data"] if v != "-"]
    assert len(widths) == 6 and max(widths) > 0  # a band with a width, over the quarters shown
    assert_end_labels_apart(chart, 2)
    assert_no_error_shown(page)
    shoot(page, "07_many_stories")


def test_difference_from_the_baseline_is_zero_for_the_baseline_and_not_for_another_preset(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 8)
    choose_mode(page, "One story", "Difference from baseline")
    page.locator(".sim-headline", has_text="Difference from baseline (median of 12 paired stories)").wait_for()
    # the baseline minus itself: every line at zero, zero in the middle of the axis and marked
    chart = chart_at(page, 1, "(o) => o.title[0].subtext && o.title[0].subtext.startsWith('minus baseline')")
    option = option_of(chart)
    lines = [s for s in option["series"] if s.get("endLabel", {}).get("show")]
    values = [v for s in lines for v in s["data"] if v != "-"]
    assert len(values) == 4 * 8 and max(abs(v) for v in values) < 0.05, values
    assert option["yAxis"][0]["min"] < 0 < option["yAxis"][0]["max"]
    assert option["series"][0]["markLine"]["data"][0]["yAxis"] == 0
    assert_end_labels_apart(chart, 4)  # four labels at the same value
    assert_no_error_shown(page)
    shoot(page, "08_difference_baseline")
    # another preset minus the baseline: the curves leave zero (its policy starts in the second year)
    page.locator(".v-select.sim-preset").click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text="china-open-source-push").first.click()
    page.get_by_text(re.compile(r"^\d{4}Q[1-4] · not started")).wait_for()  # a new preset starts again
    step(page, 8)
    page.locator(".sim-headline", has_text="Difference from baseline (median of 12 paired stories)").wait_for()
    chart = chart_at(page, 1, "(o) => o.series[0].data.length === 8 && o.title[0].subtext")
    option = option_of(chart)
    values = [v for s in option["series"] if s.get("endLabel", {}).get("show") for v in s["data"] if v != "-"]
    assert max(abs(v) for v in values) >= 0.3, values
    assert option["series"][0]["markLine"]["data"][0]["yAxis"] == 0
    assert_end_labels_apart(chart, 4)
    assert_no_error_shown(page)
    shoot(page, "09_difference_preset")


@pytest.mark.parametrize("width,height", [(1280, 800), (1024, 768)])
def test_map_key_covers_no_country(browser, app_url, width, height) -> None:
    from sim.app.worldmap import world_geojson

    # each polygon's box in longitude and latitude (ECharts' map projection is linear in each)
    boxes = []
    for feature in world_geojson()["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            xs, ys = [p[0] for p in polygon[0]], [p[1] for p in polygon[0]]
            boxes.append([feature["properties"]["name"], min(xs), min(ys), max(xs), max(ys)])
    assert {"BRA", "ARG", "CHL", "PER"} <= {b[0] for b in boxes}
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        open_page(page, app_url)
        step(page, 2)
        tab(page, "Countries")
        chart = chart_at(page, 0, "(o) => !!o.graphic", within="")
        covered = chart.evaluate(
            f"""(el, boxes) => {{
                const chart = ({ECHARTS})(el);
                // the key: every element the graphic component drew (its view's group is marked 'graphic')
                let key = null;
                chart.getZr().storage.getDisplayList().forEach((e) => {{
                    let up = e;
                    while (up && !(up.__ecComponentInfo && up.__ecComponentInfo.mainType === 'graphic')) up = up.parent;
                    if (!up) return;
                    const r = e.getBoundingRect().clone();
                    const m = e.getComputedTransform();
                    if (m) r.applyTransform(m);
                    key = key ? (key.union(r), key) : r;
                }});
                if (!key) return 'no key drawn';
                const hits = [];
                for (const [name, x0, y0, x1, y1] of boxes) {{
                    const a = chart.convertToPixel({{seriesIndex: 0}}, [x0, y0]);
                    const b = chart.convertToPixel({{seriesIndex: 0}}, [x1, y1]);
                    const left = Math.min(a[0], b[0]), right = Math.max(a[0], b[0]);
                    const top = Math.min(a[1], b[1]), bottom = Math.max(a[1], b[1]);
                    if (left < key.x + key.width && right > key.x && top < key.y + key.height && bottom > key.y) {{
                        hits.push(name);
                    }}
                }}
                return hits;
            }}""",
            boxes,
        )
        assert covered == [], covered
        shoot(page, f"10_map_key_{width}")
    finally:
        context.close()
