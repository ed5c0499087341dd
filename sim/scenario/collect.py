"""Every problem of a scenario in one pass, even where one mistake would hide the others.

Two things used to hide problems until an earlier one was fixed:
- a misspelt `kind` (`bann`): pydantic cannot tell which rule it is, so it checks none of its fields.
  Here the rule is checked as the kind it most likely is: the nearest kind by spelling (then every
  problem is reported), else the kind whose fields it uses (then only the values of those fields),
  else the fields every kind has (`sources`, `from`, `until`, `note`).
- countries, families and labs named by rules were checked against the world data only once the
  whole scenario validated. `reference_problems` checks them on the data as written, so an unknown
  country is reported in the same run as a bad date elsewhere.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim.errors import InputError, Problem, dotted
from sim.fields import CountryCode, FamilyId, LabId
from sim.rules import RULE_KINDS, Rule
from sim.scenario.load import InvalidScenarioError, LoadedScenario
from sim.scenario.suggest import reference_hint

if typing.TYPE_CHECKING:
    from sim.scenario.errors import Locate, Path
    from sim.world import World

REFERENCE_TYPES = ((CountryCode, "country"), (FamilyId, "family"), (LabId, "lab"))
COMMON_KEYS = ("sources", "from", "until", "note")


def _keys(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def rule_kind(rule: dict[str, Any]) -> tuple[type[Rule], str]:
    """The kind a rule is checked as, and how it was chosen: "named" (its `kind`), "near" (the nearest
    spelling of a misspelt kind), "fields" (the only kind that has most of its fields) or "common"."""
    kind = rule.get("kind")
    if isinstance(kind, str) and kind in RULE_KINDS:
        return RULE_KINDS[kind], "named"
    near = difflib.get_close_matches(str(kind), list(RULE_KINDS), n=1, cutoff=0.6) if kind is not None else []
    if near:
        return RULE_KINDS[near[0]], "near"
    own = set(rule) - {"kind", *COMMON_KEYS}
    scores = {name: len(own & _keys(model)) for name, model in RULE_KINDS.items()}
    best = max(scores.values(), default=0)
    winners = [name for name, score in scores.items() if score == best]
    if best > 0 and len(winners) == 1:
        return RULE_KINDS[winners[0]], "fields"
    return next(iter(RULE_KINDS.values())), "common"


def _not_about_the_kind(item: ErrorDetails) -> bool:
    return item["type"] not in ("missing", "extra_forbidden")


def kind_problems(rule_path: Path, data: Any, locate: Locate) -> list[Problem]:
    """Problems of the rule at `rule_path` whose `kind` is misspelt or missing, checked as the kind it
    most likely is (the problem with `kind` itself is reported by the caller)."""
    from sim.scenario.errors import problems_from  # errors.py calls this module

    rule = data
    for part in rule_path:
        rule = rule.get(part) if isinstance(rule, dict) else None
    if not isinstance(rule, dict):
        return []
    model, how = rule_kind(rule)
    kind = model.model_fields["kind"].default
    if how == "near":
        trial, keep = {**rule, "kind": kind}, None
    else:  # unsure of the kind: only the values of fields it has
        fields = _keys(model) if how == "fields" else set(COMMON_KEYS)
        trial = {key: value for key, value in rule.items() if key in fields} | {"kind": kind}
        keep = _not_about_the_kind
    try:
        model.model_validate(trial)
    except ValidationError as error:
        found = problems_from(error, model, trial, lambda p, at_key: locate((*rule_path, *p), at_key), keep)
    else:
        return []
    note = f" (checked as a `{kind}` rule, the kind whose fields it has)" if how == "fields" else ""
    prefix = dotted(rule_path)
    return [
        Problem(p.file, p.line, p.column, f"{prefix}.{p.path}" if p.path else prefix, p.message + note)
        for p in found
    ]


def _annotations(model: type[BaseModel]) -> dict[str, Any]:
    """Field annotations with their `Annotated` aliases intact (pydantic folds them into the field)."""
    try:
        return typing.get_type_hints(model, include_extras=True)
    except (NameError, TypeError):  # an annotation only a type checker can resolve
        return {name: field.annotation for name, field in model.model_fields.items()}


def references_in(tp: Any, value: Any, path: Path = ()) -> Iterator[tuple[Path, str, str]]:
    """(path, "country"|"family"|"lab", id) of every id named in `value`, read as type `tp`, as written:
    the same ids a validated rule's `references()` gives, found by the fields' types."""
    for alias, what in REFERENCE_TYPES:
        if tp == alias:
            if isinstance(value, str):
                yield path, what, value
            return
    origin = get_origin(tp)
    if origin is Annotated:
        yield from references_in(get_args(tp)[0], value, path)
    elif origin in (Union, types.UnionType):
        for member in get_args(tp):
            yield from references_in(member, value, path)
    elif origin in (list, tuple) and isinstance(value, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        for i, item in enumerate(value):
            if args:
                yield from references_in(args[0] if len(args) == 1 or i >= len(args) else args[i], item, (*path, i))
    elif origin is dict and isinstance(value, dict):
        for key, item in value.items():
            yield from references_in(get_args(tp)[1], item, (*path, key))
    elif isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(value, dict):
        hints = _annotations(tp)
        for name, field in tp.model_fields.items():
            key = field.alias or name
            if key in value:
                yield from references_in(hints.get(name, field.annotation), value[key], (*path, key))


def reference_problems(
    data: dict[str, Any], world: World, locate: Callable[[Path], tuple[str, int, int]], reported: set[str]
) -> list[Problem]:
    """Unknown countries, families and labs named by the rules of `data` as written (not validated);
    ids at a path in `reported` (already wrong in form) are left out."""
    known = {"country": set(world.iso3s), "family": set(world.family_ids), "lab": set(world.lab_ids)}
    listing = {"country": "", "family": ", ".join(world.family_ids), "lab": ", ".join(world.lab_ids)}
    rules = data.get("rules")
    problems = []
    for rule_id, rule in (rules.items() if isinstance(rules, dict) else ()):
        if not isinstance(rule, dict):
            continue
        model, how = rule_kind(rule)
        if how == "common":
            continue
        for inner, what, value in references_in(model, rule):
            path = ("rules", rule_id, *inner)
            if value in known[what] or dotted(path) in reported:
                continue
            file, line, column = locate(path)
            more = f"; known {what} ids: {listing[what]}" if listing[what] else ""
            problems.append(Problem(file, line, column, dotted(path),
                                    f"unknown {what} {value!r}{reference_hint(what, value, world)}{more}"))
    return problems


def also_wrong(error: InvalidScenarioError) -> list[Problem]:
    """What else is wrong with a scenario that did not validate: unknown ids its rules name, or the
    problems of the world data files it names (checked on what was written)."""
    from sim.scenario.preparation import load_world_for  # preparation calls this module
    from sim.scenario.schema import Scenario, WorldFiles

    named = error.data.get("world")
    try:
        files = WorldFiles.model_validate(named if isinstance(named, dict) else {})
    except ValidationError:  # reported among the scenario's problems
        return []
    # Only `world` of the scenario is read to find the world files; the rest stays unvalidated data.
    unchecked = Scenario.model_construct(schema_version=1, name=str(error.data.get("name") or ""), world=files)
    loaded = LoadedScenario(unchecked, error.path, error.files, error.data, error.sources)
    try:
        world = load_world_for(loaded)
    except InputError as world_error:
        return list(world_error.problems)
    reported = {p.path for p in error.problems}
    return reference_problems(error.data, world, error.sources.locate, reported)
