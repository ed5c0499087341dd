"""Faults, interruptions and hostile places: real signals, real processes, real (small) file systems.

What docs/faults.md promises, checked end to end: a run folder under its final name is complete or
absent; SIGINT/SIGTERM stop with 130/143 and one line; a second run on a locked folder fails at
once naming the holder's pid; another scenario's or an unknown folder needs --force; a full or
read-only disk gives a clear message and leaves nothing behind; a killed worker is named with its
replicate and seed; sizes that would not fit in memory are refused before anything is allocated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import BASELINE, SCENARIOS, default_signals, run_cli
from sim import runner
from sim.model.streams import replicate_seeds
from sim.outputs import folder as run_folder
from sim.outputs.folder import OutputFolderError, claim_run_folder, deferred_signals
from sim.scenario import prepare
from sim.scenario.limits import (
    ROW_BYTES,
    firm_bytes,
    rows_per_quarter,
    rows_per_replicate,
)

TINY = ["--set", "population.firms=200", "--set", "time.end=2023Q4"]  # a whole run in a few seconds
MID = ["--set", "population.firms=2000"]  # long enough to be caught writing its outputs
BIG = ["--set", "population.firms=100000"]  # long enough to be caught simulating, even on a loaded machine
WAIT_S = 120.0  # upper bound for a subprocess to reach a given point on a loaded machine


# --------------------------------------------------------------------------- helpers
def start(*args: str, cwd: Path, session: bool = False) -> subprocess.Popen[str]:
    """`python -m sim ARGS` as a real child process (`session`: in a process group of its own)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
        start_new_session=session,
    )


def wait_for(condition: Callable[[], object], what: str, process: subprocess.Popen | None = None) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            pytest.fail(f"the run ended before {what}: {process.communicate()}")
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT_S)
    return process.returncode, out, err


def staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.partial-*"))


def leftovers(out: Path) -> list[str]:
    """Hidden things a run on `out` may leave beside it: staging, replaced folders, the lock."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def children(pid: int) -> list[int]:
    """Live child processes of `pid`, oldest first (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append((int(fields[19]), int(stat.parent.name)))  # (start time, pid)
    return [child for _, child in sorted(found)]


def workers_of(pid: int) -> list[int]:
    """The pool's worker processes of `pid`: forked by its fork server, one of its children."""
    return [worker for child in children(pid) for worker in children(child)]


def assert_one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@contextlib.contextmanager
def small_disk(path: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at `path` with `options`; skips where mounting is not permitted."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One complete tiny run of the baseline (tests copy it)."""
    out = tmp_path_factory.mktemp("finished") / "baseline"
    code, _, err = run_cli("run", str(BASELINE), "--out", str(out), "--quiet", *TINY)
    assert code == 0, err
    return out


@pytest.fixture
def previous_run(finished_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runs" / "baseline"
    shutil.copytree(finished_run, out)
    return out


@pytest.fixture(autouse=True)
def machine_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIM_MEMORY_LIMIT", raising=False)


# --------------------------------------------------------------------------- folder semantics
def test_rerun_of_the_same_scenario_replaces_its_folder_whole(previous_run: Path):
    before = json.loads((previous_run / "manifest.json").read_text())
    code, out, err = run_cli("run", str(BASELINE), "--out", str(previous_run), "--quiet", "--seed", "5", *TINY)
    assert code == 0, err
    after = json.loads((previous_run / "manifest.json").read_text())
    assert after["seeds"] != before["seeds"]
    assert set(after["files"]) | {"manifest.json"} == set(snapshot(previous_run))
    assert leftovers(previous_run) == []
    assert out.strip() == str(previous_run)


def test_folder_of_another_scenario_is_refused_then_replaced_with_force(previous_run: Path):
    manifest = json.loads((previous_run / "manifest.json").read_text())
    manifest["scenario"] = "eu-bans-chinese-models"
    (previous_run / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(previous_run)
    code, _, err = run_cli("run", str(BASELINE), "--out", str(previous_run), *TINY)
    assert code == 2
    line = assert_one_line(err)
    assert "'eu-bans-chinese-models', not 'baseline'" in line and "--force" in line
    assert snapshot(previous_run) == before  # refused before anything was written
    code, _, err = run_cli("run", str(BASELINE), "--out", str(previous_run), "--force", "--quiet", *TINY)
    assert code == 0, err
    assert json.loads((previous_run / "manifest.json").read_text())["scenario"] == "baseline"
    assert leftovers(previous_run) == []


def test_unknown_non_empty_folder_is_refused_naming_force(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    code, _, err = run_cli("run", str(BASELINE), "--out", str(out), *TINY)
    assert code == 2
    line = assert_one_line(err)
    assert "not empty and holds no sim run" in line and "'notes.txt'" in line and "--force" in line
    assert (out / "notes.txt").read_text() == "my notes"
    assert leftovers(out) == []


def test_users_file_inside_a_run_folder_is_not_silently_deleted(previous_run: Path):
    (previous_run / "figures" / "my-annotated.png").write_bytes(b"not ours")
    code, _, err = run_cli("run", str(BASELINE), "--out", str(previous_run), *TINY)
    assert code == 2
    assert "'figures/my-annotated.png'" in assert_one_line(err)
    assert (previous_run / "figures" / "my-annotated.png").exists()


def test_force_never_replaces_a_folder_holding_the_scenario(tmp_path: Path):
    scenarios = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, scenarios)
    code, _, err = run_cli("run", str(scenarios / "baseline.yaml"), "--out", str(scenarios), "--force", *TINY)
    assert code == 2
    assert "input file" in assert_one_line(err)
    assert (scenarios / "baseline.yaml").read_bytes() == BASELINE.read_bytes()


def test_out_below_a_regular_file_is_refused(tmp_path: Path):
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file")
    code, _, err = run_cli("run", str(BASELINE), "--out", str(blocker / "run"), *TINY)
    assert code == 2
    assert f"{blocker} is a file, not a folder" in assert_one_line(err)


def test_out_on_a_read_only_file_system_is_refused(tmp_path: Path):
    place = tmp_path / "ro"
    if os.geteuid() == 0:  # root writes through permission bits: use a read-only mount
        disk = small_disk(place, "size=1m,ro")
    else:
        place.mkdir()
        place.chmod(0o555)
        disk = contextlib.nullcontext(place)
    with disk:
        code, _, err = run_cli("run", str(BASELINE), "--out", str(place / "run"), *TINY)
        assert code == 2
        line = assert_one_line(err)
        assert "cannot use the output folder" in line and ("Read-only" in line or "Permission denied" in line)
        assert os.listdir(place) == []


def test_full_disk_reports_and_leaves_no_file_behind(tmp_path: Path):
    with small_disk(tmp_path / "disk", "size=200k") as disk:
        code, _, err = run_cli("run", str(BASELINE), "--out", str(disk / "run"), *TINY)
        assert code == 1
        line = assert_one_line(err)
        assert "no space left on the disk" in line and "nothing was written to" in line
        assert os.listdir(disk) == []  # no output, no staging folder, no temporary file, no lock


def test_a_whole_file_system_is_never_an_output_folder(tmp_path: Path):
    with small_disk(tmp_path / "disk", "size=1m") as disk:
        (disk / "data.csv").write_text("someone's data")
        code, _, err = run_cli("run", str(BASELINE), "--out", str(disk), "--force", *TINY)
        assert code == 2
        assert "is the root of a file system" in assert_one_line(err)
        assert os.listdir(disk) == ["data.csv"]


def test_second_run_on_a_locked_folder_fails_fast_naming_the_holder(tmp_path: Path):
    out = tmp_path / "runs" / "baseline"
    first = start("run", str(BASELINE), "--out", str(out), *BIG, cwd=tmp_path)
    try:
        lock = out.parent / ".baseline.lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), "the lock", first)
        began = time.monotonic()
        code, _, err = run_cli("run", str(BASELINE), "--out", str(out), *TINY)
        assert code == 2
        line = assert_one_line(err)
        assert f"being written by another sim run (pid {first.pid})" in line
        assert time.monotonic() - began < 30  # refused before simulating anything
    finally:
        first.terminate()
        finish(first)


# --------------------------------------------------------------------------- signals
def test_sigint_mid_run_exits_130_and_keeps_the_previous_run(previous_run: Path):
    before = snapshot(previous_run)
    process = start("run", str(BASELINE), "--out", str(previous_run), *BIG, cwd=previous_run.parent)
    wait_for(lambda: staging(previous_run), "the staging folder", process)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    assert code == 130
    assert assert_one_line(err) == f"sim: interrupted; {previous_run} was left as it was (no partial output)"
    assert snapshot(previous_run) == before
    assert leftovers(previous_run) == []


def test_sigterm_while_writing_exits_143_and_leaves_no_half_written_file(tmp_path: Path):
    out = tmp_path / "runs" / "baseline"
    process = start("run", str(BASELINE), "--out", str(out), *MID, cwd=tmp_path)
    # The summary is written after the time series and before the figures and the report.
    wait_for(lambda: any((s / "summary.csv").exists() for s in staging(out)), "the outputs being written", process)
    process.send_signal(signal.SIGTERM)
    code, _, err = finish(process)
    assert code == 143
    assert assert_one_line(err) == f"sim: stopped by SIGTERM; nothing was written to {out}"
    assert not out.exists()  # no final-named file, no manifest
    assert leftovers(out) == []


@pytest.mark.parametrize(
    ("signum", "whole_group", "code", "said"),
    [
        (signal.SIGINT, True, 130, "interrupted"),
        (signal.SIGTERM, False, 143, "stopped by SIGTERM"),
        (signal.SIGHUP, False, 129, "stopped by SIGHUP"),
    ],
    ids=["ctrl-c-to-the-process-group", "sigterm-to-the-parent", "sighup-to-the-parent"],
)
def test_stopping_a_run_stops_its_workers_without_tracebacks(
    tmp_path: Path, signum: int, whole_group: bool, code: int, said: str
):
    out = tmp_path / "runs" / "baseline"
    args = ("run", str(BASELINE), "--out", str(out), "--replicates", "4", "--workers", "2", *BIG)
    process = start(*args, cwd=tmp_path, session=True)
    workers = wait_for(lambda: len(workers_of(process.pid)) == 2 and workers_of(process.pid), "two workers", process)
    if whole_group:  # what a terminal does on Ctrl-C: every process of the job gets SIGINT
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    exit_code, _, err = finish(process)
    assert exit_code == code
    assert assert_one_line(err) == f"sim: {said}; nothing was written to {out}"
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert not out.exists() and leftovers(out) == []


def test_run_killed_outright_leaves_only_hidden_staging_that_the_next_run_removes(tmp_path: Path):
    out = tmp_path / "runs" / "baseline"
    process = start("run", str(BASELINE), "--out", str(out), *BIG, cwd=tmp_path)
    wait_for(lambda: staging(out), "the staging folder", process)
    process.kill()
    finish(process)
    assert not out.exists() and staging(out)  # nothing under the final name
    with claim_run_folder(out, "baseline"):
        assert len(staging(out)) == 1  # only the new run's own
    assert leftovers(out) == []


def test_signals_are_held_while_a_run_is_swapped_in():
    # Ctrl-C as in a terminal, whatever handler an earlier test left in this worker process
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = False
    try:
        with pytest.raises(KeyboardInterrupt), deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # without the deferral, KeyboardInterrupt is raised here
            reached = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached  # the signal was delivered as the block ended, not inside it


# --------------------------------------------------------------------------- workers
def test_killed_worker_is_reported_with_its_replicate_and_seed(tmp_path: Path):
    out = tmp_path / "runs" / "baseline"
    process = start("run", str(BASELINE), "--out", str(out), "--replicates", "4", "--workers", "2", *BIG, cwd=tmp_path)
    workers = wait_for(lambda: len(workers_of(process.pid)) == 2 and workers_of(process.pid), "two workers", process)
    os.kill(workers[0], signal.SIGKILL)
    code, _, err = finish(process)
    assert code == 1
    line = assert_one_line(err)
    died = r"replicate (\d) \(seed (\d+)\) did not finish: its worker process \(pid (\d+)\) was killed by SIGKILL"
    found = re.search(died, line)
    assert found, line
    replicate, seed, pid = (int(g) for g in found.groups())
    assert seed == replicate_seeds(prepare(BASELINE).scenario.seed, 4)[replicate]
    assert pid == workers[0]
    assert line.endswith(f"nothing was written to {out}")
    assert not out.exists() and leftovers(out) == []
    assert children(process.pid) == []


def short_of_memory(job: tuple) -> runner.ReplicateResult:
    """A replicate job that runs out of memory for replicate 1 (runs in a worker, found by name)."""
    if job[2] == 1:
        raise MemoryError
    return runner.run_replicate(*job)


def test_memory_error_in_a_worker_names_the_replicate(monkeypatch: pytest.MonkeyPatch):
    prepared = prepare(BASELINE, ["population.firms=100", "time.end=2023Q2"])
    monkeypatch.setattr(runner, "_run_one", short_of_memory)  # sent to the workers by name
    with pytest.raises(runner.ReplicateError) as caught:
        list(runner.iter_replicates(prepared.scenario, prepared.world, 3, workers=2))
    assert caught.value.replicate == 1
    assert caught.value.seed == replicate_seeds(prepared.scenario.seed, 3)[1]
    assert "ran out of memory" in str(caught.value)


# --------------------------------------------------------------------------- limits
def test_population_too_big_for_memory_is_refused_at_validation(tmp_path: Path):
    scenarios = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, scenarios)
    path = scenarios / "huge.yaml"
    path.write_text(BASELINE.read_text().replace("population: {firms: 4000}", "population: {firms: 1000000000000}"))
    code, _, err = run_cli("validate", str(path))
    assert code == 2
    line = assert_one_line(err)
    number = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("population:"))
    assert re.match(rf"^{re.escape(str(path))}:{number}:\d+: population\.firms: 1,000,000,000,000 firms", line)
    assert re.search(r"would need about [\d,.]+ TB of memory for one replicate", line)
    assert re.search(r"the limit is [\d,.]+ [KMGT]B \(", line)


def test_memory_limit_is_the_stated_one_and_says_how_many_firms_fit(monkeypatch: pytest.MonkeyPatch):
    # 320 MB: the baseline (4,000 firms) with every metric of the registry fits, with room to spare
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "320M")
    assert run_cli("validate", str(BASELINE))[0] == 0
    code, _, err = run_cli("validate", str(BASELINE), "--set", "population.firms=1000000")
    assert code == 2
    line = assert_one_line(err)
    assert "the limit is 320.0 MB (set by SIM_MEMORY_LIMIT)" in line
    fits = int(re.search(r"at most about ([\d,]+) firms fit", line).group(1).replace(",", ""))
    assert 4000 < fits < 1_000_000
    assert run_cli("validate", str(BASELINE), "--set", f"population.firms={fits}")[0] == 0
    assert run_cli("validate", str(BASELINE), "--set", f"population.firms={fits + 1000}")[0] == 2


def test_unreadable_memory_limit_setting_is_bad_input(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "lots")
    code, _, err = run_cli("validate", str(BASELINE))
    assert code == 2
    assert "SIM_MEMORY_LIMIT='lots' is not a memory size" in assert_one_line(err)


def test_too_long_horizon_is_refused_at_validation():
    code, _, err = run_cli("validate", str(BASELINE), "--set", "time.end=2199Q4")
    assert code == 2
    assert "quarters is too long a horizon; the limit is 400 quarters" in assert_one_line(err)


def test_too_many_replicates_are_refused_before_running(tmp_path: Path):
    out = tmp_path / "run"
    began = time.monotonic()
    code, _, err = run_cli("run", str(BASELINE), "--out", str(out), "--replicates", "1000000000")
    assert code == 2
    line = assert_one_line(err)
    assert re.search(r"--replicates 1,000,000,000 --workers 1: the run would need about [\d,.]+ [TP]B", line)
    assert "at most about" in line and "replicates fit" in line
    assert time.monotonic() - began < 30 and not out.exists() and leftovers(out) == []


def test_memory_estimate_covers_a_measured_replicate():
    """The per-firm cost is an honest upper bound: at least the measured peak, at most 2.5 times it."""
    import numpy

    from sim.model import firms as firm_phase
    from sim.model.model import GeopoliticsModel

    firms = 20_000
    prepared = prepare(BASELINE, [f"population.firms={firms}", "time.end=2023Q2"])
    tracemalloc.start()
    try:
        model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
        model.run()
        everyone = numpy.arange(model.n_firms)  # the worst quarter the estimate covers: every firm chooses
        firm_phase._choose(model, everyone, firm_phase.taste_noise(model, everyone))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    runner.release_model(model)
    estimate = firms * firm_bytes(prepared.world) + rows_per_replicate(prepared.scenario, prepared.world) * ROW_BYTES
    assert peak <= estimate <= 2.5 * peak, (peak, estimate)


def test_row_bound_covers_the_metrics_of_every_quarter():
    prepared = prepare(BASELINE, ["population.firms=200"])
    series = runner.run_replicate(prepared.scenario, prepared.world, 0, 1).timeseries
    most = int(series.groupby("step").size().max())
    bound = rows_per_quarter(prepared.scenario, prepared.world)
    assert most <= bound <= 1.25 * most, (most, bound)


# --------------------------------------------------------------------------- the swap itself
def test_swap_without_atomic_exchange_also_replaces_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(run_folder, "_exchange", lambda first, second: False)  # a file system without renameat2
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"scenario": "demo", "files": {"old.csv": {}}}))
    (out / "old.csv").write_text("old")
    with claim_run_folder(out, "demo") as claimed:
        (claimed.staging / "new.csv").write_text("new")
        (claimed.staging / "manifest.json").write_text(json.dumps({"scenario": "demo", "files": {"new.csv": {}}}))
        claimed.commit()
    assert sorted(os.listdir(out)) == ["manifest.json", "new.csv"]
    assert leftovers(out) == []


def test_failure_inside_a_claimed_folder_leaves_it_as_it_was(tmp_path: Path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"scenario": "demo", "files": {}}))
    with pytest.raises(RuntimeError) as caught, claim_run_folder(out, "demo") as claimed:
        (claimed.staging / "half.csv").write_text("half")
        raise RuntimeError("boom")
    assert caught.value.output_state == f"{out} was left as it was (no partial output)"
    assert os.listdir(out) == ["manifest.json"] and leftovers(out) == []
    with pytest.raises(OutputFolderError, match="holds a run of scenario 'demo', not 'other'"), claim_run_folder(
        out, "other"
    ):
        pass
