"""The JSON Schema of the scenario format, derived from the pydantic schema (never written by hand).

A file with `extends:` states only what it changes (`rules: {some-rule: {strength: 0.9}}`), so
editors check it against a *partial* variant of the schema: the same fields and types, nothing
required, any rule kind's fields accepted in a rule without `kind`, and `null` allowed to remove an
inherited value. Lists are replaced whole by a child, so their items stay complete. `sim validate`
checks the merged result in full.
"""

from __future__ import annotations

import json
from typing import Any

from sim.scenario.schema import Scenario

_DATA_KEYS = ("default", "examples", "const", "enum")  # values, not schemas: copied as they are
_WHOLE_KEYS = ("items", "prefixItems")  # list items a child writes in full


def _nullable(schema: Any) -> Any:
    return {"anyOf": [schema, {"type": "null"}]}


def _partial(node: Any) -> Any:
    """The schema `node` with nothing required below it, refs pointing at the partial definitions."""
    if isinstance(node, list):
        return [_partial(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("required", "discriminator"):
            continue
        if key in _DATA_KEYS or key in _WHOLE_KEYS:
            out[key] = value
        elif key == "$ref":
            out[key] = value.replace("#/$defs/", "#/$defs/Partial", 1)
        elif key == "oneOf":
            out["anyOf"] = _partial(value)  # a rule without `kind` may fit several kinds
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _nullable(_partial(sub)) for name, sub in value.items()}
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = _nullable(_partial(value))
        else:
            out[key] = _partial(value)
    return out


def scenario_json_schema() -> dict[str, Any]:
    full = Scenario.model_json_schema(by_alias=True, mode="validation")
    definitions = {**full.pop("$defs", {}), "Scenario": full}
    partial = {f"Partial{name}": _partial(schema) for name, schema in definitions.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "scenario.schema.json",
        "title": "AI geopolitics scenario",
        "description": full.get("description", ""),
        "$defs": {**definitions, **partial},
        "if": {"required": ["extends"]},
        "then": {"$ref": "#/$defs/PartialScenario"},
        "else": {"$ref": "#/$defs/Scenario"},
    }


def schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
