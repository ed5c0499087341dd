"""The class's narrated feed: who did what each round, merged with what the model narrated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from sim.classplay.decisions import RULE_PREFIX, Decision


@dataclass(frozen=True)
class FeedEntry:
    """One line of the feed, like `Round 3 (2025Q2): Indonesia (Ana) joins OpenAI's programme [D1.1]`."""

    round: int  # 0: before the first round
    quarter: str
    kind: Literal["decision", "model", "class"]  # a student's decision, a model event, or the class itself
    text: str
    claims: tuple[str, ...] = ()

    def __str__(self) -> str:
        claims = f" [{', '.join(self.claims)}]" if self.claims else ""
        where = f"Round {self.round} ({self.quarter})" if self.round else self.quarter
        return f"{where}: {self.text}{claims}"


def decision_entry(decision: Decision) -> FeedEntry:
    """The feed line of a decision taken."""
    option = decision.option
    text = f"{decision.actor.name} ({decision.student}) decided: {option.label[0].lower()}{option.label[1:]}"
    return FeedEntry(decision.round, decision.quarter, "decision", text, option.claims)


def model_entries(events: pd.DataFrame, first: str, last: str, round_: int) -> list[FeedEntry]:
    """The model's narrated events of the quarters `first`..`last` (inclusive), leaving out the
    starts of the decisions' own rules (the decision lines say it in plainer words)."""
    from sim.quarters import parse_quarter

    low, high = parse_quarter(first), parse_quarter(last)
    entries = []
    for row in events.itertuples(index=False):
        if not low <= parse_quarter(str(row.date)) <= high:
            continue
        if str(row.rule_id).startswith(RULE_PREFIX) and "starts:" in str(row.event):
            continue
        claims = tuple(str(row.sources).split()) if isinstance(row.sources, str) else ()
        entries.append(FeedEntry(round_, str(row.date), "model", str(row.event), claims))
    return entries
