"""The scenario format: one pydantic model, the single source of the JSON Schema, errors and docs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.fields import FieldError, Slug, StrictModel
from sim.quarters import Quarter, parse_quarter
from sim.rules import AnyRule
from sim.scenario.parameters import Parameters

SCHEMA_VERSION = 1
MAX_QUARTERS = 400  # 100 years: beyond that the model's assumptions mean nothing
# Firms have no fixed cap: sim/scenario/limits.py refuses a population whose memory would not fit.


class TimeWindow(StrictModel):
    """The simulated period; one step is one quarter."""

    start: Quarter = Field("2023Q1", description="first simulated quarter, like 2023Q1")
    end: Quarter = Field("2030Q4", description="last simulated quarter, inclusive")

    @model_validator(mode="after")
    def _end_after_start(self) -> TimeWindow:
        first, last = parse_quarter(self.start), parse_quarter(self.end)
        if last < first:
            raise FieldError(f"end ({self.end}) is before start ({self.start})", "end")
        if last - first + 1 > MAX_QUARTERS:
            raise FieldError(
                f"{last - first + 1} quarters is too long a horizon; the limit is {MAX_QUARTERS} quarters",
                "end",
            )
        return self

    @property
    def quarters(self) -> int:
        return parse_quarter(self.end) - parse_quarter(self.start) + 1


class Population(StrictModel):
    """How many agents of each kind; countries and labs come from the world data."""

    firms: int = Field(
        4000,
        ge=1,
        description="number of firm agents; at most what fits in memory (docs/faults.md, Limits) [firms]",
    )


class WorldFiles(StrictModel):
    """Which world data files to use, relative to the scenario file (left out and not there: the built-in ones)."""

    countries: str = Field("data/countries.yaml", description="countries and regional aggregates")
    families: str = Field("data/families.yaml", description="labs and the model families they release")


class Uncertainty(StrictModel):
    """A parameter whose true value is not known: its default and the range sweeps may explore."""

    path: str = Field(
        description="dotted path of the scenario field it sets, like parameters.choice.risk_weight"
    )
    default: float = Field(description="value used by a plain run")
    range: tuple[float, float] = Field(description="[low, high] explored by sweeps")
    meaning: str = Field("", description="what the uncertainty stands for, in a line")

    @model_validator(mode="after")
    def _default_in_range(self) -> Uncertainty:
        low, high = self.range
        if low > high:
            raise FieldError(f"range [{low:g}, {high:g}] has its low end above its high end", "range")
        if not low <= self.default <= high:
            raise FieldError(f"default {self.default:g} is outside its range [{low:g}, {high:g}]", "default")
        return self


class Scenario(StrictModel):
    """A scenario: the world, the time window, the population, parameters and the rules in force."""

    schema_version: Literal[1] = Field(description="version of this format; 1")
    name: Slug = Field(description="short id used in output folders, like export-controls-tighten")
    description: str = Field("", description="what the scenario asks, in a sentence or two")
    extends: str | None = Field(
        None, description="a scenario file this one builds on, relative to this file; rules merge by id"
    )
    time: TimeWindow = Field(default_factory=TimeWindow, description="the simulated period")
    seed: int = Field(20230101, ge=0, le=2**63 - 1, description="seed of every random draw in the run")
    population: Population = Field(default_factory=Population, description="agent counts")
    world: WorldFiles = Field(default_factory=WorldFiles, description="world data files")
    parameters: Parameters = Field(default_factory=Parameters, description="behavioural parameters")
    uncertainties: dict[Slug, Uncertainty] = Field(
        default_factory=dict, description="named uncertain parameters with a default and a range"
    )
    rules: dict[Slug, AnyRule] = Field(default_factory=dict, description="rules in force, keyed by rule id")
