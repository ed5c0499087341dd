"""The classroom page over its websocket, as benchmarks/classroom.py --clients ws drives it: a few students
without a browser (benchmarks/ws_student.py speaks solara's protocol) open the page at once, each picks a
preset and presses Play, and each sees the story advance quarter by quarter."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from conftest import ROOT, start_sim_app, stop_group, wait_until_answers

sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmark's student client
from ws_student import Student, StudentError, Visit, play_through

pytestmark = pytest.mark.xdist_group("browser")  # a server of its own, timed: not beside the page tests

READY_S = 90  # server start on a busy 2-core machine
QUARTERS = 5
PLAY_LIMIT_S = 60  # 5 quarters are due in 4 s; generous for a loaded machine
PRESETS = ("baseline", "decoupling", "export-controls-tighten")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """`sim app` on a free port (its own process group, stopped at the end); its base URL."""
    log_path = tmp_path_factory.mktemp("ws") / "server.log"
    process, port = start_sim_app(["--idle-expiry", "30"], log_path)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/readyz", process, READY_S, log_path.read_text)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_group(process)


T = TypeVar("T")


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end in a thread with its own event loop: in the same xdist worker the browser
    tests' Playwright (sync API) keeps a loop running in the main thread, where `asyncio.run` refuses."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _quarter_index(date: str) -> int:
    match = re.fullmatch(r"(\d{4})Q([1-4])", date)
    assert match, f"{date!r} is not a quarter like 2024Q1"
    return 4 * int(match.group(1)) + int(match.group(2)) - 1


def test_students_playing_at_once_each_see_successive_quarters(app_url: str) -> None:
    async def lesson() -> list[Visit | BaseException]:
        return await asyncio.gather(
            *(play_through(app_url, preset, until=QUARTERS, timeout_s=PLAY_LIMIT_S) for preset in PRESETS),
            return_exceptions=True,
        )

    visits = run_in_own_loop(lesson())
    failed = [f"{preset}: {v}" for preset, v in zip(PRESETS, visits, strict=True) if isinstance(v, BaseException)]
    assert not failed, failed
    for preset, visit in zip(PRESETS, visits, strict=True):
        assert isinstance(visit, Visit)
        numbers = [number for _, number in visit.quarters]
        assert numbers[:QUARTERS] == list(range(1, QUARTERS + 1)), (preset, numbers)  # none skipped, none twice
        steps = {_quarter_index(b) - _quarter_index(a) for a, b in zip(visit.dates, visit.dates[1:], strict=False)}
        assert steps == {1}, (preset, visit.dates)  # each date one quarter after the one before
        assert visit.total > QUARTERS and visit.first_quarter_s() is not None
        # paced by the page's Ticker (0.8 s, never under half of it), not sent in a burst
        assert min(visit.gaps()) > 0.2, (preset, visit.gaps())


def test_the_page_names_its_presets_and_play_button_for_a_client_to_find(app_url: str) -> None:
    async def visit() -> None:
        student = Student(app_url, "no-such-preset", timeout_s=PLAY_LIMIT_S)
        try:
            await student.open()
            assert student.preset_menu() is not None and student.button("Play") is not None
            with pytest.raises(StudentError, match="no preset 'no-such-preset'"):
                await student.choose_preset("no-such-preset")
        finally:
            await student.close()

    run_in_own_loop(visit())

