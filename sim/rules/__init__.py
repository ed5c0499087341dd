"""Rule kinds, registered by `kind`.

Adding a kind: its module, one line in `RULE_KINDS`, a test; `python -m sim.docs_gen` documents it.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from sim.rules.ban import Ban
from sim.rules.base import Rule, Targets
from sim.rules.export_control import ExportControl
from sim.rules.open_source_push import OpenSourcePush
from sim.rules.program import Program
from sim.rules.tension import Tension

RULE_KINDS: dict[str, type[Rule]] = {
    "export_control": ExportControl,
    "ban": Ban,
    "program": Program,
    "tension": Tension,
    "open_source_push": OpenSourcePush,
}

AnyRule = Annotated[Union[tuple(RULE_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007

__all__ = [
    "RULE_KINDS",
    "AnyRule",
    "Ban",
    "ExportControl",
    "OpenSourcePush",
    "Program",
    "Rule",
    "Targets",
    "Tension",
]
