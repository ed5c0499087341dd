"""Rule kinds, registered by `kind`.

Adding a kind: its module, one line in `RULE_KINDS`, a test; `make docs` (`python -m tools.docs`) documents it.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from sim.rules.alliance import Alliance
from sim.rules.ban import Ban
from sim.rules.base import Rule, Targets
from sim.rules.capacity_building import CapacityBuilding
from sim.rules.collaboration import Collaboration
from sim.rules.export_control import ExportControl
from sim.rules.incident import Incident
from sim.rules.open_source_push import OpenSourcePush
from sim.rules.program import Program
from sim.rules.regulation import Regulation
from sim.rules.tension import Tension

RULE_KINDS: dict[str, type[Rule]] = {
    "export_control": ExportControl,
    "ban": Ban,
    "program": Program,
    "tension": Tension,
    "open_source_push": OpenSourcePush,
    "alliance": Alliance,
    "regulation": Regulation,
    "incident": Incident,
    "collaboration": Collaboration,
    "capacity_building": CapacityBuilding,
}

AnyRule = Annotated[Union[tuple(RULE_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007

__all__ = [
    "RULE_KINDS",
    "Alliance",
    "AnyRule",
    "Ban",
    "CapacityBuilding",
    "Collaboration",
    "ExportControl",
    "Incident",
    "OpenSourcePush",
    "Program",
    "Regulation",
    "Rule",
    "Targets",
    "Tension",
]
