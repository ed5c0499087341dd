"""A class on the classroom page: N simulated students playing at once against one `sim app`.

    python benchmarks/classroom.py --clients ws             # 30 students over the websocket (~2 minutes)
    python benchmarks/classroom.py                          # 30 students in headless Chromium (~2 minutes)
    python benchmarks/classroom.py --students 5             # a quick check
    python benchmarks/classroom.py --json out.json          # also write the figures to a file

Each student has a solara session of its own: it opens the page, picks a preset (round robin over the
presets), presses Play and watches to the end of the story. Two kinds of student (`--clients`):

- `browser`: a browser context in one headless Chromium (Debian's /usr/bin/chromium), the page drawn
  as a student sees it. On one 2-core machine the 30 tabs' drawing takes most of the CPU (about 6
  times the server's), so this mode shows what a class on ONE machine would see, and the server's
  own pace is hidden behind the starved renderers.
- `ws`: benchmarks/ws_student.py, a Python client that speaks solara's protocol over the websocket
  exactly as the page's script does (the same messages: the session cookie from the page, the
  kernel channels, `run`, the preset menu's `update`, Play's `click`), all students in one asyncio
  loop of this process. It draws nothing, so the machine's cores are the server's: real students
  have their own machines, and this mode measures whether the SERVER keeps the class's pace. The
  benchmark's own CPU is reported next to the server's to show the clients are cheap. It does not
  fetch the page's scripts and styles (a browser caches them), nor measure drawing.

Measured (the same table and `--json` for both, `clients` says which):
- time to a usable page: browser: from `goto` until the date counter and the Play button are shown;
  ws: from the GET of the page until the widget tree with the date counter and Play has arrived;
- time to the first quarter: from pressing Play until the first quarter's date arrives;
- per-quarter latency: the time between successive quarters over every student's every quarter while
  all of them play; the page's speed sets the pause between quarters (normal: 0.8 s), so anything
  above it is delay. browser: measured in the page (a MutationObserver with `performance.now()`),
  and "on the wire" when the websocket frame carrying each new date reached the browser (before its
  renderer draws it); ws: when the frame reached the client (both columns then are the same);
- CPU seconds over the class: the server's, and the students' (Chromium's, or this process's);
- server memory (RSS of the process that serves the page, psutil): cold (just started), idle (after one
  student per preset has played and left: imports and first computations are paid once), peak while
  the class plays, and after every student has left and the sessions have expired.

Needs solara's browser files (`make app-assets`), and for `browser` Debian's chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # ws_student.py beside this file

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
]  # fmt: skip
IDLE_EXPIRY_S = 5
QUARTER_IN_FRAME = re.compile(r"quarter (\d+) of \d+")  # the date counter (its "·" may be escaped)
WATCH = """() => {
    window.__quarters = [];
    const el = document.querySelector('.sim-date');
    const note = () => window.__quarters.push([performance.now(), el.textContent]);
    new MutationObserver(note).observe(el, {childList: true, subtree: true, characterData: true});
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`sim app` on a free port, its serving process, and an RSS sampler."""

    def __init__(self, max_sessions: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(os.devnull, "w")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sim", "app", "--port", str(self.port), "--max-sessions", str(max_sessions),
             "--idle-expiry", str(IDLE_EXPIRY_S)],
            stdout=self.log, stderr=self.log, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url + "readyz", timeout=5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sim app did not start") from None
                time.sleep(0.3)
        self.server = psutil.Process(self.process.pid).children()[0]
        self.peak = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def rss_mb(self) -> float:
        return self.server.memory_info().rss / 2**20

    def _sample(self) -> None:
        while self._sampling:
            self.peak = max(self.peak, self.server.memory_info().rss)
            time.sleep(0.25)

    def sessions(self) -> int:
        with urllib.request.urlopen(self.url + "resourcez", timeout=10) as response:
            return int(json.loads(response.read())["kernels"]["total"])

    def stop(self) -> None:
        self._sampling = False
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


async def student(browser, url: str, preset: str, speed: str, index: int, results: list[dict]) -> None:
    """One student: open, pick the preset, play, watch to the end."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    arrived: dict[int, float] = {}  # quarter -> when its date reached the browser's network side

    def frames(ws) -> None:
        def received(payload) -> None:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            for match in QUARTER_IN_FRAME.finditer(text):
                arrived.setdefault(int(match.group(1)), time.monotonic())

        ws.on("framereceived", received)

    page.on("websocket", frames)
    page.set_default_timeout(300_000)
    started = time.monotonic()
    await page.goto(url)
    await page.locator(".sim-date").wait_for()
    await page.get_by_role("button", name="Play").wait_for()
    usable = time.monotonic() - started
    if preset != "baseline":
        await page.locator(".v-select.sim-preset").click()
        await page.locator(".menuable__content__active .v-list-item").filter(has_text=preset).first.click()
        await page.get_by_text(f"{preset}", exact=True).first.wait_for()
    if speed != "normal":
        await page.get_by_role("button", name=speed, exact=True).click()
    await page.evaluate(WATCH)
    played = time.monotonic()
    await page.get_by_role("button", name="Play").click()
    await page.get_by_text(" · quarter 32 of 32").wait_for(timeout=600_000)
    quarters = await page.evaluate("() => window.__quarters")
    results.append({"student": index, "preset": preset, "usable_s": usable, "quarters": quarters,
                    "arrived": [arrived[q] for q in sorted(arrived)],
                    "first_quarter_s": arrived[min(arrived)] - played if arrived else None})  # fmt: skip
    await context.close()


async def run_class(url: str, presets: list[str], students: int, speed: str) -> tuple[list[dict], float, float]:
    from playwright.async_api import async_playwright

    results: list[dict] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        started = time.monotonic()
        await asyncio.gather(*(student(browser, url, presets[i % len(presets)], speed, i, results)
                               for i in range(students)))  # fmt: skip
        wall = time.monotonic() - started
        browser_cpu = _browser_cpu()
        await browser.close()
    return results, wall, browser_cpu


async def run_class_ws(url: str, presets: list[str], students: int, speed: str) -> tuple[list[dict], float, float]:
    """The class as websocket clients (benchmarks/ws_student.py), all in this process's event loop:
    (results, wall seconds, CPU seconds this process spent on them)."""
    from ws_student import StudentError, play_through

    cpu_before = _own_cpu()
    started = time.monotonic()
    visits = await asyncio.gather(*(play_through(url, presets[i % len(presets)], speed) for i in range(students)),
                                  return_exceptions=True)  # fmt: skip
    wall = time.monotonic() - started
    client_cpu = _own_cpu() - cpu_before
    results = []
    for index, visit in enumerate(visits):
        if isinstance(visit, StudentError):
            print(f"student {index} ({presets[index % len(presets)]}): {visit}", file=sys.stderr)
            continue
        if isinstance(visit, BaseException):
            raise visit
        results.append({"student": index, "preset": visit.preset, "usable_s": visit.usable_s,
                        "arrived": [when for when, _ in visit.quarters], "first_quarter_s": visit.first_quarter_s()})
    return results, wall, client_cpu


def _own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _browser_cpu() -> float:
    """CPU seconds used so far by this benchmark's Chromium processes (the students' side)."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:  # a renderer that has just exited
            pass
    return total


def wait_closed(server: Server) -> None:
    """Until every closed tab's session has expired (and a little longer for the clean-up)."""
    deadline = time.monotonic() + IDLE_EXPIRY_S + 60
    while server.sessions() and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(8)  # the page hands freed memory back 5 s after the last close


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students (sessions) at once (default 30)")
    parser.add_argument("--clients", choices=["browser", "ws"], default="browser",
                        help="students as headless Chromium pages, or as websocket clients (see above)")
    parser.add_argument("--speed", choices=["slow", "normal", "fast"], default="normal", help="playing speed")
    parser.add_argument("--classes", type=int, default=1, help="play the class this many times (memory check)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.clients == "browser" and not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    from sim.app.presets import list_presets
    from sim.app.views import SPEEDS

    presets = [p.name for p in list_presets()[0]]
    server = Server(max_sessions=max(60, args.students + 5))
    try:
        time.sleep(2)
        cold = server.rss_mb()
        # One student plays every preset once first: the page's imports and the stories' first
        # computations are paid once per server, not per class; "idle" is measured after it.
        play = run_class if args.clients == "browser" else run_class_ws
        asyncio.run(play(server.url, presets, len(presets), "fast"))
        wait_closed(server)
        idle = server.rss_mb()
        server.peak = 0
        cpu_before = sum(server.server.cpu_times()[:2])
        results, wall, client_cpu = asyncio.run(play(server.url, presets, args.students, args.speed))
        server_cpu = sum(server.server.cpu_times()[:2]) - cpu_before
        peak = server.peak / 2**20
        wait_closed(server)
        after = server.rss_mb()
        left = server.sessions()
        again = None
        if args.classes > 1:  # the same class again: memory stays bounded, it does not grow class after class
            for _ in range(args.classes - 1):
                asyncio.run(play(server.url, presets, args.students, args.speed))
                wait_closed(server)
            again = server.rss_mb()
    finally:
        server.stop()
    if not results:
        print("no student got to the end of the story", file=sys.stderr)
        return 1
    sent = [b - a for r in results for a, b in zip(r["arrived"], r["arrived"][1:], strict=False)]
    if args.clients == "browser":
        gaps = [
            (b[0] - a[0]) / 1000
            for r in results
            for a, b in zip(r["quarters"], r["quarters"][1:], strict=False)
            if a[1] != b[1] and "quarter" in b[1] and "not started" not in a[1]
        ]
    else:  # the client is the wire
        gaps = sent
    usable = [r["usable_s"] for r in results]
    first = [r["first_quarter_s"] for r in results if r["first_quarter_s"] is not None]
    figures = {
        "clients": args.clients,
        "students": args.students,
        "students_failed": args.students - len(results),
        "speed": args.speed,
        "seconds_between_quarters_as_set": SPEEDS[args.speed],
        "quarter_gap_median_s": statistics.median(gaps),
        "quarter_gap_p95_s": _percentile(gaps, 95),
        "quarter_gap_max_s": max(gaps),
        "quarter_gaps_over_1s": sum(g > 1.0 for g in gaps),
        "quarter_gaps_counted": len(gaps),
        # the same gaps as the frames carrying the date arrive over the websocket (Playwright's view
        # of the network, before the page's renderer draws them): the server's beat
        "quarter_gap_on_the_wire_median_s": statistics.median(sent) if sent else float("nan"),
        "quarter_gap_on_the_wire_p95_s": _percentile(sent, 95) if sent else float("nan"),
        "first_quarter_after_play_median_s": statistics.median(first),
        "first_quarter_after_play_max_s": max(first),
        "usable_median_s": statistics.median(usable),
        "usable_max_s": max(usable),
        "class_wall_s": wall,
        "server_cpu_s": server_cpu,
        # the students' side on the same machine: Chromium's processes, or this process's own loop
        "client_cpu_s": client_cpu,
        "server_rss_cold_mb": cold,
        "server_rss_idle_mb": idle,
        "server_rss_peak_mb": peak,
        "server_rss_after_close_mb": after,
        "sessions_left_after_close": left,
        **({f"server_rss_after_{args.classes}_classes_mb": again} if again is not None else {}),
        "load_average_1min_at_end": os.getloadavg()[0],  # other work on the machine slows the class
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:.3f}" if isinstance(value, float) else f"{name:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
