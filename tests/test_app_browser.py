"""The classroom page in headless Chromium (Debian's /usr/bin/chromium), served by `sim app`.

Screenshots go to tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
READY_S = 90  # server start plus first render on a busy 2-core machine
DATE = re.compile(r"^(\d{4}Q[1-4]) · (?:not started|quarter (\d+) of (\d+))")

if not Path(CHROMIUM).exists():  # `make test` installs it; a bare `pytest` elsewhere says why it skips
    pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """`sim app` on a free port, for the whole session; stopped (its own process group) at the end."""
    from sim.app.serve import missing_browser_packages

    missing = missing_browser_packages()
    assert not missing, f"solara's browser files are missing ({missing}); run `make app-assets`"
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", "--port", str(port)], stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + READY_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert server.poll() is None, f"sim app exited with {server.returncode}; see {ARTIFACTS / 'server.log'}"
        assert time.monotonic() < deadline, "sim app did not answer in time"
        time.sleep(0.5)
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page, url: str) -> None:
    page.set_default_timeout(READY_S * 1000)
    page.goto(url)
    page.get_by_role("button", name="Step", exact=True).wait_for()
    page.locator(".sim-date").wait_for()


def date_of(page) -> tuple[str, int]:
    """(last simulated quarter, quarters done) from the date counter."""
    match = DATE.match(page.locator(".sim-date").inner_text())
    assert match, page.locator(".sim-date").inner_text()
    return match.group(1), int(match.group(2) or 0)


def wait_for_quarters(page, at_least: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (done := date_of(page)[1]) < at_least:
        assert time.monotonic() < deadline, f"stuck at {done} quarters"
        time.sleep(0.2)
    return done


def step(page, times: int = 1) -> None:
    button = page.get_by_role("button", name="Step", exact=True)
    for _ in range(times):
        before = date_of(page)[1]
        button.click()
        wait_for_quarters(page, before + 1)


def choose(page, label: str, option: str) -> None:
    """Pick an option of one of SolaraViz's Select inputs (a Vuetify v-select)."""
    page.locator(".v-select").filter(has_text=label).click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text=option).first.click()
    page.locator(".menuable__content__active").wait_for(state="detached")


def reset(page) -> None:
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text(re.compile(r"· not started \(0 of \d+ quarters\)")).first.wait_for()


def curves(page) -> bytes:
    return page.locator("img").first.screenshot()


def test_page_loads_with_the_lesson_question_and_a_date_instead_of_a_step_counter(page, app_url) -> None:
    open_page(page, app_url)
    assert date_of(page) == ("2023Q1", 0)
    assert page.get_by_text(re.compile(r"^Step: \d+$")).count() == 0
    page.get_by_text("Question: where does the world's AI use go").wait_for()
    for label in ("Preset scenario", "Chip controls: strength", "EU privacy stance", "US-China tension"):
        page.get_by_text(label).first.wait_for()
    shoot(page, "01_loaded")


def test_choosing_a_preset_and_pressing_step_advances_the_date(page, app_url) -> None:
    from sim.app.presets import list_presets

    open_page(page, app_url)
    presets = [p.name for p in list_presets()[0]]
    chosen = presets[-1]  # another preset when there is one
    choose(page, "Preset scenario", chosen)
    reset(page)
    page.get_by_text(re.compile(rf"^{re.escape(chosen)} · ")).wait_for()
    step(page)
    assert date_of(page)[1] == 1
    step(page)
    assert date_of(page)[1] == 2
    shoot(page, "02_preset_stepped")


def test_play_moves_the_curves_and_events_appear_in_the_feed(page, app_url) -> None:
    open_page(page, app_url)
    step(page)
    before = curves(page)
    page.get_by_role("button", name="▶", exact=True).click()
    wait_for_quarters(page, 9, timeout_s=120)  # Italy's DeepSeek block is in 2025Q1, quarter 9
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_text(re.compile(r"2025Q1 — Italy bans DeepSeek for all users \(D4\.8")).wait_for()
    page.get_by_text("Real world: Italian data-protection authority").wait_for()
    assert curves(page) != before
    page.locator(".sim-feed").scroll_into_view_if_needed()
    shoot(page, "03_played")


def test_a_lever_change_and_reset_change_the_run(page, app_url) -> None:
    open_page(page, app_url)
    step(page, 4)
    default = curves(page)
    choose(page, "Chip controls: reach", "tiers 2 and 3")
    choose(page, "EU privacy stance", "audits of Chinese models")
    reset(page)
    page.get_by_text("Levers: Chip controls: reach: tiers 2 and 3").wait_for()
    step(page, 4)
    page.get_by_text(re.compile(r"US restricts chips to tier 2 and 3 countries")).first.wait_for()
    assert curves(page) != default
    shoot(page, "04_levers")
    # Back to the scenario as written: Reset replays the default story exactly.
    choose(page, "Chip controls: reach", "as in the scenario")
    choose(page, "EU privacy stance", "as in the scenario")
    reset(page)
    step(page, 4)
    assert curves(page) == default


def test_two_browser_sessions_have_independent_models(browser, app_url) -> None:
    first, second = browser.new_context(), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        open_page(a, app_url)
        open_page(b, app_url)
        step(a, 3)
        b.reload()
        open_page(b, app_url)
        assert date_of(b)[1] == 0
        step(b)
        assert date_of(a)[1] == 3 and date_of(b)[1] == 1
        shoot(a, "05_session_a")
        shoot(b, "05_session_b")
    finally:
        first.close()
        second.close()


def test_server_serves_no_files_of_the_project(app_url) -> None:
    for path in ("static/public/page.py", "static/assets/page.py", "static/public/../classroom.py"):
        try:
            with urllib.request.urlopen(app_url + path, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            assert error.code == 404
            continue
        assert b"ClassroomModel" not in body

