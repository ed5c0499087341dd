"""The quarter as an ordered list of phases: `GeopoliticsModel.step()` runs `PHASES` in order.

The schedule is data (Starsim's `Loop`): each phase has a name, the function that runs it on the
whole model (every agent of a kind at once), the claims it encodes and a one-line description.
`sim explain --schedule` prints it, with a scenario's rules next to the phases they act in, and the
ODD protocol's process overview is generated from it (docs/ODD.md, section 3).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sim.model import alignment, countries, firms, labs, metrics, rules

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.scenario.schema import Scenario


@dataclass(frozen=True)
class Phase:
    """One phase of the quarter: `function(model)` acts on the whole model."""

    name: str
    function: Callable[[GeopoliticsModel], None]
    claims: tuple[str, ...]
    description: str
    # Which hook of the rules' effects the phase calls: their policy effect (`apply`) or their
    # endogenous behaviour (`act`); None when rules do not act in it.
    rule_hook: Literal["apply", "act"] | None = None

    @property
    def module(self) -> str:
        """Where the phase's code lives (`sim.model.labs`)."""
        return self.function.__module__


PHASES: tuple[Phase, ...] = (
    Phase(
        "rules",
        rules.apply,
        (),
        "reset the policy state; each rule active this quarter writes its effect; starts and ends are logged",
        rule_hook="apply",
    ),
    Phase(
        "labs",
        labs.step,
        ("D3.2", "D4.1", "D4.3", "D4.4", "D4.6", "D4.11", "D3.1", "D0.7"),
        "families due are released; capability grows from effective compute and know-how (catch-up on "
        "reachable releases); labs choose the openness of their next release; papers are written",
    ),
    Phase(
        "countries.alignment",
        alignment.step,
        ("D4.4", "D1.5", "D1.10", "D0.7"),
        "technological alignment moves: controls push targets from the issuer, programmes and alliances "
        "pull partners, tension polarises, all revert to the structural value",
    ),
    Phase(
        "countries.capacity",
        countries.grow,
        ("D0.8", "D1.3", "D4.6"),
        "digital readiness and AI compute grow (capacity building, chip access, domestic substitution)",
    ),
    Phase(
        "countries.offers_and_bans",
        rules.act,
        ("D1.4", "D1.5", "D4.8"),
        "rules with country behaviour act: programme offers accepted or declined by payoff, alliance "
        "candidates join, endogenous bans raised or lifted",
        rule_hook="act",
    ),
    Phase(
        "countries.governments",
        countries.choose_government_lines,
        ("D1.1", "D4.8"),
        "each government picks the release line it uses, under the same access rules as firms",
    ),
    Phase(
        "firms",
        firms.step,
        ("D0.8", "D2.3", "D2.5", "D4.8", "D4.10", "D4.11"),
        "non-users below their sector's ceiling adopt at a Bass hazard times the value of what is on "
        "offer; users re-evaluate (stale lines over their upgrade cycle, unavailable lines must); "
        "choosers pick by a multinomial logit over the lines available to them",
    ),
    Phase("metrics", metrics.collect, (), "every registry metric is recorded for the quarter"),
)


def rules_in_phase(phase: Phase, scenario: Scenario) -> list[str]:
    """Ids of the scenario's rules that act in `phase` (in the order they act)."""
    if phase.rule_hook == "apply":
        return list(scenario.rules)
    if phase.rule_hook == "act":
        return [rule_id for rule_id, rule in scenario.rules.items() if rule.acts_in_countries_phase()]
    return []


def schedule_text(scenario: Scenario | None = None) -> str:
    """The schedule in plain words; with a scenario, its rules under the phases they act in."""
    lines = ["Each quarter runs these phases, in this order (sim/model/schedule.py):"]
    for number, phase in enumerate(PHASES, start=1):
        claims = f" [{', '.join(phase.claims)}]" if phase.claims else ""
        lines.append(f"  {number}. {phase.name} ({phase.module}.{phase.function.__name__}){claims}")
        lines.append(_wrap(phase.description))
        if scenario is not None and phase.rule_hook is not None:
            ids = rules_in_phase(phase, scenario)
            lines.append(_wrap("rules: " + (", ".join(f"{i} [{scenario.rules[i].kind}]" for i in ids) or "(none)")))
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(
        text, width=96, initial_indent=" " * 7, subsequent_indent=" " * 7, break_on_hyphens=False
    )
