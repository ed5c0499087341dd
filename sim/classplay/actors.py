"""Who can be played: a preset's countries (economies, not regional aggregates) and its AI labs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.world import World

BLOC_WORDS = {"US": "American", "CN": "Chinese", "EU": "European", "other": "other countries'"}


@dataclass(frozen=True)
class Actor:
    """One playable actor: a country's government or an AI lab."""

    id: str  # `country:IDN` or `lab:meta`: what the page passes back
    kind: Literal["country", "lab"]
    code: str  # ISO3 code of the country, or the lab id of the world data
    name: str
    bloc: str  # the country's bloc, or the bloc of the lab's country

    @property
    def label(self) -> str:
        """How the page names the actor: `Indonesia` or `Meta (AI lab)`."""
        return self.name if self.kind == "country" else f"{self.name} (AI lab)"


def playable_actors(world: World) -> list[Actor]:
    """The actors students can play, in the order free ones are handed out.

    Countries come first, largest economy first (the ones whose choices move the world most, and
    the ones a class knows), then the labs in the world data's order. Regional aggregates (iso3
    starting with X) are left out: nobody governs "the rest of Africa".
    """
    countries = sorted((c for c in world.countries if not c.is_aggregate), key=lambda c: -c.gdp_usd_bn)
    blocs = {c.iso3: c.bloc for c in world.countries}
    actors = [Actor(f"country:{c.iso3}", "country", c.iso3, c.name, c.bloc) for c in countries]
    actors += [Actor(f"lab:{lab.id}", "lab", lab.id, lab.name, blocs.get(lab.country, "other")) for lab in world.labs]
    return actors
