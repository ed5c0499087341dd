"""Size limits, checked before anything big is allocated: the memory a run would need against what there is.

A scenario is refused when one replicate would not fit in memory (`sim validate`, `run`, `explain`
all check it); `sim run` also refuses a replicate count and worker count whose total would not fit.
The estimate is built from the sizes that drive memory, with per-item costs measured on this code
(docs/faults.md, "Limits", has the measurements):

    one replicate = INTERPRETER_BYTES
                  + firms x (FIRM_ARRAY_BYTES + families x FIRM_FAMILY_BYTES)
                  + metric rows of the replicate x ROW_BYTES
    a run         = replicates running at once x one replicate
                  + every replicate's metric rows x ROW_BYTES (kept for the tables, the summary and the CSV)

The limit is this machine's memory: the physical memory, or the container's cgroup limit when lower,
or the `SIM_MEMORY_LIMIT` environment variable (bytes, or a size like `8G`, `512M`) when set.
The horizon has its own validity limit (`MAX_QUARTERS` in the schema); its memory cost is in the rows.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sim import metrics_registry
from sim.errors import InputError, Problem
from sim.metrics_registry import PROGRAMME_KINDS
from sim.scenario.load import LoadedScenario
from sim.scenario.schema import Scenario
from sim.workers import processes_for
from sim.world import World

# Memory costs, in bytes, measured on Python 3.11 / numpy 2.4 / Mesa 3.3.1 (docs/faults.md, "Limits").
INTERPRETER_BYTES = 250 * 2**20  # Python with numpy, pandas, Mesa and matplotlib loaded (226 MiB measured)
# A firm's entries in the model's per-firm arrays: country, sector, cell, family, compliance, size,
# the quarter's adoption and re-evaluation draws (about 42 measured).
FIRM_ARRAY_BYTES = 48
# Per firm and model family, in a quarter where every firm chooses: for each of the family's two
# release lines the chooser's utility (8), Gumbel noise (8) and availability (1), plus the noise's
# counter-hash temporaries (about 12); 55 per family measured (tests/test_faults.py).
FIRM_FAMILY_BYTES = 60
ROW_BYTES = 1000  # one metric value: the model's row, the tidy frame, the summary and CSV text (750-1100 measured)

ENV_LIMIT = "SIM_MEMORY_LIMIT"
FALLBACK_LIMIT = 8 * 2**30  # where the platform does not say how much memory it has
_CGROUP_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class LimitError(Exception):
    """A run too big for this machine, or an unreadable limit setting (exit 2; one line for the user)."""


@dataclass(frozen=True)
class MemoryLimit:
    bytes: int
    origin: str  # where the number comes from, for the message


def human_bytes(count: float) -> str:
    """`1.5 GB`-style sizes (powers of 1024, as memory is sold and reported)."""
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if value < 1024 or unit == "PB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """Bytes from `12345`, `512M`, `8G`, `8GB`, `1.5GiB` (powers of 1024); ValueError otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(text)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _cgroup_limit() -> int | None:
    for name in _CGROUP_FILES:
        try:
            text = Path(name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number means no limit
            return int(text)
    return None


def memory_limit() -> MemoryLimit:
    """How much memory a run may use: SIM_MEMORY_LIMIT if set, else physical memory or the cgroup limit."""
    setting = os.environ.get(ENV_LIMIT)
    if setting is not None:
        try:
            size = parse_size(setting)
        except ValueError:
            raise LimitError(
                f"{ENV_LIMIT}={setting!r} is not a memory size; write bytes or a size like 8G or 512M"
            ) from None
        if size <= 0:
            raise LimitError(f"{ENV_LIMIT}={setting!r} must be more than 0")
        return MemoryLimit(size, f"set by {ENV_LIMIT}")
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        physical = 0
    cgroup = _cgroup_limit()
    if cgroup is not None and (physical <= 0 or cgroup < physical):
        return MemoryLimit(cgroup, f"this container's memory limit; set {ENV_LIMIT} to change it")
    if physical > 0:
        return MemoryLimit(physical, f"this machine's memory; set {ENV_LIMIT} to change it")
    return MemoryLimit(FALLBACK_LIMIT, f"the platform does not report its memory; set {ENV_LIMIT}")


# --------------------------------------------------------------------------- the estimate
def rows_per_quarter(scenario: Scenario, world: World) -> int:
    """An upper bound on the metric values recorded per quarter: every group of the metric registry."""
    programmes = sum(1 for rule in scenario.rules.values() if rule.kind in PROGRAMME_KINDS)
    return metrics_registry.rows_per_quarter(len(world.families), programmes, len(world.countries))


def rows_per_replicate(scenario: Scenario, world: World) -> int:
    return rows_per_quarter(scenario, world) * scenario.time.quarters


def firm_bytes(world: World) -> int:
    """Memory per firm in one replicate, at the peak of a quarter in which every firm chooses.

    Mesa firm agents are not counted: they are created only when someone looks at them (the
    classroom page, a notebook), about 500 bytes each; batch runs never do.
    """
    return FIRM_ARRAY_BYTES + len(world.families) * FIRM_FAMILY_BYTES


def replicate_bytes(scenario: Scenario, world: World) -> int:
    """Peak memory of a process simulating one replicate (interpreter included)."""
    return (
        INTERPRETER_BYTES
        + scenario.population.firms * firm_bytes(world)
        + rows_per_replicate(scenario, world) * ROW_BYTES
    )


def run_bytes(scenario: Scenario, world: World, replicates: int, workers: int) -> int:
    """Peak memory of a whole run: the replicates in flight plus every replicate's rows in the tables."""
    in_flight = max(1, processes_for(workers, replicates))
    return in_flight * replicate_bytes(scenario, world) + replicates * rows_per_replicate(scenario, world) * ROW_BYTES


def usable_workers(workers: int, scenarios: list[Scenario], world: World) -> tuple[int, str]:
    """How many local worker processes a sweep of these runs starts, and why fewer than asked ('' if not).

    At most one per CPU (more only queue for the same cores and add a process's memory each) and as many
    as fit in memory with the largest run at once; never more than there are runs (that needs no note)."""
    cpus = os.cpu_count() or 1
    limit = memory_limit()
    sizes = {(s.population.firms, s.time.quarters, len(s.rules)): s for s in scenarios}  # same size, same cost
    largest = max((replicate_bytes(s, world) for s in sizes.values()), default=0)
    fit = max(1, limit.bytes // largest) if largest else workers
    usable = max(1, min(workers, cpus, fit))
    if usable >= workers:
        return min(workers, max(1, len(scenarios))), ""
    why = (f"{cpus} CPU{'s' if cpus != 1 else ''}" if usable == cpus else
           f"{fit} run(s) of up to {human_bytes(largest)} fit in the memory limit of {human_bytes(limit.bytes)} "
           f"({limit.origin})")
    return min(usable, max(1, len(scenarios))), f"--workers {workers}: starting {usable} worker process(es) ({why})"


# --------------------------------------------------------------------------- the checks
def check_scenario_size(loaded: LoadedScenario, world: World) -> None:
    """Refuse a scenario one replicate of which would not fit in memory, at `population.firms`."""
    scenario = loaded.scenario
    limit = memory_limit()
    need = replicate_bytes(scenario, world)
    if need <= limit.bytes:
        return
    per_firm = firm_bytes(world)
    rows = rows_per_replicate(scenario, world)
    fixed = INTERPRETER_BYTES + rows * ROW_BYTES
    fits = max(0, (limit.bytes - fixed) // per_firm)
    advice = f"at most about {fits:,} firms fit" if fits else "even a few firms do not fit"
    file, line, column = loaded.sources.locate(("population", "firms"))
    raise InputError(
        [
            Problem(
                file,
                line,
                column,
                "population.firms",
                f"{scenario.population.firms:,} firms would need about {human_bytes(need)} of memory for one "
                f"replicate ({per_firm} bytes per firm with {len(world.families)} model families, plus "
                f"{human_bytes(rows * ROW_BYTES)} for {rows:,} metric values and "
                f"{human_bytes(INTERPRETER_BYTES)} for Python); the limit is {human_bytes(limit.bytes)} "
                f"({limit.origin}); {advice}",
            )
        ]
    )


def check_run_size(scenario: Scenario, world: World, replicates: int, workers: int) -> None:
    """Refuse `--replicates`/`--workers` whose run would not fit in memory, before anything runs."""
    limit = memory_limit()
    need = run_bytes(scenario, world, replicates, workers)
    if need <= limit.bytes:
        return
    one = replicate_bytes(scenario, world)
    rows = rows_per_replicate(scenario, world) * ROW_BYTES
    in_flight = max(1, processes_for(workers, replicates))
    fits = max(0, math.floor((limit.bytes - in_flight * one) / rows)) if rows else 0
    advice = f"at most about {fits:,} replicates fit" if fits else "use fewer workers"
    raise LimitError(
        f"--replicates {replicates:,} --workers {workers}: the run would need about {human_bytes(need)} of "
        f"memory ({in_flight} replicate(s) at once at {human_bytes(one)} each, plus {human_bytes(rows)} of "
        f"metric values per replicate kept for the tables); the limit is {human_bytes(limit.bytes)} "
        f"({limit.origin}); {advice}"
    )
