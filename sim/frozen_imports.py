"""Importing a process's libraries without the cyclic garbage collector, then freezing what they made.

Importing numpy, pandas, matplotlib, Mesa and `sim` creates about a million long-lived objects
(modules, classes, functions). Python's cyclic collector runs a full collection each time the
long-lived objects grow by a quarter, so it walks them a dozen times during the imports and again
at every later full collection, though none of them is ever garbage: ~0.3-0.4 CPU s of a default
`sim run` (2.6 s). `import_frozen` imports with the collector paused and then moves everything alive
into the collector's permanent generation (`gc.freeze`), which later collections skip. Objects
made afterwards (models, tables, figures) are collected as usual.

Only for processes `sim` owns (the command line, the workers' fork server): a library call into
`sim` leaves the caller's collector alone.
"""

from __future__ import annotations

import gc
import importlib


def import_frozen(*modules: str) -> None:
    """Import `modules` with the cyclic collector paused, then freeze every object alive (`gc.freeze`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        for module in modules:
            importlib.import_module(module)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
