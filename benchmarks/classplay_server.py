"""Class play through the real server: `sim app --class` with a class of 30, 8 rounds of a year.

`--pages N` students join through real pages in headless Chromium (Debian's /usr/bin/chromium), each in
a browser context of its own; the rest of the 30 are the server's simulated students
(`--simulated-students`), who decide inside the server each round. The teacher's page advances.

Per round it prints the latency from the teacher's click on "End round k" until every student page
shows the next round (the page polls the class once a second, so about half a second of it is the
poll), and the server's memory (RSS of `sim app` and its server process, psutil) after the round.
At the end: the time until the teacher's page shows the debrief (the replay beside the class's world).

    .venv/bin/python benchmarks/classplay_server.py [--pages 6] [--students 30] [--rounds 8] [--json]

The students' browsers share the machine's cores with the server: on 2 cores the drawing in 30 tabs
competes with it, so the latencies are an upper bound for a class of 30 separate machines.

Measured 2026-12-01 on the shared 2-core machine (load average 10-25 from other jobs), baseline, 8 rounds
of a year, 30 students on 30 real pages (`--pages 30`), after the student page's one-poll change:

| round | click to 30 pages showing the next round | server CPU meanwhile | server RSS after |
|---|---|---|---|
| 1 | 5.3 s | 1.1 s | 433 MB |
| 2 | 4.1 s | 1.1 s | 450 MB |
| 3 | 5.0 s | 1.5 s | 457 MB |
| 4 | 5.0 s | 1.1 s | 465 MB |
| 5 | 13.7 s | 4.4 s | 496 MB |
| 6 | 4.7 s | 1.7 s | 514 MB |
| 7 | 4.2 s | 1.5 s | 522 MB |
| 8 | 11.9 s | 4.7 s | 524 MB |

Mean 6.7 s, max 13.7 s; 30 pages joined one after the other in 82 s; RSS (sim app and its server
process) 309 MB idle, 423 MB with 30 sessions, 524 MB at the end (server process 403 MB, the `sim app`
parent 122 MB, which opened the class once to check the options). The debrief was on the teacher's
page as soon as the last round showed. With 6 pages and 24 simulated students: 1.1-6.0 s per round
(mean 3.4 s), server CPU 0.4-1.0 s a round, RSS 474 MB at the end. Rounds 5 and 8 of the 30-page run
took three times the others' server CPU; not investigated further (the simulation itself is 0.1 s of
it: benchmarks/classplay.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(process: psutil.Process) -> float:
    """RSS of `sim app` and its children (the server) [MB]."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total / 2**20


def cpu_s(process: psutil.Process) -> float:
    """CPU seconds (user + system) of `sim app` and its server process so far."""
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def wait_round(page, pattern: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    locator = page.locator(".cp-round")
    while not re.search(pattern, locator.inner_text()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"page stuck at {locator.inner_text()!r}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=6, help="students on real headless pages")
    parser.add_argument("--students", type=int, default=30, help="the class's size (pages + simulated)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    simulated = args.students - args.pages
    server = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", "--class", "--port", str(port), "--rounds", str(args.rounds),
         "--simulated-students", str(simulated)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    result: dict = {"pages": args.pages, "simulated": simulated, "rounds": []}
    try:
        printed = [server.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
        teacher_url = re.search(r"(http\S+teacher=\S+)", printed[1]).group(1)  # type: ignore[union-attr]
        join_url = re.search(r"(http\S+join=\S+)", printed[2]).group(1)  # type: ignore[union-attr]
        started = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3)
                break
            except OSError:
                time.sleep(0.2)
        result["server_ready_s"] = time.perf_counter() - started
        process = psutil.Process(server.pid)
        result["rss_mb_idle"] = rss_mb(process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

            def page(url: str):
                new = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                new.set_default_timeout(120_000)
                new.goto(url)
                return new

            teacher = page(teacher_url)
            teacher.locator(".cp-code").wait_for()
            students = []
            started = time.perf_counter()
            for i in range(args.pages):
                student = page(join_url)
                student.get_by_label("Your name (the teacher sees it)").fill(f"Page student {i + 1}")
                student.get_by_role("button", name="Join the class").click()
                student.locator(".cp-actor").wait_for()
                students.append(student)
            result["pages_joined_s"] = time.perf_counter() - started
            result["rss_mb_joined"] = rss_mb(process)
            for k in range(1, args.rounds + 1):
                for i, student in enumerate(students):  # half decide, half leave it to the model
                    if (i + k) % 2 == 0:
                        student.get_by_role("button", name=re.compile(r"^Keep course")).click()
                time.sleep(1.5)
                clicked, cpu = time.perf_counter(), cpu_s(process)
                teacher.get_by_role("button", name=re.compile(rf"^End (round {k}|the last round) and simulate")).click()
                after = f"All {args.rounds} rounds played" if k == args.rounds else f"Round {k + 1} of"
                for student in students:
                    wait_round(student, after)
                latency = time.perf_counter() - clicked
                server_cpu = cpu_s(process) - cpu
                result["rounds"].append({"round": k, "latency_s": latency, "server_cpu_s": server_cpu,
                                         "rss_mb": rss_mb(process)})  # fmt: skip
                if not args.json:
                    print(f"round {k}: click to {args.pages} pages showing the next round {latency:.2f} s "
                          f"(server CPU meanwhile {server_cpu:.2f} s), server RSS "
                          f"{result['rounds'][-1]['rss_mb']:.0f} MB", flush=True)  # fmt: skip
            clicked = time.perf_counter()
            teacher.get_by_text("Debrief: the class's world").wait_for()
            result["debrief_s"] = time.perf_counter() - clicked
            result["rss_mb_end"] = rss_mb(process)
            result["rss_mb_end_server_process"] = process.children()[0].memory_info().rss / 2**20
            result["rss_mb_end_sim_app_parent"] = process.memory_info().rss / 2**20
            result["peak_rss_mb"] = max(r["rss_mb"] for r in result["rounds"])
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        latencies = [r["latency_s"] for r in result["rounds"]]
        print(f"server ready {result['server_ready_s']:.1f} s; {args.pages} pages joined in "
              f"{result['pages_joined_s']:.1f} s; latency mean {sum(latencies) / len(latencies):.2f} s, "
              f"max {max(latencies):.2f} s; RSS idle {result['rss_mb_idle']:.0f} MB, joined "
              f"{result['rss_mb_joined']:.0f} MB, end {result['rss_mb_end']:.0f} MB; debrief shown "
              f"{result['debrief_s']:.2f} s after the last round; at the end the server process holds "
              f"{result['rss_mb_end_server_process']:.0f} MB, the `sim app` parent "
              f"{result['rss_mb_end_sim_app_parent']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
