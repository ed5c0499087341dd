"""The one class of a `sim app --class` server: built once per server process, shared by every session.

`sim app --class` (sim/app/serve.py) makes the class's options and tokens in the parent process, prints
the teacher and join links, and passes the options to the server process in `$SIM_APP_CLASS` (JSON),
as the plain page gets its presets folder in `$SIM_APP_SCENARIOS`. The server process builds the
`ClassRoom` from them before it answers (sim/app/server.py), so every browser session, the gate that
checks the links' tokens (sim/app/classgate.py) and the simulated students all see the same class.

Also here, because every session reads them: each world's series as arrays (computed once per world,
not once per student), and the simulated students of `--simulated-students` (a rehearsal, and the
load of a full class in tests and benchmarks).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from sim.classplay import ClassError, ClassRoom, StudentView
from sim.classplay.room import JOIN_CODE_ALPHABET
from sim.classplay.worlds import WorldState
from sim.quarters import parse_quarter, quarter_label

log = logging.getLogger(__name__)

CLASS_ENV = "SIM_APP_CLASS"
ROUNDS = {"year": 4, "quarters": 1}  # --round: quarters in a round
SIMULATED_NAME = "Simulated student {n}"
SIMULATED_KEEP = 0.4  # how often a simulated student keeps course (the rest pick one option at random)
SIMULATED_POLL_S = 0.25


@dataclass(frozen=True)
class ClassOptions:
    """What `sim app --class` was asked for, and the class's tokens (made once, in the parent)."""

    preset: str
    round_quarters: int
    rounds: int | None
    class_token: str
    teacher_token: str
    join_code: str
    simulated_students: int = 0
    join_url: str = ""  # the join link printed at start, shown on the teacher's page

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> ClassOptions:
        return cls(**json.loads(text))


def new_options(preset: str, round_length: str = "year", rounds: int | None = None,
                simulated_students: int = 0) -> ClassOptions:  # fmt: skip
    """Options with fresh tokens; ClassError (plain words) when the round length is unknown."""
    if round_length not in ROUNDS:
        raise ClassError(f"--round {round_length!r}: use quarters or year")
    if simulated_students < 0:
        raise ClassError(f"--simulated-students {simulated_students}: give 0 or more")
    return ClassOptions(
        preset, ROUNDS[round_length], rounds, class_token=secrets.token_urlsafe(16),
        teacher_token=secrets.token_urlsafe(16),
        join_code="".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(6)),
        simulated_students=simulated_students,
    )  # fmt: skip


def open_class(options: ClassOptions) -> ClassRoom:
    """The ClassRoom of these options, holding their tokens (ClassError when it cannot be opened)."""
    room = ClassRoom(options.preset, round_quarters=options.round_quarters, rounds=options.rounds)
    # The links printed by the parent carry these tokens: the class must answer to them.
    room.class_token, room.teacher_token, room.join_code = options.class_token, options.teacher_token, options.join_code
    if options.simulated_students > len(room.actors()):
        raise ClassError(f"--simulated-students {options.simulated_students}: the preset has only "
                         f"{len(room.actors())} countries and labs")  # fmt: skip
    return room


def links(host: str, port: int, options: ClassOptions) -> tuple[str, str]:
    """The teacher's link and the students' join link."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    return f"{base}?teacher={options.teacher_token}", f"{base}?join={options.class_token}"


_room: ClassRoom | None = None
_room_lock = threading.Lock()


def class_options() -> ClassOptions | None:
    """The options the server was started with ($SIM_APP_CLASS), None when it is not `--class`."""
    text = os.environ.get(CLASS_ENV)
    return ClassOptions.from_env(text) if text else None


def the_class() -> ClassRoom | None:
    """The server's class (built on first call from $SIM_APP_CLASS); None when the server is not `--class`."""
    global _room
    text = os.environ.get(CLASS_ENV)
    if not text:
        return None
    with _room_lock:
        if _room is None:
            options = ClassOptions.from_env(text)
            _room = open_class(options)
            # The replay (the preset alone) is what every "without the class's moves" number reads:
            # computed now, in the background, so the first round's consequences already have it.
            threading.Thread(target=_compute_replay, args=(_room,), name="class-replay", daemon=True).start()
            if options.simulated_students:
                SimulatedStudents(_room, options.simulated_students).start()
        return _room


_replay: WorldState | None = None


def _compute_replay(room: ClassRoom) -> None:
    global _replay
    try:
        _replay = room.replay()
    except Exception:  # the pages say "not ready"; the debrief asks again and reports a failure in words
        log.exception("the replay of the class's world could not be computed")


def replay_if_ready() -> WorldState | None:
    """The replay without the class's moves once computed (pages never wait for it), else None."""
    return _replay


# -- which browser joined as whom ---------------------------------------------------------------------

_browsers: dict[str, str] = {}  # solara's browser session id (a cookie) -> the student token it joined with
_browsers_lock = threading.Lock()


def remember_browser(browser: str, token: str) -> None:
    """This browser joined with this student token (a tab closed and the join link opened again finds it)."""
    with _browsers_lock:
        _browsers[browser] = token


def token_of_browser(browser: str) -> str | None:
    """The student token this browser joined with, if any."""
    with _browsers_lock:
        return _browsers.get(browser)


# -- simulated students -----------------------------------------------------------------------------


class SimulatedStudents(threading.Thread):
    """N students who join at once and, each round, keep course or take one of their options at random
    (seeded: the same class gets the same choices). A rehearsal before a lesson, and a full class's load."""

    def __init__(self, room: ClassRoom, count: int, seed: int = 20) -> None:
        super().__init__(name="simulated-students", daemon=True)
        self.room = room
        self.tokens: list[str] = []
        for n in range(1, count + 1):
            outcome = room.join(SIMULATED_NAME.format(n=n))
            if outcome.ok:
                self.tokens.append(outcome.value)
        self.seed = seed
        self.decided_round = 0

    def decide_all(self, round_: int) -> bool:
        """Every simulated student decides for `round_`; False when the class refused (simulating)."""
        for i, token in enumerate(self.tokens):
            view = self.room.view(token)
            if not isinstance(view, StudentView) or view.finished or not view.options:
                continue
            chooser = random.Random(self.seed * 1_000_003 + i * 1009 + round_)
            choices = [o for o in view.options if o.topic != "keep"]
            option = next((o for o in view.options if o.topic == "keep"), None)
            if choices and (option is None or chooser.random() > SIMULATED_KEEP):
                option = chooser.choice(choices)
            if option is not None and not self.room.decide(token, option.id).ok:
                return False
        return True

    def run(self) -> None:
        while True:
            try:
                status = self.room.status()
                if status.finished:
                    return
                if status.round != self.decided_round and not status.simulating and self.decide_all(status.round):
                    self.decided_round = status.round
            except Exception:  # a rehearsal aid must never take the server down
                log.exception("simulated students")
            time.sleep(SIMULATED_POLL_S)


# -- the worlds' series, once per world ---------------------------------------------------------------

_tables: dict[int, tuple[WorldState, dict[tuple[str, str], np.ndarray], list[str]]] = {}
_tables_lock = threading.Lock()
MAX_TABLES = 6  # the last two worlds and the replay, with room for a round being read while the next lands


def quarters_of_class(room: ClassRoom) -> list[str]:
    """The charts' x axis: from the preset's start to the class's last round's last quarter."""
    start = parse_quarter(room.scenario.time.start)
    end = parse_quarter(room.round_quarters_of(room.rounds)[1])
    return [quarter_label(q) for q in range(start, end + 1)]


def series(state: WorldState, metric: str, group: str, quarters: list[str]) -> list[float | None]:
    """One series of a world over `quarters` (None where the world has no value, e.g. not simulated yet)."""
    with _tables_lock:
        entry = _tables.get(id(state))
        if entry is None or entry[0] is not state:
            ts = state.timeseries
            dates = sorted(ts["date"].unique())
            index = {d: i for i, d in enumerate(dates)}
            table: dict[tuple[str, str], np.ndarray] = {}
            for (m, g), rows in ts.groupby(["metric", "group"], sort=False):
                values = np.full(len(dates), np.nan)
                values[[index[d] for d in rows["date"]]] = rows["value"].to_numpy(dtype=float)
                table[(str(m), str(g))] = values
            if len(_tables) >= MAX_TABLES:
                _tables.pop(next(iter(_tables)))
            entry = _tables[id(state)] = (state, table, dates)
    _, table, dates = entry
    found: np.ndarray | None = table.get((metric, group))
    position = {d: i for i, d in enumerate(dates)}
    out: list[float | None] = []
    for quarter in quarters:
        i = position.get(quarter)
        value = None if found is None or i is None else float(found[i])
        out.append(None if value is None or not np.isfinite(value) else value)
    return out


def summed(state: WorldState, metric: str, groups: list[str], quarters: list[str]) -> list[float | None]:
    """The sum of several series (e.g. a lab's families), None where none has a value."""
    columns = [series(state, metric, g, quarters) for g in groups]
    out: list[float | None] = []
    for values in zip(*columns, strict=True) if columns else ():
        known = [v for v in values if v is not None]
        out.append(sum(known) if known else None)
    return out or [None] * len(quarters)


def cut(values: list[float | None], quarters: list[str], last: str | None) -> list[float | None]:
    """Values up to quarter `last` (later ones None): the replay is shown only as far as the class played."""
    if last is None:
        return [None] * len(values)
    return [v if q <= last else None for v, q in zip(values, quarters, strict=True)]
