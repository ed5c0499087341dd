"""The metrics of the output contract (design.md), recorded once per quarter.

Groups follow the contract: `key=value` pairs joined by `,` with keys in alphabetical order,
empty for a world total. Influence of bloc b: in each country, the share of its AI use on
b-origin models (firms, and the government with weight `government_weight`), summed over
countries with GDP weights (`weight=gdp`) or one country one vote (`weight=countries`).

The group labels and the masks they select do not change during a run, so they are built once
per model (`_Layout`); each quarter only the numbers are computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.blocs import BLOCS, OPENNESS, REGIONS
from sim.metrics_registry import (
    COAUTHORSHIP_PAIR,
    GAP_PAIRS,
    INFLUENCE_WEIGHTS,
    METRICS,
    PROGRAMME_KINDS,
    group_label,
)
from sim.model.labs import lag_months

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

Put = Callable[[str, float], None]  # (group, value) of the reporter's own metric
Reporter = Callable[["GeopoliticsModel", "_Layout", Put], None]


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
                    "rate": group_label(**extra),
                    "openness": {o: group_label(openness=o, **extra) for o in OPENNESS},
                    "origin": {b: group_label(origin=b, **extra) for b in BLOCS},
                    "cross": {(o, b): group_label(openness=o, origin=b, **extra) for b in BLOCS for o in OPENNESS},
                    "family": [group_label(family=str(f), **extra) for f in model.family_ids],
                }
            )
        self.labs_of_bloc = [(group_label(bloc=b), model.lab_bloc == b) for b in BLOCS]
        self.labs_of_bloc = [(label, labs) for label, labs in self.labs_of_bloc if labs.any()]
        self.countries_of_bloc = [(group_label(bloc=b), model.country_bloc == b) for b in BLOCS]
        self.capability = [group_label(family=str(f)) for f in model.family_ids]
        self.gaps = [(group_label(pair=pair), sides) for pair, sides in GAP_PAIRS]
        self.coauthorship = group_label(pair=COAUTHORSHIP_PAIR)
        self.banning = [  # bans are per release line: a ban on a family covers all its lines
            (group_label(origin=b), model.line_origin == b) for b, of in self.family_of_origin.items() if of.any()
        ]
        self.influence = [tuple(group_label(bloc=b, weight=w) for w in INFLUENCE_WEIGHTS) for b in BLOCS]
        self.gdp_weight = model.gdp / model.gdp.sum()
        self.origin_matrix = np.stack([self.family_of_origin[b] for b in BLOCS], axis=1).astype(float)


def _layout(model: GeopoliticsModel) -> _Layout:
    layout = model.metrics_layout
    if layout is None:
        layout = model.metrics_layout = _Layout(model)
    return layout


def collect(model: GeopoliticsModel) -> None:
    """Record this quarter's value of every registry metric, through the metric's reporter."""
    layout = _layout(model)
    step = model.quarter - model.start
    date = model.date
    rows = model.rows
    for metric in METRICS:

        def put(grp: str, value: float, name: str = metric.name) -> None:
            rows.append((step, date, name, grp, float(value)))

        REPORTERS[metric.name](model, layout, put)


# --------------------------------------------------------------------------- reporters
def _regions(model: GeopoliticsModel, layout: _Layout) -> Iterator[tuple[dict[str, Any], float, np.ndarray]]:
    """(labels, firms, AI users by family) of the world and of each region, firms weighted by size:
    the adoption metrics read as shares of economic activity, not counts of firms (which Eurostat
    and the US Census report)."""
    counts = model.family_weight  # country x family (a family's release lines together), by firm size
    for (mask, _), labels in zip(layout.regions, layout.adoption, strict=True):
        by_family = counts[mask].sum(axis=0)
        yield labels, model.size_by_country[mask].sum(), by_family


def _adoption_rate(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for labels, firms_here, by_family in _regions(model, layout):
        put(labels["rate"], by_family.sum() / firms_here if firms_here else 0.0)


def _adoption_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    lines = model.line_weight  # country x line, by firm size: openness is the line's, not the lab's policy
    is_open = {"closed": ~model.line_open, "open": model.line_open}
    for (mask, _), (labels, _, by_family) in zip(layout.regions, _regions(model, layout), strict=True):
        users = by_family.sum()
        share = by_family / users if users else np.zeros_like(by_family)
        by_line = lines[mask].sum(axis=0)
        line_share = by_line / users if users else np.zeros_like(by_line)
        for o in OPENNESS:
            put(labels["openness"][o], line_share[is_open[o]].sum())
        for bloc in BLOCS:
            put(labels["origin"][bloc], share[layout.family_of_origin[bloc]].sum())
            for o in OPENNESS:
                put(labels["cross"][o, bloc], line_share[(model.line_origin == bloc) & is_open[o]].sum())
        for label, value in zip(labels["family"], share.tolist(), strict=True):
            put(label, value)


def _influence(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    use = use_by_origin(model)
    for b, (by_gdp, by_country) in enumerate(layout.influence):
        put(by_gdp, float(layout.gdp_weight @ use[:, b]))
        put(by_country, float(use[:, b].mean()))


def _release_open_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for label, labs in layout.labs_of_bloc:
        put(label, model.lab_open[labs].mean())


def _compute_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    total = model.compute.sum()
    for label, countries in layout.countries_of_bloc:
        put(label, model.compute[countries].sum() / total)


def _capability(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for f in np.flatnonzero(model.released):
        put(layout.capability[f], model.capability[f])


def _capability_gap_months(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for label, (trailer, leader) in layout.gaps:
        lag = lag_months(model, trailer, leader)
        if np.isfinite(lag):
            put(label, lag)


def _coauthorship_share(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    put(layout.coauthorship, model.coauthorship_share)


def _countries_banning(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    banned = model.policy.banned_government  # government bans include every ban for all users
    for label, of_origin in layout.banning:
        put(label, banned[:, of_origin].any(axis=1).sum())


def _partners(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    for rule_id, effect in model.engine.effects.items():
        if effect.rule.kind in PROGRAMME_KINDS:
            put(group_label(program=rule_id), effect.partner_count())


def _alignment(model: GeopoliticsModel, layout: _Layout, put: Put) -> None:
    # bloc=<bloc>,country=<ISO3>: the model state that `sim.model.alignment` moves
    for labels, values in zip(model.alignment_labels, model.alignment.tolist(), strict=True):
        for label, value in zip(labels, values, strict=True):
            put(label, value)


# How each registry metric is computed, keyed by the registry's names (tests/test_model.py checks both agree).
REPORTERS: dict[str, Reporter] = {
    "adoption_rate": _adoption_rate,
    "adoption_share": _adoption_share,
    "influence": _influence,
    "release_open_share": _release_open_share,
    "compute_share": _compute_share,
    "capability": _capability,
    "capability_gap_months": _capability_gap_months,
    "coauthorship_share": _coauthorship_share,
    "countries_banning": _countries_banning,
    "partners": _partners,
    "alignment": _alignment,
}


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
