"""Write docs/validation.md and docs/calibration.md from one fresh run of the baseline.

    python scripts/validation_report.py [--replicates 10] [--workers 2]

docs/validation.md: every calibration target and every untuned pattern (scenarios/data/patterns.yaml)
beside the model's median and 10-90% band, with the patterns considered and not tested.
docs/calibration.md: the calibration targets and how they were tuned (docs/calibration_method.md).
The measuring is `sim.validation`, the same as `sim check`; nothing here is typed by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tools` is the checkout's, not an installed package

from sim.outputs.atomic import atomic_write_text  # noqa: E402
from sim.validation import run_check, text_report, validation_markdown  # noqa: E402
from tools.docs.calibration import calibration_markdown  # noqa: E402

COMMAND = "python scripts/validation_report.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    validation = run_check(ROOT / "scenarios/baseline.yaml", replicates=args.replicates, workers=args.workers)
    validation.scenario_path = "scenarios/baseline.yaml"  # the pages name it the same from any folder
    method = (ROOT / "docs/calibration_method.md").read_text(encoding="utf-8")
    atomic_write_text(ROOT / "docs/validation.md", validation_markdown(validation, COMMAND))
    atomic_write_text(ROOT / "docs/calibration.md", calibration_markdown(validation, method, COMMAND))
    print(text_report(validation), end="")
    print("Wrote docs/validation.md and docs/calibration.md")


if __name__ == "__main__":
    main()
