"""Throughput and memory of a 200-run sweep of the baseline at its default size, on 2 local workers.

    python benchmarks/sweep_throughput.py [--runs 200] [--workers 2] [--out DIR]

Prints runs per minute and, every few seconds, the resident memory (RSS) of the parent process and
of each worker process, so "memory stays flat" is shown by numbers: the parent holds one row per
run (results stream to disk) and workers are replaced every `RUNS_PER_WORKER` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import psutil

import sim
from sim.experiments.executors import RUNS_PER_WORKER

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = """schema_version: 1
name: throughput
description: A Latin hypercube over two uncertain choice weights of the full-size baseline.
scenario: {scenario}
uncertainties:
  network_weight: {{path: parameters.choice.network_weight, range: [0.8, 2.2]}}
  risk_weight: {{path: parameters.choice.risk_weight, range: [0.6, 1.8]}}
design: {{kind: latin_hypercube, samples: {runs}}}
replicates: 1
seed: 1
outcomes:
  cn_influence_2030: {{metric: influence, group: "bloc=CN,weight=gdp", at: 2030Q4}}
  open_share_2030: {{metric: adoption_share, group: openness=open, reduce: final}}
"""
MB = 1024 * 1024


class MemoryLog:
    """Samples the RSS of this process and of every process below it."""

    def __init__(self, every_s: float, runs_csv: Path):
        self.every_s, self.runs_csv = every_s, runs_csv
        self.samples: list[tuple[float, int, float, list[float]]] = []  # (t, runs done, parent MB, workers MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.perf_counter()

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            workers = []
            for child in me.children():  # the fork server and the resource tracker
                try:
                    for worker in child.children():  # workers are forked from the fork server
                        workers.append(worker.memory_info().rss / MB)
                except psutil.Error:
                    continue
            done = max(0, self.runs_csv.read_text().count("\n") - 1) if self.runs_csv.is_file() else 0
            self.samples.append((time.perf_counter() - self.started, done, me.memory_info().rss / MB, workers))

    def __enter__(self) -> MemoryLog:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="sweep folder (default: a temporary folder)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between memory samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "throughput.yaml"
        path.write_text(EXPERIMENT.format(scenario=ROOT / "scenarios" / "baseline.yaml", runs=args.runs))
        out = args.out or Path(scratch) / "out"
        plan = sim.experiments.make_plan(str(path))
        started = time.perf_counter()
        with MemoryLog(args.every, out / "runs.csv") as log:
            result = sim.sweep(plan, out=out, workers=args.workers)
        wall = time.perf_counter() - started
    print(f"{len(result.runs)} runs ({result.ran} run now), {args.workers} workers, baseline at "
          f"{plan.prepared.scenario.population.firms} firms x {plan.prepared.scenario.time.quarters} quarters")
    print(f"wall time {wall:.1f} s -> {result.ran / wall * 60:.1f} runs/min "
          f"({wall * args.workers / max(result.ran, 1):.2f} worker-seconds per run); workers recycled every "
          f"{RUNS_PER_WORKER} runs")
    print(f"{'t (s)':>7} {'runs':>5} {'parent MB':>10} {'workers MB':>18}")
    for t, done, parent, workers in log.samples:
        print(f"{t:7.0f} {done:5d} {parent:10.1f} {' '.join(f'{w:8.1f}' for w in workers):>18}")
    parents = [s[2] for s in log.samples]
    workers = [w for s in log.samples for w in s[3]]
    if parents:
        tenth = max(1, len(parents) // 10)
        first, last = max(parents[:tenth]), max(parents[-tenth:])
        print(f"parent RSS: first 10% of samples {first:.1f} MB, last 10% {last:.1f} MB, peak {max(parents):.1f} MB")
    if workers:
        print(f"worker RSS: peak {max(workers):.1f} MB, median {sorted(workers)[len(workers) // 2]:.1f} MB")


if __name__ == "__main__":
    main()
