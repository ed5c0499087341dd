"""`sim sweep`: run an experiment's design, streaming every run to disk, resumable, on any executor.

The flow: check the experiment and list its runs (`plan.make_plan`), open the folder and keep the
runs already finished (`store.RunStore.open`), run the others on the chosen executor, store each as
it finishes, then (when all are ok) write the sensitivity indices and the manifest, last.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration.ensemble import band_note, manifest_entry
from sim.experiments.executors import (
    RUNS_PER_WORKER,
    STATUS_DIED,
    STATUS_OK,
    DaskExecutor,
    LocalExecutor,
    PartFolder,
    RunTask,
    TaskList,
    require,
)
from sim.experiments.plan import Plan, RunSpec, make_plan
from sim.experiments.store import INDEX_NAME, PARTS_DIR, RunStore, read_runs
from sim.outputs.atomic import atomic_write_bytes
from sim.outputs.folder import FOLDER_STATE, OutputWriteError, claim_resumable_folder, os_error_reason
from sim.outputs.manifest import MANIFEST_NAME, file_entry, manifest_bytes
from sim.outputs.tables import csv_bytes
from sim.scenario.limits import usable_workers
from sim.userfiles import read_user_bytes

Report = Callable[[str], None]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: what is finished is kept; running the same command again resumes."""

    def __init__(self, done: int, total: int, out_dir: Path):
        super().__init__(f"{done} of {total} runs done")
        self.done, self.total, self.out_dir = done, total, out_dir


@dataclass
class SweepResult:
    """A sweep's runs (one row each), for Sobol and Morris designs its sensitivity indices, and with
    levers their paired effects."""

    out_dir: Path
    plan: Plan
    runs: pd.DataFrame
    sensitivity: pd.DataFrame | None = None
    lever_effects: pd.DataFrame | None = None  # with two policies or more: each against the first, paired
    notes: list[str] = field(default_factory=list)
    ran: int = 0
    reused: int = 0
    wall_time_s: float = 0.0

    @property
    def complete(self) -> bool:
        return len(self.runs) == len(self.plan.runs) and bool((self.runs["status"] == STATUS_OK).all())

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != STATUS_OK]

    def timeseries(self, metric: str | None = None, group: str | None = None) -> pd.DataFrame:
        """The finished runs' tidy timeseries (from the Parquet parts), optionally one metric/group."""
        filters = [(k, "==", v) for k, v in (("metric", metric), ("group", group)) if v is not None]
        return pd.read_parquet(self.out_dir / PARTS_DIR, filters=filters or None)


def default_out(plan: Plan) -> Path:
    return Path("runs") / f"sweep-{plan.experiment.name}"


def _executor(workers: int, scheduler: object | None, runs_per_worker: int) -> LocalExecutor | DaskExecutor:
    if scheduler is not None:
        return DaskExecutor(scheduler)
    return LocalExecutor(workers, runs_per_worker)


def _fixed_cells(spec: RunSpec) -> dict[str, Any]:
    return {"run_id": spec.run_id, "design_point": spec.design_point, "policy": spec.policy, **spec.values,
            "replicate": spec.replicate, "seed": spec.seed}


def _write_inputs(plan: Plan, out_dir: Path) -> None:
    from sim.api import resolved_for_output

    atomic_write_bytes(out_dir / "experiment.yaml", read_user_bytes(plan.loaded.path))
    atomic_write_bytes(out_dir / "scenario.resolved.yaml", resolved_for_output(plan.prepared, out_dir).encode())
    design = pd.DataFrame(
        [{"design_point": p, "policy": q, **point, **policy}
         for p, point in enumerate(plan.sample.points) for q, policy in enumerate(plan.policies)],
        columns=["design_point", "policy", *plan.factor_names],
    )
    atomic_write_bytes(out_dir / "design.csv", csv_bytes(design))


def _manifest(plan: Plan, out_dir: Path, command_line: list[str], wall: float) -> None:
    from sim.outputs.manifest import build_manifest, scenario_hash
    from sim.scenario import resolved_yaml

    files = {}
    for path in sorted(out_dir.rglob("*")):
        relative = path.relative_to(out_dir).as_posix()
        skip = relative.startswith(f"{PARTS_DIR}/") or relative in (INDEX_NAME, FOLDER_STATE)  # change as it runs
        if path.is_file() and not path.name.startswith(".") and not skip:
            files[relative] = file_entry(path.read_bytes())
    manifest = build_manifest(
        scenario_name=plan.prepared.scenario.name,
        scenario_hash=scenario_hash(resolved_yaml(plan.prepared.scenario)),
        seeds=plan.seeds,
        replicates=plan.experiment.replicates,
        command_line=command_line,
        wall_time_s=wall,
        extra={
            "experiment": plan.experiment.name,
            "experiment_file": str(plan.loaded.path),
            "design": plan.experiment.design.kind,
            "design_points": len(plan.sample.points),
            "policies": len(plan.policies),
            "runs": len(plan.runs),
            "timeseries_parts": len(plan.runs),
            "bands": band_note(plan.ensemble),
            "uncertainty": manifest_entry(plan.ensemble, [
                {"replicate": r, "member": plan.ensemble.member_for(r).id} for r in range(len(plan.seeds))
            ] if plan.ensemble else []),
            "files": files,
        },
    )
    atomic_write_bytes(out_dir / MANIFEST_NAME, manifest_bytes(manifest))


def describe_plan(plan: Plan) -> str:
    e = plan.experiment
    factors = ", ".join(plan.factor_names) or "nothing"
    return (f"{e.name}: {e.design.kind} design, {len(plan.sample.points)} point(s) x {len(plan.policies)} "
            f"policy(ies) x {e.replicates} replicate(s) = {len(plan.runs)} runs; varies {factors}")


def sweep(
    experiment: str | os.PathLike[str] | Plan,
    *,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    scheduler: object | None = None,
    overrides: Iterable[str] = (),
    progress: bool = False,
    report: Report | None = None,
    runs_per_worker: int = RUNS_PER_WORKER,
    command_line: list[str] | None = None,
) -> SweepResult:
    """Run (or finish) an experiment. `scheduler`: a Dask address like tcp://host:8786, a Client or
    a LocalCluster; otherwise `workers` local processes. Re-running skips the finished runs."""
    say = report or (lambda _text: None)
    started = time.perf_counter()
    require("pyarrow", *(["SALib"] if not isinstance(experiment, Plan) else []))
    plan = experiment if isinstance(experiment, Plan) else make_plan(os.fspath(experiment), list(overrides))
    out_dir = Path(out) if out is not None else default_out(plan)
    from sim.api import input_files

    # Ours only when empty or a sweep of this experiment file: another's results are never removed.
    with claim_resumable_folder(out_dir, "sweep", plan.experiment.name, plan.loaded.path,
                                protected=input_files(plan.prepared)):
        return _sweep_into(plan, out_dir, workers, scheduler, progress, say, runs_per_worker, command_line, started)


@contextlib.contextmanager
def _writing(out_dir: Path, store: RunStore) -> Iterator[None]:
    """A failed write (disk full, I/O error) as one clear line: what is kept, and that running again resumes."""
    try:
        yield
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise OutputWriteError(
            f"cannot write the sweep's results to {out_dir}: {os_error_reason(error)}{where}; the "
            f"{len(store.finished())} finished run(s) stored so far are kept, none half-written; make room and "
            "run the same command again to resume"
        ) from None


def _sweep_into(plan: Plan, out_dir: Path, workers: int, scheduler: object | None, progress: bool, say: Report,
                runs_per_worker: int, command_line: list[str] | None, started: float) -> SweepResult:
    """The sweep in its claimed folder: keep what verifies, run the rest, write the manifest when all are ok."""
    store = RunStore(out_dir, plan.factor_names, list(plan.experiment.outcomes))
    fixed = {spec.run_id: _fixed_cells(spec) for spec in plan.runs}
    with _writing(out_dir, store):
        removed = store.open(fixed, dict(plan.experiment.outcomes))
        _write_inputs(plan, out_dir)
    done_before = store.finished()
    todo = [spec for spec in plan.runs if spec.run_id not in done_before]
    why = ""
    if scheduler is None and workers > 1:  # 150 workers on 2 cores: capped by CPUs and memory, and said so
        # Scenarios are built lazily (a plan of 200,000 runs holds none): size the workers on an even sample.
        sampled = todo[:: max(1, len(todo) // 64)]
        workers, why = usable_workers(workers, [spec.scenario for spec in sampled], plan.prepared.world)
    executor = _executor(workers, scheduler, runs_per_worker)
    say(describe_plan(plan))
    if why:
        say(why)
    for note in store.notes:
        say(note)
    if removed:
        say(f"removed {removed} stored result(s) of runs that are not in this design any more")
    say(f"{len(done_before)} run(s) already done, {len(todo)} to run on {executor.name}" if done_before
        else f"{len(todo)} runs to run on {executor.name}")
    specs = {spec.run_id: spec for spec in todo}
    parts = PartFolder.of(out_dir / PARTS_DIR)  # workers that see this folder store their parts there
    tasks = TaskList(len(todo), lambda i: RunTask(todo[i].run_id, todo[i].scenario, todo[i].replicate, todo[i].seed,
                                                  plan.experiment.outcomes, plan.prepared.world, parts))
    bar = _bar(len(todo), progress)
    problems = 0
    try:
        with contextlib.closing(executor.run(tasks)) as outputs:
            for output in outputs:
                with _writing(out_dir, store):
                    store.record(fixed[output.run_id], output)
                if output.status != STATUS_OK:
                    problems += 1
                    spec = specs[output.run_id]
                    where = f"run {output.run_id} (design point {spec.design_point}, policy {spec.policy}, " \
                            f"replicate {spec.replicate})"
                    verb = "lost" if output.status == STATUS_DIED else "failed"
                    say(f"{where} {verb}: {output.error}")
                    bar.set_postfix_str(f"{problems} not ok")
                bar.update(1)
    except KeyboardInterrupt:
        store.close()
        bar.close()
        raise SweepInterrupted(len(store.finished()), len(plan.runs), out_dir) from None
    finally:
        store.close()
        bar.close()
    with _writing(out_dir, store):
        store.finalize([spec.run_id for spec in plan.runs])
        runs = read_runs(store.runs_path)
        result = SweepResult(out_dir, plan, runs, ran=len(todo), reused=len(done_before))
        if result.complete:
            if plan.experiment.design.kind in ("sobol", "morris"):
                from sim.experiments.sensitivity import write_sensitivity

                result.sensitivity, result.notes = write_sensitivity(plan, runs, out_dir)
            if len(plan.policies) > 1:  # the levers' paired effects, in any design
                from sim.experiments.sensitivity import write_lever_effects

                result.lever_effects, lever_notes = write_lever_effects(plan, runs, out_dir)
                result.notes += lever_notes
            for note in result.notes:
                say(note)
            result.wall_time_s = time.perf_counter() - started
            _manifest(plan, out_dir, command_line or [sys.argv[0], *sys.argv[1:]], result.wall_time_s)
        else:
            result.wall_time_s = time.perf_counter() - started
    return result


class _NoBar:
    def update(self, _n: int) -> None: ...
    def set_postfix_str(self, _text: str) -> None: ...
    def close(self) -> None: ...


def _bar(total: int, show: bool) -> Any:
    if not show or total == 0:
        return _NoBar()
    import tqdm

    tqdm.tqdm.monitor_interval = 0  # no monitor thread
    return tqdm.tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
