"""Sensitivity indices of each outcome to each uncertainty (SALib), for Sobol and Morris designs.

Each design point's outcome is its mean over replicates; indices are computed separately for each
policy (lever combination), so a modeler sees whether a policy changes what matters. Sobol gives
first-order (S1) and total (ST) indices with bootstrap confidence; Morris gives mu* (mean absolute
elementary effect), mu and sigma. An outcome with an empty value in some run (a threshold never
crossed) gets no indices, with a note.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

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
    """The indices table (outcome, policy, lever values, method, factor, indices) and notes."""
    design = plan.experiment.design
    method = design.kind
    seed = int(stream(plan.seeds[0] if plan.seeds else 0, "sensitivity").integers(2**31))
    rows, notes = [], []
    for outcome in plan.experiment.outcomes:
        for q, policy in enumerate(plan.policies):
            y = design_means(plan, runs, outcome, q)
            label = f"{outcome}" + (f" (policy {q})" if len(plan.policies) > 1 else "")
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
            for i, factor in enumerate(names):
                record = {"outcome": outcome, "policy": q, **policy, "method": method, "factor": factor}
                record |= {key: float(np.asarray(found[key])[i]) for key in INDICES[method]}
                rows.append(record)
    columns = ["outcome", "policy", *(f.name for f in plan.levers), "method", "factor", *INDICES[method]]
    return pd.DataFrame(rows, columns=columns), notes


def sensitivity_figure(table: pd.DataFrame, title: str) -> Figure:
    """One panel per outcome: the main index per factor (Sobol ST over S1; Morris mu* with its
    confidence), one bar per policy."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    method = str(table["method"].iloc[0])
    fig = Figure(figsize=(9.5, 1.0 + 2.8 * len(outcomes)), dpi=110, layout="constrained")
    axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
    fig.suptitle(f"Sensitivity ({method}) — {title}", fontsize=14, fontweight="bold", x=0.01, ha="left")
    for ax, outcome in zip(axes, outcomes, strict=True):
        rows = table[table["outcome"] == outcome]
        factors = list(dict.fromkeys(rows["factor"]))
        policies = sorted(rows["policy"].unique())
        width = 0.8 / len(policies)
        x = np.arange(len(factors))
        for j, q in enumerate(policies):
            part = rows[rows["policy"] == q].set_index("factor").loc[factors]
            offset = x - 0.4 + width * (j + 0.5)
            name = f"policy {q}" if len(policies) > 1 else None
            if method == "sobol":
                ax.bar(offset, part["ST"], width, yerr=part["ST_conf"], alpha=0.45, color=f"C{j}",
                       label=f"ST {name or ''}".strip())
                ax.bar(offset, part["S1"], width * 0.5, color=f"C{j}", label=f"S1 {name or ''}".strip())
            else:
                ax.bar(offset, part["mu_star"], width, yerr=part["mu_star_conf"], color=f"C{j}", label=name or "mu*")
                ax.plot(offset, part["sigma"], "k_", markersize=14, label="sigma" if j == 0 else None)
        ax.set_xticks(x, factors)
        ax.set_title(outcome, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel("index" if method == "sobol" else "effect (outcome units)", fontsize=9)
        ax.grid(True, axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def write_sensitivity(plan: Plan, runs: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Write sensitivity.csv and figures/sensitivity.png; return the table and notes."""
    from sim.outputs.figures import close_figure, figure_png

    table, notes = analyse(plan, runs)
    atomic_write_bytes(out_dir / "sensitivity.csv", csv_bytes(table))
    if not table.empty:
        fig = sensitivity_figure(table, plan.experiment.name)
        try:
            atomic_write_bytes(out_dir / "figures" / "sensitivity.png", figure_png(fig))
        finally:
            close_figure(fig)
    return table, notes
