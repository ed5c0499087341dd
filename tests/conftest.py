"""Shared test helpers: where the scenarios are, `sim` run in-process, the world data.

Test modules import the constants and `run_cli` (`from conftest import BASELINE, run_cli`); the fixtures
are found by pytest.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
from collections.abc import Callable, Sequence
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



# --- servers the page tests start ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sim_app(args: Sequence[str], log_path: Path) -> tuple[subprocess.Popen, int]:
    """`sim app ARGS --port P` on a free port P, output to `log_path`, in its own process group with a
    terminal's signals (stop it with `stop_group`); first checks that solara's browser files are installed."""
    import sys

    from sim.app.serve import missing_browser_packages

    missing = missing_browser_packages()
    assert not missing, f"solara's browser files are missing ({missing}); run `make app-assets`"
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sim", "app", *args, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_signals,
        )  # fmt: skip
    return process, port


def wait_until_answers(url: str, process: subprocess.Popen, ready_s: float, why_exited: Callable[[], str]) -> None:
    """Poll `url` until it answers 200; fail at once if `process` exits (saying `why_exited()`), or after `ready_s`."""
    import urllib.request

    deadline = time.monotonic() + ready_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert process.poll() is None, f"the server exited with {process.returncode}: {why_exited()}"
        assert time.monotonic() < deadline, f"{url} did not answer in {ready_s:g} s"
        time.sleep(0.3)


def stop_group(process: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM to the process's group (it was started with `start_new_session`), SIGKILL after `grace_s`."""
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
