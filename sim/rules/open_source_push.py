"""State-backed open-source strategy and outreach to the Global South (D4.3, D4.4, D4.5, D4.11)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from sim.blocs import Bloc
from sim.rules.base import Rule, RuleEffect

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class OpenSourcePush(Rule):
    """A bloc's state backs open release by its labs and promotes its open models abroad.

    Labs of the bloc gain `open_support` log-odds at each release decision (state support to
    open-source infrastructure, D4.3, D4.6); it shapes their next releases, not those already out.
    The bloc's open weights (every open release line of its families) gain `outreach_bonus`
    utility among firms and governments of the Global South (ties with developing countries,
    D4.4, D4.11) and `norm_bonus` everywhere outside the bloc (inclusive-governance norms, D4.5).
    """

    kind: Literal["open_source_push"] = "open_source_push"
    bloc: Bloc = Field("CN", description="bloc whose state pushes open source")
    open_support: float = Field(
        1.5, ge=-10, le=10, description="log-odds added to its labs' open-release decisions"
    )
    outreach_bonus: float = Field(
        0.3, ge=0, le=5, description="utility of its open families for Global South users [utility]"
    )
    norm_bonus: float = Field(
        0.0, ge=0, le=5, description="utility of its open families for users outside the bloc [utility]"
    )

    def effect(self, rule_id: str, model: GeopoliticsModel) -> OpenSourcePushEffect:
        return OpenSourcePushEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        return (
            f"the {self.bloc} state backs open release (+{self.open_support:g} log-odds for its labs) and "
            f"promotes its open models in the Global South (+{self.outreach_bonus:g} utility)"
        )


class OpenSourcePushEffect(RuleEffect[OpenSourcePush]):
    """Adds open-release support to the bloc's labs and utility to its open lines abroad."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """Constant: the bloc's labs and open lines and the countries outside it are fixed for the run."""
        return ()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        rule = self.rule
        policy.open_support[model.lab_bloc == rule.bloc] += rule.open_support
        lines = (model.line_origin == rule.bloc) & model.line_open
        outside = model.country_bloc != rule.bloc
        policy.utility_bonus[(model.south & outside)[:, None] & lines[None, :]] += rule.outreach_bonus
        policy.utility_bonus[outside[:, None] & lines[None, :]] += rule.norm_bonus
