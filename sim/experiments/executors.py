"""Where runs execute: local worker processes, or a Dask distributed cluster. Same results either way.

`execute` runs one simulation and reduces its outcomes; it never raises for a failed model (the
failure is the run's status). An executor takes tasks and yields one output per task.

The local executor runs on the one worker pool (`sim.workers`, also used for replicates): a worker
that dies (killed, out of memory) becomes a `worker-died` output naming that run, the worker is
replaced and the other runs go on; workers are recycled every `runs_per_worker` runs, which keeps
memory flat whatever Mesa 3.3.1 keeps alive; outputs come in task order.

A task may name the sweep's folder of parts (`PartFolder`): a worker that sees that very folder
(same host, device and inode) stores the run's Parquet part there itself and returns its sha256 and
row count, so the ~7 MB table is neither pickled back nor encoded by the sweep's one process. A
Dask worker on another machine, even one with a shared file system, does not recognise it and sends
the table back as before.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import re
import socket
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import pandas as pd

from sim.experiments.schema import Outcome
from sim.scenario.schema import Scenario
from sim.workers import WorkerDiedError, describe_exit, run_jobs
from sim.world import World

if TYPE_CHECKING:  # distributed is imported only when a Dask sweep runs
    from distributed import Client, Future

# A worker exits after this many runs, so leaks cannot accumulate. More than the pool's default for replicates
# (JOBS_PER_WORKER): a new worker's first run costs ~65 ms more CPU than the next (numpy, pandas and pyarrow's
# first calls, the label caches), ~2.6 ms a run when paid every 25 runs, ~0.7 ms every 100; one worker's
# memory went 171 -> 173 -> 178 -> 190 MB after 3, 25, 100 and 200 baseline runs (measured 2026-12-01).
RUNS_PER_WORKER = 100
STATUS_OK, STATUS_FAILED, STATUS_DIED = "ok", "failed", "worker-died"
CONNECT_TIMEOUT_S = 15  # seconds to wait for a Dask scheduler before giving up


class SetupError(RuntimeError):
    """The sweep cannot start here: a missing optional package, or a Dask scheduler out of reach."""


def require(*modules: str) -> None:
    """Import optional packages up front, so a missing one is a clear message, not a crash mid-sweep."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise SetupError(
                f"this needs the Python package {module!r}: pip install ai-geopolitics-sim"
            ) from None


@dataclass(frozen=True)
class PartFolder:
    """The sweep's folder of Parquet parts, where a worker may store a run's part itself.

    A worker writes there only when it sees the very folder the sweep opened (same host, same device
    and inode): a Dask worker on another machine, or one whose path names another folder, sends the
    timeseries back instead and the sweep's process stores it."""

    path: str
    host: str
    device: int
    inode: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> PartFolder:
        """The folder at `path` (which must exist), as this process sees it."""
        stat = os.stat(path)
        return cls(os.fspath(path), socket.gethostname(), stat.st_dev, stat.st_ino)

    def reachable(self) -> bool:
        """Whether this process sees the same folder (so a part written here is where the sweep looks)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return socket.gethostname() == self.host and (stat.st_dev, stat.st_ino) == (self.device, self.inode)


@dataclass
class RunTask:
    run_id: str
    scenario: Scenario
    replicate: int
    seed: int
    outcomes: Mapping[str, Outcome]
    world: World | None = None  # None when the executor supplies it (Dask scatters it once)
    parts: PartFolder | None = None  # where the worker stores the run's part itself (None: send it back)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with its world and scenario as `_Pickled`: their bytes made once per object, not once a task."""
        state = self.__dict__.copy()
        for name in ("scenario", "world"):
            if state[name] is not None:
                state[name] = _Pickled.of(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("scenario", "world"):
            if isinstance(state.get(name), _Pickled):
                state[name] = state[name].load()
        self.__dict__.update(state)


class _Pickled:
    """A task's world or scenario as its pickle's bytes and their sha256. Every task of a sweep carries the same
    world (~65 kB), and a design point's replicates the same scenario (~12 kB): the process making the tasks
    pickles each object once (by identity; neither is changed once made, as `sim run`'s replicates share
    theirs), and a worker unpickles each distinct one once (by its bytes' digest) and shares it between its
    runs, instead of both once a run: ~1 ms a run together. A task still carries both whole, so any worker
    can run any task."""

    __slots__ = ("data", "digest")

    def __init__(self, digest: str, data: bytes):
        self.digest, self.data = digest, data

    def __getstate__(self) -> tuple[str, bytes]:
        return self.digest, self.data

    def __setstate__(self, state: tuple[str, bytes]) -> None:
        self.digest, self.data = state

    @classmethod
    def of(cls, thing: Any) -> _Pickled:
        made = _MADE.get(id(thing))
        if made is not None and made[0] is thing:
            _remember(_MADE, id(thing), made)
            return made[1]
        data = pickle.dumps(thing, protocol=pickle.HIGHEST_PROTOCOL)
        pickled = cls(hashlib.sha256(data).hexdigest(), data)
        _remember(_MADE, id(thing), (thing, pickled))  # the object kept alive: its id is not reused meanwhile
        return pickled

    def load(self) -> Any:
        thing = _LOADED.get(self.digest)
        if thing is None:
            thing = pickle.loads(self.data)
        _remember(_LOADED, self.digest, thing)
        return thing


_KEPT = 8  # objects remembered on each side: the world and the last few scenarios
_MADE: dict[int, tuple[Any, _Pickled]] = {}  # where tasks are pickled: id -> (the object, its pickle)
_LOADED: dict[str, Any] = {}  # in a worker: digest -> the object unpickled from those bytes


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Put `value` in `cache` as its newest entry, dropping the least recently used beyond `_KEPT`."""
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > _KEPT:
        del cache[next(iter(cache))]


class TaskList(Sequence[RunTask]):
    """Tasks made when they are taken (the worker pool looks a few ahead), not all at once: each holds
    a scenario, and a sweep of 200,000 runs must not hold 200,000 of them."""

    def __init__(self, size: int, make: Callable[[int], RunTask]):
        self.size, self.make = size, make

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> RunTask: ...
    @overload
    def __getitem__(self, index: slice) -> list[RunTask]: ...
    def __getitem__(self, index: int | slice) -> RunTask | list[RunTask]:
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return self.make(index % self.size)


@dataclass
class RunOutput:
    run_id: str
    status: str
    outcomes: dict[str, float] = field(default_factory=dict)
    timeseries: pd.DataFrame | None = None  # sent back when the worker did not store the part itself
    part: dict[str, Any] | None = None  # {"sha256", "rows"} of the part the worker stored in `RunTask.parts`
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    worker: str = ""


def execute(task: RunTask, world: World | None = None) -> RunOutput:
    """Run one simulation; a model failure becomes status `failed` with its traceback."""
    from sim.experiments.outcomes import compute_outcomes
    from sim.runner import run_replicate

    started = time.perf_counter()
    where = f"pid {os.getpid()}"
    try:
        run_world = world or task.world
        if run_world is None:
            raise ValueError(f"run {task.run_id} has no world data: set RunTask.world or pass the world")
        result = run_replicate(task.scenario, run_world, task.replicate, task.seed)
        outcomes = compute_outcomes(result.timeseries, task.outcomes)
    except Exception as error:
        return RunOutput(task.run_id, STATUS_FAILED, error=f"{type(error).__name__}: {error}",
                         traceback=traceback.format_exc(), seconds=time.perf_counter() - started, worker=where)
    series = result.timeseries
    if task.parts is not None and task.parts.reachable():
        # Stored here, the ~7 MB table is neither pickled to the sweep's process nor written by it (which
        # would serialise every run's Parquet encoding in one process); the sweep records the index line.
        from sim.experiments.store import write_part

        try:  # the run_id column is put first in the part (not into the frame)
            entry = write_part(os.path.join(task.parts.path, f"{task.run_id}.parquet"), series, task.run_id)
        except OSError:  # e.g. a full disk: sent back, the sweep's process writes it and reports the error
            entry = None
        if entry is not None:
            return RunOutput(task.run_id, STATUS_OK, outcomes, part=entry,
                             seconds=time.perf_counter() - started, worker=where)
    series.insert(0, "run_id", task.run_id)
    return RunOutput(task.run_id, STATUS_OK, outcomes, series, seconds=time.perf_counter() - started, worker=where)


class LocalExecutor:
    """Runs tasks in `workers` local processes (in this process when `workers` is 1 and `inline`)."""

    def __init__(self, workers: int = 1, runs_per_worker: int = RUNS_PER_WORKER, inline: bool = False):
        self.workers, self.runs_per_worker, self.inline = max(1, workers), max(1, runs_per_worker), inline
        self.name = f"{self.workers} local worker{'s' if self.workers > 1 else ''}"

    def run(self, tasks: Iterable[RunTask]) -> Generator[RunOutput, None, None]:
        """One output per task, in task order; a dead worker's run is a `worker-died` output."""
        tasks = tasks if isinstance(tasks, Sequence) else list(tasks)  # a TaskList stays lazy
        if self.inline:
            for task in tasks:
                yield execute(task)
            return
        for finished in run_jobs(execute, tasks, self.workers, jobs_per_worker=self.runs_per_worker, keep_going=True):
            if finished.error is None:  # its output names its run: no task rebuilt (a TaskList builds a scenario)
                yield finished.result
                continue
            run_id, where = tasks[finished.index].run_id, f"pid {finished.pid}"
            if isinstance(finished.error, WorkerDiedError):
                how = describe_exit(finished.error.exitcode)
                message = f"worker process {finished.pid} {how} while running this run"
                yield RunOutput(run_id, STATUS_DIED, error=message, worker=where)
            else:  # `execute` catches the model's errors; this is anything else
                yield RunOutput(run_id, STATUS_FAILED, error=str(finished.error),
                                traceback=finished.error.traceback_text, worker=where)


_ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):([0-9]{1,5})")
ADDRESS_EXAMPLE = "tcp://HOST:PORT, like tcp://10.0.0.5:8786"


def address_problem(address: str) -> str | None:
    """Why `address` is not a Dask scheduler address (scheme tcp, tls, ws or wss, a host and a port), or None.

    Checked before connecting: distributed refuses a malformed address only after starting a client whose
    clean-up then prints a traceback."""
    match = _ADDRESS.fullmatch(address)
    if match is None:
        return f"{address!r} is not a scheduler address; write {ADDRESS_EXAMPLE}"
    if not 1 <= int(match.group(2)) <= 65535:
        return f"port {int(match.group(2))} of {address!r} is outside 1-65535"
    return None


class DaskExecutor:
    """Runs tasks on a Dask distributed cluster (`tcp://host:port`, or a Client or LocalCluster)."""

    def __init__(self, scheduler: object, in_flight_per_thread: int = 2):
        self.scheduler, self.in_flight_per_thread = scheduler, in_flight_per_thread
        self.name = f"Dask scheduler {getattr(scheduler, 'scheduler_address', scheduler)}"

    def _client(self) -> tuple[Client, bool]:
        require("distributed")
        from distributed import Client

        if isinstance(self.scheduler, Client):
            return self.scheduler, False
        problem = address_problem(self.scheduler) if isinstance(self.scheduler, str) else None
        if problem:
            raise SetupError(problem)
        try:
            return Client(self.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT_S), True
        except (OSError, TimeoutError, ValueError) as error:
            raise SetupError(f"cannot reach the Dask scheduler at {self.scheduler}: {error}") from None

    def run(self, tasks: Iterable[RunTask]) -> Generator[RunOutput, None, None]:
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        pending = iter(tasks)  # taken one by one as runs finish: a TaskList stays lazy
        first = next(pending, None)
        if first is None:
            return
        pending = itertools.chain([first], pending)
        client, owned = self._client()
        try:
            world = first.world
            world_future = client.scatter(world, broadcast=True, hash=False)
            threads = sum(client.nthreads().values()) or 1
            limit = max(2, threads * self.in_flight_per_thread)  # bounded, so memory stays flat
            by_future: dict[Future, RunTask] = {}

            def submit() -> list[Future]:
                new = []
                while len(by_future) < limit:
                    task = next(pending, None)
                    if task is None:
                        break
                    light = RunTask(task.run_id, task.scenario, task.replicate, task.seed, task.outcomes,
                                    parts=task.parts)
                    future = client.submit(execute, light, world_future, pure=False)
                    by_future[future] = task
                    new.append(future)
                return new

            queue = as_completed(submit(), loop=client.loop)
            for future in queue:
                task = by_future.pop(future)
                try:
                    output = future.result()
                except KilledWorker as error:
                    output = RunOutput(task.run_id, STATUS_DIED, error=f"Dask worker died while running this run "
                                       f"({error})")
                except FutureCancelledError as error:
                    output = RunOutput(task.run_id, STATUS_FAILED, error=f"cancelled by the cluster ({error})")
                future.release()
                for added in submit():
                    queue.add(added)
                yield output
        finally:
            if owned:
                client.close()
