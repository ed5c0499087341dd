"""The model's architecture: state declared per entity, rules as config plus an effect object that
owns the rule's state, and the quarter as an ordered list of phases (design.md, "Architecture")."""

from __future__ import annotations

import dataclasses

import mesa
import numpy as np
import pytest

from conftest import SCENARIOS, run_cli
from sim.fields import claims
from sim.model import schedule, state
from sim.model.model import GeopoliticsModel
from sim.rules import RULE_KINDS
from sim.rules.base import RuleEffect
from sim.scenario import prepare

SMALL = ["population.firms=300", "time.end=2025Q4"]
# Between them these use every rule kind, scripted and endogenous bans, and incidents.
COVERING = ["baseline", "china-open-source-push", "cooperative-standards", "eu-bans-chinese-models", "decoupling",
            "us-labs-open-up"]
MESA_OWN = frozenset(vars(mesa.Model(seed=1)))


def undeclared(model: GeopoliticsModel) -> set[str]:
    """Attributes of the model that neither `sim.model.state` nor Mesa declares."""
    return set(vars(model)) - state.STATE_NAMES - MESA_OWN


@pytest.fixture(scope="module")
def covering():
    prepared = {name: prepare(SCENARIOS / f"{name}.yaml", SMALL) for name in COVERING}
    kinds = {rule.kind for p in prepared.values() for rule in p.scenario.rules.values()}
    assert kinds == set(RULE_KINDS), "the covering scenarios no longer use every rule kind"
    return prepared


def test_set_up_and_steps_create_only_declared_state_of_the_declared_dtype_and_shape(covering):
    for name, prepared in covering.items():
        model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3)
        assert undeclared(model) == set(), f"{name}: set-up invents state"
        assert set(vars(model)) >= state.STATE_NAMES, f"{name}: declared state not allocated"
        for _ in range(8):
            model.step()
        assert model.firms and len(model.agents) > 0  # creating the firm agents adds no state either
        assert undeclared(model) == set(), f"{name}: a phase invents state"
        assert state.check(model) == [], name


def test_an_invented_attribute_is_reported(covering):
    prepared = covering["baseline"]
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    model.partners_by_sponsor = {}  # what a phase must not do
    model.readiness = model.readiness.astype(np.float32)
    assert undeclared(model) == {"partners_by_sponsor"}
    n = model.n_countries
    assert state.check(model) == [f"readiness: float32({n},), declared float64({n},)"]


def test_every_state_variable_has_a_meaning_and_known_dims():
    for spec in state.STATES:
        assert spec.meaning.strip(), spec.name
        assert set(spec.dims) <= set(state.DIMENSIONS), spec.name
    assert len(state.STATE_NAMES) == len(state.STATES), "a name is declared twice"


def test_reading_state_before_it_is_allocated_names_the_variable():
    bare = object.__new__(GeopoliticsModel)
    with pytest.raises(AttributeError, match="'firm_line' is declared but not allocated"):
        _ = bare.firm_line
    assert isinstance(GeopoliticsModel.firm_line, state.StateSpec)


def test_each_rule_builds_an_effect_that_owns_its_state_so_models_do_not_share_it(covering):
    prepared = covering["baseline"]
    first = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    for rule_id, rule in prepared.scenario.rules.items():
        effect = first.engine.effects[rule_id]
        assert isinstance(effect, RuleEffect) and effect.rule is rule and effect.rule_id == rule_id
    for _ in range(10):
        first.step()
    program = first.engine.effects["openai-for-countries"]
    assert program.partner_count() > 0
    # A second model of the same (shared) scenario starts without the first one's partners.
    second = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    assert second.engine.effects["openai-for-countries"].partner_count() == 0
    for _ in range(10):
        second.step()
    assert second.engine.effects["openai-for-countries"].partner_count() == program.partner_count()
    assert second.rows == first.rows


def test_step_runs_the_declared_phases_in_order(covering, monkeypatch):
    prepared = covering["baseline"]
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=3, create_agents=False)
    ran: list[str] = []

    def recording(phase: schedule.Phase) -> schedule.Phase:
        def function(m: GeopoliticsModel) -> None:
            ran.append(phase.name)
            phase.function(m)

        return dataclasses.replace(phase, function=function)

    monkeypatch.setattr(schedule, "PHASES", tuple(recording(p) for p in schedule.PHASES))
    model.step()
    assert ran == [p.name for p in schedule.PHASES]
    assert ran[0] == "rules" and ran[-1] == "metrics" and ran.index("labs") < ran.index("firms")


def test_every_phase_cites_claims_that_exist():
    known = claims()
    for phase in schedule.PHASES:
        assert phase.description.strip()
        assert set(phase.claims) <= set(known), phase.name


def test_explain_schedule_prints_the_phases_with_or_without_a_scenario():
    code, plain, _ = run_cli("explain", "--schedule")
    assert code == 0
    names = [p.name for p in schedule.PHASES]
    positions = [plain.index(f". {name} (") for name in names]
    assert positions == sorted(positions) and "rules:" not in plain
    code, with_rules, _ = run_cli("explain", "eu-bans-chinese-models", "--schedule")
    assert code == 0
    offers = with_rules[with_rules.index("countries.offers_and_bans") : with_rules.index("countries.governments")]
    # the endogenous bans and the programme act there; a scripted ban only writes its effect
    assert "eu-member-state-bans [ban]" in offers and "openai-for-countries [program]" in offers
    assert "italy-blocks-deepseek" not in offers and "italy-blocks-deepseek [ban]" in with_rules


def test_explain_without_a_scenario_or_schedule_says_what_it_needs():
    code, _, err = run_cli("explain")
    assert code == 2 and "needs a scenario" in err and "Traceback" not in err
