"""From an experiment file to the list of runs: checked paths, design points, policies, seeds, run ids.

Everything is checked before the first run starts: each factor's path against the base scenario
(with "did you mean"), each range end and choice by validating the scenario it would give, the
explicit points, and each outcome's metric, group and quarters. Problems point at the line of the
experiment file that causes them.

Runs: replicate r of every design point and policy uses `replicate_seeds(seed, replicates)[r]`
(common random numbers across points). A run's id hashes its resolved scenario, the world data
and its seed, so the same run has the same id in every sweep: that is what resume keys on.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.calibration.ensemble import Ensemble, applied_values, member_scenario, override_paths, resolve
from sim.errors import InputError, Problem, did_you_mean, dotted, show_value
from sim.experiments.design import FactorSpec, Sample, design_size, policies, sample
from sim.experiments.executors import require
from sim.experiments.schema import Experiment, Factor, LoadedExperiment, load_experiment
from sim.model.streams import replicate_seeds
from sim.quarters import parse_quarter
from sim.scenario import Prepared, Scenario, prepare, resolved_yaml
from sim.scenario.errors import problems_from
from sim.scenario.limits import check_scenario_size
from sim.scenario.load import LoadedScenario, _set_path, list_index  # the machinery behind --set
from sim.scenario.preparation import check_references
from sim.userfiles import read_user_bytes

MAX_RUNS = 200_000  # beyond this a typo in `samples` is likelier than intent
PROBE_FIRMS = 200  # firms in the probe run that lists the metrics and groups outcomes may name
FIXED_ROOTS = {
    "schema_version": "the format version",
    "name": "the scenario name",
    "extends": "the inheritance chain",
    "seed": "the seed (the experiment's seed and replicates decide every run's seed)",
    "world": "the world data files",
    "uncertainties": "the scenario's uncertainty declarations (vary their paths instead)",
    "description": "the description",
}


@dataclass(frozen=True)
class RunSpec:
    """One simulation to run: a scenario and a seed, and where it sits in the design."""

    run_id: str
    design_point: int
    policy: int
    values: dict[str, Any]
    replicate: int
    seed: int
    scenario: Scenario


@dataclass
class Plan:
    """A checked experiment and every run it needs, in design order."""

    loaded: LoadedExperiment
    prepared: Prepared
    uncertainties: list[FactorSpec]
    levers: list[FactorSpec]
    sample: Sample
    policies: list[dict[str, Any]]
    seeds: list[int]
    runs: list[RunSpec]  # unique run ids, in order of first appearance
    rows: list[tuple[int, int, int, str]] = field(default_factory=list)  # every (point, policy, replicate, id)
    world_digest: str = ""
    ensemble: Ensemble | None = None  # --uncertainty ensemble: replicate r takes member r mod N at every point
    overrides: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> Experiment:
        return self.loaded.experiment

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in (*self.uncertainties, *self.levers)]


def _scenario_overrides(loaded: LoadedExperiment, extra: Iterable[str]) -> tuple[list[str], int]:
    fixed = [f"{key}={json.dumps(value)}" for key, value in loaded.experiment.fixed.items()]
    return [*fixed, *extra], len(fixed)


def prepare_base(loaded: LoadedExperiment, overrides: Iterable[str] = ()) -> Prepared:
    """The base scenario with the experiment's `set:` and then the command line's `--set` applied."""
    texts, count = _scenario_overrides(loaded, overrides)
    try:
        return prepare(loaded.scenario_path, texts)
    except InputError as error:
        keys = list(loaded.experiment.fixed)
        problems = []
        for p in error.problems:
            if p.file == "--set" and 1 <= p.line <= count:  # from the experiment's `set:`: point there
                file, line, column = loaded.locate(("set", keys[p.line - 1]))
                problems.append(Problem(file, line, column, f"set.{keys[p.line - 1]}", p.message))
            elif p.file == "--set":
                problems.append(Problem(p.file, p.line - count, p.column, p.path, p.message))
            else:
                problems.append(p)
        raise InputError(problems) from None


def field_at(scenario: Scenario, parts: tuple[str, ...]) -> tuple[Any, str | None]:
    """The base scenario's value at a dotted path, or a message saying what is wrong with the path."""
    current: Any = scenario
    for i, part in enumerate(parts):
        where = dotted(parts[:i]) or "the scenario"
        if isinstance(current, BaseModel):
            fields = type(current).model_fields
            names = {(f.alias or n): n for n, f in fields.items()} | {n: n for n in fields}
            if part not in names:
                shown = [f.alias or n for n, f in fields.items()]
                hint = did_you_mean(part, shown)
                return None, f"{where} has no field {part!r}{hint}{'' if hint else '; fields: ' + ', '.join(shown)}"
            current = getattr(current, names[part])
        elif isinstance(current, dict):
            if part not in current:
                what = "rule" if parts[:i] == ("rules",) else "entry"
                hint = did_you_mean(part, list(current))
                listing = "" if hint else f"; {what} ids: {', '.join(current) or 'none'}"
                return None, f"{where} has no {what} {part!r}{hint}{listing}"
            current = current[part]
        elif isinstance(current, list | tuple) and list_index(part, len(current)) is not None:
            current = current[int(part)]
        else:
            return None, f"{where} is a single value ({show_value(current)}); it has no {part!r} inside"
    if isinstance(current, BaseModel | dict):
        return None, f"{dotted(parts)} is a whole section; name one value inside it"
    return current, None


class _Checker:
    """Collects problems located in the experiment file."""

    def __init__(self, loaded: LoadedExperiment, prepared: Prepared):
        self.loaded, self.prepared = loaded, prepared
        self.problems: list[Problem] = []

    def add(self, where: tuple, message: str, at_key: bool = False) -> None:
        file, line, column = self.loaded.locate(where, at_key)
        self.problems.append(Problem(file, line, column, dotted(where), message))

    def trial(self, parts: tuple[str, ...], value: Any) -> str | None:
        """Why the base scenario with `value` at `parts` is invalid, or None."""
        data = copy.deepcopy(self.prepared.loaded.data)
        _set_path(data, parts, value, 0)
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as error:
            found = problems_from(error, Scenario, data, lambda _p, _k: ("", 0, 0))
            return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in found)
        loaded = self.prepared.loaded
        try:
            trial = LoadedScenario(scenario, loaded.path, loaded.files, data, loaded.sources)
            check_references(trial, self.prepared.world)
            check_scenario_size(trial, self.prepared.world)  # a range end of 1e15 firms: here, not at run time
        except InputError as error:
            return "; ".join(p.message for p in error.problems)
        return None

    def factor(self, section: str, name: str, factor: Factor, sampled: bool) -> FactorSpec | None:
        scenario = self.prepared.scenario
        declared = scenario.uncertainties.get(name) if section == "uncertainties" else None
        path_text = factor.path or (declared.path if declared else None)
        if path_text is None:
            hint = did_you_mean(name, list(scenario.uncertainties)) if section == "uncertainties" else ""
            self.add((section, name), f"needs a path (the base scenario declares no uncertainty {name!r}{hint})",
                     at_key=True)
            return None
        parts = tuple(path_text.split("."))
        where_path = (section, name, "path") if factor.path else (section, name)
        if parts[0] in FIXED_ROOTS:
            self.add(where_path, f"{path_text!r}: {FIXED_ROOTS[parts[0]]} cannot be varied in an experiment")
            return None
        base_value, problem = field_at(scenario, parts)
        if problem:
            self.add(where_path, f"{path_text!r}: {problem}")
            return None
        low_high = factor.range or (declared.range if declared and factor.choices is None else None)
        needs_values = section == "levers" or sampled
        if low_high is None and factor.choices is None and needs_values:
            self.add((section, name), "needs a range [low, high] or a list of choices", at_key=True)
            return None
        integer = isinstance(base_value, int) and not isinstance(base_value, bool)
        if low_high is not None and (not isinstance(base_value, int | float) or isinstance(base_value, bool)):
            self.add((section, name, "range"), f"{path_text} holds {show_value(base_value)}, not a number; "
                     "give choices instead")
            return None
        ok = True
        ends = [(round(v) if integer else v) for v in low_high] if low_high else []
        for i, value in enumerate(ends if factor.range else []):
            if (reason := self.trial(parts, value)) is not None:
                ok = False
                self.add((section, name, "range", i), f"{show_value(value)} cannot be used at {path_text}: {reason}")
        for i, choice in enumerate(factor.choices or []):
            if (reason := self.trial(parts, choice)) is not None:
                ok = False
                self.add((section, name, "choices", i), f"{show_value(choice)} cannot be used at {path_text}: {reason}")
        if low_high and sampled and low_high[0] == low_high[1]:
            self.add((section, name, "range"), "the range has zero width; fix a value with `set:` instead")
            ok = False
        if not ok:
            return None
        return FactorSpec(
            name, parts,
            low=float(low_high[0]) if low_high else None, high=float(low_high[1]) if low_high else None,
            choices=tuple(factor.choices) if factor.choices is not None else None,
            levels=factor.levels, integer=integer, base_value=base_value, where=(section, name),
        )

    def points(self, experiment: Experiment, factors: list[FactorSpec]) -> None:
        by_name = {f.name: f for f in factors}
        for i, point in enumerate(experiment.design.points or []):
            for key, value in point.items():
                where = ("design", "points", i, key)
                spec = by_name.get(key)
                if key in experiment.levers:
                    self.add(where, f"{key!r} is a lever: every point is run with every lever value; leave it out",
                             at_key=True)
                elif spec is None:
                    hint = did_you_mean(key, list(by_name))
                    self.add(where, f"unknown uncertainty {key!r}{hint}; uncertainties: {', '.join(by_name) or 'none'}",
                             at_key=True)
                elif spec.choices is not None and value not in spec.choices:
                    self.add(where, f"{show_value(value)} is not one of its choices {list(spec.choices)}")
                elif spec.low is not None and spec.high is not None and not (  # a range
                    isinstance(value, int | float) and not isinstance(value, bool) and spec.low <= value <= spec.high
                ):
                    self.add(where, f"{show_value(value)} is outside its range [{spec.low:g}, {spec.high:g}]")
                elif (reason := self.trial(spec.path, value)) is not None:
                    self.add(where, f"{show_value(value)} cannot be used at {dotted(spec.path)}: {reason}")

    def outcomes(self, experiment: Experiment, known: dict[str, set[str]]) -> None:
        time = self.prepared.scenario.time
        first, last = parse_quarter(time.start), parse_quarter(time.end)
        for name, outcome in experiment.outcomes.items():
            if outcome.metric not in known:
                self.add(("outcomes", name, "metric"), f"unknown metric {outcome.metric!r}"
                         f"{did_you_mean(outcome.metric, list(known))}; metrics: {', '.join(sorted(known))}")
            elif outcome.group not in known[outcome.metric]:
                groups = sorted(known[outcome.metric])
                hint = did_you_mean(outcome.group, groups)
                listing = "" if hint or len(groups) > 12 else f"; groups of {outcome.metric}: {', '.join(groups)}"
                self.add(("outcomes", name, "group"), f"{outcome.metric} has no group {outcome.group!r}{hint}{listing}")
            quarters: list[tuple[tuple[str | int, ...], str | None]] = [(("at",), outcome.at)]
            quarters += [(("window", i), quarter) for i, quarter in enumerate(outcome.window or ())]
            for key, value in quarters:
                if value is not None and not first <= parse_quarter(value) <= last:
                    self.add(("outcomes", name, *key), f"{value} is outside the run ({time.start}-{time.end})")


def _probe_series(prepared: Prepared) -> dict[str, set[str]]:
    """Metric -> groups written by a small run of the base scenario (what outcomes may name)."""
    from sim.runner import run_replicate

    scenario = prepared.scenario
    small = scenario.model_copy(update={"population": scenario.population.model_copy(
        update={"firms": min(scenario.population.firms, PROBE_FIRMS)})})
    frame = run_replicate(small, prepared.world, 0, scenario.seed).timeseries
    known: dict[str, set[str]] = {}
    for metric, group in zip(frame["metric"], frame["group"], strict=True):
        known.setdefault(str(metric), set()).add(str(group))
    return known


def world_digest(prepared: Prepared) -> str:
    digest = hashlib.sha256()
    for which in ("countries", "families"):
        digest.update(read_user_bytes(prepared.loaded.world_path(which)))
    return digest.hexdigest()


def run_id(resolved: str, digest: str, seed: int) -> str:
    """The id of a run: a hash of what determines its result (resolved scenario, world data, seed)."""
    return hashlib.sha256(f"{resolved}\n{digest}\n{seed}".encode()).hexdigest()[:16]


def make_plan(
    path: str,
    overrides: Iterable[str] = (),
    *,
    check_outcomes: bool = True,
    uncertainty: str | None = "seeds",
    ensemble: str | Ensemble | None = None,
) -> Plan:
    """Check an experiment file and list its runs; InputError lists every problem at its line.

    `uncertainty="ensemble"`: replicate r at every point and policy also takes member r mod N of the
    ensemble (default the shipped one), except on paths the experiment varies or sets itself; None
    means the default of `sim sweep` (sim.calibration.ensemble)."""
    drawn = resolve(uncertainty, ensemble)
    overrides = list(overrides)
    loaded = load_experiment(path)
    experiment = loaded.experiment
    if experiment.design.kind in ("latin_hypercube", "sobol", "morris"):
        require("SALib")
    prepared = prepare_base(loaded, overrides)
    checker = _Checker(loaded, prepared)
    sampled = experiment.design.kind != "explicit"
    specs = {
        section: [checker.factor(section, n, f, sampled) for n, f in getattr(experiment, section).items()]
        for section in ("uncertainties", "levers")
    }
    if experiment.design.kind in ("latin_hypercube", "sobol", "morris") and not experiment.uncertainties:
        checker.add(("design", "kind"), f"a {experiment.design.kind} design samples the uncertainties; declare some")
    if checker.problems or None in specs["uncertainties"] + specs["levers"]:
        raise InputError(checker.problems)
    # The check above left no None; the comprehensions only narrow the type for the checker.
    uncertainties = [spec for spec in specs["uncertainties"] if spec is not None]
    levers = [spec for spec in specs["levers"] if spec is not None]
    checker.points(experiment, uncertainties)
    if check_outcomes:
        checker.outcomes(experiment, _probe_series(prepared))
    total = design_size(experiment.design, uncertainties) * len(policies(levers)) * experiment.replicates
    if total > MAX_RUNS:
        checker.add(("design",), f"{total:,} runs is more than {MAX_RUNS:,}; use fewer samples, levels or replicates")
    if checker.problems:
        raise InputError(checker.problems)
    seed = prepared.scenario.seed if experiment.seed is None else experiment.seed
    plan = Plan(loaded, prepared, uncertainties, levers, sample(experiment.design, uncertainties, seed),
                policies(levers), replicate_seeds(seed, experiment.replicates), [], world_digest=world_digest(prepared),
                ensemble=drawn, overrides=overrides)
    _expand(plan, checker)
    return plan


def _expand(plan: Plan, checker: _Checker) -> None:
    """Resolve every (point, policy) to a scenario and list the runs."""
    seen: set[str] = set()
    factors = {f.name: f for f in (*plan.uncertainties, *plan.levers)}
    explicit = {dotted(f.path) for f in factors.values()} | set(plan.experiment.fixed) | override_paths(plan.overrides)
    for p, point in enumerate(plan.sample.points):
        for q, policy in enumerate(plan.policies):
            values = {**point, **policy}
            data = copy.deepcopy(plan.prepared.loaded.data)
            for name, value in values.items():
                _set_path(data, factors[name].path, value, 0)
            try:
                scenario = Scenario.model_validate(data)
            except ValidationError as error:
                found = problems_from(error, Scenario, data, lambda _p, _k: ("", 0, 0))
                reason = "; ".join(f"{x.path}: {x.message}" for x in found)
                checker.add(("design",), f"design point {p}, policy {q} ({values}) is not a valid scenario: {reason}")
                continue
            resolved = resolved_yaml(scenario)
            for r, seed in enumerate(plan.seeds):
                run_scenario, run_text = scenario, resolved
                if plan.ensemble is not None:  # the member's values, except where the experiment chose its own
                    applied = applied_values(plan.ensemble, plan.ensemble.member_for(r), scenario, explicit)
                    if applied:
                        run_scenario = member_scenario(data, applied)
                        run_text = resolved_yaml(run_scenario)
                rid = run_id(run_text, plan.world_digest, seed)
                plan.rows.append((p, q, r, rid))
                if rid not in seen:
                    seen.add(rid)
                    plan.runs.append(RunSpec(rid, p, q, values, r, seed, run_scenario))
    if checker.problems:
        raise InputError(checker.problems[:20])
