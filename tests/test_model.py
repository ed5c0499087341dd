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
    crossed = share[share["group"].map(lambda g: set(parse_group(g)) == {"openness", "origin"})]
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
        ("adoption_rate", "world"),
        ("adoption_rate", "region=south"),
        ("adoption_rate", "country=XAF"),
        ("adoption_rate", "user_bloc=EU"),
        ("adoption_share", "country=DEU,origin=CN"),
        ("adoption_share", "country=IND,openness=open"),
        ("adoption_share", "origin=US,user_bloc=CN"),
        ("adoption_share", "openness=open,user_bloc=other"),
        ("influence", "bloc=US,weight=gdp"),
        ("influence", "bloc=CN,weight=countries"),
        ("influence", "bloc=EU,weight=population"),
        ("government_use", "origin=US"),
        ("government_use", "origin=CN,user_bloc=other"),
        ("government_use", "country=BRA,origin=US"),
        ("dependence", "bloc=US,weight=gdp"),
        ("dependence", "bloc=CN,weight=population"),
        ("dependence", "bloc=US,country=IND"),
        ("open_adoption", "bloc=CN,weight=gdp"),
        ("open_adoption", "bloc=US,weight=population"),
        ("release_open_share", "bloc=CN"),
        ("compute_share", "bloc=US"),
        ("compute_share", "country=TWN"),
        ("alignment", "bloc=CN,country=BRA"),
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


# --------------------------------------------------------------------------- per-country, per-user and split groups
def horizon(run, metric: str) -> pd.DataFrame:
    """One replicate's rows of `metric` at the last quarter, with the group's keys as columns."""
    series = run.timeseries
    rows = series[(series["metric"] == metric) & (series["replicate"] == 0) & (series["step"] == series["step"].max())]
    keys = pd.DataFrame([parse_group(g) for g in rows["group"]], index=rows.index)
    return pd.concat([rows, keys], axis=1)


def test_every_country_and_user_bloc_has_each_new_group(baseline_run, baseline_small):
    countries = {c.iso3 for c in baseline_small.world.countries}
    families = {
        "adoption_rate": [("country",), ("user_bloc",)],
        "adoption_share": [("country", "origin"), ("country", "openness"), ("origin", "user_bloc"),
                           ("openness", "user_bloc")],
        "government_use": [("origin",), ("origin", "user_bloc"), ("country", "origin")],
        "dependence": [("bloc", "weight"), ("bloc", "country")],
        "open_adoption": [("bloc", "weight")],
        "compute_share": [("country",)],
    }
    for metric, shapes in families.items():
        rows = horizon(baseline_run, metric)
        for shape in shapes:
            of_shape = rows[rows["group"].map(lambda g, s=shape: set(parse_group(g)) == set(s))]
            expected = np.prod([len(countries) if k == "country" else 2 if k in ("openness", "weight") else 4
                                for k in shape])
            assert len(of_shape) == expected, (metric, shape)
            if "country" in shape:
                assert set(of_shape["country"]) == countries, (metric, shape)


def test_adoption_share_of_a_country_sums_to_one_where_it_has_users(baseline_run):
    rates = horizon(baseline_run, "adoption_rate").dropna(subset=["country"]).set_index("country")["value"]
    share = horizon(baseline_run, "adoption_share")
    for key in ("origin", "openness"):
        per_country = share[share["country"].notna() & share[key].notna()].groupby("country")["value"].sum()
        users = rates[per_country.index] > 0
        assert users.sum() > 10 and (~users).sum() >= 0
        assert np.allclose(per_country[users], 1.0), key
        assert np.allclose(per_country[~users], 0.0), key
    # and per user bloc, over origins
    by_bloc = share[share["user_bloc"].notna() & share["origin"].notna()].groupby("user_bloc")["value"].sum()
    assert np.allclose(by_bloc, 1.0)


def test_government_use_of_one_country_is_zero_or_one(baseline_run):
    use = horizon(baseline_run, "government_use")
    per_country = use[use["country"].notna()]
    assert set(per_country["value"]) <= {0.0, 1.0} and (per_country["value"] == 1.0).any()
    assert (per_country.groupby("country")["value"].sum() <= 1.0).all()  # one line per government at most
    # China's government runs on Chinese models (US labs do not serve China).
    assert per_country.set_index(["country", "origin"]).loc[("CHN", "CN"), "value"] == 1.0
    world = use[use["country"].isna() & use["user_bloc"].isna()].set_index("origin")["value"]
    assert 0.0 < world.sum() <= 1.0 + 1e-9


def test_dependence_is_zero_in_the_blocs_own_countries_and_positive_abroad(baseline_run, baseline_small):
    bloc_of = {c.iso3: c.bloc for c in baseline_small.world.countries}
    dependence = horizon(baseline_run, "dependence")
    per_country = dependence[dependence["country"].notna()]
    own = per_country[per_country["country"].map(bloc_of) == per_country["bloc"]]
    assert len(own) > 20 and (own["value"] == 0.0).all()
    abroad = per_country[(per_country["bloc"] == "US") & (per_country["country"].map(bloc_of) != "US")]
    assert (abroad["value"] > 0).sum() > 10


def test_influence_is_dependence_plus_open_adoption_plus_home_use(baseline_run):
    def by(metric: str) -> pd.Series:
        rows = horizon(baseline_run, metric)
        return rows[rows["weight"].isin(["gdp", "population"])].set_index(["bloc", "weight"])["value"]

    influence, dependence, open_adoption = by("influence"), by("dependence"), by("open_adoption")
    home = influence - dependence - open_adoption  # the bloc's use in its own countries
    assert (home >= -1e-12).all() and (home <= influence + 1e-12).all()
    assert dependence[("US", "gdp")] > 0.1 and open_adoption[("CN", "population")] > 0.0


def test_influence_weights_countries_by_gdp_population_or_count_with_aggregates_by_population(
    baseline_run, baseline_small
):
    """Rebuild each country's AI use from the per-country outputs (firms' shares, the government's
    origin, government_weight) and weigh it as the registry documents: regional aggregates count
    by population, and for one country one vote as their population in median-sized countries."""
    world = baseline_small.world.countries
    iso = [c.iso3 for c in world]
    population = pd.Series([c.population_m for c in world], index=iso)
    gdp = pd.Series([c.gdp_usd_bn for c in world], index=iso)
    aggregate = pd.Series([c.is_aggregate for c in world], index=iso)
    median = population[~aggregate].median()
    counted = pd.Series(np.where(aggregate, np.maximum(population / median, 1.0), 1.0), index=iso)
    assert counted["XAF"] > 10 * counted["EST"]

    gw = baseline_small.scenario.parameters.countries.government_weight
    rates = horizon(baseline_run, "adoption_rate").dropna(subset=["country"]).set_index("country")["value"]
    firms = horizon(baseline_run, "adoption_share")
    firms = firms[firms["country"].notna() & firms["origin"].notna()].pivot(index="country", columns="origin",
                                                                            values="value")
    gov = horizon(baseline_run, "government_use")
    gov = gov[gov["country"].notna()].pivot(index="country", columns="origin", values="value")
    has_firms, has_gov = rates[iso] > 0, gov.loc[iso].sum(axis=1) > 0
    weight_gov = np.where(has_firms, gw, 1.0) * has_gov
    weight_firms = np.where(has_gov, 1.0 - gw, 1.0) * has_firms
    total = (weight_gov + weight_firms).replace(0, np.nan)
    use = (gov.loc[iso].mul(weight_gov, axis=0) + firms.loc[iso].mul(weight_firms, axis=0)).div(total, axis=0)
    use = use.fillna(0.0)

    influence = horizon(baseline_run, "influence").set_index(["bloc", "weight"])["value"]
    for weight, w in (("gdp", gdp), ("population", population), ("countries", counted)):
        expected = (use.mul(w / w.sum(), axis=0)).sum()
        for bloc in expected.index:
            assert influence[(bloc, weight)] == pytest.approx(expected[bloc], abs=1e-9), (bloc, weight)
    # The weightings tell different stories, and counting XAF as one country like Estonia would not match.
    # (over the blocs: in a 600-firm run which bloc's weightings differ most depends on the draws)
    blocs = expected.index
    assert max(abs(influence[(b, "population")] - influence[(b, "gdp")]) for b in blocs) > 0.01
    assert max(abs(influence[(b, "population")] - influence[(b, "countries")]) for b in blocs) > 0.01
    one_each = counted.where(~aggregate, 1.0)
    naive = use.mul(one_each / one_each.sum(), axis=0).sum()
    assert max(abs(naive[b] - influence[(b, "countries")]) for b in naive.index) > 1e-3


def test_world_total_is_labelled_world_in_the_csv_files(baseline_small, tmp_path):
    sim.run(baseline_small, replicates=1, out=tmp_path / "run", write=True)
    for name in ("timeseries.csv", "summary.csv"):
        table = pd.read_csv(tmp_path / "run" / name)  # pandas' defaults: an empty group would be NaN
        assert table["group"].notna().all(), name
        world = table[table["metric"] == "adoption_rate"]
        assert "world" in set(world["group"]), name


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
    def qwen_share(boost: float, seed: int) -> float:
        model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=seed)
        qwen = model.family_index["qwen"]
        while model.running:
            if np.isfinite(model.knowledge[qwen]):  # know-how is the state; capability adds compute
                model.knowledge[qwen] += boost
                boost = 0.0
            model.step()
        return float(model.share_world[qwen])

    # Summed over seeds: with 600 firms one run's share moves by a few firms either way.
    seeds = range(1, 7)
    assert sum(qwen_share(12.0, s) for s in seeds) > sum(qwen_share(0.0, s) for s in seeds) * 1.3


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


def test_labs_layout_follows_a_replaced_structure_array(baseline_small):
    """The labs phase keeps index structures of the model's fixed arrays (`labs.LabsLayout`); a model
    whose bloc or origin arrays are replaced (as a test or a mutant may) must not be served the old ones."""
    from sim.model import labs

    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=4)
    model.step()
    before = labs.effective_compute(model).copy()
    bloc = model.country_bloc.copy()
    bloc[model.country_index["CHN"]] = "US"  # China's compute now counts for the US bloc's labs
    model.country_bloc = bloc
    expected = model.lab_compute_share * np.array([model.compute[bloc == b].sum() for b in model.lab_bloc])
    assert np.array_equal(labs.effective_compute(model), expected)
    us = model.lab_bloc == "US"
    assert (labs.effective_compute(model)[us] > before[us]).all()
    origin = model.family_origin.copy()
    origin[:] = "US"  # every family of one origin: no spillover crosses blocs any more
    model.family_origin = origin
    assert not labs._layout(model).cross[:, model.line_origin == "US"].any()


def test_line_available_follows_writes_in_place_and_the_quarter(baseline_small):
    """`line_available` is kept between calls (it is asked ~7 times a quarter); a switch writes the
    lines' arrays in place, and a stale closed API retires with time: neither may be served stale."""
    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=4)
    for _ in range(3):
        model.step()
    retire = model.params.labs.closed_api_retirement_quarters
    line = int(np.flatnonzero(model.line_available & ~model.line_open & model.line_current)[0])
    assert model.line_available[line]
    since = model.line_since[line]
    model.line_since[line] = model.quarter + 1  # written in place, the same quarter: not released yet
    assert not model.line_available[line]
    model.line_since[line] = since
    assert model.line_available[line]
    model.line_frozen[line] = model.quarter - retire  # (a current line's freeze date is not read)
    assert model.line_available[line]
    model.line_current[line] = False  # stale, frozen long enough ago to be retired
    assert not model.line_available[line]
    model.line_frozen[line] = model.quarter - 1  # frozen a quarter ago: its API is still served ...
    assert model.line_available[line]
    model.quarter += retire  # ... until it is retired
    assert not model.line_available[line]
    with pytest.raises(ValueError):  # shared between callers: nobody may write into it
        model.line_available[line] = True


def test_alignment_layout_follows_a_replaced_bloc_array(baseline_small):
    """The alignment phase keeps the blocs' rows (`alignment.AlignmentLayout`); a model whose blocs are
    replaced must not be served the old ones: a country moved into the US bloc is aligned 1 with it."""
    from sim.model import alignment

    model = GeopoliticsModel(baseline_small.scenario, baseline_small.world, seed=4)
    model.step()
    bra, us = model.country_index["BRA"], alignment.BLOC_INDEX["US"]
    assert model.alignment[bra, us] < 1.0
    bloc = model.country_bloc.copy()
    bloc[bra] = "US"
    model.country_bloc = bloc
    alignment.step(model)
    assert model.alignment[bra, us] == 1.0
    assert model.line_alignment[bra, model.line_origin == "US"].min() == 1.0
