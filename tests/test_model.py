"""Behaviour of the model: what a modeler would notice if it were wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from conftest import BASELINE
from sim.metrics_registry import BY_NAME, parse_group
from sim.model.metrics import REPORTERS
from sim.model.model import GeopoliticsModel
from sim.runner import run_replicate
from sim.scenario import prepare

SMALL = ["population.firms=600", "time.end=2026Q4"]


@pytest.fixture(scope="module")
def baseline_small():
    return prepare(BASELINE, SMALL)


@pytest.fixture(scope="module")
def baseline_run(baseline_small):
    return sim.run(baseline_small, replicates=2)


def values(frame: pd.DataFrame, metric: str, group: str) -> pd.Series:
    rows = frame[(frame["metric"] == metric) & (frame["group"] == group)]
    return rows.set_index(["replicate", "date"])["value"]


def test_adoption_shares_sum_to_one(baseline_run):
    series = baseline_run.timeseries
    share = series[series["metric"] == "adoption_share"]
    for prefix in ("openness=", "origin=", "family="):
        world = share[share["group"].str.startswith(prefix) & ~share["group"].str.contains("region|,")]
        totals = world.groupby(["replicate", "date"])["value"].sum()
        assert np.allclose(totals, 1.0), prefix
    crossed = share[share["group"].str.contains(",origin=") & ~share["group"].str.contains("region")]
    assert np.allclose(crossed.groupby(["replicate", "date"])["value"].sum(), 1.0)


def test_influence_sums_to_one_for_each_weighting(baseline_run):
    series = baseline_run.timeseries
    influence = series[series["metric"] == "influence"].copy()
    influence["weight"] = influence["group"].str.extract(r"weight=(\w+)")[0]
    totals = influence.groupby(["replicate", "date", "weight"])["value"].sum()
    assert np.allclose(totals, 1.0)


def test_every_contract_metric_and_group_is_written(baseline_run):
    groups = set(zip(baseline_run.timeseries["metric"], baseline_run.timeseries["group"], strict=True))
    expected = {
        ("adoption_share", "openness=open"),
        ("adoption_share", "origin=CN,region=south"),
        ("adoption_share", "family=qwen"),
        ("adoption_share", "openness=open,origin=CN"),
        ("adoption_share", "openness=closed,origin=US,region=north"),
        ("adoption_rate", ""),
        ("adoption_rate", "region=south"),
        ("influence", "bloc=US,weight=gdp"),
        ("influence", "bloc=CN,weight=countries"),
        ("release_open_share", "bloc=CN"),
        ("compute_share", "bloc=US"),
        ("capability", "family=gpt"),
        ("capability_gap_months", "pair=open-closed"),
        ("capability_gap_months", "pair=CN-US"),
        ("coauthorship_share", "pair=US-CN"),
        ("countries_banning", "origin=CN"),
        ("partners", "program=openai-for-countries"),
    }
    assert expected <= groups


def test_every_row_is_a_registry_metric_in_one_of_its_group_families(baseline_run):
    """The registry is the whole truth about the output: no metric or group shape outside it."""
    series = baseline_run.timeseries
    assert set(series["metric"]) == set(BY_NAME) == set(REPORTERS)
    for (metric, group), _ in series.groupby(["metric", "group"]):
        keys = set(parse_group(group))
        assert any(keys == set(family) for family in BY_NAME[metric].groups), (metric, group)


def test_ban_removes_family_from_choice_set_of_that_countrys_firms(baseline_small):
    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=11)
    ita, deepseek = model.country_index["ITA"], model.family_index["deepseek"]
    italian = model.firm_country == ita
    while model.date != "2025Q2":
        model.step()
    assert model.policy.banned_all[ita, deepseek]
    assert not (model.firm_family[italian] == deepseek).any()
    # Elsewhere in Europe, without a ban, DeepSeek stays in use.
    fra = model.country_index["FRA"]
    assert not model.policy.banned_all[fra, deepseek]


def test_ban_lifts_when_its_window_ends(baseline_small):
    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=11)
    kor, deepseek = model.country_index["KOR"], model.family_index["deepseek"]
    banned = {}
    while model.running:
        model.step()
        banned[model.quarter - 1] = bool(model.policy.banned_all[kor, deepseek])
    from sim.quarters import parse_quarter

    assert banned[parse_quarter("2025Q1")] and not banned[parse_quarter("2025Q2")]


def test_raising_a_familys_capability_raises_its_share(baseline_small):
    def qwen_share(boost: float) -> float:
        model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=5)
        qwen = model.family_index["qwen"]
        while model.running:
            if np.isfinite(model.knowledge[qwen]):  # know-how is the state; capability adds compute
                model.knowledge[qwen] += boost
                boost = 0.0
            model.step()
        return float(model.share_world[qwen])

    assert qwen_share(12.0) > qwen_share(0.0) * 1.3


def test_export_controls_lower_the_targets_compute(baseline_small):
    strong = prepare(BASELINE, [*SMALL, "rules.us-chips-2023-update.strength=0.95"])
    none = prepare(BASELINE, [*SMALL, "rules.us-chips-2023-update.strength=0"])
    chn = {}
    for name, prepared in (("strong", strong), ("none", none)):
        model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3)
        model.run()
        chn[name] = model.compute[model.country_index["CHN"]] / model.compute.sum()
    assert chn["strong"] < chn["none"] * 0.9


def test_same_seed_gives_identical_rows_and_another_seed_differs(baseline_small):
    first = run_replicate(baseline_small.scenario, baseline_small.world, 0, 42).timeseries
    again = run_replicate(baseline_small.scenario, baseline_small.world, 0, 42).timeseries
    other = run_replicate(baseline_small.scenario, baseline_small.world, 0, 43).timeseries
    assert first.equals(again)
    assert not first["value"].equals(other["value"])


def test_one_and_two_workers_give_identical_results(baseline_small):
    one = sim.run(baseline_small, replicates=3, workers=1).timeseries
    two = sim.run(baseline_small, replicates=3, workers=2).timeseries
    pd.testing.assert_frame_equal(one, two)


def test_agents_are_mesa_agents_that_read_the_model_state(baseline_small):
    import mesa

    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=1)
    model.step()
    firm = model.firms[0]
    assert isinstance(firm, mesa.Agent)
    assert firm.country in model.world.iso3s
    assert firm.family is None or firm.family in model.world.family_ids
    assert len(model.agents) == model.n_firms + model.n_countries + model.n_labs
    assert model.steps == 1 and model.date == "2023Q2"


def test_programme_partners_join_on_their_dates(baseline_small):
    result = sim.run(baseline_small, replicates=1)
    partners = values(result.timeseries, "partners", "program=openai-for-countries").droplevel(0)
    assert partners["2025Q1"] == 0
    assert partners["2026Q4"] == 11  # the programme's target
    joins = result.events[result.events["event"].str.contains("joins OpenAI")]
    uae = joins[joins["target"] == "ARE"]
    assert list(uae["date"]) == ["2025Q2"] and "announced deal" in uae["event"].iloc[0]
