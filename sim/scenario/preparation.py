"""From a scenario file to everything a run needs: the validated scenario and its world data.

Checks that cross the two (rules naming countries, families and labs that exist) are made
here, each reported at the rule field that names the unknown thing, with "did you mean".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from sim.errors import InputError, Problem, dotted
from sim.scenario.errors import problems_from
from sim.scenario.limits import check_scenario_size
from sim.scenario.load import InvalidScenarioError, LoadedScenario, load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.suggest import reference_hint
from sim.userfiles import file_problem
from sim.world import World, WorldFiles, parse_world
from sim.yamlio import load_yaml_file


@dataclass
class Prepared:
    """A scenario ready to run."""

    loaded: LoadedScenario
    world: World

    @property
    def scenario(self) -> Scenario:
        return self.loaded.scenario


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def load_world_for(loaded: LoadedScenario) -> World:
    """Read and validate the world files the scenario names (relative to the scenario file)."""
    located = {}
    for which in ("countries", "families"):
        path = loaded.world_path(which)
        reason = file_problem(path)
        if reason:  # at the line naming the file, before anything opens it (a pipe would block)
            file, line, column = loaded.sources.locate(("world", which))
            shown = f"no such data file: {path}" if reason == "no such file" else f"data file {path} {reason}"
            raise InputError([Problem(file, line, column, f"world.{which}", shown)])
        located[which] = load_yaml_file(_shown(path))
    try:
        return parse_world(located["countries"].data, located["families"].data)
    except ValidationError as error:
        problems = []
        for problem in problems_from(
            error,
            WorldFiles,
            {k: v.data for k, v in located.items()},
            lambda path, at_key: _locate(located, path, at_key),
        ):
            problems.append(problem)
        raise InputError(problems) from None


def _locate(located: dict, path: tuple, at_key: bool) -> tuple[str, int, int]:
    if not path or path[0] not in located:
        return (located["countries"].file, 1, 1)
    doc = located[path[0]]
    line, column = doc.mark(path[1:]) if at_key else doc.value_mark(path[1:])
    return doc.file, line, column


def check_references(loaded: LoadedScenario, world: World) -> None:
    """Every country, family and lab a rule names must exist in the world data."""
    known = {"country": world.iso3s, "family": world.family_ids, "lab": world.lab_ids}
    problems = []
    for rule_id, rule in loaded.scenario.rules.items():
        for inner, what, value in rule.references():
            if value in known[what]:
                continue
            path = ("rules", rule_id, *inner)
            file, line, column = loaded.sources.locate(path)
            listing = "" if what == "country" else f"; known {what} ids: {', '.join(known[what])}"
            problems.append(
                Problem(
                    file,
                    line,
                    column,
                    dotted(path),
                    f"unknown {what} {value!r}{reference_hint(what, value, world)}{listing}",
                )
            )
    if problems:
        raise InputError(problems)


def prepare(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Prepared:
    """Load, validate and check a scenario and its world data; InputError lists every problem."""
    try:
        loaded = load_scenario(path, overrides)
    except InvalidScenarioError as error:  # report the ids its rules name too, not in a later round
        from sim.scenario.collect import also_wrong

        raise InputError([*error.problems, *also_wrong(error)]) from None
    world = load_world_for(loaded)
    check_references(loaded, world)
    check_scenario_size(loaded, world)  # before anything sized by the scenario is allocated
    return Prepared(loaded, world)
