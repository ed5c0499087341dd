"""Turn a finished run into files: tables, figures, the HTML report and the manifest.

`summarise`, `group_label` and `TIMESERIES_COLUMNS` import without matplotlib;
`write_run_outputs` and `headline_numbers` load the figure and report modules on first use,
so worker processes that only need the tables stay cheap to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.metrics_registry import group_label, parse_group
from sim.outputs.tables import TIMESERIES_COLUMNS, summarise

if TYPE_CHECKING:
    from sim.outputs.writer import headline_numbers, write_run_outputs

__all__ = [
    "TIMESERIES_COLUMNS",
    "group_label",
    "headline_numbers",
    "parse_group",
    "summarise",
    "write_run_outputs",
]

_LAZY = {"write_run_outputs", "headline_numbers"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from sim.outputs import writer

        return getattr(writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
