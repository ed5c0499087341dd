"""Output folders that lose nothing, and resume that trusts nothing (issue 19, "Under attack").

Each test replays an attack on the folders of `sim sweep`, `compare`, `check` and `calibrate`
(docs/faults.md, "Sweep, compare, check and calibrate folders"): someone else's folder is never
written into, two experiments never share one, a damaged stored result is run again rather than
reused, and a path that cannot be used is bad input (exit 2), found before any run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_faults import TINY, assert_one_line, small_disk

from conftest import BASELINE, run_cli
from sim.outputs.folder import claim_run_folder

SET = {"population.firms": 200, "time.end": "2023Q4"}  # a run in about a second


def experiment(path: Path, name: str = "tiny19", levels: int = 2) -> Path:
    """A tiny experiment over the baseline: `levels` runs of one uncertain parameter, one outcome."""
    body = {
        "schema_version": 1, "name": name, "scenario": str(BASELINE), "set": dict(SET),
        "uncertainties": {"network_weight": {"path": "parameters.choice.network_weight", "range": [1.0, 2.0]}},
        "design": {"kind": "full_factorial", "levels": levels}, "replicates": 1, "seed": 7,
        "outcomes": {"open_share": {"metric": "adoption_share", "group": "openness=open", "reduce": "final"}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def sweep(path: Path, out: Path | None = None) -> tuple[int, str, str]:
    where = ["--out", str(out)] if out is not None else []
    return run_cli("sweep", str(path), *where, "--uncertainty", "seeds")


def messages(stderr: str) -> list[str]:
    """The sweep's `sim:` lines (not the progress bar)."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("sim:")]


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(experiment file, folder) of one complete tiny sweep of 3 runs; tests copy the folder."""
    base = tmp_path_factory.mktemp("sweep")
    path = experiment(base / "exp.yaml", levels=3)
    code, _, err = sweep(path, base / "out")
    assert code == 0, err
    return path, base / "out"


@pytest.fixture
def done(finished_sweep: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    import shutil

    path, out = finished_sweep
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return path, copy


@pytest.fixture(autouse=True)
def machine_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIM_MEMORY_LIMIT", raising=False)


# --------------------------------------------------------------------------- 1. whose folder a sweep writes
def test_sweep_into_someone_elses_folder_is_refused_and_deletes_nothing(tmp_path: Path):
    out = tmp_path / "mine"
    (out / "timeseries").mkdir(parents=True)
    (out / "timeseries" / "2024-sales.parquet").write_bytes(b"someone's sales figures")
    (out / "experiment.yaml").write_text("my own notes\n")
    before = snapshot(out)
    code, _, err = sweep(experiment(tmp_path / "exp.yaml"), out)
    assert code == 2
    line = assert_one_line(err)
    assert "holds no sim sweep of experiment 'tiny19'" in line and "'experiment.yaml'" in line
    assert "--force" not in line  # sim sweep has no --force: never suggest it
    assert snapshot(out) == before


def test_sweep_into_a_run_folder_is_refused_and_leaves_the_run(tmp_path: Path):
    run = tmp_path / "run"
    code, _, err = run_cli("run", str(BASELINE), "--out", str(run), "--quiet", *TINY)
    assert code == 0, err
    before = snapshot(run)
    code, _, err = sweep(experiment(tmp_path / "exp.yaml"), run)
    assert code == 2
    assert "holds the outputs of 'baseline'" in assert_one_line(err)
    assert snapshot(run) == before  # its manifest and resolved scenario are still the run's


def test_sweep_never_writes_into_the_current_folder_or_a_file_systems_root(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    path = experiment(tmp_path / "exp.yaml")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code, _, err = sweep(path, Path("."))
    assert code == 2
    assert "holds the current folder" in assert_one_line(err)
    assert os.listdir(here) == []
    with small_disk(tmp_path / "disk", "size=1m") as disk:
        code, _, err = sweep(path, disk)
        assert code == 2
        assert "is the root of a file system" in assert_one_line(err)
        assert os.listdir(disk) == []


def test_second_experiment_with_the_same_name_keeps_the_first_ones_results(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    first = experiment(tmp_path / "a" / "exp.yaml")
    code, _, err = sweep(first)  # default folder: runs/sweep-tiny19
    assert code == 0, err
    out = tmp_path / "runs" / "sweep-tiny19"
    before = snapshot(out)
    second = experiment(tmp_path / "b" / "exp.yaml", levels=3)  # same `name:`, another experiment
    code, stdout, err = sweep(second)
    assert code == 2 and "Wrote" not in stdout
    line = assert_one_line(err)
    assert f"holds a sweep of experiment 'tiny19' ({first})" in line and str(second) in line
    assert "removed" not in err
    assert snapshot(out) == before  # the first experiment's results are all there
    code, _, err = sweep(first)  # and it still resumes: every run is reused
    assert code == 0 and "2 run(s) already done, 0 to run" in err


def test_sweep_waits_for_no_one_on_a_folder_another_command_is_writing(tmp_path: Path):
    out = tmp_path / "shared"
    with claim_run_folder(out, "baseline"):  # a `sim run` holding the folder
        code, _, err = sweep(experiment(tmp_path / "exp.yaml"), out)
        assert code == 2
        assert f"being written by another sim run (pid {os.getpid()})" in assert_one_line(err)
        assert not out.exists()  # nothing mixed in


def test_run_into_a_sweep_folder_is_refused_naming_the_sweep(done: tuple[Path, Path]):
    _, out = done
    before = snapshot(out)
    code, _, err = run_cli("run", str(BASELINE), "--out", str(out), *TINY)
    assert code == 2
    assert "holds a sweep of experiment 'tiny19'" in assert_one_line(err)
    assert snapshot(out) == before


def test_calibration_into_someone_elses_folder_is_refused_before_any_run(tmp_path: Path):
    from test_calibration import spec_file

    out = tmp_path / "out"
    out.mkdir()
    (out / "wave-1").mkdir()
    (out / "wave-1" / "notes.txt").write_text("mine")
    code, _, err = run_cli("calibrate", str(spec_file(tmp_path, samples=2)), "--out", str(out))
    assert code == 2
    line = assert_one_line(err)
    assert "holds no sim calibration of spec 'tiny'" in line and "--force" not in line
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["wave-1", "wave-1/notes.txt"]


# --------------------------------------------------------------------------- 2. resume verifies what it reuses
def test_damaged_parts_are_run_again_not_reused(done: tuple[Path, Path]):
    path, out = done
    parts = sorted((out / "timeseries").glob("*.parquet"))
    good = {p.name: p.read_bytes() for p in parts}
    parts[0].write_bytes(good[parts[0].name][: len(good[parts[0].name]) // 2])  # truncated
    parts[1].write_bytes(b"")  # empty
    parts[2].write_bytes(b"PAR1 this is not parquet PAR1")  # garbage
    code, stdout, err = sweep(path, out)
    assert code == 0, err
    assert "3 run(s) now, 0 reused" in stdout
    notes = [line for line in messages(err) if "failed verification" in line]
    assert len(notes) == 1 and "3 stored result(s)" in notes[0]
    assert {p.name: p.read_bytes() for p in parts} == good  # the same runs, redone exactly
    assert len(pd.read_parquet(out / "timeseries")) > 0 and (out / "manifest.json").is_file()


def test_row_with_an_outcome_that_is_not_a_number_is_run_again(done: tuple[Path, Path]):
    path, out = done
    runs = (out / "runs.csv").read_text().splitlines()
    header, first = runs[0].split(","), runs[1].split(",")
    at = header.index("open_share")
    value = first[at]
    first[at] = "NOT_A_NUMBER"
    (out / "runs.csv").write_text("\n".join([runs[0], ",".join(first), *runs[2:]]) + "\n")
    code, stdout, err = sweep(path, out)
    assert code == 0, err
    assert "1 run(s) now, 2 reused" in stdout
    assert any("outcome open_share is 'NOT_A_NUMBER', not a number" in line for line in messages(err))
    text = (out / "runs.csv").read_text()
    assert "NOT_A_NUMBER" not in text and value in text


@pytest.mark.parametrize("damage", ["binary", "huge field"])
def test_damaged_runs_csv_is_read_around_and_the_sweep_finishes(done: tuple[Path, Path], damage: str):
    path, out = done
    if damage == "binary":
        (out / "runs.csv").write_bytes(bytes(range(256)) * 40)
    else:
        with open(out / "runs.csv", "a", encoding="utf-8") as handle:
            handle.write('0123456789abcdef,0,0,1.0,0,1,ok,"' + "x" * 200_000 + '",0.5\n')
    code, stdout, err = sweep(path, out)
    assert code == 0, err
    assert any("runs.csv had" in line and "unreadable line(s)" in line for line in messages(err))
    assert ("3 run(s) now" if damage == "binary" else "0 run(s) now, 3 reused") in stdout
    assert (out / "manifest.json").is_file() and "x" * 100 not in (out / "runs.csv").read_text()


def test_resume_state_is_never_removed_before_the_new_one_is_written(done: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch):
    from sim.experiments import store

    path, out = done
    before = snapshot(out)

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device", str(out / "runs.csv"))

    monkeypatch.setattr(store.RunStore, "_rewrite", disk_full)
    code, _, err = sweep(path, out)
    assert code == 1
    line = assert_one_line(err)
    assert "no space left on the disk" in line and "run the same command again" in line
    assert snapshot(out) == before  # the manifest, runs.csv and index of the complete sweep are all there


def test_damaged_parts_index_is_rebuilt_from_the_parts_that_verify(done: tuple[Path, Path]):
    path, out = done
    index = out / "parts.index.jsonl"
    lines = index.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["sha256"] for line in lines)
    index.write_text("\x00\x01 not json\n" + "\n".join(lines[1:]) + "\n")
    code, _, err = sweep(path, out)
    assert code == 0, err
    assert any("parts.index.jsonl was missing or damaged: rebuilt from the 3 stored part(s)" in line
               for line in messages(err))
    assert "3 run(s) already done, 0 to run" in err
    assert sorted(index.read_text().splitlines()) == sorted(lines)


# --------------------------------------------------------------------------- 3. bad paths are bad input (exit 2)
def test_out_at_a_symlink_loop_is_bad_input(tmp_path: Path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for args in (("run", str(BASELINE), *TINY), ("sweep", str(experiment(tmp_path / "exp.yaml")))):
        code, _, err = run_cli(*args, "--out", str(loop))
        assert code == 2, err
        assert "a symbolic link loops" in assert_one_line(err)


def test_sweep_out_at_a_file_or_on_a_read_only_disk_is_bad_input(tmp_path: Path):
    path = experiment(tmp_path / "exp.yaml")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    code, _, err = sweep(path, notes)
    assert code == 2
    assert "exists and is not a folder" in assert_one_line(err)
    assert notes.read_text() == "mine"
    with small_disk(tmp_path / "ro", "size=1m,ro") as disk:
        code, _, err = sweep(path, disk / "out")
        assert code == 2
        line = assert_one_line(err)
        assert "cannot use the output folder" in line and "Read-only" in line


def test_check_out_that_cannot_be_written_is_refused_before_running(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    import sim.validation

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the check ran although its report could not be written")

    monkeypatch.setattr(sim.validation, "run_check", never)
    code, stdout, err = run_cli("check", "--out", str(tmp_path), "--replicates", "1")
    assert code == 2 and stdout == ""
    assert "is a folder; --out names the report file" in assert_one_line(err)
    with small_disk(tmp_path / "ro", "size=1m,ro") as disk:
        code, _, err = run_cli("check", "--out", str(disk / "check.md"), "--replicates", "1")
        assert code == 2
        assert "Read-only file system" in assert_one_line(err)


def scenario(path: Path, name: str, start: str = "2023Q1", end: str = "2023Q4") -> Path:
    body = {"schema_version": 1, "name": name, "extends": str(BASELINE), "time": {"start": start, "end": end},
            "population": {"firms": 200}}
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def test_compare_of_windows_without_a_common_quarter_is_bad_input_before_running(tmp_path: Path):
    early = scenario(tmp_path / "early.yaml", "early")
    late = scenario(tmp_path / "late.yaml", "late", "2027Q1", "2027Q4")
    out = tmp_path / "cmp"
    code, _, err = run_cli("compare", str(early), str(late), "--replicates", "1", "--out", str(out),
                           "--uncertainty", "seeds")
    assert code == 2
    line = assert_one_line(err)
    assert "'late' (2027Q1-2027Q4)" in line and "do not overlap" in line and "time.start" in line
    assert not out.exists()  # no empty difference.csv


def test_compare_of_scenarios_named_alike_gives_each_its_own_folder(tmp_path: Path):
    files = [scenario(tmp_path / f"{i}.yaml", name) for i, name in enumerate(["x", "x", "x-2"])]
    out = tmp_path / "cmp"
    code, _, err = run_cli("compare", *map(str, files), "--replicates", "1", "--out", str(out),
                                "--uncertainty", "seeds")
    assert code == 0, err
    assert "--force" not in err
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "figures") == ["x", "x-2", "x-3"]
    assert json.loads((out / "x-2" / "manifest.json").read_text())["scenario"] == "x-2"  # its own run
    assert json.loads((out / "x-3" / "manifest.json").read_text())["scenario"] == "x"


def test_sweep_that_fills_the_disk_says_so_and_keeps_what_is_stored(tmp_path: Path):
    path = experiment(tmp_path / "exp.yaml", levels=6)  # 6 parts of ~24 kB never fit in 96 kB
    with small_disk(tmp_path / "disk", "size=96k") as disk:
        code, stdout, err = sweep(path, disk / "out")
        assert code == 1 and "Wrote" not in stdout
        [line] = [line for line in messages(err) if "cannot write" in line]
        assert "no space left on the disk" in line and "run the same command again to resume" in line
        assert "Traceback" not in err and "internal error" not in err
        assert not (disk / "out" / "manifest.json").exists()
        assert not [p for p in (disk / "out").rglob("*") if ".tmp-" in p.name]  # nothing half-written
