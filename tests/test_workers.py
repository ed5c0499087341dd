"""The one worker pool (`sim.workers`) behind replicates and sweeps: a dead worker is named with its
job, workers are recycled after N jobs, results come in job order whatever the worker count, workers
ignore Ctrl-C, and a script without a main guard can start workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.experiments.executors import STATUS_DIED, STATUS_OK, LocalExecutor, RunTask
from sim.workers import JobError, WorkerDiedError, run_jobs

ROOT = Path(__file__).resolve().parents[1]


# Jobs run in worker processes, which import this module by name to find them.
def pid_of_worker(_job: int) -> int:
    return os.getpid()


def slower_first(job: int) -> int:
    time.sleep(0.05 * (4 - job) if job < 4 else 0)  # early jobs finish last
    return job * job


def killed_at_two(job: int) -> int:
    if job == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
    time.sleep(0.05)
    return job


def raises_at_one(job: int) -> int:
    if job == 1:
        raise ValueError("bad job")
    return job


def sigint_handler(_job: int) -> bool:
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_results_come_in_job_order_whatever_the_worker_count():
    one = [f.result for f in run_jobs(slower_first, range(8), 1)]
    two = [f.result for f in run_jobs(slower_first, range(8), 2)]
    assert one == two == [j * j for j in range(8)]


def test_workers_are_recycled_after_n_jobs():
    pids = [f.result for f in run_jobs(pid_of_worker, range(6), 1, jobs_per_worker=2)]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[4] == pids[5]
    assert len(set(pids)) == 3  # a fresh process every 2 jobs
    assert os.getpid() not in pids


def test_dead_worker_is_named_with_its_job_and_the_others_go_on():
    finished = list(run_jobs(killed_at_two, range(5), 2, keep_going=True))
    assert [f.index for f in finished] == [0, 1, 2, 3, 4]
    error = finished[2].error
    assert isinstance(error, WorkerDiedError) and error.index == 2 and error.exitcode == -signal.SIGKILL
    assert error.pid == finished[2].pid and "was killed by SIGKILL" in str(error)
    assert [f.result for f in finished if f.error is None] == [0, 1, 3, 4]


def test_dead_worker_stops_the_pool_when_every_job_is_needed():
    with pytest.raises(WorkerDiedError) as caught:
        list(run_jobs(killed_at_two, range(5), 2))
    assert caught.value.index == 2 and caught.value.exitcode == -signal.SIGKILL


def test_a_job_that_raises_is_named_with_its_traceback():
    with pytest.raises(JobError) as caught:
        list(run_jobs(raises_at_one, range(3), 2))
    assert caught.value.index == 1 and str(caught.value) == "ValueError: bad job"
    assert "raises_at_one" in caught.value.traceback_text


def test_workers_ignore_ctrl_c():
    assert all(f.result for f in run_jobs(sigint_handler, range(2), 2))


def test_local_executor_reports_a_dead_worker_as_that_runs_row(monkeypatch: pytest.MonkeyPatch):
    import sim.experiments.executors as executors

    monkeypatch.setattr(executors, "execute", killed_run)  # pickled by name: the workers run killed_run
    tasks = [RunTask(f"r{i}", None, i, i, {}) for i in range(4)]  # type: ignore[arg-type]
    outputs = list(LocalExecutor(2, runs_per_worker=2).run(tasks))
    assert [o.run_id for o in outputs] == ["r0", "r1", "r2", "r3"]
    assert [o.status for o in outputs] == [STATUS_OK, STATUS_DIED, STATUS_OK, STATUS_OK]
    assert outputs[1].error.endswith("was killed by SIGKILL (the system's out-of-memory killer sends SIGKILL) "
                                     "while running this run")
    assert outputs[1].error.startswith(f"worker process {outputs[1].worker.removeprefix('pid ')} ")


def killed_run(task: RunTask) -> object:
    from sim.experiments.executors import RunOutput

    if task.run_id == "r1":
        os.kill(os.getpid(), signal.SIGKILL)
    return RunOutput(task.run_id, STATUS_OK, worker=f"pid {os.getpid()}")


def test_a_script_without_a_main_guard_can_run_replicates_in_workers(tmp_path: Path):
    script = tmp_path / "no_guard.py"
    script.write_text(
        "import sim\n"
        f"result = sim.run({str(ROOT / 'scenarios' / 'baseline.yaml')!r}, replicates=2, workers=2,\n"
        "                 overrides=['population.firms=200', 'time.end=2023Q4'])\n"
        "print(sorted(result.timeseries['replicate'].unique().tolist()))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1]"
