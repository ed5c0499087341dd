"""Labs: releases, capability growth, open-or-closed release choice, and research papers.

Capability is measured in *frontier months*: 0 is the closed frontier (GPT-4) in 2023Q1, and the
frontier advances 12 months a year, so gaps between models read directly as months of progress
(Epoch AI's framing of lags). A family's capability is the sum of two parts (`_grow`):

- **compute months**: its lab's effective training compute in months of frontier progress (D4.3,
  D4.6). Effective compute is the lab's share of its bloc's AI compute, which grows with the chips
  its countries can get under export controls plus what domestic accelerators replace (see
  `countries`); training runs grow `training_compute_growth` a year at full chip access (Epoch AI:
  4-5x) and algorithms `algorithmic_efficiency_growth` (Epoch AI: ~3x), so one e-fold of effective
  compute is 12 / ln(4.5 x 3) = 4.6 months. A lab with a fifth of the frontier lab's compute is
  ln 5 x 4.6 = 7.4 months behind at equal know-how; a country whose chip supply stops growing
  falls behind by ln(1 + compute_growth) x 4.6 = 3.2 months a year.
- **know-how months**: algorithms, data and skills. It grows with the lab's own research
  (ln(algorithmic_efficiency_growth) x 4.6 months a year at talent 1, more for open releasers with
  a community: D2.4, D4.2, and more for labs whose countries are denied chips, by
  `constraint_innovation` x the share of a free chip market they lack: efficiency work forced by
  controls, D4.4, D4.6; DeepSeek-V3 matched Llama 3.1 405B with about a tenth of its GPU hours,
  2.79M H800 hours against 30.8M H100 hours by the two model cards, Dec and Jul 2024) and
  catches up on the know-how in releases the lab can reach (D3.2, D3.3):
  a share `open_spillover` (open weights: fine-tuning, distillation) or `closed_spillover` (closed
  APIs: papers, distillation) of the gap each quarter, times `spillover_factor` across blocs
  (tension, D0.7, D3.5) and times the share of the lab's country not blocked from the line by a
  weight or API control. Catch-up closes know-how gaps, not compute gaps, so a compute deficit
  persists while a know-how deficit closes: the size of an export control's effect is the compute
  it denies (months per e-fold above) less the substitution that replaces it and the efficiency
  work it forces.

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

import math
import operator
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim.blocs import OPENNESS
from sim.metrics_registry import GAP_PAIRS
from sim.model.countries import chip_supply

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel

NEVER = np.iinfo(np.int64).max // 2  # a quarter that never comes (line not released, not frozen)


MONTHS_PER_QUARTER = 3.0  # the unit: the frontier advances one quarter of a year per quarter


def setup(model: GeopoliticsModel) -> None:
    # The best capability of each side of each capability gap the metrics report (open, closed, CN, US).
    model.best_history = {side: [] for _, sides in GAP_PAIRS for side in sides}
    _release_due(model, initial=True)
    follow_current_lines(model)


def anchor_compute(model: GeopoliticsModel) -> None:
    """Once the countries' compute is back-cast to the start: the frontier lab's effective compute
    is the reference (0 compute months), and each released family's know-how is what its data lag
    leaves after its lab's compute months."""
    model.reference_compute = float(effective_compute(model).max())
    model.compute_months = compute_months(model)
    model.knowledge = model.capability - model.compute_months[model.family_lab]
    follow_current_lines(model)


def _frontier(model: GeopoliticsModel) -> float:
    caps = model.capability[model.released & ~np.isnan(model.capability)]
    return float(caps.max()) if caps.size else 0.0


def _release_due(model: GeopoliticsModel, initial: bool = False) -> None:
    """First releases of families: they start `release_lag_months` behind the frontier."""
    due = np.flatnonzero((model.family_release <= model.quarter) & np.isnan(model.capability))
    if not due.size:
        return
    frontier = 0.0 if initial else _frontier(model)
    for f in due:
        if initial and model.family_release[f] < model.quarter:
            model.capability[f] = -model.release_lag[f]
        else:
            model.capability[f] = frontier - model.release_lag[f]
        if not initial:  # the data give the lag; what compute does not explain is know-how
            model.knowledge[f] = model.capability[f] - model.compute_months[model.family_lab[f]]
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
    """Each lab's share of its bloc's compute times the bloc's compute (D4.3, D4.6): the chips its
    countries got under export controls plus their domestic accelerators (see `countries`)."""
    layout = _layout(model)
    # each bloc's compute summed over its countries (the same rows, in the same order, as a mask selects)
    bloc_compute = np.array([model.compute[rows].sum() for rows in layout.bloc_countries])
    compute = model.lab_compute_share * bloc_compute[layout.lab_bloc_code]
    if not model.params.structure.capability_from_compute:  # mutant: compute no longer separates labs
        return np.full_like(compute, compute.mean())
    return compute


def months_per_efold(model: GeopoliticsModel) -> float:
    """Months of frontier progress per e-fold of effective training compute (Epoch AI's rates)."""
    p = model.params.labs
    return _months_per_efold(p.training_compute_growth, p.algorithmic_efficiency_growth)


@lru_cache(maxsize=64)
def _months_per_efold(training_compute_growth: float, algorithmic_efficiency_growth: float) -> float:
    return 12.0 / np.log(training_compute_growth * algorithmic_efficiency_growth)


@lru_cache(maxsize=64)
def _run_scale_per_year(training_compute_growth: float, compute_growth: float) -> float:
    return np.log(training_compute_growth) - np.log1p(compute_growth)


@lru_cache(maxsize=64)
def _research_per_quarter(months_per_efold: float, algorithmic_efficiency_growth: float) -> float:
    return months_per_efold * np.log(algorithmic_efficiency_growth) / 4.0


def compute_months(model: GeopoliticsModel) -> np.ndarray:
    """Each lab's effective training compute in frontier months, 0 for the frontier lab at the start.

    Training compute = the lab's AI compute x the run scale common to all labs, which grows by
    `training_compute_growth` / (1 + `compute_growth`) a year (longer runs on a larger share of the
    fleet), so a lab whose compute grows at the free-market rate gains ln(training_compute_growth)
    e-folds a year (Epoch AI, Sevilla & Roldan 2024).
    """
    p = model.params
    years = (model.quarter - model.start) / 4.0
    run_scale = years * _run_scale_per_year(p.labs.training_compute_growth, p.countries.compute_growth)
    relative = np.log(np.maximum(effective_compute(model), 1e-300) / model.reference_compute)
    return months_per_efold(model) * (relative + run_scale)


def step(model: GeopoliticsModel) -> None:
    _release_due(model)
    _grow(model)
    follow_current_lines(model)  # before a switch, so a line that freezes keeps its last release
    if _choose_openness(model):  # without a switch the lines already follow (the same values again)
        follow_current_lines(model)
    _record_best(model)
    _write_papers(model)


def follow_current_lines(model: GeopoliticsModel) -> None:
    """Current lines carry their lab's newest model; stale lines keep their last release's capability."""
    follows = model.line_current & model.line_released
    model.line_capability = np.where(follows, model.capability[model.line_family], model.line_capability)
    model.line_knowledge = np.where(follows, model.knowledge[model.line_family], model.line_knowledge)


def _grow(model: GeopoliticsModel) -> None:
    """Capability = compute months + know-how months (see the module docstring; D3.2, D4.2, D4.3, D4.6).

    Know-how grows by the lab's own research (algorithmic progress scaled by talent, by the
    community of an open releaser: D2.4, and by the efficiency work of a lab denied chips: D4.4,
    D4.6) and catches up on the know-how of the lines the lab can
    reach; an alliance's `growth_factor` adds its share of the lab's own growth (compute and
    research, D0.4).
    """
    p = model.params.labs
    policy = model.policy
    lab = model.family_lab
    layout = _layout(model)
    before = model.compute_months
    model.compute_months = compute_months(model)
    per_quarter = _research_per_quarter(months_per_efold(model), p.algorithmic_efficiency_growth)
    open_share = model.world_open_share
    denied = 1.0 - chip_supply(model)[model.lab_country]  # share of a free chip market the lab lacks
    research = (
        per_quarter
        * model.lab_talent[lab] ** p.talent_elasticity
        * (1 + p.community_boost * model.lab_open[lab] * open_share)
        * (1 + p.constraint_innovation * denied[lab])
    )
    own = research + model.compute_months[lab] - before[lab]
    gain = research + (policy.growth_factor[lab] - 1.0) * np.maximum(own, 0.0)
    know = model.knowledge
    live = model.released & ~np.isnan(know)
    # Catch-up comes from what can be reached: every line still available (frozen open weights
    # too, which can still be distilled and fine-tuned: D3.2, D4.11), less what controls block to
    # the lab's country (weights or API access denied by the line's issuer).
    usable = model.line_available & ~np.isnan(model.line_knowledge)
    reach = 1.0 - policy.blocked_share[layout.family_country]  # family x line: its lab's country
    # Every family at once (family x line; the rows of families not live are discarded at the end): the
    # best weighted gap over the other families' closed lines and over their open lines (line l is
    # family l % n_families, open from n_families on: the two halves of a row), a pool adding nothing
    # when empty.
    others = usable[None, :] & layout.not_own
    weight = np.where(layout.cross, policy.spillover_factor, 1.0) * reach
    gaps = np.maximum(model.line_knowledge[None, :] - know[:, None], 0.0) * weight
    pools = (model.n_families, 2, model.n_families)  # family x (closed, open) x family
    best = np.where(others, gaps, -np.inf).reshape(pools).max(axis=2)
    rate = np.array([p.closed_spillover, p.open_spillover])
    catch_up = np.where(others.reshape(pools).any(axis=2), best, 0.0) * rate  # an empty pool adds 0
    spill = np.zeros(model.n_families)
    spill += catch_up[:, 1]  # the open pool first, then the closed one (the order of the sum)
    spill += catch_up[:, 0]
    model.knowledge = np.where(live, know + gain + spill, know)
    model.capability = np.where(live, model.compute_months[lab] + model.knowledge, model.capability)


def _choose_openness(model: GeopoliticsModel) -> bool:
    """Open or closed release, every `release_interval` quarters (D4.4, D4.6; Mladenovic et al.).

    The decision sets the openness of the lab's next release, not of what it already released: on
    a switch the new line is released at the lab's current capability and the old one freezes
    (`_switch_lines`). Trailing and compute-constrained labs gain more from open release
    (community, reach); leaders earn more from closed. Log-odds of an open release:
    open_bias + open_gap_weight x (years behind the frontier) + open_compute_weight x (compute
    shortfall against the largest lab) + open_support (rules) +/- openness_inertia.

    A lab under a `release_policy` rule (its own decision, as a player makes it in class play) does not
    draw: it switches to the rule's openness in the rule's first quarter and keeps it while the rule acts.
    Returns whether a lab switched.
    """
    p = model.params.labs
    draws = model.stream("labs.release").random(model.n_labs)  # drawn every quarter: common random numbers
    forced = model.policy.release_openness
    switched = False
    if forced.max(initial=-1) >= 0:
        for ruled in np.flatnonzero(forced >= 0).tolist():
            opens = bool(forced[ruled])
            if opens != bool(model.lab_open[ruled]):
                _announce_switch(model, ruled, opens, "by its own decision")
                switched = True
    if (model.quarter - model.start) % p.release_interval != 0 or model.quarter == model.start:
        return switched
    frontier = _frontier(model)
    compute = effective_compute(model)
    shortfall = 1.0 - compute / max(compute.max(), 1e-12)
    # Every lab at once (a switch changes only its own lab's openness and lines, not what the others
    # weigh); labs without a released family, or under a release_policy rule (above), do not decide.
    fams = _layout(model).lab_families & model.released[None, :]
    deciding = fams.any(axis=1) & (forced < 0)
    newest = np.fmax.reduce(np.where(fams, model.capability[None, :], np.nan), axis=1)  # np.nanmax per lab
    behind = frontier - newest
    currently_open = model.lab_open.copy()
    logit = (
        p.open_bias
        + p.open_gap_weight * behind / 12.0
        + p.open_compute_weight * shortfall
        + model.policy.open_support
        + np.where(currently_open, p.openness_inertia, -p.openness_inertia)
    )
    opens = draws < 1.0 / (1.0 + np.exp(-logit))  # NaN (no capability) where a lab does not decide
    for lab in np.flatnonzero(deciding & (opens != currently_open)).tolist():
        _announce_switch(model, lab, bool(opens[lab]))
        switched = True
    return switched


def _announce_switch(model: GeopoliticsModel, lab: int, opens: bool, why: str = "") -> None:
    """The lab's next releases go on the other line (`_switch_lines`); the switch is narrated."""
    model.lab_open[lab] = opens
    _switch_lines(model, lab, opens)
    what = "open weights" if opens else "closed models only"
    model.log_event(
        "",
        None,
        f"{model.lab_names[lab]} switches to {what}" + (f" {why}" if why else ""),
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
    if not model.params.structure.releases_keep_openness:
        _relabel_users(model, old)


def _relabel_users(model: GeopoliticsModel, old: np.ndarray) -> None:
    """Mutant (`structure.releases_keep_openness: false`): the users of the `old` lines move at once
    to the same family's other line, as if the family's openness were relabelled (Model v1)."""
    counterpart = (np.arange(model.n_lines) + model.n_families) % model.n_lines  # line l is family l % n_f
    for users in (model.firm_line, model.government_line):
        on_old = users >= 0
        on_old[on_old] = old[users[on_old]]
        users[on_old] = counterpart[users[on_old]]


def _record_best(model: GeopoliticsModel) -> None:
    """Best open and closed lines (what users can get: frozen weights count, retired APIs do not),
    and best US and CN models (the labs' newest)."""
    layout = _layout(model)
    # NaN where unavailable (unreleased); np.fmax ignores NaN, as the maximum over the rest does
    lines = np.where(model.line_available, model.line_capability, np.nan).reshape(2, model.n_families)
    by_openness = np.fmax.reduce(lines, axis=1)  # the closed half of the lines, then the open half
    cap = np.where(layout.origin_families & model.released[None, :], model.capability[None, :], np.nan)
    by_origin = np.fmax.reduce(cap, axis=1)  # NaN for a side with nothing released
    for key, values in model.best_history.items():
        # a side is an openness (release lines) or a bloc of origin (the labs' newest models)
        if key in OPENNESS:
            values.append(float(by_openness[int(key == "open")]))
        elif key in layout.origins:
            values.append(float(by_origin[layout.origins.index(key)]))
        else:  # a side the layout does not know (not in GAP_PAIRS): its families' newest models
            side = np.where(model.released & (model.family_origin == key), model.capability, np.nan)
            values.append(float(np.fmax.reduce(side)))


def lag_months(model: GeopoliticsModel, trailer: str, leader: str) -> float:
    """Months since the leader's best first reached the trailer's current best (Epoch AI's lag).

    Before the run the leader's best is extrapolated back at the frontier's pace (3 months a quarter).
    """
    trail = model.best_history[trailer][-1]
    if math.isnan(trail):
        return math.nan
    # The leader's best so far, quarter by quarter: a running maximum with a missing value as -inf (and
    # infinities as the largest finite floats, as `np.nan_to_num` has them). In Python: a list of ~30 floats
    # costs less than the numpy calls, and the comparisons and arithmetic below are the same IEEE ones. One
    # pass keeps what the lag needs of it: its last value, the first quarter k at which it reaches the
    # trailer's best, and its values at k and at k - 1.
    best, seen = -math.inf, False
    k, at_k, before_k = -1, math.nan, math.nan
    now = -1
    for now, value in enumerate(model.best_history[leader]):
        if math.isnan(value):
            value = -math.inf
        else:
            seen = True
            value = _LARGEST if value == math.inf else -_LARGEST if value == -math.inf else value
        previous = best
        best = value if value > best else best
        if k < 0 and best >= trail:
            k, at_k, before_k = now, best, previous
    if not seen:
        return math.nan
    if best <= trail:
        return 0.0
    if k > 0:
        fraction = (trail - before_k) / max(at_k - before_k, 1e-12)
        return 3.0 * (now - (k - 1 + fraction))
    if k == 0:  # reached at the first recorded quarter: extrapolate backwards
        back = (at_k - trail) / MONTHS_PER_QUARTER
        return 3.0 * (now + back)
    return math.nan


_LARGEST = sys.float_info.max


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


@dataclass(frozen=True)
class LabsLayout:
    """Index structures of the labs phase that depend only on the model's fixed structure (who makes
    which family, the lines' order and origin, the blocs), built on first use (`_layout`)."""

    sources: tuple[np.ndarray, ...]  # the arrays it was built from (a model that replaces one builds anew)
    family_country: np.ndarray  # row of each family's lab's country
    not_own: np.ndarray  # family x line: the line is another family's
    cross: np.ndarray  # family x line: the line's origin differs from the family's (tension's spillover_factor)
    lab_families: np.ndarray  # lab x family: the lab makes the family
    bloc_countries: tuple[np.ndarray, ...]  # rows of each bloc's countries, for the blocs of labs
    lab_bloc_code: np.ndarray  # each lab's bloc, as a position in bloc_countries
    origins: list[str]  # the blocs of origin of the capability gaps (GAP_PAIRS)
    origin_families: np.ndarray  # origin x family: the family's origin is that bloc

    def for_model(self, model: GeopoliticsModel) -> LabsLayout:
        """This layout for `model`, whose arrays it is built from have the same contents as this one's
        (`GeopoliticsModel._setup_world`): bound to its arrays (the index arrays are only read, shared)."""
        return replace(self, sources=_sources(model))


def _sources(model: GeopoliticsModel) -> tuple[np.ndarray, ...]:
    return (
        model.family_lab,
        model.lab_country,
        model.line_family,
        model.line_origin,
        model.line_open,
        model.family_origin,
        model.country_bloc,
        model.lab_bloc,
    )


def _layout(model: GeopoliticsModel) -> LabsLayout:
    """The model's `LabsLayout`, built again when one of the arrays it comes from was replaced."""
    sources = _sources(model)
    layout = model.labs_layout
    if layout is not None and all(map(operator.is_, layout.sources, sources)):
        return layout
    f = model.n_families
    if not (np.array_equal(model.line_family, np.tile(np.arange(f), 2))
            and np.array_equal(model.line_open, np.arange(2 * f) >= f)):
        raise ValueError("release lines must be each family's closed line, then each family's open line")
    blocs = sorted(set(model.lab_bloc.tolist()))
    origins = [side for _, sides in GAP_PAIRS for side in sides if side not in OPENNESS]
    layout = LabsLayout(
        sources=sources,
        family_country=model.lab_country[model.family_lab],
        not_own=model.line_family[None, :] != np.arange(f)[:, None],
        cross=model.line_origin[None, :] != model.family_origin[:, None],
        lab_families=model.family_lab[None, :] == np.arange(model.n_labs)[:, None],
        bloc_countries=tuple(np.flatnonzero(model.country_bloc == b) for b in blocs),
        lab_bloc_code=np.array([blocs.index(b) for b in model.lab_bloc.tolist()], dtype=np.intp),
        origins=origins,
        origin_families=model.family_origin[None, :] == np.array(origins, dtype=str)[:, None],
    )
    model.labs_layout = layout
    return layout
