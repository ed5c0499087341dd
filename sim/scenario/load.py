"""Read a scenario: YAML with marks -> `extends` chain -> `--set` overrides -> validated `Scenario`.

Every problem is reported with the file, line and column it comes from (a value inherited
through `extends` points into the parent file), all at once, as an `InputError`.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from sim.errors import InputError, Problem, did_you_mean, dotted, show_value
from sim.resources import builtin_scenarios, data_dir, find_builtin, is_bare_name, not_found, resolve_scenario
from sim.scenario.errors import Path as FieldPath
from sim.scenario.errors import model_at, problems_from
from sim.scenario.schema import Scenario
from sim.userfiles import file_problem, name_problem, shown_name
from sim.yamlio import Located, load_yaml_file, load_yaml_text

MAX_EXTENDS_DEPTH = 32


@dataclass
class SourceMap:
    """Where each value and key of a merged document came from: path -> (file, line, column)."""

    values: dict[FieldPath, tuple[str, int, int]] = field(default_factory=dict)
    keys: dict[FieldPath, tuple[str, int, int]] = field(default_factory=dict)
    default_file: str = "<scenario>"

    @classmethod
    def of(cls, located: Located) -> SourceMap:
        file = located.file
        return cls(
            {p: (file, *m) for p, m in located.value_marks.items()},
            {p: (file, *m) for p, m in located.key_marks.items()},
            file,
        )

    def overlay(self, other: SourceMap, under: FieldPath = ()) -> None:
        """Take `other`'s marks for everything below `under` (the child wins)."""
        for target, source in ((self.values, other.values), (self.keys, other.keys)):
            for path, mark in source.items():
                target[under + path] = mark

    def locate(self, path: FieldPath, at_key: bool = False) -> tuple[str, int, int]:
        probe = tuple(path)
        while True:
            if at_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if not probe:
                return (self.default_file, 1, 1)
            probe = probe[:-1]


@dataclass
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path
    files: list[Path]  # the scenario and every file it extends, child first
    data: dict[str, Any]  # the merged plain data that was validated
    sources: SourceMap

    def world_path(self, which: str) -> Path:
        """A world data file, relative to the scenario file that named it; the default, relative to the
        first scenario of the `extends` chain (so a scenario elsewhere that extends the baseline gets
        the baseline's data), and the built-in data when no such file is there (a scenario of one's
        own, saved anywhere, runs on the built-in world)."""
        value = getattr(self.scenario.world, which)
        key = ("world", which)
        named = key in self.sources.values
        if named:
            file = self.sources.values[key][0]
        elif self.files:
            file = str(self.files[-1])
        else:
            file = self.sources.default_file
        base = (
            Path(file).parent if file and not file.startswith("<") and not file.startswith("--") else Path()
        )
        # realpath, not Path.resolve: a link loop must reach the reader, which names it (resolve raises)
        path = Path(os.path.realpath(base / value)) if not os.path.isabs(value) else Path(value)
        if not named and not path.is_file():
            return data_dir() / Path(value).name
        return path


def merge(parent: Any, child: Any) -> Any:
    """Maps merge key by key (rules by id), lists and scalars are replaced by the child's.

    A child's `null` for a key the parent has removes it (`rules: {some-rule: null}` drops an
    inherited rule; a field set to null goes back to its default).
    """
    if isinstance(parent, dict) and isinstance(child, dict):
        merged = dict(parent)
        for key, value in child.items():
            if value is None and key in parent:
                del merged[key]
                continue
            replace_rule = (
                isinstance(value, dict)
                and isinstance(parent.get(key), dict)
                and "kind" in value
                and value.get("kind") != parent[key].get("kind")
            )
            merged[key] = value if replace_rule or key not in parent else merge(parent[key], value)
        return merged
    return copy.deepcopy(child)


def _shown(path: Path, like: str) -> str:
    """How a file is named in messages: relative when `like` (the name the user gave) is relative and the
    file lies below the current folder, else absolute (a built-in scenario inside the installed package)."""
    if os.path.isabs(like):
        return str(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, or with a NUL
        return False


def _missing_parent(reference: str, base: Path, asking: Path) -> str:
    """Why `extends: reference` (relative to the folder `base`) names nothing: where it was looked for,
    and the nearest name there or among the built-in scenarios."""
    folder = Path(os.path.abspath(base / reference)).parent
    # Compare names without the shared `.yaml`, which makes every file look alike.
    # realpath: a link loop among the files there must not stop the hint (Path.resolve raises on one)
    nearby = {p.stem: p.name for p in folder.glob("*.y*ml") if Path(os.path.realpath(p)) != asking} \
        if _is_dir(folder) else {}
    close = difflib.get_close_matches(Path(reference).stem, list(nearby), n=1, cutoff=0.6)
    message = f"no such file '{shown_name(reference)}' (looked in {shown_name(str(folder))})"
    if not is_bare_name(reference):
        return message + (f" (did you mean '{nearby[close[0]]}'?)" if close else "")
    names = list(builtin_scenarios())
    if not close:
        builtin = difflib.get_close_matches(reference.removesuffix(".yaml"), names, n=1, cutoff=0.6)
        hint = f" (did you mean '{builtin[0]}'?)" if builtin else ""
    else:
        hint = f" (did you mean '{nearby[close[0]]}'?)"
    return f"{message}, and no built-in scenario of that name (built-in: {', '.join(names)}){hint}"


def _read_chain(path: Path, shown: str, chain: list[Path]) -> tuple[dict[str, Any], SourceMap, list[Path]]:
    """Read `shown` (the file `path`) and the files it extends, merged; `chain` holds the files asking."""
    located = load_yaml_file(shown)
    data = located.data
    if not isinstance(data, dict):
        kind = {list: "list", str: "text", int: "number", float: "number", bool: "true/false value"}.get(
            type(data), type(data).__name__
        )
        raise InputError.single(
            located.file,
            f"a scenario is a mapping of fields (name:, time:, rules: ...), not a {kind}",
            *located.value_mark(()),
        )
    sources = SourceMap.of(located)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, sources, [path]
    file, line, column = sources.locate(("extends",))

    def problem(message: str) -> InputError:
        return InputError([Problem(file, line, column, "extends", message)])

    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise problem(f"expected a file name or a built-in scenario name, got {show_value(parent_ref)}")
    reason = name_problem(parent_ref)
    if reason:
        raise problem(f"'{shown_name(parent_ref)}': {reason}")
    # Relative to the asking file as the user named it (a link to a folder of scenarios stays that folder).
    folder = Path(os.path.abspath(shown)).parent
    found = resolve_scenario(parent_ref, folder)
    if found is None:
        raise problem(_missing_parent(parent_ref, folder, path))
    reason = file_problem(found)
    if reason:  # a pipe, device or link loop: refused here, at the line that names it, before opening it
        raise problem(f"'{shown_name(parent_ref)}': {reason}")
    parent = found.resolve()
    if parent in chain or parent == path:
        cycle = " -> ".join(str(p.name) for p in [*chain, path, parent])
        raise problem(f"circular extends: {cycle}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise problem(f"extends chain longer than {MAX_EXTENDS_DEPTH}")
    try:
        base, base_sources, files = _read_chain(parent, _shown(Path(os.path.abspath(found)), shown), [*chain, path])
    except InputError as error:
        # The asking file's `extends` line first, then what is wrong with the target, each located.
        below = "\n".join(p.format() for p in error.problems)
        raise problem(f"{parent_ref!r} cannot be extended:\n{below}") from None
    merged = merge(base, data)
    merged.pop("extends", None)
    base_sources.values.pop(("extends",), None)
    base_sources.overlay(sources)
    return merged, base_sources, [path, *files]


def parse_override(text: str, index: int) -> tuple[FieldPath, Any]:
    """`rules.us-chips.strength=0.9` -> (("rules", "us-chips", "strength"), 0.9), value read as YAML."""
    where = f"--set #{index}"
    if "=" not in text:
        raise InputError.single("--set", f"{text!r} is not PATH=VALUE, like population.firms=10000", index)
    key, _, raw = text.partition("=")
    parts = tuple(key.strip().split("."))
    if not key.strip() or any(not p for p in parts):
        raise InputError.single("--set", f"{key!r} is not a dotted path like rules.us-chips.strength", index)
    try:
        located = load_yaml_text(raw if raw.strip() else "''", where)
    except InputError as error:  # located in the value: report as column of the whole --set text
        offset = len(key) + 1
        raise InputError(
            Problem("--set", index, offset + p.column if p.line == 1 else offset + 1, key.strip(), p.message)
            for p in error.problems
        ) from None
    return parts, located.data


def _schema_field(model: type[BaseModel] | None, key: str) -> FieldInfo | None:
    fields = model.model_fields if model is not None else {}
    return next((f for name, f in fields.items() if key in (name, f.alias)), None)


def _schema_default(data: dict[str, Any], path: FieldPath) -> Any:
    """What the schema fills in at `path` when the file leaves it out, as plain data ({} if nothing).

    So `--set parameters.firms.sectors.health.share=0.2` changes one sector and keeps the others.
    """
    field = _schema_field(model_at(Scenario, path[:-1], data), str(path[-1]))
    if field is None or field.is_required():
        return {}
    return to_jsonable_python(field.get_default(call_default_factory=True), by_alias=True)


def list_index(part: object, size: int) -> int | None:
    """`part` as an index into a list of `size` items (ASCII digits only: `²` and `٣` are digits to
    str.isdigit but not to int, and 5,000 digits are more than int() reads), or None."""
    text = str(part)
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) >= size:
        return None
    return int(text)


def field_at(scenario: Scenario, parts: tuple[str, ...]) -> tuple[Any, str | None]:
    """The base scenario's value at a dotted path, or a message saying what is wrong with the path.

    (Here, next to `--set`'s machinery, so reading a value does not import the experiments package.)"""
    current: Any = scenario
    for i, part in enumerate(parts):
        where = dotted(parts[:i]) or "the scenario"
        if isinstance(current, BaseModel):
            fields = type(current).model_fields
            names = {(f.alias or n): n for n, f in fields.items()} | {n: n for n in fields}
            if part not in names:
                shown = [f.alias or n for n, f in fields.items()]
                hint = did_you_mean(part, shown)
                return None, f"{where} has no field {part!r}{hint}{'' if hint else '; fields: ' + ', '.join(shown)}"
            current = getattr(current, names[part])
        elif isinstance(current, dict):
            if part not in current:
                what = "rule" if parts[:i] == ("rules",) else "entry"
                hint = did_you_mean(part, list(current))
                listing = "" if hint else f"; {what} ids: {', '.join(current) or 'none'}"
                return None, f"{where} has no {what} {part!r}{hint}{listing}"
            current = current[part]
        elif isinstance(current, list | tuple) and list_index(part, len(current)) is not None:
            current = current[int(part)]
        else:
            return None, f"{where} is a single value ({show_value(current)}); it has no {part!r} inside"
    if isinstance(current, BaseModel | dict):
        return None, f"{dotted(parts)} is a whole section; name one value inside it"
    return current, None


def _set_path(data: dict[str, Any], path: FieldPath, value: Any, index: int) -> None:
    target: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(target, dict):
            if part not in target:
                target[part] = _schema_default(data, path[: i + 1])
            target = target[part]
        elif isinstance(target, list) and list_index(part, len(target)) is not None:
            target = target[int(part)]
        else:
            raise InputError.single(
                "--set", f"cannot set {dotted(path)}: {dotted(path[: i + 1])} is not a mapping", index
            )
    if isinstance(target, list) and list_index(path[-1], len(target)) is not None:
        target[int(path[-1])] = value
    elif isinstance(target, dict):
        target[path[-1]] = value
    elif isinstance(target, list):
        where = dotted(path[:-1])
        items = f"a list of {len(target)}: its items are {where}.0 to {where}.{len(target) - 1}" if target else \
            "an empty list"
        raise InputError.single("--set", f"cannot set {dotted(path)}: {where} is {items}", index)
    else:
        raise InputError.single("--set", f"cannot set {dotted(path)}: its parent is not a mapping", index)


def _check_override_targets(data: dict[str, Any], path: FieldPath, index: int) -> None:
    # A --set that creates a new rule id is almost always a typo of an existing one.
    if path and path[0] == "rules" and len(path) >= 3:
        rules = data.get("rules") or {}
        if path[1] not in rules:
            raise InputError.single(
                "--set",
                f"rules.{path[1]}: no rule with id {path[1]!r}{did_you_mean(str(path[1]), list(rules))}; "
                f"rules are {', '.join(rules) or 'none'}",
                index,
            )


def _validate(data: dict[str, Any], sources: SourceMap) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise InputError(problems_from(error, Scenario, data, sources.locate)) from None


class InvalidScenarioError(InputError):
    """A scenario that was read and merged but did not validate: its problems, and what was read, so
    checks that need no valid scenario (the ids rules name, sim.scenario.collect) can still run."""

    def __init__(self, error: InputError, data: dict[str, Any], sources: SourceMap, path: Path, files: list[Path]):
        super().__init__(error.problems)
        self.data, self.sources, self.path, self.files = data, sources, path, files


SECTORS = ("parameters", "firms", "sectors")


def _rebalance_sectors(data: dict[str, Any], given: dict[FieldPath, int]) -> None:
    """`--set parameters.firms.sectors.health.share=0.12`: health gets 12% and the sectors no --set names are
    scaled to fill the rest, in the same proportions (shares must sum to 1; the user changed one of them)."""
    named = {p[3] for p in given if len(p) == 5 and p[:3] == SECTORS and p[4] == "share"}
    sectors: Any = data
    for part in SECTORS:
        sectors = sectors.get(part) if isinstance(sectors, dict) else None
    if not named or not isinstance(sectors, dict):
        return
    raw = {name: s.get("share") if isinstance(s, dict) else None for name, s in sectors.items()}
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in raw.values()):
        return  # validation says what is wrong with them
    shares: dict[str, float] = {name: float(v) for name, v in raw.items() if isinstance(v, int | float)}
    fixed = sum(shares[name] for name in named if name in shares)
    rest = sum(v for name, v in shares.items() if name not in named)
    if rest <= 0 or fixed > 1:
        return  # nothing to scale, or the --set shares alone exceed 1: validation reports the sum
    for name in shares:
        if name not in named:
            sectors[name]["share"] = round(shares[name] * (1 - fixed) / rest, 12)  # 0.1173..., not 0.11733333333333332


def _components(path: str) -> list[str]:
    return [part for part in re.split(r"[.\[\]]", path) if part]


def _shared(path: FieldPath, parts: list[str]) -> int:
    """How many leading components a --set path and a problem's path have in common."""
    count = 0
    for a, b in zip(path, parts, strict=False):
        if str(a) != b:
            break
        count += 1
    return count


def _validate_overridden(data: dict[str, Any], before: dict[str, Any], sources: SourceMap,
                         given: dict[FieldPath, int]) -> Scenario:
    """Validate after `--set`: a problem the file alone does not have is the doing of a --set, and is
    reported there (`--set:N:COLUMN`), at the one whose path shares most with it (the last when none does)."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        problems = problems_from(error, Scenario, data, sources.locate)
    if given:
        try:
            Scenario.model_validate(before)
            old: set[tuple[str, str]] = set()
        except ValidationError as error:
            old = {(p.path, p.message) for p in problems_from(error, Scenario, before, sources.locate)}
        moved = []
        for problem in problems:
            if problem.file != "--set" and (problem.path, problem.message) not in old:
                parts = _components(problem.path)
                path = max(given, key=lambda p: (_shared(p, parts), given[p]))
                _, line, column = sources.values[path]
                problem = Problem("--set", line, column, problem.path, problem.message)
            moved.append(problem)
        problems = moved
    raise InputError(problems)


def _field_value(scenario: Scenario, path: FieldPath) -> Any:
    """The validated value at a dotted path (fields by name or alias, mapping keys), or None."""
    current: Any = scenario
    for part in path:
        if isinstance(current, BaseModel):
            field = next((n for n, f in type(current).model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return None
            current = getattr(current, field)
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return None
    return current


def _check_ranges(scenario: Scenario, data: dict[str, Any], sources: SourceMap) -> None:
    """Both ends of each uncertainty's range must be values its field accepts (sweeps will use them)."""
    problems = []
    for name, uncertainty in scenario.uncertainties.items():
        path = tuple(uncertainty.path.split("."))
        for i, end in enumerate(uncertainty.range):
            trial = copy.deepcopy(data)
            _set_path(trial, path, end, 0)
            try:
                Scenario.model_validate(trial)
            except ValidationError as error:
                file, line, column = sources.locate(("uncertainties", name, "range", i))
                for problem in problems_from(error, Scenario, trial, sources.locate):
                    message = f"{end:g} cannot be used at {problem.path}: {problem.message}"
                    problems.append(Problem(file, line, column, f"uncertainties.{name}.range", message))
    if problems:
        raise InputError(problems)


def _apply_uncertainties(scenario: Scenario, data: dict[str, Any], sources: SourceMap,
                         given: Collection[FieldPath]) -> dict:
    """A plain run uses each uncertainty's default at its path (unless `--set` gave that path).

    Problems with a default are reported at the uncertainty's `default`, not at the field it sets.
    """
    merged = copy.deepcopy(data)
    problems = []
    for name, uncertainty in scenario.uncertainties.items():
        path = tuple(uncertainty.path.split("."))
        current = _field_value(scenario, path)
        if not isinstance(current, int | float) or isinstance(current, bool):
            file, line, column = sources.locate(("uncertainties", name, "path"))
            problems.append(
                Problem(
                    file,
                    line,
                    column,
                    f"uncertainties.{name}.path",
                    f"{uncertainty.path!r} does not name a numeric scenario field",
                )
            )
            continue
        if path in given:
            continue
        _set_path(merged, path, uncertainty.default, 0)
        sources.values[path] = sources.locate(("uncertainties", name, "default"))
        sources.keys[path] = sources.values[path]
    if problems:
        raise InputError(problems)
    return merged


def load_scenario(
    path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()
) -> LoadedScenario:
    """Read, merge, override and validate a scenario file; raise InputError listing every problem.

    `path` is a file, or the name of a built-in scenario (`baseline`) when no such file exists.
    """
    shown = os.fspath(path)
    # `sim run baseline`: a built-in scenario, unless a file of that name exists (a folder does not count)
    reason = name_problem(shown)
    if reason:
        raise InputError.single(shown_name(shown), reason)
    if is_bare_name(shown) and (not os.path.lexists(shown) or os.path.isdir(shown)):
        builtin = find_builtin(shown)
        if builtin is not None:
            shown = _shown(builtin, shown)
        elif not os.path.lexists(shown):
            raise InputError.single(shown, not_found(shown))
        # else a folder of that name and no built-in: reading it says it is a folder
    reason = file_problem(shown)
    if reason:  # before Path.resolve, which raises on a link loop, and before opening a pipe
        raise InputError.single(shown_name(shown), reason)
    resolved = Path(shown).resolve()
    data, sources, files = _read_chain(resolved, shown, [])
    before = copy.deepcopy(data) if overrides else data
    given: dict[FieldPath, int] = {}  # path -> the index of the --set that gave it
    for index, text in enumerate(overrides, start=1):
        field_path, value = parse_override(text, index)
        if field_path[0] == "extends":  # the chain is read before any --set: changing it now would be ignored
            raise InputError.single("--set", "extends cannot be overridden: the files a scenario extends are read "
                                    "before --set applies; write `extends:` in a scenario file of your own", index,
                                    path="extends")
        _check_override_targets(data, field_path, index)
        _set_path(data, field_path, value, index)
        column = text.index("=") + 2
        sources.values[field_path] = ("--set", index, column)
        sources.keys[field_path] = ("--set", index, 1)
        given[field_path] = index
    _rebalance_sectors(data, given)
    try:
        scenario = _validate_overridden(data, before, sources, given)
    except InputError as error:
        raise InvalidScenarioError(error, data, sources, resolved, files) from None
    if scenario.uncertainties:
        data = _apply_uncertainties(scenario, data, sources, given)
        scenario = _validate(data, sources)
        _check_ranges(scenario, data, sources)
    return LoadedScenario(scenario, resolved, files, data, sources)


def resolved_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (after extends, defaults and --set)."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude={"extends"})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
