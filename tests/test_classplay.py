"""Class play (sim/classplay): decisions change the world only from their quarter on, the replay is
the preset's own run, and a class of 30 students deciding at once plays 8 rounds."""

from __future__ import annotations

import csv
import io
import random
import threading
import time

import pandas as pd
import pytest

from conftest import BASELINE
from sim.api import run
from sim.classplay import ClassError, ClassRoom, Outcome, StudentView
from sim.classplay.worlds import simulate
from sim.scenario import prepare


@pytest.fixture(scope="module")
def baseline():
    return prepare(BASELINE)


def student(room: ClassRoom, name: str, actor: str | None = None) -> str:
    joined = room.join(name, actor)
    assert joined.ok, joined.message
    return joined.value


def rows_before(frame: pd.DataFrame, quarter: str) -> pd.DataFrame:
    return frame[frame["date"] < quarter].reset_index(drop=True)


def value(frame: pd.DataFrame, metric: str, group: str, date: str) -> float:
    return float(frame.loc[(frame.metric == metric) & (frame.group == group) & (frame.date == date), "value"].iloc[0])


def test_replay_is_the_presets_own_run_byte_for_byte(baseline):
    room = ClassRoom(baseline, round_quarters=4, rounds=2, first_quarter="2026Q1")
    plain = run(BASELINE)
    replay = room.replay()
    assert replay.timeseries.to_csv(index=False) == plain.timeseries.to_csv(index=False)
    assert replay.events.to_csv(index=False) == plain.events.to_csv(index=False)


def test_a_ban_changes_the_world_only_from_its_quarter_and_lowers_the_banned_origins_share(baseline):
    room = ClassRoom(baseline, round_quarters=4, rounds=3, first_quarter="2025Q1")
    ana = student(room, "Ana", "country:IDN")
    assert room.decide(ana, "keep").ok
    assert room.advance().ok  # round 1 (2025): nobody changes anything
    assert room.decide(ana, "ban:origin=CN:all").ok
    assert room.advance().ok  # round 2 (2026): Indonesia bans Chinese models from 2026Q1
    ours, replay = room.world().timeseries, room.replay().timeseries
    # Identical, row for row, up to the quarter before the decision (common random numbers) ...
    before = rows_before(ours, "2026Q1")
    assert len(before) and before.equals(rows_before(replay[replay.date <= "2026Q4"], "2026Q1"))
    # ... and different from it: Chinese models' share of Indonesia's AI use falls to nothing.
    group = "country=IDN,origin=CN"
    assert value(replay, "adoption_share", group, "2026Q4") > 0.05
    assert value(ours, "adoption_share", group, "2026Q4") == 0.0
    assert value(ours, "countries_banning", "origin=CN", "2026Q1") == value(
        replay, "countries_banning", "origin=CN", "2026Q1") + 1
    lines = room.view(ana).consequences
    assert any(line.startswith("Share of Indonesia's AI use on Chinese models:") and line.split(": ")[1].startswith(
        f"{100 * value(ours, 'adoption_share', group, '2025Q4'):.0f}% -> 0%") for line in lines), lines


def test_a_world_without_decisions_is_the_replay_cut_at_the_round(baseline):
    room = ClassRoom(baseline, round_quarters=1, rounds=2, first_quarter="2024Q3")
    student(room, "Bo")
    assert room.advance().ok and room.advance().ok
    ours, replay = room.world().timeseries, room.replay().timeseries
    assert ours.equals(replay[replay.date <= "2024Q4"].reset_index(drop=True))
    assert room.status().world_quarter == "2024Q4"


def test_a_lab_closing_its_next_releases_and_a_country_declining_a_programme(baseline):
    room = ClassRoom(baseline, round_quarters=4, rounds=1, first_quarter="2025Q1")
    lab, india = student(room, "Cy", "lab:alibaba"), student(room, "Di", "country:IND")
    options = [o.id for o in room.view(lab).options]
    assert options == ["keep", "release:open", "release:closed"]
    assert room.decide(lab, "release:closed").ok
    assert room.decide(india, "programme:openai-for-countries:decline").ok
    assert room.advance().ok
    world = room.world()
    replay = simulate(baseline.scenario, baseline.world, baseline.scenario.seed, "2025Q4")  # no moves, same quarter
    assert replay.lab_open["alibaba"] and not world.lab_open["alibaba"]  # Qwen stays open without the move
    assert "IND" not in world.partners["openai-for-countries"] and "IND" in world.declined["openai-for-countries"]
    assert "IND" in replay.partners["openai-for-countries"]  # the announced deal of 2025Q4, by payoff
    said = "Alibaba Cloud (Qwen team) switches to closed models only by its own decision"
    assert any(said in e.text for e in room.feed())
    assert room.view(lab).consequences[-1] == "Alibaba Cloud (Qwen team)'s next releases: closed models only"


def test_students_rejoin_and_the_teacher_kicks_and_reassigns(baseline):
    room = ClassRoom(baseline, round_quarters=4, rounds=1, first_quarter="2026Q1", max_students=2)
    ana = student(room, "  Ana  ", "country:IDN")
    view = room.view(ana)
    assert isinstance(view, StudentView) and view.actor.code == "IDN" and view.name == "Ana"
    assert room.view(ana).actor == view.actor  # a closed tab reopened with the same token: same country
    bo = room.join("Bo", "country:IDN")  # taken: the next free actor, the largest economy
    assert bo.ok and room.view(bo.value).actor.id == "country:USA"
    full = room.join("Cy")
    assert not full.ok and "full" in full.message
    bo_id = room.view(bo.value).student_id
    refused = room.reassign(bo_id, "country:IDN")
    assert not refused.ok and "another student" in refused.message
    assert room.reassign(bo_id, "lab:mistral").ok and room.view(bo.value).actor.id == "lab:mistral"
    assert room.kick(bo_id).ok
    gone = room.view(bo.value)
    assert isinstance(gone, Outcome) and not gone.ok and "removed" in gone.message
    assert room.join("Cy", "lab:mistral").ok  # the kicked student's actor is free again
    assert [s.name for s in room.students()] == ["Ana", "Cy"]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda room, token: room.decide(token, "ban:origin=XX:all"), "cannot decide"),
        (lambda room, token: room.decide(token, "ban:origin=other:all"), "cannot decide"),
        (lambda room, token: room.decide("not-a-token", "keep"), "not a student"),
        (lambda room, token: room.view("not-a-token"), "not a student"),
        (lambda room, token: room.join("   "), "give your name"),
        (lambda room, token: room.join("Ed", "country:XYZ"), "unknown actor"),
        (lambda room, token: room.kick("s99"), "no student"),
        (lambda room, token: room.reassign("s1", "lab:nobody"), "unknown actor"),
        (lambda room, token: room.start_timer(-5), "1 second to an hour"),
        (lambda room, token: room.undo(token, "capacity:invest"), "has not decided"),
    ],
)
def test_bad_requests_are_refused_in_plain_words(baseline, call, words):
    room = ClassRoom(baseline, round_quarters=4, rounds=1, first_quarter="2026Q1")
    token = student(room, "Ana", "country:IDN")
    outcome = call(room, token)
    assert isinstance(outcome, Outcome) and not outcome.ok and words in outcome.message


def test_decisions_wait_while_a_round_is_simulated_and_the_page_stays_responsive(baseline, monkeypatch):
    import sim.classplay.room as room_module

    entered, release = threading.Event(), threading.Event()
    real = room_module.simulate

    def slow(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    room = ClassRoom(baseline, round_quarters=4, rounds=2, first_quarter="2026Q1")
    ana = student(room, "Ana", "country:IDN")
    monkeypatch.setattr(room_module, "simulate", slow)
    advancing = threading.Thread(target=room.advance)
    advancing.start()
    assert entered.wait(10)
    assert room.status().simulating  # the lock is free while the round is simulated
    refused = room.decide(ana, "capacity:invest")
    assert not refused.ok and "being simulated" in refused.message
    assert not room.advance().ok
    release.set()
    advancing.join()
    assert room.status().round == 2 and room.decide(ana, "capacity:invest").ok


def test_a_class_that_cannot_be_opened_says_why(baseline):
    with pytest.raises(ClassError, match="1 quarter or 4"):
        ClassRoom(baseline, round_quarters=2)
    with pytest.raises(ClassError, match="do not fit"):
        ClassRoom(baseline, round_quarters=4, rounds=9)
    with pytest.raises(ClassError, match="preset cannot be opened"):
        ClassRoom("no-such-preset")
    with pytest.raises(ClassError, match="whole number"):
        ClassRoom(baseline, seed="7")


def test_a_choice_taken_back_or_replaced_is_not_a_decision(baseline):
    room = ClassRoom(baseline, round_quarters=1, rounds=1, first_quarter="2026Q1")
    ana = student(room, "Ana", "country:IDN")
    assert room.decide(ana, "privacy:stricter").ok and room.decide(ana, "privacy:looser").ok
    assert room.decide(ana, "capacity:invest").ok
    assert [o.id for o in room.view(ana).chosen] == ["privacy:looser", "capacity:invest"]
    assert room.undo(ana, "capacity:invest").ok
    assert room.decide(ana, "keep").ok and [o.id for o in room.view(ana).chosen] == ["keep"]
    assert room.decide(ana, "privacy:stricter").ok and [o.id for o in room.view(ana).chosen] == ["privacy:stricter"]
    assert room.advance().ok
    rows = list(csv.DictReader(io.StringIO(room.decisions_csv())))
    assert [(r["option"], r["rule_id"], r["quarter"]) for r in rows] == [
        ("privacy:stricter", "class-r1-idn-privacy-stricter", "2026Q1")]
    assert "class-r1-idn-privacy-stricter" in room.world().events["rule_id"].tolist()


def test_thirty_students_deciding_at_once_play_eight_rounds_then_the_replay(baseline):
    started = time.perf_counter()
    clock = [1_800_000_000.0]
    room = ClassRoom(baseline, round_quarters=4, rounds=8, clock=lambda: clock[0])
    tokens = [student(room, f"student {i}") for i in range(30)]
    assert room.admits(room.join_code.lower()) and room.admits(room.class_token) and not room.admits("nope")
    assert room.is_teacher(room.teacher_token) and not room.is_teacher(room.class_token)
    failures: list[str] = []

    def play(i: int, round_: int, barrier: threading.Barrier) -> None:
        rng = random.Random(i * 100 + round_)
        barrier.wait()
        view = room.view(tokens[i])
        if not isinstance(view, StudentView):
            failures.append(view.message)
            return
        if i % 10 == 9:  # a few students leave it to the model
            return
        for _ in range(2):  # a second choice on the same topic replaces the first
            outcome = room.decide(tokens[i], rng.choice(view.options).id)
            if not outcome.ok:
                failures.append(outcome.message)

    for round_ in range(1, 9):
        assert room.start_timer(120).ok and room.status().seconds_left == 120
        barrier = threading.Barrier(30)
        threads = [threading.Thread(target=play, args=(i, round_, barrier)) for i in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        status = room.status()
        assert len(status.decided) == 27 and len(status.undecided) == 3
        outcome = room.advance()
        assert outcome.ok, outcome.message
        clock[0] += 300
    assert room.finished and not room.advance().ok
    assert not room.decide(tokens[0], "keep").ok

    decisions = room.decisions()
    table = list(csv.DictReader(io.StringIO(room.decisions_csv())))
    assert len(table) == len(decisions) and {int(r["round"]) for r in table} == set(range(1, 9))
    assert all(row["claims"] or row["option"] == "keep" for row in table)
    assert sum(1 for e in room.feed() if "did not decide" in e.text) == 3 * 8
    # The world with the moves is the preset with the decisions' rules, as `sim run --set` writes it.
    replayed = run(BASELINE, overrides=room.overrides())
    assert room.world().timeseries.to_csv(index=False) == replayed.timeseries.to_csv(index=False)
    debrief = room.debrief()
    assert set(debrief["actor"]) >= {s.actor.label for s in room.students()}
    assert (debrief["difference"] != 0).any()  # thirty governments changed something
    assert set(room.comparison()["date"]) == {f"{y}Q{q}" for y in range(2023, 2031) for q in range(1, 5)}
    assert len(room.timings()) == 8
    assert time.perf_counter() - started < 40  # about 10 s on a shared 2-core machine
