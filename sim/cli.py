"""The `sim` command line. Bad input exits 2 with `FILE:LINE:COLUMN: message` lines; an internal
fault exits 1 with a short message and the path of the full traceback; never a traceback on screen."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import stat
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from sim.errors import InputError

EXIT_OK, EXIT_FAULT, EXIT_INPUT = 0, 1, 2
MAX_EVENTS_SHOWN = 30
# What signal.signal takes and returns: a function, SIG_DFL / SIG_IGN, or None (set outside Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class UsageError(Exception):
    """A command-line argument that makes no sense (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage then exits 2; keep that, tidier
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"sim: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 (excluded) and 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 .. 2^63-1")
    return value


def _figure_formats(text: str) -> tuple[str, ...]:
    from sim.outputs.formats import parse_figure_formats

    try:
        return parse_figure_formats(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """`--figure-format` and `--wide`, shared by `sim run` and `sim compare`."""
    parser.add_argument("--figure-format", dest="figure_formats", action="append", type=_figure_formats,
                        metavar="png|svg|pdf", help="figure file format(s): repeat or give a comma list, like "
                        "--figure-format png,svg (default png); SVG and PDF bytes are the same for the same run")
    parser.add_argument("--wide", action="store_true", help="also write timeseries_wide.csv and summary_wide.csv "
                        "(sim compare: and difference_wide.csv), the same rows with the group's keys as columns "
                        "(origin, openness, country, user_bloc, ...)")


def _formats(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for chosen in (args.figure_formats or [("png",)]) for f in chosen))


SCENARIO_HELP = "scenario YAML file, or the name of a built-in scenario (like baseline)"
BUILTIN_EPILOG = (
    "A scenario is a YAML file or the name of a built-in one (`sim run baseline`); a file wins over a name. "
    "Built-in scenarios: {names}. A scenario of your own can start from one with `extends: baseline`."
)


def build_parser() -> argparse.ArgumentParser:
    from sim.resources import builtin_scenarios

    parser = _Parser(prog="sim", description="Scenario lab for AI geopolitics: open vs closed AI models.",
                     epilog=BUILTIN_EPILOG.format(names=", ".join(builtin_scenarios())))
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="run a scenario and write its curves, tables and report")
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--out", help="output folder (default runs/<scenario name>/)")
    run.add_argument("--replicates", type=_positive, default=1, help="number of replicates (default 1)")
    run.add_argument("--seed", type=_seed, help="seed instead of the scenario's")
    run.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field, e.g. --set population.firms=10000",
    )
    _add_uncertainty(run)
    _add_output_options(run)
    run.add_argument("--quiet", action="store_true", help="print only the output folder")
    run.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder even if it holds another scenario's run or other files",
    )

    validate = commands.add_parser("validate", help="check scenarios without running them")
    validate.add_argument("scenarios", nargs="+", help="scenario YAML files or built-in scenario names")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    explain = commands.add_parser("explain", help="the resolved scenario in plain words")
    explain.add_argument("scenario", nargs="?", help=SCENARIO_HELP + " (optional with --schedule)")
    explain.add_argument(
        "--schedule",
        action="store_true",
        help="print the phases of a quarter in order (with a scenario: its rules under the phases they act in)",
    )
    explain.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    commands.add_parser("schema", help="print the JSON Schema of the scenario format")

    check = commands.add_parser(
        "check",
        help="validate the baseline against the calibration targets and untuned patterns",
        description="Run a scenario (default the built-in baseline) and compare it with the calibration targets "
        "and untuned patterns (default the built-in ones, scenarios/data/targets.yaml and patterns.yaml in the "
        "repository). Exit 0 when every calibration target holds, 1 when one does not; untuned patterns are "
        "reported, not gated.",
    )
    check.add_argument("scenario", nargs="?", help=SCENARIO_HELP + " (default the built-in baseline)")
    check.add_argument("--replicates", type=_positive, default=10, help="number of replicates (default 10)")
    check.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    check.add_argument("--seed", type=_seed, help="seed instead of the scenario's")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    check.add_argument("--targets", help="calibration targets file (default the built-in targets.yaml)")
    check.add_argument("--patterns", help="untuned patterns file (default the built-in patterns.yaml)")
    check.add_argument("--out", help="also write the report (with --mutants: the mutation report) to this file "
                       "(Markdown if it ends in .md)")
    check.add_argument(
        "--mutants",
        nargs="?",
        const="",
        metavar="FILE",
        help="also run deliberately broken variants of the model (default the built-in mutants.yaml) with the "
        "same seeds, print which checks reject each, then `rejected K/N mutants`; exit 0 only when the baseline "
        "passes every calibration target and every mutant is rejected, on the record or, for one no output of "
        "the record separates (equivalent on it), by the same checks in its twin history",
    )

    app = commands.add_parser(
        "app",
        help="the classroom page: presets, levers, live curves and events in a browser",
        description="Serve the classroom page (or, with --class, a class-play world) until Ctrl-C. Binds to "
        "127.0.0.1 unless told otherwise; works offline once `make app-assets` has installed solara's browser files.",
    )
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    app.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    app.add_argument("--scenarios", help="folder of preset scenarios (default: the built-in scenarios)")
    app.add_argument(
        "--allow-origin",
        dest="allow_origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept browsers showing this address, like http://192.168.1.20:8765 for a class on a LAN "
        "(repeatable; default: only pages on this machine, so other web sites cannot use the page)",
    )
    app.add_argument(
        "--max-sessions",
        type=int,
        default=60,
        metavar="N",
        help="browser sessions at once (default 60); past it a new visitor is told the page is full",
    )
    app.add_argument(
        "--idle-expiry",
        type=float,
        default=600,
        metavar="SECONDS",
        help="how long a session whose browser has gone (laptop asleep, network lost) is kept for it to come back "
        "(default 600)",
    )
    play = app.add_argument_group("class play (students govern countries in one shared world; docs/classplay.md)")
    play.add_argument("--class", dest="class_play", action="store_true",
                      help="open one shared world for a class: prints the teacher's link and the students' join "
                      "link and code; the class lives as long as the server")  # fmt: skip
    play.add_argument("--preset", default="baseline", help="the class's scenario: a built-in name or a YAML file "
                      "(default baseline)")  # fmt: skip
    play.add_argument("--round", dest="round_length", choices=["quarters", "year"], default="year",
                      help="how long a round is: a quarter or a year (default year)")  # fmt: skip
    play.add_argument("--rounds", type=int, metavar="N",
                      help="how many rounds (default as many as fit before the preset ends, at most 8)")  # fmt: skip
    play.add_argument("--simulated-students", type=int, default=0, metavar="N",
                      help="also fill the class with N simulated students who decide at random each round "
                      "(a rehearsal before the lesson; default 0)")  # fmt: skip
    _add_experiment_commands(commands)
    return parser


def _add_experiment_commands(commands: argparse._SubParsersAction) -> None:
    """`sim compare` and `sim sweep` (sim/experiments/)."""
    compare = commands.add_parser(
        "compare",
        help="paired runs with common random numbers; difference curves from the first scenario",
        description="Run BASE and each OTHER with the same replicate seeds and write each one's outputs, the "
        "paired differences (other - base) with their 10-90%% band, figures and compare.html.",
    )
    compare.add_argument("base", help="base scenario: " + SCENARIO_HELP)
    compare.add_argument("others", nargs="+", metavar="other", help="scenario(s) to compare with the base")
    compare.add_argument("--replicates", type=_positive, default=10, help="replicates per scenario (default 10)")
    compare.add_argument("--seed", type=_seed, help="seed of every scenario (default the base scenario's)")
    compare.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    compare.add_argument("--out", help="output folder (default runs/compare-<base>-vs-<others>/)")
    compare.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                         help="override a field in every scenario, e.g. --set population.firms=1000")
    _add_uncertainty(compare)
    _add_output_options(compare)

    sweep = commands.add_parser(
        "sweep",
        help="run an experiment file's design over uncertainties and levers; resumable",
        description="Run the design of an experiment file (see docs/experiments.md). Each run is stored as it "
        "finishes; running the same command again skips the finished runs and does the rest.",
    )
    sweep.add_argument("experiment", help="experiment YAML file (like scenarios/experiments/*.yaml in the repository)")
    sweep.add_argument("--out", help="output folder (default runs/sweep-<experiment name>/)")
    sweep.add_argument("--workers", type=_positive, default=1, help="local worker processes (default 1)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, like tcp://host:8786")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                       help="override a field of the base scenario in every run")
    sweep.add_argument("--dry-run", action="store_true", help="check the experiment and print its plan only")
    _add_uncertainty(sweep)

    discover = commands.add_parser(
        "discover",
        help="scenario discovery on a sweep: the boxes of inputs where an outcome is above or below a value (PRIM, "
        "CART; needs the ema extra)",
        description="Find the conditions (boxes of uncertainty and lever values) under which a sweep's outcome is "
        "above or below a value, with EMA Workbench's PRIM or CART (see docs/experiments.md, \"Scenario discovery\"). "
        "Writes boxes.csv, boxes.json, trajectory.csv and figures/ (coverage/density trade-off, one figure per box). "
        "Needs EMA Workbench: pip install -e \".[ema]\".",
    )
    discover.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a sweep's output folder (runs.csv, design.csv)")
    discover.add_argument("--outcome", required=True, help="an outcome of the sweep's experiment (a runs.csv column)")
    side = discover.add_mutually_exclusive_group(required=True)
    side.add_argument("--above", type=float, metavar="VALUE", help="runs of interest: outcome above VALUE")
    side.add_argument("--below", type=float, metavar="VALUE", help="runs of interest: outcome below VALUE")
    discover.add_argument("--method", choices=["prim", "cart"], default="prim", help="PRIM (default) or CART")
    discover.add_argument("--threshold", type=_share, default=0.8,
                          help="density a box must reach: share of its runs that are of interest (default 0.8)")
    discover.add_argument("--mass-min", type=_share, default=0.05,
                          help="smallest share of the runs a box may hold (default 0.05)")
    discover.add_argument("--boxes", type=_positive, default=3, help="PRIM: boxes to look for at most (default 3)")
    discover.add_argument("--out", help="output folder (default SWEEP_DIR/discover/)")

    calibrate = commands.add_parser(
        "calibrate",
        help="history matching of behavioural parameters to the calibration targets; writes an ensemble; resumable",
        description="Run a calibration spec (see docs/calibration_method.md, section \"sim calibrate\"): waves of "
        "parameter sets sampled from the priors, each simulated and measured against the targets, the implausible "
        "ones cut; the sets that survive the last wave are written to OUT/ensemble.yaml with their provenance. "
        "Runs are stored as they finish; running the same command again skips them.",
    )
    calibrate.add_argument("spec", help="calibration spec YAML (like scenarios/calibration/baseline.yaml)")
    calibrate.add_argument("--out", help="output folder (default runs/calibrate-<name>/)")
    calibrate.add_argument("--workers", type=_positive, default=1, help="local worker processes (default 1)")
    calibrate.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, like tcp://host:8786")
    calibrate.add_argument(
        "--until", metavar="QUARTER", help="out-of-sample test: match only the targets whose quarters end by "
        "QUARTER (like 2024Q4) and report the later ones as predictions (OUT/predictions.csv); default "
        "folder runs/calibrate-<name>-until-<QUARTER>/",
    )


UNCERTAINTY_HELP = (
    "what the 10-90%% bands carry: seeds (random draws only) or ensemble (replicate r also takes member r mod N of "
    "the calibrated parameter ensemble); default ensemble when one ships with the package, else seeds"
)


def _add_uncertainty(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uncertainty", choices=["seeds", "ensemble"], help=UNCERTAINTY_HELP)
    parser.add_argument("--ensemble", metavar="FILE", help="ensemble file for --uncertainty ensemble (default the "
                        "shipped scenarios/data/ensemble.yaml; `sim calibrate` writes one)")


def _progress_bar(total: int) -> Callable[[int, int], None] | None:
    if total <= 1:  # nothing to show: tqdm would still make a multiprocessing lock (and its tracker's imports)
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="replicate", delay=2.0, file=sys.stderr, leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done == _total:
            bar.close()

    return update


def cmd_run(args: argparse.Namespace) -> int:
    if _OWN_PROCESS:
        from sim.frozen_imports import import_frozen

        # Everything a run imports (the model and Mesa, the writer and its figures' matplotlib) before any model or
        # table exists: imported and frozen so, the collector never walks them (sim/frozen_imports.py).
        import_frozen("sim.api", "sim.model.model", "sim.outputs.writer")
    from sim.api import run
    from sim.outputs import headline_numbers

    out = Path(args.out) if args.out else None
    result = run(
        args.scenario,
        replicates=args.replicates,
        workers=args.workers,
        seed=args.seed,
        overrides=args.overrides,
        write=True,
        out=out,
        progress=_progress_bar(args.replicates),
        command_line=["sim", *sys.argv[1:]],
        force=args.force,
        uncertainty=args.uncertainty,
        ensemble=args.ensemble,
        figure_formats=_formats(args),
        wide=args.wide,
    )
    if args.quiet:
        print(result.out_dir)
        return EXIT_OK
    last = result.timeseries["date"].iloc[-1] if len(result.timeseries) else "?"
    print(
        f"{result.name}: {args.replicates} replicate(s), {result.prepared.scenario.time.start}-{last}, "
        f"{result.wall_time_s:.1f} s; {result.bands}"
    )
    events = result.events[result.events["replicate"] == 0]
    # First releases are routine; policy moves and openness switches are the story.
    notable = events[~events["event"].str.contains(" is released as ", regex=False)]
    if len(notable):
        print("Events (replicate 0):")
        for row in notable.head(MAX_EVENTS_SHOWN).itertuples():
            sources = f" ({row.sources!s})" if row.sources else ""  # !s: the stubs let a cell be bytes
            print(f"  {row.date}  {row.event}{sources}")
        if len(notable) > MAX_EVENTS_SHOWN:
            print(f"  ... {len(notable) - MAX_EVENTS_SHOWN} more in events.csv")
    print(f"At {last}:")
    for label, value in headline_numbers(result.summary):
        print(f"  {label}: {value}")
    print(f"Wrote {result.out_dir}/ (report.html, figures/, timeseries.csv, summary.csv, manifest.json)")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario import prepare

    failed = 0
    for path in args.scenarios:
        try:
            prepared = prepare(path, args.overrides)
        except InputError as error:
            failed += 1
            for problem in error.problems:
                print(problem.format(), file=sys.stderr)
            continue
        s = prepared.scenario
        print(f"ok: {path}: {s.name}, {s.time.start}-{s.time.end}, {len(s.rules)} rules")
    return EXIT_INPUT if failed else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from sim.explain import briefing
    from sim.scenario import prepare

    if args.schedule:
        from sim.model.schedule import schedule_text

        prepared = prepare(args.scenario, args.overrides) if args.scenario else None
        print(schedule_text(prepared.scenario if prepared else None))
        return EXIT_OK
    if not args.scenario:
        raise UsageError("explain needs a scenario (a YAML file or a built-in name like baseline), or --schedule")
    print(briefing(prepare(args.scenario, args.overrides)))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario.jsonschema import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from sim.outputs.atomic import atomic_write_text
    from sim.validation import run_check, text_report, validation_markdown

    if args.out:
        from sim.outputs.folder import check_output_file

        check_output_file(args.out)  # before the runs: a report that cannot be written is bad input, found at once
    if args.mutants is not None:
        return _check_mutants(args)
    validation = run_check(
        args.scenario,
        replicates=args.replicates,
        workers=args.workers,
        seed=args.seed,
        overrides=args.overrides,
        targets=args.targets,
        patterns=args.patterns,
        progress=_progress_bar(args.replicates),
    )
    report = text_report(validation)
    print(report, end="")
    if args.out:
        out = Path(args.out)
        markdown = out.suffix.lower() == ".md"
        atomic_write_text(out, validation_markdown(validation, "sim " + " ".join(sys.argv[1:])) if markdown else report)
        print(f"Wrote {out}")
    return validation.exit_code


def _check_mutants(args: argparse.Namespace) -> int:
    from sim.mutation import mutation_markdown, mutation_report, run_mutants
    from sim.outputs.atomic import atomic_write_text

    test = run_mutants(
        args.scenario,
        replicates=args.replicates,
        workers=args.workers,
        seed=args.seed,
        overrides=args.overrides,
        targets=args.targets,
        patterns=args.patterns,
        mutants=args.mutants or None,
    )
    report = mutation_report(test)
    print(report, end="")
    if args.out:  # the same report, or as Markdown (docs/validation.md's section) for a .md file
        out = Path(args.out)
        atomic_write_text(out, mutation_markdown(test).lstrip("\n") if out.suffix.lower() == ".md" else report)
        print(f"Wrote {out}")
    return test.exit_code


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "explain": cmd_explain, "schema": cmd_schema}
COMMANDS["check"] = cmd_check


def cmd_app(args: argparse.Namespace) -> int:
    from sim.app.serve import ServeError, serve

    class_play = None
    class_only = [flag for flag, value, default in (
        ("--preset", args.preset, "baseline"), ("--round", args.round_length, "year"), ("--rounds", args.rounds, None),
        ("--simulated-students", args.simulated_students, 0)) if value != default]  # fmt: skip
    if args.class_play:
        from sim.app.classplay_state import new_options
        from sim.classplay import ClassError

        if args.scenarios:
            raise UsageError("--class plays one --preset; --scenarios is for the classroom page without --class")
        try:
            class_play = new_options(args.preset, args.round_length, args.rounds, args.simulated_students)
        except ClassError as error:
            raise UsageError(str(error)) from None
    elif class_only:
        raise UsageError(f"{', '.join(class_only)} only apply with --class")
    try:
        return serve(
            args.host,
            args.port,
            Path(args.scenarios) if args.scenarios else None,
            allow_origins=args.allow_origins,
            max_sessions=args.max_sessions,
            idle_expiry_s=args.idle_expiry,
            class_play=class_play,
        )
    except ServeError as error:
        raise UsageError(str(error)) from None


COMMANDS["app"] = cmd_app


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.experiments.compare import CompareError, compare, headline_differences

    try:
        result = compare(
            args.base, *args.others, replicates=args.replicates, workers=args.workers, seed=args.seed,
            overrides=args.overrides, out=args.out, write=True, command_line=["sim", *sys.argv[1:]],
            uncertainty=args.uncertainty, ensemble=args.ensemble, figure_formats=_formats(args),
            wide=args.wide,
        )
    except CompareError as error:
        raise UsageError(str(error)) from None
    print(f"{' vs '.join(result.labels)}: {args.replicates} paired replicate(s), {result.wall_time_s:.1f} s; "
          f"{result.base.bands}")
    at = result.difference_summary["date"].iloc[0]
    rows = headline_differences(result)
    for label in result.labels[1:]:
        print(f"{label} minus {result.labels[0]} at {at} (median, 10-90% of replicates):")
        for row in (r for r in rows if r["scenario"] == label):
            print(f"  {row['series']}: {row['median']} ({row['band']})")
    print(f"Wrote {result.out_dir}/ (compare.html, difference.csv, figures/, one folder per scenario)")
    return EXIT_OK


def _check_scheduler(args: argparse.Namespace) -> None:
    """--scheduler and --workers: one or the other, a well-formed address, before anything is read or started."""
    from sim.experiments.executors import address_problem

    if args.scheduler and args.workers != 1:
        raise UsageError("--workers is for local runs; with --scheduler the Dask cluster's workers run them")
    problem = address_problem(args.scheduler) if args.scheduler is not None else None
    if problem:
        raise UsageError(f"--scheduler: {problem}")


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.experiments.executors import SetupError

    _check_scheduler(args)
    try:
        return _run_sweep(args)
    except SetupError as error:  # a missing optional package, or the scheduler out of reach
        raise UsageError(str(error)) from None


def _run_sweep(args: argparse.Namespace) -> int:
    from sim.calibration.ensemble import band_note
    from sim.experiments.plan import make_plan
    from sim.experiments.sweep import SweepInterrupted, default_out, describe_plan, sweep

    plan = make_plan(args.experiment, args.overrides, uncertainty=args.uncertainty, ensemble=args.ensemble)
    if args.dry_run:
        print(describe_plan(plan))
        print(f"would write {Path(args.out) if args.out else default_out(plan)}/")
        return EXIT_OK

    def say(text: str) -> None:
        print(f"sim: {text}", file=sys.stderr)

    try:
        result = sweep(plan, out=args.out, workers=args.workers, scheduler=args.scheduler, progress=True,
                       report=say, command_line=["sim", *sys.argv[1:]])
    except SweepInterrupted as stop:
        print(f"sim: interrupted; {stop.done} of {stop.total} runs are saved in {stop.out_dir}/, none half-written; "
              "run the same command again to finish", file=sys.stderr)
        return 130
    failed = len(result.failed)
    print(f"{plan.experiment.name}: {result.ran} run(s) now, {result.reused} reused, {result.wall_time_s:.1f} s; "
          f"{band_note(plan.ensemble)}")
    if failed:
        print(f"sim: {failed} run(s) did not finish (see the status and error columns of {result.out_dir}/runs.csv); "
              "run the same command again to retry them", file=sys.stderr)
        return EXIT_FAULT
    extra = ", sensitivity.csv, figures/sensitivity.png" if result.sensitivity is not None else ""
    extra += ", lever_effects.csv, figures/lever_effects.png" if result.lever_effects is not None else ""
    print(f"Wrote {result.out_dir}/ (runs.csv, timeseries/*.parquet, design.csv{extra}, manifest.json)")
    return EXIT_OK


COMMANDS["compare"] = cmd_compare
COMMANDS["sweep"] = cmd_sweep


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.experiments.executors import SetupError

    _check_scheduler(args)
    try:
        return _run_calibration(args)
    except SetupError as error:
        raise UsageError(str(error)) from None


def _run_calibration(args: argparse.Namespace) -> int:
    from sim.calibration.calibrate import CalibrationInterrupted, calibrate

    def say(text: str) -> None:
        print(f"sim: {text}", file=sys.stderr)

    try:
        result = calibrate(args.spec, out=args.out, workers=args.workers, scheduler=args.scheduler, progress=True,
                           report=say, command_line=["sim", *sys.argv[1:]], until=args.until)
    except CalibrationInterrupted as stop:
        print(f"sim: interrupted in wave {stop.wave}; {stop.done} of its {stop.total} runs are saved in "
              f"{stop.out_dir}/, none half-written; run the same command again to resume", file=sys.stderr)
        return 130
    for wave in result.waves:
        print(f"wave {wave.number}: {len(wave.table)} sets, {wave.runs} runs ({wave.ran} now, {wave.reused} reused), "
              f"{int(wave.table['accepted'].sum())} non-implausible")
    print(f"{result.runs} runs in all, {result.ran} computed now, {result.wall_time_s / 60:.1f} min")
    if result.predictions is not None:
        print(f"Held-out targets as the accepted sets predict them ({result.out_dir}/predictions.csv):")
        for row in result.predictions.to_dict("records"):
            verdict = "holds" if row["holds"] else "FAILS"
            print(f"  {row['target']}: median {row['median']:.3g} (10-90% over sets {row['p10']:.3g} to "
                  f"{row['p90']:.3g}), accepted {row['accept_low']:g} to {row['accept_high']:g}: {verdict}; "
                  f"{row['share_of_sets_inside']:.0%} of sets inside")
    if result.ensemble_path is None:
        print(f"No parameter set survived the last wave: no ensemble written (see {result.out_dir}/wave-*/"
              "implausibility.csv for which targets rule them out)")
        return EXIT_FAULT
    print(f"Wrote {result.ensemble_path} ({result.members} members)")
    return EXIT_OK


COMMANDS["calibrate"] = cmd_calibrate


def cmd_discover(args: argparse.Namespace) -> int:
    from sim.ema import MissingExtraError

    try:
        from sim.experiments.discover import discover

        found = discover(args.sweep_dir, args.outcome, above=args.above, below=args.below, method=args.method,
                         out=args.out, threshold=args.threshold, mass_min=args.mass_min, boxes=args.boxes)
    except MissingExtraError as error:
        raise UsageError(str(error)) from None
    for note in found.notes:
        print(f"sim: {note}", file=sys.stderr)
    print(f"{found.method.upper()} on {found.runs} runs, {found.cases} with {found.question}: "
          f"{len(found.summary)} box(es) of density {args.threshold:g} or more")
    for entry in found.summary:
        limits = _box_text(entry["limits"])
        print(f"  box {entry['box']}: {limits} (coverage {entry['coverage']:.2f}, density {entry['density']:.2f}, "
              f"mass {entry['mass']:.2f})")
    figures = ", figures/tradeoff.png" + (", figures/box_*.png" if found.summary else "")
    print(f"Wrote {found.out_dir}/ (boxes.csv, boxes.json, trajectory.csv{figures})")
    return EXIT_OK


def _box_text(limits: dict[str, dict[str, Any]]) -> str:
    """A box's restrictions, each end with PRIM's quasi-p value; ends as likely as not by chance listed apart."""
    firm, weak = [], []
    for name, limit in limits.items():
        if "values" in limit:
            ends = [(f"{name} in {', '.join(map(str, limit['values']))}", limit.get("qp_low"))]
        else:
            ends = [(f"{name} >= {limit['low']:.4g}", limit.get("qp_low")), (f"{name} <= {limit['high']:.4g}",
                                                                          limit.get("qp_high"))]
            ends = [(text, qp) for (text, qp), restricted in zip(ends, (limit["low"] > limit["range"][0],
                                                                       limit["high"] < limit["range"][1]),
                                                                  strict=True) if restricted]
        for text, qp in ends:
            if qp is not None and qp > QUASI_P_CHANCE:
                weak.append(text)
            else:
                firm.append(text + (f" (quasi-p {qp:.2g})" if qp is not None else ""))
    text = "; ".join(firm) or "no input restricted"
    return text + (f"; weaker (quasi-p > {QUASI_P_CHANCE:g}): {', '.join(weak)}" if weak else "")


QUASI_P_CHANCE = 0.05  # a restriction this likely under chance alone is not evidence (Bryant & Lempert 2010)

COMMANDS["discover"] = cmd_discover


APP = "sim"


def crash_dir() -> Path:
    """Where crash reports go: `$XDG_STATE_HOME/sim`, else `~/.local/state/sim`; a folder only its owner can
    enter (0700). Not /tmp: there another user can plant a link under a name that is easy to guess."""
    state, home = os.environ.get("XDG_STATE_HOME", ""), os.path.expanduser("~")
    if not os.path.isabs(state) and not os.path.isabs(home):  # no home: never a folder relative to the cwd
        raise FileNotFoundError("no state folder: XDG_STATE_HOME and the home folder are unset")
    base = Path(state) if os.path.isabs(state) else Path(home) / ".local" / "state"  # a relative one is ignored
    folder = base / APP
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise PermissionError(f"{folder} is not a folder of this user's")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # made by an older version or by hand: keep tracebacks private
    return folder


def _write_crash_report(text: str | None = None) -> Path:
    """Write the traceback to a new file of the user's own (0600, never an existing name, no links followed)."""
    body = f"sim {' '.join(sys.argv[1:])}\n\n{text or traceback.format_exc()}".encode("utf-8", "replace")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        folder = crash_dir()
        for attempt in range(100):
            path = folder / f"{APP}-crash-{stamp}-{os.getpid()}{f'-{attempt}' if attempt else ''}.txt"
            try:
                fd = os.open(path, flags, 0o600)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free crash report name in {folder}")
    except OSError:  # no writable home: a fresh private file in the temporary folder (mkstemp is O_EXCL, 0600)
        fd, name = tempfile.mkstemp(prefix=f"{APP}-crash-{stamp}-", suffix=".txt")
        path = Path(name)
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    return path


class Terminated(SystemExit):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C (cleaning up on the way), then exits 128 + the signal."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(128 + signum)


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def _stop_signals() -> dict[signal.Signals, SignalHandler]:
    """Install the stop handlers (SIGTERM, SIGHUP -> Terminated; SIGINT -> KeyboardInterrupt); return the old ones.

    A signal the process was started with ignored (a background job's SIGINT, nohup's SIGHUP) stays ignored.
    """
    wanted = {signal.SIGTERM: _terminate, signal.SIGINT: signal.default_int_handler}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = _terminate
    previous: dict[signal.Signals, SignalHandler] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # only the main thread may set handlers (sim.cli.main called from a thread)
    for signum, handler in wanted.items():
        current = signal.getsignal(signum)
        if current is not None and current != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    return previous


def _known_fault(error: Exception) -> int | None:
    """Exit code (after a one-line message) for faults that are not bugs; None for anything else.

    Their classes are looked up among the loaded modules: an error of a module never imported cannot occur,
    and importing them here would slow every command down.
    """
    limits, folder, runner = (sys.modules.get(f"sim.{m}") for m in ("scenario.limits", "outputs.folder", "runner"))
    if (limits and isinstance(error, limits.LimitError)) or (folder and isinstance(error, folder.OutputFolderError)):
        print(f"sim: error: {error}", file=sys.stderr)  # the run does not fit, or --out cannot be used
        return EXIT_INPUT
    if folder and isinstance(error, folder.OutputWriteError):
        print(f"sim: {error}", file=sys.stderr)  # a full disk or an I/O error; nothing half-written is left
        return EXIT_FAULT
    if runner and isinstance(error, runner.ReplicateError):  # a worker killed (out of memory?) or one that raised
        text = error.traceback_text
        crash = f"; its traceback is in {_write_crash_report(text)}" if text else ""
        print(f"sim: {error}; {getattr(error, 'output_state', 'no output was written')}{crash}", file=sys.stderr)
        return EXIT_FAULT
    return None


def _stopped(error: BaseException, how: str, code: int) -> int:
    # `sim run` says what its folder holds; elsewhere the general promise of atomic writes holds.
    state = getattr(error, "output_state", None) or "files already complete are kept, none is left half-written"
    print(f"sim: {how}; {state}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from sim import __version__

        print(f"sim {__version__}")
        return EXIT_OK
    if not args.command:
        parser.print_help()
        return EXIT_INPUT
    previous = _stop_signals()
    try:
        return COMMANDS[args.command](args)
    except Terminated as error:
        return _stopped(error, f"stopped by {signal.Signals(error.signum).name}", 128 + error.signum)
    except KeyboardInterrupt as error:
        return _stopped(error, "interrupted", 130)
    except InputError as error:
        for problem in error.problems:
            print(problem.format(), file=sys.stderr)
        return EXIT_INPUT
    except UsageError as error:
        print(f"sim: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # an internal fault: short message, full traceback in a file
        known = _known_fault(error)
        if known is not None:
            return known
        path = _write_crash_report()
        print(
            f"sim: internal error ({type(error).__name__}: {error}); full traceback in {path}",
            file=sys.stderr,
        )
        return EXIT_FAULT
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# True in the `sim` command's own process (`entry`), where the garbage collector's settings are ours to
# change; False when `main` is called from other code (tests, notebooks).
_OWN_PROCESS = False


def entry() -> None:
    """The `sim` command (console script and `python -m sim`): this process is the command's own."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    sys.exit(main())


if __name__ == "__main__":
    entry()
