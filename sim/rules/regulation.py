"""Regulatory divergence: privacy stance and audits of foreign or open models (D0.5, D1.7, D2.5, D2.6)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.blocs import Bloc
from sim.fields import StrictModel
from sim.rules.base import Reference, Rule, RuleEffect, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World



class Covered(StrictModel):
    """Which families an audit requirement covers, seen from the regulating country."""

    origins: list[Bloc] = Field(default_factory=list, description="origins covered (empty: every origin)")
    openness: Literal["open", "closed", "any"] = Field("any", description="open weights, closed models, or both")
    foreign_only: bool = Field(True, description="cover only families made outside the country's own bloc")


class Regulation(Rule):
    """Target countries change their privacy stance and require audits of covered models.

    `privacy_change` is added to the countries' privacy strictness (0 lax to 1 strict, kept within
    0..1) while the rule acts: a stricter stance weighs data-transfer and security risk more in
    every choice and makes endogenous bans likelier (D0.5: the EU is cautious about privacy and
    data security, the US regulates loosely; D1.7: many countries lack mature data protection).
    `audit_cost` lowers the utility of the covered families (experts call for audits of
    vulnerabilities and components, D2.5); compliance is a cost firms weigh against
    competitiveness (D2.6).
    """

    kind: Literal["regulation"] = "regulation"
    targets: Targets = Field(description="countries that regulate")
    privacy_change: float = Field(
        0.0, ge=-1, le=1, description="added to the targets' privacy strictness [0-1 index points]"
    )
    audit_cost: float = Field(
        0.0, ge=0, le=5, description="utility lost on covered families by audit and compliance cost [utility]"
    )
    applies_to: Covered = Field(default_factory=Covered, description="families the audit requirement covers")

    def references(self) -> Iterator[Reference]:
        return self.targets.references(("targets",))

    def covered(self, model: GeopoliticsModel) -> np.ndarray:
        """Countries x release lines the audit requirement covers (openness is the line's)."""
        cover = self.applies_to
        lines = np.ones(model.n_lines, bool)
        if cover.origins:
            lines &= np.isin(model.line_origin, cover.origins)
        if cover.openness != "any":
            lines &= model.line_open == (cover.openness == "open")
        cells = self.targets.mask(model.world)[:, None] & lines[None, :]
        if cover.foreign_only:
            cells &= model.country_bloc[:, None] != model.line_origin[None, :]
        return cells

    def effect(self, rule_id: str, model: GeopoliticsModel) -> RegulationEffect:
        return RegulationEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        parts = []
        if self.privacy_change:
            direction = "tighten" if self.privacy_change > 0 else "loosen"
            parts.append(f"{direction} privacy rules by {abs(self.privacy_change):g}")
        if self.audit_cost:
            cover = self.applies_to
            origins = "/".join(cover.origins) if cover.origins else "all"
            openness = "" if cover.openness == "any" else f" {cover.openness}"
            foreign = " foreign" if cover.foreign_only else ""
            parts.append(f"require audits of{foreign} {origins}-origin{openness} models (-{self.audit_cost:g} utility)")
        return f"{self.targets.describe(world)} " + (" and ".join(parts) or "keep their rules unchanged")


class RegulationEffect(RuleEffect[Regulation]):
    """Shifts the targets' privacy strictness and charges the audit cost on covered lines."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """Constant: the targets and the covered lines are fixed for the run."""
        return ()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        policy.privacy_shift[rule.targets.mask(model.world)] += rule.privacy_change
        if rule.audit_cost:
            policy.utility_bonus[rule.covered(model)] -= rule.audit_cost
