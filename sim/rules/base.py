"""What every rule has: a kind, the claims it encodes, and a window of quarters; and what every
rule's effect object has.

A rule kind is a validated config (a `Rule`, the scenario schema) and an effect object built from
it at model start (`Rule.effect`, a `RuleEffect`), which owns the rule's state in that model
(programme partners, bans in force, incident draws). The effect is recomputed every quarter from
the rules active in that quarter (`RuleEffect.apply`, in the rules phase), so it lifts by itself
when the window ends; effects with behaviour of their own act in the countries phase
(`RuleEffect.act`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from sim.blocs import BLOCS, REGIONS
from sim.fields import ClaimId, CountryCode, FieldError, StrictModel
from sim.quarters import Quarter, parse_quarter

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


@lru_cache(maxsize=4096)
def quarter_ordinal(text: str) -> int:
    """`parse_quarter`, remembered: the rules' dates are parsed again for every model a run or sweep
    builds, and alliance members' every quarter (~1 µs each, a dictionary look-up here)."""
    return parse_quarter(text)

Reference = tuple[tuple[str | int, ...], str, str]  # (path inside the rule, "country"|"family"|"lab", value)


class Rule(StrictModel):
    """Fields every rule kind has."""

    kind: str
    sources: list[ClaimId] = Field(
        min_length=1, description="claim ids from the source documents that this rule encodes, like [D4.8]"
    )
    from_: Quarter | None = Field(
        None, alias="from", description="first quarter the rule acts (default: the start of the run)"
    )
    until: Quarter | None = Field(
        None, description="last quarter the rule acts, inclusive (default: open-ended)"
    )
    note: str = Field("", description="free text for the reader: what real event this stands for")

    @model_validator(mode="after")
    def _window_in_order(self) -> Rule:
        if self.from_ and self.until and parse_quarter(self.until) < parse_quarter(self.from_):
            raise FieldError(f"until ({self.until}) is before from ({self.from_})", "until")
        return self

    def active(self, quarter: int) -> bool:
        """Whether the rule acts in the quarter with this ordinal."""
        if self.from_ is not None and quarter < parse_quarter(self.from_):
            return False
        return self.until is None or quarter <= parse_quarter(self.until)

    def references(self) -> Iterator[Reference]:
        """Countries, families and labs this rule names, for checking against the world data."""
        return iter(())

    @abstractmethod
    def describe(self, world: World) -> str:
        """One plain sentence: what the rule does and to whom."""

    @abstractmethod
    def effect(self, rule_id: str, model: GeopoliticsModel) -> RuleEffect[Rule]:
        """The rule at work in `model`: its effect object, built at model start, owning its state."""

    def acts_in_countries_phase(self) -> bool:
        """Whether the rule's effect has behaviour of its own in the countries phase (`RuleEffect.act`)."""
        return False


RuleT = TypeVar("RuleT", bound=Rule, covariant=True)  # a BanEffect is a RuleEffect[Rule]


class RuleEffect(Generic[RuleT]):
    """One rule at work in one model: built at model start from the rule's validated config, it holds
    the rule's state and implements the hooks the rule engine calls (`sim.model.rules`)."""

    # An effect whose `apply` sets only the policy state's scalars (tension, spillover, co-authorship) and
    # no array: the engine applies it every quarter, also when it reuses the arrays (`state_key`).
    scalars_only: ClassVar[bool] = False

    def __init__(self, rule: RuleT, rule_id: str, model: GeopoliticsModel) -> None:
        self.rule = rule
        self.rule_id = rule_id

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        """Write this quarter's effect into the policy state (rules phase)."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """What `apply` reads that can change during a run, or None when `apply` must run every quarter.

        The rule engine reuses last quarter's policy arrays when the same rules are active and every
        effect's key is unchanged (`sim.model.rules.RuleEngine`), so a key must cover all state `apply`
        reads besides the rule's config and the model's fixed structure (world, lines, blocs,
        parameters): partners or members joined, bans raised. None (the default) is for effects that
        draw, log or read what moves every quarter (incidents, user counts)."""
        return None

    def act(self, model: GeopoliticsModel) -> None:
        """Endogenous behaviour in the countries phase (bans raised, partners joining)."""

    def partner_count(self) -> int:
        """Partner or member countries now (programmes and alliances; 0 for other kinds)."""
        return 0

    def log(self, model: GeopoliticsModel, text: str, target: str = "") -> None:
        """Record a narrated event of this rule (events.csv)."""
        model.log_event(self.rule_id, self.rule, text, target)


class Targets(StrictModel):
    """A set of countries: the union of the listed countries, tiers, blocs and regions, minus `except`."""

    countries: list[CountryCode] = Field(default_factory=list, description="countries by ISO3 code")
    tiers: list[int] = Field(
        default_factory=list, description="US export-control tiers (1, 2, 3) of the Jan 2025 rule"
    )
    blocs: list[str] = Field(default_factory=list, description=f"blocs, any of {', '.join(BLOCS)}")
    regions: list[str] = Field(default_factory=list, description=f"regions, any of {', '.join(REGIONS)}")
    all: bool = Field(False, description="every country")
    except_: list[CountryCode] = Field(default_factory=list, alias="except", description="countries left out")
    _mask_cache: tuple[World, tuple[object, ...], np.ndarray] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _known_values(self) -> Targets:
        from sim.errors import did_you_mean

        for i, tier in enumerate(self.tiers):
            if tier not in (1, 2, 3):
                raise FieldError(f"tier {tier} does not exist; tiers are 1, 2 and 3", "tiers", i)
        for i, bloc in enumerate(self.blocs):
            if bloc not in BLOCS:
                raise FieldError(
                    f"unknown bloc {bloc!r}; blocs are {', '.join(BLOCS)}{did_you_mean(bloc, BLOCS)}",
                    "blocs",
                    i,
                )
        for i, region in enumerate(self.regions):
            if region not in REGIONS:
                raise FieldError(
                    f"unknown region {region!r}; regions are north, south{did_you_mean(region, REGIONS)}",
                    "regions",
                    i,
                )
        if not (self.all or self.countries or self.tiers or self.blocs or self.regions):
            raise ValueError("names no country: give countries, tiers, blocs, regions or all: true")
        return self

    def references(self, prefix: tuple[str | int, ...]) -> Iterator[Reference]:
        for i, code in enumerate(self.countries):
            yield (*prefix, "countries", i), "country", code
        for i, code in enumerate(self.except_):
            yield (*prefix, "except", i), "country", code

    def mask(self, world: World) -> np.ndarray:
        """Boolean mask over the world's countries (read-only).

        Rules ask for it every quarter, but it depends only on the targets and the world: it is
        computed when first asked for and kept with what it was computed from, so a changed target
        list or another world computes it anew."""
        key = (self.all, tuple(self.countries), tuple(self.tiers), tuple(self.blocs), tuple(self.regions),
               tuple(self.except_))
        cached = self._mask_cache
        if cached is not None and cached[0] is world and cached[1] == key:
            return cached[2]
        mask = self._compute_mask(world)
        mask.setflags(write=False)  # shared by every quarter and every caller
        self._mask_cache = (world, key, mask)
        return mask

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cached mask: a scenario sent to a worker does not carry a world with it."""
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_mask_cache": None}
        return state

    def _compute_mask(self, world: World) -> np.ndarray:
        rows = world.countries
        chosen = np.array(
            [
                self.all
                or c.iso3 in self.countries
                or c.export_tier in self.tiers
                or c.bloc in self.blocs
                or c.region in self.regions
                for c in rows
            ],
            dtype=bool,
        )
        return chosen & np.array([c.iso3 not in self.except_ for c in rows], dtype=bool)

    def describe(self, world: World) -> str:
        parts: list[str] = []
        if self.all:
            parts.append("all countries")
        if self.countries:
            names = {c.iso3: c.name for c in world.countries}
            parts.append(", ".join(names.get(c, c) for c in self.countries))
        if self.tiers:
            parts.append("tier " + " and ".join(str(t) for t in self.tiers) + " countries")
        if self.blocs:
            parts.append("the " + ", ".join(self.blocs) + " bloc" + ("s" if len(self.blocs) > 1 else ""))
        if self.regions:
            parts.append("the Global " + " and ".join(r.capitalize() for r in self.regions))
        text = "; ".join(parts)
        if self.except_:
            text += " (except " + ", ".join(self.except_) + ")"
        count = int(self.mask(world).sum())
        return f"{text} [{count} {'country' if count == 1 else 'countries'}]"


def window_text(rule: Rule, start: str, end: str) -> str:
    """`from 2025Q1 to 2030Q4` in words, with the run's own bounds for open ends."""
    first = rule.from_ or start
    last = rule.until or end
    return f"{first}-{last}" if rule.until else f"from {first}"
