"""The metrics of the output contract (design.md), recorded once per quarter.

Groups follow the contract: `key=value` pairs joined by `,` with keys in alphabetical order,
empty for a world total. Influence of bloc b: in each country, the share of its AI use on
b-origin models (firms, and the government with weight `government_weight`), summed over
countries with GDP weights (`weight=gdp`) or one country one vote (`weight=countries`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.labs import lag_months
from sim.scenario.fields import BLOCS, REGIONS

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

OPENNESS = ("closed", "open")


def group(**pairs: str) -> str:
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs))


def collect(model: GeopoliticsModel) -> None:
    step = model.quarter - model.start
    rows = model.rows

    def put(metric: str, grp: str, value: float) -> None:
        rows.append((step, model.date, metric, grp, float(value)))

    _adoption(model, put)
    _influence(model, put)
    by_bloc = {b: model.lab_bloc == b for b in BLOCS}
    for bloc, labs in by_bloc.items():
        if labs.any():
            put("release_open_share", group(bloc=bloc), model.lab_open[labs].mean())
    total = model.compute.sum()
    for bloc in BLOCS:
        put("compute_share", group(bloc=bloc), model.compute[model.country_bloc == bloc].sum() / total)
    for f in np.flatnonzero(model.released):
        put("capability", group(family=str(model.family_ids[f])), model.capability[f])
    for pair, (trailer, leader) in (("open-closed", ("open", "closed")), ("CN-US", ("CN", "US"))):
        lag = lag_months(model, trailer, leader)
        if np.isfinite(lag):
            put("capability_gap_months", group(pair=pair), lag)
    put("coauthorship_share", group(pair="US-CN"), model.coauthorship_share)
    banned = model.policy.banned_government  # government bans include every ban for all users
    for bloc in BLOCS:
        of_origin = model.family_origin == bloc
        if of_origin.any():
            put("countries_banning", group(origin=bloc), banned[:, of_origin].any(axis=1).sum())
    for rule_id, rule in model.engine.rules.items():
        if rule.kind in ("program", "alliance"):
            put("partners", group(program=rule_id), rule.partner_count(rule_id, model))


def _adoption(model: GeopoliticsModel, put) -> None:
    counts = model.family_counts  # country x family
    region_masks = {"": np.ones(model.n_countries, bool)} | {r: model.country_region == r for r in REGIONS}
    openness = np.where(model.family_open, "open", "closed")
    for region, mask in region_masks.items():
        extra = {"region": region} if region else {}
        firms_here = model.firms_by_country[mask].sum()
        by_family = counts[mask].sum(axis=0)
        users = by_family.sum()
        put("adoption_rate", group(**extra), users / firms_here if firms_here else 0.0)
        share = by_family / users if users else np.zeros_like(by_family)
        for o in OPENNESS:
            put("adoption_share", group(openness=o, **extra), share[openness == o].sum())
        for bloc in BLOCS:
            put("adoption_share", group(origin=bloc, **extra), share[model.family_origin == bloc].sum())
            for o in OPENNESS:
                cells = (model.family_origin == bloc) & (openness == o)
                put("adoption_share", group(openness=o, origin=bloc, **extra), share[cells].sum())
        for f, family in enumerate(model.family_ids):
            put("adoption_share", group(family=str(family), **extra), share[f])


def use_by_origin(model: GeopoliticsModel) -> np.ndarray:
    """Country x bloc: share of each country's AI use on each bloc's models."""
    gw = model.params.countries.government_weight
    origin = np.stack([model.family_origin == b for b in BLOCS], axis=1).astype(float)  # family x bloc
    firms = model.share_country @ origin
    government = np.zeros((model.n_countries, len(BLOCS)))
    has = model.government_family >= 0
    government[has] = origin[model.government_family[has]]
    have_firms = model.adopters_by_country > 0
    weight_gov = np.where(have_firms, gw, 1.0)[:, None] * has[:, None]
    weight_firms = np.where(has, 1.0 - gw, 1.0)[:, None] * have_firms[:, None]
    total = weight_gov + weight_firms
    use = weight_gov * government + weight_firms * firms
    return np.divide(use, total, out=np.zeros_like(use), where=total > 0)


def _influence(model: GeopoliticsModel, put) -> None:
    use = use_by_origin(model)
    gdp = model.gdp / model.gdp.sum()
    for b, bloc in enumerate(BLOCS):
        put("influence", group(bloc=bloc, weight="gdp"), float(gdp @ use[:, b]))
        put("influence", group(bloc=bloc, weight="countries"), float(use[:, b].mean()))
