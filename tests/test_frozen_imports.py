"""The `sim` command pauses and freezes the garbage collector around its imports; code that calls
`sim` in its own process (tests, notebooks) keeps its collector as it was."""

from __future__ import annotations

import gc
import sys

from conftest import BASELINE
from sim import cli
from sim.frozen_imports import import_frozen


def test_import_frozen_imports_freezes_and_restores_the_collector() -> None:
    was_enabled = gc.isenabled()
    sys.modules.pop("sim.outputs.units", None)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            import_frozen("sim.outputs.units")
            assert "sim.outputs.units" in sys.modules
            assert gc.isenabled() is enabled  # the collector runs again only if it ran before
            assert gc.get_freeze_count() > 0  # what the imports made is out of the collector's walks
    finally:
        gc.unfreeze()
        (gc.enable if was_enabled else gc.disable)()


def test_sim_run_called_in_process_leaves_the_collector_alone(tmp_path) -> None:
    gc.unfreeze()
    code = cli.main(["run", str(BASELINE), "--set", "population.firms=300", "--set", "time.end=2023Q4",
                     "--out", str(tmp_path / "out"), "--quiet"])
    assert code == cli.EXIT_OK
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
