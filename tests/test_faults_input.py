"""Hostile input: every case gets exit 2 and a clear, located message, never a hang, a traceback or silent acceptance.

What docs/faults.md ("Hostile input") promises, one test per case an attacker found: special files (pipes,
devices, link loops, impossible names) refused before anything opens them, at the line that names them;
values that pydantic would quietly coerce (true as 1) or that break the arithmetic (1e308, year 9999)
refused with the allowed range; `--set` mistakes reported at the `--set`; crash reports written where
no one else can aim them; and a fuzz of `--set` that never gets anything but exit 0 or 2.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import BASELINE, SCENARIOS, run_cli
from sim import cli
from sim.errors import InputError
from sim.scenario import prepare, resolved_yaml
from sim.scenario.schema import Scenario

HANG_S = 60.0  # a command that has not answered by then is waiting on a pipe (they answer in a few seconds)
TINY = ["--set", "population.firms=100", "--set", "time.end=2023Q2"]
EXPERIMENT = """\
schema_version: 1
name: hostile
scenario: {scenario}
set:
{fixed}
uncertainties:
  firms:
    path: {path}
    range: {range}
design: {{kind: full_factorial, levels: 2}}
outcomes:
  influence: {{metric: influence, group: "bloc=CN,weight=gdp"}}
"""


def experiment(folder: Path, scenario: str = "baseline", fixed: str = "  population.firms: 200",
               path: str = "parameters.choice.network_weight", ends: str = "[1.0, 2.0]") -> Path:
    file = folder / "experiment.yaml"
    file.write_text(EXPERIMENT.format(scenario=scenario, fixed=fixed, path=path, range=ends), encoding="utf-8")
    return file


def scenario(folder: Path, name: str, body: str) -> Path:
    file = folder / name
    file.write_text(f"schema_version: 1\nname: {Path(name).stem}\n{body}", encoding="utf-8")
    return file


def sim(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`python -m sim ARGS` as a child process that must answer within HANG_S (a pipe would block it)."""
    try:
        done = subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=HANG_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sim {' '.join(args)} hung on a named pipe")
    return done.returncode, done.stdout, done.stderr


def refused(code: int, err: str) -> list[str]:
    """The problem lines of a command that must have exited 2 without a traceback."""
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    return [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Crash reports of this test go below tmp_path, not the user's ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "sim"


# --------------------------------------------------------------------------- special files
def _line_of(file: Path, start: str) -> int:
    """The 1-based number of the first line of `file` that starts with `start` (0 if none or no file)."""
    if not file.is_file():
        return 0
    lines = file.read_text(encoding="utf-8").split("\n")
    return next((i for i, text in enumerate(lines, start=1) if text.startswith(start)), 0)


def spec_with_targets(folder: Path, targets: str) -> Path:
    """The shipped calibration spec, with a `targets:` line of our own (after `scenario:`)."""
    text = (SCENARIOS / "calibration" / "baseline.yaml").read_text(encoding="utf-8")
    file = folder / "spec.yaml"
    file.write_text(text.replace("\nscenario: baseline\n", f"\nscenario: baseline\ntargets: {targets}\n", 1),
                    encoding="utf-8")
    return file


@pytest.mark.parametrize("role", ["scenario", "extends", "data", "targets", "experiment", "experiment-scenario",
                                  "spec-targets"])
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path, role: str):
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    commands = {
        "scenario": ["validate", "pipe.yaml"],
        "extends": ["explain", str(scenario(tmp_path, "child.yaml", "extends: pipe.yaml\n"))],
        "data": ["compare", "baseline", str(scenario(tmp_path, "w.yaml", "extends: baseline\n"
                                                      "world: {countries: pipe.yaml}\n")), *TINY],
        "targets": ["check", "--targets", "pipe.yaml", "--replicates", "1", *TINY],
        "experiment": ["sweep", "pipe.yaml", "--dry-run"],
        "experiment-scenario": ["sweep", str(experiment(tmp_path, scenario="pipe.yaml")), "--dry-run"],
        "spec-targets": ["calibrate", str(spec_with_targets(tmp_path, "pipe.yaml")), "--out", "out"],
    }
    lines = refused(*sim(*commands[role], cwd=tmp_path)[::2])
    assert len(lines) == 1 and "is a named pipe (FIFO), not a regular file" in lines[0]
    where = {"extends": "child.yaml:3:10: extends: 'pipe.yaml'", "data": "w.yaml:4:20: world.countries",
             "experiment-scenario": "experiment.yaml:3:11: scenario: 'pipe.yaml'",
             "spec-targets": f"spec.yaml:{_line_of(tmp_path / 'spec.yaml', 'targets:')}:10: targets: 'pipe.yaml'"}
    assert where.get(role, "pipe.yaml:1:1:") in lines[0]


def test_a_device_is_refused_before_it_is_read():
    code, _, err = run_cli("validate", os.devnull)
    assert refused(code, err) == [f"{os.devnull}:1:1: is a device, not a regular file: sim reads only regular files"]


def test_extends_a_symbolic_link_loop_is_bad_input_at_its_line(tmp_path: Path):
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    child = scenario(tmp_path, "child.yaml", "extends: a.yaml\n")
    lines = refused(*run_cli("validate", str(child))[::2])
    assert lines == [f"{child}:3:10: extends: 'a.yaml': symbolic link loop: the link points, through other "
                     "links, back at itself"]


def test_a_symbolic_link_loop_as_the_scenario_is_bad_input(tmp_path: Path):
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    lines = refused(*run_cli("validate", str(tmp_path / "loop.yaml"))[::2])
    # The file is named as given (shortened in the middle when the name is long, as under pytest-xdist).
    assert len(lines) == 1 and "loop.yaml" in lines[0]
    assert lines[0].endswith(":1:1: symbolic link loop: the link points, through other links, back at itself")


def test_a_link_loop_beside_a_missing_parent_does_not_break_the_hint(tmp_path: Path):
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")  # the "did you mean" looks at every file in the folder
    child = scenario(tmp_path, "child.yaml", "extends: lop.yaml\n")
    lines = refused(*run_cli("validate", str(child))[::2])
    assert lines[0].startswith(f"{child}:3:10: extends: no such file 'lop.yaml'")


def test_extends_holding_a_nul_is_bad_input_at_its_line(tmp_path: Path):
    child = scenario(tmp_path, "child.yaml", 'extends: "base\\0.yaml"\n')
    lines = refused(*run_cli("validate", str(child))[::2])
    assert lines == [f"{child}:3:10: extends: 'base\\x00.yaml': the file name contains a NUL character, which no "
                     "file name can hold"]


def test_extends_5000_characters_long_is_bad_input_with_the_name_shortened(tmp_path: Path):
    child = scenario(tmp_path, "child.yaml", f"extends: {'x' * 5000}\n")
    lines = refused(*run_cli("validate", str(child))[::2])
    assert len(lines) == 1 and lines[0].count("x") < 300  # the 5,000-character name is shortened
    assert lines[0].startswith(f"{child}:3:10: extends: 'xxx")
    assert "(5000 characters)': the file name is too long (5,000 bytes; the limit is 4,095)" in lines[0]


# --------------------------------------------------------------------------- command line
def test_set_index_in_non_ascii_digits_is_bad_input():
    lines = refused(*run_cli("validate", "baseline", "--set", "rules.us-chips-2023-update.sources.²=D4.8")[::2])
    assert lines == ["--set:1:1: cannot set rules.us-chips-2023-update.sources.²: rules.us-chips-2023-update.sources "
                     "is a list of 3: its items are rules.us-chips-2023-update.sources.0 to "
                     "rules.us-chips-2023-update.sources.2"]


def test_scheduler_that_is_not_an_address_is_refused_at_once_without_a_traceback(tmp_path: Path):
    code, _, err = sim("sweep", str(SCENARIOS / "experiments" / "tiny.yaml"), "--scheduler", "notanaddress",
                       "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert refused(code, err) == ["sim: error: --scheduler: 'notanaddress' is not a scheduler address; write "
                                  "tcp://HOST:PORT, like tcp://10.0.0.5:8786"]
    assert not (tmp_path / "out").exists()


def test_set_extends_is_refused_not_ignored():
    lines = refused(*run_cli("validate", "baseline", "--set", "extends=decoupling")[::2])
    assert lines == ["--set:1:1: extends: extends cannot be overridden: the files a scenario extends are read "
                     "before --set applies; write `extends:` in a scenario file of your own"]


def test_experiment_set_extends_is_refused_at_its_line(tmp_path: Path):
    file = experiment(tmp_path, fixed="  extends: decoupling")
    lines = refused(*run_cli("sweep", str(file), "--dry-run")[::2])
    assert len(lines) == 1 and lines[0].startswith(f"{file}:5:12: set.extends: extends cannot be overridden")


def test_problem_a_set_causes_elsewhere_is_reported_at_the_set():
    lines = refused(*run_cli("validate", str(BASELINE), "--set", "population.firms=500",
                             "--set", "time.start=2031Q1")[::2])
    assert lines == ["--set:2:12: time.end: end (2030Q4) is before start (2031Q1)"]


def test_documented_sector_share_example_works_and_the_other_sectors_fill_the_rest():
    default = Scenario.model_validate({"schema_version": 1, "name": "x"}).parameters.firms.sectors
    code, _, err = run_cli("validate", "baseline", "--set", "parameters.firms.sectors.health.share=0.12")
    assert code == 0, err
    sectors = prepare("baseline", ["parameters.firms.sectors.health.share=0.12"]).scenario.parameters.firms.sectors
    assert sectors["health"].share == 0.12
    assert sum(s.share for s in sectors.values()) == pytest.approx(1.0, abs=1e-9)
    # The others keep their proportions: 88% shared as their 90% was.
    assert sectors["services"].share == pytest.approx(default["services"].share * 0.88 / 0.90)
    documented = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert "--set parameters.firms.sectors.health.share=0.12" in documented


def test_set_sector_shares_that_alone_exceed_one_are_refused_at_the_set():
    lines = refused(*run_cli("validate", "baseline", "--set", "parameters.firms.sectors.health.share=0.7",
                             "--set", "parameters.firms.sectors.finance.share=0.7")[::2])
    assert len(lines) == 1 and lines[0].startswith("--set:2:")
    assert "sector shares must sum to 1" in lines[0]


def test_a_key_holding_a_bracket_is_an_unknown_field_not_a_crash(tmp_path: Path):
    file = scenario(tmp_path, "k.yaml", '"x[1]": 2\n')
    lines = refused(*run_cli("validate", str(file), "--set", "[=null")[::2])
    assert lines[0].startswith("--set:1:1: [: unknown field '['; allowed here: schema_version, name")
    lines = refused(*run_cli("validate", str(file))[::2])
    assert lines[0].startswith(f"{file}:3:1: x[1]: unknown field 'x[1]'; allowed here: schema_version, name")


# --------------------------------------------------------------------------- strict values
@pytest.mark.parametrize(("setting", "where"), [
    ("population.firms=true", "population.firms"),
    ("rules.us-chips-2023-update.strength=true", "rules.us-chips-2023-update.strength"),
    ("parameters.choice.network_weight=false", "parameters.choice.network_weight"),
])
def test_true_and_false_are_not_numbers(setting: str, where: str):
    lines = refused(*run_cli("validate", "baseline", "--set", setting)[::2])
    assert len(lines) == 1
    assert lines[0].endswith(f"{where}: expected a number, got {setting.split('=')[1]} (true/false is not a number)")


def test_true_as_firms_in_a_file_is_refused_at_its_line(tmp_path: Path):
    file = scenario(tmp_path, "mine.yaml", "extends: baseline\npopulation: {firms: true}\n")
    lines = refused(*run_cli("validate", str(file))[::2])
    assert lines == [f"{file}:4:21: population.firms: expected a number, got true (true/false is not a number)"]


def test_quarter_in_non_ascii_digits_is_refused():
    lines = refused(*run_cli("validate", "baseline", "--set", "time.end=٢٠٢٥Q4")[::2])
    assert lines == ["--set:1:10: time.end: '٢٠٢٥Q4' is not a quarter; write it like 2025Q1 (year 2000 to 2199 "
                     "in digits 0-9, Q, 1 to 4)"]


@pytest.mark.parametrize("quarter", ["9999Q1", "1999Q4", "2200Q1"])
def test_years_outside_the_documented_range_are_refused(quarter: str):
    lines = refused(*run_cli("validate", "baseline", "--set", f"time.start={quarter}")[::2])
    assert lines == [f"--set:1:12: time.start: '{quarter}' is outside the years the model covers: 2000Q1 to 2199Q4"]
    schema = json.loads((SCENARIOS / "scenario.schema.json").read_text(encoding="utf-8"))
    assert "a quarter from 2000Q1 to 2199Q4" in json.dumps(schema)


def test_a_huge_weight_is_refused_with_its_range():
    lines = refused(*run_cli("validate", "baseline", "--set", "parameters.choice.network_weight=1.0e+308")[::2])
    assert lines == ["--set:1:34: parameters.choice.network_weight: 1e+308 is not allowed: input should be less "
                     "than or equal to 100"]


def test_firms_range_that_cannot_fit_is_refused_at_its_line_before_running(tmp_path: Path):
    file = experiment(tmp_path, path="population.firms", ends="[100, 1e15]")
    lines = refused(*run_cli("sweep", str(file), "--dry-run")[::2])
    assert len(lines) == 1 and lines[0].startswith(f"{file}:9:18: uncertainties.firms.range[1]: ")
    assert "firms would need about" in lines[0] and "firms fit" in lines[0]


# --------------------------------------------------------------------------- workers
def test_sweep_workers_are_capped_by_cpus_with_a_note(monkeypatch: pytest.MonkeyPatch):
    from sim.scenario.limits import usable_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    base = prepare(BASELINE, ["population.firms=100"])
    count, why = usable_workers(150, [base.scenario] * 20, base.world)
    assert (count, why) == (2, "--workers 150: starting 2 worker process(es) (2 CPUs)")


def test_sweep_workers_are_capped_by_memory_with_a_note(monkeypatch: pytest.MonkeyPatch):
    from sim.scenario.limits import usable_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setenv("SIM_MEMORY_LIMIT", "1GB")
    base = prepare(BASELINE, ["population.firms=100000"])
    count, why = usable_workers(16, [base.scenario] * 20, base.world)
    assert 1 <= count < 16
    assert why.startswith(f"--workers 16: starting {count} worker process(es) ({count} run(s) of up to ")


# --------------------------------------------------------------------------- crash reports
def crash(monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    def broken(_args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "schema", broken)
    code, _, err = run_cli("schema")
    assert code == 1 and "internal error (RuntimeError: a bug)" in err
    return code, err.rsplit("full traceback in ", 1)[1].strip()


def test_crash_report_goes_to_a_private_folder_as_a_private_file(private_state: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    _, path = crash(monkeypatch)
    report = Path(path)
    assert report.parent == private_state
    assert stat.S_IMODE(private_state.stat().st_mode) == 0o700
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert "RuntimeError: a bug" in report.read_text(encoding="utf-8")


def test_crash_report_never_follows_a_link_planted_at_its_name(private_state: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(cli.dt, "datetime", Frozen)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    private_state.mkdir(parents=True, mode=0o755)  # made loosely by someone else: tightened
    planted = private_state / f"sim-crash-20260102-030405-{os.getpid()}.txt"
    planted.symlink_to(victim)
    _, path = crash(monkeypatch)
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert Path(path) != planted and Path(path).parent == private_state
    assert stat.S_IMODE(private_state.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- fuzz
def _leaves(value: object, prefix: str = "") -> list[str]:
    """Every dotted path to a value of the resolved baseline (lists by index), as --set would name it."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaves(v, f"{prefix}.{i}")]
    return [prefix]


_PATHS = [
    *sorted(set(_leaves(yaml.safe_load(resolved_yaml(prepare("baseline").scenario))))),
    "population.firms", "time.start", "time.end", "seed", "name", "extends", "rules.us-chips-2023-update.strength",
    "rules.us-chips-2023-update.sources", "rules.us-chips-2023-update.sources.0", "parameters.choice.network_weight",
    "parameters.firms.sectors.health.share", "parameters.firms.sectors", "uncertainties.x.range", "world.countries",
]
_SEGMENT = st.one_of(st.sampled_from(["0", "²", "٣", "9" * 30, "rules", "sources", "share", "", "kind"]),
                     st.text(min_size=1, max_size=6))
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=4), st.booleans()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
).map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.one_of(st.sampled_from(_PATHS),
                      st.tuples(st.sampled_from(_PATHS), _SEGMENT).map(".".join),
                      st.lists(_SEGMENT, min_size=1, max_size=4).map(".".join)),
       value=st.one_of(_VALUES, st.text(max_size=20)))
@example(path="rules.us-chips-2023-update.sources.²", value="D4.8")  # found by the attacker: int('²') raised
@example(path="rules.us-chips-2023-update.sources." + "9" * 5000, value="D4.8")  # more digits than int() reads
@example(path="[", value="null")  # found by this fuzz: a key with '[' was taken for a pydantic label
def test_fuzzed_set_is_accepted_or_refused_never_crashes(path: str, value: str):
    """`sim validate baseline --set PATH=VALUE` calls prepare: anything but InputError would be exit 1."""
    try:
        prepare("baseline", [f"{path}={value}"])
    except InputError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
            assert problem.file == "--set" or Path(problem.file).name.endswith(".yaml"), problem
