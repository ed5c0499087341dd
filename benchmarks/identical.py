"""Check that an optimisation changed no output: the tables of a few scenarios and seeds, built by the
code at BASE_REV and by the code in this working tree, must be byte-identical.

    python benchmarks/identical.py 6bce573            # compare against that commit
    python benchmarks/identical.py HEAD~1 --firms 500  # smaller runs

BASE_REV is checked out into a temporary `git worktree` (removed at the end); each side runs in its
own Python process with PYTHONPATH pointing at its tree, and writes, per scenario and seed, the
CSV bytes of one replicate's raw timeseries and events frames (row order as produced), of the
tables `sim run` writes (`timeseries_table`, its `summarise`, `events_table`, the wide timeseries of
`--wide`), the column dtypes, the replicate's timeseries as Parquet and the Parquet part a sweep
stores for it (run_id first, the group's keys as categories), both as `with_group_keys(...).to_parquet`
makes it and as `sim.experiments.store.write_part` itself writes it.
The same scenario files (this tree's) feed both sides. Exit status 0 when every file is identical,
1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["baseline", "export-controls-tighten", "decoupling", "eu-bans-chinese-models", "cooperative-standards"]
SEEDS = [1, 20261201]

# Run in each side's process: only APIs both sides have (scenario preparation, one replicate, tables).
_DUMP = r"""
import hashlib, io, json, sys
from pathlib import Path
import sim
from sim.scenario import prepare
from sim.runner import run_replicate
from sim.outputs.tables import csv_bytes, events_table, summarise, timeseries_table, with_group_keys
from sim.experiments.store import write_part

scenarios, seeds, firms, out = json.loads(sys.argv[1])
digests = {"sim": sim.__file__}
for path in scenarios:
    prepared = prepare(Path(path), [f"population.firms={firms}"])
    for seed in seeds:
        result = run_replicate(prepared.scenario, prepared.world, 0, seed)
        key = f"{Path(path).stem}/seed={seed}"
        parquet = io.BytesIO()
        result.timeseries.to_parquet(parquet, index=False)
        part = io.BytesIO()  # what a sweep stores for a run (sim.experiments.store.write_part)
        with_group_keys(result.timeseries.assign(run_id="0123456789abcdef")[["run_id", *result.timeseries.columns]],
                        categorical=True).to_parquet(part, index=False)
        stored = Path(out).with_name("part.parquet")  # the part as the sweep's own function stores it
        write_part(stored, result.timeseries.assign(run_id="0123456789abcdef")[["run_id", *result.timeseries.columns]])
        table = timeseries_table(result.timeseries)
        files = {
            "timeseries.raw.csv": csv_bytes(result.timeseries),
            "events.raw.csv": csv_bytes(result.events),
            "timeseries.csv": csv_bytes(table),
            "summary.csv": csv_bytes(summarise(table)),
            "timeseries_wide.csv": csv_bytes(with_group_keys(table)),
            "events.csv": csv_bytes(events_table(result.events)),
            "dtypes": repr([(c, str(t)) for c, t in result.timeseries.dtypes.items()]
                           + [(c, str(t)) for c, t in result.events.dtypes.items()]).encode(),
            "timeseries.parquet": parquet.getvalue(),
            "sweep part.parquet": part.getvalue(),
            "sweep part (write_part).parquet": stored.read_bytes(),
        }
        for name, data in files.items():
            digests[f"{key}/{name}"] = hashlib.sha256(data).hexdigest()
Path(out).write_text(json.dumps(digests, indent=1))
"""


def tables_of(tree: Path, scenarios: list[Path], seeds: list[int], firms: int) -> dict[str, str]:
    """SHA-256 of every table the code in `tree` builds (see the module docstring)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "digests.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        argument = json.dumps([[str(s) for s in scenarios], seeds, firms, str(out)])
        subprocess.run([sys.executable, "-c", _DUMP, argument], cwd=tree, env=env, check=True)
        digests = json.loads(out.read_text())
    where = Path(digests.pop("sim")).resolve()
    if tree.resolve() not in where.parents:  # the other tree's package would make the check vacuous
        raise SystemExit(f"the run for {tree} imported sim from {where}")
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit to compare against (any git revision)")
    parser.add_argument("--firms", type=int, default=4_000, help="firms per run (default 4,000, the baseline's)")
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, help="scenario names in scenarios/")
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    args = parser.parse_args()
    scenarios = [ROOT / "scenarios" / f"{name}.yaml" for name in args.scenarios]
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
                          capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / f"base-{base}"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), base], check=True)
        try:
            before = tables_of(tree, scenarios, args.seeds, args.firms)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    after = tables_of(ROOT, scenarios, args.seeds, args.firms)
    differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    runs = len(scenarios) * len(args.seeds)
    if differ:
        print(f"DIFFERENT: {len(differ)} of {len(before)} files differ from {base}:")
        for key in differ:
            print(f"  {key}")
        return 1
    digest = hashlib.sha256(json.dumps(after, sort_keys=True).encode()).hexdigest()[:16]
    print(f"IDENTICAL: {len(after)} files ({runs} runs of {args.firms:,} firms: {', '.join(args.scenarios)}; "
          f"seeds {', '.join(map(str, args.seeds))}) byte for byte at {base} and in {ROOT.name} (sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
