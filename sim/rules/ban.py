"""Bans on model families for privacy and data-transfer reasons (D4.8, D0.5, D0.6)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.blocs import Bloc
from sim.fields import FamilyId
from sim.rules.base import Reference, Rule, RuleEffect, Targets

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class Ban(Rule):
    """Countries ban families (by id or by origin) for government use or for everyone.

    A ban on a family covers all its release lines: its closed API and its open weights, frozen
    or current (D4.8: the DeepSeek bans covered the app and the model alike).

    `scripted`: the listed countries ban from `from` to `until` (the DeepSeek restrictions of
    2025, D4.8). `endogenous`: each quarter every target country compares
    privacy strictness (with regulation) x distrust of the origin with `threshold` and raises the ban when it is
    above, lifting it when it falls below `threshold - hysteresis` (D0.5: the EU is cautious about
    privacy and data security). Distrust is 1 minus the country's technological alignment with the origin
    (model state, see `sim.model.alignment`), plus
    trust lost to incidents (incident and alliance rules' extra risk, D0.6, D4.10).
    """

    kind: Literal["ban"] = "ban"
    targets: Targets = Field(description="countries that ban (scripted) or may ban (endogenous)")
    families: list[FamilyId] = Field(default_factory=list, description="banned families by id")
    origin: Bloc | None = Field(
        None, description="ban every family of this origin bloc"
    )
    scope: Literal["all", "government"] = Field(
        "all", description="all: no firm or government may use it; government: government use only"
    )
    mode: Literal["scripted", "endogenous"] = Field(
        "scripted", description="scripted: in force in the window; endogenous: raised by threshold"
    )
    threshold: float = Field(
        0.35, ge=0, le=2, description="endogenous: privacy strictness x distrust above which a ban is raised"
    )
    hysteresis: float = Field(0.05, ge=0, le=1, description="endogenous: margin below threshold to lift")

    @model_validator(mode="after")
    def _names_families(self) -> Ban:
        if not self.families and self.origin is None:
            raise ValueError("bans nothing: give families (ids) or an origin bloc")
        return self

    def references(self) -> Iterator[Reference]:
        yield from self.targets.references(("targets",))
        for i, family in enumerate(self.families):
            yield ("families", i), "family", family

    def family_mask(self, model: GeopoliticsModel) -> np.ndarray:
        """The release lines banned: every line of the listed families and of the origin's."""
        mask = np.isin(model.family_ids[model.line_family], self.families)
        if self.origin is not None:
            mask |= model.line_origin == self.origin
        return mask

    def effect(self, rule_id: str, model: GeopoliticsModel) -> BanEffect:
        return BanEffect(self, rule_id, model)

    def acts_in_countries_phase(self) -> bool:
        return self.mode == "endogenous"

    def banned_text(self, model: GeopoliticsModel) -> str:
        """What the rule bans, in words (the families by name and the origin)."""
        names = [model.family_names[i] for i in np.flatnonzero(np.isin(model.family_ids, self.families))]
        if self.origin is not None:
            names.append(f"{self.origin}-origin models")
        return ", ".join(names)

    def describe(self, world: World) -> str:
        fam_names = {f.id: f.name for f in world.families}
        what = [fam_names.get(f, f) for f in self.families]
        if self.origin:
            what.append(f"every {self.origin}-origin model")
        scope = "for government use" if self.scope == "government" else "for all users"
        verb = "bans" if int(self.targets.mask(world).sum()) == 1 else "ban"
        if self.mode == "scripted":
            return f"{self.targets.describe(world)} {verb} {', '.join(what)} {scope}"
        return (
            f"{self.targets.describe(world)} {verb} {', '.join(what)} {scope} whenever privacy strictness x "
            f"distrust exceeds {self.threshold:g} (lifted below {self.threshold - self.hysteresis:g})"
        )


class BanEffect(RuleEffect[Ban]):
    """Bans in force: the targets (scripted), or the countries that raised the ban and have not
    lifted it (endogenous, `banning`: this rule's state)."""

    def __init__(self, rule: Ban, rule_id: str, model: GeopoliticsModel) -> None:
        super().__init__(rule, rule_id, model)
        self.banning = np.zeros(model.n_countries, bool)  # endogenous: countries whose ban is in force
        self._lines: tuple[tuple[tuple[str, ...], str | None], np.ndarray] | None = None

    def _line_mask(self, model: GeopoliticsModel) -> np.ndarray:
        """`Ban.family_mask`, computed again only when the rule's families or origin change: a model's
        release lines are fixed, and the string comparison costs more than the rest of the ban."""
        key = (tuple(self.rule.families), self.rule.origin)
        if self._lines is None or self._lines[0] != key:
            mask = self.rule.family_mask(model)
            mask.setflags(write=False)  # shared by every quarter: nobody may change it in place
            self._lines = (key, mask)
        return self._lines[1]

    def _banning(self, model: GeopoliticsModel) -> np.ndarray:
        return self.rule.targets.mask(model.world) if self.rule.mode == "scripted" else self.banning

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """The countries banning: fixed for a scripted ban, this rule's state for an endogenous one."""
        return () if self.rule.mode == "scripted" else self.banning.tobytes()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        self._write(policy, self._banning(model), self._line_mask(model))

    def _write(self, policy: PolicyState, countries: np.ndarray, families: np.ndarray) -> None:
        # Both masks are boolean: their outer "and" marks the same cells as indexing with np.ix_, cheaper.
        cells = countries[:, None] & families[None, :]
        np.logical_or(policy.banned_government, cells, out=policy.banned_government)
        if self.rule.scope == "all":
            np.logical_or(policy.banned_all, cells, out=policy.banned_all)

    def act(self, model: GeopoliticsModel) -> None:
        """Endogenous bans: raise where privacy x distrust exceeds the threshold, lift below it less
        the hysteresis (D0.5, D4.8)."""
        rule = self.rule
        if rule.mode != "endogenous":
            return
        banning = self.banning
        families = self._line_mask(model)
        if not families.any():
            return
        incidents = model.policy.extra_risk[:, families]  # trust lost to incidents and data sharing
        distrust = (1.0 - model.line_alignment[:, families] + model.distrust[:, families] + incidents).max(axis=1)
        score = model.privacy() * distrust
        candidates = rule.targets.mask(model.world)
        raise_ = candidates & ~banning & (score > rule.threshold)
        lift = banning & (score < rule.threshold - rule.hysteresis)
        what = rule.banned_text(model) if raise_.any() or lift.any() else ""  # words only when logged
        for c in np.flatnonzero(raise_):
            self.log(model, f"{model.country_names[c]} bans {what} ({rule.scope} use)", model.country_ids[c])
        for c in np.flatnonzero(lift):
            self.log(model, f"{model.country_names[c]} lifts its ban on {what}", model.country_ids[c])
        banning |= raise_
        banning &= ~lift
        self._write(model.policy, banning, families)
