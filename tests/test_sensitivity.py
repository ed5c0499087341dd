"""Sensitivity that says how sure it is: confidence intervals, warnings for too few samples, and the levers'
paired effects named by their values. The plans are real (make_plan on an experiment file); the runs'
outcomes are a known function of the factor values, so what the indices should be is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from conftest import BASELINE
from sim.experiments.plan import Plan, make_plan
from sim.experiments.sensitivity import (
    analyse,
    lever_effects,
    policy_label,
    sensitivity_figure,
    write_lever_effects,
    write_sensitivity,
)

SOBOL = """schema_version: 1
name: sobol
scenario: {scenario}
uncertainties:
  network_weight: {{path: parameters.choice.network_weight, range: [0.0, 1.0]}}
  imitation: {{path: parameters.adoption.imitation, range: [0.0, 1.0]}}
levers:
  outreach: {{path: rules.china-open-source-strategy.outreach_bonus, choices: [0.0, 0.3]}}
design: {{kind: {kind}, samples: {samples}}}
replicates: {replicates}
seed: 9
outcomes:
  open_share: {{metric: adoption_share, group: openness=open, reduce: final}}
"""


def plan_for(tmp_path: Path, samples: int, kind: str = "sobol", replicates: int = 1) -> Plan:
    path = tmp_path / f"{kind}-{samples}.yaml"
    path.write_text(SOBOL.format(scenario=BASELINE, kind=kind, samples=samples, replicates=replicates),
                    encoding="utf-8")
    return make_plan(str(path))


def fake_runs(plan: Plan, noise: float = 0.0) -> pd.DataFrame:
    """Each run's outcome: 4 x network_weight + imitation (+ 0.5 with outreach 0.3), plus seed noise."""
    rows = []
    for spec in plan.runs:
        values = spec.values
        jitter = np.random.default_rng(spec.seed % 2**32).normal(0, noise) if noise else 0.0
        lever = 0.5 if values["outreach"] == 0.3 else 0.0
        rows.append({"run_id": spec.run_id, "open_share": 4 * values["network_weight"] + values["imitation"] + lever
                     + jitter})
    return pd.DataFrame(rows)


def test_sobol_indices_come_with_intervals_and_few_samples_warn(tmp_path):
    plan = plan_for(tmp_path, samples=8)
    table, notes = analyse(plan, fake_runs(plan))
    assert {"S1", "S1_conf", "ST", "ST_conf", "warning"} <= set(table.columns)
    assert (table["S1_conf"] > 0).all() and (table["ST_conf"] > 0).all()
    wide = table[(table["S1_conf"] > 0.1) | (table["ST_conf"] > 0.1)]
    assert not wide.empty and wide["warning"].str.contains("wide").all()
    assert any(note.startswith("warning: open_share (outreach=0.0), ") for note in notes)
    outside = table[(table[["S1", "ST"]] < -0.01).any(axis=1) | (table[["S1", "ST"]] > 1.01).any(axis=1)]
    assert outside["warning"].str.contains("outside").all()


def test_enough_samples_give_tight_intervals_and_no_warning(tmp_path):
    plan = plan_for(tmp_path, samples=1024)
    table, notes = analyse(plan, fake_runs(plan))
    assert (table["warning"] == "").all() and not [n for n in notes if n.startswith("warning")]
    network = table[(table["factor"] == "network_weight") & (table["policy"] == 0)].iloc[0]
    assert abs(network["S1"] - 16 / 17) < 0.05  # variance share of 4x next to x: 16 / (16 + 1)


def test_lever_effects_are_paired_by_point_and_named_by_value(tmp_path):
    plan = plan_for(tmp_path, samples=16, kind="latin_hypercube", replicates=2)
    table, notes = lever_effects(plan, fake_runs(plan, noise=0.01))
    assert list(table["label"]) == ["outreach=0.3"] and list(table["reference"]) == ["outreach=0.0"]
    row = table.iloc[0]
    assert row["outreach"] == 0.3 and row["points"] == 16
    # Paired: the points' own spread (4 x network_weight) cancels; what is left is the lever's 0.5.
    assert abs(row["effect"] - 0.5) < 0.01 and row["effect_conf"] < 0.02 and row["share_positive"] == 1.0
    assert row["warning"] == "" and not notes
    write_lever_effects(plan, fake_runs(plan), tmp_path / "out")
    assert pd.read_csv(tmp_path / "out" / "lever_effects.csv")["label"].tolist() == ["outreach=0.3"]
    assert (tmp_path / "out" / "figures" / "lever_effects.png").stat().st_size > 10_000


def test_a_lever_that_does_nothing_is_said_to_be_indistinguishable(tmp_path):
    plan = plan_for(tmp_path, samples=16, kind="latin_hypercube")
    runs = fake_runs(plan)
    runs["open_share"] = np.random.default_rng(1).normal(size=len(runs))  # pure noise: no lever effect
    table, notes = lever_effects(plan, runs)
    assert "not distinguishable from no effect" in table["warning"].iloc[0] and notes


def test_the_figure_names_policies_by_their_lever_values(tmp_path):
    plan = plan_for(tmp_path, samples=8)
    table, _notes = write_sensitivity(plan, fake_runs(plan), tmp_path)
    assert (tmp_path / "figures" / "sensitivity.png").is_file()
    assert "warning" in pd.read_csv(tmp_path / "sensitivity.csv").columns
    labels = {q: policy_label(plan, q) for q in range(len(plan.policies))}
    fig = sensitivity_figure(table, "t", labels)
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert "S1 outreach=0.3" in legend and "ST outreach=0.0" in legend
    assert not any("policy" in text for text in legend)
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("wide intervals" in text for text in notes)
