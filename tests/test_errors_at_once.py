"""One run reports every problem of a scenario or experiment file, with suggestions that know the domain.

A misspelt rule `kind` used to hide the rule's other mistakes, unknown countries and families showed only
once the format was right, and an experiment with seven mistakes took four rounds; `GER` suggested Peru.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import BASELINE, SCENARIOS
from sim.cli import main
from sim.rules import RULE_KINDS
from sim.scenario import load_scenario
from sim.scenario.collect import references_in
from sim.scenario.suggest import country_hint, family_hint, lab_hint

LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<path>\S+): (?P<message>.+)$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[re.Match[str]]]:
    """`sim ARGV` in-process: the exit code and the parsed problem lines (every line must parse)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), f"not FILE:LINE:COLUMN: field: message: {lines}"
    return code, [m for m in parsed if m]


THREE_BAD_RULES = """\
schema_version: 1
name: three-bad-rules
extends: baseline
rules:
  eu-bans-chinese-models:
    kind: bann
    sources: [D4.8]
    targets: {countries: [GER, China]}
    families: [deepsek]
    scope: goverment
  five-eyes-ban:
    kind: ban
    sources: [D4.8]
    targets: {countries: [UK, "United States", ITX]}
    families: [qwen]
  tension-later:
    kind: tension
    sources: [D0.7]
    path: {2025Q1: 0.5}
    from: 2026-01
"""


def test_scenario_with_three_bad_rules_reports_every_problem_in_one_run(tmp_path, capsys):
    path = tmp_path / "three.yaml"
    path.write_text(THREE_BAD_RULES, encoding="utf-8")
    code, problems = run(capsys, "validate", str(path))
    assert code == 2
    found = {(int(m["line"]), m["path"]): m["message"] for m in problems}
    assert sorted(found) == [
        (6, "rules.eu-bans-chinese-models.kind"),
        (8, "rules.eu-bans-chinese-models.targets.countries[0]"),
        (8, "rules.eu-bans-chinese-models.targets.countries[1]"),
        (9, "rules.eu-bans-chinese-models.families[0]"),
        (10, "rules.eu-bans-chinese-models.scope"),
        (14, "rules.five-eyes-ban.targets.countries[0]"),
        (14, "rules.five-eyes-ban.targets.countries[1]"),
        (14, "rules.five-eyes-ban.targets.countries[2]"),
        (20, "rules.tension-later.from"),
    ], found
    assert [int(m["line"]) for m in problems] == sorted(int(m["line"]) for m in problems)  # in file order
    assert "did you mean 'ban'?" in found[6, "rules.eu-bans-chinese-models.kind"]
    # The misspelt rule's fields are checked as a `ban`: the well-formed but unknown country and family,
    # the name written for a code, and the misspelt scope.
    misspelt = "rules.eu-bans-chinese-models"
    assert "unknown country 'GER' (did you mean 'DEU', Germany?)" in found[8, f"{misspelt}.targets.countries[0]"]
    assert "did you mean 'CHN', China?" in found[8, f"{misspelt}.targets.countries[1]"]
    assert "unknown family 'deepsek' (did you mean 'deepseek'?)" in found[9, f"{misspelt}.families[0]"]
    assert "did you mean 'government'?" in found[10, f"{misspelt}.scope"]
    assert "did you mean 'GBR', United Kingdom?" in found[14, "rules.five-eyes-ban.targets.countries[0]"]
    assert "did you mean 'USA', United States?" in found[14, "rules.five-eyes-ban.targets.countries[1]"]
    assert "unknown country 'ITX' (did you mean 'ITA'?)" in found[14, "rules.five-eyes-ban.targets.countries[2]"]
    assert "'2026-01' is not a quarter" in found[20, "rules.tension-later.from"]


def test_kind_far_from_any_is_checked_as_the_kind_whose_fields_it_has(tmp_path, capsys):
    path = tmp_path / "embargo.yaml"
    path.write_text("""\
schema_version: 1
name: embargo
extends: baseline
rules:
  embargo:
    kind: embargo
    sources: [D4.8]
    targets: {countries: [ITA]}
    families: [Llama 3]
    scope: everyone
    until: 2024Q9
""", encoding="utf-8")
    code, problems = run(capsys, "validate", str(path))
    assert code == 2
    found = {m["path"]: m["message"] for m in problems}
    assert set(found) == {f"rules.embargo.{field}" for field in ("kind", "families[0]", "scope", "until")}
    assert "did you mean 'llama'?" in found["rules.embargo.families[0]"]
    assert "checked as a `ban` rule" in found["rules.embargo.scope"]


def test_rule_of_no_recognisable_kind_still_has_its_window_checked(tmp_path, capsys):
    path = tmp_path / "nothing.yaml"
    path.write_text("""\
schema_version: 1
name: nothing
extends: baseline
rules:
  mystery:
    kind: zzz
    sources: [D4.8]
    whatever: 1
    from: 2025Q7
""", encoding="utf-8")
    code, problems = run(capsys, "validate", str(path))
    assert code == 2
    assert sorted(m["path"] for m in problems) == ["rules.mystery.from", "rules.mystery.kind"]


def test_unknown_ids_of_a_valid_scenario_get_domain_suggestions(tmp_path, capsys):
    path = tmp_path / "programme.yaml"
    path.write_text("""\
schema_version: 1
name: programme
extends: baseline
rules:
  ofc-germany:
    kind: program
    sources: [D1.4]
    sponsor: GPT
    partners: [{country: GER, from: 2025Q3}]
""", encoding="utf-8")
    code, problems = run(capsys, "validate", str(path))
    assert code == 2
    found = {m["path"]: m["message"] for m in problems}
    assert "unknown lab 'GPT' (did you mean 'openai'?)" in found["rules.ofc-germany.sponsor"]
    assert "unknown country 'GER' (did you mean 'DEU', Germany?)" in found["rules.ofc-germany.partners[0].country"]


SEVEN_MISTAKES = """\
schema_version: 1
name: seven-mistakes
scenario: {baseline}
set:
  population.firm: 300
  time.end: 2025Q4
uncertainties:
  network_weight:
    path: parameters.choice.network_wieght
    range: [1.0, 2.0]
  imitation:
    path: parameters.adoption.imitation
    rnage: [0.3, 0.5]
levers:
  outreach:
    path: rules.china-open-source-strategy.outreach_bonus
    choices: [0.0, 7.0]
design:
  kind: full_factorial
  levels: 2
replicates: 0
outcomes:
  cn_influence:
    metric: influense
    group: bloc=CN,weight=gdp
  late:
    metric: influence
    group: bloc=CN,weight=gdp
    at: 2031Q1
"""


def test_experiment_with_seven_mistakes_reports_all_seven_in_one_run(tmp_path, capsys):
    path = tmp_path / "seven.yaml"
    path.write_text(SEVEN_MISTAKES.format(baseline=BASELINE), encoding="utf-8")
    code, problems = run(capsys, "sweep", str(path), "--dry-run")
    assert code == 2
    assert [(int(m["line"]), m["path"]) for m in problems] == [
        (5, "set.population.firm"),
        (9, "uncertainties.network_weight.path"),
        (13, "uncertainties.imitation.rnage"),
        (17, "levers.outreach.choices[1]"),
        (21, "replicates"),
        (24, "outcomes.cn_influence.metric"),
        (29, "outcomes.late.at"),
    ]
    messages = " | ".join(m["message"] for m in problems)
    for hint in ("did you mean 'firms'?", "did you mean 'network_weight'?", "did you mean 'range'?",
                 "did you mean 'influence'?", "outside the run (2023Q1-2025Q4)"):
        assert hint in messages


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("GER", "DEU"),  # IOC code, not Peru's PER
        ("China", "CHN"),
        ("UK", "GBR"),
        ("United States", "USA"),
        ("Deutschland", "DEU"),  # the endonym
        ("DE", "DEU"),  # ISO alpha-2
        ("Turkey", "TUR"),  # the world data says Türkiye
        ("Germny", "DEU"),  # a misspelt name
        ("Bulgaria", "XEU"),  # not in the world data on its own: counted in the rest-of-EU aggregate
        ("ITX", "ITA"),  # a plain typo of a code
    ],
)
def test_country_suggestions_know_codes_and_names(written, meant):
    assert f"did you mean '{meant}'" in country_hint(written)


def test_no_suggestion_for_a_country_nobody_has_heard_of_and_a_bloc_is_pointed_to_blocs():
    assert country_hint("Narnia") == ""
    assert country_hint("ITA") == ""
    assert "blocs: [EU]" in country_hint("EU")


@pytest.mark.parametrize(("written", "meant"), [("DeepSeek", "deepseek"), ("llama-3.1", "llama"), ("meta", "llama"),
                                                ("gpt-4o", "gpt"), ("OpenAI", "gpt")])
def test_family_suggestions_know_names_versions_and_labs(written, meant):
    assert f"did you mean '{meant}'?" in family_hint(written)


@pytest.mark.parametrize(("written", "meant"), [("Google DeepMind", "google"), ("gpt", "openai"), ("opnai", "openai")])
def test_lab_suggestions_know_names_and_families(written, meant):
    assert f"did you mean '{meant}'?" in lab_hint(written)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_ids_found_by_field_type_are_the_rules_own_references(path: Path):
    """The check on unvalidated data finds the same ids as a validated rule's `references()`: a new
    country, family or lab field declared with a plain `str` would be missed, and fail here."""
    loaded = load_scenario(path)
    for rule_id, rule in loaded.scenario.rules.items():
        written = loaded.data["rules"][rule_id]
        by_type = sorted((p, w, v) for p, w, v in references_in(RULE_KINDS[rule.kind], written))
        assert by_type == sorted(rule.references()), rule_id

