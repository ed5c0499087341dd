"""The classroom's levers: a few policy choices in plain words, applied to any preset by rule kind.

Every lever's neutral position leaves the preset as written, so a class first sees the preset's own
story and then what one change does. A lever position becomes `--set` overrides of the scenario
(`lever_overrides`), the same strings `sim run --set` takes, so the page can show the command that
reproduces what the class saw, and every value passes the scenario's own validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from sim.rules import OpenSourcePush
from sim.scenario.schema import Scenario

REACH_OPTIONS = {  # label -> export-control tiers added to the targets of chip controls
    "as in the scenario": (),
    "also all tier 3 countries": (3,),
    "tiers 2 and 3 (most of the world)": (2, 3),
}
# EU stance -> fields of a `regulation` rule on the EU bloc. EU members' privacy strictness is already
# at the top of the scale in the world data (GDPR), so "stricter" acts through audits of foreign models;
# an audit cost of 0.5 utility is of the order of a programme's localisation bonus (program.py).
EU_STANCES: dict[str, dict[str, Any] | None] = {
    "as in the scenario": None,
    "looser data protection": {"privacy_change": -0.3},
    "much looser data protection": {"privacy_change": -0.6},
    "audits of Chinese models": {"audit_cost": 0.5, "applies_to": {"origins": ["CN"]}},
    "audits of all non-EU models": {"audit_cost": 0.5, "applies_to": {"foreign_only": True}},
}
LEVER_RULE_PREFIX = "classroom-"  # ids of rules a lever adds, so they are easy to spot in outputs
EU_PRIVACY_RULE = f"{LEVER_RULE_PREFIX}eu-privacy"
OPEN_SOURCE_RULE = f"{LEVER_RULE_PREFIX}china-open-source-push"
EU_PRIVACY_SOURCES = ["D0.5", "D2.5", "D4.8"]  # EU caution on privacy; audits; bans over data transfer
OPEN_SOURCE_SOURCES = ["D4.3", "D4.4", "D4.11"]  # state-backed open source; Global South outreach


@dataclass(frozen=True)
class Lever:
    """One control on the page: its keyword, plain-words label, range and meaning."""

    name: str
    label: str
    kind: str  # SliderFloat, SliderInt or Select (Mesa's user-input types)
    default: Any
    unit: str
    meaning: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: tuple[str, ...] = ()

    def model_param(self) -> dict[str, Any]:
        """The lever as a Mesa SolaraViz `model_params` entry."""
        entry: dict[str, Any] = {"type": self.kind, "value": self.default, "label": self.label}
        if self.kind == "Select":
            entry["values"] = list(self.values)
        else:
            entry.update(min=self.min, max=self.max, step=self.step)
        return entry


LEVERS: tuple[Lever, ...] = (
    Lever(
        "export_strength",
        "Chip controls: strength ×",
        "SliderFloat",
        1.0,
        "multiple of each chip control's strength (capped at complete denial)",
        "0 lifts every chip export control; 2 doubles how binding each one is (D4.3, D4.6)",
        min=0.0,
        max=2.0,
        step=0.1,
    ),
    Lever(
        "export_reach",
        "Chip controls: reach",
        "Select",
        "as in the scenario",
        "export-control tiers added to the targets of every chip control",
        "widens the controls to tier 3 (arms-embargoed) or tiers 2 and 3 countries (D4.4, D4.9)",
        values=tuple(REACH_OPTIONS),
    ),
    Lever(
        "eu_privacy",
        "EU privacy stance",
        "Select",
        "as in the scenario",
        "a regulation rule on the EU bloc: privacy strictness change [index 0-1] or audit cost [utility]",
        "looser rules weigh data-transfer risk less and make bans rarer; audits make the covered "
        "foreign models costlier to use (D0.5, D2.5, D4.8)",
        values=tuple(EU_STANCES),
    ),
    Lever(
        "partners",
        "OpenAI partners: extra",
        "SliderInt",
        0,
        "countries added to each programme's target (announced deals happen anyway)",
        "how many countries the programme tries to sign up beyond the scenario's target (D1.4)",
        min=-10,
        max=30,
        step=1,
    ),
    Lever(
        "open_source_push",
        "China open-source push ×",
        "SliderFloat",
        1.0,
        "multiple of the push's state support and outreach; above 1 adds a push where there is none",
        "state support to open release and promotion of Chinese open models abroad (D4.3, D4.4, D4.11)",
        min=0.0,
        max=3.0,
        step=0.1,
    ),
    Lever(
        "tension",
        "US-China tension ±",
        "SliderFloat",
        0.0,
        "added to the tension level every quarter [0 calm - 1 open rivalry], kept within 0-1",
        "rivalry cuts joint research and the flow of methods between the blocs (D0.7, D3.5)",
        min=-0.5,
        max=0.5,
        step=0.05,
    ),
)


@dataclass(frozen=True)
class LeverSettings:
    """Positions of the levers; the defaults leave a preset as written."""

    export_strength: float = 1.0
    export_reach: str = "as in the scenario"
    eu_privacy: str = "as in the scenario"
    partners: int = 0
    open_source_push: float = 1.0
    tension: float = 0.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _set(path: str, value: Any) -> str:
    # JSON is YAML, so structured values (lists, mappings) pass through `--set` unchanged.
    return f"{path}={json.dumps(value)}"


def _clip(value: float, low: float, high: float) -> float:
    return round(min(max(value, low), high), 6)


def lever_overrides(scenario: Scenario, settings: LeverSettings) -> list[str]:
    """`--set` overrides that apply the lever positions to this scenario's rules, by rule kind."""
    out: list[str] = []
    if settings.export_reach not in REACH_OPTIONS:
        raise ValueError(f"unknown reach {settings.export_reach!r}; choose one of {', '.join(REACH_OPTIONS)}")
    if settings.eu_privacy not in EU_STANCES:
        raise ValueError(f"unknown EU stance {settings.eu_privacy!r}; choose one of {', '.join(EU_STANCES)}")
    added_tiers = REACH_OPTIONS[settings.export_reach]
    for rule_id, rule in scenario.rules.items():
        if rule.kind == "export_control" and "chips" in rule.restricts:
            if settings.export_strength != 1.0:
                out.append(_set(f"rules.{rule_id}.strength", _clip(rule.strength * settings.export_strength, 0, 1)))
            if added_tiers:
                tiers = sorted(set(rule.targets.tiers) | set(added_tiers))
                out.append(_set(f"rules.{rule_id}.targets.tiers", tiers))
        elif rule.kind == "program" and settings.partners:
            out.append(_set(f"rules.{rule_id}.target_partners", max(0, rule.target_partners + settings.partners)))
        elif rule.kind == "open_source_push" and rule.bloc == "CN" and settings.open_source_push != 1.0:
            out.extend(_scaled_push(f"rules.{rule_id}", rule, settings.open_source_push))
        elif rule.kind == "tension" and settings.tension:
            path = {q: _clip(v + settings.tension, 0, 1) for q, v in rule.path.items()}
            out.append(_set(f"rules.{rule_id}.path", path))
    if settings.tension:
        # Quarters no tension rule covers use the parameter, so shift it too.
        base = scenario.parameters.collaboration.tension
        out.append(_set("parameters.collaboration.tension", _clip(base + settings.tension, 0, 1)))
    has_push = any(r.kind == "open_source_push" and r.bloc == "CN" for r in scenario.rules.values())
    if not has_push and settings.open_source_push > 1.0:
        # Above 1 the lever adds (f - 1) times the rule kind's standard push, so it grows from nothing.
        standard = OpenSourcePush(kind="open_source_push", sources=OPEN_SOURCE_SOURCES, bloc="CN")
        scaled = _push_values(standard, settings.open_source_push - 1.0)
        push_rule = {"kind": "open_source_push", "sources": OPEN_SOURCE_SOURCES, "bloc": "CN", **scaled}
        push_rule["note"] = "added by the classroom lever 'China's open-source push'"
        out.append(_set(f"rules.{OPEN_SOURCE_RULE}", push_rule))
    stance = EU_STANCES[settings.eu_privacy]
    if stance:
        privacy_rule = {
            "kind": "regulation",
            "sources": EU_PRIVACY_SOURCES,
            "targets": {"blocs": ["EU"]},
            **stance,
            "note": f"added by the classroom lever 'EU privacy stance: {settings.eu_privacy}'",
        }
        out.append(_set(f"rules.{EU_PRIVACY_RULE}", privacy_rule))
    return out


def _push_values(rule: OpenSourcePush, factor: float) -> dict[str, float]:
    """The push's intensities times `factor`, kept within the fields' allowed ranges."""
    values = {}
    for name in ("open_support", "outreach_bonus", "norm_bonus"):
        meta = OpenSourcePush.model_fields[name].metadata
        high = min((m.le for m in meta if getattr(m, "le", None) is not None), default=float("inf"))
        low = max((m.ge for m in meta if getattr(m, "ge", None) is not None), default=float("-inf"))
        values[name] = _clip(getattr(rule, name) * factor, low, high)
    return values


def _scaled_push(prefix: str, rule: OpenSourcePush, factor: float) -> list[str]:
    return [_set(f"{prefix}.{name}", value) for name, value in _push_values(rule, factor).items()]


def lever_summary(settings: LeverSettings) -> str:
    """The levers moved from their neutral position, in words, like `Chip controls: strength × = 1.5`."""
    neutral = LeverSettings()
    moved = [
        f"{lever.label} = {getattr(settings, lever.name):g}"
        if not isinstance(getattr(settings, lever.name), str)
        else f"{lever.label}: {getattr(settings, lever.name)}"
        for lever in LEVERS
        if getattr(settings, lever.name) != getattr(neutral, lever.name)
    ]
    return "; ".join(moved) if moved else "all as in the scenario"
