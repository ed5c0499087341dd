"""Validation with power: `sim check --mutants` runs deliberately broken variants of the model.

A check that cannot fail tells nothing. Each *mutant* (`scenarios/data/mutants.yaml`) breaks one
mechanism, by `--set` overrides (firms choosing at random: every choice weight 0) or by a structural
switch of `parameters.structure` (capability independent of compute, ...). The baseline and every
mutant run with the same seeds (common random numbers), and every calibration target and untuned
pattern is measured on each.

A check *rejects* a mutant when it holds on the baseline, fails on the mutant, and the mutant moved
its median by more than chance moves it: a check the baseline already fails says nothing about the
mutant, and a check that sits at the edge of its band flips with the seeds, whatever the mutant does
(a median of a few replicates has sampling error; see `Move.beyond_chance`). `sim check --mutants` exits 0 only when the
baseline passes every calibration target and every mutant is rejected by at least one check; a
mutant no check rejects is a finding (the checks cannot see that mechanism), reported with exit 1.
No band is ever moved to make a mutant rejected.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from sim.errors import InputError
from sim.fields import Slug, StrictModel
from sim.resources import data_dir
from sim.validation import EXIT_FAILED, EXIT_HELD, Validation, run_check, tally
from sim.yamlio import load_yaml_file


class Mutant(StrictModel):
    """One deliberately broken variant of the model."""

    id: Slug = Field(description="short id of the mutant")
    breaks: str = Field(min_length=1, description="what is broken, in words")
    set: list[str] = Field(
        min_length=1, description="the `--set PATH=VALUE` overrides that break it (parameters or structure switches)"
    )


class MutantsFile(StrictModel):
    mutants: list[Mutant] = Field(min_length=1)


def load_mutants(path: str | os.PathLike[str] | None = None) -> list[Mutant]:
    """The mutants (default the built-in `scenarios/data/mutants.yaml`); bad input gives FILE:LINE:COLUMN."""
    from sim.scenario.errors import validate_located
    from sim.validation import _shown

    located = load_yaml_file(os.fspath(path) if path else _shown(data_dir() / "mutants.yaml"))
    parsed = validate_located(located, MutantsFile)
    seen: set[str] = set()
    problems = []
    for i, mutant in enumerate(parsed.mutants):
        if mutant.id in seen:
            problems.append(located.problem(("mutants", i, "id"), f"id {mutant.id!r} is used twice", at_value=True))
        seen.add(mutant.id)
    if problems:
        raise InputError(problems)
    return parsed.mutants


@dataclass(frozen=True)
class Move:
    """How far a mutant moved one check: the change of its median, against the baseline's seed spread."""

    check: str  # id, with " (pattern)" for an untuned pattern
    baseline: float
    mutant: float
    spread: float  # the baseline's 10-90% range over replicates (chance alone)
    holds_on_mutant: bool
    replicates: int = 10  # of each median

    @property
    def signal(self) -> float:
        """|mutant - baseline| in units of the baseline's 10-90% range (inf when the range is 0)."""
        change = abs(self.mutant - self.baseline)
        return change / self.spread if self.spread > 0 else (float("inf") if change > 0 else 0.0)

    @property
    def chance(self) -> float:
        """How far chance alone moves the difference of the two medians, at about 95% (normal theory).

        The replicates' sd is estimated from the baseline's 10-90% range (2.563 sd for a normal); a median
        of n replicates has a standard error of about 1.2533 sd / sqrt(n); the difference of two
        independent medians sqrt(2) times that; and two standard errors is the cut. Common random
        numbers make the two medians positively correlated, so this overstates chance: conservative.
        """
        sd = self.spread / 2.563
        return 2.0 * np.sqrt(2.0) * 1.2533 * sd / np.sqrt(max(self.replicates, 1))

    @property
    def beyond_chance(self) -> bool:
        """The mutant moved the check's median by more than chance would (see `chance`)."""
        change = abs(self.mutant - self.baseline)
        return change > self.chance if self.spread > 0 else change > 0


@dataclass(frozen=True)
class OutputMoves:
    """How far a mutant moved every output series of the observed period, not only the checked ones."""

    until: str  # the last quarter any check reads
    count: int  # series compared (metric, group, quarter)
    beyond_spread: int  # series whose median moved by more than the baseline's 10-90% range
    largest: list[Move]  # the largest moves against chance, largest first


def output_moves(baseline: Validation, mutated: Validation, count: int = 3) -> OutputMoves | None:
    """Compare every output series of the two runs over the observed period (`Validation.series`).

    A mutant no check rejects may still differ from the baseline in a quantity no check reads: then a
    measurement of that quantity would have power. If no series moves by more than chance, no measurement
    of this period, of anything the model outputs, could reject the mutant at this many replicates.
    """
    if baseline.series is None or mutated.series is None:
        return None
    joined = baseline.series.join(mutated.series.add_suffix("_mutant"), how="inner")
    change = (joined["median_mutant"] - joined["median"]).abs().to_numpy()
    spread = (joined["q90"] - joined["q10"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        signal = np.where(spread > 0, change / spread, np.where(change > 0, np.inf, 0.0))
    order = np.argsort(-signal, kind="stable")[:count]
    until = str(joined.index.get_level_values("date").max()) if len(joined) else ""
    largest = [
        Move(f"{metric} ({group}) {date}", float(joined["median"].iloc[i]), float(joined["median_mutant"].iloc[i]),
             float(spread[i]), True, min(baseline.replicates, mutated.replicates))
        for i in order
        for metric, group, date in [joined.index[i]]
    ]
    return OutputMoves(until, len(joined), int((signal > 1.0).sum()), largest)


@dataclass
class MutantOutcome:
    """One mutant's run and the checks that reject it."""

    mutant: Mutant
    validation: Validation
    rejected_by: list[str]  # checks that hold on the baseline and fail on the mutant, moved beyond chance
    fails_with_baseline: list[str]  # checks that fail on both (no evidence either way)
    fails_within_chance: list[str] = field(default_factory=list)  # fail on the mutant, moved no more than chance
    outputs: OutputMoves | None = None  # every output series of the observed period (for mutants not rejected)
    moves: list[Move] = field(default_factory=list)  # every check, the largest move against chance first

    @property
    def rejected(self) -> bool:
        return bool(self.rejected_by)


@dataclass
class MutationTest:
    """The outcome of `sim check --mutants`."""

    baseline: Validation
    mutants: list[MutantOutcome]
    wall_time_s: float

    @property
    def rejected(self) -> int:
        return sum(m.rejected for m in self.mutants)

    @property
    def baseline_holds(self) -> bool:
        return all(o.held for o in self.baseline.targets)

    @property
    def exit_code(self) -> int:
        return EXIT_HELD if self.baseline_holds and self.rejected == len(self.mutants) else EXIT_FAILED


def _label(outcome_id: str, tuned: bool) -> str:
    return outcome_id if tuned else f"{outcome_id} (pattern)"


def judge(baseline: Validation, mutant: Mutant, validation: Validation) -> MutantOutcome:
    """Which checks reject the mutant: those that hold on the baseline and fail on it, moved beyond chance."""
    held = {o.check.id: o.held for o in baseline.outcomes}
    moved = moves(baseline, validation)
    beyond = {m.check: m.beyond_chance for m in moved}
    rejected_by: list[str] = []
    both: list[str] = []
    within: list[str] = []
    for o in validation.outcomes:
        if o.held:
            continue
        label = _label(o.check.id, o.tuned)
        if not held.get(o.check.id, False):
            both.append(label)
        elif beyond.get(label, False):
            rejected_by.append(label)
        else:
            within.append(label)
    outcome = MutantOutcome(mutant, validation, rejected_by, both, fails_within_chance=within, moves=moved)
    if not outcome.rejected:
        outcome.outputs = output_moves(baseline, validation)
    return outcome


def moves(baseline: Validation, mutated: Validation) -> list[Move]:
    """Every check's move from the baseline to the mutant, the largest against chance first.

    For a mutant no check rejects this says how close the data come to telling it apart: a move
    smaller than the seed spread is invisible to any band; a large move inside a wide band is a band
    the data cannot narrow (or a fact that favours the mutant, when the baseline fails the check).
    """
    base = {o.check.id: o for o in baseline.outcomes}
    out = []
    for o in mutated.outcomes:
        b = base.get(o.check.id)
        if b is None or not (np.isfinite(b.median) and np.isfinite(o.median)):
            continue
        out.append(Move(_label(o.check.id, o.tuned), b.median, o.median, b.q90 - b.q10, o.held,
                        min(baseline.replicates, mutated.replicates)))
    return sorted(out, key=lambda m: -m.signal)


def describe_move(m: Move) -> str:
    """One move, like `open-lag-2026 3.05 -> 7.30 (x9.8 the seed spread)`."""
    times = "no seed spread" if not np.isfinite(m.signal) else f"x{m.signal:.1f} the seed spread"
    return f"{m.check} {m.baseline:.3g} -> {m.mutant:.3g} ({times})"


def largest_moves(outcome: MutantOutcome, count: int = 3) -> str:
    """The checks a mutant moved most, like `open-lag-2026 3.05 -> 7.30 (x9.8 the seed spread)`."""
    parts = [describe_move(m) for m in outcome.moves[:count]]
    return "; ".join(parts) if parts else "no check measured"


def outputs_verdict(outputs: OutputMoves) -> str:
    """What comparing every output series says, like `10,136 series, none moved by more than ...`."""
    largest = "; ".join(describe_move(m) for m in outputs.largest[:1])
    if outputs.beyond_spread == 0:
        return (f"{outputs.count:,} series, none moved by more than the seed spread (largest: {largest}): "
                "no measurement of this period, of anything the model outputs, could tell this mutant from "
                "the baseline at this many replicates")
    return (f"{outputs.beyond_spread:,} of {outputs.count:,} series moved by more than the seed spread (most: "
            f"{largest}): a measurement of one of them could reject this mutant")


def rejecting_moves(outcome: MutantOutcome) -> str:
    """The checks that reject a mutant with their moves, the largest against chance first."""
    rejecting = set(outcome.rejected_by)
    parts = [describe_move(m) for m in outcome.moves if m.check in rejecting]
    return "; ".join(parts) if parts else "no check"


def run_mutants(
    scenario: str | os.PathLike[str] | None = None,
    *,
    replicates: int = 10,
    workers: int = 1,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    targets: str | os.PathLike[str] | None = None,
    patterns: str | os.PathLike[str] | None = None,
    mutants: str | os.PathLike[str] | None = None,
    progress: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> MutationTest:
    """Run the baseline and every mutant with the same seeds and judge each mutant.

    `progress(label)` may return a per-run progress callback. The mutants file is read first, so a
    typo in it costs no simulation time.
    """
    started = time.perf_counter()
    listed = load_mutants(mutants)

    def check(label: str, extra: Sequence[str]) -> Validation:
        return run_check(scenario, replicates=replicates, workers=workers, seed=seed,
                         overrides=[*overrides, *extra], targets=targets, patterns=patterns,
                         progress=progress(label) if progress else None)

    baseline = check("baseline", [])
    seed = baseline.seed  # every mutant on the baseline's seeds
    outcomes = [judge(baseline, m, check(m.id, m.set)) for m in listed]
    return MutationTest(baseline, outcomes, time.perf_counter() - started)


def mutation_report(test: MutationTest) -> str:
    """The report `sim check --mutants` prints."""
    b = test.baseline
    lines = [
        f"Mutation test of {b.scenario_name} ({b.scenario_path}): {b.replicates} replicate(s), seed {b.seed}, "
        f"baseline and {len(test.mutants)} mutants on the same seeds, {test.wall_time_s:.1f} s",
        "A check rejects a mutant when it holds on the baseline and fails on the mutant, moved by more than",
        "chance moves a median of this many replicates (about 2 standard errors of the difference).",
        "",
        f"Baseline: {tally(b)}",
    ]
    failed = [o.check.id for o in b.targets if not o.held]
    if failed:
        lines.append(f"  calibration targets the baseline fails: {', '.join(failed)}")
    lines.append("")
    for m in test.mutants:
        verdict = "REJECTED" if m.rejected else "NOT REJECTED"
        lines.append(f"  {verdict}  {m.mutant.id}: {m.mutant.breaks}")
        lines.append(f"        set: {' '.join(m.mutant.set)}")
        lines.append(f"        rejected by: {rejecting_moves(m)}")
        if m.fails_within_chance:
            lines.append(f"        fails on the mutant, but moved no more than chance (not counted): "
                         f"{', '.join(m.fails_within_chance)}")
        if m.fails_with_baseline:
            lines.append(f"        also fails (as the baseline does): {', '.join(m.fails_with_baseline)}")
        if not m.rejected:
            lines.append(f"        moved most: {largest_moves(m)}")
            if m.outputs is not None:
                lines.append(f"        every output through {m.outputs.until}: {outputs_verdict(m.outputs)}")
    lines += ["", f"rejected {test.rejected}/{len(test.mutants)} mutants"]
    reasons = []
    if not test.baseline_holds:
        reasons.append("the baseline fails calibration targets")
    missed = [m.mutant.id for m in test.mutants if not m.rejected]
    if missed:
        reasons.append(f"no check rejects {', '.join(missed)}")
    held = "Every mutant rejected and the baseline holds (exit 0)."
    lines.append(f"Exit 1: {'; '.join(reasons)}." if reasons else held)
    return "\n".join(lines) + "\n"
