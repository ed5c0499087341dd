"""`sim compare`: scenarios run in pairs with common random numbers, and the curves of their differences.

Every scenario runs with the same replicate seeds (`replicate_seeds(seed, n)`, the base scenario's
seed unless one is given), and the model splits its random draws into one stream per purpose
(`sim.model.streams`), so replicate r of two scenarios differs only through their rules and
parameters: a ban moves which family firms choose, not which firms re-evaluate. The paired
difference (other - base, replicate by replicate) then has far less noise than the difference of
two independent sets of runs; a scenario compared with itself differs by exactly zero.

Outputs (OUT defaults to runs/compare-<base>-vs-<others>/): each scenario's usual run outputs in
OUT/<scenario>/, OUT/difference.csv (median, mean and 10-90% band of the paired difference per
quarter, metric and group), OUT/difference_summary.csv (at the last quarter, with the share of
replicates in which the other scenario is higher), OUT/figures/*.png (.svg, .pdf when asked for),
OUT/compare.html (what differs, the numbers, the figures: sim/experiments/compare_page.py), and
OUT/manifest.json last; with `wide` also OUT/difference_wide.csv, the group's keys as columns.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.api import RunResult, run, write_outputs
from sim.calibration.ensemble import Ensemble, band_note, manifest_entry, resolve
from sim.experiments.compare_page import compare_page, difference_figure, headline_differences
from sim.metrics_registry import normalise_group
from sim.model.streams import replicate_seeds
from sim.quarters import parse_quarter
from sim.scenario import Prepared, prepare

__all__ = ["CompareResult", "compare", "compare_page", "difference_figure", "headline_differences", "write_compare"]

PAIR_KEYS = ["replicate", "step", "date", "metric", "group"]


@dataclass
class CompareResult:
    """Runs of each scenario (base first) and the paired differences from the base."""

    results: list[RunResult]
    labels: list[str]  # distinct names used for folders and in the tables (scenario names made unique)
    seeds: list[int]
    difference: pd.DataFrame
    difference_summary: pd.DataFrame
    wall_time_s: float = 0.0
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def base(self) -> RunResult:
        return self.results[0]


class CompareError(ValueError):
    """Scenarios that cannot be compared (exit 2): their runs would have no quarter in common."""


def unique_labels(names: Sequence[str]) -> list[str]:
    """Scenario names made distinct (`baseline`, `baseline-2`) for folders and table rows.

    A made-up label never takes another scenario's own name (`a`, `a`, `a-2` gives `a`, `a-3`, `a-2`),
    so no two scenarios share a folder."""
    taken = set(names)
    used: set[str] = set()
    labels = []
    for name in names:
        label, number = name, 1
        while label in used or (label != name and label in taken):
            number += 1
            label = f"{name}-{number}"
        used.add(label)
        labels.append(label)
    return labels


def _check_windows(prepared: Sequence[Prepared]) -> None:
    """Paired runs are matched quarter by quarter from their start: every scenario must start with the base."""
    base = prepared[0].scenario.time
    for other in prepared[1:]:
        time_ = other.scenario.time
        if time_.start != base.start:
            start, end = parse_quarter(time_.start), parse_quarter(time_.end)
            apart = start > parse_quarter(base.end) or parse_quarter(base.start) > end
            overlap = "do not overlap" if apart else "start in different quarters"
            raise CompareError(
                f"cannot compare {other.scenario.name!r} ({time_.start}-{time_.end}) with {prepared[0].scenario.name!r}"
                f" ({base.start}-{base.end}): their windows {overlap}, and paired runs are matched quarter by quarter "
                f"from the same start; give both the same time.start (e.g. --set time.start={base.start})"
            )


def paired_differences(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """other - base per replicate, step, metric and group (rows both runs have)."""
    left = base[[*PAIR_KEYS, "seed", "value"]].assign(group=base["group"].map(normalise_group))
    right = other[[*PAIR_KEYS, "seed", "value"]].assign(group=other["group"].map(normalise_group))
    pairs = left.merge(right, on=PAIR_KEYS, suffixes=("_base", "_other"), validate="one_to_one")
    if not (pairs["seed_base"] == pairs["seed_other"]).all():
        raise ValueError("paired runs must share their replicate seeds (common random numbers)")
    return pairs.assign(difference=pairs["value_other"] - pairs["value_base"])


def difference_table(pairs: pd.DataFrame, label: str, base_label: str) -> pd.DataFrame:
    """Median, mean and 10-90% band of the paired difference per quarter, metric and group."""
    grouped = pairs.groupby(["step", "date", "metric", "group"], sort=True)["difference"]
    table = pd.DataFrame({
        "mean": grouped.mean(), "median": grouped.median(),
        "q10": grouped.quantile(0.1), "q90": grouped.quantile(0.9),
    }).reset_index()
    table.insert(0, "baseline", base_label)
    table.insert(0, "scenario", label)
    return table.sort_values(["scenario", "metric", "group", "step"], kind="stable").reset_index(drop=True)


def difference_at_horizon(pairs: pd.DataFrame, label: str, base_label: str) -> pd.DataFrame:
    """At the last quarter both runs have: medians of each and of the difference, and the share of
    replicates in which the other scenario is higher / lower."""
    last = pairs[pairs["step"] == pairs["step"].max()]
    grouped = last.groupby(["date", "metric", "group"], sort=True)
    table = pd.DataFrame({
        "base_median": grouped["value_base"].median(),
        "other_median": grouped["value_other"].median(),
        "difference_median": grouped["difference"].median(),
        "difference_q10": grouped["difference"].quantile(0.1),
        "difference_q90": grouped["difference"].quantile(0.9),
        "share_higher": grouped["difference"].apply(lambda d: float((d > 0).mean())),
        "share_lower": grouped["difference"].apply(lambda d: float((d < 0).mean())),
    }).reset_index()
    table.insert(0, "baseline", base_label)
    table.insert(0, "scenario", label)
    return table


def compare(
    base: str | os.PathLike[str] | Prepared,
    *others: str | os.PathLike[str] | Prepared,
    replicates: int = 10,
    workers: int = 1,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
    write: bool = False,
    command_line: list[str] | None = None,
    uncertainty: str | None = "seeds",
    ensemble: str | os.PathLike[str] | Ensemble | None = None,
    figure_formats: Sequence[str] | str | None = None,
    wide: bool = False,
) -> CompareResult:
    """Run `base` and each of `others` with the same replicate seeds; difference curves from the base.

    `overrides` (`--set` texts) apply to every scenario. With `write=True` (or `out`) the outputs
    are written as described in this module's docstring. With `uncertainty="ensemble"` replicate r
    of every scenario takes the same ensemble member (r mod N), as it takes the same seed, so the
    pairs differ only by the scenarios (None: the default of `sim compare`, sim.calibration.ensemble).
    `figure_formats` (png, svg, pdf) and `wide` are as for `sim.run`.
    """
    from sim.outputs.formats import parse_figure_formats

    if not others:
        raise ValueError("compare needs a base scenario and at least one other")
    formats = parse_figure_formats(figure_formats)
    started = time.perf_counter()
    prepared = [p if isinstance(p, Prepared) else prepare(p, list(overrides)) for p in (base, *others)]
    _check_windows(prepared)  # before any run
    common_seed = prepared[0].scenario.seed if seed is None else seed
    drawn = resolve(uncertainty, ensemble)
    results = [run(p, replicates=replicates, workers=workers, seed=common_seed, overrides=list(overrides),
                   uncertainty="ensemble" if drawn else "seeds", ensemble=drawn) for p in prepared]
    labels = unique_labels([r.name for r in results])
    differences, summaries = [], []
    for result, label in zip(results[1:], labels[1:], strict=True):
        pairs = paired_differences(results[0].timeseries, result.timeseries)
        if pairs.empty:
            raise CompareError(f"{label} and {labels[0]} have no quarter in common to compare")
        differences.append(difference_table(pairs, label, labels[0]))
        summaries.append(difference_at_horizon(pairs, label, labels[0]))
    outcome = CompareResult(results, labels, replicate_seeds(common_seed, replicates),
                            pd.concat(differences, ignore_index=True), pd.concat(summaries, ignore_index=True),
                            time.perf_counter() - started)
    if write or out is not None:
        out_dir = Path(out) if out is not None else Path("runs") / f"compare-{labels[0]}-vs-{'-'.join(labels[1:])}"
        write_compare(outcome, out_dir, command_line or [sys.argv[0], *sys.argv[1:]], formats, wide)
    return outcome


def write_compare(result: CompareResult, out_dir: Path, command_line: list[str],
                  figure_formats: Sequence[str] = ("png",), wide: bool = False) -> dict[str, Path]:
    """Write every scenario's outputs, the difference tables, figures, page and manifest (last).

    Like `sim run`, the folder is locked, checked (another comparison's or a foreign folder is
    refused), written under a hidden staging folder and swapped in whole, so an interruption or a
    full disk leaves the previous contents as they were and a second command cannot mix into it.
    """
    from sim.outputs.folder import claim_run_folder

    title = f"{result.labels[0]} vs {', '.join(result.labels[1:])}"
    with claim_run_folder(out_dir, title, force_option=None) as folder, folder.writing():  # compare has no --force
        staged = _write_compare_files(result, folder.staging, title, command_line, figure_formats, wide)
        folder.commit()
    files = {name: folder.final_path(path) for name, path in staged.items()}
    result.out_dir, result.files = Path(folder.shown), files
    return files


def _write_compare_files(result: CompareResult, out_dir: Path, title: str, command_line: list[str],
                         figure_formats: Sequence[str], wide: bool) -> dict[str, Path]:
    from sim.experiments.compare_page import compare_figures
    from sim.fields import claims
    from sim.outputs.atomic import atomic_write_bytes
    from sim.outputs.figures import Stamp, render_figures
    from sim.outputs.manifest import MANIFEST_NAME, build_manifest, file_entry, manifest_bytes, scenario_hash
    from sim.outputs.tables import csv_bytes, with_group_keys
    from sim.scenario import resolved_yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for run_result, label in zip(result.results, result.labels, strict=True):
        write_outputs(run_result, out_dir / label, command_line, figure_formats=figure_formats, wide=wide)
        files |= {path.relative_to(out_dir).as_posix(): path for path in (out_dir / label).rglob("*") if path.is_file()}

    def put(name: str, data: bytes) -> None:
        files[name] = atomic_write_bytes(out_dir / name, data)

    put("difference.csv", csv_bytes(result.difference))
    put("difference_summary.csv", csv_bytes(result.difference_summary))
    if wide:
        put("difference_wide.csv", csv_bytes(with_group_keys(result.difference)))
    manifest = build_manifest(
        scenario_name=title,
        scenario_hash=scenario_hash("".join(resolved_yaml(r.prepared.scenario) for r in result.results)),
        seeds=result.seeds, replicates=len(result.seeds),
        command_line=command_line, wall_time_s=result.wall_time_s,
        extra={"scenarios": result.labels, "compared_with": result.labels[0],
               "bands": band_note(result.base.ensemble, result.base.members_used),
               "uncertainty": manifest_entry(result.base.ensemble, result.base.members_used)},
    )
    stamp = Stamp.from_manifest(manifest)
    images, shown = render_figures(compare_figures(result, title), figure_formats, stamp)
    for name, data in images.items():
        put(name, data)
    put("compare.html", compare_page(result, shown, manifest, claims(), stamp).encode("utf-8"))
    # Like a run's manifest: every file with its hash, so a re-run knows what it may replace.
    listed = {name: file_entry(files[name].read_bytes()) for name in sorted(files)}
    files[MANIFEST_NAME] = atomic_write_bytes(out_dir / MANIFEST_NAME, manifest_bytes({**manifest, "files": listed}))
    return files
