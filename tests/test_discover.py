"""`sim discover` (PRIM and CART on a sweep folder) and `sim.ema` (an experiment file as an EMA Workbench model).

The box-finding tests plant a known box in a sweep folder's runs (inputs drawn uniformly, the outcome
high exactly inside the box) so the answer is known; one test runs a small real sweep of the shipped
tier2-backfire experiment end to end.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from conftest import ROOT, run_cli
from sim.cli import main
from sim.experiments.schema import RESERVED_COLUMNS

pytest.importorskip("ema_workbench", reason="the ema extra (pip install -e '.[ema]') is part of the test extra")

TIER2 = ROOT / "scenarios" / "experiments" / "tier2-backfire.yaml"
TINY = ROOT / "scenarios" / "experiments" / "tiny.yaml"


def planted_sweep(folder: Path, runs: int = 240, seed: int = 3) -> Path:
    """A sweep folder whose outcome `risk` is high exactly where a > 0.6, b < 0.4 and the lever is "on"."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0, 1, runs), rng.uniform(0, 1, runs), rng.uniform(0, 1, runs)
    lever = np.where(np.arange(runs) % 2 == 0, "on", "off")
    inside = (a > 0.6) & (b < 0.4) & (lever == "on")
    risk = np.where(inside, 1.0, 0.0) + rng.normal(0, 0.05, runs)
    folder.mkdir(parents=True)
    design = pd.DataFrame({"design_point": np.arange(runs) // 2, "policy": np.arange(runs) % 2, "a": a, "b": b,
                           "c": c, "lever": lever})
    design.to_csv(folder / "design.csv", index=False)
    frame = design.assign(run_id=[f"{i:016x}" for i in range(runs)], replicate=0, seed=np.arange(runs), status="ok",
                          error="", risk=risk, other=c)
    frame[["run_id", "design_point", "policy", "a", "b", "c", "lever", *RESERVED_COLUMNS[3:], "risk", "other"]].to_csv(
        folder / "runs.csv", index=False)
    return folder


def limits(found: dict, name: str) -> dict:
    return found["boxes"][0]["limits"][name]


def test_prim_finds_the_planted_box_and_writes_boxes_and_figures(tmp_path):
    folder = planted_sweep(tmp_path / "sweep")
    code, out, err = run_cli("discover", str(folder), "--outcome", "risk", "--above", "0.5")
    assert code == 0, err
    found = json.loads((folder / "discover" / "boxes.json").read_text())
    assert found["question"] == "risk > 0.5" and found["method"] == "prim"
    box = found["boxes"][0]
    assert box["density"] >= 0.8 and box["coverage"] >= 0.6, box
    assert 0.5 <= limits(found, "a")["low"] <= 0.7 and limits(found, "a")["high"] == pytest.approx(1.0, abs=0.01)
    assert 0.3 <= limits(found, "b")["high"] <= 0.5
    assert limits(found, "lever")["values"] == ["on"]
    assert "c" not in box["limits"]  # the input that does not matter is left free
    table = pd.read_csv(folder / "discover" / "boxes.csv")
    assert {"coverage", "density", "mass", "low", "high", "restricted", "qp_low", "qp_high"} <= set(table.columns)
    assert set(table[table["box"] == 1]["input"]) == {"a", "b", "c", "lever"}
    trajectory = pd.read_csv(folder / "discover" / "trajectory.csv")
    assert trajectory["selected"].sum() == len(found["boxes"])
    for name in ("tradeoff.png", "box_1.png"):
        assert (folder / "discover" / "figures" / name).stat().st_size > 10_000
    assert "box 1:" in out and "a >= 0." in out and "b <= 0." in out and "lever in on (quasi-p" in out


def test_cart_finds_the_planted_box(tmp_path):
    folder = planted_sweep(tmp_path / "sweep")
    code, _out, err = run_cli("discover", str(folder), "--outcome", "risk", "--above", "0.5", "--method", "cart",
                             "--out", str(tmp_path / "cart"))
    assert code == 0, err
    found = json.loads((tmp_path / "cart" / "boxes.json").read_text())
    assert found["method"] == "cart" and found["boxes"]
    best = found["boxes"][0]
    assert best["density"] >= 0.8
    assert best["limits"]["lever"]["values"] == ["on"]
    assert 0.5 <= best["limits"]["a"]["low"] <= 0.7 and 0.3 <= best["limits"]["b"]["high"] <= 0.5
    assert (tmp_path / "cart" / "figures" / "tradeoff.png").is_file()


def test_below_asks_the_opposite_question(tmp_path):
    folder = planted_sweep(tmp_path / "sweep")
    code, _out, err = run_cli("discover", str(folder), "--outcome", "risk", "--below", "0.5", "--threshold", "0.95")
    assert code == 0, err
    found = json.loads((folder / "discover" / "boxes.json").read_text())
    assert found["question"] == "risk < 0.5" and found["cases"] == int((pd.read_csv(folder / "runs.csv")["risk"] < 0.5)
                                                                        .sum())
    assert all(box["density"] >= 0.95 for box in found["boxes"]) and found["boxes"]


def test_bad_questions_are_clear_errors(tmp_path, capsys):
    folder = planted_sweep(tmp_path / "sweep")
    code, _out, err = run_cli("discover", str(folder), "--outcome", "rsik", "--above", "0.5")
    assert code == 2 and "no outcome 'rsik'" in err and "did you mean 'risk'" in err and "Traceback" not in err
    code, _out, err = run_cli("discover", str(folder), "--outcome", "risk", "--above", "5")
    assert code == 2 and "no run has risk > 5" in err
    code, _out, err = run_cli("discover", str(tmp_path), "--outcome", "risk", "--above", "0.5")
    assert code == 2 and "not a sweep folder" in err
    for args, message in ((["--outcome", "risk"], "--above"),
                          (["--outcome", "risk", "--above", "0.5", "--threshold", "1.5"], "between 0")):
        with pytest.raises(SystemExit) as stop:  # argparse's own usage errors
            main(["discover", str(folder), *args])
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_without_ema_workbench_it_says_how_to_install(tmp_path, monkeypatch):
    folder = planted_sweep(tmp_path / "sweep")
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails as when the extra is missing
    code, _out, err = run_cli("discover", str(folder), "--outcome", "risk", "--above", "0.5")
    assert code == 2 and 'pip install -e ".[ema]"' in err and "Traceback" not in err


@pytest.mark.slow
def test_discover_on_a_small_run_of_the_shipped_tier2_sweep(tmp_path):
    # The shipped experiment, fewer points and firms: every file is written and the question is answered.
    text = TIER2.read_text(encoding="utf-8").replace("samples: 60", "samples: 6").replace("firms: 1000", "firms: 150")
    text = text.replace("scenario: ../export-controls-tighten.yaml", f"scenario: {ROOT / 'scenarios'}/"
                        "export-controls-tighten.yaml")
    path = tmp_path / "tier2.yaml"
    path.write_text(text, encoding="utf-8")
    result = sim.sweep(path, out=tmp_path / "sweep", workers=2)
    assert result.complete and len(result.runs) == 12
    middle = float(result.runs["us_influence_2030"].median())
    code, _out, err = run_cli("discover", str(tmp_path / "sweep"), "--outcome", "us_influence_2030", "--below",
                             str(middle), "--threshold", "0.5")
    assert code == 0, err
    found = json.loads((tmp_path / "sweep" / "discover" / "boxes.json").read_text())
    assert found["runs"] == 12 and 0 < found["cases"] < 12
    assert (tmp_path / "sweep" / "discover" / "figures" / "tradeoff.png").is_file()


# --------------------------------------------------------------------------- sim.ema
def test_an_experiment_runs_under_emas_sequential_evaluator():
    from ema_workbench import SequentialEvaluator

    from sim.ema import experiment_model

    model = experiment_model(TINY, ["population.firms=120"], replications=2)
    assert [u.name for u in model.uncertainties] == ["network_weight"]
    assert [lever.name for lever in model.levers] == ["outreach"]
    assert [o.name for o in model.outcomes] == ["cn_influence_end", "open_share_mean"]
    pickle.loads(pickle.dumps(model.function))  # MultiprocessingEvaluator sends it to its workers
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=4, policies=1)
    assert len(experiments) == 4
    assert experiments["network_weight"].between(1.0, 2.0).all()
    assert set(experiments["outreach"]) <= {0.0, 0.3}
    for name in ("cn_influence_end", "open_share_mean"):
        assert outcomes[name].shape == (4,) and np.isfinite(outcomes[name]).all()
    # Different uncertainty values are different runs (their own seeds too): not one number four times.
    assert len(set(np.round(outcomes["open_share_mean"], 12))) > 1
    # The mean over replications of the callable itself, seed by seed.
    first = experiments.iloc[0]
    values = {"network_weight": float(first["network_weight"]), "outreach": float(first["outreach"])}
    runs = [model.function(seed=rep["seed"], replicate=rep["replicate"], **values) for rep in model.replications]
    assert outcomes["open_share_mean"][0] == pytest.approx(np.mean([r["open_share_mean"] for r in runs]))


def test_ema_model_with_one_replication_and_bad_files(tmp_path):
    from ema_workbench import Model

    from sim.ema import experiment_model
    from sim.errors import InputError

    model = experiment_model(TINY, replications=1)
    assert isinstance(model, Model) and {c.name for c in model.constants} == {"seed", "replicate"}
    path = tmp_path / "bad.yaml"
    text = TINY.read_text(encoding="utf-8").replace("scenario: ../baseline.yaml", f"scenario: {ROOT / 'scenarios'}/"
                                                    "baseline.yaml")
    path.write_text(text.replace("choice.network_weight", "choice.network_wieght"), encoding="utf-8")
    with pytest.raises(InputError, match="network_wieght"):
        experiment_model(path)
