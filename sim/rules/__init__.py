"""Rule kinds, registered by `kind`.

Adding a kind: its module, one member of `AnyRule`, a test; `make docs` (`python -m tools.docs`) documents it.
"""

from __future__ import annotations

from typing import Annotated, get_args

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
from sim.rules.release_policy import ReleasePolicy
from sim.rules.tension import Tension

# The one list of kinds: a tagged union that pydantic validates by `kind` and a type checker reads.
AnyRule = Annotated[
    ExportControl
    | Ban
    | Program
    | Tension
    | OpenSourcePush
    | Alliance
    | Regulation
    | Incident
    | Collaboration
    | CapacityBuilding
    | ReleasePolicy,
    Field(discriminator="kind"),
]

RULE_KINDS: dict[str, type[Rule]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(AnyRule)[0])
}

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
    "ReleasePolicy",
    "Rule",
    "Targets",
    "Tension",
]
