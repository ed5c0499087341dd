"""Shared test helpers: where the scenarios are, `sim` run in-process, the world data.

Test modules import the constants and `run_cli` (`from conftest import BASELINE, run_cli`); the fixtures
are found by pytest.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from sim.cli import main
from sim.world import World, load_world

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"


def run_cli(*args: str) -> tuple[int, str, str]:
    """`sim ARGS` through the real entry point, in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def world() -> World:
    """The shipped world data (countries, labs, model families), validated."""
    return load_world()


def default_signals() -> None:
    """`preexec_fn` for a child that a test stops with a signal: SIGINT, SIGTERM and SIGHUP as in a
    terminal. A test runner started in the background (`cmd &`, `nohup`) hands its children SIGINT
    or SIGHUP ignored, and `sim` rightly keeps an ignored signal ignored."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)

