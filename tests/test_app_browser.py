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
    # Brazil's middle, as the map projects it, then a real mouse click there.
    x, y = chart.evaluate(f"(el) => ({ECHARTS})(el).convertToPixel({{seriesIndex: 0}}, [-51.9, -10.0])")
    box = chart.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.locator(".v-select").filter(has_text="Brazil").wait_for()  # the country picker follows the click
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
        chart = page.locator("[_echarts_instance_]").first
        chart.wait_for()
        deadline = time.monotonic() + 20
        while not chart.evaluate(f"(el) => !!({ECHARTS})(el)"):
            assert time.monotonic() < deadline, "no chart drawn"
            time.sleep(0.2)
        sizes = chart.evaluate(
            f"""(el) => {{ const o = ({ECHARTS})(el).getOption();
                return [o.title[0].textStyle.fontSize, o.yAxis[0].axisLabel.fontSize,
                        o.xAxis[1].axisLabel.fontSize, o.series[0].endLabel.fontSize]; }}"""
        )
        assert min(sizes) >= 18, sizes
        for selector in (".sim-question", ".sim-lever-name", ".sim-headline", ".v-tab", ".v-btn"):
            size = page.locator(selector).first.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)")
            assert size >= 18, (selector, size)
        tab(page, "Info")
        page.get_by_text("Things to try").wait_for()
        for selector in ("h4 + p", "li"):
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
