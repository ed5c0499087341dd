"""Bad scenarios are reported as `FILE:LINE:COLUMN: field: message` lines with exit code 2, never a traceback.

The corpus in tests/corpus/scenarios/ holds one mistake per file; each file says what the message
must contain (`# expect: ...`, one or more) and where it must point (`# at: LINE:COLUMN`, or
`# at: OTHER.yaml:LINE:COLUMN` when the problem lies in a file it extends).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import BASELINE, SCENARIOS
from sim.cli import main
from sim.errors import InputError
from sim.scenario import load_scenario

CORPUS = Path(__file__).parent / "corpus" / "scenarios"
CASES = sorted(CORPUS.glob("*.yaml"))
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): \S")
SECONDS = 5.0  # a validation that takes longer than this is a bug of its own


def expectations(path: Path) -> tuple[list[str], str, str]:
    """(expected substrings, file the problem is in, "LINE:COLUMN") from the case's header comments."""
    text = path.read_text(encoding="utf-8")
    expected = re.findall(r"^# expect: (.+)$", text, re.M)
    at = re.search(r"^# at: (?:(?P<file>[\w.-]+\.yaml):)?(?P<where>\d+:\d+)$", text, re.M)
    assert expected and at, f"{path.name} needs `# expect:` and `# at:` lines"
    return expected, str(CORPUS / (at.group("file") or path.name)), at.group("where")


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    """Run `sim validate ARGS` in-process: (exit code, problem lines, stdout)."""
    start = time.perf_counter()
    code = main(["validate", *args])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert elapsed < SECONDS, f"validate took {elapsed:.1f} s"
    assert "Traceback" not in out + err
    return code, [line for line in err.splitlines() if line.strip()], out


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A scenarios folder of our own: the world data and a copy of the baseline."""
    shutil.copytree(SCENARIOS / "data", tmp_path / "data")
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """\
schema_version: 1
name: small
rules:
  us-chips:
    kind: export_control
    sources: [D4.6]
    targets: {tiers: [3]}
    strength: 0.5
  italy-bans-deepseek:
    kind: ban
    sources: [D4.8]
    targets: {countries: [ITA]}
    families: [deepseek]
"""


# --- the corpus -------------------------------------------------------------------------------------


def test_corpus_has_the_cases():
    assert len(CASES) >= 25
    for path in CASES:
        expectations(path)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_case_is_reported_at_its_line(capsys: pytest.CaptureFixture[str], path: Path):
    expected, file, where = expectations(path)
    code, lines, out = validate(capsys, str(path))
    assert code == 2
    assert lines, "no problem printed"
    assert not out.startswith("ok:")
    for line in lines:
        assert LOCATED.match(line), f"not FILE:LINE:COLUMN: {line!r}"
    at = [line for line in lines if line.startswith(f"{file}:{where}: ")]
    assert at, f"no problem at {file}:{where}; got {lines}"
    for text in expected:
        assert any(text in line for line in at), f"{text!r} not in {at}"


def test_console_script_exits_2_without_traceback():
    script = Path(sys.executable).parent / ("sim.exe" if os.name == "nt" else "sim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sim"]
    case = CORPUS / "unknown_rule_kind.yaml"
    start = time.perf_counter()
    done = subprocess.run([*command, "validate", str(case)], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - start < 30
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{case}:") for line in lines), lines
    assert "did you mean 'ban'?" in done.stderr


def test_rules_package_imports_on_its_own():
    # sim.rules and sim.scenario import each other; either may be imported first.
    for module in ("sim.rules", "sim.rules.base", "sim.scenario", "tools.docs.generate"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr


# --- all problems at once, files that are not scenarios ---------------------------------------------


def test_all_problems_of_a_file_are_reported_at_once(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    path = write(
        tmp_path,
        "three.yaml",
        "schema_version: 1\nname: three\nrulez: {}\nseed: abc\npopulation: {firms: -5}\n",
    )
    code, lines, _ = validate(capsys, str(path))
    assert code == 2
    assert [line.split(": ", 2)[1] for line in lines] == ["rulez", "seed", "population.firms"]
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5"]


def test_problems_in_several_rules_are_all_reported(capsys: pytest.CaptureFixture[str], workspace: Path):
    text = SMALL.replace("strength: 0.5", "strength: 1.5").replace("[D4.8]", "[D4.80]")
    code, lines, _ = validate(capsys, str(write(workspace, "two.yaml", text)))
    assert code == 2
    assert len(lines) == 2
    assert "rules.us-chips.strength" in lines[0] and "rules.italy-bans-deepseek.sources[0]" in lines[1]


def test_validate_reports_each_file_and_fails_if_any_fails(
    capsys: pytest.CaptureFixture[str], workspace: Path
):
    good = write(workspace, "good.yaml", SMALL)
    code, lines, out = validate(capsys, str(good), str(CORPUS / "wrong_type_seed.yaml"))
    assert code == 2
    assert out.startswith(f"ok: {good}")
    assert len(lines) == 1 and "wrong_type_seed.yaml:6:7:" in lines[0]


def test_a_directory_is_not_a_scenario(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    code, lines, _ = validate(capsys, str(tmp_path))
    assert code == 2
    assert lines == [f"{tmp_path}:1:1: is a directory, not a YAML file"]


def test_a_missing_file_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    missing = tmp_path / "nowhere.yaml"
    code, lines, _ = validate(capsys, str(missing))
    assert code == 2
    assert lines == [f"{missing}:1:1: no such file"]


def test_a_missing_world_file_is_reported_at_the_world_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    path = write(tmp_path, "lost.yaml", "schema_version: 1\nname: lost\nworld:\n  countries: nowhere.yaml\n")
    code, lines, _ = validate(capsys, str(path))
    assert code == 2
    assert lines[0].startswith(f"{path}:4:14: world.countries: no such data file")


# --- --set --------------------------------------------------------------------------------------------


def test_set_changes_the_resolved_scenario(capsys: pytest.CaptureFixture[str], workspace: Path):
    baseline = workspace / "baseline.yaml"
    assert load_scenario(baseline, ["population.firms=100"]).scenario.population.firms == 100
    code, lines, out = validate(capsys, str(baseline), "--set", "population.firms=100")
    assert code == 0, lines
    assert out.startswith("ok:")


def test_set_with_a_bad_value_names_the_set(capsys: pytest.CaptureFixture[str], workspace: Path):
    code, lines, _ = validate(capsys, str(workspace / "baseline.yaml"), "--set", "population.firms=abc")
    assert code == 2
    assert lines == [
        "--set:1:18: population.firms: input should be a valid integer, "
        "unable to parse string as an integer, "
        "got 'abc'"
    ]


def test_set_with_broken_yaml_points_into_the_set(capsys: pytest.CaptureFixture[str], workspace: Path):
    code, lines, _ = validate(capsys, str(workspace / "baseline.yaml"), "--set", "seed=7", "--set", "seed=[1")
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("--set:2:8: seed: ")


def test_set_on_an_unknown_rule_lists_the_rules(capsys: pytest.CaptureFixture[str], workspace: Path):
    path = write(workspace, "small.yaml", SMALL)
    code, lines, _ = validate(capsys, str(path), "--set", "rules.nonexistent.strength=1")
    assert code == 2
    assert lines == [
        "--set:1:1: rules.nonexistent: no rule with id 'nonexistent'; rules are us-chips, italy-bans-deepseek"
    ]
    code, lines, _ = validate(capsys, str(path), "--set", "rules.us-chip.strength=1")
    assert code == 2
    assert "no rule with id 'us-chip' (did you mean 'us-chips'?)" in lines[0]


def test_set_on_an_unknown_field_says_did_you_mean(capsys: pytest.CaptureFixture[str], workspace: Path):
    path = write(workspace, "small.yaml", SMALL)
    code, lines, _ = validate(capsys, str(path), "--set", "rules.us-chips.strenght=1")
    assert code == 2
    assert lines == [
        "--set:1:1: rules.us-chips.strenght: unknown field 'strenght' (did you mean 'strength'?)"
    ]


def test_set_inside_a_default_mapping_keeps_its_other_entries(workspace: Path):
    path = write(workspace, "small.yaml", SMALL)
    plain = load_scenario(path).scenario.parameters.firms.sectors
    overrides = [
        "parameters.firms.sectors.technology.share=0.15",
        "parameters.firms.sectors.services.share=0.35",
    ]
    sectors = load_scenario(path, overrides).scenario.parameters.firms.sectors
    assert set(sectors) == set(plain)
    assert sectors["technology"].share == 0.15 and sectors["services"].share == 0.35
    assert sectors["health"] == plain["health"]


# --- extends ------------------------------------------------------------------------------------------


def test_child_overriding_one_rule_keeps_the_others(workspace: Path):
    parent = load_scenario(workspace / "baseline.yaml").scenario
    rule_id = next(i for i, r in parent.rules.items() if r.kind == "export_control" and r.strength != 0.42)
    child = write(
        workspace,
        "child.yaml",
        f"extends: baseline.yaml\nname: child\nrules:\n  {rule_id}:\n    strength: 0.42\n",
    )
    loaded = load_scenario(child)
    rules = loaded.scenario.rules
    assert list(rules) == list(parent.rules)
    assert rules[rule_id].strength == 0.42
    assert rules[rule_id].model_dump(exclude={"strength"}) == parent.rules[rule_id].model_dump(
        exclude={"strength"}
    )
    for other in parent.rules:
        if other != rule_id:
            assert rules[other] == parent.rules[other]
    assert loaded.files == [child.resolve(), (workspace / "baseline.yaml").resolve()]


def test_child_lists_replace_the_parents(workspace: Path):
    write(workspace, "small.yaml", SMALL)
    child = write(
        workspace,
        "child.yaml",
        """\
extends: small.yaml
name: child
rules:
  italy-bans-deepseek:
    sources: [D0.5]
    targets: {countries: [FRA, DEU]}
""",
    )
    rule = load_scenario(child).scenario.rules["italy-bans-deepseek"]
    assert rule.sources == ["D0.5"]
    assert rule.targets.countries == ["FRA", "DEU"]
    assert rule.families == ["deepseek"]  # untouched fields are inherited


def test_child_null_removes_an_inherited_rule(workspace: Path):
    write(workspace, "small.yaml", SMALL)
    child = write(workspace, "child.yaml", "extends: small.yaml\nname: child\nrules:\n  us-chips: null\n")
    assert list(load_scenario(child).scenario.rules) == ["italy-bans-deepseek"]


def test_child_rule_of_another_kind_replaces_the_parents(workspace: Path):
    write(workspace, "small.yaml", SMALL)
    child = write(
        workspace,
        "child.yaml",
        """\
extends: small.yaml
name: child
rules:
  us-chips:
    kind: tension
    sources: [D0.7]
    path: {2024Q1: 0.6}
""",
    )
    assert load_scenario(child).scenario.rules["us-chips"].kind == "tension"


def test_error_in_an_inherited_value_points_at_the_parent(
    capsys: pytest.CaptureFixture[str], workspace: Path
):
    parent = write(workspace, "parent.yaml", SMALL.replace("strength: 0.5", "strength: 1.5"))
    child = write(workspace, "child.yaml", "extends: parent.yaml\nname: child\nseed: 3\n")
    with pytest.raises(InputError) as caught:
        load_scenario(child)
    [problem] = caught.value.problems
    assert (Path(problem.file).resolve(), problem.line, problem.column) == (parent.resolve(), 8, 15)
    code, lines, _ = validate(capsys, str(child))
    assert code == 2 and lines[0].startswith(f"{parent}:8:15: rules.us-chips.strength: 1.5 is not allowed")


def test_error_in_the_child_points_at_the_child(capsys: pytest.CaptureFixture[str], workspace: Path):
    write(workspace, "small.yaml", SMALL)
    child = write(
        workspace, "child.yaml", "extends: small.yaml\nname: child\nrules:\n  us-chips:\n    strength: 2\n"
    )
    code, lines, _ = validate(capsys, str(child))
    assert code == 2 and lines[0].startswith(f"{child}:5:15: rules.us-chips.strength")


def test_extends_names_a_near_file(capsys: pytest.CaptureFixture[str], workspace: Path):
    child = write(workspace, "child.yaml", "extends: baselin.yaml\nname: child\n")
    code, lines, _ = validate(capsys, str(child))
    assert code == 2
    assert lines[0].startswith(f"{child}:1:10: extends: no such file 'baselin.yaml'")
    assert lines[0].endswith("(did you mean 'baseline.yaml'?)")


def test_extends_a_file_that_is_not_a_scenario_names_the_asking_line_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    not_yaml = write(tmp_path, "passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/sbin/nologin\n")
    mine = write(tmp_path, "my.yaml", f"schema_version: 1\nname: mine\nextends: {not_yaml}\n")
    code, lines, _ = validate(capsys, str(mine))
    assert code == 2
    assert lines[0] == f"{mine}:3:10: extends: '{not_yaml}' cannot be extended:"
    assert lines[1].startswith(f"{not_yaml}:1:1: a scenario is a mapping of fields")


def test_extends_etc_passwd_is_refused_at_the_extends_line(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd on this system")
    mine = write(tmp_path, "my.yaml", "schema_version: 1\nname: mine\nextends: /etc/passwd\n")
    code, lines, _ = validate(capsys, str(mine))
    assert code == 2
    assert lines[0] == f"{mine}:3:10: extends: '/etc/passwd' cannot be extended:"
    assert lines[1].startswith("/etc/passwd:")


def test_extends_a_broken_yaml_file_reports_the_chain_asking_file_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    write(tmp_path, "broken.yaml", "name: [\n")
    write(tmp_path, "middle.yaml", "extends: broken.yaml\nname: middle\n")
    top = write(tmp_path, "top.yaml", "schema_version: 1\nname: top\nextends: middle.yaml\n")
    with pytest.raises(InputError) as caught:
        load_scenario(top)
    [problem] = caught.value.problems  # one problem: the asking line, then the target's own, in order
    assert (problem.file, problem.line, problem.column, problem.path) == (str(top), 3, 10, "extends")
    text = problem.format().splitlines()
    assert text[0] == f"{top}:3:10: extends: 'middle.yaml' cannot be extended:"
    assert text[1] == f"{tmp_path / 'middle.yaml'}:1:10: extends: 'broken.yaml' cannot be extended:"
    assert text[2].startswith(f"{tmp_path / 'broken.yaml'}:2:1: ")


def test_circular_extends_is_reported_at_the_asking_file_first(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    first = write(tmp_path, "first.yaml", "schema_version: 1\nname: first\nextends: second.yaml\n")
    second = write(tmp_path, "second.yaml", "extends: first.yaml\nname: second\n")
    code, lines, _ = validate(capsys, str(first))
    assert code == 2
    assert lines == [
        f"{first}:3:10: extends: 'second.yaml' cannot be extended:",
        f"{second}:1:10: extends: circular extends: first.yaml -> second.yaml -> first.yaml",
    ]


def test_a_scenario_extending_itself_is_reported_at_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    me = write(tmp_path, "me.yaml", "schema_version: 1\nname: me\nextends: me.yaml\n")
    code, lines, _ = validate(capsys, str(me))
    assert code == 2 and lines == [f"{me}:3:10: extends: circular extends: me.yaml -> me.yaml"]


def test_extends_an_unknown_name_suggests_the_built_in_one(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    mine = write(tmp_path, "my.yaml", "schema_version: 1\nname: mine\nextends: decoupeling\n")
    code, lines, _ = validate(capsys, str(mine))
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"{mine}:3:10: extends: no such file 'decoupeling' (looked in {tmp_path}), "
                               "and no built-in scenario of that name (built-in: baseline, ")
    assert lines[0].endswith("(did you mean 'decoupling'?)")


def test_extends_a_name_too_long_for_the_file_system_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    # Found by fuzzing: a folded description that slid into `extends:` made the path lookup raise.
    mine = write(tmp_path, "my.yaml", "schema_version: 1\nname: mine\nextends: baseline.yaml " + "word " * 80 + "\n")
    code, lines, _ = validate(capsys, str(mine))
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"{mine}:3:10: extends: 'baseline.yaml word")
    assert "a part of the file name is too long (413 bytes; the limit is 255)" in lines[0]


def test_a_folder_named_like_a_built_in_does_not_hide_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "baseline").mkdir()
    (tmp_path / "notes").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, _ = validate(capsys, "baseline")
    assert code == 0
    code, lines, _ = validate(capsys, "notes")
    assert code == 2 and lines == ["notes:1:1: is a directory, not a YAML file"]


def test_extends_a_built_in_name_from_anywhere(tmp_path: Path):
    from sim.resources import builtin_scenarios

    baseline = load_scenario(BASELINE).scenario
    for reference in ("baseline", "baseline.yaml"):
        mine = write(tmp_path, "mine.yaml", f"schema_version: 1\nname: mine\nextends: {reference}\nseed: 11\n")
        loaded = load_scenario(mine)
        assert loaded.files == [mine.resolve(), builtin_scenarios()["baseline"].resolve()]
        assert loaded.scenario.seed == 11 and loaded.scenario.rules == baseline.rules
        # The world data is the built-in one, found beside the built-in baseline.
        assert loaded.world_path("countries") == (builtin_scenarios()["baseline"].parent / "data" / "countries.yaml")


def test_a_file_beside_the_scenario_wins_over_the_built_in_name(tmp_path: Path):
    write(tmp_path, "baseline.yaml", SMALL)  # a local file named like a built-in scenario
    mine = write(tmp_path, "mine.yaml", "extends: baseline.yaml\nname: mine\n")
    assert list(load_scenario(mine).scenario.rules) == ["us-chips", "italy-bans-deepseek"]
    # `baseline` names no file here (no such path), so it is the built-in scenario of that name.
    mine = write(tmp_path, "mine.yaml", "extends: baseline\nname: mine\n")
    assert "us-chips" not in load_scenario(mine).scenario.rules


def test_a_scenario_without_data_beside_it_runs_on_the_built_in_world(tmp_path: Path):
    from sim.resources import data_dir
    from sim.scenario import prepare

    alone = write(tmp_path, "alone.yaml", SMALL)  # no extends, no data/ folder here
    prepared = prepare(alone)
    assert prepared.loaded.world_path("countries") == data_dir() / "countries.yaml"
    assert "ITA" in prepared.world.iso3s
    (tmp_path / "data").mkdir()  # data/ beside the scenario wins, file by file
    shutil.copy(data_dir() / "families.yaml", tmp_path / "data" / "families.yaml")
    loaded = prepare(alone).loaded
    assert loaded.world_path("families") == (tmp_path / "data" / "families.yaml").resolve()
    assert loaded.world_path("countries") == data_dir() / "countries.yaml"


def test_built_in_scenario_by_name_on_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no scenarios/ here: the names are the package's
    code, lines, out = validate(capsys, "baseline", "decoupling.yaml")
    assert code == 0 and lines == []
    assert out.splitlines()[0].startswith("ok: baseline: baseline, ")
    assert out.splitlines()[1].startswith("ok: decoupling.yaml: decoupling, ")
    code, lines, _ = validate(capsys, "basline")
    assert code == 2
    assert lines[0].startswith("basline:1:1: no such file or built-in scenario 'basline' (did you mean 'baseline'?)")


# --- uncertainties ------------------------------------------------------------------------------------


def test_uncertainty_default_is_used_and_a_bad_one_is_reported_at_the_uncertainty(
    capsys: pytest.CaptureFixture[str], workspace: Path
):
    text = (
        SMALL
        + "uncertainties:\n  firms:\n    path: population.firms\n"
        + "    default: {default}\n    range: [1, 9000]\n"
    )
    good = write(workspace, "good.yaml", text.replace("{default}", "2500"))
    assert load_scenario(good).scenario.population.firms == 2500
    assert load_scenario(good, ["population.firms=300"]).scenario.population.firms == 300  # --set wins
    bad = write(workspace, "bad.yaml", text.replace("{default}", "2500.5"))
    code, lines, _ = validate(capsys, str(bad))
    assert code == 2
    assert lines[0].startswith(f"{bad}:17:14: population.firms: 2500.5 is not allowed")


def test_explain_and_resolved_yaml_of_a_child(workspace: Path):
    from sim.scenario import resolved_yaml

    write(workspace, "small.yaml", SMALL)
    child = write(
        workspace, "child.yaml", "extends: small.yaml\nname: child\nrules:\n  us-chips: {strength: 0.25}\n"
    )
    resolved = yaml.safe_load(resolved_yaml(load_scenario(child).scenario))
    assert resolved["name"] == "child"
    assert resolved["rules"]["us-chips"]["strength"] == 0.25
    assert resolved["rules"]["us-chips"]["targets"]["tiers"] == [3]
    assert "extends" not in resolved
