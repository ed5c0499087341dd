"""Class play at classroom size: 30 students deciding from 30 threads, 8 rounds of a year over the
baseline (2023Q1-2030Q4), then the replay without their moves and the debrief.

Prints, per round, the CPU and wall seconds of `ClassRoom.advance()` (it re-simulates the preset plus
every decision so far from the start, so later rounds cost more: round k simulates 4k quarters), the
time the 30 students' decisions took, and memory: the process's peak RSS and the Python heap that
tracemalloc sees (with --trace-memory, which slows the run: times from such a run are not the real ones).

    .venv/bin/python benchmarks/classplay.py [--students 30] [--rounds 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import threading
import time
import tracemalloc
from pathlib import Path

from sim.classplay import ClassRoom, StudentView

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def rss_mb() -> float:
    """Peak resident set size of this process so far [MB] (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def play_round(room: ClassRoom, tokens: list[str], round_: int) -> float:
    """Every student looks at their page and decides, all at once; wall seconds it took."""
    barrier = threading.Barrier(len(tokens))

    def student(i: int) -> None:
        rng = random.Random(1000 * round_ + i)
        barrier.wait()
        view = room.view(tokens[i])
        if isinstance(view, StudentView) and i % 10 != 9:  # one in ten leaves it to the model
            room.decide(tokens[i], rng.choice(view.options).id)

    started = time.perf_counter()
    threads = [threading.Thread(target=student, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--trace-memory", action="store_true",
                        help="also measure the Python heap with tracemalloc (it slows every allocation: "
                             "the times are then not the real ones)")
    args = parser.parse_args()

    if args.trace_memory:
        tracemalloc.start()
    heap_start = tracemalloc.get_traced_memory()[0] / 2**20
    rss_start = rss_mb()
    opened = time.perf_counter()
    room = ClassRoom(BASELINE, round_quarters=4, rounds=args.rounds)
    tokens = [room.join(f"student {i}").value for i in range(args.students)]
    open_s = time.perf_counter() - opened
    started = time.perf_counter()
    room.replay()  # as a page does when the class opens: the world without moves is drawn beside it
    replay_s = time.perf_counter() - started
    rounds = []
    for k in range(1, args.rounds + 1):
        decide_s = play_round(room, tokens, k)
        outcome = room.advance()
        if not outcome.ok:
            raise SystemExit(outcome.message)
        rounds.append({"round": k, "quarters_simulated": 4 * k, "decisions_s": round(decide_s, 3),
                       "advance_cpu_s": round(outcome.value["cpu_s"], 3),
                       "advance_wall_s": round(outcome.value["wall_s"], 3)})
    heap_played, peak_played = (m / 2**20 for m in tracemalloc.get_traced_memory())
    rss_played = rss_mb()
    started = time.perf_counter()
    debrief = room.debrief()
    comparison = room.comparison()
    debrief_s = time.perf_counter() - started
    heap_end, peak_end = (m / 2**20 for m in tracemalloc.get_traced_memory())
    result = {
        "students": args.students, "rounds": rounds, "open_class_s": round(open_s, 3),
        "replay_s": round(replay_s, 3), "debrief_and_comparison_s": round(debrief_s, 3),
        "decisions": len(room.decisions()), "debrief_rows": len(debrief), "comparison_rows": len(comparison),
        "memory_mb": {"rss_peak_start": round(rss_start, 1), "rss_peak_after_rounds": round(rss_played, 1),
                      "rss_peak_end": round(rss_mb(), 1)},
    }
    if args.trace_memory:
        result["memory_mb"].update(heap_start=round(heap_start, 1), heap_after_rounds=round(heap_played, 1),
                                   heap_peak_rounds=round(peak_played, 1), heap_end=round(heap_end, 1),
                                   heap_peak_end=round(peak_end, 1))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"class of {args.students} on baseline, rounds of a year; opened in {open_s:.2f} s, "
          f"replay (the preset's own run, first model of the process) {replay_s:.2f} s")
    print("round  quarters  decisions_s  advance_cpu_s  advance_wall_s")
    for r in rounds:
        print(f"{r['round']:>5}  {r['quarters_simulated']:>8}  {r['decisions_s']:>11.3f}  {r['advance_cpu_s']:>13.3f}"
              f"  {r['advance_wall_s']:>14.3f}")
    print(f"debrief + comparison: {debrief_s:.2f} s; {len(room.decisions())} decisions")
    print("memory [MB]: " + ", ".join(f"{k} {v}" for k, v in result["memory_mb"].items()))


if __name__ == "__main__":
    main()
