"""docs/calibration.md: the baseline's calibration targets beside the model, the calibrated ensemble, the
out-of-sample test, then how the calibration is done.

Written by scripts/validation_report.py from fresh runs; the measuring is `sim.validation`, the same
as `sim check`. The ensemble sections read the shipped ensemble files (their provenance is written
by `sim calibrate`), never numbers typed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.calibration.ensemble import Ensemble
from sim.validation import Outcome, Validation, accept_text, number, target_notes, targets_table


def _g(value: float) -> str:
    return f"{value:.3g}"


def ensemble_section(ensemble: Ensemble) -> list[str]:
    """The shipped ensemble: how it was made (waves, acceptance, cost) and where each prior ended up."""
    prov: Any = ensemble.file.provenance  # JSON written by sim calibrate (sim/calibration/calibrate.py)
    priors, waves, cost = prov.get("priors", {}), prov.get("waves", []), prov.get("cost", {})
    matched = prov.get("matched_targets") or prov.get("targets") or []
    members = ensemble.members
    best = next((m for m in members if m.id == ensemble.file.best_member), None)
    lines = [
        f"### The shipped ensemble (calibration `{ensemble.file.name}`)",
        "",
        f"`{prov.get('command')}` ({prov.get('created_utc')}, commit {str(prov.get('git_commit'))[:10]}). "
        f"Method: {prov.get('method')}. Matched targets: {len(matched)} ({', '.join(matched)}).",
        "",
        "| wave | sets | runs | non-implausible |",
        "|---|---|---|---|",
    ]
    for w in waves:
        lines.append(f"| {w['wave']} | {w['samples']} | {w['runs']} | {w['accepted']} |")
    lines += [
        "",
        f"Cost: {prov.get('runs')} runs, {cost.get('runs_computed')} computed, "
        f"{float(cost.get('wall_time_s') or 0) / 60:.1f} min of wall time with {cost.get('workers')}. "
        f"The ensemble has **{len(members)} members**; the baseline's defaults are set to its best member "
        f"(`{ensemble.file.best_member}`: {prov.get('best_member_choice', 'lowest implausibility')}), which is "
        "what `sim check` validates, on its own seeds.",
        "",
        "Where each prior ended up (the range over the members against the prior's range):",
        "",
        "| parameter | prior | members' range | share of the prior | best member | source of the prior |",
        "|---|---|---|---|---|---|",
    ]
    for name, prior in priors.items():
        path = str(prior["path"])
        low, high = (float(x) for x in prior["range"])
        values = np.array([float(m.values[path]) for m in members if path in m.values])
        span = (values.max() - values.min()) / (high - low) if values.size else float("nan")
        best_value = _g(float(best.values[path])) if best and path in best.values else "-"
        source = " ".join(str(prior.get("source", "")).split()).replace("|", "/")
        lines.append(f"| `{path}` ({name}) | {_g(low)} to {_g(high)} | {_g(values.min())} to {_g(values.max())} | "
                     f"{span:.0%} | {best_value} | {source} |")
    return lines


def _outcome_row(o: Outcome) -> str:
    c = o.check
    return (f"| {c.id} | {number(c.observed, c)} | {accept_text(c)} | {number(o.median, c)} | "
            f"{number(o.q10, c)} to {number(o.q90, c)} | {'yes' if o.held else 'NO'} |")


def ensemble_targets_section(validation: Validation, ensemble: Ensemble) -> list[str]:
    """The targets under the ensemble: replicate r runs member r mod N (seeds and parameters vary)."""
    t = validation.targets
    return [
        "### The targets under the ensemble",
        "",
        f"{validation.replicates} replicates of `{validation.scenario_path}` with `--uncertainty ensemble` "
        f"(replicate r runs member r mod {ensemble.size} on its own seed): the median and 10-90% band over "
        "replicates now carry the parameters' uncertainty as well as the random draws.",
        "",
        "| target | observed | accepted | median | 10-90% | holds |",
        "|---|---|---|---|---|---|",
        *(_outcome_row(o) for o in t),
        "",
        f"{sum(o.held for o in t)} of {len(t)} targets hold at the ensemble's median.",
    ]


def out_of_sample_section(validation: Validation, ensemble: Ensemble, held_out: Sequence[str]) -> list[str]:
    """Targets the held-out calibration did not see, as its ensemble predicts them (fresh runs)."""
    prov: Any = ensemble.file.provenance
    until = prov.get("calibrate_until")
    rows = [o for o in validation.targets if o.check.id in held_out]
    matched = prov.get("matched_targets") or []
    return [
        f"## Out of sample: calibrated to {until}, predicting what came after",
        "",
        f"`{prov.get('command')}` matched only the {len(matched)} targets whose quarters end by {until} "
        f"({', '.join(str(m) for m in matched)}); its ensemble ({ensemble.size} members, "
        f"`{ensemble.path.name}`) then ran {validation.replicates} replicates of the baseline (member r mod "
        f"{ensemble.size}). The targets below were not used to make it: they are predictions, judged as "
        "`sim check` judges a target (the median over replicates inside the accept band).",
        "",
        "| held-out target | observed | accepted | predicted median | 10-90% | holds |",
        "|---|---|---|---|---|---|",
        *(_outcome_row(o) for o in rows),
        "",
        f"{sum(o.held for o in rows)} of {len(rows)} held-out targets are predicted inside their bands.",
    ]


def calibration_markdown(
    validation: Validation,
    method: str,
    command: str,
    *,
    ensemble: tuple[Validation, Ensemble] | None = None,
    out_of_sample: tuple[Validation, Ensemble, Sequence[str]] | None = None,
) -> str:
    """The whole docs/calibration.md page: the targets beside the model, the ensemble, the out-of-sample
    test, then how the calibration is done (`method`, docs/calibration_method.md)."""
    v = validation
    t = v.targets
    lines = [
        "# Calibration of the baseline",
        "",
        f"Generated by `{command}` ({v.replicates} replicates of `{v.scenario_path}`, seed {v.seed}). "
        "Do not edit by hand.",
        "",
        "## Targets and the model",
        "",
        *targets_table(v),
        "",
        f"{sum(o.held for o in t)} of {len(t)} targets hold.",
        "",
        "Sources of the observed values, what they measure, their uncertainty, and the model's quantity:",
        "",
        *target_notes(v),
        "",
    ]
    if ensemble is not None:
        lines += ["## The calibrated ensemble", "", *ensemble_section(ensemble[1]), "",
                  *ensemble_targets_section(*ensemble), ""]
    if out_of_sample is not None:
        lines += [*out_of_sample_section(*out_of_sample), ""]
    lines += [method.strip(), ""]
    return "\n".join(lines)
