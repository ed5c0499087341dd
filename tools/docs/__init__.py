"""Generators of the documentation derived from the code and the data (`make docs`, `python -m tools.docs`).

They live outside the runtime package `sim`: an installed `sim` runs scenarios; these write the
repository's docs/ pages and the scenario JSON Schema, and are run from a checkout.

- `tools.docs.generate`: docs/scenarios.md, scenarios/scenario.schema.json, docs/data.md, and the two below;
- `tools.docs.rules`: docs/rules.md;
- `tools.docs.odd`: docs/ODD.md from docs/ODD.template.md;
- `tools.docs.calibration`: docs/calibration.md (written by scripts/calibration_report.py and
  scripts/validation_report.py from a fresh run).
"""

from __future__ import annotations

from pathlib import Path

# The checkout these tools belong to: they write its docs/, whatever the current folder.
REPO_ROOT = Path(__file__).resolve().parents[2]
