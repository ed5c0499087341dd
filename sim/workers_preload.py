"""Imported once by the pool's fork server (`sim.workers.PRELOAD`), never by `sim` itself.

Every worker is forked from that server, so what is done here is done once, not once per worker:
- import the model and its libraries (mesa, numpy, pandas, pydantic), so a worker starts warm, and
  freeze them for the garbage collector (sim/frozen_imports.py);
- ignore SIGINT: the server records its signal handlers after importing this module and gives them
  to each worker it forks, so workers ignore Ctrl-C from their first instruction (the parent
  alone decides to stop, and stops them);
- do not run the parent's main module in workers: multiprocessing would re-run a script (or import
  the Jupyter kernel's launcher) in each one, which breaks scripts without an
  `if __name__ == "__main__":` guard and costs seconds per worker. Workers only run `sim`
  functions, pickled by module name, so they never need it. (This applies to every process this
  fork server starts, so code that starts its own `forkserver` processes after `sim` did, in the
  same interpreter, gets workers without its main module.)
"""

from __future__ import annotations

import signal
from multiprocessing import spawn

from sim.frozen_imports import import_frozen

# mesa, numpy, pandas and the model; what replicates (sim.runner) and sweep runs (executors) need;
# and what a sweep's worker stores its run's Parquet part with (store, pyarrow.parquet: ~15 ms a worker).
# Frozen (sim/frozen_imports.py): the workers' collections skip these objects, and forked workers
# share their pages instead of copying them when a collection would touch them.
import_frozen("sim.model.model", "sim.runner", "sim.experiments.executors", "sim.experiments.store",
              "pyarrow.parquet")


def _skip_main(_main: str) -> None:
    """Workers run `sim` functions only; the parent's main module is not needed there."""


signal.signal(signal.SIGINT, signal.SIG_IGN)
spawn._fixup_main_from_path = _skip_main  # type: ignore[attr-defined]
spawn._fixup_main_from_name = _skip_main  # type: ignore[attr-defined]
