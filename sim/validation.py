"""Validation of a scenario against what the world did: calibration targets and untuned patterns.

Two kinds of checks, both data in `scenarios/data/`:

- **calibration targets** (`targets.yaml`): 2023-2026 facts the baseline must reproduce, each with
  its source's date, what it measures, its uncertainty and the model quantity it is compared with
  (docs/calibration.md says which parameter was set against which target);
- **untuned patterns** (`patterns.yaml`): other facts of 2023-2026 the model was *not* tuned to
  (pattern-oriented modelling: a model is credible when it reproduces several patterns at once,
  including some it was not fitted to). Each has `tuned: false`.

Every check is measured the same way from the tidy time series of a run: in each replicate, the
value of `metric` for `group` averaged over `quarters`, minus the same for `minus_group` if given,
divided by the same quantity over `ratio_to_quarters` if given. The check holds when the median over
replicates lies in `accept` (inclusive); the 10-90% band over replicates is reported beside it.

`sim check` exits 0 when every calibration target holds and 1 when one does not (a failed validation
is a finding about the model, like a failed test, not bad input). Untuned patterns are reported,
held or not, and never change the exit code: they are evidence, not a gate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from sim.errors import InputError, Problem, did_you_mean
from sim.fields import ClaimId, FieldError, Slug, StrictModel
from sim.metrics_registry import normalise_group
from sim.quarters import Quarter
from sim.resources import data_dir
from sim.yamlio import Located, load_yaml_file

BASELINE = "baseline"  # the built-in scenario checked by default
EXIT_HELD, EXIT_FAILED = 0, 1


# --- the checks, as data ---------------------------------------------------------------------------


class Check(StrictModel):
    """How one observed fact is measured in the model's time series, and the tolerance."""

    id: Slug = Field(description="short id of the check")
    metric: str = Field(description="metric of the output contract, like adoption_share")
    group: str = Field(description="group label of the output contract, like openness=open,origin=CN, or world")
    minus_group: str | None = Field(None, description="a group whose value is subtracted (a difference)")
    quarters: list[Quarter] = Field(min_length=1, description="quarters the value is averaged over")
    ratio_to_quarters: list[Quarter] = Field(
        default_factory=list, description="if given: the value is divided by the same over these quarters"
    )
    observed: float | None = Field(description="the observed value (null for a sign or an order)")
    accept: tuple[float, float] = Field(description="[low, high]: the model's median must lie in it")
    source: str = Field(min_length=1, description="where the observed fact comes from")

    @field_validator("group", "minus_group")
    @classmethod
    def _world_total(cls, group: str | None) -> str | None:
        return None if group is None else normalise_group(group)  # "" named the world total before `world`

    @model_validator(mode="after")
    def _accept_in_order(self) -> Check:
        if self.accept[0] > self.accept[1]:
            raise FieldError(f"accept [{self.accept[0]:g}, {self.accept[1]:g}] has its low end above its high end",
                             "accept")
        return self


class Uncertainty(StrictModel):
    """How uncertain the measured value is: a symmetric `plus_minus` or a `range`, and why."""

    plus_minus: float | None = Field(None, ge=0, description="half-width around `observed`, in the check's unit")
    range: tuple[float, float] | None = Field(None, description="[low, high] the measured value may lie in")
    reason: str = Field(min_length=1, description="where the uncertainty comes from (sampling, sources disagree...)")

    @model_validator(mode="after")
    def _one_form(self) -> Uncertainty:
        if (self.plus_minus is None) == (self.range is None):
            raise ValueError("give either `plus_minus` or `range` (exactly one)")
        if self.range is not None and self.range[0] > self.range[1]:
            raise FieldError(f"range [{self.range[0]:g}, {self.range[1]:g}] has its low end above its high end",
                             "range")
        return self

    def interval(self, observed: float | None) -> tuple[float, float] | None:
        """The measured interval: `range`, or `observed` +/- `plus_minus` (None without an observed value)."""
        if self.range is not None:
            return self.range
        if observed is None or self.plus_minus is None:
            return None
        return observed - self.plus_minus, observed + self.plus_minus


class Target(Check):
    """A calibration target: an observed level or change the baseline must reproduce.

    Its accepted band is the measurement's uncertainty widened by the stated gap between what was
    measured (`measures`) and what the model outputs (`model_quantity`), never narrower than the
    measurement itself (targets.yaml's header says how each band is derived).
    """

    date: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                      description="date of the source (YYYY, YYYY-MM or YYYY-MM-DD)")
    measures: str = Field(min_length=1, description="what the source counts (firms, people, tokens, downloads...)")
    uncertainty: Uncertainty = Field(description="the measurement's uncertainty, with a reason")
    model_quantity: str = Field(
        min_length=1,
        description="what the model's metric stands for, and the gap to what was measured that widens the band",
    )

    @model_validator(mode="after")
    def _band_covers_measurement(self) -> Target:
        measured = self.uncertainty.interval(self.observed)
        slack = 1e-9  # rounding of the written numbers
        low, high = self.accept
        if measured is not None and not (low - slack <= measured[0] and measured[1] <= high + slack):
            raise FieldError(
                f"accept [{self.accept[0]:g}, {self.accept[1]:g}] is narrower than the measurement "
                f"[{measured[0]:g}, {measured[1]:g}]: a band widens the measurement's uncertainty, never cuts it",
                "accept",
            )
        return self


class Pattern(Check):
    """An untuned pattern: a fact of 2023-2026 the model was not tuned to."""

    fact: str = Field(min_length=1, description="the observed pattern in words")
    claims: list[ClaimId] = Field(description="claim ids of the source documents that state it (may be empty)")
    tuned: bool = Field(
        description="always false: a pattern the model was tuned to is a calibration target (targets.yaml)"
    )
    note: str = Field("", description="what weakens or overlaps the pattern, said plainly")

    @field_validator("tuned")
    @classmethod
    def _untuned(cls, tuned: bool) -> bool:
        if tuned:
            raise ValueError(
                "a pattern the model was tuned to is a calibration target: move it to targets.yaml "
                "(patterns.yaml holds only `tuned: false`)"
            )
        return tuned


class Considered(StrictModel):
    """A pattern the documents state that the baseline cannot test honestly, and why."""

    id: Slug
    fact: str = Field(min_length=1)
    claims: list[ClaimId] = Field(default_factory=list)
    reason: str = Field(min_length=1)


class TargetsFile(StrictModel):
    targets: list[Target] = Field(min_length=1)


class PatternsFile(StrictModel):
    patterns: list[Pattern] = Field(min_length=1)
    considered: list[Considered] = Field(default_factory=list)


@dataclass
class CheckFile:
    """The checks of one file, with where each sits in it (for located messages)."""

    path: str
    located: Located
    checks: list[Check]
    considered: list[Considered] = field(default_factory=list)

    def problem(self, index: int, key: str, message: str) -> Problem:
        section = "targets" if isinstance(self.checks[index], Target) else "patterns"
        return self.located.problem((section, index, key), message, at_value=True)


def _shown(path: str | os.PathLike[str]) -> str:
    # Relative below the current folder (the repository), else absolute (an installed package).
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return os.fspath(path) if relative.startswith("..") else relative


def _load(path: str, schema: type[TargetsFile] | type[PatternsFile]) -> CheckFile:
    located = load_yaml_file(path)
    from sim.scenario.errors import validate_located

    parsed = validate_located(located, schema)
    if isinstance(parsed, TargetsFile):
        checks: list[Check] = list(parsed.targets)
        considered: list[Considered] = []
    else:
        checks, considered = list(parsed.patterns), list(parsed.considered)
    seen: dict[str, int] = {}
    problems = []
    for i, check in enumerate(checks):
        if check.id in seen:
            section = "targets" if isinstance(check, Target) else "patterns"
            problems.append(located.problem((section, i, "id"), f"id {check.id!r} is used twice", at_value=True))
        seen[check.id] = i
    if problems:
        raise InputError(problems)
    return CheckFile(located.file, located, checks, considered)


def load_targets(path: str | os.PathLike[str] | None = None) -> CheckFile:
    """The calibration targets (default the built-in `scenarios/data/targets.yaml`)."""
    return _load(os.fspath(path) if path else _shown(data_dir() / "targets.yaml"), TargetsFile)


def load_patterns(path: str | os.PathLike[str] | None = None) -> CheckFile:
    """The untuned patterns and the ones considered but not testable (default the built-in
    `scenarios/data/patterns.yaml`)."""
    return _load(os.fspath(path) if path else _shown(data_dir() / "patterns.yaml"), PatternsFile)


# --- measuring ------------------------------------------------------------------------------------


class MissingSeriesError(LookupError):
    """A check names a metric, group or quarter the run did not produce."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _mean_over(series: pd.DataFrame, metric: str, group: str, quarters: Sequence[str], key: str) -> pd.Series:
    """Per replicate: the mean of `metric` for `group` over `quarters`."""
    of_metric = series[series["metric"] == metric]
    if of_metric.empty:
        known = sorted(set(series["metric"]))
        raise MissingSeriesError("metric", f"the run has no metric {metric!r}{did_you_mean(metric, known)}")
    rows = of_metric[of_metric["group"] == group]
    if rows.empty:
        groups = sorted(set(of_metric["group"]))
        raise MissingSeriesError(key, f"metric {metric!r} has no group {group!r}{did_you_mean(group, groups)}")
    rows = rows[rows["date"].isin(quarters)]
    missing = sorted(set(quarters) - set(rows["date"]))
    if missing:
        raise MissingSeriesError(
            "quarters", f"the run has no {metric} ({group}) in {', '.join(missing)}: is it outside the run's time?"
        )
    return rows.groupby("replicate")["value"].mean()


def measure(series: pd.DataFrame, check: Check) -> np.ndarray:
    """The check's value in each replicate of a run's tidy time series (replicates in order)."""

    def value(quarters: Sequence[str]) -> pd.Series:
        result = _mean_over(series, check.metric, check.group, quarters, "group")
        if check.minus_group is not None:
            result = result - _mean_over(series, check.metric, check.minus_group, quarters, "minus_group")
        return result

    result = value(check.quarters)
    if check.ratio_to_quarters:
        base = value(check.ratio_to_quarters)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = result / base.where(base != 0)  # a zero base gives NaN: the check cannot hold
    return result.sort_index().to_numpy(dtype=float)


@dataclass
class Outcome:
    """One check measured on a run."""

    check: Check
    values: np.ndarray
    median: float
    q10: float
    q90: float

    @property
    def held(self) -> bool:
        low, high = self.check.accept
        return bool(np.isfinite(self.median) and low <= self.median <= high)

    @property
    def tuned(self) -> bool:
        return isinstance(self.check, Target)


def outcome(series: pd.DataFrame, check: Check) -> Outcome:
    values = measure(series, check)
    finite = values[np.isfinite(values)]
    if finite.size < values.size:  # any undefined replicate makes the statistics undefined
        return Outcome(check, values, float("nan"), float("nan"), float("nan"))
    return Outcome(
        check, values, float(np.median(values)), float(np.quantile(values, 0.1)), float(np.quantile(values, 0.9))
    )


def evaluate(series: pd.DataFrame, files: Sequence[CheckFile]) -> list[Outcome]:
    """Every check of the files measured on the run; a check naming a series the run lacks is bad input."""
    outcomes, problems = [], []
    for file in files:
        for i, check in enumerate(file.checks):
            try:
                outcomes.append(outcome(series, check))
            except MissingSeriesError as missing:
                problems.append(file.problem(i, missing.key, str(missing)))
    if problems:
        raise InputError(problems)
    return outcomes


# --- a whole check run ----------------------------------------------------------------------------


@dataclass
class Validation:
    """The outcome of `sim check`: which scenario, how it was run, and every check's outcome."""

    scenario_path: str
    scenario_name: str
    replicates: int
    seed: int
    outcomes: list[Outcome]
    considered: list[Considered]
    wall_time_s: float = 0.0
    # Every output series of the run up to the checks' last quarter: median and 10%/90% over replicates,
    # indexed by (metric, group, date). Lets `sim check --mutants` say whether a mutant no check rejects
    # differs from the baseline in any quantity the model outputs over the observed period.
    series: pd.DataFrame | None = None

    @property
    def targets(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tuned]

    @property
    def patterns(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.tuned]

    @property
    def exit_code(self) -> int:
        return EXIT_HELD if all(o.held for o in self.targets) else EXIT_FAILED


def run_check(
    scenario: str | os.PathLike[str] | None = None,
    *,
    replicates: int = 10,
    workers: int = 1,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    targets: str | os.PathLike[str] | None = None,
    patterns: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    uncertainty: str | None = "seeds",
    ensemble: str | os.PathLike[str] | None = None,
    files: Sequence[CheckFile] | None = None,
) -> Validation:
    """Run the scenario (default the built-in baseline) and measure every target and pattern on it.

    The check files are read before the run, so a typo in them costs no simulation time. With
    `uncertainty="ensemble"` replicate r runs with member r mod N of `ensemble` (default the shipped one).
    `files`, if given, are checks already loaded (and perhaps rewritten, as a twin experiment does), used
    instead of `targets` and `patterns`.
    """
    from sim.api import run

    path = os.fspath(scenario) if scenario else BASELINE
    if files is None:
        files = [load_targets(targets), load_patterns(patterns)]
    result = run(path, replicates=replicates, workers=workers, seed=seed, overrides=list(overrides),
                 progress=progress, uncertainty=uncertainty, ensemble=ensemble)
    outcomes = evaluate(result.timeseries, files)
    spec = result.prepared.scenario
    return Validation(
        scenario_path=path,
        scenario_name=spec.name,
        replicates=replicates,
        seed=spec.seed if seed is None else seed,
        outcomes=outcomes,
        considered=[c for file in files for c in file.considered],
        wall_time_s=result.wall_time_s,
        series=series_statistics(result.timeseries, last_checked_quarter(files)),
    )


def last_checked_quarter(files: Sequence[CheckFile]) -> str:
    """The latest quarter any check reads: the end of the period the observations cover."""
    return max(str(q) for file in files for check in file.checks for q in (*check.quarters, *check.ratio_to_quarters))


def series_statistics(timeseries: pd.DataFrame, until: str) -> pd.DataFrame:
    """Median and 10%/90% over replicates of every (metric, group, date) series up to `until`."""
    window = timeseries[timeseries["date"].astype(str) <= until]
    grouped = window.groupby(["metric", "group", "date"], observed=True)["value"]
    return pd.DataFrame({"median": grouped.median(), "q10": grouped.quantile(0.1), "q90": grouped.quantile(0.9)})


# --- reports --------------------------------------------------------------------------------------


def number(value: float | None, check: Check) -> str:
    """A value in the check's natural precision: months to 0.1, ratios to 0.01, shares to 0.001."""
    if value is None:
        return "qualitative"
    if not np.isfinite(value):
        return "undefined"
    if check.ratio_to_quarters:
        return f"{value:.2f}"
    return f"{value:.1f}" if check.metric == "capability_gap_months" else f"{value:.3f}"


def span(quarters: Sequence[str]) -> str:
    return quarters[0] if len(quarters) == 1 else f"{quarters[0]}-{quarters[-1]}"


def measure_text(check: Check, code: str = "") -> str:
    """How the check is measured, in words: `adoption_share (openness=open) minus (...), 2025Q1-2025Q4`."""
    group = check.group + (f" minus {check.minus_group}" if check.minus_group else "")
    text = f"{code}{check.metric}{code} ({group}), {span(check.quarters)}"
    if check.ratio_to_quarters:
        text += f" divided by the same in {span(check.ratio_to_quarters)}"
    return text


def accept_text(check: Check) -> str:
    low, high = check.accept
    return f"{number(low, check)} to {number(high, check)}"


def band_text(o: Outcome) -> str:
    return f"{number(o.median, o.check)} [{number(o.q10, o.check)}, {number(o.q90, o.check)}]"


def tally(validation: Validation) -> str:
    t, p = validation.targets, validation.patterns
    return (
        f"{sum(o.held for o in t)} of {len(t)} calibration targets hold; "
        f"{sum(o.held for o in p)} of {len(p)} untuned patterns hold."
    )


def text_report(validation: Validation) -> str:
    """The report `sim check` prints."""
    v = validation
    lines = [
        f"Validation of {v.scenario_name} ({v.scenario_path}): {v.replicates} replicate(s), seed {v.seed}"
        + (f", {v.wall_time_s:.1f} s" if v.wall_time_s else ""),
        "Each check: observed value; model median [10%, 90%] over replicates; the accepted range; PASS when the",
        "median lies in it.",
    ]
    for title, outcomes in (
        ("Calibration targets (the baseline must reproduce these; they set the exit code)", v.targets),
        ("Untuned patterns (the model was not tuned to these)", v.patterns),
    ):
        lines += ["", title]
        for o in outcomes:
            c = o.check
            lines.append(
                f"  {'PASS' if o.held else 'FAIL'}  {c.id}: observed {number(c.observed, c)}; "
                f"model {band_text(o)}; accepted {accept_text(c)}"
            )
            lines.append(f"        {'calibration target' if o.tuned else 'untuned pattern'}: {measure_text(c)}")
    lines += ["", tally(v)]
    failed = [o.check.id for o in v.targets if not o.held]
    lines.append(
        f"Calibration targets failed: {', '.join(failed)} (exit 1)." if failed else "All calibration targets hold."
    )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def targets_table(validation: Validation) -> list[str]:
    """docs/calibration.md's table (the format scripts/calibration_report.py always wrote)."""
    lines = [
        "| target | metric (group), quarters | observed | accepted | model median | model 10-90% | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in validation.targets:
        c = o.check
        lines.append(
            f"| {c.id} | {measure_text(c, '`')} | {number(c.observed, c)} | {number(c.accept[0], c)}-"
            f"{number(c.accept[1], c)} | {number(o.median, c)} | {number(o.q10, c)} to {number(o.q90, c)} | "
            f"{'yes' if o.held else 'NO'} |"
        )
    return lines


def target_notes(validation: Validation) -> list[str]:
    """What each calibration target measured, how uncertain it is, and what the model's quantity is
    (the gap that widens its band): one bullet per target."""
    lines = []
    for o in validation.targets:
        c = o.check
        assert isinstance(c, Target)
        u = c.uncertainty
        spread = f"+/- {number(u.plus_minus, c)}" if u.plus_minus is not None else (
            f"range {number(u.range[0], c)} to {number(u.range[1], c)}" if u.range else "")
        lines.append(
            f"- **{c.id}** ({c.date}): {_cell(c.source)}. *Measures:* {_cell(c.measures)}. *Uncertainty:* "
            f"{spread} ({_cell(u.reason)}). *Model:* {_cell(c.model_quantity)}; accepted {accept_text(c)}."
        )
    return lines


def patterns_markdown(validation: Validation) -> list[str]:
    """docs/validation.md's table of untuned patterns and the notes on each."""
    lines = [
        "| pattern | measured as | observed | accepted | model median | model 10-90% | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in validation.patterns:
        c = o.check
        lines.append(
            f"| {c.id} | {_cell(measure_text(c, '`'))} | {number(c.observed, c)} | {accept_text(c)} | "
            f"{number(o.median, c)} | {number(o.q10, c)} to {number(o.q90, c)} | {'yes' if o.held else '**no**'} |"
        )
    lines += ["", "What each pattern is, where it comes from, and what weakens it:", ""]
    for o in validation.patterns:
        c = o.check
        assert isinstance(c, Pattern)
        claims = f" Claims: {', '.join(c.claims)}." if c.claims else ""
        note = f" *Note:* {c.note}" if c.note else ""
        verdict = "holds" if o.held else "does not hold"
        lines.append(f"- **{c.id}** ({verdict}): {c.fact}. Source: {c.source}.{claims}{note}")
    return lines


def considered_markdown(validation: Validation) -> list[str]:
    lines = []
    for c in validation.considered:
        claims = f" ({', '.join(c.claims)})" if c.claims else ""
        lines.append(f"- **{c.id}**{claims}: {c.fact}. *Not used:* {c.reason}")
    return lines


VALIDATION_INTRO = """\
A model is credible when it reproduces several patterns of the real world at once, including some it
was not tuned to (pattern-oriented modelling; Grimm et al. 2005, Science 310:987; ODD 2020, Grimm et
al., JASSS 23(2):7). This page sets the baseline beside two kinds of facts from 2023-2026:

- **calibration targets** (`scenarios/data/targets.yaml`): observed levels and changes the baseline
  must reproduce, each with the date of its source, what it counts (firms, people, tokens), its
  measurement uncertainty and the gap to the model's quantity that widens its band. Some were tuned
  to ([calibration.md](calibration.md) says which parameter was set against which target); the
  per-bloc levels added in Calibration v2 (EU and US firm adoption, Chinese shares in China and
  Russia, the North-South gap) were not, and no parameter has been re-tuned since;
- **untuned patterns** (`scenarios/data/patterns.yaml`): other facts the source documents and public
  figures state, which no parameter was tuned to. Their tolerances were written down from the facts
  before the model was run on them, and no parameter has been changed since to make one hold: a
  pattern that holds only after tuning to it would be calibration, not validation.

Every check is measured the same way: in each replicate, the metric and group of the output contract
averaged over the quarters named, minus a second group for a difference, divided by the same over
other quarters for a ratio. A check holds when the **median over replicates** lies in the accepted
range; the 10-90% band over replicates shows how much it varies with the random draws.

`sim check` prints the same report (exit 0 when every calibration target holds, 1 when one does not;
untuned patterns are reported, never gated). `sim check --mutants` tests the checks themselves: it runs
deliberately broken variants of the model (`scenarios/data/mutants.yaml`) on the same seeds and reports
which checks reject each (a check rejects a mutant when it holds on the baseline and fails on the
mutant, moved by more than chance moves a median of that many replicates); it exits 0 only when the
baseline holds and every mutant is rejected."""

SENSITIVITY_NOTE = """\
Which parameters the headline curves depend on most is in [sensitivity.md](sensitivity.md) (Sobol
indices over every behavioural parameter and the structural switches, written by `python
scripts/sensitivity_report.py`): read it to see what a run of the baseline really assumes."""


def validation_markdown(validation: Validation, command: str) -> str:
    """The whole docs/validation.md page."""
    v = validation
    failed_patterns = [o for o in v.patterns if not o.held]
    failed_targets = [o for o in v.targets if not o.held]
    lines = [
        "# Validation of the baseline",
        "",
        f"Generated by `{command}` ({v.replicates} replicates of `{v.scenario_path}`, seed {v.seed}). "
        "Do not edit by hand.",
        "",
        VALIDATION_INTRO,
        "",
        "## Summary",
        "",
        tally(v),
        "",
    ]
    if failed_targets:
        lines.append("Calibration targets that fail: " + ", ".join(o.check.id for o in failed_targets) + ".")
        lines.append("")
    if failed_patterns:
        lines += ["Untuned patterns the baseline does **not** reproduce:", ""]
        for o in failed_patterns:
            c = o.check
            lines.append(
                f"- **{c.id}**: observed {number(c.observed, c)}, accepted {accept_text(c)}, the model gives "
                f"{band_text(o)}."
            )
        lines.append("")
    lines += [
        "## Calibration targets",
        "",
        *targets_table(v),
        "",
        "What each target measured and how its band is derived (the measurement's uncertainty widened by the "
        "gap between what was measured and what the model outputs; scenarios/data/targets.yaml):",
        "",
        *target_notes(v),
        "",
        "## Untuned patterns",
        "",
        *patterns_markdown(v),
        "",
        "## Patterns considered and not tested",
        "",
        "Stated by the documents, but the baseline cannot test them honestly:",
        "",
        *considered_markdown(v),
        "",
        "## Sensitivity",
        "",
        SENSITIVITY_NOTE,
        "",
    ]
    return "\n".join(lines)
