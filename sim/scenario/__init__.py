"""The scenario language: schema, loading, and checks against the world data."""

from sim.scenario.load import LoadedScenario, load_scenario, resolved_yaml
from sim.scenario.prepare import Prepared, prepare
from sim.scenario.schema import Scenario

__all__ = ["LoadedScenario", "Prepared", "Scenario", "load_scenario", "prepare", "resolved_yaml"]
