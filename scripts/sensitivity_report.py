"""Write docs/sensitivity.md and .png: Sobol indices of the baseline's outcomes over every behavioural parameter.

    python scripts/sensitivity_report.py [--workers 2] [--samples N] [--firms F] [--fresh]
    python scripts/sensitivity_report.py --quick --out DIR      # smoke test: 3 factors, N=4, seconds

Factors, ranges, exclusions, outcomes and the design size are data in scenarios/data/sensitivity.yaml
(plus any `uncertainties` the baseline declares). The defaults and the judgement ranges given relative
to them are read from scenarios/baseline.yaml at run time, so the study follows a recalibration.

Design: SALib's Saltelli sampling on a scrambled Sobol sequence without second-order terms
(N x (factors + 2) runs); analysis with `SALib.analyze.sobol` (first-order S1 after Saltelli et al.
2010, total ST after Jansen 1999) with bootstrap confidence intervals. Every design point is one run of
the baseline with the same seed (common random numbers); runs at the defaults with other seeds, at the
design's firm count and at the baseline's, give each outcome's noise floor. A structural switch
(`parameters.structure.*`) is sampled as a uniform on [0, 1] and is true from 0.5 up; a whole-number
field takes each whole number of its range with equal probability.

A run takes about 0.08 CPU s whatever the firm count, so the settings' N = 256 (95 factors: 24,832 runs)
takes about 35 CPU minutes, under 20 minutes on 2 idle cores; `--samples 64` a quarter of that.

Finished runs are cached in runs/sensitivity/<key>.npz (the key hashes the design, the resolved
scenario, the world data and the model's code), so an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel

from sim.model.streams import replicate_seeds
from sim.outputs.atomic import atomic_write_bytes, atomic_write_text
from sim.scenario import prepare
from sim.scenario.load import resolved_yaml
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SETTINGS = ROOT / "scenarios" / "data" / "sensitivity.yaml"
DOCS = ROOT / "docs"
CACHE = ROOT / "runs" / "sensitivity"
COMMAND = "python scripts/sensitivity_report.py"
NARROW = 0.1  # an interval is narrow when its full width (high - low) is below this
MAIN = 0.05  # a factor is a main one for an outcome when its ST is at least this
NOISY = 0.25  # an outcome whose seed noise is this share of its design variance or more is called noisy
QUICK_FACTORS = 3  # --quick: the first two factors and the first switch
SAVE_EVERY_S = 30.0  # how often finished runs are written to the cache


class SettingsError(SystemExit):
    """A problem in sensitivity.yaml, said with the file and the factor it concerns."""

    def __init__(self, message: str):
        super().__init__(f"{SETTINGS.relative_to(ROOT)}: {message}")


@dataclass
class Factor:
    """One factor of the design, its span resolved against the scenario's defaults."""

    path: str
    low: float
    high: float
    kind: str  # "float", "integer" or "switch"
    default: float
    source: str
    meaning: str
    clipped: bool = False  # a relative span cut at the field's bounds


# --- the scenario's fields -------------------------------------------------------------------------

def value_at(scenario: Scenario, path: str) -> Any:
    """The scenario's value at a dotted factor path (`parameters.labs.open_bias`, `rules.<id>.<field>`)."""
    value: Any = scenario
    for key in path.split("."):
        if isinstance(value, dict):
            if key not in value:
                raise KeyError(path)
            value = value[key]
        elif isinstance(value, BaseModel) and key in type(value).model_fields:
            value = getattr(value, key)
        else:
            raise KeyError(path)
    return value


def bounds_of(scenario: Scenario, path: str) -> dict[str, float]:
    """The field's constraints at `path`: any of ge, gt, le, lt."""
    parent_path, _, name = path.rpartition(".")
    parent = value_at(scenario, parent_path)
    if not isinstance(parent, BaseModel):
        return {}
    found: dict[str, float] = {}
    for item in type(parent).model_fields[name].metadata:
        for key in ("ge", "gt", "le", "lt"):
            if getattr(item, key, None) is not None:
                found[key] = float(getattr(item, key))
    return found


def numeric_fields(scenario: Scenario) -> list[str]:
    """Every number under `parameters.` and in the rules (fields of the schema, not list items or path
    levels), and every switch under `parameters.`: what the study must vary or exclude with a reason."""
    found: list[str] = []

    def walk(obj: Any, path: str, switches: bool) -> None:
        if isinstance(obj, dict):
            for key, item in obj.items():
                if isinstance(item, BaseModel | dict):
                    walk(item, f"{path}.{key}", switches)
            return
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            if isinstance(value, BaseModel | dict):
                walk(value, f"{path}.{name}", switches)
            elif isinstance(value, bool):
                if switches:
                    found.append(f"{path}.{name}")
            elif isinstance(value, int | float):
                found.append(f"{path}.{name}")

    walk(scenario.parameters, "parameters", True)
    walk(scenario.rules, "rules", False)  # a rule's booleans choose targets (`all`), not behaviour
    return found


def unlisted(settings: dict, factors: list[Factor], scenario: Scenario) -> list[str]:
    """Numeric fields of the scenario that are neither a factor nor excluded."""
    varied = {f.path for f in factors}
    patterns = [e["path"] for e in settings.get("excluded", [])]
    return [p for p in numeric_fields(scenario)
            if p not in varied and not any(fnmatch.fnmatchcase(p, pattern) for pattern in patterns)]


def resolve_factors(settings: dict, scenario: Scenario) -> list[Factor]:
    """The settings' factors plus the scenario's declared uncertainties, spans resolved and checked."""
    entries = [dict(f) for f in settings["factors"]]
    paths = {f["path"] for f in entries}
    for name, u in scenario.uncertainties.items():
        if u.path not in paths:
            entries.append({"path": u.path, "range": list(u.range), "source": f"uncertainty {name}",
                            "meaning": u.meaning or name})
    factors = []
    for entry in entries:
        path = entry["path"]
        try:
            default = value_at(scenario, path)
        except KeyError:
            raise SettingsError(f"factor {path}: the baseline has no such field") from None
        kind = "switch" if isinstance(default, bool) else "integer" if isinstance(default, int) else "float"
        if isinstance(default, str) or default is None:
            raise SettingsError(f"factor {path}: not a number or a switch ({default!r})")
        bounds = bounds_of(scenario, path)
        clipped = False
        if kind == "switch":
            low, high, source = 0.0, 1.0, "switch: uniform on [0, 1], true from 0.5"
        elif "relative" in entry:
            a, b = sorted(float(m) * float(default) for m in entry["relative"])
            low, high = max(a, bounds.get("ge", -math.inf)), min(b, bounds.get("le", math.inf))
            clipped = (low, high) != (a, b)
            m0, m1 = entry["relative"]
            source = f"judgement: {m0:g}x to {m1:g}x the default" + (" (cut at the field's bound)" if clipped else "")
        elif "range" in entry:
            low, high = map(float, entry["range"])
            source = entry.get("source", "")
            if not source:
                raise SettingsError(f"factor {path}: a fixed range needs a `source` saying where it comes from")
        else:
            raise SettingsError(f"factor {path}: give `range: [low, high]` or `relative: [low, high]`")
        if kind == "integer":
            low, high = float(round(low)), float(round(high))
        if not low < high:
            raise SettingsError(f"factor {path}: its span {low:g} to {high:g} is empty")
        factors.append(Factor(path, low, high, kind, float(default), source, entry.get("meaning", ""), clipped))
    return factors


def range_problems(factors: list[Factor], scenario: Scenario) -> list[str]:
    """Factors whose span leaves the field's bounds or does not contain the default."""
    problems = []
    for f in factors:
        if f.kind == "switch":
            continue
        b = bounds_of(scenario, f.path)
        if f.low < b.get("ge", -math.inf) or f.low <= b.get("gt", -math.inf) or \
                f.high > b.get("le", math.inf) or f.high >= b.get("lt", math.inf):
            problems.append(f"{f.path}: span {f.low:g} to {f.high:g} leaves the field's bounds {b}")
        if not f.low <= f.default <= f.high:
            problems.append(f"{f.path}: span {f.low:g} to {f.high:g} does not contain the default {f.default:g}")
    return problems


# --- design ------------------------------------------------------------------------------------------

def design_values(factors: list[Factor], unit: np.ndarray) -> list[list[tuple[str, Any]]]:
    """Each row of the unit-cube design as (path, value) assignments in the fields' own types."""
    rows = []
    for point in unit:
        row: list[tuple[str, Any]] = []
        for f, u in zip(factors, point, strict=True):
            if f.kind == "switch":
                row.append((f.path, bool(u >= 0.5)))
            elif f.kind == "integer":
                count = int(f.high - f.low) + 1  # each whole number gets an equal share of [0, 1)
                row.append((f.path, int(f.low) + min(int(u * count), count - 1)))
            else:
                row.append((f.path, float(f.low + u * (f.high - f.low))))
        rows.append(row)
    return rows


def overrides(assignments: list[tuple[str, Any]]) -> list[str]:
    """The same assignments as `--set` texts (what a reader would type to rerun a design point)."""
    return [f"{path}={str(value).lower() if isinstance(value, bool) else repr(value)}" for path, value in assignments]


_BASES: dict[tuple[str, int | None], tuple[dict, Any]] = {}


def _base(scenario_path: str, firms: int | None) -> tuple[dict, Any]:
    # Prepared once per worker process; each design point changes a copy of its plain data.
    key = (scenario_path, firms)
    if key not in _BASES:
        prepared = prepare(scenario_path, [f"population.firms={firms}"] if firms else [])
        data = prepared.scenario.model_dump(mode="json", by_alias=True, exclude={"extends"})
        _BASES[key] = (data, prepared.world)
    return _BASES[key]


def scenario_with(data: dict, assignments: list[tuple[str, Any]]) -> Scenario:
    """The scenario of plain `data` with each (dotted path, value) set, validated."""
    data = copy.deepcopy(data)
    for path, value in assignments:
        target = data
        *parents, name = path.split(".")
        for key in parents:
            target = target[key]
        target[name] = value
    return Scenario.model_validate(data)


def outcome_values(rows: list, outcomes: list[dict]) -> np.ndarray:
    """Each outcome's mean over its quarters, from a model's metric rows (step, date, metric, group, value)."""
    wanted = {(o["metric"], o["group"], q): k for k, o in enumerate(outcomes) for q in o["quarters"]}
    first = min(q for o in outcomes for q in o["quarters"])  # rows come quarter by quarter: read from the end
    sums, counts = np.zeros(len(outcomes)), np.zeros(len(outcomes))
    for _, date, metric, group, value in reversed(rows):
        if date < first:
            break
        k = wanted.get((metric, group, date))
        if k is not None:
            sums[k] += value
            counts[k] += 1
    missing = [o["label"] for o, c in zip(outcomes, counts, strict=True) if c == 0]
    if missing:
        raise ValueError(f"the run has no values for the outcome(s) {missing}")
    return sums / counts


def run_point(job: dict) -> tuple[np.ndarray, float]:
    """One run: the outcomes' values and the CPU seconds it took (in whichever process runs it)."""
    from sim.model.model import GeopoliticsModel
    from sim.runner import release_model

    started = time.process_time()
    data, world = _base(job["scenario"], job["firms"])
    scenario = scenario_with(data, job["set"])
    model = GeopoliticsModel(scenario, world, seed=job["seed"], create_agents=False)
    model.run()
    values = outcome_values(model.rows, job["outcomes"])
    release_model(model)
    return values, time.process_time() - started


# --- cache -------------------------------------------------------------------------------------------

def code_digest() -> str:
    """A hash of the model's source: a cached result is reused only with the same code."""
    digest = hashlib.sha256()
    for folder in ("model", "rules", "scenario"):
        for file in sorted((ROOT / "sim" / folder).rglob("*.py")):
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


class Cache:
    """Outcome values of finished runs in an .npz, written atomically now and then.

    Its key leaves out N: the noise runs come first and a Sobol design of N points begins with the
    design of N/2, so a study with a larger N reuses the runs of a smaller one (and the other way round).
    """

    def __init__(self, path: Path | None, jobs: int, outcomes: int, resume: bool = True):
        self.path = path
        self.values = np.full((jobs, outcomes), np.nan)
        self.seconds = np.zeros(jobs)
        self.done = np.zeros(jobs, dtype=bool)
        self.wall = 0.0  # seconds spent running, over every invocation that added runs
        if resume and path is not None and path.is_file():
            with np.load(path) as saved:
                if saved["values"].shape[1] == outcomes:
                    n = min(jobs, len(saved["done"]))
                    self.values[:n], self.seconds[:n], self.done[:n] = (
                        saved["values"][:n], saved["seconds"][:n], saved["done"][:n])
                    self.wall = float(saved["wall"]) if "wall" in saved else 0.0
                    self._kept = saved["values"][n:], saved["seconds"][n:], saved["done"][n:]
        self.from_cache = int(self.done.sum())
        self._saved = time.monotonic()

    def put(self, index: int, values: np.ndarray, seconds: float) -> None:
        self.values[index], self.seconds[index], self.done[index] = values, seconds, True
        if time.monotonic() - self._saved > SAVE_EVERY_S:
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        buffer = io.BytesIO()
        values, seconds, done = self.values, self.seconds, self.done
        kept = getattr(self, "_kept", None)
        if kept is not None and kept[2].any():  # runs of a larger N than this study's: keep them
            values, seconds, done = (np.concatenate([a, b]) for a, b in zip((values, seconds, done), kept, strict=True))
        np.savez(buffer, values=values, seconds=seconds, done=done, wall=self.wall)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, buffer.getvalue())
        self._saved = time.monotonic()


def run_all(jobs: list[dict], cache: Cache, workers: int) -> None:
    """Run the jobs the cache does not have, `workers` at a time, saving progress as it goes."""
    from sim.workers import processes_for, run_jobs

    pending = [i for i in range(len(jobs)) if not cache.done[i]]
    if not pending:
        return
    # Workers come from a fork server, which does not import this script as __main__: they find
    # `run_point` by importing the script as a module from its folder (on sys.path when the server starts).
    if str(Path(__file__).parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).parent))
    from sensitivity_report import run_point as worker_run_point

    started, shown = time.monotonic(), time.monotonic()
    processes = processes_for(workers, len(pending))
    try:
        if processes:
            finished = ((pending[f.index], f.result) for f in
                        run_jobs(worker_run_point, [jobs[i] for i in pending], processes, jobs_per_worker=400))
        else:
            finished = ((i, run_point(jobs[i])) for i in pending)
        for n, (index, (values, seconds)) in enumerate(finished, start=1):
            cache.put(index, values, seconds)
            if time.monotonic() - shown > 60 or n == len(pending):
                rate = n / (time.monotonic() - started)
                print(f"  {n:,}/{len(pending):,} runs, {rate:.1f}/s, about {(len(pending) - n) / rate / 60:.0f} min "
                      "left", file=sys.stderr, flush=True)
                shown = time.monotonic()
    finally:
        cache.wall += time.monotonic() - started
        cache.save()


# --- analysis ----------------------------------------------------------------------------------------

def analyse(problem: dict, y: np.ndarray, resamples: int, confidence: float, seed: int) -> dict[str, np.ndarray]:
    """S1, ST and their confidence half-widths; NaN throughout when the outcome does not vary."""
    from SALib.analyze import sobol as sobol_analyze

    k = problem["num_vars"]
    if not np.all(np.isfinite(y)) or np.var(y) == 0:
        nan = np.full(k, np.nan)
        return {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
    result = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=resamples,
                                   conf_level=confidence, seed=seed)
    return {key: np.asarray(result[key], dtype=float) for key in ("S1", "S1_conf", "ST", "ST_conf")}


def base_rows(n: int, k: int) -> np.ndarray:
    """Indices of the A and B matrices' rows in a Saltelli design without second-order terms."""
    starts = np.arange(n) * (k + 2)
    return np.sort(np.concatenate([starts, starts + k + 1]))


def switch_effects(factors: list[Factor], values: list[list[tuple[str, Any]]], y: np.ndarray,
                   n: int) -> dict[str, np.ndarray]:
    """Per switch: the mean paired change of each outcome from off to on, 1.96 standard errors, and the pairs.

    In the Saltelli design row AB_j of point i is row A_i with factor j taken from B_i: where the switch
    differs between them, the two runs differ in the switch alone (same seed, same other factors).
    """
    k = len(factors)
    effects = {}
    for j, f in enumerate(factors):
        if f.kind != "switch":
            continue
        diffs = []
        for i in range(n):
            a, ab = i * (k + 2), i * (k + 2) + 1 + j
            on_a, on_ab = values[a][j][1], values[ab][j][1]
            if on_a != on_ab:
                diffs.append(y[a] - y[ab] if on_a else y[ab] - y[a])
        if len(diffs) < 2:
            continue
        d = np.array(diffs)
        effects[f.path] = np.stack([d.mean(axis=0), 1.96 * d.std(axis=0, ddof=1) / np.sqrt(len(d)),
                                    np.full(d.shape[1], len(d))])
    return effects


# --- report ------------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 0.001 or x == 0 else f"{x:.1e}"


def _pct(share: float) -> str:
    return "n/a" if not np.isfinite(share) else f"{100 * share:.3g}%"


def _idx(value: float, conf: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f} ± {conf:.3f}"


def _short(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[-2:]) if parts[0] == "rules" or "sectors" in parts else parts[-1]


def _span(f: Factor) -> str:
    if f.kind == "switch":
        return "false / true"
    text = f"{f.low:g} to {f.high:g}"
    return text + " (whole numbers)" if f.kind == "integer" else text


def not_narrow(result: dict[str, np.ndarray]) -> tuple[list[int], list[int], list[int]]:
    """Factor indices: main ones (ST >= MAIN) with a wide ST interval, any with a wide ST interval, and
    any whose S1 or ST leaves [0, 1] by more than its interval."""
    st, st_c, s1, s1_c = result["ST"], result["ST_conf"], result["S1"], result["S1_conf"]
    wide = [i for i in range(len(st)) if np.isfinite(st_c[i]) and 2 * st_c[i] >= NARROW]
    main_wide = [i for i in wide if st[i] >= MAIN]
    outside = [i for i in range(len(st)) if np.isfinite(st[i]) and (
        st[i] + st_c[i] < 0 or st[i] - st_c[i] > 1 or s1[i] + s1_c[i] < 0 or s1[i] - s1_c[i] > 1)]
    return main_wide, wide, outside


def report(info: dict, factors: list[Factor], settings: dict, outcomes: list[dict],
           results: list[dict[str, np.ndarray]], effects: dict[str, np.ndarray], y: np.ndarray,
           noise: np.ndarray, noise_fewer: np.ndarray, figure: str | None) -> str:
    """docs/sensitivity.md as text."""
    d = info
    k = len(factors)
    conf = round(100 * d["confidence"])
    rows = base_rows(d["samples"], k)
    lines = [
        "# Sensitivity of the outcomes to every behavioural parameter",
        "",
        f"Generated by `{COMMAND}{d['arguments']}` from fresh runs of `scenarios/baseline.yaml`. "
        "Do not edit by hand.",
        "",
        "## Method",
        "",
        f"- **Factors**: {k} ({sum(f.kind == 'switch' for f in factors)} structural switches, "
        f"{sum(f.kind == 'integer' for f in factors)} whole-number fields), every behavioural parameter of the "
        "baseline: each numeric field under `parameters.`, the Model v2 switches and the behavioural fields of "
        "the baseline's rules (scenarios/data/sensitivity.yaml; the fields left out, with reasons, are listed "
        "at the end). Defaults are the scenario's at the time of the run. A span is the parameter's "
        "\"plausible\" span from its meaning where it has one, else a judgement span (mostly half to 1.5 "
        "times the default), labelled as such below.",
        "- **Structural switches** (`parameters.structure.*`, a Model v2 mechanism or its simpler "
        "alternative) are sampled as a uniform on [0, 1] and **thresholded at 0.5**: true (the v2 mechanism) "
        "from 0.5 up, so half the design runs each way. A **whole-number** field takes each whole number of "
        "its span with equal probability.",
        f"- **Design**: Saltelli sampling on a scrambled Sobol sequence (SALib `sample.sobol`, "
        f"`calc_second_order=False`, seed {d['design_seed']}) with N = {d['samples']}: N x (factors + 2) = "
        f"{d['design_runs']:,} runs, each of {d['firms']:,} firms with the same seed {d['seed']} (common "
        "random numbers). Firms per run: "
        + (f"the baseline's own. Fewer would not pay: a run of {d['compare_firms']:,} firms took (median) "
           f"{d['cpu_per_run'][2]:.2f} CPU s against {d['cpu_per_run'][1]:.2f} s at {d['firms']:,} (the cost is "
           "in the labs, countries, rules and metrics, not the firms), and its seed noise is larger (summary "
           "table)." if d["firms"] == d["baseline_firms"] else
           f"{d['firms']:,} instead of the baseline's {d['baseline_firms']:,}."),
        f"- **Analysis**: `SALib.analyze.sobol`: first-order **S1** (Saltelli et al. 2010) and total **ST** "
        f"(Jansen 1999) with {d['resamples']:,} bootstrap resamples; ± is the half-width of the {conf}% "
        f"interval. An interval counts as **narrow** when its full width is below {NARROW:g}.",
        f"- **Noise floor**: {d['noise_runs']} runs at the defaults with the seeds of replicates "
        f"0-{d['noise_runs'] - 1}, at {d['firms']:,} firms and again at {d['compare_firms']:,}. "
        "*Noise share* is the variance over seeds at the defaults divided by the outcome's variance over the "
        "design (its A and B points): about the share of the indices that is the random draws, not the "
        "parameters. Common random numbers do not remove it: a change of parameter changes which draws "
        "each firm gets later in the run, so seed noise enters the design as spurious interactions and "
        "inflates ST (most visibly of the factors that matter least).",
        f"- **Cost**: {d['runs']:,} runs, {d['cpu_s'] / 60:.1f} CPU minutes in the runs "
        f"(median {d['cpu_per_run'][0]:.2f} s a run), {d['wall_s'] / 60:.1f} minutes of wall time running them on "
        f"{d['workers']} worker processes ({d['cpus']} CPUs, shared with other work at the time)"
        + (f"; {d['cached']:,} runs came from the cache of an earlier invocation" if d["cached"] else "") + ".",
        "",
        "## Summary",
        "",
        f"| outcome | value at the defaults | seed noise (sd) at {d['firms']:,} / {d['compare_firms']:,} firms | "
        "noise share | sum of S1 | largest ST | widest ST interval of a main factor |",
        "|---|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    warnings: list[str] = []
    shares: list[float] = []
    for k_out, (o, r) in enumerate(zip(outcomes, results, strict=True)):
        sd, sd_fewer = noise[:, k_out].std(ddof=1), noise_fewer[:, k_out].std(ddof=1)
        total = y[rows, k_out].var(ddof=1)
        share = sd**2 / total if total > 0 else math.nan
        shares.append(share)
        order = [i for i in np.argsort(-np.nan_to_num(r["ST"], nan=-1), kind="stable")]
        top = ", ".join(f"`{_short(factors[i].path)}` {r['ST'][i]:.2f}" for i in order[:3] if np.isfinite(r["ST"][i]))
        main_wide, wide, outside = not_narrow(r)
        main = [i for i in order if np.isfinite(r["ST"][i]) and r["ST"][i] >= MAIN]
        widest = max(main, key=lambda i: r["ST_conf"][i], default=None)
        widest_text = "n/a" if widest is None else f"±{r['ST_conf'][widest]:.2f} (`{_short(factors[widest].path)}`)"
        lines.append(f"| {o['label']} | {_fmt(noise[0, k_out])} | {_fmt(sd)} / {_fmt(sd_fewer)} | "
                     f"{_pct(share)} | {_fmt(float(np.nansum(r['S1'])))} | {top or 'n/a'} | {widest_text} |")
        verdict = [f"**{o['label']}**: "]
        if main:
            verdict.append(f"{len(main)} main factor{'s' if len(main) > 1 else ''} (ST >= {MAIN:g}); ")
            verdict.append("all with narrow ST intervals" if not main_wide else
                           f"wide ST interval for {', '.join(f'`{_short(factors[i].path)}`' for i in main_wide)}")
        else:
            verdict.append(f"no factor reaches ST {MAIN:g}")
        verdict.append(f"; {len(wide)} of {len(factors)} factors have a wide ST interval")
        if wide:
            widest = sorted(wide, key=lambda i: -r["ST_conf"][i])[:5]
            named = ", ".join(f"`{_short(factors[i].path)}` ±{r['ST_conf'][i]:.2f}" for i in widest)
            verdict.append(f" (widest: {named})")
        verdict.append(".")
        if outside:
            verdict.append(f" ⚠ Outside [0, 1] beyond their interval: "
                           f"{', '.join(f'`{_short(factors[i].path)}`' for i in outside)}.")
        warnings.append("".join(verdict))
        details += [
            "",
            f"### {o['label']}",
            "",
            f"`{o['metric']}` ({o['group']}), mean of {o['quarters'][0]}-{o['quarters'][-1]}; at the defaults "
            f"{_fmt(noise[0, k_out])}, seed noise {_fmt(sd)} ({_pct(share)} of the design's variance), "
            f"design range {_fmt(float(y[rows, k_out].min()))} to {_fmt(float(y[rows, k_out].max()))}.",
            "",
            f"| rank | factor | ST ({conf}% CI) | S1 ({conf}% CI) |",
            "|---|---|---|---|",
        ]
        for rank, i in enumerate(order, start=1):
            flag = " ⚠" if i in outside else ""
            details.append(f"| {rank} | `{factors[i].path}`{flag} | {_idx(r['ST'][i], r['ST_conf'][i])} | "
                           f"{_idx(r['S1'][i], r['S1_conf'][i])} |")
    if figure:
        lines += ["", f"![ST with {conf}% intervals, largest factors of each outcome]({figure})", "",
                  f"ST (bars, with {conf}% intervals cut at the panel's edge) and S1 (dots) of the 12 largest "
                  "factors of each outcome."]
    noisy = [o["label"] for o, share in zip(outcomes, shares, strict=True) if share >= NOISY]
    if noisy:
        lines += ["", f"Noise share of {NOISY:.0%} or more: {'; '.join(noisy)}. For these the random draws make "
                  "up a large part of the variance the design sees, so their indices partly say which parameters "
                  "reshuffle the draws (discrete events, such as a lab's open or closed release decision, that "
                  "tip the outcome one way or the other) rather than a steady effect; a steadier reading needs "
                  "the mean of several seeds at each design point, at a multiple of the cost."]
    runs_default = d["settings_samples"] * (k + 2)
    lines += ["", "## What is not narrow", "",
              f"With N = {d['samples']}. The settings' N = {d['settings_samples']} ({runs_default:,} design runs, "
              f"about {runs_default * d['cpu_per_run'][0] / 60:.0f} CPU minutes at this study's "
              f"{d['cpu_per_run'][0]:.2f} s a run, so about {runs_default * d['cpu_per_run'][0] / 120:.0f} minutes "
              "on 2 otherwise idle cores) narrows every interval by about a factor sqrt(N ratio)"
              + (f" ({math.sqrt(d['settings_samples'] / d['samples']):.1f} here)"
                 if d["settings_samples"] != d["samples"] else "") + "; the seed noise above does not shrink with N.",
              "", *[f"- {w}" for w in warnings]]
    switches = [f for f in factors if f.kind == "switch"]
    if switches:
        lines += [
            "",
            "## Structural switches",
            "",
            "Each cell: the switch's ST ± its interval, its rank among all factors by ST, and the mean outcome "
            "with the Model v2 mechanism on minus off, paired: over the design's pairs of runs that differ in "
            "the switch alone (same seed, same other factors; ± 1.96 standard errors). "
            + "; ".join(f"`{_short(f.path)}`: {f.meaning}" for f in switches) + ".",
            "",
            "| outcome | " + " | ".join(
                f"`{_short(f.path)}`" + (f" ({int(effects[f.path][2, 0])} pairs)" if f.path in effects else "")
                for f in switches) + " |",
            "|---|" + "---|" * len(switches),
        ]
        for o, r in zip(outcomes, results, strict=True):
            k_out = outcomes.index(o)
            ranks = np.empty(k, dtype=int)
            ranks[np.argsort(-np.nan_to_num(r["ST"], nan=-1), kind="stable")] = np.arange(1, k + 1)
            cells = []
            for f in switches:
                j = factors.index(f)
                effect = effects.get(f.path)
                diff = f"; on - off {_fmt(effect[0, k_out])} ± {_fmt(effect[1, k_out])}" if effect is not None else ""
                cells.append(f"ST {_idx(r['ST'][j], r['ST_conf'][j])} (#{ranks[j]}){diff}")
            lines.append(f"| {o['label']} | " + " | ".join(cells) + " |")
    lines += ["", "## Indices by outcome", "", "Sorted by ST; ⚠ marks an index outside [0, 1] beyond its interval.",
              *details]
    lines += [
        "",
        "## Factors and spans",
        "",
        "| factor | default | span | source of the span | meaning |",
        "|---|---|---|---|---|",
        *[f"| `{f.path}` | {str(bool(f.default)).lower() if f.kind == 'switch' else _fmt(f.default)} | {_span(f)} | "
          f"{f.source} | {f.meaning} |" for f in factors],
        "",
        "## Left out",
        "",
        "| field | why |",
        "|---|---|",
        *[f"| `{e['path']}` | {e['reason']} |" for e in settings.get("excluded", [])],
        "",
        "## Reading it",
        "",
        "S1 is the share of an outcome's variance over the design that a factor explains alone; ST adds "
        "its interactions with every other factor; ST - S1 is the part that depends on the others. Both "
        "depend on the spans: a factor matters partly because its span is wide, and the judgement spans "
        "are not fitted. The validation of the baseline against what the world did is in "
        "[validation.md](validation.md).",
        "",
    ]
    return "\n".join(lines)


def figure_png(factors: list[Factor], outcomes: list[dict], results: list[dict[str, np.ndarray]],
               top: int = 12) -> bytes:
    """ST with its interval (bars) and S1 (dots, interval in the tables) for the largest factors of each outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2
    nrows = math.ceil(len(outcomes) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 3.2 * nrows), squeeze=False)
    for ax, o, r in zip(axes.flat, outcomes, results, strict=False):
        order = [i for i in np.argsort(-np.nan_to_num(r["ST"], nan=-1), kind="stable")[:top]][::-1]
        ys = np.arange(len(order))
        ax.barh(ys, [r["ST"][i] for i in order], xerr=[r["ST_conf"][i] for i in order], color="#4c72b0",
                alpha=0.8, capsize=2, label="ST")
        ax.plot([r["S1"][i] for i in order], ys, "o", color="#dd8452", markersize=3, label="S1")
        ax.set_yticks(ys, [_short(factors[i].path) for i in order], fontsize=7)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_xlim(-0.1, 1.1)  # indices live in [0, 1]; a wider interval runs off the panel
        ax.set_title(o["label"], fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


# --- main --------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--samples", type=int, help="N, a power of 2 (default from the settings)")
    parser.add_argument("--firms", type=int, help="firms per design run (default from the settings)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: the first {QUICK_FACTORS - 1} factors and a switch, N=4, 300 firms, "
                             "3 noise seeds, 100 resamples; writes to runs/sensitivity-quick unless --out")
    parser.add_argument("--out", type=Path, help="folder for sensitivity.md and sensitivity.png (default docs/)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of the resumable run cache")
    parser.add_argument("--fresh", action="store_true", help="ignore runs cached by an earlier invocation")
    args = parser.parse_args()
    wall = time.monotonic()
    settings = yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))
    design = dict(settings["design"])
    if args.quick:
        design.update(samples=4, firms=300, compare_firms=200, noise_seeds=1, resamples=100)
    design["samples"] = args.samples or design["samples"]
    full = prepare(BASELINE)
    design["firms"] = args.firms or design.get("firms") or full.scenario.population.firms
    n = design["samples"]
    if n < 2 or n & (n - 1):
        raise SystemExit(f"--samples {n}: the Sobol design needs a power of 2 (like 64, 128, 256)")
    out = args.out or (ROOT / "runs" / "sensitivity-quick" if args.quick else DOCS)

    base = prepare(BASELINE, [f"population.firms={design['firms']}"])
    factors = resolve_factors(settings, base.scenario)
    problems = range_problems(factors, base.scenario)
    missing = unlisted(settings, factors, base.scenario)
    if problems or missing:
        raise SettingsError("; ".join(problems + [f"{p} is neither a factor nor excluded" for p in missing]))
    if args.quick:
        factors = factors[: QUICK_FACTORS - 1] + [f for f in factors if f.kind == "switch"][:1]
    outcomes = settings["outcomes"]
    k = len(factors)
    problem = {"num_vars": k, "names": [f.path for f in factors], "bounds": [[0.0, 1.0]] * k}

    from SALib.sample import sobol as sobol_sample

    unit = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=design["seed"])
    values = design_values(factors, unit)
    seeds = replicate_seeds(base.scenario.seed, 1 + design["noise_seeds"])
    path = str(BASELINE)
    # The noise runs come first, so the job list of N/2 is the start of the job list of N (see Cache).
    jobs = [{"scenario": path, "firms": design["firms"], "set": [], "seed": s, "outcomes": outcomes} for s in seeds]
    jobs += [{"scenario": path, "firms": design["compare_firms"], "set": [], "seed": s, "outcomes": outcomes}
             for s in seeds]
    jobs += [{"scenario": path, "firms": design["firms"], "set": v, "seed": seeds[0], "outcomes": outcomes}
             for v in values]
    world = [hashlib.sha256(full.loaded.world_path(w).read_bytes()).hexdigest() for w in ("countries", "families")]
    key = cache_key([asdict(f) for f in factors], {**design, "samples": None}, outcomes, resolved_yaml(full.scenario),
                    world, code_digest())
    cache = Cache(args.cache / f"{key}.npz", len(jobs), len(outcomes), resume=not args.fresh)
    print(f"{k} factors, N={n}: {len(values):,} design runs of {design['firms']:,} firms + "
          f"{2 * len(seeds)} noise runs; {cache.from_cache:,} cached ({cache.path or 'no cache'})",
          file=sys.stderr, flush=True)
    try:
        run_all(jobs, cache, args.workers)
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: {int(cache.done.sum()):,} of {len(jobs):,} runs kept in {cache.path}; "
                         "run the same command again to resume") from None
    m = len(seeds)
    noise, noise_fewer, y = cache.values[:m], cache.values[m: 2 * m], cache.values[2 * m:]
    # medians: a worker's first run also prepares the scenario
    cpu = [float(np.median(part)) for part in (cache.seconds[2 * m:], cache.seconds[:m], cache.seconds[m: 2 * m])]
    results = [analyse(problem, y[:, j], design["resamples"], design["confidence"], design["seed"])
               for j in range(len(outcomes))]
    effects = switch_effects(factors, values, y, n)
    info = {
        "quick": args.quick, "samples": n, "settings_samples": settings["design"]["samples"],
        "arguments": "".join([" --quick"] * args.quick + [f" --samples {args.samples}"] * bool(args.samples)
                             + [f" --firms {args.firms}"] * bool(args.firms)),
        "design_seed": design["seed"], "design_runs": len(values),
        "firms": design["firms"], "seed": seeds[0], "resamples": design["resamples"],
        "confidence": design["confidence"], "noise_runs": len(seeds), "baseline_firms": full.scenario.population.firms,
        "compare_firms": design["compare_firms"], "cpu_per_run": cpu,
        "runs": len(jobs), "cached": cache.from_cache, "cpu_s": float(cache.seconds.sum()),
        "wall_s": cache.wall, "wall_now_s": time.monotonic() - wall, "workers": args.workers, "cpus": os.cpu_count(),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "sensitivity.png", figure_png(factors, outcomes, results))
    text = report(info, factors, settings, outcomes, results, effects, y, noise, noise_fewer, "sensitivity.png")
    atomic_write_text(out / "sensitivity.md", text)
    print(text.split("## Summary")[1].split("## Structural")[0].strip())
    print(f"Wrote {out / 'sensitivity.md'} and sensitivity.png ({len(jobs):,} runs, {info['wall_s']:.0f} s wall)")


if __name__ == "__main__":
    main()
