"""The shipped scenario library: each answers a stated question, validates, explains itself with real
claims, and together they use every rule kind and cite every mechanism of the source documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.fields import claims
from sim.rules import RULE_KINDS
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
REQUIRED = {
    "baseline", "export-controls-tighten", "export-controls-lifted", "eu-bans-chinese-models",
    "openai-for-countries-expands", "china-open-source-push", "decoupling", "cooperative-standards",
}
# Claims that state no mechanism of the world, with the reason they are not encoded.
NOT_MECHANISMS = {"D3.4": "how the cited study was made (an AI system read the papers), not how the world works"}
CLAIM = re.compile(r"\bD\d\.\d+\b")


def test_the_library_has_the_scenarios_users_expect():
    assert {p.stem for p in LIBRARY} >= REQUIRED
    for path in LIBRARY:
        assert load_scenario(path).scenario.name == path.stem, path.name


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_each_scenario_states_its_question_in_its_header(path: Path):
    header = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# "))
    question = " ".join(header)
    assert "Question:" in question and "?" in question, path.name


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_explain_lists_every_rule_with_claims_that_exist(path: Path, capsys):
    assert main(["explain", str(path)]) == 0
    text = capsys.readouterr().out
    scenario = load_scenario(path).scenario
    known = claims()
    for rule_id, rule in scenario.rules.items():
        assert f"{rule_id} [{rule.kind}]" in text
        for claim in rule.sources:
            assert claim in known and f"{claim}: {known[claim][:30]}" in text.replace("\n      ", " ")


def test_the_library_uses_every_rule_kind():
    used = {rule.kind for path in LIBRARY for rule in load_scenario(path).scenario.rules.values()}
    assert used == set(RULE_KINDS)


def test_every_mechanism_of_the_documents_is_cited():
    cited = {c for path in LIBRARY for rule in load_scenario(path).scenario.rules.values() for c in rule.sources}
    for folder in ("sim/model", "sim/rules"):
        for source in (ROOT / folder).glob("*.py"):
            cited |= set(CLAIM.findall(source.read_text(encoding="utf-8")))
    for data in (ROOT / "scenarios" / "data").glob("*.yaml"):  # calibration targets and validation patterns
        cited |= set(CLAIM.findall(data.read_text(encoding="utf-8")))
    missing = set(claims()) - cited - set(NOT_MECHANISMS)
    assert not missing, f"claims no rule, mechanism or check cites: {sorted(missing)}"
