"""Export controls on chips, model weights and API access (D4.3, D4.4, D4.6; BIS rules 2022-2025)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.blocs import Bloc
from sim.fields import Share
from sim.model.alignment import BLOC_INDEX
from sim.rules.base import Reference, Rule, RuleEffect, Targets, window_text

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World

Restriction = Literal["chips", "model_weights", "api_access"]


class ExportControl(Rule):
    """An issuer bloc restricts what its firms may send to target countries.

    - `chips`: the targets' chip access falls to (1 - strength); their compute grows more slowly,
      which slows their labs and raises the cost of hosting open weights there (D4.3, D4.6).
    - `model_weights`: a share `strength` of the targets' firms may not use open weights of the
      issuer's origin (weights cannot be exported to them): every open release line, frozen or
      current, whatever the lab's release policy now.
    - `api_access`: a share `strength` of the targets' firms may not use the issuer's closed models
      (its closed release lines, D4.4); a lab that opens its next release does not lift the block
      on its API, only its new weights are outside it.
    Whatever it restricts, a control pushes each target's technological alignment with the issuer's
    bloc towards 0 at `alignment.control_push` x strength a quarter (D4.4: controlled countries deepen
    ties elsewhere; see `sim.model.alignment`). The issuer's own countries are never targets.
    """

    kind: Literal["export_control"] = "export_control"
    issuer: Bloc = Field("US", description="bloc that imposes the control")
    targets: Targets = Field(description="countries the control applies to")
    restricts: list[Restriction] = Field(
        default_factory=lambda: list[Restriction](["chips"]),
        min_length=1,
        description="what is restricted: chips, model_weights, api_access",
    )
    strength: Share = Field(description="how binding the control is: 0 no effect, 1 complete denial [share]")

    def references(self) -> Iterator[Reference]:
        return self.targets.references(("targets",))

    def target_mask(self, model: GeopoliticsModel) -> np.ndarray:
        return self.targets.mask(model.world) & (model.country_bloc != self.issuer)

    def effect(self, rule_id: str, model: GeopoliticsModel) -> ExportControlEffect:
        return ExportControlEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        what = ", ".join(r.replace("_", " ") for r in self.restricts)
        return (
            f"{self.issuer} restricts {what} to {self.targets.describe(world)} at strength {self.strength:g}"
        )


class ExportControlEffect(RuleEffect[ExportControl]):
    """Lowers the targets' chip access, blocks the issuer's lines to a share of their firms, and
    pushes their alignment away from the issuer."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """Constant: the targets, the issuer's lines and the strength are fixed for the run."""
        return ()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        mask = rule.target_mask(model)
        if "chips" in rule.restricts:
            policy.chip_access[mask] *= 1.0 - rule.strength
        if rule.issuer in BLOC_INDEX:  # targets drift away from the issuer's stack (D4.4)
            policy.alignment_push[mask, BLOC_INDEX[rule.issuer]] += rule.strength
        issuer_lines = model.line_origin == rule.issuer
        for restriction, openness in (("model_weights", True), ("api_access", False)):
            if restriction in rule.restricts:
                cols = issuer_lines & (model.line_open == openness)
                block = policy.blocked_share[np.ix_(mask, cols)]
                policy.blocked_share[np.ix_(mask, cols)] = np.maximum(block, rule.strength)


__all__ = ["ExportControl", "ExportControlEffect", "window_text"]
