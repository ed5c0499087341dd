"""Every rule kind moves the world in the direction its claim says, against the same seeds without
it (common random numbers), and its effect is lifted when its window ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import BASELINE
from sim.model.model import GeopoliticsModel
from sim.model.policy import PolicyState
from sim.rules import RULE_KINDS
from sim.runner import release_model
from sim.scenario import prepare

SEEDS = (3, 4, 5)


def scenario_file(
    tmp_path: Path, rules: dict, *, keep_baseline_rules: bool = True, name: str = "t", firms: int = 2000
) -> Path:
    """A child of the baseline, small and short, with `rules` added (or alone)."""
    base_rules = yaml.safe_load(BASELINE.read_text())["rules"]
    text: dict = {
        "extends": str(BASELINE),
        "name": name,
        "population": {"firms": firms},
        "time": {"end": "2027Q4"},
        "rules": dict(rules),
    }
    if not keep_baseline_rules:
        text["rules"] = {rule_id: None for rule_id in base_rules} | dict(rules)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    return path


def finished(path: Path, seed: int, until: str | None = None) -> GeopoliticsModel:
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed)
    while model.running and (until is None or model.date != until):
        model.step()
    release_model(model)
    return model


def paired(tmp_path: Path, rule_id: str, rule: dict, measure, keep_baseline_rules: bool = True) -> np.ndarray:
    """measure(with rule) - measure(without), for each seed (the same seeds for both)."""
    with_ = scenario_file(tmp_path, {rule_id: rule}, keep_baseline_rules=keep_baseline_rules, name="with")
    without = scenario_file(tmp_path, {}, keep_baseline_rules=keep_baseline_rules, name="without")
    return np.array([measure(finished(with_, s)) - measure(finished(without, s)) for s in SEEDS])


def share_of(model: GeopoliticsModel, countries: np.ndarray, options: np.ndarray) -> float:
    """Share of AI-using firms in `countries` on one of `options`: a mask over families (any of
    their release lines) or over release lines."""
    lines = options[model.line_family] if len(options) == model.n_families else options
    users = np.isin(model.firm_country, np.flatnonzero(countries)) & (model.firm_line >= 0)
    return float(lines[model.firm_line[users]].mean()) if users.any() else 0.0


def bloc(model: GeopoliticsModel, name: str) -> np.ndarray:
    return model.country_bloc == name


# -- direction of each kind's effect ------------------------------------------------------------------


def test_export_control_on_api_access_moves_targets_off_the_issuers_closed_models(tmp_path):
    rule = {
        "kind": "export_control", "sources": ["D4.4"], "issuer": "US",
        "targets": {"blocs": ["EU"]}, "restricts": ["api_access"], "strength": 0.8, "from": "2024Q1",
    }
    with_ = scenario_file(tmp_path, {"api-controls": rule}, name="with")
    without = scenario_file(tmp_path, {}, name="without")

    def us_closed_in_eu(m):
        return share_of(m, bloc(m, "EU"), (m.line_origin == "US") & ~m.line_open)

    for seed in SEEDS:
        controlled, free = us_closed_in_eu(finished(with_, seed)), us_closed_in_eu(finished(without, seed))
        assert controlled < 0.5 * free, (seed, controlled, free)


def test_export_control_on_chips_slows_the_targets_compute(tmp_path):
    rule = {"kind": "export_control", "sources": ["D4.6"], "issuer": "US", "targets": {"tiers": [2]},
            "restricts": ["chips"], "strength": 0.9}

    def tier2_compute(m):
        tier2 = np.array([c.export_tier == 2 for c in m.world.countries])
        return m.compute[tier2].sum() / m.compute.sum()

    assert (paired(tmp_path, "tier2-caps", rule, tier2_compute) < 0).all()


def test_alliance_speeds_members_labs_and_draws_members_to_their_models(tmp_path):
    rule = {
        "kind": "alliance", "sources": ["D0.1", "D0.4"], "members": {"blocs": ["EU"]},
        "shared_compute": 0.5, "trust_bonus": 1.0, "network_pooling": 0.0, "data_sharing_risk": 0.0,
    }
    mistral = paired(tmp_path, "eu-alliance", rule, lambda m: m.capability[m.family_index["mistral"]])
    assert (mistral > 1.0).all()  # months of capability gained by the EU lab
    eu_made = paired(tmp_path, "eu-alliance", rule, lambda m: share_of(m, bloc(m, "EU"), m.family_origin == "EU"))
    assert (eu_made > 0.05).all()


def test_alliance_admits_no_candidate_below_its_red_line_and_counts_its_partners(tmp_path):
    rule = {
        "kind": "alliance", "sources": ["D0.1"], "lead": "EU", "members": {"blocs": ["EU"]},
        "candidates": {"regions": ["north"]}, "join_threshold": 0.6, "joins_per_quarter": 2,
    }
    path = scenario_file(tmp_path, {"standards": rule})
    model = finished(path, 3)
    joined = [e for e in model.events if e["rule_id"] == "standards" and "joins" in e["event"]]
    assert joined and all(model.bloc_affinity("EU")[model.country_index[e["target"]]] >= 0.6 for e in joined)
    partners = [r[4] for r in model.rows if r[2] == "partners" and r[3] == "program=standards"]
    assert partners[-1] == int(bloc(model, "EU").sum()) + len(joined)


def test_alliance_data_sharing_risk_lowers_trust_in_members_models(tmp_path):
    rule = {"kind": "alliance", "sources": ["D0.6"], "members": {"blocs": ["EU"]}, "shared_compute": 0.0,
            "trust_bonus": 0.0, "network_pooling": 0.0, "data_sharing_risk": 1.5}
    eu_made = paired(tmp_path, "leaky", rule, lambda m: share_of(m, bloc(m, "EU"), m.family_origin == "EU"))
    # A seed whose EU firms use no EU model even without the risk has nothing to lower (change 0).
    assert (eu_made <= 0).all() and eu_made.mean() < -0.02


def test_regulation_audits_of_chinese_models_lower_their_use_in_the_regulating_bloc(tmp_path):
    rule = {"kind": "regulation", "sources": ["D0.5", "D2.5"], "targets": {"blocs": ["EU"]},
            "privacy_change": 0.3, "audit_cost": 1.5, "applies_to": {"origins": ["CN"]}}

    def cn_in_eu(m):
        return share_of(m, bloc(m, "EU"), m.family_origin == "CN")

    change = paired(tmp_path, "eu-audits", rule, cn_in_eu)
    # A seed whose EU firms use no Chinese model even without audits has nothing to lower (change 0).
    assert (change <= 0).all() and change.mean() < -0.005


def test_regulation_privacy_stance_triggers_endogenous_bans(tmp_path):
    ban = {"kind": "ban", "sources": ["D4.8"], "targets": {"all": True}, "origin": "CN", "mode": "endogenous",
           "threshold": 0.5, "scope": "government"}
    strict = {"kind": "regulation", "sources": ["D0.5"], "targets": {"all": True}, "privacy_change": 0.5}
    lax = scenario_file(tmp_path, {"cn-bans": ban}, name="lax")
    tight = scenario_file(tmp_path, {"cn-bans": ban, "privacy": strict}, name="tight")

    def banning(m):
        return int(m.policy.banned_government[:, m.line_origin == "CN"].any(axis=1).sum())

    assert banning(finished(tight, 3)) > banning(finished(lax, 3)) + 2


def test_incident_cuts_use_of_the_hit_family_and_is_narrated(tmp_path):
    rule = {"kind": "incident", "sources": ["D4.10"], "probability": 1.0,
            "exposed": {"families": ["qwen"], "openness": "any"}, "trust_hit": 1.0, "recovery": 0.0,
            "from": "2024Q1"}
    qwen = paired(tmp_path, "poisoning", rule, lambda m: m.share_world[m.family_index["qwen"]])
    assert (qwen < 0).all()
    model = finished(scenario_file(tmp_path, {"poisoning": rule}), 3)
    hits = [e for e in model.events if e["rule_id"] == "poisoning" and e["event"].startswith("security incident")]
    assert hits and hits[0]["date"] == "2024Q1" and hits[0]["target"] == "qwen"
    assert hits[0]["sources"] == "D4.10"


def test_incident_rule_leaves_other_random_draws_unchanged(tmp_path):
    """Its own stream: an incident that can never hit anything changes nothing at all."""
    rule = {"kind": "incident", "sources": ["D4.10"], "probability": 0.0}
    with_ = finished(scenario_file(tmp_path, {"quiet": rule}, name="with"), 7)
    without = finished(scenario_file(tmp_path, {}, name="without"), 7)
    assert np.array_equal(with_.firm_family, without.firm_family)
    assert [r[4] for r in with_.rows] == [r[4] for r in without.rows if r[3] != "program=quiet"]


def test_collaboration_sets_coauthorship_and_cross_border_spillovers(tmp_path):
    more = {"kind": "collaboration", "sources": ["D3.1"], "base_share": 0.09}
    share = paired(tmp_path, "more-papers", more, lambda m: m.coauthorship_share)
    assert (share > 0.03).all()
    cut = {"kind": "collaboration", "sources": ["D3.2"], "spillover_strength": 0.0}
    cn_best = paired(
        tmp_path, "no-reuse", cut, lambda m: np.nanmax(m.capability[m.family_origin == "CN"]),
        keep_baseline_rules=False,
    )
    assert (cn_best < 0).all()


def test_tension_lowers_coauthorship(tmp_path):
    rule = {"kind": "tension", "sources": ["D0.7"], "path": {"2023Q1": 1.0}}
    assert (paired(tmp_path, "rivalry", rule, lambda m: m.coauthorship_share) < 0).all()


@pytest.mark.parametrize("interpolation", ["linear", "step"])
def test_tension_levels_of_a_run_are_the_levels_of_each_quarter(interpolation):
    """The effect interpolates the whole run's path at once: each quarter must get the bits `level` gives it."""
    from sim.rules.tension import Tension

    rule = Tension(path={"2023Q3": 0.2, "2025Q2": 0.9, "2027Q1": 0.35, "2029Q4": 0.7}, interpolation=interpolation,
                   sources=["D0.7"])
    quarters = np.arange(2021 * 4, 2033 * 4)
    levels = rule.levels(quarters)
    assert [np.float64(v).tobytes() for v in levels] == [np.float64(rule.level(q)).tobytes() for q in quarters.tolist()]
    assert len(set(levels)) >= (4 if interpolation == "step" else 20)  # the path does move between its points


def test_capacity_building_raises_readiness_and_adoption_in_targets(tmp_path):
    rule = {"kind": "capacity_building", "sources": ["D0.8", "D1.3"], "targets": {"regions": ["south"]},
            "readiness_per_year": 0.1}

    def south_adoption(m):
        firms = m.south[m.firm_country]
        return float((m.firm_family[firms] >= 0).mean())

    assert (paired(tmp_path, "divide", rule, lambda m: m.readiness[m.south].mean()) > 0.1).all()
    assert (paired(tmp_path, "divide", rule, south_adoption) > 0).all()


def test_capacity_building_goodwill_draws_targets_to_the_sponsors_models(tmp_path):
    rule = {"kind": "capacity_building", "sources": ["D4.12"], "sponsor": "CN", "targets": {"regions": ["south"]},
            "readiness_per_year": 0.0, "goodwill_bonus": 1.0}
    cn = paired(tmp_path, "belt", rule, lambda m: share_of(m, m.south, m.family_origin == "CN"))
    assert (cn > 0.02).all()


def test_open_source_push_raises_the_blocs_open_share_in_the_south(tmp_path):
    rule = {"kind": "open_source_push", "sources": ["D4.11"], "bloc": "CN", "open_support": 0.0,
            "outreach_bonus": 1.5}

    def cn_open_south(m):
        return share_of(m, m.south & ~bloc(m, "CN"), (m.line_origin == "CN") & m.line_open)

    assert (paired(tmp_path, "outreach", rule, cn_open_south, keep_baseline_rules=False) > 0.02).all()


def test_program_draws_partners_to_the_sponsors_models(tmp_path):
    rule = {"kind": "program", "sources": ["D1.1", "D1.2"], "sponsor": "google", "target_partners": 20,
            "offers_per_quarter": 5, "min_alignment": 0.0, "from": "2024Q1"}

    def gemini_world(m):
        return m.share_world[m.family_index["gemini"]]

    assert (paired(tmp_path, "gemini-for-countries", rule, gemini_world) > 0).all()


def test_scripted_ban_empties_the_family_in_the_banning_countries(tmp_path):
    rule = {"kind": "ban", "sources": ["D4.8"], "targets": {"blocs": ["EU"]}, "origin": "CN", "from": "2024Q1"}

    def cn_in_eu(m):
        return share_of(m, bloc(m, "EU"), m.family_origin == "CN")

    with_ban = scenario_file(tmp_path, {"eu-ban": rule}, name="with")
    without = scenario_file(tmp_path, {}, name="without")
    banned = np.array([cn_in_eu(finished(with_ban, s)) for s in SEEDS])
    free = np.array([cn_in_eu(finished(without, s)) for s in SEEDS])
    assert (banned == 0.0).all()
    assert (free > 0.0).sum() >= 2  # the ban removes use that exists without it


def test_release_policy_opens_a_closed_labs_next_releases_from_its_quarter_only(tmp_path):
    rule = {"kind": "release_policy", "sources": ["D4.4", "D4.6"], "labs": ["openai"], "openness": "open",
            "from": "2025Q2"}
    with_ = scenario_file(tmp_path, {"openai-opens": rule}, name="with")
    without = scenario_file(tmp_path, {}, name="without")
    for seed in SEEDS[:2]:
        before = finished(with_, seed, until="2025Q2"), finished(without, seed, until="2025Q2")
        assert before[0].rows == before[1].rows  # nothing changes before the decision's quarter
        opened, own = finished(with_, seed), finished(without, seed)
        lab = opened.lab_index["openai"]
        assert opened.lab_open[lab] and not own.lab_open[lab]
        gpt_open = opened.line_family == opened.family_index["gpt"]
        # the new release line is open weights; the closed API stays released, frozen at its last model
        assert opened.line_current[gpt_open & opened.line_open].all()
        assert opened.line_released[gpt_open & ~opened.line_open].all()
        assert any("OpenAI switches to open weights" in e["event"] for e in opened.events if e["date"] == "2025Q2")


def test_announced_programme_decisions_override_the_payoff(tmp_path):
    program = yaml.safe_load(BASELINE.read_text())["rules"]["openai-for-countries"]
    program["partners"] = [*program["partners"], {"country": "CHN", "from": "2025Q3", "decision": "accept"},
                           {"country": "IND", "from": "2025Q2", "decision": "decline"}]
    path = scenario_file(tmp_path, {"openai-for-countries": program}, name="decided")
    model = finished(path, 3)
    effect = model.engine.effects["openai-for-countries"]
    assert effect.partners[model.country_index["CHN"]]  # far from the US stack, it joins because it decided to
    assert not effect.partners[model.country_index["IND"]] and effect.declined[model.country_index["IND"]]


def test_alliance_announced_member_joins_at_its_quarter(tmp_path):
    rule = {"kind": "alliance", "sources": ["D0.1"], "members": {"blocs": ["EU"]}, "lead": "EU",
            "announced": [{"country": "BRA", "from": "2025Q1"}], "from": "2024Q1"}
    path = scenario_file(tmp_path, {"eu-club": rule}, name="club")
    early, late = finished(path, 3, until="2025Q1"), finished(path, 3)
    brazil = late.country_index["BRA"]
    assert not early.engine.effects["eu-club"].members[brazil]
    assert late.engine.effects["eu-club"].members[brazil]


# -- every kind's effect is lifted when its window ends -----------------------------------------------

WINDOWED = {
    "export_control": {"issuer": "US", "targets": {"tiers": [2, 3]}, "restricts": ["chips", "api_access"],
                       "strength": 0.8},
    "alliance": {"members": {"blocs": ["EU"]}, "candidates": {"all": True}, "join_threshold": 0.0},
    "program": {"sponsor": "openai", "target_partners": 10, "offers_per_quarter": 5, "min_alignment": 0.0},
    "ban": {"targets": {"all": True}, "origin": "CN"},
    "regulation": {"targets": {"blocs": ["EU"]}, "privacy_change": 0.5, "audit_cost": 1.0},
    "incident": {"probability": 1.0, "exposed": {"openness": "any"}, "recovery": 0.0},
    "collaboration": {"base_share": 0.1, "tension_sensitivity": 3.0, "spillover_strength": 2.0},
    "tension": {"path": {"2023Q1": 1.0}},
    "open_source_push": {"bloc": "CN", "open_support": 2.0, "outreach_bonus": 1.0, "norm_bonus": 0.5},
    "release_policy": {"labs": ["meta", "openai"], "openness": "closed"},
    "capacity_building": {"sponsor": "US", "targets": {"regions": ["south"]}, "readiness_per_year": 0.1,
                          "compute_per_year": 0.01, "goodwill_bonus": 0.5},
}


def test_every_rule_kind_has_a_lift_case():
    assert set(WINDOWED) == set(RULE_KINDS)


def policy_arrays(policy: PolicyState) -> dict[str, object]:
    return {k: v for k, v in vars(policy).items() if k not in ("n_countries", "n_lines", "n_labs")}


@pytest.mark.parametrize("kind", sorted(WINDOWED))
def test_effect_is_present_in_the_window_and_lifted_after_it(tmp_path, kind):
    rule = {"kind": kind, "sources": ["D0.9"], "from": "2024Q1", "until": "2024Q4", **WINDOWED[kind]}
    path = scenario_file(tmp_path, {"windowed": rule}, keep_baseline_rules=False)
    bare = scenario_file(tmp_path, {}, keep_baseline_rules=False, name="bare")
    model, reference = (GeopoliticsModel(prepare(p).scenario, prepare(p).world, seed=2) for p in (path, bare))

    def differs() -> bool:
        ours, theirs = policy_arrays(model.policy), policy_arrays(reference.policy)
        return any(not np.array_equal(np.asarray(ours[k]), np.asarray(theirs[k])) for k in ours)

    seen: dict[str, bool] = {}
    while model.date != "2025Q4":
        model.step()
        reference.step()
        seen[reference.date] = differs()  # the policy of the quarter just simulated
    # The policy in force in a quarter is read after stepping into the next one: `date` is then one ahead.
    assert seen["2024Q3"], f"{kind}: no effect inside its window"
    assert not any(seen[q] for q in ("2025Q2", "2025Q3", "2025Q4")), f"{kind}: effect outlives its window"
    starts = [e for e in model.events if e["rule_id"] == "windowed" and "starts" in e["event"]]
    ends = [e for e in model.events if e["rule_id"] == "windowed" and "ends" in e["event"]]
    assert [e["date"] for e in starts] == ["2024Q1"] and [e["date"] for e in ends] == ["2025Q1"]
    release_model(model)
    release_model(reference)


# -- the policy arrays reused between quarters are what a full recomputation gives ----------------------

REUSED = {  # every kind whose arrays can be reused, with state that moves (partners, members, bans)
    "chips": {"kind": "export_control", "issuer": "US", "targets": {"tiers": [3]}, "restricts": ["chips", "api_access"],
              "strength": 0.6, "from": "2024Q1"},
    "offers": {"kind": "program", "sponsor": "openai", "target_partners": 6, "offers_per_quarter": 2,
               "min_alignment": 0.0, "from": "2023Q3"},
    "club": {"kind": "alliance", "members": {"blocs": ["EU"]},
             "candidates": {"countries": ["BRA", "IND", "ZAF", "TUR"]}, "join_threshold": 0.0,
             "network_pooling": 0.0, "joins_per_quarter": 1},
    "privacy": {"kind": "regulation", "targets": {"blocs": ["EU"]}, "privacy_change": 0.4, "audit_cost": 0.5,
                "from": "2024Q2"},
    "eu-bans": {"kind": "ban", "targets": {"blocs": ["EU"]}, "origin": "CN", "mode": "endogenous", "threshold": 0.3,
                "hysteresis": 0.05},
    "skills": {"kind": "capacity_building", "sponsor": "CN", "targets": {"regions": ["south"]},
               "readiness_per_year": 0.1, "goodwill_bonus": 0.3, "until": "2025Q4"},
    "closed": {"kind": "release_policy", "labs": ["meta"], "openness": "closed", "from": "2025Q1"},
    "calm": {"kind": "tension", "path": {"2023Q1": 0.2, "2027Q4": 0.9}},
    "papers": {"kind": "collaboration", "base_share": 0.1, "tension_sensitivity": 2.0, "spillover_strength": 1.5},
}


MOVING = ("offers", "club", "eu-bans")  # the rules whose state moves: one at a time, so a stale key shows


@pytest.mark.parametrize("moving", ["baseline", *MOVING])
def test_policy_each_quarter_equals_every_active_rule_applied_anew(tmp_path, monkeypatch, moving):
    """The rules phase reuses last quarter's arrays while the active rules and their states are unchanged
    (`RuleEngine.apply_rules`); the policy must still be, quarter by quarter, what resetting and applying
    every active rule gives, also right after partners and members join and bans are raised."""
    from sim.model import policy as policy_module
    from sim.model import schedule

    extra = {rule_id: {"sources": ["D0.9"], **rule} for rule_id, rule in REUSED.items()
             if rule_id == moving or rule_id not in MOVING}
    path = scenario_file(tmp_path, extra if moving != "baseline" else {}, firms=600,
                         keep_baseline_rules=moving == "baseline")
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=7)
    reused = []
    restore = policy_module.PolicyState.restore_arrays
    monkeypatch.setattr(policy_module.PolicyState, "restore_arrays",
                        lambda self, saved: (reused.append(model.date), restore(self, saved)))
    keys_seen = set()
    last: dict[str, object] = {}
    while model.quarter <= model.end:
        for phase in schedule.PHASES:  # model.step(), with a look right after the rules phase
            phase.function(model)
            if phase.name != "rules":
                continue
            anew = PolicyState(model.n_countries, model.n_lines, model.n_labs)
            anew.reset(model.params.collaboration.tension)
            for rule_id, effect in model.engine.effects.items():
                if rule_id in model.engine.active:
                    effect.apply(model, anew)
            ours, theirs = policy_arrays(model.policy), policy_arrays(anew)
            assert ours.keys() == theirs.keys()
            for name in ours:
                assert np.array_equal(np.asarray(ours[name]), np.asarray(theirs[name])), (model.date, name)
                if isinstance(ours[name], np.ndarray):  # new arrays each quarter: last quarter's are not reused
                    assert ours[name] is not last.get(name), (model.date, name)
            last = ours
            keys_seen.add(model.engine._key)
        model.quarter += 1
    assert len(reused) > 5  # the arrays were reused, and between reuses the rules' states moved:
    assert len(keys_seen) > 4
    effects = model.engine.effects
    if moving == "offers":
        assert effects["offers"].partners.sum() > 2
    elif moving == "club":
        assert effects["club"].members.sum() > effects["club"].rule.members.mask(model.world).sum()
    elif moving == "eu-bans":
        assert effects["eu-bans"].banning.any()
    release_model(model)


def test_policy_arrays_list_names_every_array_of_the_policy_state():
    from sim.model.policy import ARRAYS

    policy = PolicyState(5, 4, 3)
    assert set(ARRAYS) == {name for name, value in vars(policy).items() if isinstance(value, np.ndarray)}
