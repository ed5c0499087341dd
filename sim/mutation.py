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

One exception, with its own evidence: a mutant can be *equivalent on the record*. If the history of
2023-2026 holds no event where its mechanism acts (no lab switched all its releases between open and
closed; no access rule blocked lines the blocked users wanted), then no output series of that period
moves by more than the spread of the model's own runs (`OutputMoves.equivalent`), and no measurement of
the period's one history could reject it. For such a mutant the question left is whether the checks
would see the mechanism if the record held the event: an identical-twin experiment (as used to test
data assimilation and calibration schemes) answers it. The mutant's `twin` is a scenario that adds such
an event to the baseline; the model run on the twin on other seeds stands in for the world (the
*truth*); every check is recentred on the truth's median with the width its band has around the real
observation (`twin_checks`); and the baseline and the mutant are run on the twin and judged against
those checks exactly as on the record. A mutant equivalent on the record and rejected in its twin
counts as rejected, and the report says so in words; one that is not equivalent on the record, or that
its twin does not reject, still exits 1. The shipped twins extend the built-in baseline; to check
another scenario this way, give a mutants file whose twins extend that scenario (`--mutants FILE`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pydantic import Field

from sim.errors import InputError
from sim.fields import Slug, StrictModel
from sim.resources import data_dir
from sim.validation import (
    EXIT_FAILED,
    EXIT_HELD,
    Check,
    CheckFile,
    Validation,
    _shown,
    load_patterns,
    load_targets,
    run_check,
    tally,
)
from sim.yamlio import load_yaml_file


class Twin(StrictModel):
    """A history in which the mutant's mechanism acts inside the checked period (module docstring)."""

    scenario: str = Field(min_length=1, description="the twin's scenario file, relative to the mutants file")
    event: str = Field(min_length=1, description="what the twin adds to the baseline's history, in words")


class Mutant(StrictModel):
    """One deliberately broken variant of the model."""

    id: Slug = Field(description="short id of the mutant")
    breaks: str = Field(min_length=1, description="what is broken, in words")
    set: list[str] = Field(
        min_length=1, description="the `--set PATH=VALUE` overrides that break it (parameters or structure switches)"
    )
    twin: Twin | None = Field(
        None, description="for a mutant the record may not separate: a history where its mechanism acts"
    )


class MutantsFile(StrictModel):
    mutants: list[Mutant] = Field(min_length=1)


def load_mutants(path: str | os.PathLike[str] | None = None) -> list[Mutant]:
    """The mutants (default the built-in `scenarios/data/mutants.yaml`); bad input gives FILE:LINE:COLUMN."""
    from sim.scenario.errors import validate_located

    located = load_yaml_file(os.fspath(path) if path else _shown(data_dir() / "mutants.yaml"))
    parsed = validate_located(located, MutantsFile)
    seen: set[str] = set()
    problems = []
    listed = []
    folder = Path(located.file).parent
    for i, mutant in enumerate(parsed.mutants):
        if mutant.id in seen:
            problems.append(located.problem(("mutants", i, "id"), f"id {mutant.id!r} is used twice", at_value=True))
        seen.add(mutant.id)
        if mutant.twin is not None:  # the twin's scenario, found now rather than after the record's runs
            twin_path = folder / mutant.twin.scenario
            if not twin_path.is_file():
                missing = f"twin scenario {mutant.twin.scenario!r} not found (looked in {folder})"
                problems.append(located.problem(("mutants", i, "twin", "scenario"), missing, at_value=True))
            mutant = mutant.model_copy(update={"twin": mutant.twin.model_copy(update={"scenario": str(twin_path)})})
        listed.append(mutant)
    if problems:
        raise InputError(problems)
    return listed


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

    @property
    def equivalent(self) -> bool:
        """No series of the period moved by more than the baseline's own 10-90% range over seeds.

        The world is one realisation: a measurement of it can tell a mutant from the model only where the
        mutant moves a quantity by more than the model's own runs differ from one another. The cut does not
        shrink with more replicates (a move of a tenth of the spread, real at 1,000 replicates, is still
        invisible in one history); at 10 replicates it is also about 4.6 standard errors of a difference of
        medians, roughly a Bonferroni cut of chance over 22,500 series.
        """
        return self.count > 0 and self.beyond_spread == 0


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
    replicates = min(baseline.replicates, mutated.replicates)
    largest = [
        Move(f"{metric} ({group}) {date}", float(joined["median"].iloc[i]), float(joined["median_mutant"].iloc[i]),
             float(spread[i]), True, replicates)
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
    twin: TwinOutcome | None = None  # the identical-twin experiment, for a mutant equivalent on the record

    @property
    def rejected(self) -> bool:
        return bool(self.rejected_by)

    @property
    def equivalent(self) -> bool:
        """Not rejected, and no output series of the record moved beyond chance."""
        return not self.rejected and self.outputs is not None and self.outputs.equivalent

    @property
    def counted(self) -> bool:
        """Rejected on the record, or equivalent on it and rejected in its twin."""
        return self.rejected or (self.equivalent and self.twin is not None and self.twin.outcome.rejected)


@dataclass
class TwinOutcome:
    """A mutant judged in its twin history: the checks recentred on the twin's truth (`twin_checks`)."""

    event: str
    scenario: str
    truth_seed: int
    kept: int  # checks that still say something in the twin
    dropped: list[str]  # qualitative checks whose sign or order the twin's truth does not show
    baseline: Validation  # the model on the twin, on the record's seeds, measured by the recentred checks
    outcome: MutantOutcome


@dataclass
class MutationTest:
    """The outcome of `sim check --mutants`."""

    baseline: Validation
    mutants: list[MutantOutcome]
    wall_time_s: float

    @property
    def rejected(self) -> int:
        """Mutants rejected on the record."""
        return sum(m.rejected for m in self.mutants)

    @property
    def counted(self) -> int:
        """Mutants rejected on the record, or equivalent on it and rejected in their twins."""
        return sum(m.counted for m in self.mutants)

    @property
    def baseline_holds(self) -> bool:
        return all(o.held for o in self.baseline.targets)

    @property
    def exit_code(self) -> int:
        return EXIT_HELD if self.baseline_holds and self.counted == len(self.mutants) else EXIT_FAILED


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
    if outputs.equivalent:
        return (f"{outputs.count:,} series, none moved by more than the seed spread (largest: {largest}): "
                "no measurement of this period, of anything the model outputs, could tell this mutant from "
                "the baseline in one history")
    return (f"{outputs.beyond_spread:,} of {outputs.count:,} series moved by more than the seed spread (most: "
            f"{largest}): a measurement of one of them could reject this mutant")


def rejecting_moves(outcome: MutantOutcome) -> str:
    """The checks that reject a mutant with their moves, the largest against chance first."""
    rejecting = set(outcome.rejected_by)
    parts = [describe_move(m) for m in outcome.moves if m.check in rejecting]
    return "; ".join(parts) if parts else "no check"


# The twin's truth runs on other seeds than the record's runs (replicate seeds are spawned from the
# scenario seed by numpy's SeedSequence, so any other seed gives independent streams).
TWIN_TRUTH_SEED_OFFSET = 7919


def recentred(check: Check, truth: float) -> Check | None:
    """The check as it would read had the world been the twin's truth (module docstring).

    The band keeps its width around the observation: as factors of it where the observation and the band
    are positive (the level targets' bands were derived as factors: x0.64-1.5 for the EU, x0.5-1.25 for
    Menlo's surveys), as differences otherwise (signed quantities, differences of shares). A sign or an
    order (`observed` null) is kept when the truth shows it and dropped when it does not (None), since
    the twin's history changed the fact.
    """
    low, high = check.accept
    if not np.isfinite(truth):
        return None
    if check.observed is None:
        return check if low <= truth <= high else None
    observed = check.observed
    if observed > 0 and low >= 0 and truth > 0:
        band = (truth * low / observed, truth * high / observed)
    else:
        band = (truth - (observed - low), truth + (high - observed))
    return check.model_copy(update={"observed": truth, "accept": band})


def twin_checks(files: Sequence[CheckFile], truth: Validation) -> tuple[list[CheckFile], list[str]]:
    """Every check recentred on the twin truth's median (`recentred`), and the ids of those dropped."""
    medians = {o.check.id: o.median for o in truth.outcomes}
    out, dropped = [], []
    for file in files:
        kept: list[Check] = []
        for check in file.checks:
            moved = recentred(check, medians.get(check.id, float("nan")))
            if moved is None:
                dropped.append(check.id)
            else:
                kept.append(moved)
        out.append(replace(file, checks=kept))
    return out, dropped


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
    """Run the baseline and every mutant with the same seeds and judge each mutant; a mutant equivalent on
    the record that has a twin is then judged in its twin (module docstring).

    `progress(label)` may return a per-run progress callback. The mutants file is read first, so a
    typo in it costs no simulation time.
    """
    started = time.perf_counter()
    listed = load_mutants(mutants)
    files = [load_targets(targets), load_patterns(patterns)]

    def check(label: str, extra: Sequence[str], *, where: str | os.PathLike[str] | None = scenario,
              checks: Sequence[CheckFile] = files, seed_: int | None = None) -> Validation:
        return run_check(where, replicates=replicates, workers=workers, seed=seed_ if seed_ is not None else seed,
                         overrides=[*overrides, *extra], files=checks,
                         progress=progress(label) if progress else None)

    baseline = check("baseline", [])
    seed = baseline.seed  # every mutant on the baseline's seeds
    outcomes = [judge(baseline, m, check(m.id, m.set)) for m in listed]
    for outcome in outcomes:
        twin = outcome.mutant.twin
        if twin is None or not outcome.equivalent:
            continue
        truth_seed = seed + TWIN_TRUTH_SEED_OFFSET
        truth = check(f"{outcome.mutant.id}: twin truth", [], where=twin.scenario, seed_=truth_seed)
        recentred_files, dropped = twin_checks(files, truth)
        twin_base = check(f"{outcome.mutant.id}: twin baseline", [], where=twin.scenario, checks=recentred_files)
        twin_mutant = check(f"{outcome.mutant.id}: twin mutant", outcome.mutant.set, where=twin.scenario,
                            checks=recentred_files)
        outcome.twin = TwinOutcome(twin.event, twin.scenario, truth_seed,
                                   sum(len(f.checks) for f in recentred_files), dropped, twin_base,
                                   judge(twin_base, outcome.mutant, twin_mutant))
    return MutationTest(baseline, outcomes, time.perf_counter() - started)


def twin_verdict(outcome: MutantOutcome) -> str:
    """What the twin experiment found, in one line (for a mutant equivalent on the record)."""
    twin = outcome.twin
    if twin is None:
        return ""
    judged = twin.outcome
    verdict = (f"REJECTED by {rejecting_moves(judged)}" if judged.rejected
               else f"not rejected (moved most: {largest_moves(judged)})")
    return (f"in its twin ({twin.event}; {_shown(twin.scenario)}; truth on seed {twin.truth_seed}, "
            f"{twin.kept} checks recentred on it, baseline holds {sum(o.held for o in twin.baseline.outcomes)}): "
            f"{verdict}")


def mutation_report(test: MutationTest) -> str:
    """The report `sim check --mutants` prints."""
    b = test.baseline
    lines = [
        f"Mutation test of {b.scenario_name} ({b.scenario_path}): {b.replicates} replicate(s), seed {b.seed}, "
        f"baseline and {len(test.mutants)} mutants on the same seeds, {test.wall_time_s:.1f} s",
        "A check rejects a mutant when it holds on the baseline and fails on the mutant, moved by more than",
        "chance moves a median of this many replicates (about 2 standard errors of the difference).",
        "A mutant that moves no output series of the record by more than the seed spread is equivalent on the",
        "record; it counts as rejected if the checks reject it in its twin: the same history plus an event where",
        "its mechanism acts, the checks recentred on the model's own run of it.",
        "",
        f"Baseline: {tally(b)}",
    ]
    failed = [o.check.id for o in b.targets if not o.held]
    if failed:
        lines.append(f"  calibration targets the baseline fails: {', '.join(failed)}")
    lines.append("")
    for m in test.mutants:
        verdict = ("REJECTED" if m.rejected else "REJECTED IN ITS TWIN (equivalent on the record)" if m.counted
                   else "NOT REJECTED")
        lines.append(f"  {verdict}  {m.mutant.id}: {m.mutant.breaks}")
        lines.append(f"        set: {' '.join(m.mutant.set)}")
        where = "" if m.rejected or m.twin is None else " on the record"
        lines.append(f"        rejected by: {rejecting_moves(m)}{where}")
        if m.fails_within_chance:
            lines.append(f"        fails on the mutant, but moved no more than chance (not counted): "
                         f"{', '.join(m.fails_within_chance)}")
        if m.fails_with_baseline:
            lines.append(f"        also fails (as the baseline does): {', '.join(m.fails_with_baseline)}")
        if not m.rejected:
            lines.append(f"        moved most: {largest_moves(m)}")
            if m.outputs is not None:
                lines.append(f"        every output through {m.outputs.until}: {outputs_verdict(m.outputs)}")
            if m.twin is not None:
                lines.append(f"        {twin_verdict(m)}")
            elif m.equivalent and m.mutant.twin is None:
                lines.append("        no twin given: nothing shows whether the checks could see this mechanism")
    twins = test.counted - test.rejected
    lines += ["", f"rejected {test.rejected}/{len(test.mutants)} mutants on the record"
              + (f"; {twins} more equivalent on the record and rejected in their twins" if twins else "")]
    reasons = []
    if not test.baseline_holds:
        reasons.append("the baseline fails calibration targets")
    missed = [m.mutant.id for m in test.mutants if not m.counted]
    if missed:
        reasons.append(f"no check rejects {', '.join(missed)}")
    held = ("Every mutant rejected" + (" (on the record or in its twin)" if twins else "")
            + " and the baseline holds (exit 0).")
    lines.append(f"Exit 1: {'; '.join(reasons)}." if reasons else held)
    return "\n".join(lines) + "\n"


def mutation_markdown(test: MutationTest) -> str:
    """The mutation test as a Markdown section (docs/validation.md's, and `sim check --mutants --out X.md`)."""

    lines = [
        "",
        "## Checks against broken models (`sim check --mutants`)",
        "",
        f"The baseline and {len(test.mutants)} deliberately broken variants (`scenarios/data/mutants.yaml`), "
        f"{test.baseline.replicates} replicates each on the same seeds. A check rejects a mutant when it holds on "
        "the baseline and fails on the mutant, moved by more than chance moves a median of that many replicates "
        "(about two standard errors of the difference of the two medians, from the baseline's spread); a check "
        "that fails on the mutant by less is listed as such and not counted, since its verdict would flip with "
        "the seeds. A mutant no check rejects is a finding about the checks (the data "
        "of 2023-2026 cannot tell that mechanism from its alternative), reported, never hidden by moving a band.",
        "",
        "The last column gives, for a mutant no check rejects, the three checks it moved most, each as baseline "
        "median -> mutant median and the change in units of the baseline's 10-90% range over replicates (what "
        "chance alone moves): a small multiple means the mechanism is invisible in that check; a large one inside "
        "the band means the band, written from the measurement, is wider than the mechanism's effect; a move "
        "towards a band the baseline fails means the fact favours the mutant. Beneath it, every output series of "
        "the observed period (each metric, group and quarter up to the checks' last quarter) is compared the same "
        "way: if none moves by more than the seed spread, no measurement of that period, of anything the model "
        "outputs, could reject the mutant: the world is one history, and one history tells two models apart only "
        "where they differ by more than the model's own runs differ from one another (`OutputMoves.equivalent`).",
        "",
        "Such a mutant is *equivalent on the record*, and its mechanism can only be tested where it acts: in its "
        "*twin*, a history that adds such an event to the baseline (`scenarios/twins/`). The model's run of the "
        "twin on other seeds stands in for the world; every check is recentred on it, its band keeping the width "
        "it has around the real observation; and the baseline and the mutant, run on the twin with the record's "
        "seeds, are judged by those checks as on the record (an identical-twin experiment; "
        "docs/calibration_method.md, \"Mutants the record cannot separate\"). A mutant equivalent on the record "
        "and rejected in its twin counts as rejected.",
        "",
        "| mutant | what it breaks | rejected by | fails on the mutant within chance (not counted) "
        "| moved most (not rejected) |",
        "|---|---|---|---|---|",
    ]
    for m in test.mutants:
        by = (rejecting_moves(m) if m.rejected
              else "**none on the record** (its twin: last column)" if m.counted else "**no check**")
        within = ", ".join(m.fails_within_chance)
        closest = "" if m.rejected else largest_moves(m)
        if not m.rejected and m.outputs is not None:
            closest += f"<br>Every output through {m.outputs.until}: {outputs_verdict(m.outputs)}."
        if m.twin is not None:
            twin = twin_verdict(m)
            closest += f"<br>{twin[0].upper()}{twin[1:]}."
        lines.append(f"| {m.mutant.id} | {' '.join(m.mutant.breaks.split())} | {by} | {within} | {closest} |")
    twins = test.counted - test.rejected
    lines += ["", f"Rejected {test.rejected} of {len(test.mutants)} mutants on the record"
              + (f"; {twins} more equivalent on the record and rejected in their twins" if twins else "") + ".", ""]
    return "\n".join(lines)
