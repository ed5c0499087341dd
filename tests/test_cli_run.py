"""`sim run` as a user calls it: the contract's files, reproducible byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import BASELINE, ROOT

SMALL = ["--set", "population.firms=500", "--set", "time.end=2025Q4"]


def sim_run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sim", "run", str(BASELINE), "--out", str(out), *SMALL, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_run_writes_every_contract_output_reproducibly(tmp_path):
    first = sim_run(tmp_path / "a", "--replicates", "2", "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    out = tmp_path / "a"
    for name in (
        "timeseries.csv",
        "summary.csv",
        "events.csv",
        "scenario.resolved.yaml",
        "manifest.json",
        "figures/adoption.png",
        "figures/influence.png",
        "report.html",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    series = pd.read_csv(out / "timeseries.csv", keep_default_na=False)
    assert list(series.columns) == [
        "scenario",
        "replicate",
        "seed",
        "step",
        "date",
        "metric",
        "group",
        "value",
    ]
    assert sorted(series["replicate"].unique()) == [0, 1]
    assert series["date"].iloc[0] == "2023Q1" and series["date"].iloc[-1] == "2025Q4"
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert {"mean", "median", "q10", "q90"} <= set(summary.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replicates"] == 2 and len(manifest["seeds"]) == 2
    assert set(manifest["files"]) >= {"timeseries.csv", "report.html"}
    assert "At 2025Q4" in first.stdout and "Italy" in first.stdout  # summary and narrated events

    second = sim_run(tmp_path / "b", "--replicates", "2")
    assert second.returncode == 0, second.stderr
    for name in ("timeseries.csv", "summary.csv", "events.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    other = sim_run(tmp_path / "c", "--replicates", "2", "--seed", "7")
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "c" / "timeseries.csv").read_bytes() != (out / "timeseries.csv").read_bytes()


def test_resolved_scenario_reruns_to_the_same_result(tmp_path):
    first = sim_run(tmp_path / "a")
    assert first.returncode == 0, first.stderr
    resolved = tmp_path / "a" / "scenario.resolved.yaml"
    again = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(resolved), "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() == (
        tmp_path / "b" / "timeseries.csv"
    ).read_bytes()
