"""From an experiment file to the list of runs: checked paths, design points, policies, seeds, run ids.

Everything is checked before the first run starts: each factor's path against the base scenario
(with "did you mean"), each range end and choice by validating the scenario it would give, the
explicit points, and each outcome's metric, group and quarters (against the metric registry).
Problems point at the line of the experiment file that causes them.

Planning costs in proportion to the number of runs, and little per run: the base scenario is
hashed once and a run's id hashes only what it changes (its factor values and ensemble member),
its seed and the world data; no run's scenario is built or kept until the sweep asks for it
(`RunSpec.scenario`), and no probe run lists the outcomes' groups. Up to `VALIDATE_ALL`
combinations of point and policy are validated at plan time (beyond, an even spread of that many);
the sweep builds each run's scenario, validated, just before the run starts (`executors.TaskList`),
so an invalid combination the spread missed stops the sweep there, with the finished runs kept.

Seeds: replicate r at design point p uses `point_seed(replicate_seeds(seed, replicates)[r], key of
p's uncertainty values)`: distinct points have distinct seeds (even with `replicates: 1`), every
policy at a point shares them (common random numbers: lever effects are paired).

Run ids changed meaning with version 2 of this scheme (they hashed each run's whole resolved
scenario before): a sweep folder planned by an older version runs its runs again.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from sim.calibration.ensemble import Ensemble, applied_values, member_scenario, override_paths, resolve
from sim.errors import InputError, Problem, did_you_mean, dotted, show_value
from sim.experiments.design import FactorSpec, Sample, design_size, policies, sample
from sim.experiments.executors import require
from sim.experiments.schema import Experiment, Factor, LoadedExperiment, read_experiment
from sim.model.streams import replicate_seeds
from sim.quarters import parse_quarter
from sim.scenario import Prepared, Scenario, prepare, resolved_yaml
from sim.scenario.errors import problems_from
from sim.scenario.limits import check_scenario_size
from sim.scenario.load import LoadedScenario, _set_path, field_at  # the machinery behind --set
from sim.scenario.preparation import check_references
from sim.userfiles import read_user_bytes

MAX_RUNS = 200_000  # beyond this a typo in `samples` is likelier than intent
VALIDATE_ALL = 2_000  # (point, policy) combinations validated at plan time; beyond, an even spread of this many
RUN_ID_VERSION = "run-id-v2"  # hashed into every run id: a change of scheme never reuses an old result
FIXED_ROOTS = {
    "schema_version": "the format version",
    "name": "the scenario name",
    "extends": "the inheritance chain",
    "seed": "the seed (the experiment's seed and replicates decide every run's seed)",
    "world": "the world data files",
    "uncertainties": "the scenario's uncertainty declarations (vary their paths instead)",
    "description": "the description",
}


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One simulation to run: where it sits in the design, its factor values and seed. Its scenario
    is built when asked (`scenario`), so a plan of 200,000 runs holds no scenario."""

    run_id: str
    design_point: int
    policy: int
    values: dict[str, Any]
    replicate: int
    seed: int
    builder: RunBuilder = field(repr=False, compare=False)

    @property
    def scenario(self) -> Scenario:
        """The base scenario with this run's factor values (and ensemble member), validated."""
        return self.builder.scenario(self.values, self.replicate, (self.design_point, self.policy))


class RunBuilder:
    """Builds a run's scenario from the base scenario's data: the factor values, then the ensemble
    member's values (except where the experiment chose its own), validated."""

    def __init__(self, loaded: LoadedExperiment, data: dict[str, Any], factors: dict[str, FactorSpec],
                 members: list[dict[str, float]]):
        self.loaded, self.data, self.factors, self.members = loaded, data, factors, members
        # The last scenario built, by its values and ensemble member: a design point's replicates follow one
        # another in a plan and share it (~0.7 ms of copying and validation a run in the sweep's process).
        self._last: tuple[dict[str, Any], int | None, Scenario] | None = None

    def scenario(self, values: dict[str, Any], replicate: int, where: tuple[int, int]) -> Scenario:
        member_index = replicate if self.members else None
        last = self._last
        if last is not None and last[1] == member_index and last[0] == values:
            return last[2]
        built = self._build(values, replicate, where)
        self._last = (values, member_index, built)
        return built

    def _build(self, values: dict[str, Any], replicate: int, where: tuple[int, int]) -> Scenario:
        data = copy.deepcopy(self.data)
        for name, value in values.items():
            _set_path(data, self.factors[name].path, value, 0)
        member = self.members[replicate] if self.members else {}
        for path, value in member.items():
            _set_path(data, tuple(path.split(".")), value, 0)
        try:
            return Scenario.model_validate(data)
        except ValidationError as error:
            found = problems_from(error, Scenario, data, lambda _p, _k: ("", 0, 0))
            reason = "; ".join(f"{x.path}: {x.message}" if x.path else x.message for x in found)
            what = f"design point {where[0]}, policy {where[1]} ({values})"
            if member:
                what += f" with ensemble member values {member}"
            file, line, column = self.loaded.locate(("design",))
            raise InputError([Problem(file, line, column, "design", f"{what} is not a valid scenario: {reason}")]) \
                from None


@dataclass
class Plan:
    """A checked experiment and every run it needs, in design order."""

    loaded: LoadedExperiment
    prepared: Prepared
    uncertainties: list[FactorSpec]
    levers: list[FactorSpec]
    sample: Sample
    policies: list[dict[str, Any]]
    seeds: list[int]  # replicate r's seed, from which its seed at each design point derives (point_seed)
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


def _prepare_base_without_bad_sets(loaded: LoadedExperiment, overrides: list[str]) -> tuple[Prepared, list[Problem]]:
    """The base scenario as `prepare_base`, and when some entries of `set:` are wrong, their problems and
    the base without them, so the factors and outcomes can still be checked in the same run. InputError
    when the base scenario is wrong whatever `set:` says."""
    try:
        return prepare_base(loaded, overrides), []
    except InputError as error:
        bad = {p.path.removeprefix("set.") for p in error.problems if p.path.startswith("set.")}
        if not bad or any(not p.path.startswith("set.") for p in error.problems):
            raise
        problems = list(error.problems)
    kept = {key: value for key, value in loaded.experiment.fixed.items() if key not in bad}
    trimmed = dataclasses.replace(loaded, experiment=loaded.experiment.model_copy(update={"fixed": kept}))
    try:
        return prepare_base(trimmed, overrides), problems
    except InputError as error:
        raise InputError([*problems, *error.problems]) from None


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

    def points(self, experiment: Experiment, factors: list[FactorSpec], skip: Collection[str] = ()) -> None:
        """Each explicit design point's values against the uncertainties (names in `skip` are left out)."""
        by_name = {f.name: f for f in factors}
        for i, point in enumerate(experiment.design.points or [] if experiment.design else []):
            for key, value in point.items():
                where = ("design", "points", i, key)
                spec = by_name.get(key)
                if key in skip:
                    continue
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


def known_series(prepared: Prepared) -> dict[str, set[str]]:
    """Metric -> every group a run of this scenario can write, from the metric registry (no run needed).

    The registry lists each metric's group families and where their values come from (fixed lists, the
    world's families and countries, the scenario's programme rules); a group that stays empty in a run
    gives an empty outcome, which the sweep reports rather than guessing."""
    from sim.metrics_registry import COUNTRIES, FAMILIES, METRICS, PROGRAMME_KINDS, PROGRAMMES, group_label

    world, scenario = prepared.world, prepared.scenario
    domains: dict[str, tuple[str, ...]] = {
        FAMILIES: tuple(str(f.id) for f in world.families),
        COUNTRIES: tuple(world.iso3s),
        PROGRAMMES: tuple(rid for rid, rule in scenario.rules.items() if rule.kind in PROGRAMME_KINDS),
    }
    known: dict[str, set[str]] = {}
    for metric in METRICS:
        groups = known.setdefault(metric.name, set())
        for family in metric.groups:
            keys = list(family)
            values = [domains[d] if isinstance(d, str) else d for d in family.values()]
            groups.update(group_label(**dict(zip(keys, combo, strict=True))) for combo in itertools.product(*values))
    return known


def _section_names(loaded: LoadedExperiment, section: str) -> list[str]:
    """The names written in a section of the experiment file, valid or not."""
    written = loaded.located.data.get(section)
    return [str(name) for name in written] if isinstance(written, dict) else []


def world_digest(prepared: Prepared) -> str:
    digest = hashlib.sha256()
    for which in ("countries", "families"):
        digest.update(read_user_bytes(prepared.loaded.world_path(which)))
    return digest.hexdigest()


def canonical(value: Any) -> str:
    """One text per value, the same in every process: what run ids and point seeds hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def run_id(base_hash: str, overrides: str, member: str, digest: str, seed: int) -> str:
    """The id of a run: a hash of what determines its result. The base scenario (after `set:` and
    --set) is hashed once; a run adds its overrides (the factor values that differ from the base, and
    the ensemble member's values), the world data and its seed. Two runs with the same id are the
    same simulation, in any sweep: that is what resume keys on."""
    text = f"{RUN_ID_VERSION}\n{base_hash}\n{overrides}\n{member}\n{digest}\n{seed}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_seed(replicate_seed: int, point_key: str) -> int:
    """Replicate r's seed at one design point: distinct points get distinct seeds (even with one
    replicate), the same point the same seed (a point Morris trajectories share runs once), and every
    policy at a point shares it (common random numbers: a lever's effect is paired)."""
    digest = hashlib.sha256(f"{replicate_seed}\n{point_key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # 63 bits, like replicate_seeds


@dataclass
class CheckedExperiment:
    """An experiment file checked against its base scenario: factors resolved, outcomes known to exist."""

    loaded: LoadedExperiment
    prepared: Prepared
    uncertainties: list[FactorSpec]
    levers: list[FactorSpec]

    @property
    def seed(self) -> int:
        """The experiment's seed (default the base scenario's)."""
        seed = self.loaded.experiment.seed
        return self.prepared.scenario.seed if seed is None else seed

    def seeds(self, replicates: int) -> list[int]:
        """Replicate r's seed, from which its seed at each design point derives (`point_seed`)."""
        return replicate_seeds(self.seed, replicates)


def check_experiment(path: str, overrides: Iterable[str] = (), *, check_outcomes: bool = True) -> CheckedExperiment:
    """Check an experiment file's factors, points and outcomes against its base scenario (with the
    experiment's `set:` and `overrides`); InputError lists every problem at its line."""
    loaded, problems = read_experiment(path)
    experiment = loaded.experiment
    design = experiment.design  # None when the design itself is wrong (reported among `problems`)
    if design is not None and design.kind in ("latin_hypercube", "sobol", "morris"):
        require("SALib")
    prepared, set_problems = _prepare_base_without_bad_sets(loaded, list(overrides))
    checker = _Checker(loaded, prepared)
    checker.problems = [*problems, *set_problems]
    sampled = design is None or design.kind != "explicit"
    specs = {
        section: [checker.factor(section, n, f, sampled) for n, f in getattr(experiment, section).items()]
        for section in ("uncertainties", "levers")
    }
    if design is not None and design.kind in ("latin_hypercube", "sobol", "morris") and not experiment.uncertainties:
        checker.add(("design", "kind"), f"a {design.kind} design samples the uncertainties; declare some")
    uncertainties = [spec for spec in specs["uncertainties"] if spec is not None]
    levers = [spec for spec in specs["levers"] if spec is not None]
    # Points naming an uncertainty that is wrong itself are not checked again.
    declared = set(_section_names(loaded, "uncertainties")) - {spec.name for spec in uncertainties}
    checker.points(experiment, uncertainties, skip=declared)
    if check_outcomes:
        checker.outcomes(experiment, known_series(prepared))
    if checker.problems or design is None:
        raise InputError(checker.problems)
    return CheckedExperiment(loaded, prepared, uncertainties, levers)


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
    checked = check_experiment(path, overrides, check_outcomes=check_outcomes)
    loaded, prepared, uncertainties, levers = checked.loaded, checked.prepared, checked.uncertainties, checked.levers
    experiment = loaded.experiment
    total = design_size(experiment.design, uncertainties) * len(policies(levers)) * experiment.replicates
    if total > MAX_RUNS:
        file, line, column = loaded.locate(("design",))
        raise InputError([Problem(file, line, column, "design", f"{total:,} runs is more than {MAX_RUNS:,}; use "
                                  "fewer samples, levels or replicates")])
    plan = Plan(loaded, prepared, uncertainties, levers, sample(experiment.design, uncertainties, checked.seed),
                policies(levers), checked.seeds(experiment.replicates), [], world_digest=world_digest(prepared),
                ensemble=drawn, overrides=overrides)
    _expand(plan)
    return plan


def _member_values(plan: Plan, explicit: set[str]) -> list[dict[str, float]]:
    """Per replicate, the ensemble member's values that apply (the same at every point: the paths the
    experiment varies are in `explicit`, so the point's values never decide which apply)."""
    if plan.ensemble is None:
        return []
    ensemble = plan.ensemble
    members = [applied_values(ensemble, ensemble.member_for(r), plan.prepared.scenario, explicit)
               for r in range(len(plan.seeds))]
    for values in members:
        if values:
            member_scenario(plan.prepared.loaded.data, values)  # a member that does not fit: said once, here
    return members


def _differs(value: Any, base: Any) -> bool:
    # A value equal to the base scenario's changes nothing: leaving it out keeps that run's id the base's.
    return value != base or isinstance(value, bool) != isinstance(base, bool)


def _expand(plan: Plan) -> None:
    """List the runs: ids and seeds from the factor values alone (no scenario is built), and a check
    that up to VALIDATE_ALL combinations of point and policy are valid scenarios."""
    factors = {f.name: f for f in (*plan.uncertainties, *plan.levers)}
    explicit = {dotted(f.path) for f in factors.values()} | set(plan.experiment.fixed) | override_paths(plan.overrides)
    members = _member_values(plan, explicit)
    builder = RunBuilder(plan.loaded, plan.prepared.loaded.data, factors, members)
    base_hash = hashlib.sha256(resolved_yaml(plan.prepared.scenario).encode()).hexdigest()
    base = plan.prepared.scenario
    # A member's values that the base scenario already holds change nothing: such a run keeps the id it
    # has without the ensemble (resume reuses it across --uncertainty seeds and ensemble).
    changed = [sorted((path, value) for path, value in m.items()
                      if _differs(value, field_at(base, tuple(path.split(".")))[0])) for m in members]
    member_keys = [canonical(c) if c else "" for c in changed] or [""] * len(plan.seeds)
    uncertainty_names = [f.name for f in plan.uncertainties]
    policy_changes = [[(dotted(factors[n].path), v) for n, v in policy.items() if _differs(v, factors[n].base_value)]
                      for policy in plan.policies]
    combos = len(plan.sample.points) * len(plan.policies)
    spread = np.linspace(0, combos - 1, min(combos, VALIDATE_ALL)) if combos else np.zeros(0)
    checked = set(spread.round().astype(int).tolist())
    seen: set[str] = set()
    for p, point in enumerate(plan.sample.points):
        point_key = canonical([point[n] for n in uncertainty_names])
        seeds = [point_seed(s, point_key) for s in plan.seeds]
        point_changes = [(dotted(factors[n].path), v) for n, v in point.items() if _differs(v, factors[n].base_value)]
        for q, policy in enumerate(plan.policies):
            values = {**point, **policy}
            if p * len(plan.policies) + q in checked:
                builder.scenario(values, 0, (p, q))
            changes = canonical(sorted(point_changes + policy_changes[q], key=lambda item: item[0]))
            for r, seed in enumerate(seeds):
                rid = run_id(base_hash, changes, member_keys[r], plan.world_digest, seed)
                plan.rows.append((p, q, r, rid))
                if rid not in seen:
                    seen.add(rid)
                    plan.runs.append(RunSpec(rid, p, q, values, r, seed, builder))
