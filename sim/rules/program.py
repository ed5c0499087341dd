"""Infrastructure and partnership programmes such as OpenAI for Countries (D1.1-D1.10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.fields import CountryCode, Share, StrictModel
from sim.model.alignment import BLOC_INDEX, offer_payoff
from sim.quarters import Quarter, parse_quarter
from sim.rules.base import Reference, Rule, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class ScriptedPartner(StrictModel):
    """A partner that joins at a known quarter (an announced deal)."""

    country: CountryCode = Field(description="the partner country")
    from_: Quarter = Field(alias="from", description="quarter the partnership is announced")


class Selection(StrictModel):
    """Weights of the criteria a sponsor uses to pick partners (D1.4)."""

    readiness: float = Field(1.0, ge=0, description="weight of technological (digital) readiness")
    government_support: float = Field(
        1.0, ge=0, description="weight of government support, read as affinity with the sponsor's bloc"
    )
    potential: float = Field(
        1.0, ge=0, description="weight of potential public and private use, read as log GDP (scaled 0-1)"
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
    sponsor: str = Field(description="lab id of the sponsor, like openai")
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
    localisation_bonus: float = Field(0.5, ge=0, description="utility of the sponsor's models localised")
    government_bonus: float = Field(
        1.0, ge=0, description="utility of the sponsor's models for government use"
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

    def _memory(self, rule_id: str, model: GeopoliticsModel) -> dict:
        return model.rule_memory.setdefault(
            rule_id,
            {"partners": np.zeros(model.n_countries, bool), "declined": np.zeros(model.n_countries, bool)},
        )

    def _join(self, rule_id: str, model: GeopoliticsModel, c: int, how: str) -> None:
        self._memory(rule_id, model)["partners"][c] = True
        sponsor = model.lab_names[model.lab_index[self.sponsor]]
        model.log_event(
            rule_id,
            self,
            f"{model.country_names[c]} joins {sponsor}'s programme ({how})",
            model.country_ids[c],
        )

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

    def _decline(self, rule_id: str, model: GeopoliticsModel, c: int, declined: np.ndarray, what: str) -> None:
        declined[c] = True
        model.log_event(rule_id, self, f"{model.country_names[c]} declines {what}", model.country_ids[c])

    def act(self, rule_id: str, model: GeopoliticsModel) -> None:
        memory = self._memory(rule_id, model)
        partners, declined = memory["partners"], memory["declined"]
        payoff: np.ndarray | None = None
        for partner in self.partners:
            c = model.country_index[partner.country]
            if not partners[c] and not declined[c] and parse_quarter(partner.from_) <= model.quarter:
                payoff = self.payoff(model) if payoff is None else payoff
                if payoff[c] > 0:
                    self._join(rule_id, model, c, "announced deal")
                else:
                    self._decline(rule_id, model, c, declined, "the announced deal")
        lab = model.lab_index[self.sponsor]
        bloc = model.lab_bloc[lab]
        affinity = model.bloc_affinity(bloc)
        room = self.target_partners - int(partners.sum())
        if room <= 0 or self.offers_per_quarter == 0:
            return
        open_ = self.candidates.mask(model.world) & ~partners & ~declined & (model.country_bloc != bloc)
        # no offers where the sponsor does not sell its services (its supported-country list, sanctions)
        sponsor_closed = (model.line_lab == lab) & ~model.line_open
        open_ &= (model.line_unserved[:, sponsor_closed] < model.params.access.government_block_share).any(axis=1)
        if not open_.any():
            return
        gdp = np.log(model.gdp)
        potential = (gdp - gdp.min()) / max(gdp.max() - gdp.min(), 1e-9)
        score = (
            self.selection.readiness * model.readiness
            + self.selection.government_support * affinity
            + self.selection.potential * potential
        )
        score = np.where(open_, score, -np.inf)
        # Stable order: ties broken by country order in the world data, so runs are reproducible.
        payoff = self.payoff(model) if payoff is None else payoff
        for c in np.argsort(-score, kind="stable")[: min(room, self.offers_per_quarter)]:
            if payoff[c] > 0:
                self._join(rule_id, model, int(c), "accepted an offer")
            else:
                self._decline(rule_id, model, int(c), declined, "the programme's offer")

    def apply(self, rule_id: str, model: GeopoliticsModel, policy: PolicyState) -> None:
        partners = self._memory(rule_id, model)["partners"]
        if not partners.any():
            return
        sponsor_lines = model.line_lab == model.lab_index[self.sponsor]
        cells = np.ix_(partners, sponsor_lines)
        policy.price_factor[cells] *= 1.0 - self.price_subsidy
        policy.utility_bonus[cells] += self.localisation_bonus
        policy.government_bonus[cells] += self.government_bonus
        policy.readiness_boost[partners] += self.capacity_building
        policy.compute_boost[partners] += self.compute_per_quarter
        bloc = str(model.lab_bloc[model.lab_index[self.sponsor]])
        if bloc in BLOC_INDEX:  # co-funded infrastructure binds partners to the sponsor's stack (D1.5)
            policy.alignment_pull[partners, BLOC_INDEX[bloc]] += model.params.alignment.program_pull

    def partner_count(self, rule_id: str, model: GeopoliticsModel) -> int:
        return int(self._memory(rule_id, model)["partners"].sum())

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
