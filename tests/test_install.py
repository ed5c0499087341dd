"""A built wheel works on its own: `sim` installed (not editable) runs from an empty folder.

The wheel is built from this checkout and installed with `--no-deps` into a fresh venv created
without pip. The venv gets the test venv's dependencies (mesa, numpy, ...) through a `.pth` line
naming that site-packages folder: a path added that way is searched for modules, but the `.pth`
files inside it (the editable install's finder for `sim`) are not run, so `sim` can only come from
the wheel. Every command runs in an empty temporary folder with no PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "population.firms=500", "--set", "time.end=2025Q4"]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install")]  # one worker builds the wheel once


def _run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the venv it is installed in)."""
    base = tmp_path_factory.mktemp("install")
    # Built from a copy of what the wheel is made of: an in-tree build would leave build/ in the checkout,
    # and a stale build/lib there can carry deleted modules into the wheel.
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "sim", source / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = base / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "--disable-pip-version-check", "-q", "-w", str(wheels), str(source)], cwd=base)
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("ai_geopolitics_sim-*.whl")

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=base).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                 "--disable-pip-version-check", "-q", str(wheel)], cwd=base)
    assert done.returncode == 0, done.stderr
    return wheel, venv


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_wheel_ships_the_built_in_data_and_not_the_docs_tools(installed: tuple[Path, Path]):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("baseline.yaml", "decoupling.yaml", "scenario.schema.json", "data/countries.yaml",
                 "data/families.yaml", "data/targets.yaml", "data/patterns.yaml", "experiments/tiny.yaml",
                 "data/mutants.yaml", "twins/meta-closes-2024.yaml", "twins/eu-bans-us-models-2023.yaml"):
        assert f"sim/builtin/{name}" in names, name
    assert "sim/claims.json" in names
    assert not [n for n in names if n.startswith(("tools/", "tests/", "scenarios/"))]


def test_sim_is_imported_from_the_venv_not_the_checkout(installed: tuple[Path, Path], empty: Path):
    _, venv = installed
    done = _run([str(venv / "bin" / "python"), "-c", "import sim; print(sim.__file__)"], cwd=empty)
    assert done.returncode == 0, done.stderr
    where = Path(done.stdout.strip()).resolve()
    assert where.is_relative_to(venv.resolve()), where
    assert not where.is_relative_to(ROOT)


def test_run_a_built_in_scenario_by_name_from_an_empty_folder(installed: tuple[Path, Path], empty: Path):
    _, venv = installed
    sim = str(venv / "bin" / "sim")
    done = _run([sim, "run", "baseline", "--replicates", "2", "--set", "population.firms=2000"], cwd=empty)
    assert done.returncode == 0, done.stderr
    out = empty / "runs" / "baseline"
    for name in ("timeseries.csv", "summary.csv", "manifest.json", "report.html", "scenario.resolved.yaml"):
        assert (out / name).is_file(), name
    assert "replicate,seed" in (out / "timeseries.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "2030Q4" in (out / "summary.csv").read_text(encoding="utf-8")

    done = _run([sim, "compare", "baseline", "decoupling", "--replicates", "1", *SMALL], cwd=empty)
    assert done.returncode == 0, done.stderr
    assert (empty / "runs" / "compare-baseline-vs-decoupling" / "compare.html").is_file()


def test_user_scenarios_extend_a_built_in_and_typos_are_located(installed: tuple[Path, Path], empty: Path):
    _, venv = installed
    sim = str(venv / "bin" / "sim")
    (empty / "my.yaml").write_text("schema_version: 1\nname: my\nextends: baseline\nseed: 3\n", encoding="utf-8")
    done = _run([sim, "validate", "my.yaml"], cwd=empty)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: my.yaml: my, 2023Q1-")

    (empty / "typo.yaml").write_text("schema_version: 1\nname: typo\nextends: baseline\npopluation: {firms: 10}\n",
                                     encoding="utf-8")
    done = _run([sim, "validate", "typo.yaml"], cwd=empty)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("typo.yaml:4:1: popluation: unknown field 'popluation' (did you mean 'population'?)")

    # A scenario of one's own with no extends and no data/ beside it runs on the built-in world data.
    (empty / "alone.yaml").write_text("schema_version: 1\nname: alone\npopulation: {firms: 200}\n"
                                      "time: {start: 2024Q1, end: 2024Q4}\n", encoding="utf-8")
    done = _run([sim, "run", "alone.yaml", "--quiet"], cwd=empty)
    assert done.returncode == 0, done.stderr
    assert (empty / "runs" / "alone" / "timeseries.csv").is_file()

    done = _run([sim, "explain", "decoupling"], cwd=empty)
    assert done.returncode == 0, done.stderr
    assert "decoupling" in done.stdout


def test_check_runs_with_the_built_in_targets_and_patterns(installed: tuple[Path, Path], empty: Path):
    _, venv = installed
    done = _run([str(venv / "bin" / "sim"), "check", "--replicates", "1", "--set", "population.firms=500"],
                cwd=empty)
    # A run this small may miss a target (exit 1); what matters is that every check was found and measured.
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.startswith("Validation of baseline (baseline): 1 replicate(s)")
    assert "calibration targets hold" in done.stdout and "untuned patterns hold" in done.stdout


def test_mutation_test_finds_its_twin_histories_in_the_package(installed: tuple[Path, Path], empty: Path):
    # The mutants file names its twins relative to itself: they must be in the wheel beside it.
    _, venv = installed
    done = _run([str(venv / "bin" / "sim"), "check", "--mutants", "--replicates", "1", "--set",
                 "population.firms=300"], cwd=empty)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2 would be a file it could not find
    assert "Mutation test of baseline" in done.stdout and "mutants on the record" in done.stdout


def test_classroom_presets_are_the_built_in_scenarios(installed: tuple[Path, Path], empty: Path):
    _, venv = installed
    code = ("from sim.app.presets import list_presets\n"
            "from sim.resources import builtin_scenarios\n"
            "presets, skipped = list_presets()\n"
            "assert not skipped, skipped\n"
            "assert [p.name for p in presets][0] == 'baseline'\n"
            "assert sorted(p.name for p in presets) == sorted(builtin_scenarios()), presets\n"
            "print(len(presets))\n")
    done = _run([str(venv / "bin" / "python"), "-c", code], cwd=empty)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 8
    done = _run([str(venv / "bin" / "python"), "-c", "import sim.app.serve"], cwd=empty)
    assert done.returncode == 0, done.stderr
