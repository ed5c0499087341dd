"""Cross-border research collaboration and reuse of models and methods (D3.1-D3.3, D3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from sim.fields import Share
from sim.rules.base import Rule, RuleEffect

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class Collaboration(Rule):
    """Sets how much US and Chinese researchers write together and reuse each other's work.

    Co-authored share of papers = `base_share` x exp(-`tension_sensitivity` x (tension - reference
    tension)) (D3.1: about 3% of NeurIPS papers in two years running; D0.7, D3.3: ties persist but
    tension erodes them). `spillover_strength` multiplies how much of a foreign lab's lead flows to
    a lab through published models and methods (D3.2: the transformer, Llama and Qwen crossing the
    Pacific; D3.5: neither side can isolate itself, so values above 0 are realistic).
    """

    kind: Literal["collaboration"] = "collaboration"
    base_share: Share = Field(0.0302, description="US-CN co-authored share of papers at reference tension [share]")
    tension_sensitivity: float = Field(
        0.8, ge=0, le=20, description="fall of the co-authored share per unit of tension [log share per unit]"
    )
    spillover_strength: float = Field(
        1.0, ge=0, le=3, description="multiplier on cross-bloc spillovers of capability (1: unchanged)"
    )

    def effect(self, rule_id: str, model: GeopoliticsModel) -> CollaborationEffect:
        return CollaborationEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        return (
            f"US-CN co-authorship at {self.base_share:.1%} of papers (falling {self.tension_sensitivity:g} log "
            f"points per unit of tension), cross-bloc spillovers x{self.spillover_strength:g}"
        )


class CollaborationEffect(RuleEffect[Collaboration]):
    """Replaces the co-authorship parameters and scales cross-bloc spillovers while active."""

    scalars_only = True  # tension, spillover and co-authorship only: applied every quarter

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        policy.coauthorship_base = rule.base_share
        policy.coauthorship_sensitivity = rule.tension_sensitivity
        policy.spillover_factor *= rule.spillover_strength
