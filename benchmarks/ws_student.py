"""A student of the classroom page without a browser: solara's own protocol over the websocket.

What a browser does, message for message (recorded once from a real page with Playwright's
`framesent`/`framereceived`), minus drawing:
1. GET the page: solara's session cookie (`solara-session-id`);
2. open `/jupyter/api/kernels/<kernel id>/channels?session_id=<page id>` (both ids are chosen by the
   page's script: fresh uuids) with the cookie and the page's `Origin`;
3. `kernel_info_request`, then a `comm_open` on solara's control target and a `comm_msg` asking it to
   `run` the app at `/`: the server answers with the widget tree, one `comm_open` per widget (its
   whole state), and a `finished` on the control comm;
4. a preset is picked as the preset menu does (`update` of the `v_model` of the Select labelled
   "Preset"), Play is pressed as the button does (a `custom` `click` event to the Btn labelled
   "Play"), and from then on every `update` of the `.sim-date` widget's text carries the next quarter
   ("2024Q1 · quarter 5 of 32"), stamped with time.monotonic() as the frame arrives;
5. leaving: the websocket closes and the page's unload beacon (`/_solara/api/close/...`) is sent.

benchmarks/classroom.py (`--clients ws`) runs a class of these in one asyncio loop; tests/test_app_ws.py
runs a few against a real `sim app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

DATE_CLASS = "sim-date"  # the page's date counter (sim/app/page.py: DateCounter)
QUARTER = re.compile(r"quarter (\d+) of (\d+)")
PROTOCOL_VERSION = "5.2"  # what the page's jupyter client puts in its headers
# A click as the browser sends it (a serialised MouseEvent, trimmed to the fields that tell what it
# was: the server's on_click reads none of them).
CLICK = {
    "event": "click",
    "data": {"isTrusted": True, "type": "click", "button": 0, "buttons": 0, "detail": 1, "pointerType": "mouse",
             "ctrlKey": False, "shiftKey": False, "altKey": False, "metaKey": False, "bubbles": True,
             "cancelable": True, "composed": True},
}  # fmt: skip


class StudentError(RuntimeError):
    """The page did not answer as a browser expects (refused, full, closed, or too slow)."""


@dataclass
class Visit:
    """What one student saw: when the page became usable, when Play was pressed, each quarter's arrival."""

    preset: str
    usable_s: float = float("nan")  # from the GET of the page to the date counter and Play received
    played_at: float | None = None  # time.monotonic() when the Play click was sent
    quarters: list[tuple[float, int]] = field(default_factory=list)  # (time.monotonic() of arrival, quarter)
    dates: list[str] = field(default_factory=list)  # each new quarter's date as shown ("2024Q1")
    total: int = 0  # quarters in the story ("of 32")

    def gaps(self) -> list[float]:
        """Seconds between successive quarters (each quarter once, in order of arrival)."""
        return [b[0] - a[0] for a, b in zip(self.quarters, self.quarters[1:], strict=False)]

    def first_quarter_s(self) -> float | None:
        """Seconds from pressing Play to the first quarter's date arriving."""
        if self.played_at is None or not self.quarters:
            return None
        return self.quarters[0][0] - self.played_at


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _decode(frame: str | bytes) -> dict[str, Any]:
    """A message from the server: JSON text, or solara's binary framing (JSON first, then buffers)."""
    if isinstance(frame, str):
        return json.loads(frame)
    count = struct.unpack("!i", frame[:4])[0]
    offsets = struct.unpack("!" + "I" * count, frame[4 : 4 * (count + 1)])
    end = offsets[1] if count > 1 else len(frame)
    return json.loads(frame[offsets[0] : end].decode("utf-8"))


async def _http(url: str, method: str, cookie: str = "", origin: str = "") -> tuple[int, dict[str, list[str]], bytes]:
    """One HTTP/1.1 request without a library (the loop must not block): status, headers, body."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             "Accept-Encoding: identity", "Content-Length: 0"]  # fmt: skip
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if origin:
        lines.append(f"Origin: {origin}")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(status_line.split()[1]), headers, body


class Student:
    """One browser's worth of solara session, driven over the websocket.

    `open()` loads the page, `choose_preset()`/`choose_speed()`/`play()` act like the controls,
    `watch()` waits for quarters, `close()` leaves like a closed tab. The arrival time of every new
    quarter is in `visit.quarters`.
    """

    def __init__(self, base_url: str, preset: str, timeout_s: float = 120) -> None:
        self.base = base_url.rstrip("/")
        self.origin = f"{urlsplit(self.base).scheme}://{urlsplit(self.base).netloc}"
        self.timeout_s = timeout_s
        self.visit = Visit(preset)
        self.kernel_id = str(uuid.uuid4())  # chosen by the page's script, as here
        self.page_id = str(uuid.uuid4())  # the jupyter client's session id: solara's page id
        self.cookie = ""
        self.models: dict[str, dict[str, Any]] = {}  # comm id -> widget state
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._idle: dict[str, asyncio.Event] = {}  # msg_id of a request -> set when the server is done with it
        self._app_ready = asyncio.Event()  # solara's control comm said `finished`
        self._changed = asyncio.Event()  # any new quarter (watch() waits on it)
        self._closed: BaseException | None = None

    # -- finding widgets by what a person sees ----------------------------------------------------
    def _find(self, model: str, test: Any) -> str | None:
        for comm_id, state in self.models.items():
            if state.get("_model_name") == model and test(state):
                return comm_id
        return None

    def date_widget(self) -> str | None:
        """The comm id of the date counter (`.sim-date`)."""
        return self._find("VuetifyTemplateModel", lambda s: (s.get("attributes") or {}).get("class") == DATE_CLASS)

    def preset_menu(self) -> str | None:
        """The comm id of the Select labelled "Preset"."""
        return self._find("SelectModel", lambda s: s.get("label") == "Preset")

    def button(self, label: str) -> str | None:
        """The comm id of the button whose text is `label` (Play, Pause, Step, ...)."""
        return self._find("BtnModel", lambda s: label in (s.get("children") or []))

    # -- the protocol ------------------------------------------------------------------------------
    async def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        """One shell message, in the page's own form; returns its msg_id."""
        if self._ws is None:
            raise StudentError("not connected")
        msg_id = str(uuid.uuid4())
        self._idle[msg_id] = asyncio.Event()
        message = {
            "buffers": [], "channel": "shell", "content": content,
            "header": {"date": _now_iso(), "msg_id": msg_id, "msg_type": msg_type, "session": self.page_id,
                       "username": "", "version": PROTOCOL_VERSION},
            "metadata": {}, "parent_header": {},
        }  # fmt: skip
        await self._ws.send(json.dumps(message, separators=(",", ":")))
        return msg_id

    async def _comm_msg(self, comm_id: str, data: dict[str, Any]) -> str:
        return await self._send("comm_msg", {"comm_id": comm_id, "data": data})

    async def _read(self) -> None:
        """Every frame from the server: the widget states kept current, waiters woken."""
        assert self._ws is not None
        date_id: str | None = None
        try:
            async for frame in self._ws:
                arrived = time.monotonic()
                message = _decode(frame)
                kind = message.get("msg_type")
                content = message.get("content") or {}
                if kind == "status" and content.get("execution_state") == "idle":
                    waiter = self._idle.get((message.get("parent_header") or {}).get("msg_id", ""))
                    if waiter is not None:
                        waiter.set()
                elif kind == "comm_open":
                    self.models[content["comm_id"]] = dict((content.get("data") or {}).get("state") or {})
                    date_id = None  # a new widget may be the date counter drawn anew
                elif kind == "comm_close":
                    self.models.pop(content.get("comm_id", ""), None)
                    date_id = None
                elif kind == "comm_msg":
                    data = content.get("data") or {}
                    comm_id = content.get("comm_id", "")
                    if data.get("method") == "finished":
                        self._app_ready.set()
                    elif data.get("method") in ("update", "echo_update") and comm_id in self.models:
                        state = data.get("state") or {}
                        self.models[comm_id].update(state)
                        date_id = date_id or self.date_widget()
                        if comm_id == date_id and "unsafe_innerHTML" in state:
                            self._note_date(str(state["unsafe_innerHTML"]), arrived)
        except ConnectionClosed as error:
            self._closed = error
        except Exception as error:  # a frame this client cannot read: the benchmark must say so, not hang
            self._closed = error
        finally:
            self._closed = self._closed or StudentError("the websocket closed")
            self._app_ready.set()
            self._changed.set()
            for waiter in self._idle.values():
                waiter.set()

    def _note_date(self, text: str, arrived: float) -> None:
        match = QUARTER.search(text)
        if not match:
            return
        quarter, self.visit.total = int(match.group(1)), int(match.group(2))
        if not self.visit.quarters or quarter > self.visit.quarters[-1][1]:
            self.visit.quarters.append((arrived, quarter))
            self.visit.dates.append(text.split("·", 1)[0].strip())
            self._changed.set()

    async def _wait(self, event: asyncio.Event, what: str) -> None:
        try:
            await asyncio.wait_for(event.wait(), self.timeout_s)
        except TimeoutError:
            raise StudentError(f"no answer in {self.timeout_s:g} s while {what}") from None
        if self._closed is not None:
            raise StudentError(f"the server closed the session while {what}: {self._closed}")

    # -- what a student does -----------------------------------------------------------------------
    async def open(self) -> None:
        """Load the page until its date counter and Play button are there (sets `visit.usable_s`)."""
        started = time.monotonic()
        status, headers, body = await _http(self.base + "/", "GET")
        if status != 200:
            raise StudentError(f"GET / answered {status}: {body.decode('utf-8', 'replace').strip()[:200]}")
        cookies = [c.split(";", 1)[0] for c in headers.get("set-cookie", [])]
        self.cookie = "; ".join(c for c in cookies if c.startswith("solara-session-id"))
        if not self.cookie:
            raise StudentError("the page set no solara-session-id cookie")
        ws_base = "ws" + self.base[len("http") :]
        url = f"{ws_base}/jupyter/api/kernels/{self.kernel_id}/channels?session_id={self.page_id}"
        try:
            self._ws = await connect(url, origin=Origin(self.origin), additional_headers={"Cookie": self.cookie},
                                     max_size=None, open_timeout=self.timeout_s)  # fmt: skip
        except Exception as error:  # refused (the page is full, a foreign origin) or no server
            raise StudentError(f"the websocket was refused: {error}") from None
        self._reader = asyncio.create_task(self._read())
        await self._send("kernel_info_request", {})
        control = str(uuid.uuid4())
        await self._send("comm_open", {"comm_id": control, "target_name": "solara.control", "data": {}})
        args = {"path": "/", "dark": False, "themes": {"light": {}, "dark": {}}, "appName": None}
        await self._comm_msg(control, {"method": "run", "args": args})
        await self._wait(self._app_ready, "the page loaded")
        if self.date_widget() is None or self.button("Play") is None:
            raise StudentError("the page has no date counter or no Play button")
        self.visit.usable_s = time.monotonic() - started

    async def choose_preset(self, name: str) -> None:
        """Pick a preset in the menu and wait until the server has loaded it."""
        menu = self.preset_menu()
        if menu is None:
            raise StudentError("the page has no Preset menu")
        if name not in (self.models[menu].get("items") or []):
            raise StudentError(f"no preset {name!r} in the menu")
        if self.models[menu].get("v_model") == name:
            return
        sent = await self._comm_msg(menu, {"method": "update", "state": {"v_model": name}, "buffer_paths": []})
        await self._wait(self._idle[sent], f"loading preset {name}")

    async def choose_speed(self, speed: str) -> None:
        """Press one of the speed buttons (a toggle group: its `v_model` is the pressed button's index)."""
        button = self.button(speed)
        group = self._find("BtnToggleModel", lambda s: f"IPY_MODEL_{button}" in (s.get("children") or []))
        if button is None or group is None:
            raise StudentError(f"no speed button {speed!r}")
        index = self.models[group]["children"].index(f"IPY_MODEL_{button}")
        sent = await self._comm_msg(group, {"method": "update", "state": {"v_model": index}, "buffer_paths": []})
        await self._wait(self._idle[sent], f"choosing speed {speed}")

    async def play(self) -> None:
        """Press Play (the moment is `visit.played_at`)."""
        button = self.button("Play")
        if button is None:
            raise StudentError("no Play button (already playing?)")
        self.visit.played_at = time.monotonic()
        await self._comm_msg(button, {"method": "custom", "content": CLICK})

    async def watch(self, until: int | None = None, limit_s: float | None = None) -> Visit:
        """Wait until quarter `until` (default: the story's last) has arrived, or `limit_s` has passed
        (StudentError then, with how far it got)."""
        deadline = time.monotonic() + (limit_s or self.timeout_s)
        while True:
            last = self.visit.quarters[-1][1] if self.visit.quarters else 0
            goal = until or self.visit.total or None
            if goal is not None and last >= goal:
                return self.visit
            if self._closed is not None:
                raise StudentError(f"the session closed at quarter {last}: {self._closed}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentError(f"only {last} quarters arrived in {limit_s or self.timeout_s:g} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def close(self) -> None:
        """Leave as a closed tab does: the websocket goes, then the page's unload beacon."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader
        with contextlib.suppress(OSError):
            await _http(f"{self.base}/_solara/api/close/{self.kernel_id}?session_id={self.page_id}", "POST",
                        cookie=self.cookie, origin=self.origin)  # fmt: skip


async def play_through(base_url: str, preset: str, speed: str = "normal", until: int | None = None,
                       timeout_s: float = 300) -> Visit:  # fmt: skip
    """One student's lesson: open the page, pick `preset`, set `speed`, press Play, watch to quarter
    `until` (the story's end by default), leave. Raises StudentError when the page does not play."""
    student = Student(base_url, preset, timeout_s)
    try:
        await student.open()
        await student.choose_preset(preset)
        if speed != "normal":
            await student.choose_speed(speed)
        await student.play()
        return await student.watch(until)
    finally:
        await student.close()
