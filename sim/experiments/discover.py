"""`sim discover`: scenario discovery on a sweep's runs with EMA Workbench's PRIM or CART.

The question is "under which conditions does the outcome cross this value?". Each finished run of
the sweep folder is one case: its inputs are the experiment's uncertainty and lever values (the
columns of design.csv), and it is of interest when its outcome is above (or below) the value given.
PRIM (Friedman & Fisher 1999, as used for scenario discovery by Bryant & Lempert 2010) peels the
input space down to boxes dense in cases of interest; CART (a classification tree) splits it into
leaves. Every box is reported by its limits on each input and three numbers: coverage (share of all
cases of interest inside the box), density (share of the box's runs that are of interest) and mass
(share of all runs inside the box). PRIM also gives each restricted limit a quasi-p value (a one
sided binomial test: could the limit be chance?).

```
OUT/boxes.csv         one row per box and input: limits (low/high, or the choices kept), restricted or
                      not, quasi-p values (PRIM), and the box's coverage, density, mass, cases and runs
OUT/boxes.json        the same per box, restricted inputs only, with the question asked
OUT/trajectory.csv    PRIM: every step of each box's peeling and pasting (coverage, density, mass,
                      restricted dimensions), the chosen step marked; CART: its leaves
OUT/figures/tradeoff.png   coverage against density along each trajectory (CART: its leaves)
OUT/figures/box_<n>.png    the limits of box n on each restricted input, within the input's range
```

EMA Workbench is the optional `ema` extra (`sim.ema.require_ema`).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.errors import InputError, did_you_mean
from sim.experiments.schema import RESERVED_COLUMNS
from sim.experiments.store import RUNS_NAME, read_runs
from sim.outputs.atomic import atomic_write_bytes
from sim.outputs.tables import csv_bytes

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

METHODS = ("prim", "cart")
DEFAULT_THRESHOLD = 0.8  # density a box must reach: 4 in 5 of its runs are cases of interest
DEFAULT_MASS_MIN = 0.05  # no box (or leaf) holds fewer than this share of the runs
DEFAULT_BOXES = 3  # PRIM: boxes to look for, one after another on the cases left outside the earlier ones
DESIGN_NAME = "design.csv"
KEEP_EVERY_BOX = 1e-9


@dataclass
class Question:
    """Which runs are of interest: the outcome above or below a value."""

    outcome: str
    value: float
    above: bool

    def __str__(self) -> str:
        return f"{self.outcome} {'>' if self.above else '<'} {self.value:g}"


@dataclass
class Discovery:
    """What `discover` found and wrote."""

    out_dir: Path
    method: str
    question: Question
    boxes: pd.DataFrame  # one row per box and input (boxes.csv)
    summary: list[dict[str, Any]]  # one entry per box (boxes.json)
    trajectory: pd.DataFrame
    cases: int  # runs of interest
    runs: int  # runs analysed
    notes: list[str] = field(default_factory=list)


def sweep_inputs(sweep_dir: Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The sweep's finished runs, its input columns (uncertainties and levers) and its outcome columns."""
    runs_path, design_path = sweep_dir / RUNS_NAME, sweep_dir / DESIGN_NAME
    if not runs_path.is_file() or not design_path.is_file():
        raise InputError.single(str(sweep_dir), f"not a sweep folder: no {RUNS_NAME} and {DESIGN_NAME} "
                                "(run `sim sweep EXPERIMENT.yaml` first; its output folder is the one to give)")
    design_columns = list(pd.read_csv(design_path, nrows=0).columns)
    inputs = [c for c in design_columns if c not in ("design_point", "policy")]
    runs = read_runs(runs_path)
    outcomes = [c for c in runs.columns if c not in RESERVED_COLUMNS and c not in inputs]
    return runs, inputs, outcomes


def _input_frame(runs: pd.DataFrame, inputs: list[str]) -> pd.DataFrame:
    """The inputs as PRIM and CART read them: numbers stay numbers, anything else is a category."""
    x = runs[inputs].reset_index(drop=True).copy()
    for column in inputs:
        if x[column].dtype == bool or not pd.api.types.is_numeric_dtype(x[column]):
            x[column] = x[column].astype(str).astype("category")
        elif pd.api.types.is_integer_dtype(x[column]):
            x[column] = x[column].astype(np.int64)
        else:
            x[column] = x[column].astype(float)
    return x


def _limits(name: str, lower: Any, upper: Any, full_lower: Any, full_upper: Any) -> dict[str, Any]:
    if isinstance(lower, set):
        kept, every = sorted(map(str, lower)), sorted(map(str, full_lower))
        return {"input": name, "kind": "choices", "low": np.nan, "high": np.nan, "values": json.dumps(kept),
                "restricted": kept != every, "range_low": np.nan, "range_high": np.nan}
    return {"input": name, "kind": "range", "low": float(lower), "high": float(upper), "values": "",
            "restricted": bool(float(lower) != float(full_lower) or float(upper) != float(full_upper)),
            "range_low": float(full_lower), "range_high": float(full_upper)}


def _box_rows(number: int, box_lim: pd.DataFrame, box_init: pd.DataFrame, stats: dict[str, float],
              qp: dict[str, list[float]] | None) -> list[dict[str, Any]]:
    rows = []
    for name in box_init.columns:
        row = {"box": number, **_limits(str(name), box_lim.loc[0, name], box_lim.loc[1, name],
                                        box_init.loc[0, name], box_init.loc[1, name])}
        low_p, high_p = (qp or {}).get(name, [-1.0, -1.0])
        row |= {"qp_low": low_p if low_p >= 0 else np.nan, "qp_high": high_p if high_p >= 0 else np.nan, **stats}
        rows.append(row)
    return rows


def _summary(number: int, rows: list[dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    limits = {}
    for row in rows:
        if row["restricted"]:
            limits[row["input"]] = (
                {"values": json.loads(row["values"])} if row["kind"] == "choices"
                else {"low": row["low"], "high": row["high"], "range": [row["range_low"], row["range_high"]]}
            )
            for key in ("qp_low", "qp_high"):
                if np.isfinite(row[key]):
                    limits[row["input"]][key] = row[key]
    keys = ("coverage", "density", "mass", "cases", "runs", "restricted_inputs")
    return {"box": number, **{k: stats[k] for k in keys}, "limits": limits}


def _prim(x: pd.DataFrame, y: np.ndarray, threshold: float, mass_min: float, boxes: int,
          notes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame]:
    from ema_workbench.analysis import prim

    # PRIM counts cases of interest as y >= its threshold (the same for any threshold in (0, 1] on 0/1
    # cases) and throws away a last box below it; a tiny threshold keeps every trajectory, and the step
    # that reaches the user's density is chosen here (none: said, with the best density reached).
    finder = prim.Prim(x, y, threshold=KEEP_EVERY_BOX, mass_min=mass_min)
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    steps = []
    for number in range(1, boxes + 1):
        box = finder.find_box()
        if box is None:
            break
        trajectory = box.peeling_trajectory.reset_index(drop=True)
        dense = trajectory[trajectory["density"] >= threshold]
        # The widest box that still reaches the threshold density: coverage is what a reader wants most.
        chosen = int(dense["coverage"].idxmax()) if not dense.empty else len(trajectory) - 1
        steps.append(trajectory.assign(box=number, selected=(trajectory.index == chosen) & (not dense.empty)))
        if dense.empty:
            notes.append(f"box {number}: no step of PRIM's trajectory reaches density {threshold:g} "
                         f"(best {trajectory['density'].max():.2f}); no further box")
            break
        box.select(chosen)
        point = trajectory.loc[chosen]
        stats = {"coverage": float(point["coverage"]), "density": float(point["density"]),
                 "mass": float(point["mass"]), "cases": int(point["k"]), "runs": int(point["n"]),
                 "restricted_inputs": int(point["res_dim"])}
        found = _box_rows(number, box.box_lims[chosen], finder.box_init, stats, box.qp[chosen])
        rows += found
        summary.append(_summary(number, found, stats))
    columns = ["box", "id", "coverage", "density", "mass", "res_dim", "n", "k", "selected"]
    trajectory_frame = pd.concat(steps, ignore_index=True)[columns] if steps else pd.DataFrame(columns=columns)
    return rows, summary, trajectory_frame.rename(columns={"id": "step", "n": "runs", "k": "cases"})


def _cart(x: pd.DataFrame, y: np.ndarray, threshold: float, mass_min: float,
          notes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame]:
    from ema_workbench.analysis import cart
    from sklearn import tree

    # EMA 2.5.3's CART reads category inputs' leaves wrongly (one-hot columns turned back into sets): it
    # gets each category's code instead, and a leaf's code range is turned back into the categories here.
    categories = {c: list(x[c].cat.categories) for c in x.columns if isinstance(x[c].dtype, pd.CategoricalDtype)}
    codes = x.copy()
    for column in categories:
        codes[column] = x[column].cat.codes.astype(float)
    finder = cart.CART(codes, y, mass_min=mass_min)
    # CART.build_tree leaves the tree's random state unset: fix it, so the same sweep gives the same leaves.
    finder.clf = tree.DecisionTreeClassifier(min_samples_leaf=max(1, int(mass_min * len(x))), random_state=0)
    finder.clf.fit(finder._x, finder.y)
    box_init = pd.DataFrame({c: [set(categories[c]), set(categories[c])] if c in categories
                             else [x[c].min(), x[c].max()] for c in x.columns})
    leaves = []
    for code_lim, stats in zip(finder.boxes, finder.stats, strict=True):
        inside = _in_box(codes, code_lim)
        box_lim = code_lim.reset_index(drop=True).astype(object)
        for column, names in categories.items():
            low, high = float(code_lim[column].iloc[0]), float(code_lim[column].iloc[1])
            kept = {name for k, name in enumerate(names) if low <= k <= high}
            box_lim[column] = [kept, kept]
        leaves.append((box_lim, {"coverage": float(stats["coverage"]), "density": float(stats["density"]),
                                 "mass": float(stats["mass"]), "cases": int(y[inside].sum()), "runs": int(inside.sum()),
                                 "restricted_inputs": int(stats["res dim"])}))
    leaves.sort(key=lambda leaf: (-leaf[1]["density"], -leaf[1]["coverage"]))
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    trajectory = pd.DataFrame([{"leaf": i + 1, **stats, "of_interest": stats["density"] >= threshold}
                               for i, (_lim, stats) in enumerate(leaves)])
    number = 0
    for box_lim, stats in leaves:
        if stats["density"] < threshold:
            continue
        number += 1
        found = _box_rows(number, box_lim, box_init, stats, None)
        rows += found
        summary.append(_summary(number, found, stats))
    if not number:
        notes.append(f"no CART leaf reaches density {threshold:g} (best {trajectory['density'].max():.2f})")
    return rows, summary, trajectory


def _in_box(x: pd.DataFrame, box_lim: pd.DataFrame) -> np.ndarray:
    inside = np.ones(len(x), dtype=bool)
    for column in x.columns:
        low, high = box_lim[column].iloc[0], box_lim[column].iloc[1]
        if isinstance(low, set):
            inside &= x[column].isin(low).to_numpy()
        else:
            inside &= ((x[column] >= low) & (x[column] <= high)).to_numpy()
    return inside


def discover(
    sweep_dir: str | os.PathLike[str],
    outcome: str,
    *,
    above: float | None = None,
    below: float | None = None,
    method: str = "prim",
    out: str | os.PathLike[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    mass_min: float = DEFAULT_MASS_MIN,
    boxes: int = DEFAULT_BOXES,
) -> Discovery:
    """Find the boxes of inputs where `outcome` is above (or below) a value; write them to `out`
    (default SWEEP_DIR/discover/). InputError for a folder that is not a sweep's, an unknown outcome
    or a value no run (or every run) crosses."""
    from sim.ema import require_ema

    require_ema()
    if (above is None) == (below is None):
        raise ValueError("give exactly one of above and below")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    folder = Path(sweep_dir)
    question = Question(outcome, float(above if above is not None else below), above is not None)  # type: ignore[arg-type]
    runs, inputs, outcomes = sweep_inputs(folder)
    if outcome not in outcomes:
        raise InputError.single(str(folder / RUNS_NAME), f"no outcome {outcome!r}{did_you_mean(outcome, outcomes)}; "
                                f"outcomes: {', '.join(outcomes) or 'none'}")
    if not inputs:
        raise InputError.single(str(folder / DESIGN_NAME), "the sweep varies nothing: no inputs to find boxes on")
    notes: list[str] = []
    usable = runs[(runs["status"] == "ok") & np.isfinite(runs[outcome].astype(float))]
    if len(usable) < len(runs):
        notes.append(f"{len(runs) - len(usable)} run(s) left out: not finished or without a value of {outcome}")
    values = usable[outcome].astype(float).to_numpy()
    y = (values > question.value) if question.above else (values < question.value)
    if y.all() or not y.any():
        which = "every" if y.all() else "no"
        spread = f"{values.min():.4g} to {values.max():.4g} over {len(values)} runs" if len(values) else "no values"
        raise InputError.single(str(folder / RUNS_NAME), f"{which} run has {question}: nothing to tell apart "
                                f"({outcome}: {spread})")
    x = _input_frame(usable, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA's notices (optional parallel back ends, pandas deprecations)
        if method == "prim":
            rows, summary, trajectory = _prim(x, y.astype(int), threshold, mass_min, boxes, notes)
        else:
            rows, summary, trajectory = _cart(x, y.astype(int), threshold, mass_min, notes)
    out_dir = Path(out) if out is not None else folder / "discover"
    table = pd.DataFrame(rows, columns=["box", "input", "kind", "low", "high", "values", "restricted", "range_low",
                                        "range_high", "qp_low", "qp_high", "coverage", "density", "mass", "cases",
                                        "runs", "restricted_inputs"])
    result = Discovery(out_dir, method, question, table, summary, trajectory, int(y.sum()), len(y), notes)
    _write(result, x, y, threshold, mass_min)
    return result


def _write(result: Discovery, x: pd.DataFrame, y: np.ndarray, threshold: float, mass_min: float) -> None:
    from sim.outputs.figures import close_figure, figure_png

    out = result.out_dir
    atomic_write_bytes(out / "boxes.csv", csv_bytes(result.boxes))
    atomic_write_bytes(out / "trajectory.csv", csv_bytes(result.trajectory))
    document = {"question": str(result.question), "outcome": result.question.outcome,
                "direction": "above" if result.question.above else "below", "value": result.question.value,
                "method": result.method, "threshold": threshold, "mass_min": mass_min, "runs": result.runs,
                "cases": result.cases, "boxes": result.summary, "notes": result.notes}
    atomic_write_bytes(out / "boxes.json", (json.dumps(document, indent=2, allow_nan=False,
                                                       default=float) + "\n").encode())
    figures = [("tradeoff.png", tradeoff_figure(result, threshold))]
    figures += [(f"box_{entry['box']}.png", box_figure(result, entry["box"])) for entry in result.summary]
    for name, fig in figures:
        try:
            atomic_write_bytes(out / "figures" / name, figure_png(fig))
        finally:
            close_figure(fig)


def tradeoff_figure(result: Discovery, threshold: float) -> Figure:
    """Coverage against density: each PRIM box's trajectory (chosen step starred), or CART's leaves."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.2), dpi=110, layout="constrained")
    ax = fig.subplots()
    frame = result.trajectory
    if result.method == "prim" and not frame.empty:
        for number, steps in frame.groupby("box"):
            points = ax.scatter(steps["coverage"], steps["density"], c=steps["res_dim"], cmap="viridis", s=22,
                                marker="o" if number == 1 else "s", label=f"box {number} trajectory")
            chosen = steps[steps["selected"]]
            ax.scatter(chosen["coverage"], chosen["density"], marker="*", s=260, facecolor="none",
                       edgecolor="#c00000", linewidth=1.6)
            if not chosen.empty:
                ax.annotate(f"box {number}", (float(chosen["coverage"].iloc[0]), float(chosen["density"].iloc[0])),
                            textcoords="offset points", xytext=(8, 6), fontsize=9, color="#c00000")
        fig.colorbar(points, ax=ax, label="restricted inputs")
    elif not frame.empty:
        ax.scatter(frame["coverage"], frame["density"], s=30 + 300 * frame["mass"], color="C0", alpha=0.7,
                   label="CART leaves (size: mass)")
    ax.axhline(threshold, color="#888888", linestyle="--", linewidth=1, label=f"density {threshold:g}")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("coverage (share of the cases of interest inside)")
    ax.set_ylabel("density (share of the box's runs of interest)")
    ax.set_title(f"{result.method.upper()}: {result.question} ({result.cases} of {result.runs} runs)", loc="left",
                 fontsize=11, fontweight="bold")
    ax.grid(True, color="#e5e5e5")
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    return fig


def box_figure(result: Discovery, number: int) -> Figure:
    """Box `number`'s limits on each restricted input, drawn within the input's range (0 to 1)."""
    from matplotlib.figure import Figure

    rows = result.boxes[(result.boxes["box"] == number) & result.boxes["restricted"]].reset_index(drop=True)
    entry = next(e for e in result.summary if e["box"] == number)
    fig = Figure(figsize=(7.5, 1.6 + 0.6 * max(len(rows), 1)), dpi=110, layout="constrained")
    ax = fig.subplots()
    for i, row in rows.iterrows():
        y = len(rows) - 1 - int(i)  # type: ignore[call-overload]
        ax.barh(y, 1.0, color="#eeeeee", height=0.5)
        if row["kind"] == "range":
            span = row["range_high"] - row["range_low"] or 1.0
            low, high = (row["low"] - row["range_low"]) / span, (row["high"] - row["range_low"]) / span
            ax.barh(y, high - low, left=low, color="C0", height=0.5)
            ax.text(low, y + 0.32, f"{row['low']:.3g}", ha="center", fontsize=8)
            ax.text(high, y + 0.32, f"{row['high']:.3g}", ha="center", fontsize=8)
        else:
            ax.text(0.5, y, "in " + ", ".join(json.loads(row["values"])), ha="center", va="center", fontsize=9)
    def label(row: pd.Series) -> str:
        shown = [f"{row[k]:.2g}" for k in ("qp_low", "qp_high") if np.isfinite(row[k])]
        return f"{row['input']}\nquasi-p {' / '.join(shown)}" if shown else str(row["input"])

    ax.set_yticks(range(len(rows)), [label(row) for _i, row in rows.iterrows()][::-1])
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 1], ["range low", "range high"])
    ax.set_title(f"Box {number}: {result.question} — coverage {entry['coverage']:.2f}, density "
                 f"{entry['density']:.2f}, mass {entry['mass']:.2f}", loc="left", fontsize=10, fontweight="bold")
    return fig
