"""Model v2 mechanisms: service access as data, real costs, technological alignment as moving state,
offers decided by payoff. Each effect is measured against the same seeds without its cause (common
random numbers), so a difference is the mechanism's and not noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.model import firms, prices
from sim.model.model import GeopoliticsModel
from sim.quarters import parse_quarter, quarter_label
from sim.runner import release_model
from sim.scenario import prepare
from sim.world import World
from tests.test_rules import BASELINE, SEEDS, finished, scenario_file, share_of

GLOBAL_SOUTH_PARTNERS = ["IDN", "BRA", "ZAF", "NGA", "SAU", "TUR", "MEX", "EGY", "THA", "VNM"]


def run_world(path: Path, world: World, seed: int, until: str | None = None) -> GeopoliticsModel:
    """Like `finished`, with other world data (the scenario's rules and parameters unchanged)."""
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, world, seed=seed)
    while model.running:
        model.step()
        if until is not None and quarter_label(model.quarter - 1) == until:
            break
    release_model(model)
    return model


def with_family(world: World, family: str, **changes: object) -> World:
    families = tuple(f.model_copy(update=changes) if f.id == family else f for f in world.families)
    return world.model_copy(update={"families": families})


def with_labs(world: World, change) -> World:
    return world.model_copy(update={"labs": tuple(change(lab) for lab in world.labs)})


def countries(model: GeopoliticsModel, *iso3: str) -> np.ndarray:
    return np.isin(model.country_ids, iso3)


def test_programme_offer_raises_partners_us_share(tmp_path):
    rule = {
        "kind": "program", "sources": ["D1.2", "D1.5", "D1.10"], "sponsor": "openai", "from": "2024Q1",
        "partners": [{"country": c, "from": "2024Q1"} for c in GLOBAL_SOUTH_PARTNERS],
        "target_partners": len(GLOBAL_SOUTH_PARTNERS), "offers_per_quarter": 0, "price_subsidy": 0.5,
    }
    # Enough firms that the ten partners have AI users to move in every seed.
    with_ = scenario_file(tmp_path, {"south-programme": rule}, name="with", firms=4000)
    without = scenario_file(tmp_path, {}, name="without", firms=4000)

    def us_in_partners(m):
        return share_of(m, countries(m, *GLOBAL_SOUTH_PARTNERS), m.line_origin == "US")

    diffs, joined = [], set()
    for seed in SEEDS:
        model = finished(with_, seed)
        joined |= {e["target"] for e in model.events if e["rule_id"] == "south-programme" and "joins" in e["event"]}
        diffs.append(us_in_partners(model) - us_in_partners(finished(without, seed)))
    assert joined == set(GLOBAL_SOUTH_PARTNERS)  # every one accepts by payoff: the offer beats its alignment cost
    assert min(diffs) > 0 and np.mean(diffs) > 0.03, diffs


def test_programme_pulls_partners_alignment_towards_the_sponsor(tmp_path):
    rule = {"kind": "program", "sources": ["D1.5"], "sponsor": "openai", "from": "2024Q1",
            "partners": [{"country": "IDN", "from": "2024Q1"}], "target_partners": 1, "offers_per_quarter": 0}
    with_ = finished(scenario_file(tmp_path, {"p": rule}, name="with"), SEEDS[0])
    without = finished(scenario_file(tmp_path, {}, name="without"), SEEDS[0])
    idn = with_.country_index["IDN"]
    assert with_.alignment[idn, 0] > without.alignment[idn, 0] + 0.1


def test_controls_on_tier_2_countries_lower_their_alignment_with_the_us(tmp_path):
    rule = {"kind": "export_control", "sources": ["D4.4"], "issuer": "US", "targets": {"tiers": [2]},
            "restricts": ["chips"], "strength": 0.8, "from": "2024Q1"}
    with_ = scenario_file(tmp_path, {"tier2-controls": rule}, name="with")
    without = scenario_file(tmp_path, {}, name="without")
    for seed in SEEDS[:2]:
        a, b = finished(with_, seed), finished(without, seed)
        tier2 = np.array([c.export_tier == 2 for c in a.world.countries]) & (a.country_bloc != "US")
        assert (a.alignment[tier2, 0] < b.alignment[tier2, 0] - 0.05).all()
        tier1 = np.array([c.export_tier == 1 for c in a.world.countries])
        np.testing.assert_allclose(a.alignment[tier1, 0], b.alignment[tier1, 0])  # only targets move
        # the contract metric reports the state
        india = [r[4] for r in a.rows if r[2] == "alignment" and r[3] == "bloc=US,country=IND"]
        assert len(india) == a.end - a.start + 1 and india[-1] == pytest.approx(a.alignment[a.country_index["IND"], 0])


def test_a_higher_listed_price_lowers_that_familys_share(tmp_path):
    path = scenario_file(tmp_path, {}, name="prices")
    world = prepare(path).world
    # every listed price ten times higher: US$2 per Mtok at release, then its dated list prices
    dear = with_prices(with_family(world, "gemini", price_usd_per_mtok=20.0), "gemini", 10.0, "2023Q1")
    gemini = world.family_ids.index("gemini")
    for seed in SEEDS:
        cheap_model, dear_model = run_world(path, world, seed), run_world(path, dear, seed)
        everyone = np.ones(cheap_model.n_countries, bool)
        options = cheap_model.line_family == gemini
        assert share_of(dear_model, everyone, options) < share_of(cheap_model, everyone, options) - 0.02


def with_prices(world: World, family: str, factor: float, since: str) -> World:
    """The world with a family's list prices from quarter `since` on multiplied by `factor`."""
    def scaled(price):
        if price.family != family or price.quarter < since:
            return price
        return price.model_copy(update={"input_usd_per_mtok": price.input_usd_per_mtok * factor,
                                        "output_usd_per_mtok": price.output_usd_per_mtok * factor})
    return world.model_copy(update={"prices": tuple(scaled(p) for p in world.prices)})


def test_closed_line_cost_follows_the_familys_listed_prices(tmp_path):
    path = scenario_file(tmp_path, {}, name="schedule")
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=SEEDS[0])
    gpt, ernie = model.family_index["gpt"], model.family_index["ernie"]
    decline = prepared.scenario.parameters.choice.closed_price_decline

    def price_in(quarter: str) -> np.ndarray:
        model.quarter = parse_quarter(quarter)
        return prices.closed_price(model)

    assert price_in("2023Q1")[gpt] == pytest.approx(37.5)  # GPT-4, US$30/60
    assert price_in("2023Q4")[gpt] == pytest.approx(15.0)  # GPT-4 Turbo, US$10/30: a cut on announcement
    assert price_in("2024Q1")[gpt] == pytest.approx(15.0)  # constant between listed prices
    # GPT-5, US$1.25/10: the latest listed price, not GPT-4's price decayed (US$37.5 x 0.65^2.75 = 11.3)
    assert price_in("2025Q4")[gpt] == pytest.approx(3.4375)
    assert price_in("2026Q4")[gpt] == pytest.approx(3.4375 * (1 - decline))  # the trend beyond the data
    # a family with no listed prices keeps its first price, falling from its release
    assert price_in("2025Q1")[ernie] == pytest.approx(1.7 * (1 - decline) ** 2)
    # and the choice reads it: the closed GPT line's utility moves by the cost term of the price ratio
    model.quarter = parse_quarter("2025Q4")
    utility, _ = firms.country_utility(model)
    cheaper = with_prices(prepared.world, "gpt", 0.1, "2025Q3")
    other = GeopoliticsModel(prepared.scenario, cheaper, seed=SEEDS[0])
    other.quarter = model.quarter
    other_utility, _ = firms.country_utility(other)
    gain = prepared.scenario.parameters.choice.cost_weight  # log10(1 / 0.1) = 1
    assert np.allclose(other_utility[:, gpt] - utility[:, gpt], gain)


def test_a_listed_price_cut_raises_that_familys_share(tmp_path):
    path = scenario_file(tmp_path, {}, name="price-cut")
    world = prepare(path).world
    cut = with_prices(world, "claude", 0.2, "2024Q2")  # Claude 3.5 Sonnet on at a fifth of its list price
    claude = world.family_ids.index("claude")
    diffs = []
    for seed in SEEDS:  # the same seeds on both sides: the difference is the price's
        listed_model, cut_model = run_world(path, world, seed), run_world(path, cut, seed)
        everyone = np.ones(listed_model.n_countries, bool)
        options = listed_model.line_family == claude
        diffs.append(share_of(cut_model, everyone, options) - share_of(listed_model, everyone, options))
    assert min(diffs) > 0.01, diffs


def test_bigger_open_models_cost_more_to_host(tmp_path):
    path = scenario_file(tmp_path, {}, name="sizes")
    world = prepare(path).world
    big = with_family(world, "qwen", active_params_b=400.0)
    qwen = world.family_ids.index("qwen")
    diffs = []
    for seed in SEEDS:
        small_model, big_model = run_world(path, world, seed), run_world(path, big, seed)
        everyone = np.ones(small_model.n_countries, bool)
        options = (small_model.line_family == qwen) & small_model.line_open
        diffs.append(share_of(big_model, everyone, options) - share_of(small_model, everyone, options))
    assert max(diffs) < 0, diffs


def test_where_us_labs_do_not_serve_no_firm_uses_their_closed_lines(tmp_path):
    path = scenario_file(tmp_path, {}, name="access")
    world = prepare(path).world
    served = with_labs(world, lambda lab: lab.model_copy(update={"unserved": {
        k: v for k, v in lab.unserved.items() if k != "RUS"}}))
    us_closed = None
    on_us_closed_if_served = []
    for seed in SEEDS:
        model = run_world(path, world, seed, until="2025Q4")
        us_closed = (model.line_origin == "US") & ~model.line_open
        for iso3 in ("RUS", "IRN", "CHN", "HKG"):
            assert share_of(model, countries(model, iso3), us_closed) == 0.0, iso3
        on_us_closed_if_served.append(share_of(run_world(path, served, seed, until="2025Q4"),
                                               countries(model, "RUS"), us_closed))
    assert np.mean(on_us_closed_if_served) > 0.05  # the data, not something else, keeps them off


def test_governments_cannot_use_services_unavailable_to_them(tmp_path):
    path = scenario_file(tmp_path, {}, name="governments")
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=SEEDS[0])
    threshold = model.params.access.government_block_share
    chinese_services = np.isin(model.family_ids[model.line_family], ["ernie", "hunyuan", "spark"]) & ~model.line_open
    while model.running:
        model.step()
        line = model.government_line
        has = line >= 0
        blocked = np.maximum(model.policy.blocked_share, model.line_unserved)
        assert (blocked[np.flatnonzero(has), line[has]] < threshold).all(), model.date
        abroad = has & (model.country_bloc != "CN")
        assert not chinese_services[line[abroad]].any(), model.date  # no foreign government on ERNIE & co
        for iso3 in ("RUS", "IRN", "CHN"):
            c = model.country_index[iso3]
            assert line[c] < 0 or not (model.line_origin[line[c]] == "US" and not model.line_open[line[c]])
    release_model(model)


def test_a_generous_offer_wins_a_china_leaning_country_a_modest_one_does_not(tmp_path):
    path = scenario_file(tmp_path, {}, name="offers")
    model = finished(path, SEEDS[0], until="2025Q1")
    kaz = model.country_index["KAZ"]
    assert model.alignment[kaz, 1] > model.alignment[kaz, 0]  # leans towards China (SCO, Huawei, search)
    from sim.model.alignment import offer_payoff

    openai = model.lab_index["openai"]
    modest = offer_payoff(model, openai, price_subsidy=0.0, localisation_bonus=0.0, government_bonus=0.0,
                          capacity_building=0.0, compute_per_quarter=0.0)
    generous = offer_payoff(model, openai, price_subsidy=0.8, localisation_bonus=0.5, government_bonus=1.0,
                            capacity_building=0.01, compute_per_quarter=0.001)
    assert modest[kaz] < 0 < generous[kaz]
    usa_aligned = model.country_index["GBR"]
    assert modest[usa_aligned] > 0  # an aligned country gains from closeness itself


def alliance_joins(path: Path, rule_id: str) -> list[set[str]]:
    """Per seed, the candidates that joined the alliance `rule_id` by the end of the run."""
    return [{e["target"] for e in finished(path, s).events if e["rule_id"] == rule_id and "joins" in e["event"]}
            for s in SEEDS]


def test_an_alliance_sharing_more_compute_wins_a_candidate_a_modest_one_does_not(tmp_path):
    # The UAE (its lab TII makes Falcon) leans to the US stack; only the value of shared compute for
    # its lab (D0.4) can outweigh that for a China-led alliance offering nothing else.
    def alliance(shared_compute: float) -> dict:
        return {"kind": "alliance", "sources": ["D0.4"], "lead": "CN", "members": {"countries": ["CHN"]},
                "candidates": {"countries": ["ARE"]}, "shared_compute": shared_compute, "trust_bonus": 0.0,
                "network_pooling": 0.0, "data_sharing_risk": 0.0}

    modest = scenario_file(tmp_path, {"compute-pact": alliance(0.05)}, name="modest")
    generous = scenario_file(tmp_path, {"compute-pact": alliance(0.5)}, name="generous")
    assert alliance_joins(modest, "compute-pact") == [set()] * len(SEEDS)
    assert alliance_joins(generous, "compute-pact") == [{"ARE"}] * len(SEEDS)
    # Joining is worth it to the UAE: its lab grows faster than beside the same alliance closed to it.
    closed = scenario_file(tmp_path, {"compute-pact": {**alliance(0.5), "candidates": None}}, name="closed")

    def falcon(path: Path, seed: int) -> float:
        model = finished(path, seed)
        return float(model.capability[model.family_index["falcon"]])

    gained = [falcon(generous, s) - falcon(closed, s) for s in SEEDS]
    assert min(gained) > 1.0, gained  # months of frontier progress


def test_a_trusted_alliance_wins_a_china_leaning_country_but_not_china(tmp_path):
    def alliance(trust_bonus: float) -> dict:
        return {"kind": "alliance", "sources": ["D0.1", "D0.3"], "lead": "US", "members": {"blocs": ["US"]},
                "candidates": {"countries": ["KAZ", "CHN"]}, "shared_compute": 0.0, "trust_bonus": trust_bonus}

    modest = scenario_file(tmp_path, {"trusted": alliance(0.1)}, name="modest")
    generous = scenario_file(tmp_path, {"trusted": alliance(1.0)}, name="generous")
    model = finished(generous, SEEDS[0], until="2023Q2")
    kaz, chn = model.country_index["KAZ"], model.country_index["CHN"]
    assert model.alignment[kaz, 1] > model.alignment[kaz, 0]  # Kazakhstan leans to China's stack
    # China, aligned with the rival stack itself, declines even the generous alliance Kazakhstan joins.
    assert model.alignment[chn, 1] == 1.0
    assert alliance_joins(modest, "trusted") == [set()] * len(SEEDS)
    assert alliance_joins(generous, "trusted") == [{"KAZ"}] * len(SEEDS)


def test_baseline_scripted_partners_accept_by_payoff():
    prepared = prepare(BASELINE, overrides=["population.firms=800", "time.end=2026Q1"])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=SEEDS[0])
    while model.running:
        model.step()
    release_model(model)
    rule = prepared.scenario.rules["openai-for-countries"]
    scripted = {p.country for p in rule.partners}
    joined = {e["target"] for e in model.events
              if e["rule_id"] == "openai-for-countries" and "announced deal" in e["event"]}
    declined = [e for e in model.events if "declines" in e["event"]]
    assert joined == scripted and not [e for e in declined if e["target"] in scripted]
