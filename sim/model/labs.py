"""Labs: releases, capability growth, open-or-closed release choice, and research papers.

Capability is measured in *frontier months*: 0 is the closed frontier (GPT-4) in 2023Q1 and a
lab at the largest effective compute gains `frontier_growth` per quarter, so gaps between
models read directly as months of progress (Epoch AI's framing of lags).

Releases keep their openness. A family's `capability` is its lab's newest model; what users run
is a *release line*: the family's open weights or its closed API. A lab's release policy applies
to its next release only (D4.4, D4.6): the line of the current policy follows the lab's newest
model, the other line is frozen at its last release. Published weights stay downloadable,
forkable and self-hostable for good (D4.11: access to the weights is what lets users adapt them
locally; D4.1: Qwen and Llama weights keep circulating whatever their labs do next); a lab that
stops serving closed releases keeps its last closed model on its API for
`closed_api_retirement_quarters`, as API providers retire superseded models after a notice
period. Users move off a frozen line over their upgrade cycle (see `firms`), so the open share
changes only through their choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.blocs import OPENNESS
from sim.metrics_registry import GAP_PAIRS

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

NEVER = np.iinfo(np.int64).max // 2  # a quarter that never comes (line not released, not frozen)


def setup(model: GeopoliticsModel) -> None:
    # The best capability of each side of each capability gap the metrics report (open, closed, CN, US).
    model.best_history: dict[str, list[float]] = {side: [] for _, sides in GAP_PAIRS for side in sides}
    _release_due(model, initial=True)
    follow_current_lines(model)


def _frontier(model: GeopoliticsModel) -> float:
    caps = model.capability[model.released & ~np.isnan(model.capability)]
    return float(caps.max()) if caps.size else 0.0


def _release_due(model: GeopoliticsModel, initial: bool = False) -> None:
    """First releases of families: they start `release_lag_months` behind the frontier."""
    due = np.flatnonzero((model.family_release <= model.quarter) & np.isnan(model.capability))
    frontier = 0.0 if initial else _frontier(model)
    for f in due:
        if initial and model.family_release[f] < model.quarter:
            model.capability[f] = -model.release_lag[f]
        else:
            model.capability[f] = frontier - model.release_lag[f]
            if not initial:
                openness = "open weights" if model.lab_open[model.family_lab[f]] else "a closed model"
                model.log_event(
                    "",
                    None,
                    f"{model.family_names[f]} is released as {openness}",
                    str(model.family_ids[f]),
                    kind="release",
                    sources=["D4.1"],
                )


def effective_compute(model: GeopoliticsModel) -> np.ndarray:
    """Each lab's share of its bloc's compute times the bloc's compute (D4.3, D4.6)."""
    bloc_compute = {b: model.compute[model.country_bloc == b].sum() for b in set(model.lab_bloc)}
    return model.lab_compute_share * np.array([bloc_compute[b] for b in model.lab_bloc])


def step(model: GeopoliticsModel) -> None:
    _release_due(model)
    _grow(model)
    follow_current_lines(model)  # before a switch, so a line that freezes keeps its last release
    _choose_openness(model)
    follow_current_lines(model)
    _record_best(model)
    _write_papers(model)


def follow_current_lines(model: GeopoliticsModel) -> None:
    """Current lines carry their lab's newest model; stale lines keep their last release's capability."""
    follows = model.line_current & model.line_released
    model.line_capability = np.where(follows, model.capability[model.line_family], model.line_capability)


def _grow(model: GeopoliticsModel) -> None:
    """Capability growth from compute, talent and spillovers (D3.2, D4.2, D4.6)."""
    p = model.params.labs
    policy = model.policy
    compute = effective_compute(model)
    relative = compute / max(compute.max(), 1e-12)
    lab = model.family_lab
    growth = (
        p.frontier_growth
        * relative[lab] ** p.compute_elasticity
        * model.lab_talent[lab] ** p.talent_elasticity
        * policy.growth_factor[lab]
    )
    open_share = getattr(model, "world_open_share", 0.0)
    growth = growth * (1 + p.community_boost * model.lab_open[lab] * open_share)
    live = model.released & ~np.isnan(model.capability)
    cap = model.capability
    # Spillovers come from what can be reached: every line still available (frozen open weights
    # too, which can still be distilled and fine-tuned: D3.2, D4.11).
    reachable = model.line_available & ~np.isnan(model.line_capability)
    line_cap = model.line_capability
    spill = np.zeros(model.n_families)
    for f in np.flatnonzero(live):
        others = reachable & (model.line_family != f)
        cross = np.where(model.line_origin != model.family_origin[f], policy.spillover_factor, 1.0)
        for is_open, rate in ((True, p.open_spillover), (False, p.closed_spillover)):
            pool = others & (model.line_open == is_open)
            if pool.any():
                gaps = np.maximum(line_cap[pool] - cap[f], 0.0) * cross[pool]
                spill[f] += rate * gaps.max()
    model.capability = np.where(live, cap + growth + spill, cap)


def _choose_openness(model: GeopoliticsModel) -> None:
    """Open or closed release, every `release_interval` quarters (D4.4, D4.6; Mladenovic et al.).

    The decision sets the openness of the lab's next release, not of what it already released: on
    a switch the new line is released at the lab's current capability and the old one freezes
    (`_switch_lines`). Trailing and compute-constrained labs gain more from open release
    (community, reach); leaders earn more from closed. Log-odds of an open release:
    open_bias + open_gap_weight x (years behind the frontier) + open_compute_weight x (compute
    shortfall against the largest lab) + open_support (rules) +/- openness_inertia.
    """
    p = model.params.labs
    draws = model.stream("labs.release").random(model.n_labs)
    if (model.quarter - model.start) % p.release_interval != 0 or model.quarter == model.start:
        return
    frontier = _frontier(model)
    compute = effective_compute(model)
    shortfall = 1.0 - compute / max(compute.max(), 1e-12)
    for lab in range(model.n_labs):
        fams = (model.family_lab == lab) & model.released
        if not fams.any():
            continue
        behind = frontier - float(np.nanmax(model.capability[fams]))
        currently_open = bool(model.lab_open[lab])
        logit = (
            p.open_bias
            + p.open_gap_weight * behind / 12.0
            + p.open_compute_weight * shortfall[lab]
            + model.policy.open_support[lab]
            + (p.openness_inertia if currently_open else -p.openness_inertia)
        )
        opens = bool(draws[lab] < 1.0 / (1.0 + np.exp(-logit)))
        if opens != currently_open:
            model.lab_open[lab] = opens
            _switch_lines(model, lab, opens)
            what = "open weights" if opens else "closed models only"
            model.log_event(
                "",
                None,
                f"{model.lab_names[lab]} switches to {what}",
                str(model.lab_ids[lab]),
                kind="release",
                sources=["D4.4", "D4.6"],
            )


def _switch_lines(model: GeopoliticsModel, lab: int, opens: bool) -> None:
    """The lab's next releases go on the `opens` line of each of its released families; the
    other line freezes at its last release (its weights stay published, its API serves on)."""
    lines = model.line_lab == lab
    new = lines & (model.line_open == opens)
    old = lines & (model.line_open != opens)
    never_out = old & (model.line_since > model.quarter)  # a family not yet released: no old release
    model.line_since[never_out] = NEVER
    model.line_frozen[old & ~never_out] = model.quarter
    model.line_current[old] = False
    model.line_current[new] = True
    model.line_frozen[new] = NEVER
    first = np.maximum(model.quarter, model.family_release[model.line_family])
    model.line_since[new] = np.minimum(model.line_since[new], first[new])


def _record_best(model: GeopoliticsModel) -> None:
    """Best open and closed lines (what users can get: frozen weights count, retired APIs do not),
    and best US and CN models (the labs' newest)."""
    lines = np.where(model.line_available, model.line_capability, np.nan)
    cap = np.where(model.released, model.capability, np.nan)
    for key in model.best_history:
        # a side is an openness (release lines) or a bloc of origin (the labs' newest models)
        values = lines[model.line_open == (key == "open")] if key in OPENNESS else cap[model.family_origin == key]
        values = values[~np.isnan(values)]
        model.best_history[key].append(float(values.max()) if values.size else np.nan)


def lag_months(model: GeopoliticsModel, trailer: str, leader: str) -> float:
    """Months since the leader's best first reached the trailer's current best (Epoch AI's lag).

    Before the run the leader's best is extrapolated back at `frontier_growth` per quarter.
    """
    trail = model.best_history[trailer][-1]
    lead = np.array(model.best_history[leader], dtype=float)
    if np.isnan(trail) or np.isnan(lead).all():
        return float("nan")
    lead = np.fmax.accumulate(np.nan_to_num(lead, nan=-np.inf))
    now = len(lead) - 1
    if lead[-1] <= trail:
        return 0.0
    reached = np.flatnonzero(lead >= trail)
    if reached.size and reached[0] > 0:
        k = reached[0]
        fraction = (trail - lead[k - 1]) / max(lead[k] - lead[k - 1], 1e-12)
        return 3.0 * (now - (k - 1 + fraction))
    if reached.size:  # reached at the first recorded quarter: extrapolate backwards
        back = (lead[0] - trail) / model.params.labs.frontier_growth
        return 3.0 * (now + back)
    return float("nan")


def _write_papers(model: GeopoliticsModel) -> None:
    """Papers this quarter and the US-CN co-authored share (D3.1, D3.3, D0.7)."""
    c = model.params.collaboration
    years = (model.quarter - model.start) / 4.0
    papers = round(c.papers_per_quarter * (1 + c.papers_growth) ** years)
    policy = model.policy
    base = c.base_share if policy.coauthorship_base is None else policy.coauthorship_base
    sensitivity = c.tension_sensitivity if policy.coauthorship_sensitivity is None else policy.coauthorship_sensitivity
    share = base * policy.coauthorship_factor * np.exp(-sensitivity * (policy.tension - c.reference_tension))
    joint = model.stream("labs.papers").binomial(papers, min(max(share, 0.0), 1.0))
    model.coauthorship_share = joint / max(papers, 1)
