"""`sim app --class`: the class server's links and bind address, and a whole class in headless Chromium.

One server for the module: `sim app --class --simulated-students 27`, so that with the three students
driven through real pages a class of 30 decides each round; the teacher's page advances all 8 rounds,
one student reloads and is back on their country, and the debrief (the replay beside the class's world)
and the decisions CSV come at the end. Screenshots go to tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from conftest import free_port, start_sim_app, stop_group, wait_until_answers
from sim.cli import main

pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
READY_S = 90  # server start on a busy 2-core machine
ROUNDS = 8
SIMULATED = 27  # with the three students on real pages: a class of 30
PAGE_S = 60


@dataclass
class ClassServer:
    process: subprocess.Popen
    port: int
    teacher: str
    join: str
    code: str
    printed: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ClassServer]:
    """`sim app --class` on a free port (its own process group, killed at the end)."""
    out = tmp_path_factory.mktemp("class") / "server.log"
    process, port = start_sim_app(["--class", "--rounds", str(ROUNDS), "--simulated-students", str(SIMULATED)], out)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/readyz", process, READY_S, out.read_text)
        printed = out.read_text()
        teacher = re.search(r"Teacher \(keep it to yourself\): (\S+)", printed)
        join = re.search(r"Students join at: +(\S+)", printed)
        code = re.search(r"with the code ([A-Z0-9]{6})", printed)
        assert teacher and join and code, printed
        yield ClassServer(process, port, teacher.group(1), join.group(1), code.group(1), printed)
    finally:
        stop_group(process)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "classplay-server.log").write_text(out.read_text())


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# -- the server: links, tokens, address -----------------------------------------------------------------


def test_the_links_carry_separate_tokens_and_a_wrong_or_missing_token_is_refused(server: ClassServer) -> None:
    teacher_token = server.teacher.split("teacher=")[1]
    class_token = server.join.split("join=")[1]
    assert teacher_token != class_token and len(teacher_token) >= 20 and len(class_token) >= 20
    assert get(server.teacher)[0] == 200
    assert get(server.join)[0] == 200
    queries = ("join=", f"join=wrong{class_token}", f"join={teacher_token}", f"teacher={class_token}", "teacher=",
               "student=nobody")  # fmt: skip
    for link in (f"{server.base}?{q}" for q in queries):
        status, text = get(link)
        assert status == 403, link
        assert "not this class's" in text or "not (or no longer) in the class" in text
        assert "Traceback" not in text
    # without any token the server gives only the page where the class code is typed (checked below)
    assert get(server.base)[0] == 200


def test_the_server_binds_to_this_machine_only_by_default(server: ClassServer) -> None:
    assert server.teacher.startswith(f"http://127.0.0.1:{server.port}/?teacher=")
    assert server.join.startswith(f"http://127.0.0.1:{server.port}/?join=")
    listening = [
        c.laddr
        for p in psutil.Process(server.process.pid).children(recursive=True)
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and {a.ip for a in listening} == {"127.0.0.1"}, listening
    assert {a.port for a in listening} == {server.port}


def test_class_options_are_checked_before_the_server_starts(capsys) -> None:
    assert main(["app", "--rounds", "3"]) == 2
    assert "--rounds only apply with --class" in capsys.readouterr().err
    assert main(["app", "--class", "--preset", "no-such-preset", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "--class: the preset cannot be opened" in err and "Traceback" not in err
    assert main(["app", "--class", "--rounds", "99", "--port", str(free_port())]) == 2
    assert "do not fit before the preset ends" in capsys.readouterr().err
    assert main(["app", "--class", "--scenarios", ".", "--port", str(free_port())]) == 2
    assert "--class plays one --preset" in capsys.readouterr().err


# -- a class in the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def new_page(browser, url: str, width: int = 1280, height: int = 800):
    """A page in a browser context of its own (each student has their own browser)."""
    page = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True).new_page()
    page.set_default_timeout(PAGE_S * 1000)
    page.goto(url)
    return page


def join(page, name: str) -> str:
    """Join with a name (the class assigns the actor); the actor's label."""
    page.get_by_label("Your name (the teacher sees it)").fill(name)
    page.get_by_role("button", name="Join the class").click()
    page.locator(".cp-actor").wait_for()
    assert "?student=" in page.url  # the student's token is in the address: a reload rejoins
    return page.locator(".cp-actor").inner_text().removeprefix("You govern ")


def pick(page, label: str, option: re.Pattern | None = None) -> str:
    """Choose in the select labelled `label` the option matching `option` (default the first); its text."""
    page.locator(f".v-select:has(label:text-is('{label}')) .v-select__slot").click()
    menu = page.locator(".menuable__content__active")  # Vuetify keeps closed menus in the page, hidden
    choice = menu.get_by_role("option", name=option) if option else menu.get_by_role("option").first
    text = choice.inner_text().strip()
    choice.click()
    return text


def round_shown(page) -> str:
    return page.locator(".cp-round").inner_text()


def wait_text(page, selector: str, pattern: str, timeout_s: float = PAGE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not re.search(pattern, page.locator(selector).first.inner_text()):
        assert time.monotonic() < deadline, f"{selector}: {page.locator(selector).first.inner_text()!r}"
        time.sleep(0.1)


def test_a_class_of_30_joins_decides_and_plays_8_rounds_then_the_replay(server: ClassServer, browser) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    teacher = new_page(browser, server.teacher)
    teacher.get_by_text(server.code, exact=True).wait_for()  # the join code, big, for the room
    # Ana and Caro open the join link; Bo types the class code on the bare address.
    ana = new_page(browser, server.join)
    bo = new_page(browser, server.base)
    bo.get_by_label("Class code").fill("WRONG1")
    bo.get_by_role("button", name="Enter the class").click()
    bo.get_by_text("That is not this class's code").wait_for()
    bo.get_by_label("Class code").fill(server.code.lower())
    bo.get_by_role("button", name="Enter the class").click()
    caro = new_page(browser, server.join)
    actors = {name: join(page, name) for name, page in (("Ana", ana), ("Bo", bo), ("Caro", caro))}
    assert len(set(actors.values())) == 3  # one student per actor
    assert "Round 1 of 8" in round_shown(ana)

    # Ana invests, Bo keeps course, Caro does not decide (their country follows the model's own rules).
    ana.get_by_role("button", name=re.compile(r"^Invest in digital capacity")).click()
    wait_text(ana, ".cp-decided", r"Decided: Invest in digital capacity")
    bo.get_by_role("button", name=re.compile(r"^Invest in digital capacity")).click()
    wait_text(bo, ".cp-decided", r"Decided: Invest in digital capacity")
    bo.get_by_role("button", name=re.compile(r"^✓ Invest in digital capacity")).click()  # takes it back
    wait_text(bo, ".cp-undecided", r"Not decided yet")
    bo.get_by_role("button", name=re.compile(r"^Keep course")).click()
    wait_text(bo, ".cp-decided", r"Decided: Keep course")
    wait_text(teacher, ".cp-topic", rf"Decided: {SIMULATED + 2} of {SIMULATED + 3} students")
    assert teacher.locator(".cp-undecided", has_text="Caro").count() == 1
    teacher.get_by_role("button", name=re.compile(r"^3 min timer")).click()
    wait_text(teacher, ".cp-clock", r"^[23]:\d\d left")
    shoot(teacher, "classplay-teacher-round1")
    shoot(ana, "classplay-student-round1")

    latencies = []
    for k in range(1, ROUNDS + 1):
        started = time.perf_counter()
        teacher.get_by_role("button", name=re.compile(rf"^End (round {k}|the last round) and simulate")).click()
        after = "All 8 rounds played" if k == ROUNDS else rf"Round {k + 1} of 8"
        for page in (ana, bo, caro):
            wait_text(page, ".cp-round", after)
        latencies.append(time.perf_counter() - started)
        if k == 1:
            # the consequences of the round, in words, for Ana's country
            ana.locator(".cp-consequences li").first.wait_for()  # widgets update one by one: wait for it
            assert f"{actors['Ana']}'s" in ana.locator(".cp-consequences").inner_text()
            shoot(ana, "classplay-student-round2")
            ana.reload()  # a closed tab or a reload comes back to the same country
            ana.locator(".cp-actor").wait_for()
            assert ana.locator(".cp-actor").inner_text() == f"You govern {actors['Ana']}"
            assert "Round 2 of 8" in round_shown(ana)
            # Caro closes her tab and opens the join link again in the same browser: one click back
            context = caro.context
            caro.close()
            caro = context.new_page()
            caro.set_default_timeout(PAGE_S * 1000)
            caro.goto(server.join)
            caro.get_by_role("button", name="Continue as Caro").click()
            caro.locator(".cp-actor").wait_for()
            assert caro.locator(".cp-actor").inner_text() == f"You govern {actors['Caro']}"
    wait_text(teacher, ".cp-round", "All 8 rounds played")

    # The debrief: both worlds side by side and the differences, on the teacher's page and the students'.
    teacher.get_by_text("Debrief: the class's world beside the same world without the class's moves").wait_for()
    table = teacher.locator(".cp-table").first.inner_text()
    assert "with the class's moves" in table and "without (replay)" in table
    assert actors["Ana"] in table
    ana.get_by_text("The end: your country with and without the class's moves").wait_for()
    shoot(teacher, "classplay-teacher-debrief")
    shoot(ana, "classplay-student-debrief")

    # The CSV of every decision, with its round.
    with teacher.expect_download() as download:
        teacher.get_by_text("Download every decision (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert {"round", "quarter", "student", "actor", "decision", "option", "claims"} <= set(rows[0])
    assert {int(r["round"]) for r in rows} == set(range(1, ROUNDS + 1))
    assert any(r["student"] == "Ana" and r["round"] == "1" and r["decision"] == "capacity" for r in rows)
    bo_round1 = [r["decision"] for r in rows if r["student"] == "Bo" and r["round"] == "1"]
    assert bo_round1 == ["keep"]  # the investment taken back is not a decision
    assert not any(r["student"] == "Caro" for r in rows)
    simulated = {r["student"] for r in rows if r["student"].startswith("Simulated student")}
    assert len(simulated) == SIMULATED
    # The teacher gives Bo another country, then removes Caro from the class.
    teacher.get_by_text("Remove a student, or give them another country or lab").click()
    pick(teacher, "Student", re.compile(r"^Bo \(s\d+\)$"))
    new_actor = pick(teacher, "Free country or lab")
    teacher.get_by_role("button", name="Give them this one").click()
    teacher.get_by_text(f"Bo now governs {new_actor}").wait_for()
    wait_text(bo, ".cp-actor", rf"^You govern {re.escape(new_actor)}$")
    pick(teacher, "Student", re.compile(r"^Caro \(s\d+\)$"))
    teacher.get_by_role("button", name="Remove from the class").click()
    teacher.get_by_text(re.compile(r"^Caro left; .* is free$")).wait_for()
    caro.get_by_text("the teacher removed you from the class").wait_for()
    for page in (teacher, ana, bo, caro):
        shown = page.locator("body").inner_text()
        assert "Traceback" not in shown and "fault of ours" not in shown
    print("advance-to-pages latency per round (s):", [round(x, 2) for x in latencies])
