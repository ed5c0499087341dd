"""Planning a sweep in proportion: no probe run, no scenario built or kept per run, ids that hash only
what a run changes, and seeds distinct per design point. (Planning time is measured by
benchmarks/planning.py, not asserted here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim.experiments.plan as plan_module
from conftest import BASELINE
from sim.errors import InputError
from sim.experiments.plan import VALIDATE_ALL, RunSpec, known_series, make_plan
from sim.runner import run_replicate
from sim.scenario import prepare

BIG = """schema_version: 1
name: big
scenario: {scenario}
set: {{population.firms: 300, time.end: 2024Q4}}
uncertainties:
  network_weight: {{path: parameters.choice.network_weight, range: [0.8, 2.2]}}
  imitation: {{path: parameters.adoption.imitation, range: [0.3, 0.5]}}
levers:
  outreach: {{path: rules.china-open-source-strategy.outreach_bonus, choices: {choices}}}
design: {{kind: latin_hypercube, samples: {samples}}}
replicates: {replicates}
seed: 5
outcomes:
  open_share: {{metric: adoption_share, group: openness=open, reduce: final}}
"""


def experiment(tmp_path: Path, samples: int = 1280, choices: str = "[0.0, 0.3]", replicates: int = 1,
               name: str = "big.yaml") -> Path:
    path = tmp_path / name
    path.write_text(BIG.format(scenario=BASELINE, samples=samples, choices=choices, replicates=replicates),
                    encoding="utf-8")
    return path


def test_a_2560_run_plan_runs_no_model_and_holds_no_scenario(tmp_path, monkeypatch):
    built, validated = [], []

    def no_model(*_args, **_kwargs):
        raise AssertionError("planning ran the model")

    monkeypatch.setattr("sim.model.model.GeopoliticsModel.__init__", no_model)
    real_build = plan_module.RunBuilder.scenario
    monkeypatch.setattr(plan_module.RunBuilder, "scenario",
                        lambda self, *args: validated.append(args) or real_build(self, *args))
    real_resolved = plan_module.resolved_yaml
    monkeypatch.setattr(plan_module, "resolved_yaml", lambda s: built.append(s) or real_resolved(s))
    plan = make_plan(str(experiment(tmp_path)))
    assert len(plan.runs) == 2560
    assert len(built) == 1  # the base scenario is serialised once, not once per run
    assert len(validated) == VALIDATE_ALL  # an even spread of combinations is checked, not all 2,560
    assert "scenario" not in RunSpec.__slots__  # a run's scenario is built when the sweep asks for it
    assert not hasattr(plan.runs[0], "__dict__")
    scenario = plan.runs[-1].scenario
    assert scenario.parameters.choice.network_weight == plan.runs[-1].values["network_weight"]
    assert scenario.rules["china-open-source-strategy"].outreach_bonus == plan.runs[-1].values["outreach"]


def test_seeds_differ_per_point_and_are_shared_by_policies(tmp_path):
    plan = make_plan(str(experiment(tmp_path, samples=50, replicates=2)))
    seeds = {(s.design_point, s.policy, s.replicate): s.seed for s in plan.runs}
    assert len({seeds[(p, 0, 0)] for p in range(50)}) == 50
    assert all(seeds[(p, 0, r)] == seeds[(p, 1, r)] for p in range(50) for r in range(2))
    assert all(seeds[(p, 0, 0)] != seeds[(p, 0, 1)] for p in range(50))


def test_ids_follow_what_a_run_changes(tmp_path):
    first = make_plan(str(experiment(tmp_path, samples=20)))
    again = make_plan(str(experiment(tmp_path, samples=20)))
    assert [s.run_id for s in first.runs] == [s.run_id for s in again.runs]
    # A new lever value: the runs at the old value keep their ids (a resume keeps them), the others are new.
    changed = make_plan(str(experiment(tmp_path, samples=20, choices="[0.0, 0.5]", name="changed.yaml")))
    old = {(s.design_point, s.policy): s.run_id for s in first.runs}
    new = {(s.design_point, s.policy): s.run_id for s in changed.runs}
    assert all(old[(p, 0)] == new[(p, 0)] for p in range(20))
    assert not {old[(p, 1)] for p in range(20)} & set(new.values())
    # A change of the base scenario changes every run.
    other_base = make_plan(str(experiment(tmp_path, samples=20)), ["population.firms=301"])
    assert not {s.run_id for s in first.runs} & {s.run_id for s in other_base.runs}


def test_too_many_runs_are_refused_up_front_at_the_design(tmp_path):
    path = experiment(tmp_path, samples=100_000, replicates=2)
    with pytest.raises(InputError) as error:
        make_plan(str(path))
    assert "400,000 runs is more than 200,000" in str(error.value) and f"{path}:10:" in str(error.value)


def test_known_series_lists_every_group_a_run_writes(world):
    prepared = prepare(str(BASELINE), ["population.firms=150", "time.end=2023Q4"])
    known = known_series(prepared)
    frame = run_replicate(prepared.scenario, prepared.world, 0, 1).timeseries
    written = set(zip(frame["metric"], frame["group"], strict=True))
    missing = {(m, g) for m, g in written if g not in known.get(m, set())}
    assert not missing, sorted(missing)[:10]


def test_outcome_groups_are_checked_without_a_run(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.model.model.GeopoliticsModel.__init__",
                        lambda *_a, **_k: (_ for _ in ()).throw(AssertionError("ran the model")))
    path = experiment(tmp_path, samples=4)
    path.write_text(path.read_text(encoding="utf-8").replace("openness=open", "openness=opne"), encoding="utf-8")
    with pytest.raises(InputError, match=r"adoption_share has no group 'openness=opne'.*did you mean 'openness=open'"):
        make_plan(str(path))


def test_a_sweep_builds_each_scenario_as_its_run_is_about_to_start(tmp_path, monkeypatch):
    import sim
    from sim.experiments.store import RunStore

    events: list[str] = []
    real_build, real_record = plan_module.RunBuilder.scenario, RunStore.record
    monkeypatch.setattr(plan_module.RunBuilder, "scenario",
                        lambda self, *args: events.append("build") or real_build(self, *args))
    monkeypatch.setattr(RunStore, "record", lambda self, *args: events.append("record") or real_record(self, *args))
    path = tmp_path / "lazy.yaml"
    path.write_text(BIG.format(scenario=BASELINE, samples=8, choices="[0.0, 0.3]", replicates=1)
                    .replace("time.end: 2024Q4", "time.end: 2023Q2"), encoding="utf-8")
    result = sim.sweep(path, out=tmp_path / "out", workers=1)
    assert result.complete and len(result.runs) == 16
    # Not all sixteen scenarios up front: some are built only after the first run is stored.
    assert "build" in events[events.index("record"):]
