"""Write docs/calibration.md: the baseline's 2023-2026 calibration targets beside the model's values.

    python scripts/calibration_report.py [--replicates 10] [--workers 2]

The table is produced from a fresh run of scenarios/baseline.yaml, never typed by hand; the measuring
is `sim.validation` (the same as `sim check`). `scripts/validation_report.py` writes this page and
docs/validation.md from one run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tools` is the checkout's, not an installed package

from sim.outputs.atomic import atomic_write_text  # noqa: E402
from sim.validation import run_check, targets_table  # noqa: E402
from tools.docs.calibration import calibration_markdown  # noqa: E402

COMMAND = "python scripts/calibration_report.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    validation = run_check(ROOT / "scenarios/baseline.yaml", replicates=args.replicates, workers=args.workers)
    validation.scenario_path = "scenarios/baseline.yaml"  # the page names it the same from any folder
    method = (ROOT / "docs/calibration_method.md").read_text(encoding="utf-8")
    atomic_write_text(ROOT / "docs/calibration.md", calibration_markdown(validation, method, COMMAND))
    print("\n".join(targets_table(validation)))


if __name__ == "__main__":
    main()
