"""The agents: countries, labs and firms, as Mesa agents whose state lives in the model's arrays.

Each agent is a view of one row of the model's per-type arrays (struct of arrays), so a user
can inspect `model.firms[0].family` the Mesa way while the mechanisms act on all agents of a type
at once (see sim/model/firms.py, labs.py, countries.py for the behaviour of each type).
Because a view holds nothing but its row index, views are created only when someone first
looks at the model's agents (`GeopoliticsModel.firms`, `country_agents`, `lab_agents`, `agents`), so
batch runs do not pay Mesa's per-agent cost (docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


class Country(mesa.Agent):
    """A country or regional aggregate: sets policy, invests in capacity, and its government uses AI."""

    model: GeopoliticsModel

    def __init__(self, model: GeopoliticsModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def iso3(self) -> str:
        return str(self.model.country_ids[self.index])

    @property
    def name(self) -> str:
        return str(self.model.country_names[self.index])

    @property
    def bloc(self) -> str:
        return str(self.model.country_bloc[self.index])

    @property
    def readiness(self) -> float:
        return float(self.model.readiness[self.index])

    @property
    def compute(self) -> float:
        return float(self.model.compute[self.index])

    @property
    def government_family(self) -> str | None:
        family = self.model.government_family[self.index]
        return None if family < 0 else str(self.model.family_ids[family])

    def __repr__(self) -> str:
        return f"<Country {self.iso3} {self.bloc} readiness={self.readiness:.2f}>"


class Lab(mesa.Agent):
    """An AI lab: grows the capability of its model families and chooses open or closed release."""

    model: GeopoliticsModel

    def __init__(self, model: GeopoliticsModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def lab_id(self) -> str:
        return str(self.model.lab_ids[self.index])

    @property
    def bloc(self) -> str:
        return str(self.model.lab_bloc[self.index])

    @property
    def releases_open(self) -> bool:
        return bool(self.model.lab_open[self.index])

    def __repr__(self) -> str:
        return f"<Lab {self.lab_id} {self.bloc} open={self.releases_open}>"


class Firm(mesa.Agent):
    """A firm: adopts AI at a Bass-like rate and chooses a model family by a logit."""

    model: GeopoliticsModel

    def __init__(self, model: GeopoliticsModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def country(self) -> str:
        return str(self.model.country_ids[self.model.firm_country[self.index]])

    @property
    def sector(self) -> str:
        return self.model.sector_names[self.model.firm_sector[self.index]]

    @property
    def large(self) -> bool:
        return bool(self.model.firm_large[self.index])

    @property
    def family(self) -> str | None:
        line = self.model.firm_line[self.index]
        return None if line < 0 else str(self.model.family_ids[self.model.line_family[line]])

    @property
    def openness(self) -> str | None:
        """"open" on a family's published weights, "closed" on its API, None without AI."""
        line = self.model.firm_line[self.index]
        return None if line < 0 else ("open" if self.model.line_open[line] else "closed")

    def __repr__(self) -> str:
        return f"<Firm {self.index} {self.country} {self.sector} family={self.family}>"
