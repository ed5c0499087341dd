"""`sim compare`: paired runs with common random numbers, so differences come from policy alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from conftest import BASELINE, ROOT
from sim.scenario import prepare

SMALL = ["population.firms=1500", "time.end=2027Q4"]
LATE_BAN = f"""schema_version: 1
name: late-ban
extends: {BASELINE}
description: Every EU country bans Chinese-origin models from 2026Q1.
rules:
  eu-bans-cn-models:
    kind: ban
    sources: [D4.8]
    targets: {{blocs: [EU]}}
    origin: CN
    scope: all
    from: 2026Q1
"""


@pytest.fixture(scope="module")
def late_ban(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenarios") / "late-ban.yaml"
    path.write_text(LATE_BAN, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def paired(late_ban):
    return sim.compare(BASELINE, late_ban, replicates=3, overrides=SMALL)


def test_every_scenario_runs_with_the_same_replicate_seeds(paired):
    base, other = paired.results
    assert base.seeds == other.seeds == paired.seeds and len(set(paired.seeds)) == 3
    seeds = [r.timeseries.groupby("replicate")["seed"].first().tolist() for r in paired.results]
    assert seeds[0] == seeds[1] == paired.seeds


def test_a_scenario_compared_with_itself_differs_by_exactly_zero():
    small = prepare(BASELINE, SMALL)
    result = sim.compare(small, small, replicates=2)
    assert result.labels == ["baseline", "baseline-2"]
    assert len(result.difference) > 0
    assert (result.difference[["mean", "median", "q10", "q90"]] == 0).all().all()


def test_a_policy_changes_nothing_before_it_starts_and_something_after(paired):
    difference = paired.difference
    before = difference[difference["date"] < "2026Q1"]
    after = difference[(difference["date"] >= "2026Q1") & (difference["metric"] == "adoption_share")]
    assert len(before) > 0 and (before[["q10", "q90"]] == 0).all().all()  # common random numbers at work
    cn = after[after["group"] == "origin=CN"]
    assert (cn["median"] < 0).any()  # the ban moves EU firms off Chinese models
    summary = paired.difference_summary
    row = summary[(summary["metric"] == "adoption_share") & (summary["group"] == "origin=CN")].iloc[0]
    assert row["date"] == "2027Q4" and row["difference_median"] <= 0 and row["share_higher"] == 0


def test_cli_writes_each_run_the_differences_and_a_self_contained_page(tmp_path, late_ban):
    out = tmp_path / "cmp"
    command = [sys.executable, "-m", "sim", "compare", str(BASELINE), str(late_ban), "--replicates", "2",
               "--out", str(out), *[a for s in SMALL for a in ("--set", s)]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "late-ban minus baseline at 2027Q4" in done.stdout
    for name in ("baseline/report.html", "baseline/timeseries.csv", "late-ban/manifest.json", "difference.csv",
                 "difference_summary.csv", "figures/difference.png", "figures/adoption.png", "compare.html",
                 "manifest.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    difference = pd.read_csv(out / "difference.csv", keep_default_na=False)
    assert list(difference.columns) == ["scenario", "baseline", "step", "date", "metric", "group",
                                        "mean", "median", "q10", "q90"]
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert 'href="late-ban/report.html"' in page


def test_compare_of_a_bad_scenario_is_reported_at_its_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"schema_version: 1\nname: bad\nextends: {BASELINE}\npopulation: {{firms: -5}}\n")
    done = subprocess.run([sys.executable, "-m", "sim", "compare", str(BASELINE), str(bad)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{bad}:4:" in done.stderr and "population.firms" in done.stderr


def test_compare_folder_is_replaced_whole_and_never_mixed_with_another_run(tmp_path, paired):
    from sim.experiments.compare import write_compare
    from sim.outputs.folder import OutputFolderError

    out = tmp_path / "cmp"
    write_compare(paired, out, ["sim", "compare"])
    first = (out / "manifest.json").read_text(encoding="utf-8")
    write_compare(paired, out, ["sim", "compare"])  # the same comparison again: replaced in place
    assert (out / "baseline" / "timeseries.csv").is_file() and (out / "manifest.json").read_text() != ""
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and "lock" not in p.name) == []
    other = tmp_path / "run"
    sim.run(prepare(BASELINE, SMALL), out=other)  # a `sim run` folder is not a comparison's
    with pytest.raises(OutputFolderError, match="choose another --out") as refused:
        write_compare(paired, other, ["sim", "compare"])
    assert "--force" not in str(refused.value)  # sim compare has no --force: never suggest it
    assert not (other / "compare.html").exists() and (other / "report.html").is_file()
    assert "late-ban" in first
