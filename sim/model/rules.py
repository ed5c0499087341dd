"""The rules at work: each rule's effect object, the rules phase and the rules' country behaviour.

At model start every rule of the scenario builds its effect object (`Rule.effect`), which holds the
rule's own state (partners joined, bans in force, incident draws...). Effects are recomputed from
the active rules every quarter, so an effect is lifted exactly when its rule's window ends; rules
act in the order they are written in the scenario.

Recomputing gives the same arrays as last quarter when the same rules are active and none of their
states changed (most quarters of a run: rules start and stop, partners join, now and then). So the
engine keeps a copy of the arrays it computed with each effect's `state_key`, and while the active
rules and every key are the same it hands out fresh copies of them and applies only the effects that
set scalars (tension moves every quarter); an effect without a key (incidents draw, pooled network
effects follow the users) makes every quarter a full recomputation. The rules' configs and the
model's structure (world, lines, parameters) are fixed during a run.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim.rules.base import Rule, RuleEffect, quarter_ordinal

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
                quarter_ordinal(rule.from_) if rule.from_ is not None else -math.inf,
                quarter_ordinal(rule.until) if rule.until is not None else math.inf,
            )
            for rule_id, rule in self.rules.items()
        }
        # The active rules (in scenario order) and the quarters over which they stay the same.
        self._now: tuple[str, ...] = ()
        self._now_from, self._now_until = math.inf, -math.inf
        self._applied_ids: tuple[str, ...] | None = None
        self._applied: list[RuleEffect[Rule]] = []  # the active effects (of _applied_ids), in scenario order
        self._scalar_effects: list[RuleEffect[Rule]] = []
        # What the last full recomputation saw (active rules, every effect's key) and its arrays.
        self._key: tuple[tuple[str, ...], tuple[Hashable, ...]] | None = None
        self._arrays: tuple[np.ndarray, ...] = ()

    def _active_at(self, quarter: int) -> tuple[str, ...]:
        """Ids of the rules active in `quarter`, in scenario order (computed again only when a window
        opens or closes: between those quarters the answer is the same)."""
        if not self._now_from <= quarter <= self._now_until:
            self._now = tuple(
                rule_id for rule_id, (first, last) in self.windows.items() if first <= quarter <= last
            )
            # the nearest quarters before and after at which some window opens or closes
            edges = [e for first, last in self.windows.values() for e in (first, last + 1)]
            self._now_from = max((e for e in edges if e <= quarter), default=-math.inf)
            self._now_until = min((e for e in edges if e > quarter), default=math.inf) - 1
        return self._now

    def apply_rules(self) -> None:
        """Reset the policy state, log rules that start or end, and let each active rule write its effect
        (the arrays reused while nothing they depend on changed: see the module docstring)."""
        model = self.model
        policy = model.policy
        now = self._active_at(model.quarter)
        if set(now) != self.active:
            started = set(now)
            for rule_id, rule in self.rules.items():
                if rule_id in started and rule_id not in self.active:
                    model.log_event(rule_id, rule, f"{rule_id} starts: {rule.describe(model.world)}")
                elif rule_id in self.active and rule_id not in started:
                    model.log_event(rule_id, rule, f"{rule_id} ends; its effects are lifted")
            self.active = started
        if now != self._applied_ids:
            self._applied_ids = now
            self._applied = [self.effects[rule_id] for rule_id in now]
            self._scalar_effects = [effect for effect in self._applied if effect.scalars_only]
        keys = tuple(effect.state_key(model) for effect in self._applied if not effect.scalars_only)
        key = None if None in keys else (now, keys)
        if key is not None and key == self._key:
            policy.restore_arrays(self._arrays)
            policy.reset_scalars(model.params.collaboration.tension)
            for effect in self._scalar_effects:
                effect.apply(model, policy)
            return
        policy.reset(model.params.collaboration.tension)
        for effect in self._applied:
            effect.apply(model, policy)
        self._key = key
        self._arrays = policy.arrays() if key is not None else ()

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
