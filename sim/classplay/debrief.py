"""What the class looks at: key series of both worlds, each actor's consequences in words, the
end-of-class comparison with the replay, and the CSV of every decision."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pandas as pd

from sim.classplay.actors import BLOC_WORDS, Actor
from sim.classplay.decisions import Decision
from sim.classplay.worlds import WorldState
from sim.world import World

ORIGINS = ("US", "CN", "EU")
# The curves a class watches: world open share, AI use by origin bloc, influence by bloc (GDP-weighted).
KEY_SERIES: tuple[tuple[str, str], ...] = (
    ("adoption_share", "openness=open"),
    *(("adoption_share", f"origin={b}") for b in (*ORIGINS, "other")),
    *(("influence", f"bloc={b},weight=gdp") for b in (*ORIGINS, "other")),
)
CSV_COLUMNS = ["round", "quarter", "student", "student_id", "actor", "actor_kind", "decision", "option",
               "label", "claims", "rule_id", "time"]


def key_series(timeseries: pd.DataFrame, countries: list[str]) -> pd.DataFrame:
    """The key series (`KEY_SERIES`) plus each listed country's AI use by origin and adoption rate:
    columns `step, date, metric, group, value`."""
    wanted = set(KEY_SERIES)
    for code in countries:
        wanted |= {("adoption_share", f"country={code},origin={b}") for b in (*ORIGINS, "other")}
        wanted.add(("adoption_rate", f"country={code}"))
    keys = pd.MultiIndex.from_frame(timeseries[["metric", "group"]])
    rows = timeseries[keys.isin(list(wanted))]
    return rows[["step", "date", "metric", "group", "value"]].reset_index(drop=True)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _lab_share(state: WorldState, lab: str, world: World, quarter: str | None = None) -> float | None:
    """Share of the world's AI use on the lab's families."""
    values = [state.value("adoption_share", f"family={f.id}", quarter) for f in world.families if f.lab == lab]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _measures(actor: Actor, world: World) -> list[tuple[str, str, str]]:
    """(words, metric, group) of the numbers shown for an actor."""
    if actor.kind == "lab":
        return []
    name = actor.name
    rows = [(f"Share of {name}'s firms using AI", "adoption_rate", f"country={actor.code}")]
    rows += [(f"Share of {name}'s AI use on {BLOC_WORDS[b]} models", "adoption_share",
              f"country={actor.code},origin={b}") for b in ORIGINS]
    return rows


def consequences(actor: Actor, before: WorldState | None, after: WorldState, world: World,
                 replay: WorldState | None = None) -> list[str]:
    """What the last round did to the actor, in plain words: each number at the end of the previous
    round -> at the end of this one, and (when the replay is computed) without the class's moves."""
    def line(words: str, old: float | None, new: float | None, alone: float | None) -> str:
        text = f"{words}: {_pct(old)} -> {_pct(new)}" if old is not None else f"{words}: {_pct(new)}"
        return text + (f" (without the class's moves: {_pct(alone)})" if alone is not None else "")

    quarter = after.last_quarter
    lines = []
    if actor.kind == "lab":
        old = _lab_share(before, actor.code, world) if before is not None else None
        alone = _lab_share(replay, actor.code, world, quarter) if replay is not None else None
        lines.append(line(f"Share of the world's AI use on {actor.name}'s models", old,
                          _lab_share(after, actor.code, world), alone))
        is_open = after.lab_open.get(actor.code)
        if is_open is not None:
            lines.append(f"{actor.name}'s next releases: {'open weights' if is_open else 'closed models only'}")
        return lines
    for words, metric, group in _measures(actor, world):
        old = before.value(metric, group) if before is not None else None
        alone = replay.value(metric, group, quarter) if replay is not None else None
        lines.append(line(words, old, after.value(metric, group), alone))
    return lines


def headline_comparison(actors: list[Actor], state: WorldState, replay: WorldState, world: World) -> pd.DataFrame:
    """At the last played quarter, each actor's numbers and the world's, with and without the moves."""
    quarter = state.last_quarter
    rows = []
    world_measures = [("World: share of AI use on open weights", "adoption_share", "openness=open")]
    world_measures += [(f"World: share of AI use on {BLOC_WORDS[b]} models", "adoption_share", f"origin={b}")
                       for b in ORIGINS]
    world_measures += [(f"World: {b} influence (GDP-weighted)", "influence", f"bloc={b},weight=gdp") for b in ORIGINS]
    for words, metric, group in world_measures:
        rows.append(("world", words, state.value(metric, group), replay.value(metric, group, quarter)))
    for actor in actors:
        if actor.kind == "lab":
            rows.append((actor.label, f"Share of the world's AI use on {actor.name}'s models",
                         _lab_share(state, actor.code, world), _lab_share(replay, actor.code, world, quarter)))
        for words, metric, group in _measures(actor, world):
            rows.append((actor.label, words, state.value(metric, group), replay.value(metric, group, quarter)))
    frame = pd.DataFrame(rows, columns=["actor", "measure", "with_moves", "without_moves"])
    frame["difference"] = frame["with_moves"] - frame["without_moves"]
    frame.insert(0, "quarter", quarter)
    return frame


def decisions_csv(decisions: list[Decision]) -> str:
    """One row per decision (columns `CSV_COLUMNS`; time in UTC, ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in sorted(decisions, key=lambda d: (d.round, d.time)):
        when = datetime.fromtimestamp(d.time, UTC).isoformat(timespec="seconds")
        rule_id = d.rule_id() if d.option.topic not in ("programme", "alliance", "keep") else (
            d.option.id.split(":")[1] if d.option.topic != "keep" else "")
        writer.writerow([d.round, d.quarter, d.student, d.student_id, d.actor.id, d.actor.kind, d.option.topic,
                         d.option.id, d.option.label, " ".join(d.option.claims), rule_id, when])
    return out.getvalue()
