"""Firms: adoption of AI that responds to what is on offer, and a multinomial logit choice among the
release lines available.

Adoption (`_adoption_probability`). Each firm has a size (a truncated Pareto, Axtell 2001) and a
sector; only the firms below their sector's `adoption_ceiling` would ever adopt (fixed draw), so
adoption saturates below 100% per sector. A non-user among them considers AI each quarter at a Bass
hazard (innovation + imitation x the country's adopter share; Bass 1969, Sultan et al. 1990),
scaled by the country's digital readiness (D0.8) and by size^`size_elasticity` (Eurostat: large
firms adopt more), and adopts with the logit probability of the same choice model with going on
without AI (`no_ai_utility`) as one more option: sum_j exp(u_j) / (exp(no_ai_utility) + sum_j
exp(u_j)), over the lines j it can get, with u_j the deterministic utility below for its country
and sector. A ban, an API or weight control, a retired line or a costly, distrusted offer lowers
that value and so the adoption rate (D4.8, D4.12); better and cheaper models raise it.

The options are release lines (a family's open weights or its closed API, see `labs`): a firm on a
line gets its lab's newer releases while the line is current; users of a frozen line re-choose
at a rate 1 / `upgrade_cycle_quarters` on top of the ordinary re-evaluation, so the open share
moves only as firms choose (D4.4, D4.11). All firms act at once on the model's arrays. The
utility of line j (of family f) for firm i in country c:

    capability_weight * (capability_j - frontier) / 12
  - cost_weight * log10(cost_cj)            closed: the family's listed price, falling at
                                            `closed_price_decline` a year; open: hosting cost =
                                            `hosting_cost_per_bparam` x the family's active
                                            parameters, falling at `hosting_cost_decline`, higher
                                            with low readiness and little chip access (D0.8, D4.6);
                                            both x the programme's co-funding factor (D1.2)
  + network_weight * peers on f + ecosystem_weight * peers on f's origin   (D2.4)
  + alignment_weight * (2 * alignment(c, origin_j) - 1)                   (D1.5, D4.4; see `alignment`)
        x open_alignment_factor if j is open: downloaded weights tie their users to the origin
        bloc less than a closed service does (D2.1, D2.3)
  - risk_weight * sector_sensitivity_i * (privacy_base + privacy_c) * risk_cj   (D2.5, D4.10)
  + open_local_adaptation if j is open and c in the Global South          (D4.11, D4.12)
  + rule bonuses (localisation, alliances) + switching_cost if j is in use (Arthur 1989)
  + Gumbel taste noise,

where risk_cj = data_transfer if j's provider is foreign to c (x open_transfer_factor for self-hosted
weights) + open_security if j is open + distrust + rule risks: alignment is the only political term,
so it is not counted again in risk. Banned, controlled, unserved (the lab's supported-country list,
see `access`), unreleased and retired lines are out of the choice set (D4.8). D2.3: practical need
outweighs politics, so every term is weighed, none decides alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model import prices
from sim.model.access import blocked_share
from sim.model.streams import counter_uniforms, stream_key

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


def allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split `total` firms over countries in proportion to `weights` (largest remainder),
    giving each at least `minimum` when there are enough firms."""
    n = len(weights)
    floor = min(minimum, total // max(n, 1))
    rest = total - floor * n
    ideal = rest * weights / weights.sum()
    counts = np.floor(ideal).astype(int)
    short = rest - counts.sum()
    order = np.argsort(-(ideal - counts), kind="stable")
    counts[order[:short]] += 1
    return counts + floor


def setup(model: GeopoliticsModel) -> None:
    p = model.params.firms
    n = model.scenario.population.firms
    _set_fixed_terms(model)
    rng = model.stream("firms.init")
    counts = allocate(n, model.gdp**p.gdp_exponent, p.min_per_country)
    model.firm_country = np.repeat(np.arange(model.n_countries), counts)
    model.sector_names = list(p.sectors)
    shares = np.array([s.share for s in p.sectors.values()])
    model.firm_sector = categorical(rng, shares / shares.sum(), n)
    model.sector_risk = np.array([s.risk_sensitivity for s in p.sectors.values()])
    model.firm_size = pareto_sizes(rng.random(n), p.size_pareto_exponent, p.size_max_ratio)
    model.firm_large = model.firm_size >= p.large_firm_size
    model.firm_compliance = rng.random(n)  # fixed draw: which firms a partial control reaches
    model.firm_line = np.full(n, -1)
    a = model.params.adoption
    ceiling = np.array([s.adoption_ceiling for s in p.sectors.values()])
    # Fixed draw: the firms that would ever adopt (their own stream, so the rest keep their draws).
    model.firm_potential = model.stream("firms.potential").random(n) < ceiling[model.firm_sector]
    scale = model.firm_size**a.size_elasticity
    model.firm_hazard_scale = scale / scale.mean()  # 1 for a firm of average size effect
    adopt_prob = a.initial_rate * model.readiness[model.firm_country] ** a.readiness_elasticity
    adopt_prob = np.minimum(adopt_prob * model.firm_hazard_scale, 1.0)
    adopters = np.flatnonzero((rng.random(n) < adopt_prob) & model.firm_potential)
    model.firms_by_country = counts.astype(float)
    model.potential_by_country = np.bincount(model.firm_country[model.firm_potential], minlength=model.n_countries)
    # weighted counts are float64 already (copy=False: no copy; the dtype is for the type checker)
    model.size_by_country = np.bincount(
        model.firm_country, weights=model.firm_size, minlength=model.n_countries
    ).astype(np.float64, copy=False)
    # Firm (country, sector) cell: the deterministic part of utility is the same within a cell.
    model.firm_cell = model.firm_country * len(shares) + model.firm_sector
    model.choice_key = stream_key(model.run_seed, "firms.choice")
    _update_shares(model)
    for round_ in (1, 2):  # the second round sees the peers chosen in the first
        _choose(model, adopters, taste_noise(model, adopters, round_))
        _update_shares(model)


def categorical(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """`size` draws of categories 0..len(p) - 1 with probabilities `p` (validated: non-negative, sum 1):
    the numbers `rng.choice(len(p), size=size, p=p)` returns, and the same draws from `rng`.

    That is numpy's own algorithm (one uniform per draw against the cumulative shares, the count of
    shares at or below it: `searchsorted(..., side="right")`), written as one comparison per category:
    numpy's binary search of each uniform and its checks of `p` cost ~95 us for 4,000 firms, this ~30 us
    (a test checks it against `rng.choice` draw for draw, and the stream's state after it).
    """
    cdf = p.cumsum()
    cdf /= cdf[-1]
    uniforms = rng.random(size)
    drawn = np.zeros(size, dtype=np.int64)
    for bound in cdf:
        drawn += uniforms >= bound
    return drawn


def pareto_sizes(uniforms: np.ndarray, exponent: float, max_ratio: float) -> np.ndarray:
    """Firm sizes relative to the smallest firm (1 to `max_ratio`) from uniforms: a Pareto with tail
    `exponent` truncated at `max_ratio` (inverse CDF; Axtell 2001: exponent about 1.06 in employees)."""
    tail = 1.0 - max_ratio**-exponent
    return (1.0 - uniforms * tail) ** (-1.0 / exponent)


def _set_fixed_terms(model: GeopoliticsModel) -> None:
    """The terms of `country_utility` that no quarter changes (parameters, the lines' openness, the
    countries' region, whose provider is foreign), computed once as `country_utility` computed them."""
    c, r = model.params.choice, model.params.risk
    is_open = model.line_open
    # Self-hosted open weights carry less political weight than a closed service (D2.1, D2.3).
    model.line_alignment_weight = c.alignment_weight * np.where(is_open, c.open_alignment_factor, 1.0)
    # open local adaptation (D4.11, D4.12); float64 already (copy=False: no copy; the dtype is for the type checker)
    local = c.open_local_adaptation * (model.south[:, None] & is_open[None, :])
    model.fixed_utility = local.astype(np.float64, copy=False)
    transfer = r.data_transfer * model.line_foreign * np.where(is_open, r.open_transfer_factor, 1.0)
    model.fixed_risk = transfer + r.open_security * is_open


def country_utility(model: GeopoliticsModel) -> tuple[np.ndarray, np.ndarray]:
    """(utility without firm-specific terms, risk) as country x line matrices."""
    c, r = model.params.choice, model.params.risk
    policy = model.policy
    is_open = model.line_open
    of_family = model.line_family
    cap = np.where(model.line_available, model.line_capability, np.nan)
    # what np.nanmax computes, without its wrapper; 0 when no line has a finite capability (the check only
    # when the maximum is not finite: a finite maximum means some line's is)
    frontier = np.fmax.reduce(cap) if cap.size else np.nan
    if not math.isfinite(frontier) and not np.isfinite(cap).any():
        frontier = 0.0
    capability = _nan_to_zero(c.capability_weight * (cap - frontier) / 12.0)
    years = (model.quarter - model.start) / 4.0
    price = prices.closed_price(model)[of_family]
    per_line = c.hosting_cost_per_bparam * model.active_params[of_family] * (1.0 - c.hosting_cost_decline) ** years
    where = (1.0 + c.infrastructure_penalty * (1.0 - model.readiness)) / np.maximum(
        policy.chip_access, c.compute_access_floor
    )
    cost = np.where(is_open[None, :], where[:, None] * per_line[None, :], price[None, :]) * policy.price_factor
    # Peers count by family: both lines share its ecosystem (tools, fine-tunes, know-how).
    mix = c.network_global_mix
    peers = (1 - mix) * model.share_country + mix * model.share_world[None, :]
    origin_peers = (1 - mix) * model.origin_share_country + mix * model.origin_share_world[None, :]
    utility = (
        capability[None, :]
        - c.cost_weight * np.log10(cost)
        + c.network_weight * peers[:, of_family]
        + c.ecosystem_weight * origin_peers[:, of_family]
        # Self-hosted open weights carry less political weight than a closed service (D2.1, D2.3).
        + model.line_alignment_weight[None, :] * (2.0 * model.line_alignment - 1.0)
        + model.fixed_utility  # open local adaptation in the Global South (D4.11, D4.12)
        + policy.utility_bonus
    )
    # data transfer to a foreign provider (less for self-hosted weights) + open weights' security, fixed
    risk = model.fixed_risk + model.distrust + policy.extra_risk
    risk = risk * (r.privacy_base + model.privacy())[:, None]
    return utility, risk


def _nan_to_zero(values: np.ndarray) -> np.ndarray:
    """`np.nan_to_num(values, nan=0.0)` (infinities as the largest finite floats) in two numpy calls when
    nothing is infinite: that function costs ~25 µs on 22 values, a millisecond a run."""
    values = np.where(np.isnan(values), 0.0, values)
    return values if np.isfinite(values).all() else np.nan_to_num(values)


def quarter_utility(model: GeopoliticsModel) -> tuple[np.ndarray, np.ndarray]:
    """`country_utility` in the governments phase, kept for the firms phase of the same quarter:
    nothing between the two phases changes what it is computed from (the schedule runs them one
    after the other), so the firms do not compute it again. Only the firms phase takes it back."""
    computed = country_utility(model)
    model.utility_this_quarter = (model.quarter, *computed)
    return computed


def _take_quarter_utility(model: GeopoliticsModel) -> tuple[np.ndarray, np.ndarray] | None:
    kept, model.utility_this_quarter = model.utility_this_quarter, None
    return kept[1:] if kept is not None and kept[0] == model.quarter else None


def base_utility(
    model: GeopoliticsModel,
    rows: np.ndarray,
    risk_scale: np.ndarray,
    computed: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Utility for choosers in countries `rows` whose risk counts `risk_scale` times (`computed`:
    this quarter's `country_utility`, if already at hand)."""
    utility, risk = country_utility(model) if computed is None else computed
    return utility[rows] - model.params.choice.risk_weight * risk_scale[:, None] * risk[rows]


def _cell_utility(model: GeopoliticsModel, computed: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(country x sector) x lines: utility without taste noise and switching cost, the same
    for every firm of a country and sector; choosers gather their row instead of each
    recomputing it (`computed`: this quarter's `country_utility`, if already at hand)."""
    utility, risk = country_utility(model) if computed is None else computed
    scale = model.params.choice.risk_weight * model.sector_risk[None, :, None]
    # utility - scale x risk, in one country x sector x line array (the second operation writes into the first's)
    table = np.multiply(scale, risk[:, None, :])
    np.subtract(utility[:, None, :], table, out=table)
    return table.reshape(-1, model.n_lines)


def taste_noise(model: GeopoliticsModel, firms: np.ndarray, round_: int = 0) -> np.ndarray:
    """Gumbel taste noise of `firms` (one row each, a value per release line) this quarter.

    Common random numbers: a firm's noise for a line depends only on the run's seed, the quarter,
    the choice round (0 each quarter; 1 and 2 for the two rounds at set-up), the firm and the line,
    never on which other firms choose or on the scenario, so a policy changes who chooses, not the
    tastes they choose with. It is computed for the choosers only (a few percent of the firms a
    quarter) by a counter-based draw (`sim.model.streams.counter_uniforms`), not drawn as a firms x
    lines block from a stream every quarter to keep the stream in step. Gumbel = -log(-log(u)).
    """
    uniforms = counter_uniforms(model.choice_key, (model.quarter, round_), firms, model.n_lines)
    np.log(uniforms, out=uniforms)
    np.negative(uniforms, out=uniforms)
    np.log(uniforms, out=uniforms)
    np.negative(uniforms, out=uniforms)
    return uniforms


@dataclass(frozen=True)
class ChoiceSets:
    """The firms' choice sets, kept from quarter to quarter while what they are made of is unchanged.

    A firm's choice set depends on its country, on bans and retirements, and on which partial controls
    and unserved countries reach it (its fixed compliance draw against each line's blocked share, D4.8;
    see `access`). The blocked shares take few distinct values (`levels`), so the firms of a country at
    the same level (compliance between two consecutive values) have the same choice set: `reach` holds
    one row per country and level. What it is built from, `blocked_share`, the lines available
    (released, not retired) and the bans for all users, is kept as bytes and compared each quarter
    (`choice_sets`): a release or a retirement builds it anew (about a third of the quarters), reusing
    what follows from the blocked shares alone unless a rule that blocks lines started or stopped; the
    other quarters reuse all of it. The firms' countries, cells and compliance draws, also read here,
    are fixed at set-up.
    """

    blocked: bytes  # blocked_share(model) this was built from
    available: bytes  # model.line_available this was built from
    banned: bytes  # policy.banned_all (country x line) this was built from
    responds: bool  # structure.adoption_responds_to_access
    # from the blocked shares alone
    levels: np.ndarray  # the distinct blocked shares above 0, sorted
    firm_reach: np.ndarray  # per firm: its row of `reach`, country x (levels + 1) + its level
    unblocked: np.ndarray  # country x level x line: no control or unserved share reaches that level
    partial: np.ndarray  # country x line: blocked for some of the country's firms
    comes_in: np.ndarray  # country x line: where partial, the (country, level) row from which it is in reach
    line_base: np.ndarray  # per firm: country x (n_lines + 1) + 1, its (country, line + 1) cell minus the line
    # from both
    reach: np.ndarray  # (country x level) x line: the lines a firm of that country and level can get
    out_of_reach: np.ndarray  # ~reach
    key_reach: np.ndarray  # (cell x level) x line: the choice set adoption counts (`_adoption_probability`)
    firm_key: np.ndarray  # per firm: its row of `key_reach`
    below: np.ndarray  # (country x (line + 1)), flat: see `_current_unavailable`


def choice_sets(model: GeopoliticsModel) -> ChoiceSets:
    """This quarter's `ChoiceSets`: the one kept on the model if built from the same inputs, else a new one."""
    blocked = blocked_share(model)  # controls and countries a lab does not serve
    available, banned = model.line_available, model.policy.banned_all
    responds = model.params.structure.adoption_responds_to_access
    kept = model.choice_sets
    if (
        kept is not None
        and kept.responds == responds
        and kept.blocked == blocked.tobytes()
        and kept.available == available.tobytes()
        and kept.banned == banned.tobytes()
    ):
        return kept
    built = _build_choice_sets(model, blocked, available, banned, responds, kept)
    model.choice_sets = built
    return built


def _build_choice_sets(
    model: GeopoliticsModel,
    blocked: np.ndarray,
    available: np.ndarray,
    banned: np.ndarray,
    responds: bool,
    kept: ChoiceSets | None,
) -> ChoiceSets:
    n_c, n_l = model.n_countries, model.n_lines
    open_to_all = available[None, :] & ~banned  # country x line
    blocked_bytes = blocked.tobytes()
    if kept is not None and kept.blocked == blocked_bytes:
        levels, firm_reach, unblocked = kept.levels, kept.firm_reach, kept.unblocked
        partial, comes_in, line_base = kept.partial, kept.comes_in, kept.line_base
    else:
        levels = _distinct(blocked[blocked > 0])
        thresholds = np.concatenate([[0.0], levels])  # level r: compliance in [thresholds[r], thresholds[r + 1])
        # a line blocked for share s is out of reach for a firm exactly when its compliance is below s,
        # that is when s is above its level's threshold (s is 0 or one of the levels)
        unblocked = ~(blocked[:, None, :] > thresholds[None, :, None])
        firm_reach = model.firm_country * thresholds.size
        firm_reach += np.searchsorted(levels, model.firm_compliance, side="right")
        partial = blocked > 0
        comes_in = np.searchsorted(thresholds, blocked)  # the level whose threshold is s: in reach from there up
        comes_in += (np.arange(n_c) * thresholds.size)[:, None]
        line_base = kept.line_base if kept is not None else model.firm_country * (n_l + 1) + 1
    n_levels = levels.size + 1
    reachable = open_to_all[:, None, :] & unblocked  # country x level x line
    # Most countries have the same choice set at several levels: its value is computed once, at the last
    # level that changed it (`source`), and the firms of the levels after it look that one up. A level
    # changes the choice set where a line open to all comes into reach at it (`comes_in`).
    changed = np.zeros((n_c, n_levels), dtype=bool)
    changed[:, 0] = True
    counted = reachable
    if responds:
        changed.ravel()[comes_in[open_to_all & partial]] = True
    else:  # mutant: adoption counts every released line, the same at every level
        counted = np.broadcast_to(available[None, None, :], reachable.shape)
    source = np.maximum.accumulate(np.where(changed, np.arange(n_levels), 0), axis=1)  # country x level
    n_sectors = len(model.sector_names)
    cell_country = np.arange(n_c * n_sectors) // n_sectors
    below = np.empty((n_c, n_l + 1))
    below[:, 0] = -np.inf
    below[:, 1:] = np.where(open_to_all, blocked, np.inf)
    reach = reachable.reshape(-1, n_l)
    firm_key = model.firm_cell * n_levels
    firm_key += source.ravel()[firm_reach]
    return ChoiceSets(
        blocked=blocked_bytes,
        available=available.tobytes(),
        banned=banned.tobytes(),
        responds=responds,
        levels=levels,
        firm_reach=firm_reach,
        unblocked=unblocked,
        partial=partial,
        comes_in=comes_in,
        line_base=line_base,
        reach=reach,
        out_of_reach=~reach,
        key_reach=counted[cell_country].reshape(-1, n_l),
        firm_key=firm_key,
        below=below.ravel(),
    )


def _available_rows(model: GeopoliticsModel, firms: np.ndarray, sets: ChoiceSets | None = None) -> np.ndarray:
    """`firms` x lines: released and not retired, not banned for all users, served by the lab in the
    firm's country and not blocked by a control (`sets`: this quarter's `choice_sets`, if at hand).

    A firm's row of `ChoiceSets.reach`: a line blocked for share s of its country's firms is out of
    reach for the firm exactly when its compliance is below s, that is when s is above the firm's level.
    """
    sets = choice_sets(model) if sets is None else sets
    return sets.reach[sets.firm_reach[firms]]


def _current_unavailable(
    model: GeopoliticsModel, sets: ChoiceSets | None = None, cells: np.ndarray | None = None
) -> np.ndarray:
    """Users whose line is no longer available to them (banned, blocked, a retired API): they must
    re-choose. Looks up only each user's own line, not the whole choice set: one (country, line + 1)
    table of the compliance below which the line is out of reach (inf: out for all; column 0 for
    non-users, -inf: never), one look-up per firm (`sets`: this quarter's `choice_sets`, `cells`: the
    firms' `_line_cells`, if at hand)."""
    sets = choice_sets(model) if sets is None else sets
    cells = _line_cells(model) if cells is None else cells
    return model.firm_compliance < sets.below[cells]


def _line_cells(model: GeopoliticsModel) -> np.ndarray:
    """Each firm's (country, line + 1) cell: country x (n_lines + 1) + line + 1 (non-users in column 0)."""
    cells = model.firm_country * (model.n_lines + 1)
    cells += model.firm_line
    cells += 1
    return cells


def _choose(
    model: GeopoliticsModel,
    choosers: np.ndarray,
    noise: np.ndarray,
    table: np.ndarray | None = None,
    sets: ChoiceSets | None = None,
) -> None:
    """Choosers pick the line of highest utility plus their taste `noise` (one row each); `table` is
    this quarter's `_cell_utility` and `sets` its `choice_sets`, if already computed."""
    if choosers.size == 0:
        return
    c = model.params.choice
    table = _cell_utility(model) if table is None else table
    utility = table[model.firm_cell[choosers]]
    utility += noise
    current = model.firm_line[choosers]
    stay = np.where(
        model.firm_large[choosers], c.switching_cost * c.large_firm_switching_multiplier, c.switching_cost
    )
    using = current >= 0
    at = np.flatnonzero(using)  # each user's own line, as a flat index (one gather and one scatter)
    at *= model.n_lines
    at += current[using]
    utility.ravel()[at] += stay[using]
    sets = choice_sets(model) if sets is None else sets
    np.copyto(utility, -np.inf, where=sets.out_of_reach[sets.firm_reach[choosers]])  # `_available_rows`, negated
    best = np.argmax(utility, axis=1)
    none = ~np.isfinite(utility[np.arange(choosers.size), best])  # nothing available: stops using AI
    model.firm_line[choosers] = np.where(none, -1, best)


def _adoption_probability(
    model: GeopoliticsModel, table: np.ndarray, candidates: np.ndarray, sets: ChoiceSets | None = None
) -> np.ndarray:
    """Probability that each of the `candidates` (non-users who would ever adopt) adopts this quarter:
    a Bass hazard of considering AI, times the logit probability that the lines it can get beat going
    without (module docstring; D0.8, D4.8, D4.12); `sets`: this quarter's `choice_sets`, if at hand.
    The firms phase draws against it through `_adopts`."""
    return _considers(model, candidates) * _accepts(model, table, candidates, sets)


def _adopts(
    model: GeopoliticsModel, table: np.ndarray, candidates: np.ndarray, draw: np.ndarray, sets: ChoiceSets
) -> np.ndarray:
    """Which `candidates` adopt with their uniform `draw`s: draw < `_adoption_probability`, exactly, with
    the logit part computed only for the candidates whose draw is below their hazard of considering AI
    (a few percent). The others cannot adopt: the probability is that hazard times an acceptance of at
    most 1, and a float times a number at most 1 does not round above itself."""
    considers = _considers(model, candidates)
    adopts = draw < considers
    maybe = np.flatnonzero(adopts)
    adopts[maybe] = draw[maybe] < considers[maybe] * _accepts(model, table, candidates[maybe], sets)
    return adopts


def _considers(model: GeopoliticsModel, candidates: np.ndarray) -> np.ndarray:
    """Probability that each of the `candidates` considers AI this quarter: a Bass hazard (innovation +
    imitation x the country's adopter share among its firms that would ever adopt) scaled by readiness
    and by the firm's size."""
    a = model.params.adoption
    rate = np.divide(
        model.adopters_by_country,
        model.potential_by_country,
        out=np.zeros(model.n_countries),
        where=model.potential_by_country > 0,
    )
    hazard = (a.innovation + a.imitation * np.minimum(rate, 1.0)) / 4.0 * model.readiness**a.readiness_elasticity
    country = model.firm_country[candidates]
    return 1.0 - np.exp(np.negative(hazard)[country] * model.firm_hazard_scale[candidates])


def _accepts(
    model: GeopoliticsModel, table: np.ndarray, candidates: np.ndarray, sets: ChoiceSets | None = None
) -> np.ndarray:
    """Logit probability that the lines each of the `candidates` can get beat going without AI.

    The value of a choice set is the same for every firm of a (country, sector) cell with the same
    choice set (`ChoiceSets`): it is computed once per such pair that some candidate needs, and each
    candidate looks up its own.
    """
    sets = choice_sets(model) if sets is None else sets
    keys = sets.firm_key[candidates]  # (cell, level) row of each candidate's choice set
    needed = np.zeros(sets.key_reach.shape[0], dtype=bool)
    needed[keys] = True
    rows = np.flatnonzero(needed)
    n_levels = sets.levels.size + 1
    value = _choice_value(table[rows // n_levels], sets.key_reach[rows])
    accept = np.empty(needed.size)
    accept[rows] = 1.0 / (1.0 + np.exp(model.params.adoption.no_ai_utility - value))  # exp(-inf) = 0: no adoption
    return accept[keys]


def _distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` of floats that are not NaN: sorted, each value once (without np.unique's wrapper
    and hash table, ~10 µs on a few values)."""
    ordered = np.sort(values)
    keep = np.empty(ordered.shape, dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _choice_value(utility: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """log sum_j exp(u_j) per row over the lines `offered` (the value of a logit choice set, McFadden
    1978); -inf for none. Shifted by the row's maximum as usual; the exponential is taken of every
    utility and the lines not offered are zeroed after it (exp(-inf) would be 0 too), as numpy's exp
    costs several times as much on -inf as on a finite number and half the cells are out."""
    # The rows' maxima from a transposed copy: a maximum is exact whatever the order, and numpy takes one
    # row of 22 at a time (~40 ns a row) but 22 rows of all of them in a few vector steps.
    top = np.ascontiguousarray(np.where(offered, utility, -np.inf).T).max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    terms = utility - safe[:, None]
    # over: a line not offered may be far above the best offered one (an offered one is at most 0 here)
    with np.errstate(divide="ignore", over="ignore"):
        np.exp(terms, out=terms)
        return safe + np.log(np.where(offered, terms, 0.0).sum(axis=1))


def _update_shares(model: GeopoliticsModel, cells: np.ndarray | None = None) -> None:
    """Peers: shares of AI-using firms on each family and origin, by country and world-wide; users
    per line (`line_counts`) and per family (`family_counts`, its lines together); and the same
    weighted by firm size (`line_weight`, `family_weight`), which the adoption metrics report
    (`cells`: the firms' `_line_cells`, if at hand)."""
    n_c, n_f, n_l = model.n_countries, model.n_families, model.n_lines
    # Every firm counted in a (country, line + 1) bin, non-users in column 0 (dropped): cheaper than
    # selecting the users first, and each bin sums the same firms in the same order.
    cells = _line_cells(model) if cells is None else cells
    lines = np.bincount(cells, minlength=n_c * (n_l + 1)).reshape(n_c, n_l + 1)[:, 1:].astype(float)
    model.line_counts = lines
    # weighted counts are float64 already (copy=False: no copy; the dtype is for the type checker)
    weighted = np.bincount(cells, weights=model.firm_size, minlength=n_c * (n_l + 1)).reshape(n_c, n_l + 1)
    weight = np.ascontiguousarray(weighted[:, 1:]).astype(np.float64, copy=False)
    model.line_weight = weight
    model.family_weight = weight[:, :n_f] + weight[:, n_f:]
    counts = lines[:, :n_f] + lines[:, n_f:]  # line l is family l % n_f (see model._setup_lines)
    per_country = counts.sum(axis=1, keepdims=True)
    model.family_counts = counts
    # 0 where a country has no users: its counts are all 0, and 0 / 1 is that 0 (a count, if any, is >= 1)
    model.share_country = counts / np.maximum(per_country, 1.0)
    total = counts.sum()
    model.share_world = counts.sum(axis=0) / total if total > 0 else np.zeros(n_f)
    same_origin = model.family_origin[:, None] == model.family_origin[None, :]
    model.origin_share_country = model.share_country @ same_origin
    model.origin_share_world = model.share_world @ same_origin
    # the open lines are the last n_f (see model._setup_lines); counts add up exactly in any order
    model.world_open_share = float(lines[:, n_f:].sum() / total) if total > 0 else 0.0
    model.adopters_by_country = per_country[:, 0]


def step(model: GeopoliticsModel) -> None:
    """Adoption, re-evaluation and choice for this quarter."""
    a = model.params.adoption
    n = model.n_firms
    adopt_draw = model.stream("firms.adopt").random(n)
    reevaluate_draw = model.stream("firms.reevaluate").random(n)
    sets = choice_sets(model)
    cells = sets.line_base + model.firm_line  # `_line_cells`
    forced = _current_unavailable(model, sets, cells)
    # once a quarter: the adoption value and the choice read it (from the governments' utility)
    table = _cell_utility(model, _take_quarter_utility(model))
    candidates = np.flatnonzero((model.firm_line < 0) & model.firm_potential)
    adopts = np.zeros(n, dtype=bool)
    adopts[candidates] = _adopts(model, table, candidates, adopt_draw[candidates], sets)
    # Users of a frozen line also re-choose over their upgrade cycle (the same draw, a higher rate).
    upgrade = 1.0 / a.upgrade_cycle_quarters
    stale_rate = 1.0 - (1.0 - a.reevaluation_share) * (1.0 - upgrade)
    # by line, with one more at the end for non-users (line -1): rate 0, and a draw in [0, 1) is never below it
    line_rate = np.zeros(model.n_lines + 1)  # (not np.append: its Python wrapper costs as much as the rest)
    line_rate[:-1] = np.where(model.line_stale, stale_rate, a.reevaluation_share)
    reevaluates = reevaluate_draw < line_rate[model.firm_line]
    choosers = np.flatnonzero(adopts | reevaluates | forced)
    _choose(model, choosers, taste_noise(model, choosers), table, sets)
    cells[choosers] = sets.line_base[choosers] + model.firm_line[choosers]  # only the choosers' lines changed
    _update_shares(model, cells)
