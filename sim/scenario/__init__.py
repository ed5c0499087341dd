"""The scenario language: schema, loading, and checks against the world data."""

import sys as _sys
from importlib import import_module as _import_module
from typing import Any as _Any

_EXPORTS = {
    "LoadedScenario": "sim.scenario.load",
    "load_scenario": "sim.scenario.load",
    "resolved_yaml": "sim.scenario.load",
    "Prepared": "sim.scenario.prepare",
    "prepare": "sim.scenario.prepare",
    "Scenario": "sim.scenario.schema",
}


def _bind_exports() -> None:
    # Binding after the submodules are imported: `prepare` is the function, not the module.
    globals().update({name: getattr(_import_module(module), name) for name, module in _EXPORTS.items()})


def __getattr__(name: str) -> _Any:
    if name in _EXPORTS:
        _bind_exports()
        return globals()[name]
    raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")


# `import sim.rules` first imports sim.scenario.fields, hence this package, while sim.rules is still
# half-built; the schema needs the finished sim.rules, so the exports are bound on first use then.
_rules = _sys.modules.get("sim.rules")
if _rules is None or hasattr(_rules, "AnyRule"):
    _bind_exports()

__all__ = ["LoadedScenario", "Prepared", "Scenario", "load_scenario", "prepare", "resolved_yaml"]
