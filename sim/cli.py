"""The `sim` command line. Bad input exits 2 with `FILE:LINE:COLUMN: message` lines; an internal
fault exits 1 with a short message and the path of the full traceback; never a traceback on screen."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from sim.errors import InputError

EXIT_OK, EXIT_FAULT, EXIT_INPUT = 0, 1, 2
MAX_EVENTS_SHOWN = 30


class UsageError(Exception):
    """A command-line argument that makes no sense (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage then exits 2; keep that, tidier
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


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 .. 2^63-1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description="Scenario lab for AI geopolitics: open vs closed AI models.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="run a scenario and write its curves, tables and report")
    run.add_argument("scenario", help="scenario YAML file")
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
    run.add_argument("--quiet", action="store_true", help="print only the output folder")

    validate = commands.add_parser("validate", help="check scenarios without running them")
    validate.add_argument("scenarios", nargs="+", help="scenario YAML files")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    explain = commands.add_parser("explain", help="the resolved scenario in plain words")
    explain.add_argument("scenario")
    explain.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    commands.add_parser("schema", help="print the JSON Schema of the scenario format")
    return parser


def _progress_bar(total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="replicate", delay=2.0, file=sys.stderr, disable=total <= 1, leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done == _total:
            bar.close()

    return update


def cmd_run(args: argparse.Namespace) -> int:
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
    )
    if args.quiet:
        print(result.out_dir)
        return EXIT_OK
    last = result.timeseries["date"].iloc[-1] if len(result.timeseries) else "?"
    print(
        f"{result.name}: {args.replicates} replicate(s), {result.prepared.scenario.time.start}-{last}, "
        f"{result.wall_time_s:.1f} s"
    )
    events = result.events[result.events["replicate"] == 0]
    # First releases are routine; policy moves and openness switches are the story.
    notable = events[~events["event"].str.contains(" is released as ", regex=False)]
    if len(notable):
        print("Events (replicate 0):")
        for row in notable.head(MAX_EVENTS_SHOWN).itertuples():
            sources = f" ({row.sources})" if row.sources else ""
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

    print(briefing(prepare(args.scenario, args.overrides)))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario.jsonschema import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "explain": cmd_explain, "schema": cmd_schema}


def _write_crash_report() -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"sim-crash-{stamp}-{os.getpid()}.txt"
    path.write_text(f"sim {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}", encoding="utf-8")
    return path


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


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
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return COMMANDS[args.command](args)
    except InputError as error:
        for problem in error.problems:
            print(problem.format(), file=sys.stderr)
        return EXIT_INPUT
    except UsageError as error:
        print(f"sim: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("sim: interrupted; files already complete are kept, none is left half-written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # an internal fault: short message, full traceback in a file
        path = _write_crash_report()
        print(
            f"sim: internal error ({type(error).__name__}: {error}); full traceback in {path}",
            file=sys.stderr,
        )
        return EXIT_FAULT


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
