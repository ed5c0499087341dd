"""Where users wait, in CPU seconds (user + system; on a shared machine other users' load hardly
moves it): one default-size replicate against idiomatic Mesa with the same agents and steps, a whole
`sim run` against the import floor of its libraries, and what a sweep adds per run on top of the
replicate itself. `benchmarks/run.py` prints these with the rest; docs/performance.md shows them.

CPU of another process is read with `resource.getrusage(RUSAGE_CHILDREN)` around it: that counts
the child and every descendant it waited for (a sweep's fork server and workers included, as the
sweep's process ends).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import reference

ROOT = Path(__file__).resolve().parents[1]
# The tree whose `sim` this process imports (PYTHONPATH may point at another checkout, to measure it
# the same way): child processes run there, since `python -m sim` looks in its working directory first.
TREE = Path(find_spec("sim").origin).resolve().parents[1]  # type: ignore[arg-type, union-attr]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
FLOOR_LIBRARIES = ("numpy", "pandas", "matplotlib", "pydantic", "yaml", "mesa")


def child_cpu(command: list[str], cwd: Path = TREE) -> float:
    """CPU seconds of a child process and its waited-for descendants (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


@dataclass
class ReplicateCpu:
    """CPU seconds of one default-size replicate (`run_replicate`: model build, quarters, its tables),
    and of idiomatic Mesa with as many agents and steps (agents created and stepped)."""

    firms: int
    quarters: int
    replicate_s: list[float]
    mesa_s: list[float]

    @property
    def replicate(self) -> float:
        return statistics.median(self.replicate_s)

    @property
    def mesa(self) -> float:
        return statistics.median(self.mesa_s)

    @property
    def ratio(self) -> float:
        """How many times faster than idiomatic Mesa per agent-step (medians; same agents and steps)."""
        return self.mesa / self.replicate


def replicate_cpu(firms: int = 4_000, replicates: int = 20, mesa_runs: int = 5) -> ReplicateCpu:
    """Median CPU per replicate over `replicates` seeds (after two warm-ups), interleaved with the
    Mesa yardstick so both see the same machine."""
    from sim.quarters import parse_quarter
    from sim.runner import run_replicate
    from sim.scenario import prepare

    prepared = prepare(BASELINE, [f"population.firms={firms}"])
    scenario, world = prepared.scenario, prepared.world
    quarters = parse_quarter(scenario.time.end) - parse_quarter(scenario.time.start) + 1
    for seed in (1, 2):
        run_replicate(scenario, world, 0, seed)
    reference.measure(firms, 2)
    ours, theirs = [], []
    for r in range(replicates):
        started = time.process_time()
        run_replicate(scenario, world, 0, 100 + r)
        ours.append(time.process_time() - started)
        if r % max(replicates // mesa_runs, 1) == 0:
            started = time.process_time()
            reference.measure(firms, quarters)  # creating the agents and stepping them
            theirs.append(time.process_time() - started)
    return ReplicateCpu(firms, quarters, ours, theirs)


@dataclass
class RunCpu:
    """`sim run baseline` end to end against a process that only imports its libraries."""

    floor_s: list[float]
    run_s: list[float]
    help_s: list[float]
    validate_s: list[float]

    @property
    def ratio(self) -> float:
        return min(self.run_s) / min(self.floor_s)


def run_cpu(repeats: int = 3) -> RunCpu:
    """Best of `repeats` CPU seconds each: the import floor, `sim run baseline` (default size, one
    replicate, every output written), `sim --help` and `sim validate baseline`."""
    floor, run, help_, validate = [], [], [], []
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):  # interleaved: the machine's load changes
            floor.append(child_cpu([python, "-c", "import " + ", ".join(FLOOR_LIBRARIES)]))
            run.append(child_cpu([python, "-m", "sim", "run", "baseline", "--out", str(Path(folder) / "out"),
                                  "--quiet"]))
            help_.append(child_cpu([python, "-m", "sim", "--help"]))
            validate.append(child_cpu([python, "-m", "sim", "validate", "baseline"]))
    return RunCpu(floor, run, help_, validate)


# Run in a child process: one sweep of the baseline at its default size over tiny.yaml's 2 x 2 design, each
# run's replicate timed inside the workers (sweep_timing.py, this folder's) into argv[6].
_SWEEP = r"""
import json, sys, yaml
from pathlib import Path
sys.path.insert(0, sys.argv[7])
import sweep_timing
sweep_timing.install(sys.argv[6])
from sim.experiments.sweep import sweep
spec_path, replicates, workers, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
spec = yaml.safe_load(Path(spec_path).read_text())
spec.update(scenario=sys.argv[5], replicates=replicates, name="benchmark-sweep")
spec.pop("set", None)  # the baseline's own size
path = Path(out).with_suffix(".yaml")
path.write_text(yaml.safe_dump(spec))
result = sweep(path, out=Path(out), workers=workers)
# The workers are the fork server's children: stop it and wait for it, so their CPU time (which the
# fork server collected) reaches this process's children's usage, and so the benchmark's.
from multiprocessing import forkserver
forkserver._forkserver._stop()
print(json.dumps({"ran": result.ran}))
"""


@dataclass
class SweepOverhead:
    """What a sweep costs per run on top of the replicate (planning, outcomes, Parquet, transfer)."""

    small_runs: int
    large_runs: int
    small_s: list[float]
    large_s: list[float]
    replicate_s: float
    small_inside_s: list[float] = field(default_factory=list)  # each sweep's replicates, timed in its workers
    large_inside_s: list[float] = field(default_factory=list)
    # Per pair: replicates timed in this process just before its sweeps (empty: `replicate_s` was given).
    replicate_between_s: list[list[float]] = field(default_factory=list)

    @property
    def per_run(self) -> float:
        """Marginal CPU seconds per run: the difference of the two sweeps over their difference in runs
        (start-up, imports and the fork server cancel), the median over the repeats' pairs. Each pair's
        sweeps ran one after the other, so a slower minute of the machine moves both; the best of each size
        (what this took before) paired sweeps from different minutes and moved by ±8 ms a run."""
        return statistics.median(self._pairs(self.small_s, self.large_s))

    def _pairs(self, small: list[float], large: list[float]) -> list[float]:
        return [(b - a) / (self.large_runs - self.small_runs) for a, b in zip(small, large, strict=True)]

    @property
    def overhead(self) -> float:
        """Per run, the sweep's CPU less a replicate's timed in this process: with replicates timed between the
        pairs, the median over the pairs of each pair's figure less its own replicates' median (the machine's
        speed drifts by ±10% from minute to minute, and moves a pair and its replicates together)."""
        if not self.replicate_between_s:
            return self.per_run - self.replicate_s
        pairs = self._pairs(self.small_s, self.large_s)
        return statistics.median(p - statistics.median(r) for p, r in zip(pairs, self.replicate_between_s,
                                                                           strict=True))

    @property
    def share(self) -> float:
        """Overhead per run as a share of the replicate's own CPU (target: at most 0.5)."""
        return self.overhead / self.replicate_s

    @property
    def replicate_inside(self) -> float:
        """CPU seconds of a replicate as the larger sweeps' workers ran it (their replicates' mean, median sweep)."""
        return statistics.median(self.large_inside_s) / self.large_runs

    @property
    def overhead_inside(self) -> float:
        """Marginal CPU seconds per run of everything but the replicate, each sweep's replicates (timed inside its
        workers) taken from that sweep's own CPU: steadier than `overhead`, whose replicate is timed elsewhere
        and at another moment, since the machine's speed moves both terms of each sweep together."""
        small = [t - r for t, r in zip(self.small_s, self.small_inside_s, strict=True)]
        large = [t - r for t, r in zip(self.large_s, self.large_inside_s, strict=True)]
        return statistics.median(self._pairs(small, large))

    @property
    def share_inside(self) -> float:
        """`overhead_inside` as a share of `replicate_inside` (target: at most 0.5)."""
        return self.overhead_inside / self.replicate_inside


def sweep_overhead(replicate_s: float | None = None, repeats: int = 3, small: int = 1, large: int = 16,
                   workers: int = 1, between: int = 5) -> SweepOverhead:
    """`repeats` pairs of sweeps of 4 x `small` and 4 x `large` runs, each sweep in its own process, the two of
    a pair one after the other (figures: the median over the pairs). Without `replicate_s`, `between`
    default-size replicates are timed in this process before each pair, and each pair's overhead is taken
    against those."""
    spec = ROOT / "scenarios" / "experiments" / "tiny.yaml"
    small_s: list[float] = []
    large_s: list[float] = []
    small_inside: list[float] = []
    large_inside: list[float] = []
    replicates_between: list[list[float]] = []
    timed_replicate = None
    if replicate_s is None:
        from sim.runner import run_replicate
        from sim.scenario import prepare

        prepared = prepare(BASELINE, [])
        run_replicate(prepared.scenario, prepared.world, 0, 1)  # a warm-up: first calls and label caches

        def timed_replicate(seed: int) -> float:
            started = time.process_time()
            run_replicate(prepared.scenario, prepared.world, 0, seed)
            return time.process_time() - started
    with tempfile.TemporaryDirectory() as folder:
        for i in range(repeats):
            if timed_replicate is not None:
                replicates_between.append([timed_replicate(200 + between * i + k) for k in range(between)])
            for replicates, into, inside in ((small, small_s, small_inside), (large, large_s, large_inside)):
                out = Path(folder) / f"sweep-{replicates}-{i}"
                log = Path(folder) / f"replicates-{replicates}-{i}.txt"
                into.append(child_cpu([sys.executable, "-c", _SWEEP, str(spec), str(replicates), str(workers),
                                       str(out), str(BASELINE), str(log), str(ROOT / "benchmarks")]))
                times = [float(line) for line in log.read_text().split()]
                if len(times) != 4 * replicates:
                    raise SystemExit(f"the sweep's workers timed {len(times)} replicates, not {4 * replicates}")
                inside.append(sum(times))
    if replicate_s is None:
        replicate_s = statistics.median(t for pair in replicates_between for t in pair)
    return SweepOverhead(4 * small, 4 * large, small_s, large_s, replicate_s, small_inside, large_inside,
                         replicates_between)


@dataclass
class WorkerOverhead:
    """What a sweep's worker does per run besides the replicate: `execute` (replicate, outcomes, the run's
    Parquet part stored in the sweep's folder) against `run_replicate` alone, alternated in forked processes.

    Both are timed in the same process one after the other, so the machine's load moves them together: a
    steadier figure than `SweepOverhead`, which subtracts a replicate timed elsewhere from the difference
    of two sweeps. It leaves out what the sweep's own process and the transfer add (a few ms a run)."""

    execute_s: list[float]
    replicate_s: list[float]

    @property
    def overhead(self) -> float:
        return statistics.median(self.execute_s) - statistics.median(self.replicate_s)

    @property
    def share(self) -> float:
        return self.overhead / statistics.median(self.replicate_s)


def worker_overhead(runs: int = 12, processes: int = 2) -> WorkerOverhead:
    """`runs` runs of tiny.yaml's design over the baseline in each of `processes` forked processes (each
    process's first run, with its cold caches, left out), each run timed with and without the extras."""
    import os

    import yaml

    from sim.experiments.executors import PartFolder, RunTask, execute
    from sim.experiments.plan import make_plan
    from sim.runner import run_replicate

    executed: list[float] = []
    alone: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        spec = yaml.safe_load((ROOT / "scenarios" / "experiments" / "tiny.yaml").read_text())
        spec.update(scenario=str(BASELINE), replicates=max(1, -(-runs // 4)), name="benchmark-worker")
        spec.pop("set", None)  # the baseline's own size
        path = Path(folder) / "experiment.yaml"
        path.write_text(yaml.safe_dump(spec))
        plan = make_plan(str(path))
        (Path(folder) / "parts").mkdir()
        parts = PartFolder.of(Path(folder) / "parts")
        tasks = [RunTask(r.run_id, r.scenario, r.replicate, r.seed, plan.experiment.outcomes, plan.prepared.world,
                         parts) for r in plan.runs[:runs]]
        for _ in range(processes):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker: forked, as the sweep's workers are from their fork server
                times = []
                for task in tasks:
                    started = time.process_time()
                    execute(task)
                    middle = time.process_time()
                    run_replicate(task.scenario, task.world, task.replicate, task.seed)
                    times.append((middle - started, time.process_time() - middle))
                os.write(write, json.dumps(times[1:]).encode())
                os._exit(0)
            os.close(write)
            with os.fdopen(read) as pipe:
                times = json.loads(pipe.read())
            os.waitpid(pid, 0)
            executed += [e for e, _ in times]
            alone += [r for _, r in times]
    return WorkerOverhead(executed, alone)


def main() -> None:
    """Print the figures of this module alone (`python benchmarks/waits.py`), as JSON."""
    cpu = replicate_cpu()
    runs = run_cpu()
    sweeps = sweep_overhead()  # its replicate timed between its sweeps
    worker = worker_overhead()
    print(json.dumps({
        "sim": str(TREE), "replicate_cpu_s": cpu.replicate, "mesa_cpu_s": cpu.mesa, "ratio": cpu.ratio,
        "floor_cpu_s": min(runs.floor_s), "sim_run_cpu_s": min(runs.run_s), "sim_run_over_floor": runs.ratio,
        "help_cpu_s": min(runs.help_s), "validate_cpu_s": min(runs.validate_s),
        "sweep_cpu_per_run_s": sweeps.per_run, "sweep_overhead_s": sweeps.overhead,
        "sweep_overhead_share": sweeps.share, "sweep_replicate_inside_s": sweeps.replicate_inside,
        "sweep_overhead_inside_s": sweeps.overhead_inside, "sweep_overhead_inside_share": sweeps.share_inside,
        "worker_overhead_s": worker.overhead, "worker_overhead_share": worker.share,
    }, indent=1))


if __name__ == "__main__":
    main()
