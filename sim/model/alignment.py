"""Technological alignment of countries with the US, CN and EU stacks, and the offers it prices.

Alignment (0 to 1, per country and bloc) replaces UN votes as the main political term of the
firms' and governments' choice (model v2). It is *model state* that policy moves:

- **Start** (`structural`): a weighted sum of sourced columns of countries.yaml. Towards the US:
  `security_weight x us_security_tie + cloud_weight x us_cloud_providers / 3 + telecom_weight x
  (1 - huawei_5g) + platform_weight x us_search_share + un_vote_weight x (1 + us_alignment) / 2`;
  towards China the same with `cn_security_tie`, `cn_cloud_providers / 3`, `huawei_5g`,
  `cn_search_share` and `(1 - us_alignment) / 2` (weights 0.3, 0.25, 0.15, 0.2, 0.1 by default,
  judgement estimates summing to 1). UN voting (`us_alignment`) is kept as a minor input: voting
  with the G77 says little about whose cloud, telecoms and security partners a country has. With the EU: `eu_neutral +
  eu_adequacy_weight x eu_adequacy` (GDPR adequacy, D0.5). A bloc's own members are aligned 1 with it.
- **Moves** each quarter, after the rules have written this quarter's policy state:
  export controls push each target's alignment with the issuer towards 0 at `control_push` x
  strength (D4.4: controls drive targets to deepen ties elsewhere); programme partners and alliance
  members are pulled towards the sponsor's or lead's bloc at `program_pull` / `alliance_pull`
  (D1.5, D1.10, D0.1); tension above the reference widens each non-bloc country's US-CN gap at
  `tension_polarisation` (D0.7); and everything reverts to the structural value at `reversion`.

It enters the choice once, as `alignment_weight x (2 x alignment - 1)` for the line's origin bloc
(`firms.country_utility`); data-transfer risk no longer depends on it (no double counting).
Lines of `other` origin are neutral (0.5): "other" is the rest of the world, not a stack.

`offer_payoff` is how a country weighs a programme offer (D1.4, D1.5, D1.8): the value of
co-funding, localisation, government support, capacity, data-centre compute and access to the
sponsor's capability, against `alignment_cost` x (its alignment with the closest rival bloc minus
its alignment with the sponsor's bloc; `alignment_cost`). A generous offer can so win a country
leaning elsewhere. Alliances weigh membership the same way (`sim.rules.alliance.AllianceEffect.payoff`):
their own value terms against the same `alignment_cost`, for the lead's stack or the members'.
"""

from __future__ import annotations

import operator
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics_registry import ALIGNMENT_BLOCS
from sim.model.access import blocked_share

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

BLOC_INDEX = {b: i for i, b in enumerate(ALIGNMENT_BLOCS)}


def structural(model: GeopoliticsModel) -> np.ndarray:
    """Country x (US, CN, EU): the alignment the world data imply, before any policy moves it."""
    p = model.params.alignment
    rows = model.world.countries
    col = {name: np.array([getattr(c, name) for c in rows], dtype=float) for name in (
        "us_security_tie", "cn_security_tie", "huawei_5g", "us_cloud_providers", "cn_cloud_providers",
        "us_search_share", "cn_search_share", "eu_adequacy", "us_alignment")}
    un = col["us_alignment"]
    us = (p.security_weight * col["us_security_tie"] + p.cloud_weight * col["us_cloud_providers"] / 3.0
          + p.telecom_weight * (1.0 - col["huawei_5g"]) + p.platform_weight * col["us_search_share"]
          + p.un_vote_weight * (1.0 + un) / 2.0)
    cn = (p.security_weight * col["cn_security_tie"] + p.cloud_weight * col["cn_cloud_providers"] / 3.0
          + p.telecom_weight * col["huawei_5g"] + p.platform_weight * col["cn_search_share"]
          + p.un_vote_weight * (1.0 - un) / 2.0)
    eu = p.eu_neutral + p.eu_adequacy_weight * col["eu_adequacy"]
    value = np.clip(np.stack([us, cn, eu], axis=1), 0.0, 1.0)
    return _own_bloc_is_one(model, value)


def _own_bloc_is_one(model: GeopoliticsModel, value: np.ndarray) -> np.ndarray:
    layout = _layout(model)
    value[layout.own_rows, layout.own_columns] = 1.0  # each bloc's members, in its column
    return value


@dataclass(frozen=True)
class AlignmentLayout:
    """Index structures of the alignment phase that depend only on the countries' blocs and the lines'
    origins (fixed for a run), built on first use (`_layout`)."""

    sources: tuple[np.ndarray, ...]  # the arrays it was built from (a model that replaces one builds anew)
    own_rows: np.ndarray  # the countries of a bloc with a stack ...
    own_columns: np.ndarray  # ... and that bloc's column
    outside: np.ndarray  # countries in neither the US nor the CN bloc (tension polarises them)
    column: np.ndarray  # each line's column of `with_neutral`: its origin bloc's, or the neutral one
    with_neutral: np.ndarray  # country x (blocs, neutral 0.5): the blocs' columns are copied in each time

    def for_model(self, model: GeopoliticsModel) -> AlignmentLayout:
        """This layout for `model`, whose blocs and lines' origins have the same contents as the arrays it
        was built from (`GeopoliticsModel._setup_world`): bound to its arrays, with its own scratch block."""
        return replace(self, sources=_sources(model), with_neutral=self.with_neutral.copy())


def _sources(model: GeopoliticsModel) -> tuple[np.ndarray, ...]:
    return (model.country_bloc, model.line_origin)


def _layout(model: GeopoliticsModel) -> AlignmentLayout:
    """The model's `AlignmentLayout`, built again when the blocs or the lines' origins were replaced."""
    sources = _sources(model)
    layout = model.alignment_layout
    if layout is not None and all(map(operator.is_, layout.sources, sources)):
        return layout
    own = [(np.flatnonzero(model.country_bloc == bloc), b) for bloc, b in BLOC_INDEX.items()]
    neutral = len(BLOC_INDEX)
    with_neutral = np.full((model.n_countries, neutral + 1), 0.5)
    layout = AlignmentLayout(
        sources=sources,
        own_rows=np.concatenate([rows for rows, _ in own]).astype(np.intp),
        own_columns=np.concatenate([np.full(rows.size, b, dtype=np.intp) for rows, b in own]),
        outside=(model.country_bloc != "US") & (model.country_bloc != "CN"),
        column=np.array([BLOC_INDEX.get(str(o), neutral) for o in model.line_origin.tolist()], dtype=np.intp),
        with_neutral=with_neutral,
    )
    model.alignment_layout = layout
    return layout


def setup(model: GeopoliticsModel) -> None:
    """Initial alignment (the structural value) and the labels of the `alignment` metric."""
    model.alignment_structural = structural(model)
    model.alignment = model.alignment_structural.copy()
    model.alignment_labels = [
        [f"bloc={bloc},country={iso3}" for bloc in ALIGNMENT_BLOCS] for iso3 in model.country_ids.tolist()
    ]
    refresh_lines(model)


def refresh_lines(model: GeopoliticsModel) -> None:
    """`line_alignment` (country x line): each country's alignment with each line's origin bloc."""
    # the bloc's column for each line, or a neutral column of 0.5 after the blocs' (one take, not a stack of 22)
    layout = _layout(model)
    with_neutral = layout.with_neutral
    with_neutral[:, : model.alignment.shape[1]] = model.alignment
    model.line_alignment = np.take(with_neutral, layout.column, axis=1)


def bloc_alignment(model: GeopoliticsModel, bloc: str) -> np.ndarray:
    """Every country's current alignment with `bloc` (0.5 for `other`: not a stack)."""
    if bloc in BLOC_INDEX:
        return model.alignment[:, BLOC_INDEX[bloc]]
    return np.full(model.n_countries, 0.5)


def step(model: GeopoliticsModel) -> None:
    """Move alignment by this quarter's pushes and pulls, tension and reversion (module docstring)."""
    p = model.params.alignment
    policy = model.policy
    a = model.alignment
    a += p.reversion * (model.alignment_structural - a)
    a -= p.control_push * np.minimum(policy.alignment_push, 1.0) * a
    a += np.minimum(policy.alignment_pull, 1.0) * (1.0 - a)
    excess = max(policy.tension - model.params.collaboration.reference_tension, 0.0)
    if excess > 0 and p.tension_polarisation > 0:
        us, cn = BLOC_INDEX["US"], BLOC_INDEX["CN"]
        outside = _layout(model).outside
        shift = (p.tension_polarisation * excess * (a[:, us] - a[:, cn]) / 2.0)[outside]
        a[outside, us] += shift
        a[outside, cn] -= shift
    np.clip(a, 0.0, 1.0, out=a)
    _own_bloc_is_one(model, a)
    refresh_lines(model)


def offer_payoff(
    model: GeopoliticsModel,
    sponsor_lab: int,
    *,
    price_subsidy: float,
    localisation_bonus: float,
    government_bonus: float,
    capacity_building: float,
    compute_per_quarter: float,
) -> np.ndarray:
    """Per country: value of a sponsor's programme offer minus its alignment cost (accept when > 0).

    Value, in the utility units of the firms' choice: co-funding as the cost term it removes
    (`cost_weight x -log10(1 - price_subsidy)`, D1.2), the localisation bonus (D1.1), the government
    bonus weighted by government use, readiness built over `horizon_quarters` (D1.3), data-centre
    compute as log growth over the country's own (D1.6), and the sponsor's capability lead over the
    best line the country can already use (D1.5). Lines the country cannot reach (bans, controls,
    unserved) count for nothing: where none of the sponsor's can be used, only capacity and compute do.
    """
    o, c = model.params.offers, model.params.choice
    sponsor_bloc = str(model.lab_bloc[sponsor_lab])
    reach = reachable_lines(model, model.params.access.government_block_share)
    mine = model.line_lab == sponsor_lab
    usable = reach[:, mine].any(axis=1)  # co-funding and localisation are worth nothing where the
    subsidy = min(price_subsidy, 0.99)  # sponsor's lines cannot be used (banned, unserved, controlled)
    per_use = c.cost_weight * -np.log10(1.0 - subsidy) + localisation_bonus
    value = usable * (per_use + government_bonus * model.params.countries.government_weight)
    gain = np.minimum(capacity_building * o.horizon_quarters, 1.0 - model.readiness)
    value += o.readiness_value * gain
    own = model.compute / max(model.compute.sum(), 1e-12)
    value += o.compute_value * np.log1p(compute_per_quarter * o.horizon_quarters / np.maximum(own, o.compute_floor))
    cap = np.where(reach, model.line_capability[None, :], np.nan)
    with np.errstate(all="ignore"):
        best_mine = np.nanmax(np.where(mine[None, :], cap, np.nan), axis=1, initial=-np.inf)
        best_other = np.nanmax(np.where(~mine[None, :], cap, np.nan), axis=1, initial=-np.inf)
    lead = np.where(np.isfinite(best_mine) & np.isfinite(best_other), best_mine - best_other, 0.0)
    value += c.capability_weight * np.maximum(lead, 0.0) / 12.0
    return value - alignment_cost(model, (sponsor_bloc,))


def stack_alignment(model: GeopoliticsModel, stack: Collection[str]) -> np.ndarray:
    """Every country's alignment with the closest bloc of `stack` (0.5, neutral, for an empty stack)."""
    if not stack:
        return np.full(model.n_countries, 0.5)
    return np.max([bloc_alignment(model, bloc) for bloc in stack], axis=0)


def alignment_cost(model: GeopoliticsModel, stack: Collection[str]) -> np.ndarray:
    """Per country: what joining `stack` (a programme's sponsor bloc, an alliance's lead or its members'
    blocs) costs in alignment, in the utility units of the choice (D1.5, D1.8, D0.1).

    `offers.alignment_cost` x (alignment with the closest bloc outside the stack minus alignment with
    the closest bloc in it): negative, a bonus, where the country is already closer to the stack. A
    stack with no bloc outside it (all of US, CN, EU) or with none in it (a neutral alliance of
    non-bloc countries) asks nothing: there is no rival to turn from.
    """
    rivals = [model.alignment[:, b] for bloc, b in BLOC_INDEX.items() if bloc not in stack]
    if not stack or not rivals:
        return np.zeros(model.n_countries)
    return model.params.offers.alignment_cost * (np.max(rivals, axis=0) - stack_alignment(model, stack))


def reachable_lines(model: GeopoliticsModel, block_share: float) -> np.ndarray:
    """Country x line: released, not banned for all, and reachable by less than `block_share` of
    the country's firms blocked (unserved by the lab, or controlled)."""
    blocked = blocked_share(model)
    return model.line_available[None, :] & ~model.policy.banned_all & (blocked < block_share)
