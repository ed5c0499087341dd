"""Turn pydantic validation errors into located, plain-worded problems with "did you mean"."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim.errors import InputError, Problem, did_you_mean, dotted, show_value
from sim.fields import FieldError
from sim.yamlio import Located

Model = TypeVar("Model", bound=BaseModel)

Path = tuple[str | int, ...]
Locate = Callable[[Path, bool], tuple[str, int, int]]  # (path, at_key) -> (file, line, column)


def _unwrap(tp: Any, value: Any) -> Any:
    """Strip Annotated and Optional; pick the member of a discriminated union by `kind`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            kind = value.get("kind") if isinstance(value, dict) else None
            for member in members:
                field = getattr(member, "model_fields", {}).get("kind")
                if field is not None and field.default == kind:
                    return member
            return None
        return tp


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def model_at(root: type[BaseModel], path: Path, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path` in `data`, if there is one."""
    tp: Any = root
    value = data
    for part in path:
        tp = _unwrap(tp, value)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field(tp, str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        else:
            return None
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            value = None
    tp = _unwrap(tp, value)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _strip_tags(loc: tuple[Any, ...], data: Any) -> Path:
    """Drop the discriminator tags pydantic inserts into locations (`rules.x.ban.scope`)."""
    path: list[Any] = []
    value = data
    for part in loc:
        if isinstance(value, dict) and "kind" in value and part == value.get("kind") and part not in value:
            continue
        # pydantic's function-validator labels, unless the user's key holds a '[' (`--set '[=1'` crashed)
        if isinstance(part, str) and "[" in part and not (isinstance(value, dict) and part in value):
            continue
        path.append(part)
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            value = None
    return tuple(path)


def _message(error: ErrorDetails, path: Path, root: type[BaseModel], data: Any) -> tuple[str, bool]:
    """(message, at_key) for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        key = path[-1]
        model = model_at(root, path[:-1], data)
        allowed = _keys(model) if model else []
        hint = did_you_mean(str(key), allowed)
        listing = f"; allowed here: {', '.join(allowed)}" if allowed and not hint else ""
        return f"unknown field {key!r}{hint}{listing}", True
    if kind == "missing":
        return f"required field {path[-1]!r} is missing", False
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        return (
            f"unknown rule kind {ctx.get('tag')!r}{did_you_mean(ctx.get('tag'), tags)}; "
            f"kinds are {', '.join(tags)}",
            False,
        )
    if kind == "union_tag_not_found":
        return "a rule needs a `kind`, like `kind: ban`", True
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return (
            f"{show_value(value)} is not allowed; expected {expected}{did_you_mean(value, options)}",
            False,
        )
    if kind == "finite_number":
        return f"{show_value(value)} is not a finite number (NaN and infinity are not allowed)", False
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if "a-z0-9" in pattern and "families" in path:
            from sim.scenario.suggest import family_hint

            return f"{show_value(value)} is not a family id (lowercase, like deepseek){family_hint(value)}", False
        if "a-z0-9" in pattern:
            return (
                f"{show_value(value)} is not a valid id: use lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit",
                False,
            )
        if "A-Z]{3}" in pattern:
            from sim.scenario.suggest import country_hint

            hint = country_hint(value)
            return f"{show_value(value)} is not an ISO3 country code (three capital letters, like ITA){hint}", False
        if "D\\d" in pattern:
            return f"{show_value(value)} is not a claim id; claim ids look like D4.8", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):  # not "instance of TimeWindow"
        got = "an empty value" if value is None else show_value(value)
        return f"expected a mapping (`key: value` lines or {{...}}), got {got}", False
    message = str(error.get("msg", "invalid value")).replace(" after validation", "")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        return message, False
    if message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, ") :]
    message = message[0].lower() + message[1:] if message else message
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message}, got {show_value(value)}", False
    return f"{show_value(value)} is not allowed: {message}", False


def problems_from(
    error: ValidationError,
    root: type[BaseModel],
    data: Any,
    locate: Locate,
    keep: Callable[[ErrorDetails], bool] | None = None,
) -> list[Problem]:
    """One located Problem per pydantic error (those `keep` accepts, if given).

    A rule whose `kind` is misspelt or missing is also checked as the kind it most likely is
    (sim.scenario.collect), so its other mistakes show in the same run.
    """
    problems = []
    for item in error.errors(include_url=False):
        if keep is not None and not keep(item):
            continue
        path = _strip_tags(tuple(item["loc"]), data)
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):  # a model validator naming the field at fault
            path = (*path, *cause.path)
        if item["type"] in ("union_tag_invalid", "union_tag_not_found") and path[:1] == ("rules",) and len(path) == 2:
            from sim.scenario.collect import kind_problems  # it validates with this module

            problems.extend(kind_problems(path, data, locate))
        if item["type"] == "union_tag_invalid" and not isinstance(cause, FieldError):
            path = (*path, "kind")  # point at the bad kind, not at the rule's first line
        message, at_key = _message(item, path, root, data)
        at_key = at_key or item["loc"][-1:] == ("[key]",)  # a bad mapping key (rule id): point at it
        file, line, column = locate(path, at_key)
        problems.append(Problem(file, line, column, dotted(path), message))
    return problems


def validate_located(located: Located, schema: type[Model]) -> Model:
    """`schema` validated from a YAML file's data; every problem at its FILE:LINE:COLUMN (InputError)."""
    try:
        return schema.model_validate(located.data)
    except ValidationError as error:
        raise InputError(problems_from(error, schema, located.data, located.locate)) from None

