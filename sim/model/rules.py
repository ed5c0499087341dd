"""The rules at work: each rule's effect object, the rules phase and the rules' country behaviour.

At model start every rule of the scenario builds its effect object (`Rule.effect`), which holds the
rule's own state (partners joined, bans in force, incident draws...). Effects are recomputed from
the active rules every quarter, so an effect is lifted exactly when its rule's window ends; rules
act in the order they are written in the scenario.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sim.quarters import parse_quarter
from sim.rules.base import Rule, RuleEffect

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


class RuleEngine:
    """The scenario's rules (validated configs) and their effects in one model."""

    def __init__(self, model: GeopoliticsModel, rules: Mapping[str, Rule]) -> None:
        self.model = model
        self.rules = dict(rules)
        self.effects: dict[str, RuleEffect[Rule]] = {
            rule_id: rule.effect(rule_id, model) for rule_id, rule in self.rules.items()
        }
        self.active: set[str] = set()
        # Each rule's window as quarter ordinals, parsed once: the rules phase asks every quarter.
        self.windows: dict[str, tuple[float, float]] = {
            rule_id: (
                parse_quarter(rule.from_) if rule.from_ is not None else -math.inf,
                parse_quarter(rule.until) if rule.until is not None else math.inf,
            )
            for rule_id, rule in self.rules.items()
        }

    def apply_rules(self) -> None:
        """Reset the policy state, log rules that start or end, and let each active rule write its effect."""
        model = self.model
        model.policy.reset(model.params.collaboration.tension)
        quarter = model.quarter
        now = {rule_id for rule_id, (first, last) in self.windows.items() if first <= quarter <= last}
        for rule_id, rule in self.rules.items():
            if rule_id in now and rule_id not in self.active:
                model.log_event(rule_id, rule, f"{rule_id} starts: {rule.describe(model.world)}")
            elif rule_id in self.active and rule_id not in now:
                model.log_event(rule_id, rule, f"{rule_id} ends; its effects are lifted")
        self.active = now
        for rule_id, effect in self.effects.items():
            if rule_id in now:
                effect.apply(model, model.policy)

    def act(self) -> None:
        """Country-phase behaviour of the active rules (offers, alliance joins, endogenous bans)."""
        for rule_id, effect in self.effects.items():
            if rule_id in self.active:
                effect.act(self.model)


def apply(model: GeopoliticsModel) -> None:
    """The rules phase (see `RuleEngine.apply_rules`)."""
    model.engine.apply_rules()


def act(model: GeopoliticsModel) -> None:
    """The rules' behaviour in the countries phase (see `RuleEngine.act`)."""
    model.engine.act()
