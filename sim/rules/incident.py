"""Security incidents and poisoning of open ecosystems that hit trust (D0.6, D2.5, D4.10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.blocs import Bloc
from sim.fields import FamilyId, Share, StrictModel
from sim.rules.base import Reference, Rule, RuleEffect, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class Exposed(StrictModel):
    """Which families an incident can hit (all listed conditions must hold)."""

    families: list[FamilyId] = Field(default_factory=list, description="families by id (empty: any)")
    origins: list[Bloc] = Field(
        default_factory=list, description="origins (empty: any)"
    )
    openness: Literal["open", "closed", "any"] = Field("open", description="open weights, closed models, or both")


class Incident(Rule):
    """Random incidents (a leak, a poisoned contribution, a backdoored checkpoint) hit trust.

    Each quarter in the window, with `probability`, one available release line among those
    `exposed` is hit (open weights: "poisoned open weights", published and frozen ones too; a closed
    API: "a data leak") (drawn from the rule's own random stream, so adding an incident rule leaves every other
    draw of the run unchanged). Users in the `observers` countries then see `trust_hit` more risk
    in that line, scaled by their privacy stance like every risk (D2.5, D4.10: poisoning through
    malicious contributions; D0.6: data-security threats undermine trust). The extra risk decays
    by `recovery` each quarter as review and quality control answer (D4.10). Extra risk also counts
    as distrust for endogenous bans. When the window ends, the remaining effect is lifted.
    """

    kind: Literal["incident"] = "incident"
    probability: Share = Field(description="chance of an incident each quarter [probability per quarter]")
    exposed: Exposed = Field(default_factory=Exposed, description="families an incident can hit")
    observers: Targets = Field(
        default_factory=lambda: Targets(all=True), description="countries whose users lose trust"
    )
    trust_hit: float = Field(0.5, ge=0, le=5, description="risk added to the hit family [risk units]")
    recovery: Share = Field(0.25, description="share of the added risk that fades each quarter")

    def references(self) -> Iterator[Reference]:
        for i, family in enumerate(self.exposed.families):
            yield ("exposed", "families", i), "family", family
        yield from self.observers.references(("observers",))

    def exposed_mask(self, model: GeopoliticsModel) -> np.ndarray:
        e = self.exposed
        mask = model.line_available.copy()
        if e.families:
            mask &= np.isin(model.family_ids[model.line_family], e.families)
        if e.origins:
            mask &= np.isin(model.line_origin, e.origins)
        if e.openness != "any":
            mask &= model.line_open == (e.openness == "open")
        return mask

    def effect(self, rule_id: str, model: GeopoliticsModel) -> IncidentEffect:
        return IncidentEffect(self, rule_id, model)

    @staticmethod
    def hit_text(model: GeopoliticsModel, line: int) -> str:
        """What an incident on `line` is: poisoned open weights or a data leak."""
        return "poisoned open weights" if model.line_open[line] else "a data leak"

    def describe(self, world: World) -> str:
        e = self.exposed
        scope = []
        if e.families:
            names = {f.id: f.name for f in world.families}
            scope.append(", ".join(names.get(f, f) for f in e.families))
        if e.origins:
            scope.append("/".join(e.origins) + "-origin")
        if e.openness != "any":
            scope.append(f"{e.openness} models")
        what = " ".join(scope) or "any model"
        return (
            f"incidents hit {what} with probability {self.probability:g} a quarter; trust falls by "
            f"{self.trust_hit:g} for {self.observers.describe(world)} and recovers {self.recovery:.0%} a quarter"
        )


class IncidentEffect(RuleEffect[Incident]):
    """The risk incidents have added to each line and not yet recovered (`risk`, this rule's state),
    drawn once a quarter from the rule's own stream."""

    def __init__(self, rule: Incident, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.risk = np.zeros(model.n_lines)  # extra risk on each release line [risk units]
        self.last_quarter: int | None = None  # quarter of the last draw

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        if self.last_quarter != model.quarter:  # draw once per quarter, even if applied twice
            self.last_quarter = model.quarter
            self.risk *= 1.0 - rule.recovery
            rng = model.stream(f"rules.{self.rule_id}")
            happens, pick = rng.random(2)  # two draws every quarter keeps the stream aligned
            exposed = np.flatnonzero(rule.exposed_mask(model))
            if happens < rule.probability and exposed.size:
                line = int(exposed[min(int(pick * exposed.size), exposed.size - 1)])
                self.risk[line] += rule.trust_hit
                family = model.line_family[line]
                self.log(
                    model,
                    f"security incident: {model.family_names[family]} is hit ({rule.hit_text(model, line)}); "
                    "trust falls",
                    str(model.family_ids[family]),
                )
        observers = rule.observers.mask(model.world)
        policy.extra_risk[observers] += self.risk[None, :]
