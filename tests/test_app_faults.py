"""The classroom page under attack (issue 19): each test replays one attack on a real `sim app` on a free port.

- a web page elsewhere opening websockets to the page (Origin) or naming itself as the page (Host);
- a flood of websockets opened and dropped: sessions and threads stay bounded and are released;
- `/_solara/cdn/<anything>`: never fetched from the internet, never deletes the local copy;
- junk in the presets folder (an editor's dangling lock link, a pipe, a folder, bad YAML);
- SIGTERM / SIGINT to `sim app` with a student connected, and `sim app` killed outright.

No browser: websockets and plain HTTP, as an attacker would. The servers use a stand-in copy of solara's
browser files (a few small files in a temporary folder), so no test can damage the real one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import websockets

from conftest import BASELINE, SCENARIOS, default_signals, free_port, wait_until_answers
from sim.app import presets as presets_mod
from sim.app.guard import Gate, OriginError, normalize_origin
from sim.app.presets import list_presets
from sim.app.serve import BROWSER_PACKAGES
from sim.cli import main

pytestmark = pytest.mark.xdist_group("app_faults")  # each module server holds threads; keep them on one worker

READY_S = 90  # server start on a busy 2-core machine
MAX_SESSIONS = 10
IDLE_EXPIRY_S = 2


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a test run before this one in the same process (Playwright's
    sync API in the browser tests) can leave an event loop running in the main thread, where asyncio.run
    refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fake_assets(folder: Path) -> Path:
    """A stand-in for solara's browser files: each package's package.json and one script."""
    for name in BROWSER_PACKAGES:
        (folder / name / "dist").mkdir(parents=True)
        (folder / name / "package.json").write_text("{}")
        (folder / name / "dist" / "index.js").write_text("// stand-in\n")
    return folder


class App:
    """A `sim app` process (its own process group) and its address."""

    def __init__(self, tmp: Path, *args: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        env = {**os.environ, "SOLARA_ASSETS_PROXY_CACHE_DIR": str(fake_assets(tmp / f"cdn-{self.port}"))}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sim", "app", "--port", str(self.port), *args],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=default_signals,
            )  # fmt: skip
        wait_until_answers(self.url + "/readyz", self.process, READY_S, self.log.read_text)
        self.server = psutil.Process(self.process.pid).children()[0]  # the process that serves the page

    def sessions(self) -> int:
        with urllib.request.urlopen(self.url + "/resourcez", timeout=10) as response:
            return json.loads(response.read())["kernels"]["total"]

    def threads(self) -> int:
        return self.server.num_threads()

    def stop(self) -> None:
        """Kill whatever is left of its process group (also a server that outlived `sim app`)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, App]]:
    """The module's `sim app`s, started at once (each takes seconds to import the page): "main" with a small
    session limit and a short expiry for the attacks that do not stop it, and one per way of stopping it."""
    tmp = tmp_path_factory.mktemp("app")
    limits = ("--max-sessions", str(MAX_SESSIONS), "--idle-expiry", str(IDLE_EXPIRY_S))
    wanted = {"main": limits, "SIGTERM": (), "SIGINT": (), "SIGKILL": ()}
    with ThreadPoolExecutor(len(wanted)) as pool:
        futures = {name: pool.submit(App, tmp / name, *args) for name, args in wanted.items()}
    started = {name: future.result() for name, future in futures.items() if future.exception() is None}
    try:
        for future in futures.values():
            future.result()  # raise the first failure to start, after keeping the others to stop
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def app(servers: dict[str, App]) -> App:
    return servers["main"]


def ws_url(app: App, kernel: str | None = None) -> str:
    kernel = kernel or uuid.uuid4().hex
    return f"ws://127.0.0.1:{app.port}/jupyter/api/kernels/{kernel}/channels?session_id={kernel}"


async def open_and_drop(url: str, origin: str | None, hold_s: float = 0.05) -> int:
    """Open a websocket, hold it briefly, drop it: 101 when accepted, else the HTTP status of the refusal."""
    try:
        async with websockets.connect(url, origin=origin, open_timeout=30) as ws:  # type: ignore[arg-type]
            await asyncio.sleep(hold_s)
            await ws.close()
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- 4. Origin: another web site's page cannot open sessions -----------------------------------------


def test_a_websocket_from_another_web_site_is_refused_before_a_session_exists(app: App) -> None:
    before = app.sessions()
    assert run_async(open_and_drop(ws_url(app), "http://evil.example")) == 403
    assert run_async(open_and_drop(ws_url(app), "null")) == 403  # a sandboxed frame or a file:// page
    assert run_async(open_and_drop(ws_url(app), None)) == 403  # every browser sends an Origin
    assert app.sessions() == before  # refused before solara made a session
    assert run_async(open_and_drop(ws_url(app), f"http://localhost:{app.port}")) == 101  # the page itself
    # Plain HTTP: a foreign page's request (closing a session), and a foreign name for this machine.
    status, body = get(app.url + f"/_solara/api/close/{uuid.uuid4().hex}", {"Origin": "http://evil.example"}, "POST")
    assert status == 403 and b"--allow-origin" in body
    status, _ = get(app.url + "/", {"Host": f"evil.example:{app.port}"})  # DNS rebinding
    assert status == 403
    assert get(app.url + "/")[0] == 200


def test_allow_origin_widens_the_check_to_the_address_students_use() -> None:
    calls: list[str] = []

    async def solara(scope, receive, send) -> None:
        calls.append(scope["path"])

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    def websocket(gate: Gate, origin: str, host: str = "192.168.1.20:8765") -> None:
        scope = {"type": "websocket", "path": "/x", "headers": [(b"origin", origin.encode()), (b"host", host.encode())]}
        run_async(gate(scope, receive, send))

    lan = Gate(solara, allowed_origins=["HTTP://192.168.1.20:8765/"], sessions=dict)
    websocket(lan, "http://192.168.1.20:8765")
    websocket(lan, "http://192.168.1.21:8765")
    websocket(Gate(solara, sessions=dict), "http://192.168.1.20:8765")
    assert calls == ["/x"] and [m["type"] for m in sent] == ["websocket.close", "websocket.close"]
    assert normalize_origin("https://Example.org:443") == "https://example.org"
    for bad in ("192.168.1.20:8765", "http://x/page", "*", "http://*.example"):
        with pytest.raises(OriginError):
            normalize_origin(bad)


def test_bad_app_options_are_usage_errors(capsys) -> None:
    assert main(["app", "--allow-origin", "192.168.1.20:8765"]) == 2
    assert "like http://192.168.1.20:8765" in capsys.readouterr().err
    assert main(["app", "--max-sessions", "0"]) == 2
    assert "--max-sessions 0: allow at least 1 session" in capsys.readouterr().err
    assert main(["app", "--idle-expiry", "inf"]) == 2  # solara would fail to start on it
    assert "--idle-expiry inf: give a number of seconds above 0" in capsys.readouterr().err


# -- 4. Flood: sessions and threads stay bounded and come back ---------------------------------------


def test_a_flood_of_websockets_keeps_sessions_and_threads_bounded_and_releases_them(app: App) -> None:
    idle_threads = app.threads()
    origin = f"http://127.0.0.1:{app.port}"

    async def flood() -> list[int]:
        statuses: list[int] = []
        for _ in range(8):  # 200 connections, 25 at once: more than the limit at every wave
            statuses += await asyncio.gather(*(open_and_drop(ws_url(app), origin) for _ in range(25)))
            peak_sessions.append(app.sessions())
            peak_threads.append(app.threads())
        return statuses

    peak_sessions: list[int] = []
    peak_threads: list[int] = []
    statuses = run_async(flood())
    assert max(peak_sessions) <= MAX_SESSIONS, peak_sessions
    # one thread per open session, plus the thread pool that closes sessions (anyio: at most 40)
    assert max(peak_threads) <= idle_threads + MAX_SESSIONS + 40, peak_threads
    assert set(statuses) == {101, 403} and statuses.count(101) >= MAX_SESSIONS  # served up to the limit
    assert app.log.read_text().count("refused a session") <= 3  # a line per 10 s, not one per refusal
    started = time.monotonic()
    assert get(app.url + "/readyz")[0] == 200 and time.monotonic() - started < 5  # still answering
    # Released: the gone sessions after --idle-expiry, their idle threads after anyio's 10 s.
    deadline = time.monotonic() + 30
    while app.sessions() or app.threads() > idle_threads + 2:
        assert time.monotonic() < deadline, (app.sessions(), app.threads(), idle_threads)
        get(app.url + "/readyz")  # a request lets anyio retire its idle worker threads
        time.sleep(1)


def test_a_full_page_tells_a_new_visitor_so(app: App) -> None:
    origin = f"http://127.0.0.1:{app.port}"

    async def hold_all_then_visit() -> tuple[list[int], int, tuple[int, bytes]]:
        held = [await websockets.connect(ws_url(app), origin=origin) for _ in range(MAX_SESSIONS)]  # type: ignore[arg-type]
        try:
            one_more = await open_and_drop(ws_url(app), origin)
            page = await asyncio.to_thread(get, app.url + "/")
            return [ws.protocol.state.value for ws in held], one_more, page
        finally:
            for ws in held:
                await ws.close()

    _, one_more, (status, body) = run_async(hold_all_then_visit())
    assert one_more == 403
    assert status == 503 and b"The classroom page is full" in body and b"--max-sessions" in body
    deadline = time.monotonic() + 20
    while get(app.url + "/")[0] != 200:  # free again once they have gone
        assert time.monotonic() < deadline
        time.sleep(0.5)


# -- 5. The CDN proxy: no fetch from outside, no deleting the local copy ------------------------------


def test_unknown_cdn_files_are_a_fast_404_and_the_local_copy_stays(app: App) -> None:
    cdn = Path(app.server.environ()["SOLARA_ASSETS_PROXY_CACHE_DIR"])
    for path in ("left-pad@1.3.0/index.js", "no-such-package", "requirejs@2.3.6/../../../etc/passwd"):
        started = time.monotonic()
        assert get(f"{app.url}/_solara/cdn/{path}")[0] == 404
        assert time.monotonic() - started < 2  # solara's proxy retries a CDN for 7 s, blocking a worker thread
    # A folder of the local copy asked for as a file: solara's proxy deleted the folder.
    assert get(f"{app.url}/_solara/cdn/requirejs@2.3.6/dist")[0] == 404
    assert (cdn / "requirejs@2.3.6" / "dist" / "index.js").is_file()
    assert get(f"{app.url}/_solara/cdn/requirejs@2.3.6/dist/index.js") == (200, b"// stand-in\n")
    assert not list(cdn.rglob("*.tmp"))  # nothing fetched and written


# -- 6. The presets folder: junk is listed or skipped, never a traceback, never a hang ----------------


def test_a_presets_folder_with_lock_links_pipes_and_junk_still_lists_the_presets(tmp_path: Path) -> None:
    (tmp_path / "baseline.yaml").write_text(BASELINE.read_text())
    (tmp_path / "data").symlink_to(SCENARIOS / "data")
    (tmp_path / ".#baseline.yaml").symlink_to("teacher@laptop.4242:1701")  # emacs's lock file: a dangling link
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "deleted.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it waits for a writer forever
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "broken.yaml").write_text("schema_version: 1\nname: [\n")
    (tmp_path / "lesson.yaml").write_text("schema_version: 1\nname: lesson\nextends: pipe.yaml\n")
    result: list = []
    thread = threading.Thread(target=lambda: result.append(list_presets(tmp_path)), daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert result, "listing the presets hung (or raised: see the thread's traceback above)"
    presets, skipped = result[0]
    assert [p.name for p in presets] == ["baseline"]
    reasons = dict(line.split(": ", 1) for line in skipped)
    assert set(reasons) == {"gone.yaml", "pipe.yaml", "folder.yaml", "broken.yaml", "lesson.yaml"}  # no lock file
    assert reasons["gone.yaml"] == "a link to a file that does not exist"
    assert reasons["pipe.yaml"].startswith("not a regular file")
    assert reasons["folder.yaml"] == "a folder, not a scenario file"
    assert reasons["broken.yaml"].startswith("broken.yaml:3:")
    assert "'pipe.yaml': is a named pipe (FIFO)" in reasons["lesson.yaml"]
    assert str(tmp_path) not in "".join(skipped)  # no server paths for the class to see


def test_an_unexpected_fault_while_checking_a_preset_is_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "baseline.yaml").write_text(BASELINE.read_text())
    (tmp_path / "data").symlink_to(SCENARIOS / "data")

    def broken(_path):
        raise RuntimeError("a fault of ours")

    monkeypatch.setattr("sim.scenario.prepare", broken)
    monkeypatch.setattr(presets_mod, "_checked", {})
    assert list_presets(tmp_path) == ([], ["baseline.yaml: could not be checked (RuntimeError: a fault of ours)"])


# -- 7. Signals stop the whole server --------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 0)])
def test_a_stop_signal_stops_sim_app_and_its_server_with_a_student_connected(servers, signum, code) -> None:
    app = servers[signal.Signals(signum).name]

    async def connected_student_then_signal() -> None:
        async with websockets.connect(ws_url(app), origin=f"http://localhost:{app.port}"):
            os.kill(app.process.pid, signum)  # to `sim app` alone, as `kill` or a service manager does
            await asyncio.to_thread(app.process.wait, 25)

    run_async(connected_student_then_signal())
    assert app.process.returncode == code
    assert not app.server.is_running()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", app.port), timeout=2):
        pass
    if signum == signal.SIGTERM:
        assert "sim: stopped by SIGTERM; the classroom page has stopped" in app.log.read_text()


def test_the_server_stops_when_sim_app_is_killed_outright(servers) -> None:
    app = servers["SIGKILL"]
    os.kill(app.process.pid, signal.SIGKILL)  # no chance to pass anything on
    app.process.wait()
    app.server.wait(timeout=15)
