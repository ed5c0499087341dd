"""The performance design keeps the model's results and its Mesa face (docs/performance.md).

- Firm choices equal those of the straightforward per-firm design (a full Gumbel matrix, every
  firm's whole choice set checked), seed for seed: the fast path computes the taste noise of the
  choosers only, and a firm's noise does not depend on who else chooses (common random numbers).
- Firm agents are created when first looked at, and are then ordinary Mesa agents that read the
  model's arrays; looking at them does not change the results.
- A finished and released model is freed (memory stays flat over long sweeps).
"""

from __future__ import annotations

import dataclasses
import gc
import weakref
from pathlib import Path

import mesa
import numpy as np
import pytest
from scipy import stats

from conftest import BASELINE, SCENARIOS
from sim.model import firms, schedule
from sim.model.access import blocked_share
from sim.model.agents import Country, Firm, Lab
from sim.model.model import GeopoliticsModel
from sim.model.streams import counter_uniforms, stream_key
from sim.quarters import quarter_label
from sim.runner import release_model
from sim.scenario import prepare

SMALL = ["population.firms=1500", "time.end=2027Q4"]
# A control that bites: half of Europe's firms lose the US closed models, which many of them use.
API_CONTROL = """\
schema_version: 1
name: api-control-on-europe
extends: {baseline}
description: Test scenario; US labs must refuse half of the EU's firms from 2024.
rules:
  us-api-controls-eu:
    kind: export_control
    sources: [D4.4]
    issuer: US
    targets: {{blocs: [EU]}}
    restricts: [api_access]
    strength: 0.5
    from: 2024Q1
"""


def per_firm_step(model: GeopoliticsModel) -> None:
    """The firms phase as first written: Gumbel noise and availability for every firm and release line."""
    a, c, policy = model.params.adoption, model.params.choice, model.policy
    n = model.n_firms
    adopt_draw = model.stream("firms.adopt").random(n)
    reevaluate_draw = model.stream("firms.reevaluate").random(n)
    noise = firms.taste_noise(model, np.arange(n))  # every firm's, whether it chooses or not
    country = model.firm_country
    blocked = model.firm_compliance[:, None] < blocked_share(model)[country]  # controls and unserved countries
    available = model.line_available[None, :] & ~policy.banned_all[country] & ~blocked
    using = model.firm_line >= 0
    forced = using & ~available[np.arange(n), np.maximum(model.firm_line, 0)]
    # Adoption: every non-user below its sector's ceiling considers AI at the Bass hazard and accepts
    # with the logit probability of its own choice set against going without AI.
    rate = np.divide(model.adopters_by_country, model.potential_by_country, out=np.zeros(model.n_countries),
                     where=model.potential_by_country > 0)
    hazard = (a.innovation + a.imitation * np.minimum(rate, 1.0))[country] / 4.0
    hazard = hazard * model.readiness[country] ** a.readiness_elasticity * model.firm_hazard_scale
    every = firms.base_utility(model, country, model.sector_risk[model.firm_sector])
    value = np.log(np.where(available, np.exp(every), 0.0).sum(axis=1))
    accept = 1.0 / (1.0 + np.exp(a.no_ai_utility - value))
    adopts = ~using & model.firm_potential & (adopt_draw < (1.0 - np.exp(-hazard)) * accept)
    stale = model.line_stale[np.maximum(model.firm_line, 0)]
    rate = np.where(stale, 1.0 - (1.0 - a.reevaluation_share) * (1.0 - 1.0 / a.upgrade_cycle_quarters),
                    a.reevaluation_share)
    choosers = np.flatnonzero(adopts | (using & (reevaluate_draw < rate)) | forced)
    if choosers.size:
        scale = model.sector_risk[model.firm_sector[choosers]]
        utility = firms.base_utility(model, country[choosers], scale) + noise[choosers]
        current = model.firm_line[choosers]
        stay = np.where(model.firm_large[choosers], c.switching_cost * c.large_firm_switching_multiplier,
                        c.switching_cost)
        users = current >= 0
        utility[np.flatnonzero(users), current[users]] += stay[users]
        utility[~available[choosers]] = -np.inf
        none = ~np.isfinite(utility.max(axis=1))
        model.firm_line[choosers] = np.where(none, -1, np.argmax(utility, axis=1))
    firms._update_shares(model)


def finished(path: Path, seed: int, look_at_agents: bool = False) -> GeopoliticsModel:
    prepared = prepare(path, SMALL)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed)
    if look_at_agents:
        assert len(model.agents) == model.n_firms + model.n_countries + model.n_labs
    model.run()
    release_model(model)
    return model


@pytest.mark.parametrize("scenario", ["baseline.yaml", "export-controls-tighten.yaml", "api-control"])
@pytest.mark.parametrize("seed", [3, 4])
def test_fast_firm_choice_equals_per_firm_design(monkeypatch, tmp_path, scenario, seed):
    path = SCENARIOS / scenario
    if scenario == "api-control":
        path = tmp_path / "api-control.yaml"
        path.write_text(API_CONTROL.format(baseline=BASELINE))
    fast = finished(path, seed)
    # the schedule holds the phase's function itself: replace it there (patching firms.step does nothing)
    monkeypatch.setattr(schedule, "PHASES", tuple(
        dataclasses.replace(phase, function=per_firm_step) if phase.function is firms.step else phase
        for phase in schedule.PHASES))
    reference = finished(path, seed)
    assert blocked_share(fast).any()  # the access branch of the fast path (unserved, controls) was exercised
    assert np.array_equal(fast.firm_line, reference.firm_line)
    assert fast.rows == reference.rows
    assert fast.events == reference.events


# A control that starts and stops mid-run and tightens in between: the firms' choice sets change in
# quarters without a release, and change back.
WINDOWED_CONTROL = """\
schema_version: 1
name: windowed-api-control
extends: {baseline}
description: Test scenario; US labs must refuse a share of the EU's firms from 2024Q2 to 2025Q3, more from 2024Q4.
rules:
  us-api-controls-eu:
    kind: export_control
    sources: [D4.4]
    issuer: US
    targets: {{blocs: [EU]}}
    restricts: [api_access]
    strength: 0.4
    from: 2024Q2
    until: 2025Q3
  us-api-controls-eu-tighter:
    kind: export_control
    sources: [D4.4]
    issuer: US
    targets: {{blocs: [EU]}}
    restricts: [api_access]
    strength: 0.7
    from: 2024Q4
    until: 2025Q1
"""


def test_kept_choice_sets_give_the_results_of_choice_sets_built_every_quarter(monkeypatch, tmp_path):
    path = tmp_path / "windowed.yaml"
    path.write_text(WINDOWED_CONTROL.format(baseline=BASELINE))
    prepared = prepare(path, ["population.firms=1500", "time.end=2026Q2"])
    kept = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    built, quarters_kept = [], 0
    for _ in range(kept.end - kept.start + 1):
        before = kept.choice_sets
        kept.step()
        quarters_kept += kept.choice_sets is before
        built.append(kept.choice_sets)
    # the kept sets were rebuilt when the control started, tightened and stopped, and kept in between
    starts = {quarter_label(kept.start + i) for i, s in enumerate(built) if i == 0 or s is not built[i - 1]}
    assert {"2024Q2", "2024Q4", "2025Q1", "2025Q3"} <= starts
    assert quarters_kept >= 5
    release_model(kept)

    def build_every_time(model):
        model.choice_sets = None
        return original(model)

    original = firms.choice_sets
    monkeypatch.setattr(firms, "choice_sets", build_every_time)
    fresh = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    fresh.run()
    release_model(fresh)
    assert np.array_equal(kept.firm_line, fresh.firm_line)
    assert kept.rows == fresh.rows


@pytest.mark.parametrize("outside_option", [None, -10.0])
def test_adopters_are_the_candidates_whose_draw_is_below_their_adoption_probability(tmp_path, outside_option):
    # The firms phase computes the logit part only for candidates whose draw is below their hazard of
    # considering AI; the adopters must be exactly those of the whole probability, draws on the edge included.
    # With going without AI worth -10 (its lowest) the acceptance is within 1e-4 of 1 wherever a line is on
    # offer: a draw just below the probability is then within 1e-4 of the hazard, and must adopt.
    path = tmp_path / "api-control.yaml"
    path.write_text(API_CONTROL.format(baseline=BASELINE))
    extra = [] if outside_option is None else [f"parameters.adoption.no_ai_utility={outside_option}"]
    prepared = prepare(path, SMALL + extra)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    rng = np.random.default_rng(0)
    for _ in range(6):
        model.step()
        table = firms._cell_utility(model)
        candidates = np.flatnonzero((model.firm_line < 0) & model.firm_potential)
        sets = firms.choice_sets(model)
        probability = firms._adoption_probability(model, table, candidates, sets)
        considers = firms._considers(model, candidates)
        assert (probability <= considers).all() and (probability > 0).any()
        assert (probability > considers * (1 - 1e-4)).any() == (outside_option is not None)
        edge = np.nextafter(probability, np.inf)
        for draw in (rng.random(candidates.size), probability, edge, np.nextafter(probability, -np.inf),
                     considers, np.minimum(considers, edge), rng.random(candidates.size) * considers):
            adopts = firms._adopts(model, table, candidates, draw, sets)
            assert np.array_equal(adopts, draw < probability)
    release_model(model)


def test_firm_sectors_are_drawn_as_numpy_choice_draws_them():
    # firms.categorical replaces rng.choice(k, size, p=p) at set-up: the same numbers, and the stream left
    # where choice leaves it (so every later draw from it is the same too).
    rs = np.random.default_rng(7)
    for trial in range(400):
        k = int(rs.integers(1, 12))
        weights = rs.random(k) * (rs.random(k) < 0.7)
        weights[rs.integers(k)] += 0.01  # at least one category possible
        p = weights / weights.sum()
        size = int(rs.integers(0, 3000))
        ours, numpys = np.random.default_rng(trial), np.random.default_rng(trial)
        drawn = firms.categorical(ours, p, size)
        expected = numpys.choice(k, size=size, p=p)
        assert drawn.dtype == expected.dtype and np.array_equal(drawn, expected), trial
        assert ours.random() == numpys.random()


def test_choice_value_is_the_log_sum_exp_of_the_lines_offered():
    # The value of a choice set skips exp(-inf): it must give the bits of the plain shifted log-sum-exp
    # over utilities with -inf for the lines not offered, rows with nothing offered (-inf) included.
    rng = np.random.default_rng(5)
    for trial in range(300):
        rows, lines = int(rng.integers(1, 60)), int(rng.integers(1, 30))
        utility = rng.normal(0.0, float(rng.choice([0.5, 3.0, 40.0])), (rows, lines))
        offered = rng.random((rows, lines)) < rng.random()
        offered[rng.random(rows) < 0.1] = False  # nothing on offer
        utility[~offered & (rng.random((rows, lines)) < 0.2)] = 800.0  # far above, but not offered
        masked = np.where(offered, utility, -np.inf)
        top = masked.max(axis=1)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            plain = safe + np.log(np.exp(masked - safe[:, None]).sum(axis=1))
        assert firms._choice_value(utility, offered).tobytes() == plain.tobytes(), trial


def test_counter_uniforms_are_uniform_and_independent():
    key = stream_key(7, "firms.choice")
    block = counter_uniforms(key, (8100, 0), np.arange(5000), 20)  # 100,000 draws
    assert block.shape == (5000, 20) and block.min() > 0.0 and block.max() < 1.0
    assert stats.kstest(block.ravel(), "uniform").pvalue > 0.01
    # Neighbouring lines, firms, quarters and rounds, and other keys, are uncorrelated.
    bound = 4.0 / np.sqrt(block.size)
    others = [
        block[:, 1:].ravel(),  # next line of the same firm (against block[:, :-1])
        counter_uniforms(key, (8100, 0), np.arange(1, 5001), 20).ravel(),  # next firm
        counter_uniforms(key, (8101, 0), np.arange(5000), 20).ravel(),  # next quarter
        counter_uniforms(key, (8100, 1), np.arange(5000), 20).ravel(),  # another round
        counter_uniforms(stream_key(8, "firms.choice"), (8100, 0), np.arange(5000), 20).ravel(),  # another seed
    ]
    for i, other in enumerate(others):
        mine = block[:, :-1].ravel() if i == 0 else block.ravel()
        assert abs(np.corrcoef(mine, other)[0, 1]) < bound, i
        assert not np.array_equal(mine, other)
    # Pairs of consecutive draws fill the unit square evenly (a chi-square over a 10 x 10 grid).
    cells = np.floor(block[:, :-1] * 10).astype(int) * 10 + np.floor(block[:, 1:] * 10).astype(int)
    assert stats.chisquare(np.bincount(cells.ravel(), minlength=100)).pvalue > 0.01


def test_a_firms_taste_noise_does_not_depend_on_who_else_chooses():
    prepared = prepare(BASELINE, SMALL)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    everyone = firms.taste_noise(model, np.arange(model.n_firms))
    some = np.array([1499, 3, 700])
    assert np.array_equal(firms.taste_noise(model, some), everyone[some])
    assert np.array_equal(firms.taste_noise(model, some[:1]), everyone[some[:1]])
    model.step()  # next quarter: new tastes for the same firms
    assert not np.array_equal(firms.taste_noise(model, some), everyone[some])
    # the same seed gives the same tastes, another seed others
    again = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    other = GeopoliticsModel(prepared.scenario, prepared.world, seed=4, create_agents=False)
    assert np.array_equal(firms.taste_noise(again, some), everyone[some])
    assert not np.array_equal(firms.taste_noise(other, some), everyone[some])
    # Gumbel: mean the Euler-Mascheroni constant, variance pi^2 / 6
    assert abs(everyone.mean() - np.euler_gamma) < 0.03
    assert abs(everyone.var() - np.pi**2 / 6) < 0.08
    for m in (model, again, other):
        release_model(m)


def test_firm_agents_are_created_on_first_look_as_mesa_views_of_the_arrays():
    prepared = prepare(BASELINE, SMALL)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=2)
    for _ in range(6):
        model.step()
    assert len(model._agents) == 0  # no agent yet: none was needed
    countries = model.country_agents  # countries and labs first (not the firms), with the first ids
    n = model.n_countries
    assert [c.unique_id for c in countries] == list(range(1, n + 1))
    assert [lab.unique_id for lab in model.lab_agents] == list(range(n + 1, n + model.n_labs + 1))
    assert countries[5].iso3 == model.country_ids[5] and model.lab_agents[2].lab_id == model.lab_ids[2]
    assert len(model._agents) == model.n_countries + model.n_labs
    assert len(model.agents_by_type[Firm]) == model.n_firms
    assert len(model.agents) == model.n_firms + model.n_countries + model.n_labs
    assert set(model.agent_types) == {Country, Lab, Firm}
    ids = [agent.unique_id for agent in model.firms]
    assert ids == list(range(model.n_countries + model.n_labs + 1, len(model.agents) + 1))
    model.step()  # the views read the current state
    for i in (0, 17, model.n_firms - 1):
        firm = model.firms[i]
        assert isinstance(firm, mesa.Agent) and firm.index == i
        assert firm.country == model.country_ids[model.firm_country[i]]
        assert firm.sector == model.sector_names[model.firm_sector[i]]
        family = model.firm_family[i]
        assert firm.family == (None if family < 0 else model.family_ids[family])
    release_model(model)


def test_looking_at_the_agents_does_not_change_the_results():
    path = BASELINE
    assert finished(path, 5).rows == finished(path, 5, look_at_agents=True).rows


def test_a_model_without_agents_has_none():
    prepared = prepare(BASELINE, SMALL)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1, create_agents=False)
    assert len(model.agents) == 0 and model.firms == []
    release_model(model)


def test_a_released_model_with_its_agents_is_freed():
    prepared = prepare(BASELINE, SMALL)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    model.step()
    assert model.firms  # the agents exist and point back at the model
    gone = weakref.ref(model)
    release_model(model)
    del model
    gc.collect()
    assert gone() is None


def test_adoption_metrics_follow_labs_that_switch_openness():
    model = finished(BASELINE, 6)
    assert any("switches to" in str(event["event"]) for event in model.events)  # openness did change
    last = [row for row in model.rows if row[0] == model.steps - 1]
    open_share = next(v for _, _, metric, grp, v in last if metric == "adoption_share" and grp == "openness=open")
    using = model.firm_line >= 0  # openness is the line's, not the lab's current policy; users weigh by size
    users, size = model.firm_line[using], model.firm_size[using]
    assert open_share == pytest.approx((model.line_open[users] * size).sum() / size.sum(), abs=1e-12)
