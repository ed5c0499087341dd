"""`ClassRoom`: one class playing one shared world, round by round. The API a classroom page calls.

Thread-safe: every method takes the class's one lock, so many student sessions may call it at once.
Simulating a round (`advance`) runs outside the lock, so students' pages stay responsive; decisions
sent meanwhile are refused with a message (the next round's options depend on the round's outcome).
Student-facing methods never raise: they return an `Outcome` whose `message` the page shows.

A round is 1 or 4 quarters. Decisions of round k act from round k's first quarter; `advance` then
simulates the preset plus every decision so far, from the start through round k's last quarter
(`worlds.py`). Actors whose student did not decide follow the model's own rules (nothing is added).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from sim.classplay.actors import Actor, playable_actors
from sim.classplay.debrief import consequences, decisions_csv, headline_comparison
from sim.classplay.decisions import KEEP, Decision, Option, options_for, rules_with, scenario_with
from sim.classplay.feed import FeedEntry, decision_entry, model_entries
from sim.classplay.roster import Roster, RosterError, Student
from sim.classplay.worlds import WorldState, simulate
from sim.errors import InputError
from sim.quarters import parse_quarter, quarter_label
from sim.scenario import Prepared, prepare

log = logging.getLogger(__name__)

MAX_STUDENTS = 60
ROUND_LENGTHS = (1, 4)  # quarters: a quarter or a year
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
T = TypeVar("T")


class ClassError(ValueError):
    """A class that cannot be opened as asked (bad preset, round length, rounds); the message says why."""


@dataclass(frozen=True)
class Outcome:
    """What a request did: `ok`, a plain-words `message` for the page, and a `value` when there is one."""

    ok: bool
    message: str = ""
    value: Any = None


@dataclass(frozen=True)
class RoundInfo:
    """The teacher's view of the round in play."""

    round: int  # 1-based; rounds + 1 once the class has finished
    rounds: int
    first_quarter: str  # the quarters this round simulates
    last_quarter: str
    decided: list[tuple[str, str, str]]  # (student id, name, actor label) who decided this round
    undecided: list[tuple[str, str, str]]
    seconds_left: float | None  # the round timer; None when not started
    simulating: bool
    finished: bool
    world_quarter: str | None  # last quarter simulated so far (None: nothing yet)


@dataclass(frozen=True)
class StudentView:
    """What one student's page shows."""

    student_id: str
    name: str
    actor: Actor
    round: int
    first_quarter: str
    last_quarter: str
    options: list[Option]
    chosen: list[Option]  # this round's decisions of the student's actor so far
    consequences: list[str]  # what the last round did to the actor, in words
    seconds_left: float | None
    finished: bool
    simulating: bool
    history: list[Decision] = field(default_factory=list)  # the actor's decisions in earlier rounds


class ClassRoom:
    """One class: a preset world, a roster, rounds, the feed, and the replay without the class's moves.

    `preset`: a built-in scenario name, a YAML path, or a `Prepared` scenario. `round_quarters`: 1 or 4.
    `rounds`: how many rounds (default: as many as fit from `first_quarter` to the preset's end, at most 8).
    `first_quarter`: the first quarter the class decides for (default the preset's start); the world
    before it is the preset's own. `seed`: the scenario seed (default the preset's); the worlds use
    replicate 0's seed for it, as `sim run` does. `clock`: seconds since the epoch (tests pass their own).
    """

    def __init__(
        self,
        preset: str | os.PathLike[str] | Prepared,
        *,
        round_quarters: int = 4,
        rounds: int | None = None,
        first_quarter: str | None = None,
        seed: int | None = None,
        max_students: int = MAX_STUDENTS,
        actors: list[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            self.prepared = preset if isinstance(preset, Prepared) else prepare(preset)
        except InputError as error:
            raise ClassError(f"the preset cannot be opened: {error}") from None
        scenario = self.prepared.scenario
        if round_quarters not in ROUND_LENGTHS:
            raise ClassError(f"a round is 1 quarter or 4 (a year), not {round_quarters}")
        start, end = parse_quarter(scenario.time.start), parse_quarter(scenario.time.end)
        try:
            first = parse_quarter(first_quarter) if first_quarter else start
        except ValueError as error:
            raise ClassError(f"first quarter: {error}") from None
        if not start <= first <= end:
            raise ClassError(f"the first quarter must be within the preset's {scenario.time.start}-{scenario.time.end}")
        fit = (end - first + 1) // round_quarters
        rounds = min(fit, 8) if rounds is None else rounds
        if not 1 <= rounds <= fit:
            raise ClassError(f"{rounds} rounds of {round_quarters} quarter(s) from {quarter_label(first)} do not fit "
                             f"before the preset ends ({scenario.time.end}); at most {fit}")
        if not 1 <= max_students <= 500:
            raise ClassError("a class has 1 to 500 students")
        every = playable_actors(self.prepared.world)
        if actors is not None:
            known = {a.id: a for a in every}
            unknown = [a for a in actors if a not in known]
            if unknown:
                raise ClassError(f"unknown actors {', '.join(unknown)}; actors look like country:IDN or lab:meta")
            every = [known[a] for a in actors]
        self.scenario = scenario
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63):
            raise ClassError(f"a seed is a whole number from 0 to 2^63-1, not {seed!r}")
        self.seed = scenario.seed if seed is None else seed
        self.round_quarters, self.rounds, self.first = round_quarters, rounds, first
        self.class_token = secrets.token_urlsafe(16)  # in the join link
        self.teacher_token = secrets.token_urlsafe(16)  # the teacher's page only
        self.join_code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(6))
        self._clock = clock
        self._lock = threading.RLock()
        self._roster = Roster(every, max_students)
        self._round = 1
        self._decisions: list[Decision] = []
        self._feed: list[FeedEntry] = []
        self._deadline: float | None = None
        self._simulating = False
        self._options: dict[str, list[Option]] = {}  # actor id -> this round's options
        self._replay: WorldState | None = None
        self._timings: list[dict[str, float]] = []  # per advance: cpu_s, wall_s
        # The world before the first round: the preset's own (empty when the class starts at the start).
        before = simulate(scenario, self.prepared.world, self.seed, quarter_label(first - 1)) if first > start else None
        self._states: list[WorldState | None] = [before]  # index k: the world after round k
        self._feed.append(FeedEntry(0, quarter_label(first), "class",
                                    f"Class opened on '{scenario.name}': {rounds} rounds of "
                                    f"{'a year' if round_quarters == 4 else 'a quarter'} from {quarter_label(first)}"))

    # -- small helpers ------------------------------------------------------------------------------
    def round_quarters_of(self, k: int) -> tuple[str, str]:
        """First and last quarter of round k (1-based)."""
        first = self.first + (k - 1) * self.round_quarters
        return quarter_label(first), quarter_label(first + self.round_quarters - 1)

    @property
    def finished(self) -> bool:
        return self._round > self.rounds

    def _seconds_left(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - self._clock())

    def _state(self) -> WorldState | None:
        return self._states[-1]

    def _guard(self, action: Callable[[], T]) -> T | Outcome:
        """Run a request under the lock; plain-words errors become a refused Outcome, never a traceback."""
        try:
            with self._lock:
                return action()
        except (RosterError, ClassError) as error:
            return Outcome(False, str(error))
        except Exception as error:  # a fault of ours: the page shows one line, the server log the traceback
            log.exception("class play request failed")
            return Outcome(False, f"internal fault ({type(error).__name__}); the teacher's server log has details")

    def _actor_options(self, actor: Actor) -> list[Option]:
        options = self._options.get(actor.id)
        if options is None:
            state = self._state() or self._start_state()
            taken = {d.option.id for d in self._decisions if d.actor.id == actor.id}
            options = options_for(actor, self.scenario, self.prepared.world, state, taken)
            self._options[actor.id] = options
        return options

    def _start_state(self) -> WorldState:
        """What the options read when nothing has been simulated yet: no partners, labs as at the start."""
        empty = pd.DataFrame(columns=["metric", "group", "date", "value"])
        labs = {lab.id: any(f.lab == lab.id and f.openness == "open" for f in self.prepared.world.families)
                for lab in self.prepared.world.labs}
        return WorldState(self.first, empty, empty, lab_open=labs)

    def _round_decisions(self, actor_id: str | None = None) -> list[Decision]:
        return [d for d in self._decisions
                if d.round == self._round and (actor_id is None or d.actor.id == actor_id)]

    # -- students ----------------------------------------------------------------------------------
    def admits(self, key: str) -> bool:
        """Whether `key` (the join link's token, or the join code typed by hand) opens this class."""
        return secrets.compare_digest(str(key), self.class_token) or str(key).strip().upper() == self.join_code

    def is_teacher(self, token: str) -> bool:
        """Whether `token` is the teacher's (only the teacher's page holds `teacher_token`)."""
        return secrets.compare_digest(str(token), self.teacher_token)

    def actors(self) -> list[tuple[Actor, bool]]:
        """Every playable actor and whether it is free."""
        with self._lock:
            taken = self._roster.taken()
            return [(a, a.id not in taken) for a in self._roster.actors]

    def join(self, name: str, wanted_actor: str | None = None) -> Outcome:
        """A student joins: `value` is their secret token (keep it in the browser: it rejoins)."""
        def go() -> Outcome:
            student = self._roster.join(name, wanted_actor, self._clock())
            self._feed.append(FeedEntry(self._round if not self.finished else 0, self.round_quarters_of(
                min(self._round, self.rounds))[0], "class", f"{student.name} joins as {student.actor.label}"))
            return Outcome(True, f"You govern {student.actor.label}", student.token)
        return self._guard(go)

    def view(self, token: str) -> StudentView | Outcome:
        """A student's page (rejoining with the same token gives the same actor)."""
        def go() -> StudentView:
            student = self._roster.by_token(token)
            actor = student.actor
            k = min(self._round, self.rounds)
            first, last = self.round_quarters_of(k)
            options = [] if self.finished else self._actor_options(actor)
            chosen = [d.option for d in self._round_decisions(actor.id)]
            history = [d for d in self._decisions if d.actor.id == actor.id and d.round < self._round]
            return StudentView(student.id, student.name, actor, self._round, first, last, options, chosen,
                               self._consequences(actor), self._seconds_left(), self.finished,
                               self._simulating, history)
        return self._guard(go)

    def decide(self, token: str, option_id: str) -> Outcome:
        """A student takes one of their actor's options this round (replacing an earlier choice on the
        same topic; `keep` replaces them all)."""
        def go() -> Outcome:
            student = self._roster.by_token(token)
            if self.finished:
                return Outcome(False, "the class has played its last round")
            if self._simulating:
                return Outcome(False, "the round is being simulated; decide again in a moment")
            options = {o.id: o for o in self._actor_options(student.actor)}
            option = options.get(str(option_id))
            if option is None:
                return Outcome(False, f"{student.actor.label} cannot decide {option_id!r} now; "
                                      f"choose one of the options shown")
            actor = student.actor.id
            mine = self._round_decisions(actor)
            replaced = [d for d in mine if d.option.topic == option.topic or option.id == KEEP
                        or d.option.id == KEEP]
            self._decisions = [d for d in self._decisions if d not in replaced]
            first, _ = self.round_quarters_of(self._round)
            self._decisions.append(Decision(self._round, first, student.name, student.id, student.actor,
                                            option, self._clock()))
            return Outcome(True, f"Decided: {option.label}")
        return self._guard(go)

    def undo(self, token: str, option_id: str) -> Outcome:
        """A student takes back one of this round's choices (their actor then keeps course on that topic)."""
        def go() -> Outcome:
            student = self._roster.by_token(token)
            if self._simulating or self.finished:
                return Outcome(False, "this round's decisions are closed")
            mine = [d for d in self._round_decisions(student.actor.id) if d.option.id == option_id]
            if not mine:
                return Outcome(False, f"{student.actor.label} has not decided {option_id!r} this round")
            self._decisions = [d for d in self._decisions if d not in mine]
            return Outcome(True, f"Taken back: {mine[0].option.label}")
        return self._guard(go)

    # -- teacher -----------------------------------------------------------------------------------
    def kick(self, student_id: str) -> Outcome:
        """Remove a student (their actor becomes free; decisions already made stay)."""
        def go() -> Outcome:
            student = self._roster.kick(student_id)
            return Outcome(True, f"{student.name} left; {student.actor.label} is free")
        return self._guard(go)

    def reassign(self, student_id: str, actor_id: str) -> Outcome:
        """Give a student another (free) actor; the actor's options are its own from now on."""
        def go() -> Outcome:
            student = self._roster.reassign(student_id, actor_id)
            return Outcome(True, f"{student.name} now governs {student.actor.label}")
        return self._guard(go)

    def students(self) -> list[Student]:
        """The students in the class now (not the kicked), in the order they joined."""
        with self._lock:
            return self._roster.active()

    def start_timer(self, seconds: float) -> Outcome:
        """Set the round's deadline `seconds` from now; the teacher's `advance` is what ends the round."""
        def go() -> Outcome:
            if not 0 < float(seconds) <= 3600:
                return Outcome(False, "a round timer is 1 second to an hour")
            self._deadline = self._clock() + float(seconds)
            return Outcome(True, f"{float(seconds):g} s on the clock")
        return self._guard(go)

    def status(self) -> RoundInfo:
        """Who has decided this round, the timer, and where the world is."""
        with self._lock:
            k = min(self._round, self.rounds)
            first, last = self.round_quarters_of(k)
            decided_actors = {d.actor.id for d in self._round_decisions()}
            rows = [(s.id, s.name, s.actor.label, s.actor.id in decided_actors) for s in self._roster.active()]
            state = self._state()
            return RoundInfo(self._round, self.rounds, first, last,
                             [r[:3] for r in rows if r[3] and not self.finished],
                             [r[:3] for r in rows if not r[3] or self.finished], self._seconds_left(),
                             self._simulating, self.finished, state.last_quarter if state else None)

    def advance(self) -> Outcome:
        """End the round: simulate it with every decision so far; `value` holds cpu_s and wall_s."""
        with self._lock:
            if self._simulating:
                return Outcome(False, "the round is already being simulated")
            if self.finished:
                return Outcome(False, "the class has played its last round")
            k = self._round
            decisions = list(self._decisions)
            try:
                scenario = scenario_with(self.scenario, decisions)
            except Exception as error:  # a decision the rules refuse: a fault of ours, not the class's
                log.exception("class play: decisions do not validate")
                return Outcome(False, f"internal fault: the decisions do not make a valid scenario ({error})")
            self._simulating = True
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            state = simulate(scenario, self.prepared.world, self.seed, self.round_quarters_of(k)[1])
        except Exception as error:
            log.exception("class play: round %d did not simulate", k)
            with self._lock:
                self._simulating = False
            return Outcome(False, f"internal fault: round {k} did not simulate ({type(error).__name__})")
        timing = {"round": float(k), "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
        with self._lock:
            first, last = self.round_quarters_of(k)
            made = [d for d in decisions if d.round == k]
            self._feed.extend(decision_entry(d) for d in made if d.option.id != KEEP)
            decided = {d.actor.id for d in made}
            for student in self._roster.active():
                if student.actor.id not in decided:
                    self._feed.append(FeedEntry(k, first, "decision",
                                                f"{student.actor.name} ({student.name}) did not decide: "
                                                "its own course continues"))
            self._feed.extend(model_entries(state.events, first, last, k))
            self._states.append(state)
            if len(self._states) > 2:  # pages read the last two worlds only; older ones go (memory)
                self._states[-3] = None
            self._timings.append(timing)
            self._round = k + 1
            self._deadline = None
            self._options.clear()
            self._simulating = False
        return Outcome(True, f"Round {k} ({first}-{last}) played", timing)

    # -- what the class watches --------------------------------------------------------------------
    def feed(self, since: int = 0) -> list[FeedEntry]:
        """Feed entries from index `since` on (a page polls with the count it already shows)."""
        with self._lock:
            return self._feed[since:]

    def replay(self) -> WorldState:
        """The preset alone on the same seed, to its end: the world without the students' moves
        (what `sim.api.run` gives for the preset). Computed once."""
        with self._lock:
            replay = self._replay
        if replay is None:
            replay = simulate(self.scenario, self.prepared.world, self.seed)
            with self._lock:
                self._replay = self._replay or replay
                replay = self._replay
        return replay

    def world(self) -> WorldState | None:
        """The world with the students' moves, as far as played (None before anything is simulated)."""
        with self._lock:
            return self._state()

    def comparison(self) -> pd.DataFrame:
        """Both worlds' key series, side by side for the quarters played: columns `date, metric, group,
        with_moves, without_moves` (see `debrief.KEY_SERIES` and each played country's use by origin)."""
        from sim.classplay.debrief import key_series

        state, replay = self.world(), self.replay()
        countries = [s.actor.code for s in self.students() if s.actor.kind == "country"]
        if state is None:
            return pd.DataFrame(columns=["date", "metric", "group", "with_moves", "without_moves"])
        ours = key_series(state.timeseries, countries).rename(columns={"value": "with_moves"})
        theirs = key_series(replay.timeseries, countries).rename(columns={"value": "without_moves"})
        return ours.merge(theirs, on=["step", "date", "metric", "group"], how="left")

    def _consequences(self, actor: Actor) -> list[str]:
        if len(self._states) < 2 or self._states[-1] is None:
            return []
        return consequences(actor, self._states[-2], self._states[-1], self.prepared.world, self._replay)

    def consequences(self, actor_id: str) -> list[str]:
        """What the last round did to an actor, in words
        (`Share of Indonesia's AI use on Chinese models: 12% -> 15%`)."""
        with self._lock:
            actor = self._roster.by_id.get(actor_id)
            return [] if actor is None else self._consequences(actor)

    # -- debrief -------------------------------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        """Every decision taken, in the order taken (replaced choices left out)."""
        with self._lock:
            return list(self._decisions)

    def decisions_csv(self) -> str:
        """The CSV of every decision with its round (columns in docs/classplay.md)."""
        return decisions_csv(self.decisions())

    def overrides(self) -> list[str]:
        """`--set` overrides that reproduce the class's world with `sim run PRESET --seed S`."""
        import json

        changed = rules_with(self.scenario, self.decisions())
        return [f"rules.{rule_id}={json.dumps(fields)}" for rule_id, fields in changed.items()]

    def debrief(self) -> pd.DataFrame:
        """Headline numbers at the last played quarter with and without the class's moves, per actor
        played and for the world: columns `actor, measure, with_moves, without_moves, difference`."""
        state = self.world()
        if state is None:
            return pd.DataFrame(columns=["actor", "measure", "with_moves", "without_moves", "difference"])
        replay = self.replay()
        with self._lock:
            actors = list(dict.fromkeys([s.actor for s in self._roster.active()] + [d.actor for d in self._decisions]))
        return headline_comparison(actors, state, replay, self.prepared.world)

    def timings(self) -> list[dict[str, float]]:
        """Per advance: round, cpu_s and wall_s of its simulation."""
        with self._lock:
            return list(self._timings)

    def csv_bytes(self) -> bytes:
        """The decisions CSV as UTF-8 bytes, for a download button."""
        return self.decisions_csv().encode("utf-8")
