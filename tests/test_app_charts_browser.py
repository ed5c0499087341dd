"""The chart and world map drawn by ECharts in headless Chromium (Debian's /usr/bin/chromium).

The page is tests/apps/charts_demo.py, served like `sim app` serves the classroom (sim/app/server.py:
the gate, solara's browser files and ECharts from the local copy only, no internet). Screenshots go to
tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port, stop_group, wait_until_answers

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DEMO = Path(__file__).resolve().parent / "apps" / "charts_demo.py"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
READY_S = 90  # server start plus first render on a busy 2-core machine
BLUE = (0x00, 0x72, 0xB2)  # the US bloc's fill in the demo (sim/blocs.py BLOC_COLOURS["US"])

if not Path(CHROMIUM).exists():  # `make test` installs it; a bare `pytest` elsewhere says why it skips
    pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def demo_url():
    """The demo page behind the classroom server's gate, on a free port; stopped (its process group) at the end."""
    from sim.app.serve import missing_browser_packages, server_command, server_env

    missing = missing_browser_packages()
    assert not missing, f"solara's browser files are missing ({missing}); run `make app-assets`"
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**server_env(), "SOLARA_APP": str(DEMO)}
    log = (ARTIFACTS / "charts-server.log").open("w")
    server = subprocess.Popen(
        server_command("127.0.0.1", port), env=env, stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/"
    wait_until_answers(url, server, READY_S, lambda: f"see {log.name}")
    yield url
    stop_group(server)
    log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


# The ECharts instance of a chart: solara's EchartsWidget is a Vue component whose root is the chart's div.
CHART = "(selector) => { const el = document.querySelector(selector); return el && el.__vue__ && el.__vue__.chart; }"


def chart_ready(page, selector: str) -> None:
    page.wait_for_function(f"() => {{ const c = ({CHART})('{selector}'); return c && c.getOption(); }}")


def wait_for_pixels(page, selector: str, rgb: tuple[int, int, int], at_least: int) -> None:
    """Wait until the chart's canvas has that many pixels within a few units of a colour (ECharts draws
    on the next animation frame after it gets an option)."""
    page.wait_for_function(
        """([selector, rgb, atLeast]) => {
            const canvas = document.querySelector(selector + ' canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                const off = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1])
                    + Math.abs(data[i + 2] - rgb[2]);
                if (off < 12) n++;
            }
            return n >= atLeast;
        }""",
        arg=[selector, list(rgb), at_least],
        polling=200,
        timeout=15_000,
    )


def icon_centre(page, selector: str, title: str) -> tuple[float, float]:
    """Where a toolbox button is drawn in a chart (ECharts names each button's shape by its title)."""
    found = page.evaluate(
        f"""() => {{
            const found = [];
            ({CHART})('{selector}').getZr().storage.getDisplayList().forEach((el) => {{
                if (el.__title === '{title}') {{
                    const r = el.getBoundingRect(); const m = el.transform || [1, 0, 0, 1, 0, 0];
                    found.push([m[4] + (r.x + r.width / 2) * m[0], m[5] + (r.y + r.height / 2) * m[3]]);
                }}
            }});
            return found[0] || null;
        }}"""
    )
    assert found, f"no {title!r} button in the toolbox of {selector}"
    return found[0], found[1]


def test_map_draws_offline_and_a_click_reports_the_country_to_python(page, demo_url) -> None:
    page.set_default_timeout(READY_S * 1000)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(demo_url)
    chart_ready(page, ".demo-map")
    chart_ready(page, ".demo-curves")
    wait_for_pixels(page, ".demo-map", BLUE, 2000)  # the US bloc's countries are filled
    wait_for_pixels(page, ".demo-map", (0xD9, 0xD9, 0xD9), 2000)  # the rest light grey

    # Zoom in with the mouse wheel over Brazil (ECharts zooms around the cursor), as a student would.
    map_box = page.locator(".demo-map").bounding_box()
    x, y = page.evaluate(f"() => ({CHART})('.demo-map').convertToPixel({{seriesIndex: 0}}, [-52, -10])")
    page.mouse.move(map_box["x"] + x, map_box["y"] + y)
    for _ in range(3):
        page.mouse.wheel(0, -200)
        time.sleep(0.1)
    page.wait_for_function(f"() => ({CHART})('.demo-map').getOption().series[0].zoom > 1.2", timeout=15_000)

    # A real click where ECharts now draws Brazil (its projection: longitude, latitude -> pixel).
    x, y = page.evaluate(f"() => ({CHART})('.demo-map').convertToPixel({{seriesIndex: 0}}, [-52, -10])")
    page.mouse.click(map_box["x"] + x, map_box["y"] + y)
    page.get_by_text("clicked: BRA").wait_for(timeout=15_000)

    # The selection is outlined: the map's new option (it may arrive after the text) marks BRA with a thick
    # border, and the zoom survived the new option (sim/app/figure.py).
    page.wait_for_function(
        f"""() => {{
            const data = ({CHART})('.demo-map').getOption().series[0].data;
            const brazil = data.find((d) => d.name === 'BRA');
            return brazil && brazil.itemStyle && brazil.itemStyle.borderWidth >= 2;
        }}""",
        timeout=15_000,
    )
    assert page.evaluate(f"() => ({CHART})('.demo-map').getOption().series[0].zoom") > 1.2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "charts-demo-zoomed.png"))

    # "reset zoom" shows the whole world again, the selection kept.
    reset = icon_centre(page, ".demo-map", "reset zoom")
    page.mouse.click(map_box["x"] + reset[0], map_box["y"] + reset[1])
    page.wait_for_function(
        f"""() => {{
            const s = ({CHART})('.demo-map').getOption().series[0];
            const brazil = s.data.find((d) => d.name === 'BRA');
            return (s.zoom === undefined || s.zoom === 1) && brazil.itemStyle.borderWidth >= 2;
        }}""",
        timeout=15_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "charts-demo.png"))

    # The toolbox's "save as PNG" on the curves: a download of a PNG named as the caller asked.
    chart = page.locator(".demo-curves")
    box = chart.bounding_box()
    icon = icon_centre(page, ".demo-curves", "save as PNG")
    with page.expect_download(timeout=15_000) as download_info:
        page.mouse.click(box["x"] + icon[0], box["y"] + icon[1])
    download = download_info.value
    assert download.suggested_filename == "adoption.png"
    with open(download.path(), "rb") as saved:
        assert saved.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [url for url in failed if "/_solara/cdn/" in url], failed  # ECharts came from the local copy
