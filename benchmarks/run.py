"""Performance benchmark of the simulator, every figure measured in one run (docs/performance.md).

    python benchmarks/run.py            # full: ~8 minutes on 2 cores
    python benchmarks/run.py --quick    # smoke check with small sizes: ~30 s

Prints, in one run:
1. the idiomatic-Mesa yardstick (benchmarks/reference.py), measured before and after the rest;
2. whole `sim run` processes of the baseline at a small and a large firm population: marginal
   firm-steps per second = (firm-steps large - firm-steps small) / (time large - time small),
   and its ratio to the yardstick (best of `--repeats` for every timing). Both in CPU time (the
   process's own user + system time: on a shared machine the other users' load hardly moves it,
   so this is the headline ratio) and in wall time;
3. a profile of the quarters by phase (rules, labs, countries, firms, metrics);
4. peak memory (the large `sim run`'s child process) and memory across a long run of replicates
   in one process;
5. per-run overheads and sweep throughput (runs per minute at the default size, 1 and 2 workers);
6. how cost grows with firms, countries, families and quarters;
and, after 2., where users wait (benchmarks/waits.py), in CPU seconds: one default-size replicate
against idiomatic Mesa with the same agents and steps and at the yardstick's rate, `sim run
baseline` against the import floor of its libraries, a sweep's overhead per run, peak memory.
Machines of this kind are noisy: compare ratios measured in the same run, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
BASELINE = ROOT / "scenarios" / "baseline.yaml"

import numpy as np  # noqa: E402
import reference  # noqa: E402
import scaling  # noqa: E402
import waits  # noqa: E402
from phases import PHASES, PhaseProfile, profile_run  # noqa: E402


def machine() -> dict[str, object]:
    import mesa

    cpu = platform.processor()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:  # Linux: the model name is only here
        names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
    cpu = names[0] if names else cpu
    with open("/proc/meminfo", encoding="utf-8") as fh:
        mem_gb = int(fh.readline().split()[1]) / 2**20
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def sim_run_process(firms: int, out_dir: Path, extra: list[str]) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak resident memory (GB) of one `sim run` of the baseline."""
    command = [sys.executable, "-m", "sim", "run", str(BASELINE), "--out", str(out_dir),
               "--set", f"population.firms={firms}", *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory, not all children's
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"sim run with {firms} firms failed ({child.returncode}):\n{error}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e9  # ru_maxrss: KiB on Linux


def memory_child(replicates: int, firms: int) -> None:
    """(Run in a child process.) Replicates one after another in this process; RSS after each."""
    import gc

    from sim.model.model import GeopoliticsModel
    from sim.runner import iter_replicates
    from sim.scenario import prepare

    prepared = prepare(BASELINE, [f"population.firms={firms}"])
    for result in iter_replicates(prepared.scenario, prepared.world, replicates):
        del result
        with open("/proc/self/status", encoding="utf-8") as fh:
            rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
        print(json.dumps({"rss_mb": rss / 1024}), flush=True)
    gc.collect()
    live = sum(isinstance(thing, GeopoliticsModel) for thing in gc.get_objects())
    print(json.dumps({"live_models": live}), flush=True)


def memory_over_replicates(replicates: int, firms: int) -> tuple[list[float], int]:
    """RSS (MB) after each replicate run one after another in a fresh process, and how many
    models are still alive at the end (Mesa 3.3.1 would keep them all without `release_model`)."""
    command = [sys.executable, __file__, "--memory-child", str(replicates), str(firms)]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line["rss_mb"] for line in lines if "rss_mb" in line], lines[-1]["live_models"]


def startup_seconds() -> float:
    """A fresh interpreter importing the command line (what every `sim run` pays first)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sim.cli"], cwd=ROOT, check=True)
    return time.perf_counter() - started


def overheads(firms: int) -> dict[str, float]:
    """Seconds for the parts of one default-size `sim run` with one replicate, in this process."""
    import sim
    from sim.api import write_outputs
    from sim.model.model import GeopoliticsModel
    from sim.runner import release_model, run_replicate
    from sim.scenario import prepare

    started = time.perf_counter()
    prepared = prepare(BASELINE, [f"population.firms={firms}"])
    prepare_s = time.perf_counter() - started
    started = time.perf_counter()
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    model.run()
    run_s = time.perf_counter() - started
    release_model(model)
    started = time.perf_counter()
    run_replicate(prepared.scenario, prepared.world, 0, 1)
    replicate_s = time.perf_counter() - started
    result = sim.run(prepared, replicates=1)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        write_outputs(result, Path(out), ["benchmarks/run.py"])
        write_s = time.perf_counter() - started
    return {"startup": startup_seconds(), "prepare": prepare_s, "build": build_s, "run": run_s,
            "replicate with tables": replicate_s, "write outputs": write_s}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def replicate_throughput(firms: int, replicates: int, workers: int) -> tuple[float, float]:
    """Runs per minute of `sim.run` replicates at `firms` firms on `workers` worker processes, and
    CPU seconds per run (this process and its workers: what the workers add shows here)."""
    import sim
    from sim.scenario import prepare

    prepared = prepare(BASELINE, [f"population.firms={firms}"])
    started, started_cpu = time.perf_counter(), cpu_seconds()
    sim.run(prepared, replicates=replicates, workers=workers)
    if workers > 1:  # the workers are the fork server's children: their CPU counts once it is waited for
        from multiprocessing import forkserver

        forkserver._forkserver._stop()  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - started_cpu
    return 60.0 * replicates / wall, cpu / replicates


def sweep_throughput(workers: int, replicates: int) -> tuple[float, int] | str:
    """Runs per minute of `sim.sweep` (if it exists and runs) on a 2 x 2 design at the default size."""
    try:
        import yaml

        from sim.experiments.sweep import sweep
    except ImportError as error:
        return f"not timed: {error}"
    spec = yaml.safe_load((ROOT / "scenarios" / "experiments" / "tiny.yaml").read_text())
    spec.update(scenario=str(BASELINE), replicates=replicates, name="benchmark-sweep")
    spec.pop("set", None)  # the default size
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark-sweep.yaml"
        path.write_text(yaml.safe_dump(spec))
        try:
            started = time.perf_counter()
            result = sweep(path, out=Path(folder) / "out", workers=workers)
            wall = time.perf_counter() - started
        except Exception as error:  # another engineer's work in progress: report it and go on
            return f"not timed: {type(error).__name__}: {error}"
    return 60.0 * result.ran / wall, result.ran


def where_users_wait(quick: bool, ref_cpu: float, marginal: float, marginal_ratio: float, peak_gb: float,
                     large: int) -> dict[str, object]:
    """The issue-18 figures (benchmarks/waits.py), printed as one table against their targets."""
    cpu = waits.replicate_cpu(replicates=6 if quick else 30, mesa_runs=2 if quick else 6)
    agent_steps = cpu.firms * cpu.quarters
    yardstick_s = agent_steps / ref_cpu  # the same agent-steps at the large yardstick's rate
    runs = waits.run_cpu(repeats=1 if quick else 3)
    # 3 pairs of 4 and 64 runs, 5 in-process replicates before each (~25 s): 2 pairs of 4 and 28 against the median
    # of 30 replicates timed a minute earlier moved by ±10 ms a run between runs of run.py (a sweep's fixed ~2 s of
    # start-up moves by ±0.2 s, ±7 ms a run over 28 runs)
    sweeps = waits.sweep_overhead(None, repeats=1 if quick else 3, large=3 if quick else 16)
    rows: list[list[object]] = [
        ["CPU per default-size replicate (model + its tables)",
         f"{1e3 * cpu.replicate:.1f} ms (median of {len(cpu.replicate_s)}; best {1e3 * min(cpu.replicate_s):.1f})",
         "about 30 ms"],
        [f"  idiomatic Mesa, same agents and steps ({cpu.firms:,} x {cpu.quarters})",
         f"{1e3 * cpu.mesa:.1f} ms: ratio {cpu.ratio:.2f}x", ""],
        [f"  at the yardstick's rate ({ref_cpu / 1e6:.2f} M agent-steps/s, {agent_steps:,} agent-steps)",
         f"{1e3 * yardstick_s:.0f} ms: ratio {yardstick_s / cpu.replicate:.1f}x", ">= 10x"],
        [f"marginal firm-steps per CPU second at {large:,} firms", f"{marginal / 1e6:.2f} M: {marginal_ratio:.1f}x",
         ">= 5x"],
        ["`sim run baseline`, CPU incl. children", f"{min(runs.run_s):.2f} s = {runs.ratio:.2f}x the import floor",
         "<= 2x"],
        ["  import floor (" + ", ".join(waits.FLOOR_LIBRARIES) + ")", f"{min(runs.floor_s):.2f} s", ""],
        ["  `sim --help` / `sim validate baseline`", f"{min(runs.help_s):.2f} s / {min(runs.validate_s):.2f} s", ""],
        [f"sweep CPU per run ({sweeps.small_runs} vs {sweeps.large_runs} runs, 1 worker, incl. workers)",
         f"{1e3 * sweeps.per_run:.1f} ms: overhead {1e3 * sweeps.overhead:.1f} ms = {100 * sweeps.share:.0f}% "
         f"of a replicate ({1e3 * sweeps.replicate_s:.1f} ms, timed here between the sweeps)", "<= 50%"],
        ["  the same sweeps, each less the replicates its workers timed",
         f"overhead {1e3 * sweeps.overhead_inside:.1f} ms = {100 * sweeps.share_inside:.0f}% of a replicate "
         f"({1e3 * sweeps.replicate_inside:.1f} ms there)", "<= 50%"],
        [f"peak memory at {large:,} firms", f"{peak_gb:.2f} GB", "< 4 GB"],
    ]
    print_table("Where users wait, CPU seconds (user + system)", ["figure", "measured", "target"], rows)
    return {"replicate_cpu_s": cpu.replicate_s, "mesa_same_size_cpu_s": cpu.mesa_s, "ratio_same_size": cpu.ratio,
            "ratio_yardstick_rate": yardstick_s / cpu.replicate, "import_floor_cpu_s": runs.floor_s,
            "sim_run_cpu_s": runs.run_s, "sim_run_over_floor": runs.ratio, "help_cpu_s": runs.help_s,
            "validate_cpu_s": runs.validate_s, "sweep_small_cpu_s": sweeps.small_s,
            "sweep_large_cpu_s": sweeps.large_s, "sweep_runs": [sweeps.small_runs, sweeps.large_runs],
            "sweep_cpu_per_run_s": sweeps.per_run, "sweep_overhead_per_run_s": sweeps.overhead,
            "sweep_overhead_share": sweeps.share, "sweep_overhead_inside_s": sweeps.overhead_inside,
            "sweep_replicate_inside_s": sweeps.replicate_inside, "sweep_overhead_inside_share": sweeps.share_inside,
            "sweep_replicate_between_s": sweeps.replicate_between_s}


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    cells = [header] + [[f"{v:,.3g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        aligned = (c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  " + "  ".join(aligned))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check in seconds")
    parser.add_argument("--repeats", type=int, help="timings per size, best kept (default 3; quick 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    quick = args.quick
    small, large = (5_000, 50_000) if quick else (50_000, 500_000)
    ref_agents, ref_steps = (10_000, 10) if quick else (100_000, 32)
    repeats = args.repeats or (1 if quick else 3)
    default_firms = 4_000
    figures: dict[str, object] = {"machine": machine(), "quick": quick}
    print("Machine:", ", ".join(f"{k} {v}" for k, v in figures["machine"].items()))

    # 1-2. The yardstick around the whole-`sim run` timings, so both see the same machine load.
    references = [reference.measure(ref_agents, ref_steps)]
    quarters = 32
    runs: dict[int, list[tuple[float, float, float]]] = {small: [], large: []}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            for firms in (small, large):
                runs[firms].append(sim_run_process(firms, Path(out) / str(firms), []))
    references.append(reference.measure(ref_agents, ref_steps))
    firm_steps = (large - small) * quarters
    best = {n: (min(r[0] for r in runs[n]), min(r[1] for r in runs[n])) for n in runs}
    marginal_wall = firm_steps / (best[large][0] - best[small][0])
    marginal = firm_steps / (best[large][1] - best[small][1])
    ref_wall = max(r.agent_steps_per_s for r in references)
    ref_cpu = max(r.agent_steps_per_cpu_s for r in references)
    ratio, ratio_wall = marginal / ref_cpu, marginal_wall / ref_wall
    peak_gb = max(r[2] for r in runs[large])
    print_table(
        f"Idiomatic Mesa yardstick: Boltzmann exchange, {ref_agents:,} agents x {ref_steps} steps",
        ["measured", "agent-steps/s (wall)", "agent-steps/s (CPU)", "create us/agent"],
        [[label, r.agent_steps_per_s, r.agent_steps_per_cpu_s, r.create_us_per_agent]
         for label, r in zip(("before", "after"), references, strict=True)],
    )
    print_table(
        f"Whole `sim run` of the baseline ({quarters} quarters, 1 replicate, outputs written), best of {repeats}",
        ["firms", "wall s (each)", "CPU s (each)", "best wall s", "best CPU s", "peak RSS GB"],
        [[f"{n:,}", " ".join(f"{r[0]:.2f}" for r in runs[n]), " ".join(f"{r[1]:.2f}" for r in runs[n]),
          best[n][0], best[n][1], max(r[2] for r in runs[n])] for n in (small, large)],
    )
    print(f"\n  marginal throughput, CPU time:  {marginal / 1e6:.2f} M firm-steps/s = {ratio:.1f} x the yardstick "
          f"({ref_cpu / 1e6:.2f} M agent-steps/s)")
    print(f"  marginal throughput, wall time: {marginal_wall / 1e6:.2f} M firm-steps/s = {ratio_wall:.1f} x the "
          f"yardstick ({ref_wall / 1e6:.2f} M agent-steps/s)   (yardstick: the faster of its two measurements)")
    print(f"  peak memory of the {large:,}-firm run: {peak_gb:.2f} GB")
    figures.update(reference=[r.__dict__ for r in references], sim_run={str(n): runs[n] for n in runs},
                   marginal_firm_steps_per_cpu_s=marginal, marginal_firm_steps_per_wall_s=marginal_wall,
                   ratio_cpu=ratio, ratio_wall=ratio_wall, peak_rss_gb=peak_gb)

    # 2b. Where users wait (issue 18), in CPU seconds against the same references.
    waited = where_users_wait(quick, ref_cpu, marginal, ratio, peak_gb, large)
    figures["where_users_wait"] = waited

    # 3. The quarters by phase.
    from sim.scenario import prepare

    profiles: list[PhaseProfile] = []
    for firms in (default_firms, small, large):
        prepared = prepare(BASELINE, [f"population.firms={firms}"])
        profiles.append(profile_run(prepared.scenario, prepared.world, seed=1))
    names = [phase.name for phase in PHASES]
    print_table(
        "One quarter by phase, ms per step (mean over the run's quarters); model build in s",
        ["firms", *names, "other", "step", "build s", "ns/firm-step"],
        [[f"{p.firms:,}", *(p.per_step_ms(n) for n in names), p.other_ms, p.step_ms, p.build_s,
          1e6 * p.step_ms / p.firms] for p in profiles],
    )
    figures["phases"] = [p.__dict__ for p in profiles]

    # 4. Memory across a long run of replicates in one process.
    # Finished models are cyclic garbage (a model and its agents point at each other): Python's
    # full collections free them every so many replicates, so memory rises, then stays level.
    n_memory = 8 if quick else 240
    rss, live = memory_over_replicates(n_memory, default_firms)
    marks = sorted({1, *(n_memory * k // 4 for k in range(1, 5))})
    last = rss[-(len(rss) // 4):]
    slope = float(np.polyfit(np.arange(len(last)), last, 1)[0]) if len(last) > 1 else float("nan")
    print_table(
        f"Resident memory over {n_memory} replicates in one process ({default_firms:,} firms each)",
        ["after replicate", *map(str, marks), "MB per replicate (last quarter)", "models alive at end"],
        [["RSS MB", *(rss[m - 1] for m in marks), slope, live]],
    )
    figures["memory_over_replicates_mb"] = rss
    figures["models_alive_after_replicates"] = live

    # 5. Per-run overheads and throughput at the default size.
    parts = overheads(default_firms)
    print_table(f"One default-size run ({default_firms:,} firms) by part, s", list(parts), [list(parts.values())])
    n_runs = 4 if quick else 24
    trials: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for _ in range(repeats):  # interleaved, best kept: other users' load comes and goes
        for w in trials:
            trials[w].append(replicate_throughput(default_firms, n_runs, w))
    throughput = {w: max(t) for w, t in trials.items()}
    sweep_trials: dict[int, list[tuple[float, int] | str]] = {1: [], 2: []}
    for _ in range(repeats):  # interleaved, best kept; the first also pays the sweep's lazy imports
        for w in sweep_trials:
            sweep_trials[w].append(sweep_throughput(w, 1 if quick else 3))
    sweeps = {w: max((t for t in trials_w if isinstance(t, tuple)), default=trials_w[0])
              for w, trials_w in sweep_trials.items()}
    rows: list[list[object]] = [[f"sim.run, {n_runs} replicates", throughput[1][0], throughput[2][0],
                                 throughput[2][0] / throughput[1][0], throughput[1][1], throughput[2][1]]]
    if all(isinstance(s, tuple) for s in sweeps.values()):
        rows.append([f"sim.sweep, {sweeps[1][1]} runs", sweeps[1][0], sweeps[2][0], sweeps[2][0] / sweeps[1][0],
                     "", ""])
    print_table(f"Throughput at the default size: runs per minute (wall, best of {repeats}), and CPU s per run",
                ["", "1 worker", "2 workers", "speed-up", "CPU s/run, 1", "CPU s/run, 2"], rows)
    for w, s in sweeps.items():
        if not isinstance(s, tuple):
            print(f"  sim.sweep on {w} worker(s): {s}")
    figures.update(overheads_s=parts, runs_per_min=throughput,
                   sweep_runs_per_min={w: s if isinstance(s, str) else s[0] for w, s in sweeps.items()})

    # 6. How cost grows.
    growth = scaling.measure(quick, repeats)
    print_table(f"How the cost of a run grows (model build + all quarters, one replicate, best of {repeats})",
                ["what varies", "value", "firms", "countries", "families", "quarters", "s", "ms/quarter"],
                [[r.varies, r.value, f"{r.firms:,}", r.countries, r.families, r.quarters, r.seconds,
                  1e3 * r.seconds / r.quarters] for r in growth])
    figures["scaling"] = [r.__dict__ for r in growth]

    if quick:  # at these sizes start-up and writing outweigh the firms: the ratio means little
        print(f"\nTargets are judged by a full run only (--quick measured {ratio:.1f}x, {peak_gb:.2f} GB)")
    else:
        done = "MET" if ratio >= 5 and peak_gb < 4 else "NOT MET"
        print(f"\nTargets (>= 5x the yardstick, < 4 GB at {large:,} firms): {done} "
              f"({ratio:.1f}x in CPU time, {ratio_wall:.1f}x in wall time; {peak_gb:.2f} GB)")
    print(f"Load average at the end: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
