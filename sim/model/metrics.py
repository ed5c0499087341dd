"""The metrics of the output contract (design.md), recorded once per quarter.

Groups follow the contract: `key=value` pairs joined by `,` with keys in alphabetical order,
empty for a world total. Influence of bloc b: in each country, the share of its AI use on
b-origin models (firms, and the government with weight `government_weight`), summed over
countries with GDP weights (`weight=gdp`) or one country one vote (`weight=countries`).

The group labels and the masks they select do not change during a run, so they are built once
per model (`_Layout`); each quarter only the numbers are computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.labs import lag_months
from sim.scenario.fields import BLOCS, REGIONS

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

OPENNESS = ("closed", "open")
GAP_PAIRS = (("open-closed", ("open", "closed")), ("CN-US", ("CN", "US")))


def group(**pairs: str) -> str:
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs))


class _Layout:
    """The fixed part of the metrics of one model: group labels, and the country, family and lab
    masks each group selects."""

    def __init__(self, model: GeopoliticsModel) -> None:
        self.regions: list[tuple[np.ndarray, dict[str, str]]] = [(np.ones(model.n_countries, bool), {})]
        self.regions += [(model.country_region == r, {"region": r}) for r in REGIONS]
        self.family_of_origin = {b: model.family_origin == b for b in BLOCS}
        self.adoption = []
        for _, extra in self.regions:
            self.adoption.append(
                {
                    "rate": group(**extra),
                    "openness": {o: group(openness=o, **extra) for o in OPENNESS},
                    "origin": {b: group(origin=b, **extra) for b in BLOCS},
                    "cross": {(o, b): group(openness=o, origin=b, **extra) for b in BLOCS for o in OPENNESS},
                    "family": [group(family=str(f), **extra) for f in model.family_ids],
                }
            )
        self.labs_of_bloc = [(group(bloc=b), model.lab_bloc == b) for b in BLOCS]
        self.labs_of_bloc = [(label, labs) for label, labs in self.labs_of_bloc if labs.any()]
        self.countries_of_bloc = [(group(bloc=b), model.country_bloc == b) for b in BLOCS]
        self.capability = [group(family=str(f)) for f in model.family_ids]
        self.gaps = [(group(pair=pair), sides) for pair, sides in GAP_PAIRS]
        self.coauthorship = group(pair="US-CN")
        self.banning = [  # bans are per release line: a ban on a family covers all its lines
            (group(origin=b), model.line_origin == b) for b, of in self.family_of_origin.items() if of.any()
        ]
        self.influence = [(group(bloc=b, weight="gdp"), group(bloc=b, weight="countries")) for b in BLOCS]
        self.gdp_weight = model.gdp / model.gdp.sum()
        self.origin_matrix = np.stack([self.family_of_origin[b] for b in BLOCS], axis=1).astype(float)


def _layout(model: GeopoliticsModel) -> _Layout:
    layout = getattr(model, "_metrics_layout", None)
    if layout is None:
        layout = model._metrics_layout = _Layout(model)
    return layout


def collect(model: GeopoliticsModel) -> None:
    layout = _layout(model)
    step = model.quarter - model.start
    date = model.date
    rows = model.rows

    def put(metric: str, grp: str, value: float) -> None:
        rows.append((step, date, metric, grp, float(value)))

    _adoption(model, layout, put)
    _influence(model, layout, put)
    for label, labs in layout.labs_of_bloc:
        put("release_open_share", label, model.lab_open[labs].mean())
    total = model.compute.sum()
    for label, countries in layout.countries_of_bloc:
        put("compute_share", label, model.compute[countries].sum() / total)
    for f in np.flatnonzero(model.released):
        put("capability", layout.capability[f], model.capability[f])
    for label, (trailer, leader) in layout.gaps:
        lag = lag_months(model, trailer, leader)
        if np.isfinite(lag):
            put("capability_gap_months", label, lag)
    put("coauthorship_share", layout.coauthorship, model.coauthorship_share)
    banned = model.policy.banned_government  # government bans include every ban for all users
    for label, of_origin in layout.banning:
        put("countries_banning", label, banned[:, of_origin].any(axis=1).sum())
    for rule_id, rule in model.engine.rules.items():
        if rule.kind in ("program", "alliance"):
            put("partners", group(program=rule_id), rule.partner_count(rule_id, model))


def _adoption(model: GeopoliticsModel, layout: _Layout, put) -> None:
    """`adoption_rate`: share of firms using any AI model, weighted by firm size (so it reads as the
    share of economic activity in AI-using firms, not the count of firms that Eurostat and the US
    Census report); `adoption_share`: share of AI use, weighted by the users' size, on each option."""
    counts = model.family_weight  # country x family (a family's release lines together), by firm size
    lines = model.line_weight  # country x line: openness is the line's, not the lab's current policy
    is_open = {"closed": ~model.line_open, "open": model.line_open}
    for (mask, _), labels in zip(layout.regions, layout.adoption, strict=True):
        firms_here = model.size_by_country[mask].sum()
        by_family = counts[mask].sum(axis=0)
        users = by_family.sum()
        put("adoption_rate", labels["rate"], users / firms_here if firms_here else 0.0)
        share = by_family / users if users else np.zeros_like(by_family)
        by_line = lines[mask].sum(axis=0)
        line_share = by_line / users if users else np.zeros_like(by_line)
        for o in OPENNESS:
            put("adoption_share", labels["openness"][o], line_share[is_open[o]].sum())
        for bloc in BLOCS:
            of_origin = layout.family_of_origin[bloc]
            put("adoption_share", labels["origin"][bloc], share[of_origin].sum())
            for o in OPENNESS:
                lines_here = (model.line_origin == bloc) & is_open[o]
                put("adoption_share", labels["cross"][o, bloc], line_share[lines_here].sum())
        for label, value in zip(labels["family"], share.tolist(), strict=True):
            put("adoption_share", label, value)


def use_by_origin(model: GeopoliticsModel) -> np.ndarray:
    """Country x bloc: share of each country's AI use on each bloc's models."""
    gw = model.params.countries.government_weight
    origin = _layout(model).origin_matrix  # family x bloc
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


def _influence(model: GeopoliticsModel, layout: _Layout, put) -> None:
    use = use_by_origin(model)
    for b, (by_gdp, by_country) in enumerate(layout.influence):
        put("influence", by_gdp, float(layout.gdp_weight @ use[:, b]))
        put("influence", by_country, float(use[:, b].mean()))
