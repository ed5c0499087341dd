"""Geopolitical tension between the US and China over time (D0.7, D3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator

from sim.fields import FieldError
from sim.quarters import Quarter, parse_quarter
from sim.rules.base import Rule, RuleEffect, quarter_ordinal

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class Tension(Rule):
    """Sets US-China tension each quarter from a path of levels (0 calm, 1 open rivalry).

    Tension lowers cross-bloc research co-authorship (D0.7, D3.1) and cross-bloc spillovers of
    methods (D3.2, D3.5: neither side can isolate itself completely, so spillovers never stop).
    Between two points of the path the level is interpolated linearly (or held, with `step`).
    """

    kind: Literal["tension"] = "tension"
    path: dict[Quarter, float] = Field(
        min_length=1, description="tension level (0 to 1) from each listed quarter on"
    )
    interpolation: Literal["linear", "step"] = Field("linear", description="between points: linear or step")
    spillover_sensitivity: float = Field(
        0.5, ge=0, le=1, description="share of cross-bloc spillover lost at tension 1 (D3.5)"
    )

    @field_validator("path")
    @classmethod
    def _levels_in_range(cls, path: dict[str, float]) -> dict[str, float]:
        for quarter, level in path.items():
            if not 0.0 <= level <= 1.0:
                raise FieldError(f"tension at {quarter} is {level:g}; levels go from 0 to 1", quarter)
        return dict(sorted(path.items(), key=lambda item: parse_quarter(item[0])))

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The path as (quarter ordinals, levels), in quarter order."""
        xs = np.array([quarter_ordinal(q) for q in self.path], dtype=float)
        return xs, np.array(list(self.path.values()), dtype=float)

    def level(self, quarter: int, points: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """The tension in the quarter with this ordinal (`points`: this rule's `points()`, if at hand)."""
        xs, ys = self.points() if points is None else points
        if self.interpolation == "step":
            index = int(np.searchsorted(xs, quarter, side="right")) - 1
            return float(ys[max(index, 0)])
        return float(np.interp(quarter, xs, ys))

    def levels(self, quarters: np.ndarray, points: tuple[np.ndarray, np.ndarray] | None = None) -> list[float]:
        """`level` of each of the `quarters` (ordinals), in one call: the same values (the same
        interpolation, element by element)."""
        xs, ys = self.points() if points is None else points
        if self.interpolation == "step":
            index = np.searchsorted(xs, quarters, side="right") - 1
            return [float(y) for y in ys[np.maximum(index, 0)]]
        return [float(y) for y in np.interp(quarters, xs, ys)]

    def effect(self, rule_id: str, model: GeopoliticsModel) -> TensionEffect:
        return TensionEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        points = ", ".join(f"{q}: {v:g}" for q, v in self.path.items())
        return f"US-China tension follows {points} ({self.interpolation})"


class TensionEffect(RuleEffect[Tension]):
    """Sets this quarter's tension from the path and scales cross-bloc spillovers by it."""

    scalars_only = True  # tension, spillover and co-authorship only: applied every quarter

    def __init__(self, rule: Tension, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.points = rule.points()  # parsed once, read every quarter
        # the level of every quarter of the run, interpolated at once (~4 µs a quarter otherwise)
        self.first = model.start
        self.levels = rule.levels(np.arange(model.start, model.end + 1), self.points)

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        row = model.quarter - self.first
        inside = 0 <= row < len(self.levels)
        policy.tension = self.levels[row] if inside else rule.level(model.quarter, self.points)
        policy.spillover_factor *= 1.0 - rule.spillover_sensitivity * policy.tension
