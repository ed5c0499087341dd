"""What each actor may decide, and how a decision becomes a scenario rule from its quarter on.

Every decision is one of the model's own mechanisms, written as a rule (or a dated entry of a
preset's rule) that acts from the first quarter of the round it was made in, so the world before
that quarter is untouched (common random numbers, `sim.model.streams`):

| topic | decision | rule | claims |
|---|---|---|---|
| programme | join / decline a programme | a dated partner (`decision`) of the preset's `program` | D1.1-D1.8 |
| ban | ban an origin's or a family's models, for everyone or government use | a scripted `ban` | D4.8, D0.5 |
| privacy | stricter or looser data protection; audits of a bloc's models | a `regulation` | D0.5, D1.7, D2.5, D2.6 |
| capacity | invest in digital capacity | a `capacity_building` on the country | D0.8, D1.3, D4.5 |
| alliance | join an alliance of the preset | an `announced` member of the preset's `alliance` rule | D0.1, D0.4, D0.9 |
| release | a lab opens or closes its next releases | a `release_policy` | D4.4, D4.6 |

The sizes of the class's choices are the constants below (each with its unit and why), like the
classroom levers' (`sim.app.levers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from sim.blocs import BLOCS
from sim.classplay.actors import BLOC_WORDS, Actor
from sim.rules import AnyRule, Rule
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    from sim.classplay.worlds import WorldState
    from sim.world import World

PRIVACY_STEP = 0.2  # change of privacy strictness [0-1 index]: a fifth of the scale, about EU minus US (D0.5)
AUDIT_COST = 0.5  # utility lost on audited models: the classroom lever's audit (about a programme's localisation bonus)
CAPACITY_READINESS = 0.04  # digital readiness gained [index points/year]: twice the rule's default, a national plan
CAPACITY_COMPUTE = 0.0005  # AI compute added per year [share of 2025 world compute/year]: a few national data centres
RULE_PREFIX = "class-"  # ids of the rules decisions add, so they are easy to spot in outputs
KEEP = "keep"  # the option that changes nothing: the model's own rules continue

_RULE = TypeAdapter(AnyRule)


@dataclass(frozen=True)
class Option:
    """One decision an actor may take this round, in plain words, with the claims it encodes."""

    id: str  # what the page passes back, like `ban:origin=CN:all`
    topic: str  # programme, ban, privacy, capacity, alliance, release, keep: one choice per topic per round
    label: str  # plain words, like "Ban Chinese models for everyone"
    claims: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """A decision taken: who, as which actor, in which round, taking effect from which quarter."""

    round: int
    quarter: str  # the first quarter it acts in (the round's first quarter)
    student: str  # the student's name
    student_id: str
    actor: Actor
    option: Option
    time: float  # seconds since the epoch, when it was made

    def rule_id(self) -> str:
        """Id of the rule a new-rule decision adds: `class-r3-idn-ban-origin-cn-all`."""
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.option.id.lower())
        return f"{RULE_PREFIX}r{self.round}-{self.actor.code.lower()}-{slug}"[:64].rstrip("-")


def _ban_label(what: str, scope: str) -> str:
    return f"Ban {what} " + ("for everyone (firms and government)" if scope == "all" else "for government use")


def options_for(actor: Actor, scenario: Scenario, world: World, state: WorldState,
                taken: set[str]) -> list[Option]:
    """The decisions `actor` may take now, given the world so far (`state`) and the options it
    already took in earlier rounds (`taken`: a ban already in force is not offered again)."""
    options = [Option(KEEP, "keep", "Keep course: no new decision this round (the model's own rules continue)", ())]
    if actor.kind == "lab":
        current = state.lab_open.get(actor.code)
        for openness, words in (("open", "open weights"), ("closed", "closed models only")):
            now = " (as now)" if current is not None and current == (openness == "open") else ""
            options.append(Option(f"release:{openness}", "release",
                                  f"Release the next models as {words}{now}", ("D4.4", "D4.6")))
        return options
    code, bloc = actor.code, actor.bloc
    index = {c.iso3: i for i, c in enumerate(world.countries)}[code]
    labs = {lab.id: lab for lab in world.labs}
    lab_bloc = {lab.id: next(c.bloc for c in world.countries if c.iso3 == lab.country) for lab in world.labs}
    for rule_id, rule in scenario.rules.items():
        if not _still_acts(rule, state.quarter_ordinal):
            continue
        if rule.kind == "program" and lab_bloc[rule.sponsor] != bloc and rule.candidates.mask(world)[index]:
            if code in state.partners.get(rule_id, ()):
                continue
            sponsor = labs[rule.sponsor].name
            options.append(Option(f"programme:{rule_id}:accept", "programme",
                                  f"Join {sponsor}'s programme ({rule_id}): co-funded data centres, localised models",
                                  ("D1.1", "D1.4", "D1.5")))
            if code not in state.declined.get(rule_id, ()):
                options.append(Option(f"programme:{rule_id}:decline", "programme",
                                      f"Decline {sponsor}'s programme ({rule_id}) for good", ("D1.5", "D1.8")))
        elif rule.kind == "alliance" and code not in state.members.get(rule_id, ()):
            options.append(Option(f"alliance:{rule_id}:join", "alliance",
                                  f"Join the alliance {rule_id}: shared compute, common standards, "
                                  "trust in members' models",
                                  ("D0.1", "D0.4", "D0.9")))
    for origin in BLOCS:
        if origin in (bloc, "other"):
            continue
        for scope in ("all", "government"):
            options.append(Option(f"ban:origin={origin}:{scope}", "ban",
                                  _ban_label(f"{BLOC_WORDS[origin]} models", scope), ("D4.8", "D0.5")))
    for family in world.families:
        if family.origin != bloc:
            for scope in ("all", "government"):
                options.append(Option(f"ban:family={family.id}:{scope}", "ban",
                                      _ban_label(family.name, scope), ("D4.8", "D0.5")))
    options.append(Option("privacy:stricter", "privacy",
                          f"Stricter data protection (privacy strictness +{PRIVACY_STEP:g})", ("D0.5", "D1.7")))
    options.append(Option("privacy:looser", "privacy",
                          f"Looser data protection (privacy strictness -{PRIVACY_STEP:g})", ("D0.5", "D1.7")))
    for origin in BLOCS:
        if origin not in (bloc, "other"):
            options.append(Option(f"privacy:audit={origin}", "privacy",
                                  f"Require audits of {BLOC_WORDS[origin]} models", ("D2.5", "D2.6")))
    options.append(Option("capacity:invest", "capacity",
                          f"Invest in digital capacity (+{CAPACITY_READINESS:g} readiness and "
                          f"+{CAPACITY_COMPUTE:g} of world compute a year)", ("D0.8", "D1.3", "D4.5")))
    return [o for o in options if o.topic not in ("ban",) or o.id not in taken]


def _still_acts(rule: Rule, quarter: int) -> bool:
    """Whether a rule can still act at or after `quarter` (its window has not ended)."""
    from sim.quarters import parse_quarter

    return rule.until is None or parse_quarter(rule.until) >= quarter


def _new_rule(decision: Decision) -> dict[str, Any] | None:
    """The rule a decision adds (as a scenario would write it), or None for decisions that edit a
    preset's rule or change nothing."""
    actor, option = decision.actor, decision.option
    topic, _, rest = option.id.partition(":")
    common: dict[str, Any] = {"sources": list(option.claims), "from": decision.quarter,
                              "note": f"class play, round {decision.round}: {decision.student} as {actor.name}"}
    if topic == "release":
        return {"kind": "release_policy", "labs": [actor.code], "openness": rest, **common}
    targets = {"countries": [actor.code]}
    if topic == "ban":
        what, scope = rest.split(":")
        key, value = what.split("=")
        banned = {"origin": value} if key == "origin" else {"families": [value]}
        return {"kind": "ban", "targets": targets, **banned, "scope": scope, **common}
    if topic == "privacy":
        if rest.startswith("audit="):
            return {"kind": "regulation", "targets": targets, "audit_cost": AUDIT_COST,
                    "applies_to": {"origins": [rest.split("=")[1]], "foreign_only": True}, **common}
        step = PRIVACY_STEP if rest == "stricter" else -PRIVACY_STEP
        return {"kind": "regulation", "targets": targets, "privacy_change": step, **common}
    if topic == "capacity":
        return {"kind": "capacity_building", "targets": targets, "readiness_per_year": CAPACITY_READINESS,
                "compute_per_year": CAPACITY_COMPUTE, **common}
    return None


def rules_with(scenario: Scenario, decisions: list[Decision]) -> dict[str, dict[str, Any]]:
    """The rules the decisions add or change, as a scenario writes them (rule id -> fields): new
    rules for bans, regulation, capacity and release policy; the preset's programme and alliance
    rules with the decided partners and members appended. Applied in the order decided."""
    changed: dict[str, dict[str, Any]] = {}
    for decision in decisions:
        topic, _, rest = decision.option.id.partition(":")
        if topic in ("programme", "alliance"):
            rule_id, choice = rest.rsplit(":", 1)
            rule = changed.get(rule_id) or scenario.rules[rule_id].model_dump(mode="json", by_alias=True)
            if topic == "programme":
                rule["partners"] = [*rule["partners"], {"country": decision.actor.code, "from": decision.quarter,
                                                        "decision": choice}]
            else:
                rule["announced"] = [*rule["announced"], {"country": decision.actor.code, "from": decision.quarter}]
            changed[rule_id] = rule
        else:
            added = _new_rule(decision)
            if added is not None:
                changed[decision.rule_id()] = added
    return changed


def scenario_with(scenario: Scenario, decisions: list[Decision]) -> Scenario:
    """The scenario plus the decisions' rules, validated like any scenario's rules."""
    changed = rules_with(scenario, decisions)
    if not changed:
        return scenario
    rules = dict(scenario.rules)
    for rule_id, fields in changed.items():
        rules[rule_id] = _RULE.validate_python(fields)
    return scenario.model_copy(update={"rules": rules})
