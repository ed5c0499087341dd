"""Property-based: however a shipped scenario is mangled, `sim validate` and `sim explain` exit 0 or 2, never crash.

Each example takes one of `scenarios/*.yaml` (globbed, so new scenarios are fuzzed too) and mutates
its text: drops, duplicates or swaps lines, swaps the values of two fields, or replaces one value
with a scalar of another type. The mutant is written beside a copy of the scenarios folder (so
`extends:` and the world data resolve as for the original) and run through `sim.cli.main` in this
process. Exit 2 must come with `FILE:LINE:COLUMN: message` lines only; no traceback, no internal error.

The world data files are never mutated, so their parsed form is cached for the test (reading them is
most of a validation's time); the mutated scenario itself goes through the real reader every time.
"""

from __future__ import annotations

import functools
import importlib
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCENARIOS, run_cli

PREPARE = importlib.import_module("sim.scenario.preparation")

LIBRARY = sorted(SCENARIOS.glob("*.yaml"))
TEXTS = {path.name: path.read_text(encoding="utf-8").splitlines(keepends=True) for path in LIBRARY}
VALUE = re.compile(r"^(\s*(?:- )?[\w.-]+:\s*)(\S.*?)\s*$")  # `key: value` -> (prefix, value)
VALUED = {
    name: [i for i, line in enumerate(lines) if VALUE.match(line) and not line.lstrip().startswith("#")]
    for name, lines in TEXTS.items()
}
DEFAULT_EXAMPLES = 300  # make test; the slow test runs more
SLOW_EXAMPLES = 1500

# Values that are wrong in a telling way somewhere in a scenario.
# fmt: off
AWKWARD = [
    ".nan", ".inf", "-.inf", "true", "no", "null", "~", "''", "[]", "{}", "[1, 2]", "{a: 1}",
    "2025Q5", "2025-13", "2025-02-04", "2030Q4", "1999Q1", "D4.80", "D9.1", "ITAL", "ITX", "bann",
    "-1", "0", "1e400", "0x1F", "!!python/name:os.system", "&a x", "*a", "'unterminated", "[", "{",
    "2025Q1: 0.5", "- x", "US", "CN", "chips", "ban", "deepsek", "opnai", "\u00e9t\u00e9", "a: b: c",
    "1000000000000", "99999999999999999999", "baseline.yaml", "missing.yaml", "../../etc/passwd",
]
# fmt: on

SCALARS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(AWKWARD),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    """(name of the shipped scenario, mutated text)."""
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = list(TEXTS[name])
    valued = VALUED[name]
    kind = draw(st.sampled_from(["drop", "duplicate", "swap", "swap_values", "replace", "replace"]))
    if kind == "drop":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
    elif kind == "swap":
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "swap_values" and len(valued) >= 2:
        i, j = draw(st.sampled_from(valued)), draw(st.sampled_from(valued))
        first, second = VALUE.match(lines[i]), VALUE.match(lines[j])
        lines[i] = first.group(1) + second.group(2) + "\n"
        lines[j] = second.group(1) + first.group(2) + "\n"
    elif valued:
        i = draw(st.sampled_from(valued))
        prefix = VALUE.match(lines[i]).group(1)
        lines[i] = prefix + draw(SCALARS).replace("\n", " ").replace("\r", " ") + "\n"
    return name, "".join(lines)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    return folder


@pytest.fixture(scope="module")
def cached_world():
    """Parse each (unchanged) world data file once; keyed by path, size and modification time."""
    real = PREPARE.load_yaml_file

    @functools.lru_cache(maxsize=16)
    def cached(path: str, _size: int, _mtime: int):
        return real(path)

    def load(path):
        stat = Path(path).stat()
        return cached(str(path), stat.st_size, stat.st_mtime_ns)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PREPARE, "load_yaml_file", load)
        yield


def cli(*args: str) -> tuple[int, str]:
    code, out, err = run_cli(*args)
    return code, out + err


def check_mutant(workdir: Path, name: str, text: str) -> None:
    path = workdir / f"mutant-{name}"
    path.write_text(text, encoding="utf-8")
    code, output = cli("validate", str(path))
    assert code in (0, 2), output
    assert "Traceback" not in output
    assert "internal error" not in output
    if code == 2:
        lines = [line for line in output.splitlines() if line.strip()]
        assert lines, "exit 2 without a message"
        for line in lines:
            assert re.match(r"^\S.*:\d+:\d+: ", line), line
        return
    code, output = cli("explain", str(path))  # a valid mutant must also explain
    assert code == 0, output
    assert "Traceback" not in output


def test_scenarios_are_found():
    assert any(path.name == "baseline.yaml" for path in LIBRARY)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_shipped_scenario_itself_is_valid(workdir: Path, name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SIM_MEMORY_LIMIT", raising=False)
    code, output = cli("validate", str(workdir / name))
    assert code == 0, output


@settings(
    max_examples=DEFAULT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutations())
def test_mutated_scenarios_never_crash(workdir: Path, cached_world, case: tuple[str, str]):
    check_mutant(workdir, *case)


@pytest.mark.slow
@settings(
    max_examples=SLOW_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutations())
def test_many_more_mutated_scenarios_never_crash(workdir: Path, cached_world, case: tuple[str, str]):
    check_mutant(workdir, *case)
