"""The calibration spec file: what to calibrate (priors with sources), against what (targets), and how.

Validated by one pydantic model; problems are reported as `FILE:LINE:COLUMN: field: message`
through the scenario format's error machinery, like experiment files (sim/experiments/schema.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from sim.errors import InputError, did_you_mean
from sim.fields import FieldError, Slug, StrictModel
from sim.quarters import Quarter
from sim.resources import builtin_scenarios, is_bare_name, resolve_scenario
from sim.scenario.errors import validate_located
from sim.userfiles import file_problem, shown_name
from sim.yamlio import Located, load_yaml_file

MAX_SAMPLES = 10_000
MAX_WAVES = 20


class Prior(StrictModel):
    """A behavioural parameter to calibrate: its scenario path, its plausible range, and why."""

    path: str = Field(
        description="dotted path of a behavioural parameter, under parameters. (like parameters.labs.open_bias)",
    )
    range: tuple[float, float] = Field(description="[low, high]: the prior's support, sampled uniformly")
    source: str = Field(min_length=1, description="where the range comes from, or why it is this wide")

    @field_validator("path")
    @classmethod
    def _behavioural(cls, path: str) -> str:
        parts = path.split(".")
        behavioural = (len(parts) >= 2 and parts[0] == "parameters") or (len(parts) >= 3 and parts[0] == "rules")
        if not behavioural or not all(parts):
            raise ValueError(
                f"{path!r} is not under parameters. or a rule's field (rules.ID.FIELD): only behavioural "
                "parameters are calibrated (which rules and policies hold, and world data, are what scenarios "
                "choose), like parameters.labs.open_bias or rules.china-open-source-strategy.open_support"
            )
        return path

    @model_validator(mode="after")
    def _ordered(self) -> Prior:
        if self.range[0] >= self.range[1]:
            raise FieldError(
                f"range [{self.range[0]:g}, {self.range[1]:g}] must have its low end below its high end", "range"
            )
        return self


class Confirm(StrictModel):
    """Choosing the best member on fresh seeds: with two replicates per set, the least implausible set of
    the last wave is partly the luckiest (its replicates happened to fall well); re-running the few best
    with more replicates and seeds the waves did not use picks the one that holds up."""

    candidates: int = Field(8, ge=1, le=200, description="the least implausible accepted sets re-run")
    replicates: int = Field(
        10, ge=2, le=100, description="runs per candidate (the median is judged, as sim check does)"
    )
    seed: int = Field(20260202, ge=0, le=2**63 - 1, description="seeds of the confirmation runs (not the waves')")


class CalibrationSpec(StrictModel):
    """A history-matching calibration of a base scenario's behavioural parameters."""

    schema_version: Literal[1] = Field(description="version of this format; 1")
    name: Slug = Field(description="short id, used in the default output folder runs/calibrate-<name>/")
    description: str = Field("", description="what is calibrated and why, in a sentence or two")
    scenario: str = Field("baseline", description="the base scenario file (relative to this file) or a built-in name")
    targets: str | None = Field(
        None, description="the targets file, relative to this file (default the built-in targets.yaml)"
    )
    fixed: dict[str, JsonValue] = Field(
        default_factory=dict,
        alias="set",
        description="fields set in every run, dotted path to value, like `population.firms: 2000` (as --set)",
    )
    priors: dict[Slug, Prior] = Field(min_length=1, description="the parameters calibrated, by name")
    waves: int = Field(2, ge=1, le=MAX_WAVES, description="waves of history matching")
    samples: int = Field(40, ge=2, le=MAX_SAMPLES, description="parameter sets sampled per wave")
    replicates: int = Field(2, ge=1, le=100, description="runs (seeds) per parameter set; their spread is var_ensemble")
    cutoff: float = Field(
        3.0, gt=0, description="implausibility cut-off (3: Pukelsheim's three-sigma rule, Vernon et al. 2010)"
    )
    rule: Literal["max", "second_max"] | list[Literal["max", "second_max"]] = Field(
        "max", description="which implausibility over targets is cut: the largest, or the second largest; or a "
        "list, one per wave (the last entry for later waves): early waves may cut on the second largest, as "
        "Vernon et al. (2010) do, so that the space is refined before every target is asked to hold",
    )
    discrepancy: float = Field(
        0.5, ge=0, description="model discrepancy sd as a multiple of each target's observational sd"
    )
    band_sd: float = Field(
        2.0, gt=0, le=10, description="how many standard deviations the distance from a target's observed value "
        "to its accept band's end stands for (2: the band is about a 95% interval; set it to the cut-off, "
        "with discrepancy 0, when the bands already include the model-data gap, so that a set is cut "
        "exactly when its mean leaves a band by more than its replicates' spread allows)",
    )
    calibrate_until: Quarter | None = Field(
        None, description="out-of-sample test: only targets whose quarters all end by this quarter are "
        "matched; the later ones are measured on every set and reported as predictions (predictions.csv)",
    )
    seed: int = Field(20260101, ge=0, le=2**63 - 1, description="seeds the sampling and the replicates' seeds")
    confirm: Confirm | None = Field(
        None, description="re-run the least implausible accepted sets with more replicates and other seeds, and "
        "name the best of them (the set the baseline's defaults are set to) by those runs",
    )

    @model_validator(mode="after")
    def _paths_distinct(self) -> CalibrationSpec:
        seen: dict[str, str] = {}
        for name, prior in self.priors.items():
            if prior.path in seen:
                raise FieldError(f"{prior.path} is already calibrated as {seen[prior.path]!r}", "priors", name, "path")
            if prior.path in self.fixed:
                raise FieldError(f"{prior.path} is also fixed under `set:`; calibrate it or fix it, not both",
                                 "priors", name, "path")
            seen[prior.path] = name
        return self


def wave_rule(spec: CalibrationSpec, wave: int) -> str:
    """The implausibility rule of wave `wave` (1-based)."""
    if isinstance(spec.rule, str):
        return spec.rule
    return spec.rule[min(wave, len(spec.rule)) - 1]


@dataclass
class LoadedSpec:
    """A validated calibration spec with the marks of its keys and values."""

    spec: CalibrationSpec
    path: Path
    located: Located

    def locate(self, where: tuple, at_key: bool = False) -> tuple[str, int, int]:
        return self.located.locate(where, at_key)

    @property
    def scenario_path(self) -> Path:
        found = resolve_scenario(self.spec.scenario, self.path.parent)
        # realpath, not Path.resolve: a link loop must reach the check in load_spec, which names it
        return Path(os.path.realpath(found or self.path.parent / self.spec.scenario))

    @property
    def targets_path(self) -> Path | None:
        return None if self.spec.targets is None else Path(os.path.realpath(self.path.parent / self.spec.targets))


def load_spec(path: str | os.PathLike[str]) -> LoadedSpec:
    """Read and validate a calibration spec; InputError lists every problem at its line."""
    located = load_yaml_file(path)
    data = located.data
    if not isinstance(data, dict):
        raise InputError.single(located.file, "a calibration spec is a mapping of fields (name:, priors:, ...)")
    spec = validate_located(located, CalibrationSpec)
    loaded = LoadedSpec(spec, Path(os.fspath(path)).resolve(), located)
    named: tuple[tuple[str, str | None, Path | None], ...] = (
        ("scenario", spec.scenario, loaded.scenario_path), ("targets", spec.targets, loaded.targets_path))
    for field, given, where in named:
        reason = file_problem(where) if where is not None else None
        if reason and reason != "no such file":  # a pipe, device, link loop: at the line naming it, never opened
            raise InputError.single(located.file, f"'{shown_name(str(given))}': {reason}",
                                    *located.value_mark((field,)), path=field)
    if file_problem(loaded.scenario_path):
        near = did_you_mean(spec.scenario.removesuffix(".yaml"), builtin_scenarios()) if is_bare_name(
            spec.scenario) else ""
        raise InputError.single(located.file, f"no such scenario file or built-in scenario {spec.scenario!r}{near}",
                                *located.value_mark(("scenario",)), path="scenario")
    if loaded.targets_path is not None and file_problem(loaded.targets_path):
        raise InputError.single(located.file, f"no such targets file {spec.targets!r} (looked in "
                                f"{loaded.path.parent})", *located.value_mark(("targets",)), path="targets")
    return loaded
