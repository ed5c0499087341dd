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
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tools` is the checkout's, not an installed package

from sim.calibration.ensemble import load_ensemble, shipped_ensemble  # noqa: E402
from sim.outputs.atomic import atomic_write_text  # noqa: E402
from sim.resources import data_dir  # noqa: E402
from sim.validation import run_check, text_report, validation_markdown  # noqa: E402
from tools.docs.calibration import calibration_markdown  # noqa: E402

COMMAND = "python scripts/validation_report.py"
HOLDOUT = "ensemble-until-2024Q4.yaml"  # the out-of-sample calibration's ensemble (sim calibrate --until 2024Q4)


def _with_values(scenario: Path, values: dict[str, Any]) -> str:
    """A scenario that extends `scenario` with the given dotted paths set (parameters.*, rules.ID.FIELD)."""
    tree: dict[str, Any] = {}
    for path, value in values.items():
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return yaml.safe_dump({"extends": str(scenario.resolve()), **tree}, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--ensemble-replicates", type=int, default=40,
                        help="replicates of the ensemble and out-of-sample runs (member r mod N each)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    baseline = ROOT / "scenarios/baseline.yaml"
    validation = run_check(baseline, replicates=args.replicates, workers=args.workers)
    validation.scenario_path = "scenarios/baseline.yaml"  # the pages name it the same from any folder
    method = (ROOT / "docs/calibration_method.md").read_text(encoding="utf-8")
    ensemble_part = holdout_part = None
    if shipped_ensemble() is not None:
        shipped = load_ensemble()
        under = run_check(baseline, replicates=args.ensemble_replicates, workers=args.workers, uncertainty="ensemble")
        under.scenario_path = validation.scenario_path
        ensemble_part = (under, shipped)
    holdout_path = data_dir() / HOLDOUT
    if holdout_path.is_file():
        holdout = load_ensemble(holdout_path)
        provenance: Any = holdout.file.provenance
        matched = set(provenance.get("matched_targets") or [])
        with tempfile.TemporaryDirectory() as folder:
            # The held-out ensemble was matched on the baseline as it was before the full calibration set its
            # defaults; a scenario's own values win over a member's (sim.calibration.ensemble), so the members
            # are run on the baseline with those earlier values back, and every member value then applies.
            earlier = Path(folder) / "baseline.yaml"
            earlier.write_text(_with_values(baseline, holdout.file.base_values), encoding="utf-8")
            predicted = run_check(earlier, replicates=args.ensemble_replicates, workers=args.workers,
                                  uncertainty="ensemble", ensemble=holdout_path)
        predicted.scenario_path = validation.scenario_path
        held_out = [o.check.id for o in predicted.targets if o.check.id not in matched]
        holdout_part = (predicted, holdout, held_out)
    from sim.mutation import mutation_markdown, run_mutants

    mutation = run_mutants(baseline, replicates=args.replicates, workers=args.workers)
    validation_page = validation_markdown(validation, COMMAND) + mutation_markdown(mutation)
    atomic_write_text(ROOT / "docs/validation.md", validation_page)
    atomic_write_text(ROOT / "docs/calibration.md", calibration_markdown(
        validation, method, COMMAND, ensemble=ensemble_part, out_of_sample=holdout_part))
    print(text_report(validation), end="")
    print("Wrote docs/validation.md and docs/calibration.md")


if __name__ == "__main__":
    main()
