"""Generate the files derived from the schema and the data, so they are never written twice.

- `docs/scenarios.md`: the scenario format reference, every field of `sim.scenario.schema.Scenario`
  and of each rule kind in `sim.rules.RULE_KINDS` (dotted name, type, default, unit, allowed values,
  meaning), read from the pydantic models' `model_fields`;
- `scenarios/scenario.schema.json`: the JSON Schema editors use (`sim.scenario.jsonschema`);
- `docs/data.md`: the world data columns (`sim.world.world_columns_markdown`);
- `docs/rules.md`: every rule kind with its claims, mechanism, fields and an example (`tools.docs.rules`);
- `docs/ODD.md`: the model in ODD form (`tools.docs.odd`: docs/ODD.template.md with generated tables).

Run `python -m tools.docs` (or `make docs`) after changing the schema; tests fail when these are stale.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, StringConstraints, WithJsonSchema
from pydantic.fields import FieldInfo

from sim.fields import claims, documents
from sim.quarters import QUARTER_PATTERN, YEAR_MAX, YEAR_MIN
from sim.rules import RULE_KINDS, Rule, Targets
from sim.scenario.schema import Scenario, Uncertainty
from tools.docs import REPO_ROOT

SCENARIOS_MD = Path("docs") / "scenarios.md"
SCHEMA_JSON = Path("scenarios") / "scenario.schema.json"
DATA_MD = Path("docs") / "data.md"

# Constrained strings that have a name in the domain, recognised by their pattern.
_NAMED_PATTERNS = {
    QUARTER_PATTERN: "quarter",
    r"^D\d+\.\d+$": "claim id",
    r"^[A-Z]{3}$": "country (ISO3 code)",
    r"^[a-z][a-z0-9_-]*$": "family id",
    r"^[a-z0-9][a-z0-9_-]{0,63}$": "id",
}
# How a mapping's keys are written in dotted names (`rules.<id>.strength`).
_KEY_NAMES = {"rules": "<id>", "uncertainties": "<name>", "sectors": "<sector>", "path": "<quarter>"}

EXAMPLE = """\
# yaml-language-server: $schema=scenario.schema.json
schema_version: 1
name: eu-privacy-bans
description: EU countries ban Chinese-origin models for government use once privacy worries pass a threshold.
time: {start: 2024Q1, end: 2028Q4}
seed: 7
population: {firms: 2000}
parameters:
  adoption: {imitation: 0.45}
uncertainties:
  risk-weight:
    path: parameters.choice.risk_weight
    default: 1.2
    range: [0.6, 2.0]
    meaning: how much firms weigh data-transfer and security risk
rules:
  us-chips-tier3:
    kind: export_control
    sources: [D4.4, D4.6]
    note: US chip controls on Tier 3 countries
    issuer: US
    targets: {tiers: [3]}
    restricts: [chips]
    strength: 0.7
  eu-government-bans:
    kind: ban
    sources: [D4.8, D0.5]
    targets: {blocs: [EU]}
    origin: CN
    scope: government
    mode: endogenous
    threshold: 0.35
    from: 2025Q1
  us-china-tension:
    kind: tension
    sources: [D0.7]
    path: {2024Q1: 0.5, 2026Q1: 0.7}
"""

CHILD_EXAMPLE = """\
# yaml-language-server: $schema=scenario.schema.json
schema_version: 1
name: stricter-chips
extends: baseline
description: H200 licences are refused in December 2025, and Korea never suspends DeepSeek.
rules:
  us-h200-case-by-case:
    strength: 0.9                  # only this field changes; the rest of the rule is inherited
  korea-suspends-deepseek: null    # drops the inherited rule
  eu-bans-deepseek:                # a rule the parent does not have
    kind: ban
    sources: [D4.8, D0.5]
    targets: {blocs: [EU]}
    families: [deepseek]
    scope: government
    from: 2026Q1
"""


# --- reading the pydantic models -------------------------------------------------------------------


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """Strip `Annotated`, returning the bare type and the metadata it carried."""
    metadata: list[Any] = []
    while get_origin(tp) is Annotated:
        metadata.extend(tp.__metadata__)
        tp = get_args(tp)[0]
    return tp, metadata


def _named(metadata: list[Any]) -> str | None:
    for item in metadata:
        pattern = getattr(item, "pattern", None) if isinstance(item, StringConstraints | FieldInfo) else None
        if isinstance(item, WithJsonSchema) and item.json_schema:
            pattern = item.json_schema.get("pattern")
        if pattern in _NAMED_PATTERNS:
            return _NAMED_PATTERNS[pattern]
    return None


def _model(tp: Any) -> type[BaseModel] | None:
    tp, _ = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _is_rule_union(tp: Any) -> bool:
    tp, _ = _unwrap(tp)
    members = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else ()
    return bool(members) and all(isinstance(m, type) and issubclass(m, Rule) for m in members)


def _key(name: str, field: FieldInfo) -> str:
    return field.alias or name


def _type_text(tp: Any, metadata: list[Any] | None = None, links: dict[type, str] | None = None) -> str:
    """The type as a reader would say it: `list of claim id`, `number`, `one of chips, api_access`."""
    links = links or {}
    tp, inner = _unwrap(tp)
    named = _named([*(metadata or []), *inner])
    if named:
        return named
    origin, args = get_origin(tp), get_args(tp)
    if _is_rule_union(tp):
        return "[rule](#rules)"
    if origin in (Union, types.UnionType):
        text = " or ".join(_type_text(a, links=links) for a in args if a is not type(None))
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return "`" + "` \\| `".join(str(a) for a in args) + "`"
    if origin is list:
        return f"list of {_type_text(args[0], links=links)}"
    if origin is tuple:
        return "[" + ", ".join(_type_text(a, links=links) for a in args) + "]"
    if origin is dict:
        return f"mapping of {_type_text(args[0], links=links)} to {_type_text(args[1], links=links)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[mapping](#{links[tp]})" if tp in links else "mapping"
    return {bool: "true/false", int: "integer", float: "number", str: "text"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _number(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return f"{value:g}"


def _allowed(field: FieldInfo) -> str:
    """Bounds and sizes from the field's constraints: `0 to 1`, `> 0`, `at least 1 item`."""
    low = high = ""
    parts = []
    for item in field.metadata:
        if isinstance(item, at.Ge):
            low = f"≥ {_number(item.ge)}"
        elif isinstance(item, at.Gt):
            low = f"> {_number(item.gt)}"
        elif isinstance(item, at.Le):
            high = f"≤ {_number(item.le)}"
        elif isinstance(item, at.Lt):
            high = f"< {_number(item.lt)}"
        elif isinstance(item, WithJsonSchema) and (item.json_schema or {}).get("pattern") == QUARTER_PATTERN:
            parts.append(f"{YEAR_MIN}Q1 to {YEAR_MAX}Q4")
        elif isinstance(item, at.MinLen) and item.min_length:
            unit = "entry" if get_origin(field.annotation) is dict else "item"
            parts.append(f"at least {item.min_length} {unit}" + ("" if item.min_length == 1 else "s"))
    if low.startswith("≥") and high.startswith("≤"):
        parts.insert(0, f"{low[2:]} to {high[2:]}")
    else:
        parts[:0] = [p for p in (low, high) if p]
    return ", ".join(parts)


def _flow(value: Any) -> str:
    """A value as it would be written in YAML flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}" if value.is_integer() else f"{value:g}"
    if isinstance(value, str):
        return value if value else "''"
    if isinstance(value, BaseModel):
        return _flow(value.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default_text(field: FieldInfo, links: dict[type, str]) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel) and not value.model_dump(exclude_defaults=True):
        return "its fields' defaults"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "see below"
    return f"`{_flow(value)}`"


def _unit_and_meaning(field: FieldInfo) -> tuple[str, str]:
    meaning = " ".join((field.description or "").split())
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    unit = str(extra.get("unit", ""))
    tail = re.search(r"\s*\[([^\[\]]+)\]$", meaning)
    example = tail and meaning[: tail.start()].endswith((" like", " e.g."))  # `like [D4.8]` is no unit
    if tail and not example and (not unit or tail.group(1) == unit):
        unit = unit or tail.group(1)
        meaning = meaning[: tail.start()]
    return unit, meaning


# --- the document ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") if "`" not in text else text.replace("\n", " ")


def _table(model: type[BaseModel], prefix: str, links: dict[type, str], skip: tuple[str, ...] = ()) -> str:
    lines = ["| field | type | default | unit | allowed | meaning |", "|---|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        key = _key(name, field)
        if key in skip:
            continue
        dotted = f"{prefix}.{key}" if prefix else key
        type_text = _type_text(field.annotation, field.metadata, links)
        unit, meaning = _unit_and_meaning(field)
        row = [f"`{dotted}`", type_text, _default_text(field, links), unit, _allowed(field), meaning]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _anchor(prefix: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")


def _nested(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted prefix, model) for every mapping below `model` that gets its own section, depth first."""
    for name, field in model.model_fields.items():
        key = _key(name, field)
        tp, _ = _unwrap(field.annotation)
        origin, args = get_origin(tp), get_args(tp)
        base = f"{prefix}.{key}" if prefix else key
        if origin is dict and _model(args[1]):
            child, sub = f"{base}.{_KEY_NAMES.get(key, '<key>')}", _model(args[1])
        elif origin is list and _model(args[0]):
            child, sub = f"{base}[]", _model(args[0])
        elif _model(tp):
            child, sub = base, _model(tp)
        else:
            continue
        if sub is Targets or sub is None:
            continue
        yield child, sub
        yield from _nested(sub, child)


def _section(
    level: int,
    prefix: str,
    model: type[BaseModel],
    links: dict[type, str],
    title: str = "",
    skip: tuple[str, ...] = (),
    lead: str = "",
) -> str:
    heading = "#" * level + " " + (title or f"`{prefix}`")
    intro = f"{_doc(model)}\n\n{lead}" if lead else _doc(model)
    return f'<a id="{links[model]}"></a>\n\n{heading}\n\n{intro}\n\n{_table(model, prefix, links, skip)}\n'


def _default_entries(model: type[BaseModel], prefix: str) -> str:
    """Tables of the default entries of mappings of models (the default sectors)."""
    out = []
    for name, field in model.model_fields.items():
        value = field.get_default(call_default_factory=True) if not field.is_required() else None
        if not (isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values())):
            continue
        columns = list(next(iter(value.values())).model_dump(by_alias=True))
        out.append(
            f"Default `{prefix}.{_key(name, field)}`. A file that gives this mapping replaces it whole (so "
            "list every entry); `--set` changes single entries and keeps the others.\n"
        )
        out.append("| key | " + " | ".join(columns) + " |")
        out.append("|---|" + "---|" * len(columns))
        for key, item in value.items():
            dumped = item.model_dump(by_alias=True)
            out.append(f"| `{key}` | " + " | ".join(_flow(dumped[c]) for c in columns) + " |")
        out.append("")
    return "\n".join(out)


def _claims_table() -> str:
    lines = ["| id | claim |", "|---|---|"]
    docs = documents()
    current = ""
    for claim_id, text in claims().items():
        document = claim_id.split(".")[0]
        if document != current and document in docs:
            current = document
            lines.append(f"| **{document}** | *{docs[document]['subject']}* |")
        lines.append(f"| `{claim_id}` | {_cell(text)} |")
    return "\n".join(lines)


INTRO = """\
# Scenario format reference

<!-- Generated by `python -m tools.docs` from the schema in sim/scenario/ and sim/rules/; do not edit. -->

A scenario is one YAML file: the simulated period, the population, behavioural parameters, the
uncertainties sweeps may vary and, above all, the **rules** in force (export controls, bans,
programmes, tension...), each tied to the claims of the source documents it encodes. This page
lists every field the format accepts; it is generated from the same schema that validates scenarios,
so it cannot drift from what `sim` accepts.

Check a file with `sim validate FILE.yaml`. Every problem is printed on its own line as
`FILE:LINE:COLUMN: field.path: message`, with the allowed values and a "did you mean" for near
names; all problems of a file are reported at once, in line order, and the exit code is 2. A rule
whose `kind` is misspelt still has its other fields checked (as the nearest kind), and the countries,
families and labs rules name are checked even when other fields are wrong. Countries are suggested
by ISO code, name or common code (`GER`, `UK`, `China`, `United States`; see docs/faults.md).

## How a scenario file is laid out

- The first line `# yaml-language-server: $schema=scenario.schema.json` lets editors (VS Code with
  the YAML extension, and others using the YAML language server) check the file and complete field
  names as you type. The schema is `scenarios/scenario.schema.json` (generated; also printed by
  `sim schema`); in a subfolder write `$schema=../scenario.schema.json`.
- `schema_version: 1` and a `name` (lowercase id, used for the output folder `runs/<name>/`) are
  required; every other section has defaults: leave out what you do not change.
- Top-level sections: `time`, `seed`, `population`, `world`, `parameters` (grouped by mechanism),
  `uncertainties` and `rules`. Rules are a mapping keyed by **rule id** (lowercase letters,
  digits, `-` and `_`), so children and `--set` can address them.
- Unknown keys are errors, anywhere: a typo is never silently ignored. NaN and infinities are refused.
- The YAML is read with a safe loader: plain data only (no `!!python` or other tags, no merge keys
  `<<`, no duplicate keys), one document, UTF-8.

## A complete small example

Saved anywhere, say as `eu-privacy-bans.yaml`; it uses the world data files in a `data/` folder beside
it if there is one, else the built-in world data:

```yaml
{example}```

## Quarters

One step of the model is one quarter. Quarters are written `2025Q1` (year, `Q`, 1 to 4). A date
such as `2025-02-04` is also accepted and read as the quarter that contains it (`2025Q1`).
`time.end` is inclusive, and so are a rule's `from` and `until`; a rule without `from` acts from
the start of the run, one without `until` until its end.

<a id="extends"></a>

## `extends`: building on another scenario

`extends: baseline` takes everything from the parent and applies this file on top. The parent is a
file (relative to this one, like `extends: my-base.yaml`) or, when no such file exists, a built-in
scenario by name (`baseline`, `decoupling`, ... with or without `.yaml`), so a scenario saved anywhere
can build on the built-in ones. Chains are allowed (a parent may extend another); a cycle is an error.
A parent that cannot be read (missing, not YAML, not a scenario, in a cycle) is reported at this
file's `extends` line first, then at the parent's own line.

- **Mappings merge key by key**, the child winning. A rule with the same id in the child changes
  only the fields it names: `rules: {{us-h200-case-by-case: {{strength: 0.9}}}}` keeps the parent
  rule's kind, targets, window and sources. The same holds for `parameters`, `time`, `targets`...
- **Lists and single values are replaced** whole: a child's `sources: [D4.4]` or
  `targets: {{countries: [FRA]}}` replaces the parent's list. Because `targets` is a mapping,
  its other keys stay: a parent rule with `targets: {{tiers: [3]}}` and a child with
  `targets: {{countries: [FRA]}}` targets both; add `tiers: []` to drop the tiers.
- A rule whose `kind` differs from the parent's rule of the same id replaces it whole.
- `null` removes what the parent set: `rules: {{korea-suspends-deepseek: null}}` drops that rule;
  a field set to `null` goes back to its default.
- A problem in an inherited value is reported in the parent file, at its line.

```yaml
{child}```

## `--set`: overriding a field from the command line

`sim run`, `sim validate` and `sim explain` take `--set PATH=VALUE` (repeatable, applied in
order after `extends`): `PATH` is a dotted path into the scenario, `VALUE` is read as YAML.

```
sim run baseline --set population.firms=100000
sim run baseline --set rules.us-h200-case-by-case.strength=0.9
sim run baseline --set 'rules.italy-blocks-deepseek.targets={{countries: [ITA, FRA]}}'
```

A path into `rules` must name an existing rule id (with a "did you mean" otherwise). Levels that
the file leaves out are filled with their defaults first, so
`--set parameters.firms.sectors.health.share=0.12` changes one sector and keeps the others. Sector
shares must sum to 1: the sectors no `--set` names are scaled to fill what the named ones leave, in
their proportions (health 12% leaves 88% for the other five, which had 90%: each shrinks by 88/90;
`sim explain` shows the shares used). `extends` cannot be set (the chain is read before `--set`
applies). Problems are reported as `--set:N:COLUMN: ...`, N being the position of that `--set`;
that includes a problem the `--set` causes elsewhere (`--set time.start=2031Q1` makes `time.end`
come before it: reported at that `--set`, not at the file's `end:` line).

Values are strict: `true`/`false` is not a number (`firms: true` is refused, not read as 1);
quarters are written in ASCII digits with years 2000 to 2199; behavioural parameters without a
bound of their own are at most 100 (larger weights only make choices certain, and overflow).

## Uncertainties

`uncertainties` names the parameters whose true value is unknown: each has the dotted `path` of a
numeric field it sets, a `default` used by a plain run (it replaces the value written at `path`,
unless `--set` gives that path), and the `range` sweeps explore. The default must lie in the range,
and both ends of the range must be values the field accepts.

## Claim ids

Every rule lists in `sources` the claims it encodes, by id: `D4.8` is claim 8 of document D4 in
`shared/sources/claims.md` (a digest of the five source documents). `sim explain` prints each
rule with the text of its claims; the run report shows them on the rules timeline. Unknown ids are
errors. The claims:

{claims}

## Reference
"""


def render_scenarios_md() -> str:
    """The whole docs/scenarios.md page."""
    links: dict[type, str] = {Scenario: "top-level", Targets: "targets", Rule: "rules"}
    nested = list(_nested(Scenario, ""))
    for prefix, model in nested:
        links.setdefault(model, _anchor(prefix))
    kinds = list(RULE_KINDS.items())
    kind_nested: dict[str, list[tuple[str, type[BaseModel]]]] = {}
    for kind, cls in kinds:
        links[cls] = f"kind-{_anchor(kind)}"
        kind_nested[kind] = list(_nested(cls, "rules.<id>"))
        for prefix, model in kind_nested[kind]:
            links.setdefault(model, f"{_anchor(kind)}-{_anchor(prefix.removeprefix('rules.<id>.'))}")

    parts = [INTRO.format(claims=_claims_table(), child=CHILD_EXAMPLE, example=EXAMPLE)]
    parts.append(_section(3, "", Scenario, links, title="Top level"))
    for prefix, model in nested:
        if prefix.startswith("rules"):
            continue
        level = 3 if prefix.count(".") == 0 or model is Uncertainty else 4
        parts.append(_section(level, prefix, model, links))
        defaults = _default_entries(model, prefix)
        if defaults:
            parts.append(defaults)

    base_keys = tuple(_key(n, f) for n, f in Rule.model_fields.items())
    parts.append(
        '<a id="rules"></a>\n\n## Rules\n\n'
        "`rules` maps a rule id to a rule. Every rule has the fields below; its `kind` picks one of "
        f"the kinds that follow ({', '.join(f'[`{k}`](#{links[c]})' for k, c in kinds)}), each adding "
        "its own fields. A rule acts in the quarters from `from` to `until`; its effect is recomputed "
        "every quarter, so it lifts by itself when the window ends.\n\n"
        + _table(Rule, "rules.<id>", links).replace(
            "| `rules.<id>.kind` | text | required |  |  |  |",
            "| `rules.<id>.kind` | text | required |  | a kind below | what the rule does |",
        )
        + "\n"
    )
    for kind, cls in kinds:
        title = f"Rule kind `{kind}`"
        lead = f"Written `kind: {kind}`; these fields come in addition to [those of every rule](#rules)."
        parts.append(_section(3, "rules.<id>", cls, links, title=title, skip=base_keys, lead=lead))
        for prefix, model in kind_nested[kind]:
            parts.append(_section(4, prefix, model, links))
    parts.append(_section(3, "targets", Targets, links, title="Targets (`targets`, `candidates`)"))
    text = "\n".join(parts)
    return textwrap.dedent(text).rstrip() + "\n"


def generated_files() -> dict[Path, str]:
    """Relative path -> content of every generated file."""
    from sim.scenario.jsonschema import schema_text
    from sim.world import world_columns_markdown
    from tools.docs.odd import ODD_MD, render_odd
    from tools.docs.rules import RULES_MD, render_rules_md

    return {
        SCENARIOS_MD: render_scenarios_md(),
        SCHEMA_JSON: schema_text(),
        DATA_MD: world_columns_markdown(),
        RULES_MD: render_rules_md(),  # every rule kind: claims, mechanism, fields, an example
        ODD_MD: render_odd(),  # the ODD description: prose in docs/ODD.template.md, tables from the code
    }


def main() -> None:
    """Write every generated file into the checkout (docs/*.md, scenarios/scenario.schema.json)."""
    for relative, text in generated_files().items():
        path = REPO_ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old != text:
            path.write_text(text, encoding="utf-8", newline="\n")
        print(f"{'wrote' if old != text else 'unchanged'}: {relative}")


if __name__ == "__main__":
    main()
