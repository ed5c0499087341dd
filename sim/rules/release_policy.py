"""A lab's own decision on the openness of its next releases (D4.4, D4.6, D4.1, D4.11)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from sim.fields import LabId
from sim.rules.base import Reference, Rule, RuleEffect

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.model.policy import PolicyState
    from sim.world import World


class ReleasePolicy(Rule):
    """The listed labs release open weights (or closed models only) from `from`, whatever their
    own release calculus would say.

    It replaces the labs' endogenous choice (`sim.model.labs._choose_openness`: trailing and
    compute-constrained labs gain from open release, leaders from closed, D4.4, D4.6) while the
    rule acts, and takes effect at once: a lab whose current line differs switches in the rule's
    first quarter. Like every switch it sets the openness of the lab's *next* releases only:
    weights already published stay downloadable and its last closed model stays on its API for the
    retirement period (releases keep their openness, D4.1, D4.11). When the rule ends the lab's own
    calculus decides again at its next release decision. Later rules override earlier ones for the
    same lab (class play writes one rule per decision, in the order they were made).
    """

    kind: Literal["release_policy"] = "release_policy"
    labs: list[LabId] = Field(min_length=1, description="lab ids, like meta")
    openness: Literal["open", "closed"] = Field(
        description="open: the labs' next releases are open weights; closed: closed models only"
    )

    def references(self) -> Iterator[Reference]:
        for i, lab in enumerate(self.labs):
            yield ("labs", i), "lab", lab

    def effect(self, rule_id: str, model: GeopoliticsModel) -> ReleasePolicyEffect:
        return ReleasePolicyEffect(self, rule_id, model)

    def describe(self, world: World) -> str:
        names = {lab.id: lab.name for lab in world.labs}
        who = ", ".join(names.get(lab, lab) for lab in self.labs)
        what = "as open weights" if self.openness == "open" else "as closed models only"
        return f"{who} release{'s' if len(self.labs) == 1 else ''} {what} from now on"


class ReleasePolicyEffect(RuleEffect[ReleasePolicy]):
    """Writes the forced openness of the labs' next releases into the policy state (rules phase)."""

    def state_key(self, model: GeopoliticsModel) -> Hashable | None:
        """Constant: the labs and the openness are fixed for the run."""
        return ()

    def apply(self, model: GeopoliticsModel, policy: PolicyState) -> None:
        value = 1 if self.rule.openness == "open" else 0
        for lab in self.rule.labs:
            policy.release_openness[model.lab_index[lab]] = value
