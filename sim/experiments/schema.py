"""The experiment file: a base scenario, what to vary (uncertainties, levers), how (design), what to record.

The vocabulary is EMA Workbench's: *uncertainties* are what the world might be, *levers* what a
policy-maker chooses, *outcomes* what is measured. The design samples the uncertainties; every
policy (each combination of lever values) is run on every sampled point, `replicates` times.

One pydantic model is the single source of the checks; problems are reported as
`FILE:LINE:COLUMN: field: message` through the scenario format's error machinery.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

from pydantic import Field, JsonValue, TypeAdapter, ValidationError, field_validator, model_validator

from sim.errors import InputError, Problem, did_you_mean
from sim.fields import FieldError, Slug, StrictModel
from sim.metrics_registry import WORLD_GROUP, normalise_group
from sim.quarters import Quarter, parse_quarter
from sim.resources import builtin_scenarios, is_bare_name, resolve_scenario
from sim.scenario.errors import problems_from
from sim.userfiles import file_problem, shown_name
from sim.yamlio import Located, load_yaml_file

DESIGN_KINDS = ("full_factorial", "latin_hypercube", "sobol", "morris", "explicit")
REDUCERS = ("value", "mean", "min", "max", "initial", "final", "change", "first_crossing")
MAX_REPLICATES = 10_000


class Factor(StrictModel):
    """An uncertainty or a lever: a scenario field (dotted path) and the values it may take."""

    path: str | None = Field(
        None,
        description="dotted path of the scenario field, like parameters.choice.network_weight or "
        "rules.us-h200-case-by-case.strength (an uncertainty may leave it out to use the base "
        "scenario's uncertainty of the same name)",
    )
    range: tuple[float, float] | None = Field(None, description="[low, high] of a numeric field")
    choices: list[JsonValue] | None = Field(None, min_length=1, description="the values it may take")
    levels: int | None = Field(
        None, ge=2, le=1000, description="evenly spaced values of a range in factorial designs and for levers"
    )
    meaning: str = Field("", description="what it stands for, in a line")

    @model_validator(mode="after")
    def _range_or_choices(self) -> Factor:
        if self.range is not None and self.choices is not None:
            raise FieldError("give either a range or choices, not both", "choices")
        if self.range is not None and self.range[0] > self.range[1]:
            raise FieldError(f"range [{self.range[0]:g}, {self.range[1]:g}] has its low end above its high end",
                             "range")
        if self.levels is not None and self.range is None:
            raise FieldError("levels only applies to a range", "levels")
        return self


class Design(StrictModel):
    """How the uncertainties are sampled."""

    kind: Literal["full_factorial", "latin_hypercube", "sobol", "morris", "explicit"] = Field(
        description="full_factorial, latin_hypercube, sobol (Saltelli), morris (elementary effects) or explicit"
    )
    samples: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="latin_hypercube: points; sobol: base samples N, a power of 2 (N x (D+2) points, "
        "N x (2D+2) with second_order); morris: trajectories r (r x (D+1) points)",
    )
    levels: int | None = Field(
        None, ge=2, le=1000, description="full_factorial: values per range (default 3); morris: grid levels "
        "(default 4)"
    )
    second_order: bool = Field(False, description="sobol: also estimate second-order indices")
    points: list[dict[str, JsonValue]] | None = Field(
        None, min_length=1, description="explicit: one mapping of uncertainty name to value per point"
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Design:
        wants_samples = self.kind in ("latin_hypercube", "sobol", "morris")
        if wants_samples and self.samples is None:
            raise FieldError(f"a {self.kind} design needs `samples`", "samples")
        if not wants_samples and self.samples is not None:
            raise FieldError(f"samples does not apply to a {self.kind} design", "samples")
        if self.kind == "sobol" and self.samples is not None and self.samples & (self.samples - 1):
            raise FieldError(
                f"sobol samples must be a power of 2 (like 8, 16, 32) for the Sobol' sequence to balance; "
                f"got {self.samples}",
                "samples",
            )
        if self.levels is not None and self.kind not in ("full_factorial", "morris"):
            raise FieldError(f"levels does not apply to a {self.kind} design", "levels")
        if self.second_order and self.kind != "sobol":
            raise FieldError("second_order only applies to a sobol design", "second_order")
        if (self.kind == "explicit") != (self.points is not None):
            raise FieldError(
                "an explicit design lists its `points`" if self.kind == "explicit"
                else f"points only apply to an explicit design, not {self.kind}",
                "points",
            )
        return self


class Outcome(StrictModel):
    """A number recorded per run: a metric's series in one group, reduced over time."""

    metric: str = Field(description="a metric of the run outputs, like influence or adoption_share")
    group: str = Field(WORLD_GROUP, description="its group label, like bloc=CN,weight=gdp; world for the world total")
    at: Quarter | None = Field(None, description="take the value at this quarter")
    window: tuple[Quarter, Quarter] | None = Field(
        None, description="[first, last] quarters to reduce over (default: the whole run)"
    )
    reduce: Literal["value", "mean", "min", "max", "initial", "final", "change", "first_crossing"] | None = Field(
        None,
        description="value (with at), or over the window: mean, min, max, initial, final (default), change "
        "(final - initial), first_crossing (the first quarter past threshold, as a decimal year like 2027.25)",
    )
    threshold: float | None = Field(None, description="first_crossing: the level to cross")
    direction: Literal["above", "below"] = Field("above", description="first_crossing: rising above or falling below")
    meaning: str = Field("", description="what it measures, in a line")

    @field_validator("group")
    @classmethod
    def _world_total(cls, group: str) -> str:
        return normalise_group(group)  # "" named the world total before it was `world`

    @model_validator(mode="after")
    def _consistent(self) -> Outcome:
        if self.at is not None and self.window is not None:
            raise FieldError("give either at (one quarter) or window (a span), not both", "window")
        if self.at is not None and self.reduce not in (None, "value"):
            raise FieldError(f"reduce {self.reduce!r} needs a window; with at the value is taken as is", "reduce")
        if self.at is None and self.reduce == "value":
            raise FieldError("reduce 'value' needs at: the quarter to read", "reduce")
        if self.window is not None and parse_quarter(self.window[1]) < parse_quarter(self.window[0]):
            raise FieldError(f"window ends ({self.window[1]}) before it starts ({self.window[0]})", "window")
        if (self.reduce == "first_crossing") != (self.threshold is not None):
            raise FieldError(
                "first_crossing needs a threshold" if self.reduce == "first_crossing"
                else "threshold only applies to reduce: first_crossing",
                "threshold",
            )
        return self

    @property
    def reducer(self) -> str:
        return "value" if self.at is not None else (self.reduce or "final")


class Experiment(StrictModel):
    """An experiment over a base scenario."""

    schema_version: Literal[1] = Field(description="version of this format; 1")
    name: Slug = Field(description="short id, used in the default output folder runs/sweep-<name>/")
    description: str = Field("", description="what the experiment asks, in a sentence or two")
    scenario: str = Field(description="the base scenario file, relative to this file, or a built-in scenario name")
    fixed: dict[str, JsonValue] = Field(
        default_factory=dict,
        alias="set",
        description="fields set in every run, dotted path to value, like `population.firms: 1000` (as --set)",
    )
    uncertainties: dict[Slug, Factor] = Field(default_factory=dict, description="what the world might be")
    levers: dict[Slug, Factor] = Field(
        default_factory=dict, description="what policy chooses; every combination meets every sampled point"
    )
    design: Design = Field(description="how the uncertainties are sampled")
    replicates: int = Field(1, ge=1, le=MAX_REPLICATES, description="runs per design point and policy")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1,
        description="replicate r of every point uses the r-th seed spawned from it (default: the scenario's)",
    )
    outcomes: dict[Slug, Outcome] = Field(min_length=1, description="what to record per run, by name")

    @model_validator(mode="after")
    def _names_distinct(self) -> Experiment:
        seen: dict[str, str] = {}
        for section in ("uncertainties", "levers", "outcomes"):
            for name in getattr(self, section):
                if name in RESERVED_COLUMNS:
                    raise FieldError(f"{name!r} is a column of runs.csv; choose another name", section, name)
                if name in seen:
                    raise FieldError(f"{name!r} is already used in {seen[name]}; names must be distinct",
                                     section, name)
                seen[name] = section
        return self


RESERVED_COLUMNS = ("run_id", "design_point", "policy", "replicate", "seed", "status", "error")


@dataclass
class LoadedExperiment:
    """A validated experiment file with the marks of its keys and values."""

    experiment: Experiment
    path: Path
    located: Located

    def locate(self, path: tuple, at_key: bool = False) -> tuple[str, int, int]:
        return self.located.locate(path, at_key)

    @property
    def scenario_path(self) -> Path:
        """The base scenario: a file relative to the experiment, else a built-in scenario of that name."""
        found = resolve_scenario(self.experiment.scenario, self.path.parent)
        # realpath, not Path.resolve: a link loop must reach the check below, which names it (resolve raises)
        return Path(os.path.realpath(found or self.path.parent / self.experiment.scenario))

    @property
    def file(self) -> str:
        return self.located.file


def load_experiment(path: str | os.PathLike[str]) -> LoadedExperiment:
    """Read and validate an experiment file; InputError lists every problem at its line."""
    loaded, problems = read_experiment(path)
    if problems:
        raise InputError(problems)
    return loaded


def read_experiment(path: str | os.PathLike[str]) -> tuple[LoadedExperiment, list[Problem]]:
    """An experiment file read as far as it goes: the experiment with the valid parts of each section
    (an invalid uncertainty, lever or outcome is left out, an invalid design is None) and the problems of
    the rest, so that the checks against the base scenario can report theirs in the same run. InputError
    when there is nothing to go on: not a mapping, or no base scenario."""
    located = load_yaml_file(path)
    data = located.data
    if not isinstance(data, dict):
        raise InputError.single(located.file, "an experiment is a mapping of fields (name:, scenario:, design: ...)")
    problems: list[Problem] = []
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as error:
        problems = problems_from(error, Experiment, data, located.locate)
        partial = _valid_parts(data)
        if partial is None:
            raise InputError(problems) from None
        experiment = partial
    loaded = LoadedExperiment(experiment, Path(os.fspath(path)).resolve(), located)
    reason = file_problem(loaded.scenario_path)
    if reason and reason != "no such file":  # a pipe, device, link loop or impossible name: at the `scenario:` line
        raise InputError.single(located.file, f"'{shown_name(experiment.scenario)}': {reason}",
                                *located.value_mark(("scenario",)), path="scenario")
    if reason:
        name = experiment.scenario.removesuffix(".yaml")
        near = did_you_mean(name, builtin_scenarios())
        builtin = f", and no built-in scenario of that name{near}" if is_bare_name(experiment.scenario) else ""
        raise InputError([*problems, located.problem(("scenario",), f"no such scenario file {experiment.scenario!r} "
                                                    f"(looked in {loaded.scenario_path.parent}){builtin}",
                                                    at_value=True)])
    return loaded, problems


def _valid_parts(data: dict[str, Any]) -> Experiment | None:
    """An Experiment of the fields of `data` that validate on their own (mappings entry by entry), the
    others at their defaults; None without a base scenario to check the rest against."""
    values: dict[str, Any] = {}
    for name, field in Experiment.model_fields.items():
        key = field.alias or name
        if key not in data:
            values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
            continue
        # The field's type and bounds (ge, le, min_length), not its alias: the value is given bare.
        annotation: Any = field.annotation
        if isinstance(data[key], dict) and get_origin(annotation) is dict:
            values[name] = {}
            for entry, value in data[key].items():
                with suppress(ValidationError):
                    values[name].update(TypeAdapter(annotation).validate_python({entry: value}))
            continue
        bounded: Any = Annotated[annotation, *field.metadata] if field.metadata else annotation
        try:
            values[name] = TypeAdapter(bounded).validate_python(data[key])
        except ValidationError:
            values[name] = None if field.is_required() else field.get_default(call_default_factory=True)
    if not values.get("scenario"):
        return None
    return Experiment.model_construct(**values)


def quarter_year(label: str) -> float:
    """`2027Q2` -> 2027.25: a quarter as a decimal year, for numeric outcomes."""
    ordinal = parse_quarter(label)
    return ordinal // 4 + (ordinal % 4) / 4

