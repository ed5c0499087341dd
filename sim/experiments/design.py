"""Designs: which values of the uncertainties to run, and the policies (lever combinations).

Latin hypercube, Sobol (Saltelli) and Morris samples come from SALib; full factorial and explicit
lists are built here. A factor with `choices` is sampled on [0, 1] and mapped to one of its k
choices (the value in [i/k, (i+1)/k) picks choice i), so every design handles both kinds. Samples
are drawn from a generator fixed by the experiment seed: the same file gives the same design.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.experiments.schema import Design
from sim.model.streams import stream

DEFAULT_FACTORIAL_LEVELS = 3  # low, middle, high of a range
DEFAULT_MORRIS_LEVELS = 4  # SALib's default grid for elementary effects


@dataclass(frozen=True)
class FactorSpec:
    """A factor resolved against the base scenario."""

    name: str
    path: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    levels: int | None = None
    integer: bool = False  # the scenario field holds whole numbers: values are rounded
    base_value: Any = None  # the base scenario's value (explicit points that leave the factor out)
    where: tuple[str | int, ...] = field(default=())  # its location in the experiment file

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def bounds(self) -> list[float]:
        if self.low is None or self.high is None:
            return [0.0, 1.0]
        return [float(self.low), float(self.high)]

    def value(self, x: float) -> Any:
        """The field value for a sample `x` within `bounds()`."""
        if self.choices is not None:
            k = len(self.choices)
            return self.choices[min(int(np.floor(x * k)), k - 1)]
        return self.number(x)

    def number(self, x: float) -> float | int:
        return round(x) if self.integer else float(x)

    def grid(self, default_levels: int) -> list[Any]:
        """Every value in a factorial design: the choices, or evenly spaced values of the range."""
        if self.choices is not None:
            return list(self.choices)
        if self.low is None or self.high is None:
            return [self.base_value]
        count = self.levels or default_levels
        values = [self.number(x) for x in np.linspace(self.low, self.high, count)]
        return list(dict.fromkeys(values))  # rounding to whole numbers may repeat a value


@dataclass
class Sample:
    """The points of a design over the uncertainties, and what a sensitivity analysis needs."""

    points: list[dict[str, Any]]
    matrix: np.ndarray | None = None  # SALib's sample (one row per point), for Sobol and Morris
    problem: dict[str, Any] | None = None


def salib_problem(factors: list[FactorSpec]) -> dict[str, Any]:
    return {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [f.bounds() for f in factors]}


def _samples(design: Design) -> int:
    # The experiment schema requires `samples` for the sampled kinds; None here is a programming error.
    if design.samples is None:
        raise ValueError(f"a {design.kind} design needs `samples`")
    return int(design.samples)


def design_size(design: Design, factors: list[FactorSpec]) -> int:
    """How many points a design has, without sampling it."""
    d = len(factors)
    if design.kind == "full_factorial":
        return int(np.prod([len(f.grid(design.levels or DEFAULT_FACTORIAL_LEVELS)) for f in factors]))
    if design.kind == "latin_hypercube":
        return _samples(design)
    if design.kind == "sobol":
        return _samples(design) * (2 * d + 2 if design.second_order else d + 2)
    if design.kind == "morris":
        return _samples(design) * (d + 1)
    return len(design.points or [])


def sample(design: Design, factors: list[FactorSpec], seed: int) -> Sample:
    """The design's points: one mapping of uncertainty name to field value per point."""
    if design.kind == "full_factorial":
        grids = [f.grid(design.levels or DEFAULT_FACTORIAL_LEVELS) for f in factors]
        return Sample([dict(zip([f.name for f in factors], combo, strict=True)) for combo in itertools.product(*grids)])
    if design.kind == "explicit":
        return Sample([{f.name: point.get(f.name, f.base_value) for f in factors} for point in design.points or []])
    problem = salib_problem(factors)
    rng = stream(seed, "experiment-design")
    if design.kind == "latin_hypercube":
        from SALib.sample import latin

        matrix = latin.sample(problem, _samples(design), seed=rng)
    elif design.kind == "sobol":
        from SALib.sample import sobol

        matrix = sobol.sample(problem, _samples(design), calc_second_order=design.second_order, seed=rng)
    else:
        from SALib.sample import morris

        levels = design.levels or DEFAULT_MORRIS_LEVELS
        matrix = morris.sample(problem, _samples(design), num_levels=levels, seed=rng)
    points = [{f.name: f.value(x) for f, x in zip(factors, row, strict=True)} for row in matrix]
    return Sample(points, matrix, problem)


def policies(levers: list[FactorSpec]) -> list[dict[str, Any]]:
    """Every combination of lever values (one empty policy when there are no levers)."""
    grids = [lever.grid(DEFAULT_FACTORIAL_LEVELS) for lever in levers]
    return [dict(zip([lever.name for lever in levers], combo, strict=True)) for combo in itertools.product(*grids)]
