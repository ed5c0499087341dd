"""The scenario language: schema, loading, and checks against the world data.

Imports run one way: `sim.fields` (building blocks) <- `sim.rules` (rule kinds) <- `sim.scenario`.
"""

from sim.scenario.load import LoadedScenario, load_scenario, resolved_yaml
from sim.scenario.preparation import Prepared, prepare
from sim.scenario.schema import Scenario

__all__ = ["LoadedScenario", "Prepared", "Scenario", "load_scenario", "prepare", "resolved_yaml"]
