"""Countries: capacity and compute grow, governments choose a release line (between the two, the
rules' country behaviour acts: see `sim.model.schedule`).

Readiness closes part of its gap to 1 each year (the digital divide narrows slowly, D0.8) plus
what capacity-building programmes add (D1.3, D4.12). Compute grows at `compute_growth` a year
where chips flow freely; under chip controls growth falls with chip access, and the country's own
accelerators replace a share of what is denied (D4.3, D4.6: China's Huawei Ascend and others; about
none elsewhere). That share is data (`domestic_chip_substitution` in countries.yaml, for the
column's year) and ramps by `domestic_substitution_growth` a year, capped at 1.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim.model.access import blocked_share
from sim.model.firms import quarter_utility
from sim.quarters import parse_quarter

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


def domestic_substitution(model: GeopoliticsModel) -> np.ndarray:
    """Share of denied chip imports each country's own accelerators replace this quarter (D4.3, D4.6)."""
    year = model.world.country_columns["domestic_chip_substitution"].year or 2025
    years = (model.quarter - _first_quarter(year)) / 4.0
    ramp = model.params.countries.domestic_substitution_growth**years
    return np.minimum(model.domestic_substitution * ramp, 1.0)


@lru_cache(maxsize=16)
def _first_quarter(year: int) -> int:
    """The ordinal of the year's first quarter (asked twice a quarter: parsed once)."""
    return parse_quarter(f"{year}Q1")


def chip_supply(model: GeopoliticsModel) -> np.ndarray:
    """Share of a free-market chip supply each country gets: what controls leave it plus what its own
    accelerators replace of the rest."""
    access = model.policy.chip_access
    return access + domestic_substitution(model) * (1.0 - access)


def _quarterly_compute_growth(model: GeopoliticsModel) -> np.ndarray:
    p = model.params.countries
    return ((1.0 + p.compute_growth) ** 0.25 - 1.0) * chip_supply(model)


def backcast_compute(model: GeopoliticsModel) -> None:
    """Compute shares in the data describe `compute_data_quarter`; start from what the growth law,
    with the chip access in force at the start, implies for the first quarter."""
    quarters = parse_quarter(model.params.countries.compute_data_quarter) - model.start
    model.compute = model.compute / (1.0 + _quarterly_compute_growth(model)) ** quarters
    model.compute = model.compute / model.compute.sum()


def grow(model: GeopoliticsModel) -> None:
    """Readiness grows towards 1 (plus capacity building) and compute with the chips a country can
    get (plus data centres built for it): D0.8, D1.3, D4.6."""
    p = model.params.countries
    policy = model.policy
    quarterly = 1.0 - (1.0 - p.readiness_growth) ** 0.25
    model.readiness = np.minimum(
        1.0, model.readiness + quarterly * (1.0 - model.readiness) + policy.readiness_boost
    )
    model.compute = model.compute * (1.0 + _quarterly_compute_growth(model)) + policy.compute_boost


def choose_government_lines(model: GeopoliticsModel) -> None:
    """Each government uses the release line with the highest deterministic utility (no taste
    noise), weighing risk `government_multiplier` times as much as an average firm, with government
    bans applied, lines the lab does not serve in the country or a control blocks left out (as for
    firms, `access`), and programme bonuses added (D1.1, D4.8). Like firms it can stay on a frozen line;
    `government_family` is the family of its line."""
    # `base_utility` for every country at once, in one array: the utility less the risk at the
    # government's weight (risk_weight x government_multiplier, the factor it multiplies the risk by)
    utility, risk = quarter_utility(model)
    scale = model.params.choice.risk_weight * model.params.risk.government_multiplier
    utility = np.subtract(utility, np.multiply(scale, risk))
    utility += model.policy.government_bonus
    # Out: lines not available, government bans, and (the same access rules as firms) a line the lab
    # does not serve here or a control blocks. One mask, one write.
    out = blocked_share(model) >= model.params.access.government_block_share
    out |= model.policy.banned_government
    out |= ~model.line_available
    np.copyto(utility, -np.inf, where=out)
    # The switching cost favours the line in use. Added to those cells only: adding 0.0 elsewhere, as a
    # matrix of the cost would, changes no maximum (at most a -0.0 becomes 0.0, which compares equal).
    current = model.government_line
    users = np.flatnonzero(current >= 0)
    utility[users, current[users]] += model.params.choice.switching_cost
    best = np.argmax(utility, axis=1)
    available = np.isfinite(utility[np.arange(model.n_countries), best])  # the row's maximum
    model.government_line = np.where(available, best, -1)
    model.government_family = np.where(available, model.line_family[best], -1)
