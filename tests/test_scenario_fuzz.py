"""Property-based: however scenarios/baseline.yaml is mangled, `sim validate` exits 0 or 2, never crashes.

Each example mutates the baseline's text (drops, duplicates or swaps lines, or replaces one value with
a scalar of another type) and runs `sim.cli.main(["validate", path])` in-process. The mutated file
sits next to a copy of the world data, so the rule references are checked too.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
LINES = BASELINE.read_text(encoding="utf-8").splitlines(keepends=True)
VALUE = re.compile(r"^(\s*(?:- )?[\w.-]+:\s*)(\S.*?)\s*$")  # `key: value` -> (prefix, value)
VALUED = [i for i, line in enumerate(LINES) if VALUE.match(line) and not line.lstrip().startswith("#")]

# Values that are wrong in a telling way somewhere in a scenario.
# fmt: off
AWKWARD = [
    ".nan", ".inf", "-.inf", "true", "no", "null", "~", "''", "[]", "{}", "[1, 2]", "{a: 1}",
    "2025Q5", "2025-13", "2025-02-04", "2030Q4", "1999Q1", "D4.80", "D9.1", "ITAL", "ITX", "bann",
    "-1", "0", "1e400", "0x1F", "!!python/name:os.system", "&a x", "*a", "'unterminated", "[", "{",
    "2025Q1: 0.5", "- x", "US", "CN", "chips", "ban", "deepsek", "opnai", "\u00e9t\u00e9", "a: b: c",
]
# fmt: on

SCALARS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(AWKWARD),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    lines = list(LINES)
    kind = draw(st.sampled_from(["drop", "duplicate", "swap", "replace", "replace"]))
    if kind == "drop":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
    elif kind == "swap":
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        i = draw(st.sampled_from(VALUED))
        prefix = VALUE.match(lines[i]).group(1)
        lines[i] = prefix + draw(SCALARS).replace("\n", " ").replace("\r", " ") + "\n"
    return "".join(lines)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "scenarios" / "data", folder / "data")
    return folder


def validate(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    return code, out.getvalue() + err.getvalue()


def test_baseline_itself_is_valid(workdir: Path):
    path = workdir / "baseline.yaml"
    shutil.copy(BASELINE, path)
    code, output = validate(path)
    assert code == 0, output


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutations())
def test_mutated_baseline_never_crashes(workdir: Path, text: str):
    path = workdir / "mutant.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = validate(path)
    assert code in (0, 2), output
    assert "Traceback" not in output
    assert "internal error" not in output
    if code == 2:
        lines = [line for line in output.splitlines() if line.strip()]
        assert lines, "exit 2 without a message"
        for line in lines:
            assert re.match(r"^\S.*:\d+:\d+: ", line), line
