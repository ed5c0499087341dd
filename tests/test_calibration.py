"""`sim calibrate` (history matching into a parameter ensemble) and `--uncertainty seeds|ensemble`."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import sim
from conftest import default_signals
from sim.calibration.calibrate import calibrate
from sim.calibration.ensemble import load_ensemble
from sim.calibration.history import combined, implausibility, refined_box
from sim.calibration.spec import load_spec
from sim.errors import InputError
from sim.experiments.compare import compare
from sim.experiments.plan import make_plan
from sim.validation import Target

ROOT = Path(__file__).resolve().parents[1]
TINY_SET = {"population.firms": 150, "time.end": "2026Q2"}  # the last target quarter is 2026Q2


def spec_file(tmp_path: Path, **changes: object) -> Path:
    """A small calibration spec over the baseline (two priors), with `changes` on top."""
    spec: dict[str, object] = {
        "schema_version": 1, "name": "tiny", "scenario": "baseline", "set": dict(TINY_SET),
        "priors": {
            "open_bias": {"path": "parameters.labs.open_bias", "range": [-4.0, -1.0], "source": "test prior"},
            "base_share": {"path": "parameters.collaboration.base_share", "range": [0.026, 0.034],
                           "source": "test prior"},
        },
        "waves": 1, "samples": 16, "replicates": 2, "seed": 5,
    }
    spec.update(changes)
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the spec file
def test_bad_spec_is_reported_at_its_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "schema_version: 1\n"
        "name: bad\n"
        "priors:\n"
        "  open_bias:\n"
        "    path: parameters.labs.open_bias\n"
        "    range: [-1.0, -4.0]\n"
        "    source: reversed\n"
        "  stray:\n"
        "    path: population.firms\n"
        "    range: [0, 1]\n"
        "    source: not behavioural\n"
        "wavess: 2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as raised:
        load_spec(path)
    shown = [p.format() for p in raised.value.problems]
    assert any(line.startswith(f"{path}:6:") and "low end below its high end" in line for line in shown), shown
    assert any(line.startswith(f"{path}:9:") and "not under parameters." in line for line in shown), shown
    assert any(line.startswith(f"{path}:12:1") and "wavess" in line for line in shown), shown


def test_unknown_parameter_path_is_named_with_a_suggestion_before_any_run(tmp_path):
    path = spec_file(tmp_path, priors={"bias": {"path": "parameters.labs.open_biass", "range": [-4, -1],
                                                "source": "typo"}})
    done = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{path}:") and "open_biass" in line and "did you mean 'open_bias'" in line
    assert not (tmp_path / "out" / "wave-1").exists()  # nothing ran


# --------------------------------------------------------------------------- implausibility
def target(observed: float | None, accept: tuple[float, float]) -> Target:
    # the measurement's own uncertainty is a point (zero width), so any accept band may widen it
    point = observed if observed is not None else accept[0]
    return Target.model_validate({
        "id": "t", "metric": "capability_gap_months", "group": "pair=open-closed", "quarters": ["2024Q4"],
        "observed": observed, "accept": list(accept), "source": "synthetic", "date": "2026",
        "measures": "synthetic", "model_quantity": "synthetic",
        "uncertainty": {"range": [point, point], "reason": "synthetic"},
    })


def test_implausibility_uses_band_as_two_sd_plus_discrepancy_and_replicate_spread():
    # mean 11 below observed 12: sd_obs = (12 - 3) / 2 = 4.5; var = 4.5^2 (1 + 0.5^2) + var([10, 12]) = 25.3125 + 2
    assert implausibility(target(12.0, (3.0, 14.0)), [10.0, 12.0], 0.5) == pytest.approx(1 / np.sqrt(27.3125))
    # far below: 12 - 0 = 12 over sqrt(4.5^2) with no discrepancy and no spread
    assert implausibility(target(12.0, (3.0, 14.0)), [0.0, 0.0], 0.0) == pytest.approx(12 / 4.5)
    # above observed, the upper side of the band applies: (14 - 12) / 2 = 1
    assert implausibility(target(12.0, (3.0, 14.0)), [15.0, 15.0], 0.0) == pytest.approx(3.0)


def test_band_sd_reads_the_accept_band_as_that_many_standard_deviations():
    # band_sd 3 with no discrepancy: a mean exactly at the band's end has implausibility 3 (the cut-off)
    assert implausibility(target(12.0, (3.0, 14.0)), [3.0, 3.0], 0.0, band_sd=3.0) == pytest.approx(3.0)
    assert implausibility(target(12.0, (3.0, 14.0)), [14.0, 14.0], 0.0, band_sd=3.0) == pytest.approx(3.0)
    assert implausibility(target(12.0, (3.0, 14.0)), [2.9, 2.9], 0.0, band_sd=3.0) > 3.0


def test_rule_may_change_by_wave(tmp_path):
    from sim.calibration.spec import wave_rule

    spec = load_spec(spec_file(tmp_path, rule=["second_max", "max"], waves=3)).spec
    assert [wave_rule(spec, w) for w in (1, 2, 3)] == ["second_max", "max", "max"]
    with pytest.raises(InputError) as caught:
        load_spec(spec_file(tmp_path, rule=["second_max", "third"]))
    assert "rule" in str(caught.value)


def test_one_sided_target_constrains_the_side_it_names():
    overtakes = target(0.013, (0.0, 1.0))  # "Chinese open models lead": a sign
    assert implausibility(overtakes, [-0.05, -0.05], 0.5) > 3  # the wrong sign is implausible
    assert implausibility(overtakes, [0.3, 0.3], 0.5) < 1  # any lead is plausible
    assert implausibility(overtakes, [0.1, float("nan")], 0.5) == float("inf")


def test_cut_uses_the_largest_or_second_largest_implausibility():
    assert combined([0.5, 4.0, 2.0], "max") == 4.0
    assert combined([0.5, 4.0, 2.0], "second_max") == 2.0


def test_next_wave_samples_inside_the_accepted_box():
    lows, highs = np.array([0.0, 0.0]), np.array([10.0, 1.0])
    box = refined_box(np.array([[2.0, 0.5], [4.0, 0.5]]), lows, highs)
    assert box is not None
    assert box[0].tolist() == [2.0, 0.45] and box[1].tolist() == [4.0, 0.55]  # a flat dimension keeps a sliver
    assert refined_box(np.array([[2.0, 0.5]]), lows, highs) is None


# --------------------------------------------------------------------------- a tiny calibration
def two_targets(tmp_path: Path) -> str:
    """The built-in open-lag-2024 and overtake targets alone: a tiny run can match these, while the
    level targets need the full population and the whole period."""
    from sim.resources import data_dir

    shipped = yaml.safe_load((data_dir() / "targets.yaml").read_text(encoding="utf-8"))
    kept = [t for t in shipped["targets"] if t["id"] in ("open-lag-2024", "cn-open-overtakes-us-open")]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump({"targets": kept}, sort_keys=False), encoding="utf-8")
    return "targets.yaml"


def test_tiny_calibration_writes_ensemble_with_provenance(tmp_path):
    out = tmp_path / "out"
    spec = spec_file(tmp_path, samples=6, targets=two_targets(tmp_path))
    result = calibrate(spec, out=out, command_line=["sim", "calibrate", "tiny"])
    assert result.runs == 12 and result.ran == 12
    table = result.waves[0].table
    assert {"I_open-lag-2024", "I_cn-open-overtakes-us-open", "implausibility", "accepted"} <= set(table.columns)
    assert result.ensemble_path is not None  # with this seed some sets survive (checked below)
    ensemble = load_ensemble(result.ensemble_path)
    assert ensemble.size == int(table["accepted"].sum())
    provenance = ensemble.file.provenance
    assert provenance["targets_sha256"] and provenance["spec_sha256"]
    assert provenance["waves"] == [{"wave": 1, "samples": 6, "runs": 12, "accepted": ensemble.size,
                                    "sampled_box": {"open_bias": [-4.0, -1.0], "base_share": [0.026, 0.034]}}]
    assert provenance["priors"]["open_bias"]["source"] == "test prior"
    assert provenance["command"] == "sim calibrate tiny" and provenance["created_utc"]
    baseline = sim.prepare("baseline").scenario
    assert ensemble.file.base_values == {"parameters.labs.open_bias": baseline.parameters.labs.open_bias,
                                         "parameters.collaboration.base_share":
                                         baseline.parameters.collaboration.base_share}
    assert ensemble.file.best_member == min(ensemble.members, key=lambda m: (m.implausibility, m.id)).id
    for member in ensemble.members:
        assert -4.0 <= member.values["parameters.labs.open_bias"] <= -1.0
        assert member.implausibility is not None and member.implausibility <= 3.0


def test_out_of_sample_matches_early_targets_and_predicts_later_ones(tmp_path):
    """--until 2024Q4: the 2025Q3 overtake target is measured on every set but cuts none; its prediction
    by the accepted sets is written to predictions.csv and shown by the command."""
    out = tmp_path / "out"
    spec = spec_file(tmp_path, samples=6, targets=two_targets(tmp_path), band_sd=3.0, discrepancy=0.0)
    result = calibrate(spec, out=out, until="2024Q4")
    table = result.waves[0].table
    assert (table["accepted"] == (table["I_open-lag-2024"] <= 3.0)).all()  # only the early target cuts
    assert table["I_cn-open-overtakes-us-open"].notna().all()
    assert result.predictions is not None and list(result.predictions["target"]) == ["cn-open-overtakes-us-open"]
    written = (out / "predictions.csv").read_text(encoding="utf-8")
    assert written.startswith("target,observed,accept_low,accept_high,sets,median,p10,p90")
    if result.ensemble_path is not None:
        provenance = load_ensemble(result.ensemble_path).file.provenance
        assert provenance["calibrate_until"] == "2024Q4" and provenance["matched_targets"] == ["open-lag-2024"]
    bad = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(spec), "--until", "2024Q5"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "2024Q5" in bad.stderr and "Traceback" not in bad.stderr


def test_confirmation_reruns_the_best_sets_on_other_seeds_and_names_the_best_member(tmp_path):
    spec = spec_file(tmp_path, samples=6, targets=two_targets(tmp_path), band_sd=3.0, discrepancy=0.0,
                     confirm={"candidates": 2, "replicates": 3, "seed": 77})
    result = calibrate(spec, out=tmp_path / "out")
    assert result.ensemble_path is not None and result.confirmation is not None
    table = result.confirmation
    assert len(table) == min(2, result.members)
    runs = (tmp_path / "out" / "confirm" / "runs.csv").read_text(encoding="utf-8").splitlines()
    assert len(runs) == 1 + 3 * len(table)  # every candidate, three replicates
    assert (tmp_path / "out" / "confirm" / "confirmation.csv").is_file()
    ensemble = load_ensemble(result.ensemble_path)
    assert ensemble.file.best_member == table["member"].iloc[0]  # ranked by targets held, then implausibility
    assert list(table["targets_held"]) == sorted(table["targets_held"], reverse=True)
    assert "seed 77" in ensemble.file.provenance["best_member_choice"]


def test_a_rule_parameter_can_be_calibrated_and_is_skipped_where_the_rule_is_absent(tmp_path):
    from sim.calibration.ensemble import applied_values

    spec = spec_file(tmp_path, samples=4, targets=two_targets(tmp_path), priors={
        "open_support": {"path": "rules.china-open-source-strategy.open_support", "range": [0.3, 2.0],
                         "source": "test prior"}})
    result = calibrate(spec, out=tmp_path / "out")
    assert result.ensemble_path is not None
    ensemble = load_ensemble(result.ensemble_path)
    member = ensemble.members[0]
    with_rule = sim.prepare("baseline").scenario
    assert applied_values(ensemble, member, with_rule, set()) == member.values
    scenario_file = tmp_path / "no-china-rule.yaml"
    data = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    data["rules"] = {k: v for k, v in data["rules"].items() if k != "china-open-source-strategy"}
    data["name"] = "no-china-rule"
    scenario_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    without = sim.prepare(str(scenario_file)).scenario
    assert applied_values(ensemble, member, without, set()) == {}


def test_ctrl_c_exits_130_and_the_rerun_resumes_without_recomputing(tmp_path):
    # runs long enough that Ctrl-C lands while most are still to do, even on a loaded machine
    path, out = spec_file(tmp_path, samples=24, set={"population.firms": 2000, "time.end": "2026Q2"}), tmp_path / "out"
    command = [sys.executable, "-m", "sim", "calibrate", str(path), "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_signals)
    runs = out / "wave-1" / "runs.csv"
    deadline = time.monotonic() + 240
    while not (runs.is_file() and runs.read_text().count("\n") - 1 >= 3):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no 3 finished runs in time"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert [line for line in stderr.replace("\r", "\n").splitlines() if "interrupted in wave 1" in line]
    # What a rerun may reuse: the runs recorded as finished (a row in runs.csv, written after the part and its
    # index line). A worker that stored its part as Ctrl-C arrived leaves a part without a row: run again.
    with (out / "wave-1" / "runs.csv").open(newline="", encoding="utf-8") as file:
        finished = {row["run_id"] for row in csv.DictReader(file) if row["status"] == "ok"}
    stored = {p.stem: p.stat().st_mtime_ns for p in (out / "wave-1" / "timeseries").glob("*.parquet")}
    parts = {run_id: stored[run_id] for run_id in finished if run_id in stored}
    assert 3 <= len(parts) < 48 and not (out / "ensemble.yaml").exists()

    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr  # 1: no set survived, which is a finding, not a fault
    assert f"({48 - len(parts)} now, {len(parts)} reused)" in done.stdout
    after = {p.stem: p.stat().st_mtime_ns for p in (out / "wave-1" / "timeseries").glob("*.parquet")}
    assert len(after) == 48 and all(after[name] == mtime for name, mtime in parts.items())  # not recomputed
    invocations = json.loads((out / "invocations.json").read_text())
    assert sum(i["runs_computed"] for i in invocations) >= 48  # every run computed once, a stray part twice
    assert invocations[-1]["runs_computed"] == 48 - len(parts)


# --------------------------------------------------------------------------- --uncertainty ensemble
BASE_OPEN_BIAS = sim.prepare("baseline").scenario.parameters.labs.open_bias
OPEN_BIAS = [-8.0, BASE_OPEN_BIAS, 2.0, 6.0]  # far apart (the open share must spread); m1 holds the baseline's


@pytest.fixture
def synthetic_ensemble(tmp_path: Path) -> Path:
    path = tmp_path / "ensemble.yaml"
    path.write_text(yaml.safe_dump({
        "schema_version": 1, "name": "synthetic", "scenario": "baseline",
        "base_values": {"parameters.labs.open_bias": BASE_OPEN_BIAS},
        "members": [{"id": f"m{i}", "values": {"parameters.labs.open_bias": v}} for i, v in enumerate(OPEN_BIAS)],
        "provenance": {"note": "synthetic, for tests"},
    }), encoding="utf-8")
    return path


SMALL = ["population.firms=300", "time.end=2027Q4"]


def open_band(result: sim.RunResult) -> float:
    summary = result.summary
    rows = summary[(summary["metric"] == "adoption_share") & (summary["group"] == "openness=open")]
    last = rows[rows["step"] == rows["step"].max()].iloc[0]
    return float(last["q90"] - last["q10"])


def test_replicates_draw_members_in_turn_and_bands_widen(synthetic_ensemble):
    seeds = sim.run("baseline", replicates=8, overrides=SMALL, uncertainty="seeds")
    drawn = sim.run("baseline", replicates=8, overrides=SMALL, uncertainty="ensemble", ensemble=synthetic_ensemble)
    assert [u["member"] for u in drawn.members_used] == ["m0", "m1", "m2", "m3"] * 2
    assert drawn.members_used[2]["applied"] == {"parameters.labs.open_bias": 2.0}
    assert seeds.seeds == drawn.seeds  # the members come on top of the same seeds
    assert open_band(drawn) > open_band(seeds)
    assert (drawn.bands, seeds.bands) == ("bands: seeds and parameter ensemble (4 members)", "bands: seeds only")


def test_set_and_scenario_choices_win_over_the_member(synthetic_ensemble):
    explicit = sim.run("baseline", replicates=2, overrides=[*SMALL, "parameters.labs.open_bias=-1.0"],
                       uncertainty="ensemble", ensemble=synthetic_ensemble)
    assert all(u["applied"] == {} for u in explicit.members_used)
    own = sim.run("baseline", replicates=2, overrides=SMALL, uncertainty="ensemble", ensemble=synthetic_ensemble)
    assert own.members_used[0]["applied"] == {"parameters.labs.open_bias": -8.0}


def test_compare_pairs_members_and_manifest_lists_them(synthetic_ensemble, tmp_path):
    result = compare("baseline", "eu-bans-chinese-models", replicates=4, overrides=SMALL, uncertainty="ensemble",
                     ensemble=synthetic_ensemble, out=tmp_path / "cmp", command_line=["sim", "compare"])
    base, other = result.results
    assert [u["member"] for u in base.members_used] == [u["member"] for u in other.members_used] == \
        ["m0", "m1", "m2", "m3"]
    manifest = json.loads((tmp_path / "cmp" / "manifest.json").read_text())
    assert manifest["bands"] == "bands: seeds and parameter ensemble (4 members)"
    assert [r["member"] for r in manifest["uncertainty"]["replicates"]] == ["m0", "m1", "m2", "m3"]
    run_manifest = json.loads((tmp_path / "cmp" / "baseline" / "manifest.json").read_text())
    assert run_manifest["uncertainty"]["ensemble_sha256"] == load_ensemble(synthetic_ensemble).sha256
    assert "bands: seeds and parameter ensemble (4 members)" in (tmp_path / "cmp" / "compare.html").read_text()


def test_sim_run_names_its_bands_in_summary_report_and_manifest(synthetic_ensemble, tmp_path):
    outputs = {}
    for kind in ("seeds", "ensemble"):
        out = tmp_path / kind
        done = subprocess.run(
            [sys.executable, "-m", "sim", "run", "baseline", "--replicates", "2", "--set", "population.firms=150",
             "--set", "time.end=2024Q4", "--uncertainty", kind, "--ensemble", str(synthetic_ensemble),
             "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        outputs[kind] = (done.stdout, (out / "report.html").read_text(), manifest)
    assert "bands: seeds only" in outputs["seeds"][0] and "bands: seeds only" in outputs["seeds"][1]
    ensemble_text = "bands: seeds and parameter ensemble (2 of 4 members)"  # two replicates draw two members
    assert ensemble_text in outputs["ensemble"][0] and ensemble_text in outputs["ensemble"][1]
    assert outputs["seeds"][2]["uncertainty"] == {"kind": "seeds"}
    assert [r["member"] for r in outputs["ensemble"][2]["uncertainty"]["replicates"]] == ["m0", "m1"]


def test_sweep_replicates_take_members_except_on_varied_paths(synthetic_ensemble, tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "schema_version: 1\nname: ens\nscenario: baseline\nset: {population.firms: 150, time.end: 2024Q4}\n"
        "uncertainties:\n  network_weight: {path: parameters.choice.network_weight, range: [1.0, 2.0]}\n"
        "design: {kind: full_factorial, levels: 2}\nreplicates: 2\n"
        "outcomes:\n  open_share: {metric: adoption_share, group: openness=open}\n", encoding="utf-8")
    plan = make_plan(str(path), uncertainty="ensemble", ensemble=str(synthetic_ensemble), check_outcomes=False)
    by_replicate = {(s.design_point, s.replicate): s.scenario.parameters.labs.open_bias for s in plan.runs}
    assert by_replicate == {(0, 0): -8.0, (0, 1): BASE_OPEN_BIAS, (1, 0): -8.0, (1, 1): BASE_OPEN_BIAS}
    seeds_plan = make_plan(str(path), uncertainty="seeds", check_outcomes=False)
    ids = {(s.design_point, s.replicate): s.run_id for s in plan.runs}
    seeds_ids = {(s.design_point, s.replicate): s.run_id for s in seeds_plan.runs}
    assert ids[0, 0] != seeds_ids[0, 0]  # member m0 changes the run, so its id (resume key) changes
    assert ids[0, 1] == seeds_ids[0, 1]  # member m1 holds the base value: the same run, the same id
    varied = tmp_path / "varied.yaml"
    varied.write_text(path.read_text().replace("parameters.choice.network_weight", "parameters.labs.open_bias")
                      .replace("[1.0, 2.0]", "[-3.0, -1.0]"), encoding="utf-8")
    varied_plan = make_plan(str(varied), uncertainty="ensemble", ensemble=str(synthetic_ensemble),
                            check_outcomes=False)
    assert sorted({s.scenario.parameters.labs.open_bias for s in varied_plan.runs}) == [-3.0, -1.0]


def test_bad_ensemble_file_is_reported_at_its_line(tmp_path):
    path = tmp_path / "ensemble.yaml"
    path.write_text("schema_version: 1\nname: x\nscenario: baseline\nbase_values: {}\nmembers: []\n"
                    "provenance: {}\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_ensemble(path)
    assert raised.value.problems[0].format().startswith(f"{path}:5:")


def test_shipped_ensembles_come_from_the_shipped_spec_and_targets():
    """The ensembles that ship were made by the shipped calibration spec against the shipped targets: a
    change to either leaves them stale, and this fails until `sim calibrate` is run again."""
    import hashlib

    from sim.resources import builtin_dir, data_dir

    spec = builtin_dir() / "calibration" / "baseline.yaml"
    targets = data_dir() / "targets.yaml"
    shipped = [p for p in (data_dir() / "ensemble.yaml", data_dir() / "ensemble-until-2024Q4.yaml") if p.is_file()]
    assert shipped, "no calibrated ensemble ships"
    for path in shipped:
        provenance = load_ensemble(path).file.provenance
        assert provenance["spec_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest(), path.name
        assert provenance["targets_sha256"] == hashlib.sha256(targets.read_bytes()).hexdigest(), path.name
    baseline = sim.prepare("baseline").scenario
    best = load_ensemble(data_dir() / "ensemble.yaml")
    member = next(m for m in best.members if m.id == best.file.best_member)
    from sim.experiments.plan import field_at

    for path, value in member.values.items():  # the baseline's defaults are the best member's values
        current, problem = field_at(baseline, tuple(path.split(".")))
        assert problem is None and current == pytest.approx(value, rel=1e-3), path
