"""The classroom's lessons stay true: one per preset, real claims, plain words, the page's lever
labels, numbers generated from current runs (stale numbers fail here), and the notebooks committed
with their outputs."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT
from sim.app import lessons
from sim.app.lessons import (
    DIFFERENCE,
    LESSONS_FILE,
    MANY_STORIES,
    NUMBERS_FILE,
    LessonInfo,
    claim_text,
    lesson_for,
    lesson_plans,
    lessons_dir,
    load_lessons,
)
from sim.app.levers import LEVERS
from sim.errors import InputError
from sim.fields import claims
from sim.resources import builtin_scenarios
from sim.scenario import prepare

# Words a class should not meet on the lesson card: the model's and the statistician's jargon.
JARGON = ("log-odds", "logit", "utility", "utilities", "replicate", "multinomial", "stochastic", "ensemble",
          "parameter", "quantile", "percentile", "q10", "q90", "seed", "{{", "}}")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def numbers_script():
    return _script("lesson_numbers")


@pytest.fixture(scope="module")
def numbers() -> dict:
    return yaml.safe_load((lessons_dir() / NUMBERS_FILE).read_text(encoding="utf-8"))


def _texts(lesson: LessonInfo) -> list[str]:
    return [lesson.question, lesson.what_it_is, lesson.how_it_works, *lesson.things_to_try, *lesson.what_to_notice]


def test_every_preset_has_a_lesson_and_a_scenario_of_ones_own_has_none():
    for preset in builtin_scenarios():
        lesson = lesson_for(preset)
        assert lesson is not None, f"no lesson for the preset {preset}: add it to scenarios/lessons/{LESSONS_FILE}"
        assert lesson.preset == preset and lesson.things_to_try and lesson.what_to_notice
    assert lesson_for("my-own-scenario") is None


def test_every_claim_of_a_lesson_exists_and_reads_with_its_source():
    for preset in builtin_scenarios():
        for claim in lesson_for(preset).claims:
            assert claim in claims()
            text = claim_text(claim)
            assert text.startswith(f"{claim}: {claims()[claim]}") and "(source: " in text
    assert claim_text("D9.99") is None


def test_lesson_texts_use_plain_words():
    for preset in builtin_scenarios():
        for text in _texts(lesson_for(preset)):
            found = [word for word in JARGON if re.search(rf"(?<![\w-]){re.escape(word)}", text, re.IGNORECASE)]
            assert not found, f"{preset}: {found} in {text!r}"


def test_things_to_try_name_the_page_levers_and_views_as_labelled():
    labels = {lever.label for lever in LEVERS}
    for preset in builtin_scenarios():
        for text in lesson_for(preset).things_to_try:
            set_to = re.findall(r'Set "([^"]+)" to', text)
            assert all(label in labels for label in set_to), (preset, set_to)
            views = [view for view in (MANY_STORIES, DIFFERENCE) if f'"{view}" view' in text]
            views += [part for part in ("on the map", '"What happened"') if part in text]
            assert set_to or views, f"{preset}: a thing to try names no lever and no part of the page: {text!r}"


def test_every_difference_a_lesson_quotes_says_whether_it_is_within_chance():
    raw = yaml.safe_load((lessons_dir() / LESSONS_FILE).read_text(encoding="utf-8"))["lessons"]
    for preset, entry in raw.items():
        for text in [*entry["things_to_try"], *entry["what_to_notice"]]:
            for name in re.findall(r"\{\{((?:diff|try\.[\w-]+)\.\w+)\}\}", text):
                assert f"{{{{{name}.verdict}}}}" in text, f"{preset}: {{{{{name}}}}} without its verdict"


def test_verdict_says_within_chance_when_the_stories_disagree():
    def verdict(higher: int, lower: int, median: float, spread: float) -> str:
        return lessons._verdict({"stories": 12, "higher": higher, "lower": lower, "median": median}, spread)

    assert verdict(6, 5, 0.01, 0.0) == "within chance: of 12 stories, higher in 6, lower in 5, the same in 1"
    assert verdict(12, 0, 0.05, 0.02) == "higher in 12 of 12 stories"
    assert verdict(0, 11, -0.01, 0.2) == "lower in 11 of 12 stories, but smaller than the differences between stories"
    assert verdict(0, 0, 0.0, 0.1) == "the same in all 12 stories"


def test_generated_numbers_match_the_presets_world_data_and_lessons(numbers_script, numbers):
    """The fingerprint covers every preset and lever try resolved (with the parameter defaults) and the
    world data; a change to any needs `python scripts/lesson_numbers.py`."""
    assert numbers["fingerprint"] == numbers_script.fingerprint(lesson_plans()), (
        "the lessons' numbers are stale: run `python scripts/lesson_numbers.py`")
    assert numbers["stories"] == numbers_script.STORIES == 12
    assert set(numbers["presets"]) == set(builtin_scenarios())


def test_generated_numbers_match_a_fresh_run_of_every_preset(numbers_script, numbers):
    """The model's code is not in the fingerprint: rerunning each preset's first story catches a change."""
    check, plans = numbers["check"], lesson_plans()
    assert set(check["presets"]) == set(builtin_scenarios())
    for preset, stored in check["presets"].items():
        spotlight = plans[preset].spotlight
        fresh = numbers_script.story_values(prepare(builtin_scenarios()[preset]), check["stories"], [spotlight])
        for name, values in stored.items():
            assert fresh[spotlight][name] == pytest.approx(values, abs=1e-6), (
                f"{preset}, {name}: the model now gives other numbers; run `python scripts/lesson_numbers.py`")


def test_teaching_guide_sections_are_generated_from_the_lessons(numbers_script):
    current = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    assert numbers_script.teaching_text(current) == current, "run `python scripts/lesson_numbers.py --docs-only`"
    for preset in builtin_scenarios():
        assert f"### {preset}\n" in current
        assert lesson_for(preset).what_to_notice[0] in current


def _copy(tmp_path: Path, edit) -> Path:
    """The shipped lesson file and numbers in a temporary folder, the lesson text edited by `edit`."""
    shutil.copy(lessons_dir() / NUMBERS_FILE, tmp_path / NUMBERS_FILE)
    path = tmp_path / LESSONS_FILE
    path.write_text(edit((lessons_dir() / LESSONS_FILE).read_text(encoding="utf-8")), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("  decoupling:", "  decoupled:", "decoupled:", "no built-in preset 'decoupled' (did you mean 'decoupling'?)"),
        ("claims: [D0.7, D3.1, D3.5]", "claims: [D0.7, D3.1, D3.55]", "D3.55", "unknown claim id 'D3.55'"),
        ("calm: {tension: -0.5}", "calm: {tensoin: -0.5}", "tensoin", "unknown lever 'tensoin'"),
        ("calm: {tension: -0.5}", "calm: {tension: -5}", "tension: -5", "outside 'US-China tension ±'"),
        ("{{try.calm.cn_gap_months}}", "{{try.calm.cn_gap_month}}", "cn_gap_month}", "unknown quantity 'cn_gap_month'"),
        ("    spotlight: BRA", "    spotlight: Brazil", "Brazil", "an ISO3 country code"),
    ],
)
def test_a_wrong_lesson_file_is_reported_at_its_line(tmp_path, old, new, needle, message):
    path = _copy(tmp_path, lambda text: text.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        load_lessons(path)
    [problem] = caught.value.problems
    assert problem.file == str(path) and problem.line == _line_of(path, needle), problem.format()
    assert message in problem.message
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", problem.format())


def test_a_number_missing_from_the_numbers_file_says_to_rerun_the_script(tmp_path):
    path = _copy(tmp_path, lambda text: text)
    numbers = yaml.safe_load((tmp_path / NUMBERS_FILE).read_text(encoding="utf-8"))
    del numbers["presets"]["decoupling"]["tries"]["calm"]
    (tmp_path / NUMBERS_FILE).write_text(yaml.safe_dump(numbers), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_lessons(path)
    assert "run scripts/lesson_numbers.py" in str(caught.value)
    assert all(p.line == _line_of(path, "{{try.calm.cn_gap_months}}") for p in caught.value.problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_run_and_as_built(path):
    """Each notebook holds what notebooks/build_notebooks.py writes, run top to bottom with its outputs."""
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "notebooks" / "build_notebooks.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    notebook = nbformat.read(path, as_version=4)
    expected = [cell.source for cell in build.LESSONS[path.name]()]
    assert [cell.source for cell in notebook.cells] == expected, "rerun notebooks/build_notebooks.py"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        f"{path.name} is not committed run top to bottom: run notebooks/build_notebooks.py --execute")
    assert all(not any(o.get("output_type") == "error" for o in cell.outputs) for cell in code)
    assert sum(bool(cell.outputs) for cell in code) >= len(code) - 2  # most cells print or draw something


def test_an_installed_package_ships_the_lessons_and_their_numbers():
    import fnmatch
    import tomllib

    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = shipped["tool"]["setuptools"]["package-data"]["sim"]
    for name in (LESSONS_FILE, NUMBERS_FILE):
        relative = f"builtin/lessons/{name}"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
