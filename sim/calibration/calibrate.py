"""`sim calibrate`: history matching in waves, each wave run as an explicit sweep, resumable.

The flow: check the spec, its priors against the base scenario, and the targets (before any run);
then for each wave sample parameter sets (sim.calibration.history), write them as an explicit
experiment file (OUT/wave-K.experiment.yaml) and run it with `sim.experiments.sweep.sweep` into
OUT/wave-K/, so every run is stored as it finishes, keyed by a hash of its scenario and seed, on
local workers or a Dask cluster. Each parameter set's targets are then measured from its stored
time series with `sim.validation.measure` (what `sim check` uses) and its implausibility computed
(OUT/wave-K/implausibility.csv). Sampling is deterministic given the spec's seed and the previous
wave's results, so re-running the same command re-plans the same runs and runs only the missing
ones. The non-implausible sets of the last wave become the ensemble (OUT/ensemble.yaml, written
atomically, with its provenance).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from sim.calibration.history import combined, implausibility, latin_hypercube, refined_box
from sim.calibration.spec import LoadedSpec, load_spec, wave_rule
from sim.errors import InputError, Problem, show_value
from sim.experiments.plan import field_at, make_plan
from sim.experiments.sweep import SweepInterrupted, sweep
from sim.model.streams import replicate_seeds
from sim.outputs.atomic import atomic_write_text
from sim.outputs.folder import claim_resumable_folder
from sim.outputs.tables import csv_bytes
from sim.quarters import parse_quarter, quarter_label
from sim.scenario import Prepared, Scenario, prepare
from sim.scenario.errors import problems_from
from sim.scenario.load import _set_path
from sim.userfiles import read_user_bytes
from sim.validation import Check, CheckFile, load_targets, measure

Report = Callable[[str], None]
PLACEHOLDER_OUTCOME = {"open_share_final": {"metric": "adoption_share", "group": "openness=open",
                                            "reduce": "final", "meaning": "open share at the end (for a glance)"}}


class CalibrationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a calibration: finished runs are kept; the same command resumes."""

    def __init__(self, wave: int, stop: SweepInterrupted, out_dir: Path):
        super().__init__(f"wave {wave}: {stop.done} of {stop.total} runs done")
        self.wave, self.done, self.total, self.out_dir = wave, stop.done, stop.total, out_dir


@dataclass
class Wave:
    """One wave: its parameter sets, their implausibilities and which were accepted."""

    number: int
    table: pd.DataFrame  # one row per set: names, per-target implausibility, implausibility, accepted
    runs: int
    ran: int
    reused: int
    box: dict[str, list[float]]

    @property
    def accepted(self) -> pd.DataFrame:
        return self.table[self.table["accepted"]]


@dataclass
class CalibrationResult:
    """The waves run, the ensemble written (if any set was accepted) and the cost."""

    out_dir: Path
    waves: list[Wave] = field(default_factory=list)
    ensemble_path: Path | None = None
    members: int = 0
    wall_time_s: float = 0.0
    base_types: dict[str, bool] = field(default_factory=dict)  # path -> whether the parameter is an integer
    interrupted_ran: int = 0  # runs finished in a wave that Ctrl-C stopped
    predictions: pd.DataFrame | None = None  # held-out targets (with `calibrate_until`), per the last wave
    confirmation: pd.DataFrame | None = None  # the candidates re-run on fresh seeds (spec `confirm`)

    @property
    def runs(self) -> int:
        return sum(w.runs for w in self.waves)

    @property
    def ran(self) -> int:
        """Runs computed by this invocation (reused ones not counted)."""
        return sum(w.ran for w in self.waves) + self.interrupted_ran


def default_out(loaded: LoadedSpec) -> Path:
    until = loaded.spec.calibrate_until
    return Path("runs") / (f"calibrate-{loaded.spec.name}" + (f"-until-{until}" if until else ""))


def _base(loaded: LoadedSpec) -> Prepared:
    """The base scenario with the spec's `set:` applied (problems located at the spec's lines)."""
    keys = list(loaded.spec.fixed)
    texts = [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
             for key, value in loaded.spec.fixed.items()]
    try:
        return prepare(loaded.scenario_path, texts)
    except InputError as error:
        problems = []
        for p in error.problems:
            if p.file == "--set" and 1 <= p.line <= len(keys):
                file, line, column = loaded.locate(("set", keys[p.line - 1]))
                problems.append(Problem(file, line, column, f"set.{keys[p.line - 1]}", p.message))
            else:
                problems.append(p)
        raise InputError(problems) from None


def _check(loaded: LoadedSpec, prepared: Prepared, targets: CheckFile) -> dict[str, Any]:
    """Every prior's path and range ends against the base scenario, and the targets against its time.

    Returns path -> base value (what the ensemble file records as `base_values`)."""
    problems: list[Problem] = []
    base_values: dict[str, Any] = {}

    def add(where: tuple, message: str) -> None:
        file, line, column = loaded.locate(where)
        problems.append(Problem(file, line, column, ".".join(str(w) for w in where), message))

    for name, prior in loaded.spec.priors.items():
        value, problem = field_at(prepared.scenario, tuple(prior.path.split(".")))
        if problem:
            add(("priors", name, "path"), f"{prior.path!r}: {problem}")
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            add(("priors", name, "path"), f"{prior.path} holds {show_value(value)}, not a number")
            continue
        base_values[prior.path] = value
        for i, end in enumerate(prior.range):
            data = copy.deepcopy(prepared.loaded.data)
            _set_path(data, tuple(prior.path.split(".")), round(end) if isinstance(value, int) else end, 0)
            try:
                Scenario.model_validate(data)
            except ValidationError as error:
                found = problems_from(error, Scenario, data, lambda _p, _k: ("", 0, 0))
                add(("priors", name, "range", i), f"{end:g} cannot be used at {prior.path}: "
                    + "; ".join(p.message for p in found))
    time_ = prepared.scenario.time
    first, last = parse_quarter(time_.start), parse_quarter(time_.end)
    for i, check in enumerate(targets.checks):
        outside = [q for q in (*check.quarters, *check.ratio_to_quarters) if not first <= parse_quarter(q) <= last]
        if outside:
            problems.append(targets.problem(i, "quarters", f"{', '.join(outside)} is outside the calibration runs "
                                            f"({time_.start}-{time_.end}); widen time in the spec's set:"))
    if problems:
        raise InputError(problems)
    return base_values


def _sample(loaded: LoadedSpec, wave: int, box: tuple[np.ndarray, np.ndarray], integer: list[bool]) -> list[dict]:
    seed = int(np.random.SeedSequence([loaded.spec.seed, wave]).generate_state(1)[0])
    points = latin_hypercube(box[0], box[1], loaded.spec.samples, seed)
    names = list(loaded.spec.priors)
    return [{n: (round(float(v)) if integer[j] else float(v)) for j, (n, v) in enumerate(zip(names, row, strict=True))}
            for row in points]


def _experiment_text(loaded: LoadedSpec, wave: int, points: list[dict]) -> str:
    spec = loaded.spec
    experiment = {
        "schema_version": 1,
        "name": f"{spec.name}-wave-{wave}",
        "description": f"wave {wave} of the calibration {spec.name} (written by sim calibrate; do not edit)",
        "scenario": str(loaded.scenario_path),
        "set": dict(spec.fixed),
        "uncertainties": {name: {"path": p.path, "range": list(p.range)} for name, p in spec.priors.items()},
        "design": {"kind": "explicit", "points": points},
        "replicates": spec.replicates,
        "seed": spec.seed,
        "outcomes": PLACEHOLDER_OUTCOME,
    }
    return yaml.safe_dump(experiment, sort_keys=False)


def _series_by_point(targets: CheckFile, plan: Any, swept: Any) -> pd.DataFrame:
    """A sweep's stored time series of the targets' metrics, each row tagged with its design point."""
    series = swept.timeseries()
    series = series[series["metric"].isin({c.metric for c in targets.checks})]
    point_of = {rid: p for p, _q, _r, rid in plan.rows}
    return series.assign(design_point=series["run_id"].map(point_of))


def _measure_wave(loaded: LoadedSpec, targets: CheckFile, plan: Any, result: Any, points: list[dict],
                  wave: int) -> pd.DataFrame:
    series = _series_by_point(targets, plan, result)
    spec = loaded.spec
    matched = {c.id for c in matched_checks(loaded, targets)}
    rows = []
    for p, point in enumerate(points):
        own = series[series["design_point"] == p]
        values = {c.id: measure(own, c) for c in targets.checks}
        scores = {c.id: implausibility(c, values[c.id], spec.discrepancy, spec.band_sd) for c in targets.checks}
        worst = combined([v for k, v in scores.items() if k in matched], wave_rule(spec, wave))
        means = {f"value_{k}": float(np.mean(v)) if len(v) else float("nan") for k, v in values.items()}
        rows.append({"design_point": p, **point, **{f"I_{k}": v for k, v in scores.items()}, **means,
                     "implausibility": worst, "accepted": bool(worst <= spec.cutoff)})
    return pd.DataFrame(rows)


def matched_checks(loaded: LoadedSpec, targets: CheckFile) -> list[Check]:
    """The targets the calibration matches: all, or with `calibrate_until` those whose quarters all end
    by it (the others are held out and reported as predictions)."""
    until = loaded.spec.calibrate_until
    if until is None:
        return list(targets.checks)
    last = parse_quarter(until)
    return [c for c in targets.checks
            if max(parse_quarter(q) for q in (*c.quarters, *c.ratio_to_quarters)) <= last]


def predictions(loaded: LoadedSpec, targets: CheckFile, wave: Wave) -> pd.DataFrame:
    """The held-out targets as the accepted sets of a wave predict them: the median over sets of each
    set's mean, its 10-90% spread over sets, the share of sets inside the accept band, and whether the
    median is inside (as `sim check` judges a target)."""
    matched = {c.id for c in matched_checks(loaded, targets)}
    rows = []
    for check in targets.checks:
        if check.id in matched:
            continue
        values = wave.accepted[f"value_{check.id}"].to_numpy(dtype=float)
        low, high = check.accept
        median = float(np.median(values)) if len(values) else float("nan")
        rows.append({"target": check.id, "observed": check.observed, "accept_low": low, "accept_high": high,
                     "sets": len(values), "median": median,
                     "p10": float(np.quantile(values, 0.1)) if len(values) else float("nan"),
                     "p90": float(np.quantile(values, 0.9)) if len(values) else float("nan"),
                     "share_of_sets_inside": float(np.mean((values >= low) & (values <= high))) if len(values)
                     else float("nan"),
                     "holds": bool(low <= median <= high)})
    return pd.DataFrame(rows)


def _shown(path: Path) -> str:
    """A path relative to the current folder when below it (the repository), else as it is."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _digest(path: Path) -> str:
    return hashlib.sha256(read_user_bytes(path)).hexdigest()


def calibrate(
    spec_path: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    workers: int = 1,
    scheduler: object | None = None,
    progress: bool = False,
    report: Report | None = None,
    command_line: list[str] | None = None,
    until: str | None = None,
) -> CalibrationResult:
    """Run (or resume) a calibration spec; write OUT/ensemble.yaml when a set survives the last wave.

    `until` (a quarter) overrides the spec's `calibrate_until`: the out-of-sample test."""
    say = report or (lambda _text: None)
    started = time.perf_counter()
    started_utc = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    loaded = load_spec(spec_path)
    if until is not None:
        try:
            quarter = quarter_label(parse_quarter(until))
        except ValueError as error:
            raise InputError.single("--until", f"{until!r} is not a quarter like 2024Q4 ({error})") from None
        loaded = replace(loaded, spec=loaded.spec.model_copy(update={"calibrate_until": quarter}))
    targets = load_targets(loaded.targets_path)
    prepared = _base(loaded)
    base_values = _check(loaded, prepared, targets)
    out_dir = Path(out) if out is not None else default_out(loaded)
    from sim.api import input_files

    # Ours only when empty or a calibration of this spec file: another's waves are never mixed in or removed.
    with claim_resumable_folder(out_dir, "calibration", loaded.spec.name, loaded.path,
                                protected=[loaded.path, Path(targets.path), *input_files(prepared)]):
        return _calibrate_into(loaded, targets, prepared, base_values, out_dir, workers, scheduler, progress, say,
                               command_line, started, started_utc)


def _calibrate_into(loaded: LoadedSpec, targets: CheckFile, prepared: Prepared, base_values: dict[str, Any],
                    out_dir: Path, workers: int, scheduler: object | None, progress: bool, say: Report,
                    command_line: list[str] | None, started: float, started_utc: str) -> CalibrationResult:
    """The waves in the claimed folder, then the ensemble file when a set survives the last wave."""
    result = CalibrationResult(out_dir, base_types={k: isinstance(v, int) for k, v in base_values.items()})
    try:
        _waves(loaded, targets, out_dir, workers, scheduler, progress, say, command_line, result)
    finally:  # the cost of every invocation, interrupted or not, adds up to the calibration's cost
        result.wall_time_s = time.perf_counter() - started
        _log_invocation(out_dir, result, command_line, started_utc)
    last = result.waves[-1]
    if loaded.spec.confirm is not None and len(last.accepted):
        try:
            result.confirmation = _confirm(loaded, targets, out_dir, last, workers, scheduler, progress, say,
                                           command_line)
        except SweepInterrupted as stop:
            raise CalibrationInterrupted(len(result.waves) + 1, stop, out_dir) from None
    if loaded.spec.calibrate_until is not None:
        result.predictions = predictions(loaded, targets, last)
        atomic_write_text(out_dir / "predictions.csv", csv_bytes(result.predictions).decode("utf-8"))
    ensemble = out_dir / "ensemble.yaml"
    if len(last.accepted):
        cores = f"{workers} local worker(s) on {os.cpu_count()} cores"
        where = f"Dask scheduler {scheduler}" if scheduler is not None else cores
        text = _ensemble_text(loaded, targets, base_values, result, command_line, where)
        atomic_write_text(ensemble, text)
        result.ensemble_path, result.members = ensemble, len(last.accepted)
    elif ensemble.exists():
        ensemble.unlink()  # an ensemble from an earlier spec must not pass for this one's
    return result


def _confirm(loaded: LoadedSpec, targets: CheckFile, out_dir: Path, last: Wave, workers: int,
             scheduler: object | None, progress: bool, say: Report, command_line: list[str] | None) -> pd.DataFrame:
    """Re-run the least implausible accepted sets with more replicates on other seeds (spec `confirm`);
    rank them as `sim check` judges a scenario: most matched targets whose median over replicates lies in
    the accept band, then the lowest implausibility. Written to OUT/confirm/confirmation.csv."""
    spec = loaded.spec
    assert spec.confirm is not None
    names = list(spec.priors)
    ranked = last.accepted.sort_values(["implausibility", "design_point"]).head(spec.confirm.candidates)
    points = [{n: row[n] for n in names} for row in ranked.to_dict("records")]
    ids = [f"w{last.number}-s{int(p):03d}" for p in ranked["design_point"]]
    confirm_spec = spec.model_copy(update={"replicates": spec.confirm.replicates, "seed": spec.confirm.seed})
    text = _experiment_text(replace(loaded, spec=confirm_spec), 0, points).replace(
        f"{spec.name}-wave-0", f"{spec.name}-confirm", 1)
    experiment = out_dir / "confirm.experiment.yaml"
    atomic_write_text(experiment, text)
    plan = make_plan(str(experiment), check_outcomes=False)
    say(f"confirming the best {len(points)} set(s) with {spec.confirm.replicates} replicates on seed "
        f"{spec.confirm.seed}")
    swept = sweep(plan, out=out_dir / "confirm", workers=workers, scheduler=scheduler, progress=progress,
                  report=say, command_line=command_line)
    if not swept.complete:
        raise RuntimeError(f"confirmation: {len(swept.failed)} run(s) did not finish (see {swept.out_dir}/runs.csv); "
                           "run the same command again to retry them")
    matched = matched_checks(loaded, targets)
    series = _series_by_point(targets, plan, swept)
    rows = []
    for p, member in enumerate(ids):
        own = series[series["design_point"] == p]
        held, scores = 0, []
        for check in matched:
            values = measure(own, check)
            scores.append(implausibility(check, values, spec.discrepancy, spec.band_sd))
            median = float(np.median(values)) if len(values) else float("nan")
            held += int(check.accept[0] <= median <= check.accept[1])
        rows.append({"member": member, "wave_implausibility": float(ranked["implausibility"].iloc[p]),
                     "targets_held": held, "targets": len(matched),
                     "implausibility": combined(scores, "max")})
    table = pd.DataFrame(rows).sort_values(["targets_held", "implausibility", "member"],
                                           ascending=[False, True, True]).reset_index(drop=True)
    atomic_write_text(out_dir / "confirm" / "confirmation.csv", csv_bytes(table).decode("utf-8"))
    best = table.iloc[0]
    say(f"best member {best['member']}: {int(best['targets_held'])} of {int(best['targets'])} targets held by the "
        f"median of {spec.confirm.replicates} replicates, implausibility {best['implausibility']:.2f}")
    return table


INVOCATIONS = "invocations.json"


def _log_invocation(out_dir: Path, result: CalibrationResult, command_line: list[str] | None, started: str) -> None:
    path = out_dir / INVOCATIONS
    log = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    log.append({"started_utc": started,
                "command": " ".join(command_line or [sys.argv[0], *sys.argv[1:]]),
                "runs_computed": result.ran, "wall_time_s": round(result.wall_time_s, 1),
                "completed_waves": len(result.waves)})
    atomic_write_text(path, json.dumps(log, indent=1) + "\n")


def _waves(loaded: LoadedSpec, targets: CheckFile, out_dir: Path, workers: int, scheduler: object | None,
           progress: bool, say: Report, command_line: list[str] | None, result: CalibrationResult) -> None:
    """Run the waves into `result` (a wave is added once all its runs are done and measured)."""
    names = list(loaded.spec.priors)
    lows = np.array([loaded.spec.priors[n].range[0] for n in names])
    highs = np.array([loaded.spec.priors[n].range[1] for n in names])
    integer = [result.base_types[loaded.spec.priors[n].path] for n in names]
    box: tuple[np.ndarray, np.ndarray] | None = (lows, highs)
    for wave in range(1, loaded.spec.waves + 1):
        if box is None:
            say(f"wave {wave - 1} left fewer than two non-implausible sets: no box to refine, stopping")
            break
        points = _sample(loaded, wave, box, integer)
        experiment = out_dir / f"wave-{wave}.experiment.yaml"
        atomic_write_text(experiment, _experiment_text(loaded, wave, points))
        plan = make_plan(str(experiment), check_outcomes=False)
        say(f"wave {wave}: {len(points)} parameter sets x {loaded.spec.replicates} replicate(s)")
        stored = out_dir / f"wave-{wave}" / "timeseries"
        before = len(list(stored.glob("*.parquet"))) if stored.is_dir() else 0
        try:
            swept = sweep(plan, out=out_dir / f"wave-{wave}", workers=workers, scheduler=scheduler,
                          progress=progress, report=say, command_line=command_line)
        except SweepInterrupted as stop:
            result.interrupted_ran = max(0, stop.done - before)  # the stopped wave's new runs count in the cost
            raise CalibrationInterrupted(wave, stop, out_dir) from None
        if not swept.complete:
            raise RuntimeError(f"wave {wave}: {len(swept.failed)} run(s) did not finish (see "
                               f"{swept.out_dir}/runs.csv); run the same command again to retry them")
        table = _measure_wave(loaded, targets, plan, swept, points, wave)
        atomic_write_text(out_dir / f"wave-{wave}" / "implausibility.csv", csv_bytes(table).decode("utf-8"))
        shown = {n: [float(box[0][j]), float(box[1][j])] for j, n in enumerate(names)}
        done = Wave(wave, table, len(plan.runs), swept.ran, swept.reused, shown)
        result.waves.append(done)
        say(f"wave {wave}: {int(table['accepted'].sum())} of {len(table)} sets non-implausible "
            f"(cut-off {loaded.spec.cutoff:g}, {wave_rule(loaded.spec, wave)})")
        accepted = done.accepted[names].to_numpy(dtype=float)
        box = refined_box(accepted, lows, highs)


def _rules_text(spec: Any, waves: int) -> str:
    names = {"max": "largest", "second_max": "second largest"}
    rules = [names[wave_rule(spec, w)] for w in range(1, waves + 1)]
    if len(set(rules)) == 1:
        return f"the {rules[0]}"
    return "the " + ", ".join(f"{r} (wave {w})" for w, r in enumerate(rules, start=1))


def _ensemble_text(loaded: LoadedSpec, targets: CheckFile, base_values: dict[str, Any],
                   result: CalibrationResult, command_line: list[str] | None, workers_text: str) -> str:
    from sim.outputs.manifest import git_state, package_version

    spec = loaded.spec
    names = list(spec.priors)
    last = result.waves[-1]
    members = []
    for row in last.accepted.to_dict("records"):
        values = {spec.priors[n].path: row[n] for n in names}
        typed = {k: (int(v) if isinstance(base_values[k], int) else float(v)) for k, v in values.items()}
        members.append({"id": f"w{last.number}-s{int(row['design_point']):03d}", "values": typed,
                        "implausibility": round(float(row["implausibility"]), 4)})
    best = min(members, key=lambda m: (m["implausibility"], m["id"]))
    if result.confirmation is not None:  # chosen on fresh seeds among the least implausible
        best = next(m for m in members if m["id"] == result.confirmation["member"].iloc[0])
    targets_path = Path(targets.path)
    log_path = result.out_dir / INVOCATIONS
    invocations = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else []
    provenance = {
        "method": f"history matching, {len(result.waves)} wave(s), implausibility cut-off {spec.cutoff:g} on "
                  f"{_rules_text(spec, len(result.waves))} over targets, accept bands read as "
                  f"{spec.band_sd:g} sd, model discrepancy {spec.discrepancy:g} x observational sd, no emulator "
                  "(docs/calibration_method.md)",
        "matched_targets": [c.id for c in matched_checks(loaded, targets)],
        "best_member_choice": (
            "lowest implausibility in the last wave" if result.confirmation is None or spec.confirm is None else
            f"of the {len(result.confirmation)} least implausible sets re-run with {spec.confirm.replicates} "
            f"replicates on seed {spec.confirm.seed}, the one whose median held most matched targets, then the "
            "lowest implausibility"),
        "confirmation": None if result.confirmation is None else result.confirmation.to_dict("records"),
        "calibrate_until": spec.calibrate_until,
        "spec_file": _shown(loaded.path),
        "spec_sha256": _digest(loaded.path),
        "targets_file": _shown(targets_path),
        "targets_sha256": _digest(targets_path),
        "targets": [c.id for c in targets.checks],
        "scenario_file": _shown(loaded.scenario_path),
        "set": dict(spec.fixed),
        "priors": {n: {"path": p.path, "range": list(p.range), "source": p.source} for n, p in spec.priors.items()},
        "seed": spec.seed,
        "replicate_seeds": replicate_seeds(spec.seed, spec.replicates),
        "samples_per_wave": spec.samples,
        "replicates_per_sample": spec.replicates,
        "waves": [{"wave": w.number, "samples": len(w.table), "runs": w.runs,
                   "accepted": int(w.table["accepted"].sum()), "sampled_box": w.box} for w in result.waves],
        "runs": result.runs,
        "cost": {"runs_computed": sum(i["runs_computed"] for i in invocations),
                 "wall_time_s": round(sum(i["wall_time_s"] for i in invocations), 1),
                 "workers": workers_text, "invocations": invocations},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "command": " ".join(command_line or [sys.argv[0], *sys.argv[1:]]),
        "package_version": package_version(),
        "git_commit": git_state()["commit"],
    }
    document = {
        "schema_version": 1,
        "name": spec.name,
        "description": spec.description or f"calibrated ensemble of {spec.scenario}",
        "scenario": spec.scenario,
        "base_values": base_values,
        "best_member": best["id"],
        "members": members,
        "provenance": provenance,
    }
    header = ("# A calibrated parameter ensemble written by `sim calibrate` (docs/calibration_method.md).\n"
              "# Do not edit by hand: re-run the calibration.\n")
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
