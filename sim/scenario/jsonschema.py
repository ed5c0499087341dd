"""The JSON Schema of the scenario format, derived from the pydantic schema (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from sim.scenario.schema import Scenario


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "scenario.schema.json",
        "title": "AI geopolitics scenario",
        **schema,
    }


def schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
