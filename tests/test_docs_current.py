"""The generated reference and JSON Schema are current; the shipped scenarios name and satisfy the schema."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest

from sim.rules import RULE_KINDS, Rule
from sim.scenario import load_scenario
from sim.scenario.schema import Scenario
from sim.yamlio import load_yaml_file
from tools.docs.generate import (
    CHILD_EXAMPLE,
    EXAMPLE,
    SCENARIOS_MD,
    SCHEMA_JSON,
    generated_files,
    render_scenarios_md,
)
from tools.docs.odd import ODD_MD
from tools.docs.rules import RULES_MD

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
NOT_SCENARIOS = ("data", "experiments", "calibration", "lessons")  # world data, designs, calibration, lessons


def shipped_scenarios() -> list[Path]:
    return sorted(
        path
        for path in SCENARIOS.rglob("*.yaml")
        if path.relative_to(SCENARIOS).parts[0] not in NOT_SCENARIOS
    )


def schema_header(path: Path) -> str:
    depth = len(path.relative_to(SCENARIOS).parts) - 1
    return f"# yaml-language-server: $schema={'../' * depth}scenario.schema.json"


@pytest.mark.parametrize("relative", [SCENARIOS_MD, SCHEMA_JSON, ODD_MD, RULES_MD], ids=str)
def test_generated_file_is_current(relative: Path):
    expected = generated_files()[relative]
    path = ROOT / relative
    assert path.is_file(), f"{relative} is missing; run `make docs` (python -m tools.docs)"
    assert path.read_text(encoding="utf-8") == expected, f"{relative} is stale; run `make docs` (python -m tools.docs)"


def test_reference_names_every_field_and_rule_kind():
    page = render_scenarios_md()
    for kind, cls in RULE_KINDS.items():
        assert f"Rule kind `{kind}`" in page
        for name, field in cls.model_fields.items():
            if name not in Rule.model_fields:
                assert f"`rules.<id>.{field.alias or name}`" in page, (kind, name)
    for section in (
        "time.start",
        "population.firms",
        "rules.<id>.from",
        "targets.except",
        "parameters.choice.risk_weight",
        "uncertainties.<name>.range",
    ):
        assert f"`{section}`" in page
    for group in Scenario.model_fields["parameters"].annotation.model_fields:
        assert f"`parameters.{group}`" in page


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_shipped_scenario_points_editors_at_the_schema(path: Path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == schema_header(path), f"{path.name}: the first line must be `{schema_header(path)}`"


def _as_json(value: Any) -> Any:
    # The editors' YAML 1.2 reads 2025-02-04 as text; PyYAML makes it a date.
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_shipped_scenario_satisfies_the_json_schema(path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(jsonschema_document())
    data = _as_json(load_yaml_file(path).data)
    problems = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not problems, problems


def jsonschema_document() -> dict:
    import json

    return json.loads((ROOT / SCHEMA_JSON).read_text(encoding="utf-8"))


def test_json_schema_is_a_valid_schema_that_rejects_typos():
    jsonschema = pytest.importorskip("jsonschema")
    schema = jsonschema_document()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"schema_version": 1, "name": "x", "rulez": {}})
    assert not validator.is_valid({"schema_version": 1, "name": "x", "rules": {"a": {"kind": "bann"}}})
    assert not validator.is_valid({"name": "x"})  # a complete file needs schema_version
    # A child states only what it changes.
    child = {"extends": "baseline.yaml", "rules": {"us-h200-case-by-case": {"strength": 0.9}, "gone": None}}
    assert validator.is_valid(child)
    assert not validator.is_valid({"extends": "baseline.yaml", "rules": {"x": {"strenght": 0.9}}})


def test_examples_in_the_reference_validate(tmp_path: Path):
    shutil.copytree(SCENARIOS / "data", tmp_path / "data")
    shutil.copy(SCENARIOS / "baseline.yaml", tmp_path / "baseline.yaml")
    for name, text in (("example.yaml", EXAMPLE), ("child.yaml", CHILD_EXAMPLE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    example = load_scenario(tmp_path / "example.yaml").scenario
    assert example.parameters.choice.risk_weight == 1.2  # the uncertainty's default
    child = load_scenario(tmp_path / "child.yaml").scenario
    assert child.rules["us-h200-case-by-case"].strength == 0.9
    assert "korea-suspends-deepseek" not in child.rules
    assert "eu-bans-deepseek" in child.rules
