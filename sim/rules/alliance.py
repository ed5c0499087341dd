"""Research and development alliances and standards partnerships (D0.1-D0.4, D0.6, D0.9)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.blocs import Bloc
from sim.fields import CountryCode, Share, StrictModel
from sim.model.alignment import BLOC_INDEX, alignment_cost, reachable_lines, stack_alignment
from sim.quarters import Quarter
from sim.rules.base import Reference, Rule, RuleEffect, Targets, quarter_ordinal

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class AnnouncedMember(StrictModel):
    """A country that joins at a known quarter whatever the payoff: its government has decided (a
    player's decision in class play, or an announced accession)."""

    country: CountryCode = Field(description="the joining country")
    from_: Quarter = Field(alias="from", description="quarter it joins (the alliance's window permitting)")


class Alliance(Rule):
    """Countries pool compute, share standards and trust each other's models.

    Members are the `members` countries from the start of the window plus `candidates` that join
    when membership pays: each quarter every candidate weighs what the alliance would give it
    against the alignment cost of joining its stack (`AllianceEffect.payoff`, D0.1-D0.4, D0.6,
    D0.9), the same cost a programme offer carries (`sim.model.alignment.alignment_cost`), so a
    generous alliance can win a country that leans towards a rival stack and one strongly aligned
    with the rival declines. At most `joins_per_quarter` join a quarter, best payoff first; one that
    declines may join later as the alliance, its alignment or what it can reach changes.
    `join_threshold` is an optional red line: a candidate less aligned with the stack declines
    whatever the payoff. `announced` countries join at their quarter whatever the payoff (a
    government's own decision). While the alliance acts:
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
        None,
        description="bloc whose standards the alliance follows (the stack candidates weigh joining); none: "
        "the stacks of its members' blocs",
    )
    members: Targets = Field(description="founding members")
    candidates: Targets | None = Field(
        None, description="countries that may join during the window, when joining pays (payoff)"
    )
    join_threshold: Share = Field(
        0.0,
        description="red line: a candidate less aligned than this with the alliance's stack declines whatever "
        "the payoff (0: the payoff alone decides)",
    )
    joins_per_quarter: int = Field(1, ge=0, le=50, description="candidates admitted per quarter at most")
    announced: list[AnnouncedMember] = Field(
        default_factory=list,
        description="countries that join at their quarter whatever the payoff (their government's decision)",
    )
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
        for i, member in enumerate(self.announced):
            yield ("announced", i, "country"), "country", member.country
        if self.candidates is not None:
            yield from self.candidates.references(("candidates",))

    def effect(self, rule_id: str, model: GeopoliticsModel) -> AllianceEffect:
        return AllianceEffect(self, rule_id, model)

    def acts_in_countries_phase(self) -> bool:
        return bool(self.announced) or (self.candidates is not None and self.joins_per_quarter > 0)

    def describe(self, world: World) -> str:
        text = f"alliance of {self.members.describe(world)}"
        if self.lead:
            text += f" following {self.lead} standards"
        if self.candidates is not None:
            text += f", open to {self.candidates.describe(world)} when joining pays"
            if self.join_threshold > 0:
                text += f" and alignment with its stack is at least {self.join_threshold:g}"
        return (
            f"{text}: +{self.shared_compute:.0%} lab growth from shared compute, +{self.trust_bonus:g} trust in "
            f"members' models, pooled network effects, +{self.data_sharing_risk:g} data-sharing risk"
        )


class AllianceEffect(RuleEffect[Alliance]):
    """The alliance's members (this rule's state): the founders, plus candidates as they join;
    candidates decide in the countries phase, members' benefits are written in the rules phase."""

    def __init__(self, rule: Alliance, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.members = rule.members.mask(model.world).copy()

    def stack(self, model: GeopoliticsModel) -> tuple[str, ...]:
        """The blocs whose stack a candidate joins: the lead's, or else the blocs of today's members
        (US, CN, EU; a neutral alliance of other countries has none)."""
        if self.rule.lead:
            return (self.rule.lead,)
        return tuple(b for b in BLOC_INDEX if (model.country_bloc[self.members] == b).any())

    def payoff(self, model: GeopoliticsModel) -> np.ndarray:
        """Per country: the value of joining the alliance now minus its alignment cost (joins when > 0).

        Value, in the utility units of the firms' choice, of what the rule gives a member: the
        `trust_bonus` on member-made families less their `data_sharing_risk` (weighted by
        `choice.risk_weight` and the country's privacy strictness, as firms weigh risk), where the
        country can reach a member-made line, its own labs' included (D0.1, D0.3, D0.6); the
        `network_pooling` bonus of the most used family it can reach, by alliance-wide user share
        (D0.2); and, where the country has a lab with a released model, `shared_compute` of its
        growth over `offers.horizon_quarters` as capability (`choice.capability_weight` per 12 months,
        a lab keeping pace with the frontier gaining 3 months a quarter; D0.4). The cost is
        `sim.model.alignment.alignment_cost` for the alliance's stack (its lead, or its members'
        blocs), as for programme offers (D0.9, D1.5): a country closer to a rival stack pays it, one
        closer to the alliance's gains. Lines the country cannot reach (bans, controls, unserved)
        count for nothing. Below the `join_threshold` red line the payoff is -inf.
        """
        rule, members = self.rule, self.members
        c, o = model.params.choice, model.params.offers
        reach = reachable_lines(model, model.params.access.government_block_share)
        maker = model.lab_country[model.line_lab]  # country of each line's lab
        made_inside = members[maker][None, :] | (maker[None, :] == np.arange(model.n_countries)[:, None])
        usable = (reach & made_inside).any(axis=1)
        risk = c.risk_weight * (model.params.risk.privacy_base + model.privacy()) * rule.data_sharing_risk
        value = usable * (rule.trust_bonus - risk)
        pooled = model.family_counts[members].sum(axis=0)  # zero before the firms exist: nothing pooled yet
        if rule.network_pooling and pooled.sum() > 0:
            share = (pooled / pooled.sum())[model.line_family]
            value += rule.network_pooling * np.where(reach, share[None, :], 0.0).max(axis=1, initial=0.0)
        has_lab = np.zeros(model.n_countries, bool)
        has_lab[model.lab_country[model.family_lab[model.released]]] = True
        value += has_lab * c.capability_weight * rule.shared_compute * (3.0 * o.horizon_quarters) / 12.0
        stack = self.stack(model)
        payoff = value - alignment_cost(model, stack)
        return np.where(stack_alignment(model, stack) < rule.join_threshold, -np.inf, payoff)

    def act(self, model: GeopoliticsModel) -> None:
        """Candidates for whom joining pays join, best payoff first, at most `joins_per_quarter`
        (D0.1, D0.9); the others stay out this quarter."""
        rule = self.rule
        members = self.members
        for member in rule.announced:  # governments that decided to join (D0.1, D0.9)
            c = model.country_index[member.country]
            if not members[c] and quarter_ordinal(member.from_) <= model.quarter:
                members[c] = True
                self.log(model, f"{model.country_names[c]} joins {self.rule_id} (its government's decision)",
                         model.country_ids[c])
        if rule.candidates is None or rule.joins_per_quarter == 0:
            return
        open_ = rule.candidates.mask(model.world) & ~members
        if not open_.any():
            return
        payoff = np.where(open_, self.payoff(model), -np.inf)
        # Stable order: ties broken by country order in the world data, so runs are reproducible.
        order = np.argsort(-payoff, kind="stable")
        for c in order[: min(rule.joins_per_quarter, int((payoff > 0).sum()))]:
            members[c] = True
            self.log(model, f"{model.country_names[c]} joins {self.rule_id}", model.country_ids[c])

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """The members, unless network effects are pooled: those follow the users' choices every quarter."""
        return None if self.rule.network_pooling else self.members.tobytes()

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
