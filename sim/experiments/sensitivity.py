"""Sensitivity indices of each outcome to each uncertainty (SALib), and the levers' paired effects.

Each design point's outcome is its mean over replicates; indices are computed separately for each
policy (lever combination), so a modeler sees whether a policy changes what matters. Sobol gives
first-order (S1) and total (ST) indices with their 95% bootstrap confidence half-widths (S1_conf,
ST_conf); Morris gives mu* (mean absolute elementary effect) with mu_star_conf, mu and sigma. An
outcome with an empty value in some run (a threshold never crossed) gets no indices, with a note.

How sure: a row's `warning` says when an interval is wide (Sobol: a conf above WIDE_CONF; Morris:
mu_star_conf above WIDE_CONF times the largest mu* of that outcome and policy) or a Sobol index
leaves [0, 1] by more than OUTSIDE_TOLERANCE (both mean too few samples); warnings are printed, in
the csv and on the figure.

Lever effects (`lever_effects`): each policy against the first (every lever at its first value),
paired by design point: the same uncertainty values and seeds, only the levers differ, so the
difference per point is the levers' effect there, free of sampling noise between points.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.experiments.design import DEFAULT_MORRIS_LEVELS
from sim.experiments.plan import Plan
from sim.model.streams import stream
from sim.outputs.atomic import atomic_write_bytes
from sim.outputs.tables import csv_bytes

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

INDICES = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"], "morris": ["mu_star", "mu_star_conf", "mu", "sigma"]}
WIDE_CONF = 0.1  # a 95% half-width above this (Sobol; Morris: times the largest mu*) is too wide to rank factors
OUTSIDE_TOLERANCE = 0.01  # Sobol indices are shares of variance: beyond [0, 1] by more than this is sampling error
Z95 = 1.959964  # normal quantile of a two-sided 95% interval


def policy_label(plan: Plan, q: int) -> str:
    """A policy named by its lever values: `outreach=0.3, strength=0.5` (empty without levers)."""
    return ", ".join(f"{name}={value}" for name, value in plan.policies[q].items())


def index_warning(method: str, found: dict[str, float], largest_mu_star: float) -> str:
    """Why this row's indices cannot be trusted as they are, or ''."""
    problems = []
    if method == "sobol":
        for key in ("S1", "ST"):
            value, conf = found[key], found[f"{key}_conf"]
            if not np.isfinite(conf) or conf > WIDE_CONF:
                problems.append(f"{key} +/- {conf:.2f} is wide")
            if np.isfinite(value) and not -OUTSIDE_TOLERANCE <= value <= 1 + OUTSIDE_TOLERANCE:
                problems.append(f"{key} = {value:.2f} is outside [0, 1]")
    elif np.isfinite(found["mu_star_conf"]) and found["mu_star_conf"] > WIDE_CONF * largest_mu_star > 0:
        problems.append(f"mu* +/- {found['mu_star_conf']:.3g} is wide (over {WIDE_CONF:g} x the largest mu*)")
    if not problems:
        return ""
    return "; ".join(problems) + "; take more samples"


def design_means(plan: Plan, runs: pd.DataFrame, outcome: str, policy: int) -> np.ndarray:
    """Outcome per design point under one policy: the mean over its replicates."""
    values = runs.set_index("run_id")[outcome].astype(float)
    points = len(plan.sample.points)
    sums, counts = np.zeros(points), np.zeros(points)
    for point, q, _replicate, run_id in plan.rows:
        if q == policy:
            sums[point] += values.get(run_id, np.nan)
            counts[point] += 1
    return sums / np.maximum(counts, 1)


def analyse(plan: Plan, runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The indices table (outcome, policy, lever values, method, factor, indices, warning) and notes."""
    design = plan.experiment.design
    method = design.kind
    seed = int(stream(plan.seeds[0] if plan.seeds else 0, "sensitivity").integers(2**31))
    rows, notes = [], []
    for outcome in plan.experiment.outcomes:
        for q, policy in enumerate(plan.policies):
            y = design_means(plan, runs, outcome, q)
            label = outcome + (f" ({policy_label(plan, q)})" if len(plan.policies) > 1 else "")
            if not np.all(np.isfinite(y)):
                notes.append(f"{label}: no indices, some runs have no value (e.g. the threshold is never crossed)")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a constant outcome gives 0/0 indices
                if method == "sobol":
                    from SALib.analyze import sobol

                    found = sobol.analyze(plan.sample.problem, y, calc_second_order=design.second_order,
                                          seed=seed, print_to_console=False)
                else:
                    from SALib.analyze import morris

                    found = morris.analyze(plan.sample.problem, plan.sample.matrix, y, seed=seed,
                                           num_levels=design.levels or DEFAULT_MORRIS_LEVELS, print_to_console=False)
            names = plan.sample.problem["names"] if plan.sample.problem else []
            largest = float(np.nanmax(np.asarray(found["mu_star"]))) if method == "morris" and names else 0.0
            for i, factor in enumerate(names):
                values = {key: float(np.asarray(found[key])[i]) for key in INDICES[method]}
                warning = index_warning(method, values, largest)
                if warning:
                    notes.append(f"warning: {label}, {factor}: {warning}")
                rows.append({"outcome": outcome, "policy": q, **policy, "method": method, "factor": factor,
                             **values, "warning": warning})
    columns = ["outcome", "policy", *(f.name for f in plan.levers), "method", "factor", *INDICES[method], "warning"]
    return pd.DataFrame(rows, columns=columns), notes


def lever_effects(plan: Plan, runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Each policy's effect on each outcome against the first policy, paired by design point.

    Per outcome and policy: the mean over design points of (outcome under the policy - outcome under
    the reference) with its 95% half-width (normal approximation over points), the 10th and 90th
    percentiles of the per-point differences and the share of points where it is positive."""
    columns = ["outcome", "policy", "label", "reference", *(f.name for f in plan.levers), "points", "effect",
               "effect_conf", "q10", "q90", "share_positive", "reference_mean", "warning"]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    if len(plan.policies) < 2:
        return pd.DataFrame(rows, columns=columns), notes
    reference = policy_label(plan, 0)
    for outcome in plan.experiment.outcomes:
        base = design_means(plan, runs, outcome, 0)
        for q in range(1, len(plan.policies)):
            other = design_means(plan, runs, outcome, q)
            paired = np.isfinite(base) & np.isfinite(other)
            difference = other[paired] - base[paired]
            n = len(difference)
            mean = float(difference.mean()) if n else float("nan")
            conf = float(Z95 * difference.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
            warning = ""
            if n < len(base):
                warning = f"{len(base) - n} point(s) without a value under one of the two policies are left out"
            if n > 1 and abs(mean) <= conf:
                warning = "; ".join(filter(None, [warning, "not distinguishable from no effect at 95%"]))
            if warning:
                notes.append(f"{outcome}, {policy_label(plan, q)} vs {reference}: {warning}")
            rows.append({
                "outcome": outcome, "policy": q, "label": policy_label(plan, q), "reference": reference,
                **plan.policies[q], "points": n, "effect": mean, "effect_conf": conf,
                "q10": float(np.quantile(difference, 0.1)) if n else float("nan"),
                "q90": float(np.quantile(difference, 0.9)) if n else float("nan"),
                "share_positive": float((difference > 0).mean()) if n else float("nan"),
                "reference_mean": float(base[paired].mean()) if n else float("nan"), "warning": warning,
            })
    return pd.DataFrame(rows, columns=columns), notes


def sensitivity_figure(table: pd.DataFrame, title: str, labels: dict[int, str] | None = None) -> Figure:
    """One panel per outcome: the main index per factor with its 95% interval (Sobol ST over S1;
    Morris mu* with sigma), one bar per policy named by its lever values; hatched bars and the
    panel's footnote mark rows with a warning."""
    from matplotlib.figure import Figure

    labels = labels or {}
    outcomes = list(dict.fromkeys(table["outcome"]))
    method = str(table["method"].iloc[0])
    fig = Figure(figsize=(9.5, 1.2 + 3.0 * len(outcomes)), dpi=110, layout="constrained")
    axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
    fig.suptitle(f"Sensitivity ({method}, 95% intervals) — {title}", fontsize=14, fontweight="bold", x=0.01,
                 ha="left")
    for ax, outcome in zip(axes, outcomes, strict=True):
        rows = table[table["outcome"] == outcome]
        factors = list(dict.fromkeys(rows["factor"]))
        policies = sorted(rows["policy"].unique())
        width = 0.8 / len(policies)
        x = np.arange(len(factors))
        for j, q in enumerate(policies):
            part = rows[rows["policy"] == q].set_index("factor").loc[factors]
            offset = x - 0.4 + width * (j + 0.5)
            name = labels.get(int(q), f"policy {q}") if len(policies) > 1 else ""
            hatch = ["//" if w else "" for w in part["warning"].fillna("")]
            if method == "sobol":
                bars = ax.bar(offset, part["ST"], width, yerr=part["ST_conf"], alpha=0.45, color=f"C{j}",
                              label=f"ST {name}".strip(), capsize=3)
                ax.errorbar(offset, part["S1"], yerr=part["S1_conf"], fmt="o", color=f"C{j}", markersize=5,
                            capsize=3, label=f"S1 {name}".strip())
            else:
                bars = ax.bar(offset, part["mu_star"], width, yerr=part["mu_star_conf"], color=f"C{j}",
                              label=name or "mu*", capsize=3)
                ax.plot(offset, part["sigma"], "k_", markersize=14, label="sigma" if j == 0 else None)
            for bar, mark in zip(bars, hatch, strict=True):
                bar.set_hatch(mark)
        if method == "sobol":
            ax.axhspan(1.0, 1.5, color="#f3e0e0", zorder=0)  # outside [0, 1]: sampling error
            ax.axhspan(-0.5, 0.0, color="#f3e0e0", zorder=0)
            low = min(-0.05, float(np.nanmin(rows[["S1", "ST"]].to_numpy() - rows[["S1_conf", "ST_conf"]].to_numpy())))
            high = max(1.05, float(np.nanmax(rows[["S1", "ST"]].to_numpy() + rows[["S1_conf", "ST_conf"]].to_numpy())))
            ax.set_ylim(max(low, -0.5), min(high, 1.5))
        flagged = rows[rows["warning"].fillna("") != ""]
        if not flagged.empty:
            ax.text(0.0, -0.22, f"// {len(flagged)} of {len(rows)} rows have wide intervals or indices outside "
                    "[0, 1]: take more samples (warning column of sensitivity.csv)", transform=ax.transAxes,
                    fontsize=8, color="#a00000", va="top")
        ax.set_xticks(x, factors)
        ax.set_title(outcome, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel("index" if method == "sobol" else "effect (outcome units)", fontsize=9)
        ax.grid(True, axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def lever_effects_figure(table: pd.DataFrame, title: str) -> Figure:
    """One panel per outcome: each policy's mean paired effect against the reference policy, with its
    95% interval and the 10-90% range over design points, policies named by their lever values."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    fig = Figure(figsize=(9.5, 1.2 + (0.8 + 0.45 * table["policy"].nunique()) * len(outcomes)), dpi=110,
                 layout="constrained")
    axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
    reference = str(table["reference"].iloc[0])
    fig.suptitle(f"Lever effects vs {reference} — {title}", fontsize=14, fontweight="bold", x=0.01, ha="left")
    for ax, outcome in zip(axes, outcomes, strict=True):
        rows = table[table["outcome"] == outcome].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        ax.hlines(y, rows["q10"], rows["q90"], color="#bbbbbb", linewidth=6, label="10-90% of design points")
        ax.errorbar(rows["effect"], y, xerr=rows["effect_conf"], fmt="o", color="C0", capsize=4,
                    label="mean effect, 95% interval")
        ax.axvline(0.0, color="k", linewidth=0.8)
        ax.set_yticks(y, [f"{label}{'  (!)' if warning else ''}" for label, warning
                          in zip(rows["label"], rows["warning"].fillna(""), strict=True)])
        ax.set_title(outcome, loc="left", fontsize=11, fontweight="bold")
        ax.set_xlabel(f"difference from {reference}", fontsize=9)
        ax.grid(True, axis="x", color="#e5e5e5")
        ax.set_axisbelow(True)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _write_figure(fig: Figure, path: Path) -> None:
    from sim.outputs.figures import close_figure, figure_png

    try:
        atomic_write_bytes(path, figure_png(fig))
    finally:
        close_figure(fig)


def write_sensitivity(plan: Plan, runs: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Write sensitivity.csv and figures/sensitivity.png; return the table and notes (warnings included)."""
    table, notes = analyse(plan, runs)
    atomic_write_bytes(out_dir / "sensitivity.csv", csv_bytes(table))
    if not table.empty:
        labels = {q: policy_label(plan, q) for q in range(len(plan.policies))}
        _write_figure(sensitivity_figure(table, plan.experiment.name, labels), out_dir / "figures" / "sensitivity.png")
    return table, notes


def write_lever_effects(plan: Plan, runs: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Write lever_effects.csv and figures/lever_effects.png (designs with two policies or more)."""
    table, notes = lever_effects(plan, runs)
    atomic_write_bytes(out_dir / "lever_effects.csv", csv_bytes(table))
    if not table.empty:
        _write_figure(lever_effects_figure(table, plan.experiment.name), out_dir / "figures" / "lever_effects.png")
    return table, notes
