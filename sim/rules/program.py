"""Infrastructure and partnership programmes such as OpenAI for Countries (D1.1-D1.10)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.fields import MAX_PARAMETER, CountryCode, LabId, Share, StrictModel
from sim.model.alignment import BLOC_INDEX, offer_payoff
from sim.quarters import Quarter
from sim.rules.base import Reference, Rule, RuleEffect, Targets, quarter_ordinal

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class ScriptedPartner(StrictModel):
    """A partner that joins at a known quarter (an announced deal)."""

    country: CountryCode = Field(description="the partner country")
    from_: Quarter = Field(alias="from", description="quarter the partnership is announced")
    decision: Literal["payoff", "accept", "decline"] = Field(
        "payoff",
        description="payoff: the country weighs the offer (D1.5); accept or decline: its government has "
        "decided (a player's decision in class play): it joins, even after declining, or declines for good",
    )


class Selection(StrictModel):
    """Weights of the criteria a sponsor uses to pick partners (D1.4)."""

    readiness: float = Field(
        1.0, ge=0, le=MAX_PARAMETER, description="weight of technological (digital) readiness"
    )
    government_support: float = Field(
        1.0, ge=0, le=MAX_PARAMETER,
        description="weight of government support, read as affinity with the sponsor's bloc"
    )
    potential: float = Field(
        1.0, ge=0, le=MAX_PARAMETER,
        description="weight of potential public and private use, read as log GDP (scaled 0-1)"
    )


class Program(Rule):
    """A sponsor lab offers partner countries co-funded data centres, localised models and training.

    Scripted partners are offered the deal at their dates (announced deals); while the number of
    partners is below `target_partners`, the sponsor also offers partnership each quarter to the
    best-scoring candidates (readiness, government support read as alignment with the sponsor's
    bloc, potential use: D1.4), leaving out countries it does not serve. Every offer, scripted or
    not, is decided by the country's payoff
    (`sim.model.alignment.offer_payoff`): it accepts when the offer's value (co-funding,
    localisation, government support, capacity, data-centre compute, access to the sponsor's
    capability) exceeds the cost of its alignment with a rival bloc (D1.5, D1.8, D1.10), so a
    generous offer can win a country that leans elsewhere; `min_alignment` is an optional red line
    below which a country declines whatever the offer. In partners, the sponsor's release lines are
    cheaper (co-funding, D1.2), localised (D1.1), favoured for government use, the country gains
    readiness (capacity building, D1.3) and compute (data centres, D1.6), and its alignment with the
    sponsor's bloc rises at `alignment.program_pull` a quarter (D1.5).
    """

    kind: Literal["program"] = "program"
    sponsor: LabId = Field(description="lab id of the sponsor, like openai")
    partners: list[ScriptedPartner] = Field(default_factory=list, description="announced partners")
    target_partners: int = Field(10, ge=0, le=500, description="partners the sponsor aims for (D1.4: 10)")
    offers_per_quarter: int = Field(1, ge=0, le=50, description="offers made per quarter below the target")
    candidates: Targets = Field(
        default_factory=lambda: Targets(all=True), description="countries the sponsor may approach"
    )
    selection: Selection = Field(default_factory=Selection, description="weights of the selection criteria")
    min_alignment: Share = Field(
        0.0, description="red line: a country less aligned with the sponsor's bloc declines whatever the offer"
    )
    price_subsidy: Share = Field(0.3, description="share of the price of the sponsor's models co-funded")
    localisation_bonus: float = Field(
        0.5, ge=0, le=MAX_PARAMETER, description="utility of the sponsor's models localised"
    )
    government_bonus: float = Field(
        1.0, ge=0, le=MAX_PARAMETER, description="utility of the sponsor's models for government use"
    )
    capacity_building: float = Field(
        0.01, ge=0, le=0.25, description="digital readiness gained per quarter by a partner [readiness units]"
    )
    compute_per_quarter: float = Field(
        0.0005,
        ge=0,
        le=0.1,
        description="AI compute added per quarter in a partner [share of 2025 world compute]",
    )

    def references(self) -> Iterator[Reference]:
        yield ("sponsor",), "lab", self.sponsor
        for i, partner in enumerate(self.partners):
            yield ("partners", i, "country"), "country", partner.country
        yield from self.candidates.references(("candidates",))

    def effect(self, rule_id: str, model: GeopoliticsModel) -> ProgramEffect:
        return ProgramEffect(self, rule_id, model)

    def acts_in_countries_phase(self) -> bool:
        return True

    def payoff(self, model: GeopoliticsModel) -> np.ndarray:
        """Per country: the offer's value minus its alignment cost (accepts when positive)."""
        payoff = offer_payoff(
            model,
            model.lab_index[self.sponsor],
            price_subsidy=self.price_subsidy,
            localisation_bonus=self.localisation_bonus,
            government_bonus=self.government_bonus,
            capacity_building=self.capacity_building,
            compute_per_quarter=self.compute_per_quarter,
        )
        below = model.bloc_affinity(str(model.lab_bloc[model.lab_index[self.sponsor]])) < self.min_alignment
        return np.where(below, -np.inf, payoff)

    def describe(self, world: World) -> str:
        labs = {lab.id: lab.name for lab in world.labs}
        names = {c.iso3: c.name for c in world.countries}
        sponsor = labs.get(self.sponsor, self.sponsor)
        text = f"{sponsor} builds partnerships aiming at {self.target_partners} countries"
        if self.partners:
            joined = ", ".join(f"{names.get(p.country, p.country)} ({p.from_})" for p in self.partners)
            text += f"; announced: {joined}"
        return (
            f"{text}; partners get {self.price_subsidy:.0%} co-funding, localised models and "
            f"+{self.capacity_building:g} readiness per quarter"
        )


class ProgramEffect(RuleEffect[Program]):
    """The programme's partners and the countries that declined its offer (this rule's state); offers
    are made and decided in the countries phase, partners' benefits written in the rules phase."""

    def __init__(self, rule: Program, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.partners = np.zeros(model.n_countries, bool)  # countries that accepted
        self.declined = np.zeros(model.n_countries, bool)  # countries that declined (not asked again)
        # the announced partners' rows and first quarters, looked at every quarter: found and parsed once
        self._announced = [
            (model.country_index[partner.country], quarter_ordinal(partner.from_), partner) for partner in rule.partners
        ]

    def _join(self, model: GeopoliticsModel, c: int, how: str) -> None:
        self.partners[c] = True
        sponsor = model.lab_names[model.lab_index[self.rule.sponsor]]
        self.log(model, f"{model.country_names[c]} joins {sponsor}'s programme ({how})", model.country_ids[c])

    def _decline(self, model: GeopoliticsModel, c: int, what: str) -> None:
        self.declined[c] = True
        self.log(model, f"{model.country_names[c]} declines {what}", model.country_ids[c])

    def act(self, model: GeopoliticsModel) -> None:
        """Announced deals at their dates, then offers to the best-scoring candidates while below the
        target; each decided by the country's payoff (D1.4, D1.5, D1.8)."""
        rule = self.rule
        partners, declined = self.partners, self.declined
        payoff: np.ndarray | None = None
        for c, first, partner in self._announced:
            if partners[c] or first > model.quarter:
                continue
            if partner.decision == "accept":  # the government's own decision, whatever the payoff
                self._join(model, c, "its government's decision")
            elif declined[c]:
                continue
            elif partner.decision == "decline":
                self._decline(model, c, "the programme (its government's decision)")
            else:
                payoff = rule.payoff(model) if payoff is None else payoff
                if payoff[c] > 0:
                    self._join(model, c, "announced deal")
                else:
                    self._decline(model, c, "the announced deal")
        lab = model.lab_index[rule.sponsor]
        bloc = model.lab_bloc[lab]
        affinity = model.bloc_affinity(bloc)
        room = rule.target_partners - int(partners.sum())
        if room <= 0 or rule.offers_per_quarter == 0:
            return
        open_ = rule.candidates.mask(model.world) & ~partners & ~declined & (model.country_bloc != bloc)
        # no offers where the sponsor does not sell its services (its supported-country list, sanctions)
        sponsor_closed = (model.line_lab == lab) & ~model.line_open
        open_ &= (model.line_unserved[:, sponsor_closed] < model.params.access.government_block_share).any(axis=1)
        if not open_.any():
            return
        gdp = np.log(model.gdp)
        potential = (gdp - gdp.min()) / max(gdp.max() - gdp.min(), 1e-9)
        score = (
            rule.selection.readiness * model.readiness
            + rule.selection.government_support * affinity
            + rule.selection.potential * potential
        )
        score = np.where(open_, score, -np.inf)
        # Stable order: ties broken by country order in the world data, so runs are reproducible.
        payoff = rule.payoff(model) if payoff is None else payoff
        for c in np.argsort(-score, kind="stable")[: min(room, rule.offers_per_quarter)]:
            if payoff[c] > 0:
                self._join(model, int(c), "accepted an offer")
            else:
                self._decline(model, int(c), "the programme's offer")

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """The partners (they join in the countries phase); the benefits are fixed for the run."""
        return self.partners.tobytes()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        partners = self.partners
        if not partners.any():
            return
        sponsor_lines = model.line_lab == model.lab_index[rule.sponsor]
        cells = np.ix_(partners, sponsor_lines)
        policy.price_factor[cells] *= 1.0 - rule.price_subsidy
        policy.utility_bonus[cells] += rule.localisation_bonus
        policy.government_bonus[cells] += rule.government_bonus
        policy.readiness_boost[partners] += rule.capacity_building
        policy.compute_boost[partners] += rule.compute_per_quarter
        bloc = str(model.lab_bloc[model.lab_index[rule.sponsor]])
        if bloc in BLOC_INDEX:  # co-funded infrastructure binds partners to the sponsor's stack (D1.5)
            policy.alignment_pull[partners, BLOC_INDEX[bloc]] += model.params.alignment.program_pull

    def partner_count(self) -> int:
        return int(self.partners.sum())
