"""Research and development alliances and standards partnerships (D0.1-D0.4, D0.6, D0.9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.blocs import Bloc
from sim.fields import Share
from sim.model.alignment import BLOC_INDEX
from sim.rules.base import Reference, Rule, RuleEffect, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class Alliance(Rule):
    """Countries pool compute, share standards and trust each other's models.

    Members are the `members` countries from the start of the window plus `candidates` that join
    when their technological alignment with the `lead` bloc (model state, `sim.model.alignment`)
    reaches `join_threshold`, at most `joins_per_quarter`
    a quarter, best aligned first (D0.1: alliances for responsible AI; D0.9: global standards).
    While the alliance acts:
    - labs based in member countries grow faster by `shared_compute` (shared data centres and
      supercomputers, D0.4);
    - member firms and governments gain `trust_bonus` utility for families made in member countries
      (common ethical standards and guidelines, D0.1, D0.3), and `network_pooling` times the
      alliance-wide share of users on each family (consortia speed adoption and standardisation
      across members, D0.2);
    - exchanging data inside the alliance adds `data_sharing_risk` to the risk members see in
      member families (leaks and misuse, D0.6), which cyber protection keeps small;
    - members' alignment with the lead bloc closes `alignment.alliance_pull` of its gap to 1 a
      quarter (D0.1, D0.9).
    """

    kind: Literal["alliance"] = "alliance"
    lead: Bloc | None = Field(
        None, description="bloc whose standards the alliance follows (for candidates' affinity); none: neutral"
    )
    members: Targets = Field(description="founding members")
    candidates: Targets | None = Field(None, description="countries that may join during the window")
    join_threshold: Share = Field(0.6, description="least alignment with the lead bloc for a candidate to join")
    joins_per_quarter: int = Field(1, ge=0, le=50, description="candidates admitted per quarter at most")
    shared_compute: float = Field(
        0.1, ge=0, le=2, description="extra capability growth of member-country labs [share of their growth]"
    )
    trust_bonus: float = Field(
        0.3, ge=0, le=5, description="utility of member-made families for member users [utility]"
    )
    network_pooling: float = Field(
        0.5, ge=0, le=5, description="utility per unit alliance-wide user share of a family, for members [utility]"
    )
    data_sharing_risk: float = Field(
        0.05, ge=0, le=2, description="risk added to member-made families for members (leaks, D0.6) [risk units]"
    )

    def references(self) -> Iterator[Reference]:
        yield from self.members.references(("members",))
        if self.candidates is not None:
            yield from self.candidates.references(("candidates",))

    def effect(self, rule_id: str, model: GeopoliticsModel) -> AllianceEffect:
        return AllianceEffect(self, rule_id, model)

    def acts_in_countries_phase(self) -> bool:
        return self.candidates is not None and self.joins_per_quarter > 0

    def affinity(self, model: GeopoliticsModel) -> np.ndarray:
        """Every country's alignment with the lead bloc (0.5 everywhere without a lead)."""
        return model.bloc_affinity(self.lead) if self.lead else np.full(model.n_countries, 0.5)

    def describe(self, world: World) -> str:
        text = f"alliance of {self.members.describe(world)}"
        if self.candidates is not None:
            text += f", open to {self.candidates.describe(world)} at alignment >= {self.join_threshold:g}"
            text += f" with {self.lead or 'no'} lead"
        return (
            f"{text}: +{self.shared_compute:.0%} lab growth from shared compute, +{self.trust_bonus:g} trust in "
            f"members' models, pooled network effects, +{self.data_sharing_risk:g} data-sharing risk"
        )


class AllianceEffect(RuleEffect[Alliance]):
    """The alliance's members (this rule's state): the founders, plus candidates as they join."""

    def __init__(self, rule: Alliance, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.members = rule.members.mask(model.world).copy()

    def act(self, model: GeopoliticsModel) -> None:
        """Candidates aligned enough with the lead join, best aligned first (D0.1, D0.9)."""
        rule = self.rule
        if rule.candidates is None or rule.joins_per_quarter == 0:
            return
        members = self.members
        affinity = rule.affinity(model)
        eligible = rule.candidates.mask(model.world) & ~members & (affinity >= rule.join_threshold)
        order = np.argsort(-np.where(eligible, affinity, -np.inf), kind="stable")
        for c in order[: min(rule.joins_per_quarter, int(eligible.sum()))]:
            members[c] = True
            self.log(model, f"{model.country_names[c]} joins {self.rule_id}", model.country_ids[c])

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        members = self.members
        if not members.any():
            return
        policy.growth_factor[members[model.lab_country]] *= 1.0 + rule.shared_compute
        if rule.lead in BLOC_INDEX:  # common standards bind members to the lead's stack (D0.1, D0.9)
            policy.alignment_pull[members, BLOC_INDEX[rule.lead]] += model.params.alignment.alliance_pull
        made_here = members[model.lab_country[model.line_lab]]
        cells = np.ix_(members, made_here)
        policy.utility_bonus[cells] += rule.trust_bonus
        policy.extra_risk[cells] += rule.data_sharing_risk
        if rule.network_pooling:
            # Users per family (zero before the firms exist: no pooling in the initial policy state).
            pooled = model.family_counts[members].sum(axis=0)
            total = pooled.sum()
            if total > 0:
                # pooled per family (as peers are), the same for each of its release lines
                policy.utility_bonus[members] += rule.network_pooling * (pooled / total)[model.line_family]

    def partner_count(self) -> int:
        return int(self.members.sum())
