"""CPU time and memory of planning a sweep (`sim.experiments.plan.make_plan`), at 2,560 and 200,000 runs.

    python benchmarks/planning.py [--runs 2560 200000]

Each size is planned in a fresh process (so one size's memory does not count in another's): a Latin
hypercube over three uncertainties of the baseline, crossed with a two-valued lever, one replicate.
Prints the CPU seconds of `make_plan` and the peak resident memory of the process (the interpreter
and the imports included: compare with the same figure for a 10-run plan).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = """schema_version: 1
name: planning-benchmark
scenario: {scenario}
uncertainties:
  network_weight: {{path: parameters.choice.network_weight, range: [0.8, 2.2]}}
  risk_weight: {{path: parameters.choice.risk_weight, range: [0.6, 1.8]}}
  imitation: {{path: parameters.adoption.imitation, range: [0.3, 0.5]}}
levers:
  outreach: {{path: rules.china-open-source-strategy.outreach_bonus, choices: [0.0, 0.3]}}
design: {{kind: latin_hypercube, samples: {samples}}}
replicates: 1
seed: 1
outcomes:
  open_share_2030: {{metric: adoption_share, group: openness=open, reduce: final}}
"""


def measure(path: str) -> dict[str, float]:
    """Plan one experiment file in this process: CPU seconds, wall seconds, runs, peak RSS in MB."""
    from sim.experiments.plan import make_plan

    cpu, wall = time.process_time(), time.perf_counter()
    plan = make_plan(path, uncertainty="seeds")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    return {"runs": len(plan.runs), "cpu_s": cpu, "wall_s": wall, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10, 2_560, 200_000],
                        help="plan sizes in runs (even: two policies)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process's own job
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as folder:
        for runs in args.runs:
            path = Path(folder) / f"plan-{runs}.yaml"
            path.write_text(EXPERIMENT.format(scenario=ROOT / "scenarios" / "baseline.yaml", samples=runs // 2),
                            encoding="utf-8")
            done = subprocess.run([sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True,
                                  check=True)
            found = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{found['runs']:>8,} runs: {found['cpu_s']:6.2f} s CPU, {found['wall_s']:6.2f} s wall, "
                  f"peak RSS {found['peak_rss_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
