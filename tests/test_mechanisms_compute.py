"""Capability from effective compute and adoption that responds to what is on offer.

Paired runs with common random numbers: two scenarios differ only by the rule or data under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.model.model import GeopoliticsModel
from sim.runner import release_model
from sim.scenario import prepare

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SEEDS = (11, 12, 13)

# The baseline's chip rules, removed to get a world where chips flow freely to China.
CHIP_RULES = ("us-chips-china-2022", "us-chips-2023-update", "us-hbm-controls-2024", "us-ai-diffusion-rule",
              "us-chip-licences-2025", "us-h200-case-by-case")


def run(path: Path, seed: int, overrides: tuple[str, ...] = (), firms: int = 3000) -> GeopoliticsModel:
    prepared = prepare(path, [f"population.firms={firms}", *overrides])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed, create_agents=False)
    model.run()
    release_model(model)
    return model


def scenario(tmp_path: Path, name: str, rules: dict, world: dict | None = None) -> Path:
    """A scenario extending the baseline with `rules` (None removes a baseline rule)."""
    document = {"schema_version": 1, "name": name, "extends": str(BASELINE), "rules": rules}
    if world is not None:
        document["world"] = world
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def world_with_substitution(tmp_path: Path, china: float) -> dict:
    """World files whose China replaces `china` of denied chips with its own accelerators."""
    countries = yaml.safe_load((ROOT / "scenarios" / "data" / "countries.yaml").read_text())
    for row in countries["countries"]:
        if row["iso3"] == "CHN":
            row["domestic_chip_substitution"] = china
    path = tmp_path / f"countries-{china:g}.yaml"
    path.write_text(yaml.safe_dump(countries, sort_keys=False))
    return {"countries": str(path), "families": str(ROOT / "scenarios" / "data" / "families.yaml")}


def adoption_rate(model: GeopoliticsModel, countries: np.ndarray) -> float:
    """Size-weighted share of the firms of `countries` (a country mask) that use AI, as the metric."""
    mine = countries[model.firm_country]
    using = model.firm_line >= 0
    return float(model.firm_size[mine & using].sum() / model.firm_size[mine].sum())


def china_lag(model: GeopoliticsModel, from_step: int) -> float:
    """Mean China-US lag (months) over the quarters from `from_step` on."""
    values = [v for step, _, metric, grp, v in model.rows
              if metric == "capability_gap_months" and grp == "pair=CN-US" and step >= from_step]
    return float(np.mean(values))


def test_a_ban_on_us_models_lowers_that_countrys_adoption_rate(tmp_path):
    ban = scenario(tmp_path, "germany-bans-us-models", {
        "germany-bans-us": {"kind": "ban", "sources": ["D4.8"], "targets": {"countries": ["DEU"]},
                            "origin": "US", "scope": "all", "from": "2024Q1"}})
    overrides = ("time.end=2027Q4",)
    drops = []
    for seed in SEEDS:
        base, banned = run(BASELINE, seed, overrides), run(ban, seed, overrides)
        germany = base.country_ids == "DEU"
        drops.append(adoption_rate(base, germany) - adoption_rate(banned, germany))
    assert min(drops) > 0, drops  # every seed: fewer German firms use AI when the US models are gone
    assert np.mean(drops) > 0.02, drops


def test_full_chip_denial_widens_the_china_us_lag_and_substitution_narrows_it(tmp_path):
    free = scenario(tmp_path, "free-chips", dict.fromkeys(CHIP_RULES))
    denial = {**dict.fromkeys(CHIP_RULES), "deny-china-chips": {
        "kind": "export_control", "sources": ["D4.3", "D4.6"], "issuer": "US",
        "targets": {"countries": ["CHN", "HKG"]}, "restricts": ["chips"], "strength": 1.0}}
    no_substitution = scenario(tmp_path, "denial-no-substitution", denial, world_with_substitution(tmp_path, 0.0))
    with_substitution = scenario(tmp_path, "denial-substitution", denial, world_with_substitution(tmp_path, 0.5))
    from_2027 = 16  # steps: 2027Q1 on
    # The compute channel alone: labs denied chips do not also research harder (constraint_innovation 0,
    # tested below), so less compute can only widen the lag.
    compute_only = ("parameters.labs.constraint_innovation=0",)
    lag_free = china_lag(run(free, 5, compute_only), from_2027)
    lag_denied = china_lag(run(no_substitution, 5, compute_only), from_2027)
    lag_substituted = china_lag(run(with_substitution, 5, compute_only), from_2027)
    assert lag_denied > lag_free + 6.0, (lag_free, lag_denied)  # months: a material effect
    assert lag_free < lag_substituted < lag_denied, (lag_free, lag_substituted, lag_denied)


def test_labs_denied_chips_research_harder_and_that_can_outweigh_the_lost_compute(tmp_path):
    # D4.4, D4.6: constraint drives efficiency work. Under a full denial, the lag with the calibrated
    # constraint_innovation is shorter than with none. At the calibrated value (1.37 since the recalibration
    # of 2026-12-01; the ensemble spans 0.17-1.71) the efficiency channel outweighs the compute channel, so
    # a full denial narrows the lag against free chips: what a full denial does to China's lag is as
    # uncertain as this parameter (docs/calibration.md), and the test says which way the default points.
    denial = {**dict.fromkeys(CHIP_RULES), "deny-china-chips": {
        "kind": "export_control", "sources": ["D4.3", "D4.6"], "issuer": "US",
        "targets": {"countries": ["CHN", "HKG"]}, "restricts": ["chips"], "strength": 1.0}}
    denied = scenario(tmp_path, "denial", denial, world_with_substitution(tmp_path, 0.0))
    free = scenario(tmp_path, "free-chips", dict.fromkeys(CHIP_RULES))
    from_2027 = 16
    calibrated = china_lag(run(denied, 5), from_2027)
    without = china_lag(run(denied, 5, ("parameters.labs.constraint_innovation=0",)), from_2027)
    assert calibrated < without - 6.0, (calibrated, without)
    assert calibrated < china_lag(run(free, 5), from_2027), calibrated


def test_adoption_saturates_below_100_percent_in_every_sector():
    # Everyone considers AI at once and nearly always accepts: what remains is the ceiling.
    eager = ("parameters.adoption.innovation=2", "parameters.adoption.imitation=5",
             "parameters.adoption.no_ai_utility=-10", "time.end=2028Q4")
    model = run(BASELINE, 3, eager)
    using = model.firm_line >= 0
    for s, (name, sector) in enumerate(model.params.firms.sectors.items()):
        firms = model.firm_sector == s
        share = using[firms].mean()
        assert share < 0.95, name
        assert share <= model.firm_potential[firms].mean() + 1e-12, name  # never above who would adopt
        assert share == pytest.approx(sector.adoption_ceiling, abs=4 / np.sqrt(firms.sum())), name


def test_decoupling_lowers_adoption_where_it_removes_options():
    # The same decoupled world twice, with adoption responding to access and (the mutant) not: the
    # difference is what the removed options alone do to adoption. Against the baseline instead, the
    # removed options are mixed with decoupling's other effects (since the recalibration of 2026-12-01 a
    # denied China researches harder and its models catch up, which raises adoption in tier 3).
    overrides = ("time.end=2028Q4",)
    ignores_access = (*overrides, "parameters.structure.adoption_responds_to_access=false")
    decoupling = ROOT / "scenarios" / "decoupling.yaml"
    drops = []
    for seed in SEEDS:
        free, split = run(decoupling, seed, ignores_access, 8000), run(decoupling, seed, overrides, 8000)
        cut_off = np.isin(split.country_ids, ["CHN", "HKG", "RUS", "IRN", "IRQ", "XEM"])  # tier 3
        drops.append(adoption_rate(free, cut_off) - adoption_rate(split, cut_off))
    # Lower in every paired seed; the size depends on the calibrated outside option (no_ai_utility) and is
    # small (under a point by 2028), which is why no 2023-2026 target tells adoption-independent-of-access
    # apart (docs/validation.md, mutants).
    assert min(drops) > 0, drops
    assert np.mean(drops) > 0.001, drops
