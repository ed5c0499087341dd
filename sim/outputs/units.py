"""One unit per kind of quantity, for figures, pages and printed numbers.

A metric's kind follows from its registry entry (`sim.metrics_registry`): shares are shown in
percent and their differences in percentage points (pp); 0-1 indices (influence, alignment) on a
0-100 scale and their differences in index points; the capability index as it is, differences in
index points; months to one decimal; counts of countries to one decimal (a median over replicates
can fall between two counts). The tables keep the values as the model writes them (fractions);
only what a reader sees is scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.metrics_registry import BY_NAME


@dataclass(frozen=True)
class Quantity:
    """How values of one kind are shown: scale from the table's value, suffixes, decimals, axis labels."""

    kind: str  # share, index, months, count, value
    scale: float
    level_suffix: str  # after a level: "%", "", " months"
    difference_suffix: str  # after a difference: " pp", " index points", " months"
    decimals: int
    level_axis: str  # y-axis label of a level
    difference_axis: str  # y-axis label of a difference

    def level(self, value: float) -> str:
        """A level as shown (`45.3%`, `62.0`, `7.5 months`); `n/a` when missing."""
        if pd.isna(value):
            return "n/a"
        return f"{value * self.scale:.{self.decimals}f}{self.level_suffix}"

    def difference(self, value: float) -> str:
        """A difference as shown, signed (`-2.4 pp`, `+0.9 index points`, `+0.3 months`)."""
        if pd.isna(value):
            return "n/a"
        shown = round(value * self.scale, self.decimals)
        if shown == 0:  # no "+0.0" or "-0.0": no difference at this precision
            return f"{0.0:.{self.decimals}f}{self.difference_suffix}"
        return f"{shown:+.{self.decimals}f}{self.difference_suffix}"


SHARE = Quantity("share", 100.0, "%", " pp", 1, "%", "percentage points (pp)")
INDEX01 = Quantity("index", 100.0, "", " index points", 1, "index (0-100)", "index points")
INDEX = Quantity("index", 1.0, "", " index points", 1, "index", "index points")
MONTHS = Quantity("months", 1.0, " months", " months", 1, "months", "months")


def quantity(metric: str) -> Quantity:
    """The unit a metric is shown in (see the module docstring); a metric not in the registry as it is."""
    entry = BY_NAME.get(metric)
    if entry is None:
        return Quantity("value", 1.0, "", "", 3, "value", "difference")
    if entry.unit == "months":
        return MONTHS
    if entry.percent:
        # A percent metric is a share unless its unit says index: influence, alignment (0-1).
        if "index" in entry.unit or "0-1" in entry.unit:
            return INDEX01
        return SHARE
    if "index" in entry.unit:
        return INDEX
    return Quantity("count", 1.0, f" {entry.unit}", f" {entry.unit}", 1, entry.unit, entry.unit)
