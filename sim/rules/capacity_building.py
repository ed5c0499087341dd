"""Capacity building: investment and technology support for lagging countries (D0.8, D0.9, D1.3, D4.12)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from sim.blocs import Bloc
from sim.rules.base import Reference, Rule, RuleEffect, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class CapacityBuilding(Rule):
    """A sponsor funds infrastructure and skills in target countries.

    The targets' digital readiness rises by `readiness_per_year` and their AI compute by
    `compute_per_year` (training of experts, data management, data centres: D1.3, D0.9), which
    lowers the cost of hosting open weights there and speeds adoption: the digital divide
    narrows (D0.8; D4.12: exclusive proprietary models would perpetuate it). What was built
    stays when the programme ends; only new gains stop. A sponsor bloc earns goodwill:
    `goodwill_bonus` utility for its families among the targets.
    """

    kind: Literal["capacity_building"] = "capacity_building"
    sponsor: Bloc | None = Field(
        None, description="bloc that funds it (none: multilateral, no goodwill to any bloc)"
    )
    targets: Targets = Field(description="countries that receive support")
    readiness_per_year: float = Field(
        0.02, ge=0, le=0.5, description="digital readiness gained per year [readiness index points/year]"
    )
    compute_per_year: float = Field(
        0.0, ge=0, le=0.2, description="AI compute added per year in each target [share of 2025 world compute/year]"
    )
    funding_usd_bn: float = Field(
        0.0, ge=0, le=10000, description="money committed, for the reader (the gains above are the effect) [USD bn]"
    )
    goodwill_bonus: float = Field(
        0.0, ge=0, le=5, description="utility of the sponsor's families among the targets [utility]"
    )

    def references(self) -> Iterator[Reference]:
        return self.targets.references(("targets",))

    def effect(self, rule_id: str, model: GeopoliticsModel) -> CapacityBuildingEffect:
        return CapacityBuildingEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        who = f"{self.sponsor} funds" if self.sponsor else "multilateral funding for"
        money = f" (USD {self.funding_usd_bn:g} bn)" if self.funding_usd_bn else ""
        return (
            f"{who} capacity building in {self.targets.describe(world)}{money}: +{self.readiness_per_year:g} "
            f"readiness and +{self.compute_per_year:g} compute share a year"
        )


class CapacityBuildingEffect(RuleEffect[CapacityBuilding]):
    """Adds readiness and compute to the targets each quarter, and the sponsor's goodwill."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """Constant: the targets, the sponsor's lines and the amounts are fixed for the run."""
        return ()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        targets = rule.targets.mask(model.world)
        policy.readiness_boost[targets] += rule.readiness_per_year / 4.0
        policy.compute_boost[targets] += rule.compute_per_year / 4.0
        if rule.sponsor is not None and rule.goodwill_bonus:
            policy.utility_bonus[targets[:, None] & (model.line_origin == rule.sponsor)[None, :]] += (
                rule.goodwill_bonus
            )
