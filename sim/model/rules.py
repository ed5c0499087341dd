"""The rules phase: reset the policy state, let each active rule write its effect, log starts and ends.

Effects are recomputed from the active rules every quarter, so an effect is lifted exactly when
its rule's window ends; rules act in the order they are written in the scenario.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.rules.base import Rule

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel


class RuleEngine:
    def __init__(self, model: GeopoliticsModel, rules: dict[str, Rule]) -> None:
        self.model = model
        self.rules = dict(rules)
        self.active: set[str] = set()

    def apply_rules(self) -> None:
        model = self.model
        model.policy.reset(model.params.collaboration.tension)
        now = {rule_id for rule_id, rule in self.rules.items() if rule.active(model.quarter)}
        for rule_id in self.rules:
            rule = self.rules[rule_id]
            if rule_id in now and rule_id not in self.active:
                model.log_event(rule_id, rule, f"{rule_id} starts: {rule.describe(model.world)}")
            elif rule_id in self.active and rule_id not in now:
                model.log_event(rule_id, rule, f"{rule_id} ends; its effects are lifted")
        self.active = now
        for rule_id, rule in self.rules.items():
            if rule_id in now:
                rule.apply(rule_id, model, model.policy)

    def act(self) -> None:
        """Country-phase behaviour of the active rules (offers, endogenous bans)."""
        for rule_id, rule in self.rules.items():
            if rule_id in self.active:
                rule.act(rule_id, self.model)
