"""The public Python API: the same pipeline as the command line, returning pandas frames.

import sim
result = sim.run("baseline", replicates=5)  # a built-in scenario by name, or a YAML file
result.summary.query("metric == 'influence'")
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.calibration.ensemble import Ensemble, band_note, manifest_entry, replicate_scenarios, resolve
from sim.fields import claims
from sim.model.streams import replicate_seeds
from sim.outputs.folder import RunFolder, claim_run_folder
from sim.outputs.tables import summarise
from sim.runner import run_scenario
from sim.scenario import Prepared, prepare, resolved_yaml
from sim.scenario.limits import check_run_size


@dataclass
class RunResult:
    """A finished run: its tables, and where its files were written (if they were)."""

    prepared: Prepared
    timeseries: pd.DataFrame
    events: pd.DataFrame
    seeds: list[int]
    wall_time_s: float
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    ensemble: Ensemble | None = None  # the parameter ensemble the replicates drew from (None: seeds only)
    members_used: list[dict[str, object]] = field(default_factory=list)  # replicate -> member, values applied

    @property
    def bands(self) -> str:
        """What the 10-90% bands show: `bands: seeds only` or `bands: seeds and parameter ensemble (N members)`
        (`K of N members` when the replicates drew fewer than all)."""
        return band_note(self.ensemble, self.members_used)

    @property
    def summary(self) -> pd.DataFrame:
        return summarise(self.timeseries)

    @property
    def name(self) -> str:
        return self.prepared.scenario.name


def rules_timeline(prepared: Prepared) -> list[dict[str, object]]:
    """The rules as the report shows them: id, kind, window, one-sentence summary, claims."""
    scenario = prepared.scenario
    return [
        {
            "id": rule_id,
            "kind": rule.kind,
            "start": rule.from_ or scenario.time.start,
            "end": rule.until or "open-ended",
            "summary": rule.describe(prepared.world),
            "sources": list(rule.sources),
        }
        for rule_id, rule in scenario.rules.items()
    ]


def resolved_for_output(prepared: Prepared, out_dir: Path | None) -> str:
    """The resolved scenario, with world paths made relative to the output folder so it re-runs."""
    scenario = prepared.scenario
    if out_dir is not None:
        world = {
            which: os.path.relpath(prepared.loaded.world_path(which), out_dir.resolve())
            for which in ("countries", "families")
        }
        scenario = scenario.model_copy(update={"world": scenario.world.model_copy(update=world)})
    return resolved_yaml(scenario)


def run(
    scenario: str | os.PathLike[str] | Prepared,
    *,
    replicates: int = 1,
    workers: int = 1,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    out: str | os.PathLike[str] | None = None,
    write: bool = False,
    progress: Callable[[int, int], None] | None = None,
    command_line: list[str] | None = None,
    force: bool = False,
    uncertainty: str | None = "seeds",
    ensemble: str | os.PathLike[str] | Ensemble | None = None,
    figure_formats: Sequence[str] | str | None = None,
    wide: bool = False,
) -> RunResult:
    """Run a scenario (a file, or a built-in name); with `write=True` (or `out`) write the contract outputs.

    `figure_formats`: png (the default), svg and/or pdf, a list or a comma list; `wide` also writes
    `timeseries_wide.csv` and `summary_wide.csv` with the group's keys as columns.

    `uncertainty`: `seeds` (the default here, the scenario as written), `ensemble` (replicate r also
    takes member r mod N of `ensemble`, default the shipped one; sim.calibration.ensemble), or None
    for what `sim run` does by default (`ensemble` when one ships, else `seeds`).

    Writing follows sim/outputs/folder.py: the output folder is locked and checked before the
    simulation starts (a folder of another scenario needs `force=True`), and the run appears in
    it complete or not at all. Raises LimitError when the run would not fit in memory.
    """
    from sim.outputs.formats import parse_figure_formats

    formats = parse_figure_formats(figure_formats)  # a bad format fails before the run, not after it
    prepared = scenario if isinstance(scenario, Prepared) else prepare(scenario, overrides)
    spec = prepared.scenario
    drawn = resolve(uncertainty, ensemble)
    check_run_size(spec, prepared.world, replicates, workers)  # before anything is allocated
    if not (write or out is not None):
        return _simulate(prepared, replicates, workers, seed, progress, drawn, overrides)
    out_dir = Path(out) if out is not None else Path("runs") / spec.name
    with claim_run_folder(out_dir, spec.name, force=force, protected=input_files(prepared)) as folder:
        result = _simulate(prepared, replicates, workers, seed, progress, drawn, overrides)
        _write_into(folder, result, command_line or [sys.argv[0], *sys.argv[1:]], formats, wide)
    return result


def _simulate(
    prepared: Prepared,
    replicates: int,
    workers: int,
    seed: int | None,
    progress: Callable[[int, int], None] | None,
    ensemble: Ensemble | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> RunResult:
    spec = prepared.scenario
    started = time.perf_counter()
    scenarios, used = replicate_scenarios(prepared, ensemble, replicates, overrides) if ensemble else (None, [])
    timeseries, events = run_scenario(spec, prepared.world, replicates, workers, seed, progress, scenarios)
    wall = time.perf_counter() - started
    base_seed = spec.seed if seed is None else seed
    return RunResult(prepared, timeseries, events, replicate_seeds(base_seed, replicates), wall,
                     ensemble=ensemble, members_used=used)


def input_files(prepared: Prepared) -> list[Path]:
    """The files a run reads (scenario chain and world data): an output folder must not hold them."""
    world = [prepared.loaded.world_path(which) for which in ("countries", "families")]
    return [*prepared.loaded.files, *world]


def write_outputs(
    result: RunResult, out_dir: Path, command_line: list[str], *, force: bool = False,
    figure_formats: Sequence[str] = ("png",), wide: bool = False,
) -> dict[str, Path]:
    """Write the contract outputs of a finished run into `out_dir`, all or nothing (manifest.json last)."""
    with claim_run_folder(out_dir, result.name, force=force, protected=input_files(result.prepared)) as folder:
        return _write_into(folder, result, command_line, figure_formats, wide)


def _write_into(folder: RunFolder, result: RunResult, command_line: list[str],
                figure_formats: Sequence[str] = ("png",), wide: bool = False) -> dict[str, Path]:
    """Write the outputs into the folder's staging area and swap them into place."""
    with folder.writing():
        staged = _write_files(result, folder.staging, Path(folder.shown), command_line, figure_formats, wide)
        folder.commit()
    files = {name: folder.final_path(path) for name, path in staged.items()}
    result.out_dir, result.files = Path(folder.shown), files
    return files


def _write_files(result: RunResult, staging: Path, out_dir: Path, command_line: list[str],
                 figure_formats: Sequence[str], wide: bool) -> dict[str, Path]:
    from sim.outputs import write_run_outputs
    from sim.outputs.manifest import build_manifest, scenario_hash

    prepared = result.prepared
    text = resolved_for_output(prepared, out_dir)
    manifest = build_manifest(
        scenario_name=result.name,
        scenario_hash=scenario_hash(resolved_yaml(prepared.scenario)),
        seeds=result.seeds,
        replicates=len(result.seeds),
        command_line=command_line,
        wall_time_s=result.wall_time_s,
        extra={"scenario_files": [str(p) for p in prepared.loaded.files], "bands": result.bands,
               "uncertainty": manifest_entry(result.ensemble, result.members_used)},
    )
    return write_run_outputs(
        staging,
        scenario_name=result.name,
        description=prepared.scenario.description,
        timeseries=result.timeseries,
        events=result.events,
        resolved_yaml=text,
        manifest=manifest,
        rules=rules_timeline(prepared),
        claims=claims(),
        headline=None,  # the writer's, from the summary it writes (computing it here would summarise twice)
        figure_formats=figure_formats,
        wide=wide,
    )
