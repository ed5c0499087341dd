"""The one pool of worker processes: replicates (`sim run`, `sim compare`) and local sweeps use it.

Guarantees, each checked by a test:
- a worker that dies (SIGKILL, the out-of-memory killer, `os._exit`) is reported with the job it
  held, its pid and how it ended; the caller chooses to stop everything (`sim run`) or to record
  that one job and go on (`sim sweep`, where the pool replaces the worker);
- each worker exits after `jobs_per_worker` jobs and is replaced, so memory stays flat although
  Mesa 3.3.1 keeps every model alive in a class-level dict;
- workers come from the `forkserver` start method. `import mesa` rules out `fork` (the parent may
  hold threads: Dask client, progress bar, Arrow pools) and makes `spawn` slow (every worker would
  import mesa, pandas and the model again); the fork server imports them once
  (`sim.workers_preload`) and forks each worker from that clean, warm process;
- workers ignore SIGINT from birth: Ctrl-C reaches the whole process group and the parent alone
  decides (it stops its workers on the way out, so no worker prints a traceback);
- results come back in job order, not completion order, so outputs do not depend on the number of
  workers. A worker is not given a job more than `LOOKAHEAD` jobs ahead of the first unfinished
  one, which bounds the results held back for ordering.

Why not `pebble` (5.2.3, which has `ProcessPool(max_tasks=, context=)` and names the exit code in
`ProcessExpired`): its workers share one task pipe and one result pipe, guarded by cross-process
locks. A worker killed while it holds them (e.g. while sending a large result, when memory is
tightest) leaves the lock held and half a message in the shared pipe, and every other job then
waits forever: with 2 workers, killing one as it returns a 400 MB result left the other jobs
unfinished after 80 s. One job's death must not stop the other runs of a sweep, so each worker here
has its own pipe, and a dead worker loses only its own job.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Job = TypeVar("Job")
JOBS_PER_WORKER = 25  # a worker exits after this many jobs, so what Mesa keeps alive cannot accumulate
LOOKAHEAD = 4  # per worker: how far ahead of the first unfinished job work is handed out
PRELOAD = ["sim.workers_preload"]  # imported once by the fork server; see that module
_JOIN_TIMEOUT_S = 5.0  # how long a terminated worker gets to exit before it is killed


class WorkerDiedError(RuntimeError):
    """A worker process ended while running a job (killed by a signal, out of memory, os._exit)."""

    def __init__(self, index: int, pid: int | None, exitcode: int | None):
        self.index, self.pid, self.exitcode = index, pid, exitcode
        super().__init__(f"its worker process (pid {pid}) {describe_exit(exitcode)}")


class JobError(RuntimeError):
    """A job raised an exception in its worker; the worker's traceback text is kept."""

    def __init__(self, index: int, error_type: str, message: str, traceback_text: str):
        self.index, self.error_type, self.traceback_text = index, error_type, traceback_text
        super().__init__(f"{error_type}: {message}" if message else error_type)


@dataclass
class Finished:
    """One job's end: its `result`, or the `error` that ended it (with `keep_going`)."""

    index: int
    result: Any = None
    error: WorkerDiedError | JobError | None = None
    pid: int | None = None  # the worker process that ran it


def describe_exit(exitcode: int | None) -> str:
    """`was killed by SIGKILL (...)` / `exited with status 3`, from a multiprocessing exit code."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the system's out-of-memory killer sends SIGKILL)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


def processes_for(workers: int, jobs: int) -> int:
    """How many worker processes a run of `jobs` with `--workers workers` starts (0: run in-process)."""
    count = min(workers, jobs, os.cpu_count() or 1)
    return count if count > 1 else 0


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The `forkserver` context, its server preloading the model (applies when it first starts)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _worker(conn: multiprocessing.connection.Connection, function: Callable[[Any], Any], jobs: int) -> None:
    # Already so when the fork server is ours (sim.workers_preload); set again in case it is not.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # SIGTERM from the parent ends a worker at once
    for _ in range(jobs):
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        index, job = message
        try:
            reply: tuple = ("ok", index, function(job))
        except BaseException as error:  # reported to the parent with the job it belongs to
            reply = ("error", index, type(error).__name__, str(error), traceback.format_exc())
        try:
            conn.send(reply)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            return  # the parent is gone
        except Exception as error:  # e.g. a result that cannot be pickled (nothing was written)
            conn.send(("error", index, type(error).__name__, str(error), traceback.format_exc()))


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    left: int  # jobs it will still take before exiting
    index: int | None = None  # the job it is running


def _start(context: multiprocessing.context.ForkServerContext, function: Callable[[Any], Any], jobs: int) -> _Slot:
    parent, child = context.Pipe()
    process = context.Process(target=_worker, args=(child, function, jobs), daemon=True)
    process.start()
    child.close()
    return _Slot(process, parent, jobs)


def _give(slot: _Slot, index: int, job: Any) -> bool:
    """Send a job; False when the worker had already ended (the job did not start there)."""
    try:
        slot.conn.send((index, job))
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return False
    slot.index, slot.left = index, slot.left - 1
    return True


def _collect(slot: _Slot, ready: list[Any]) -> Finished | None:
    """The job `slot` finished or lost, or None while it is still running."""
    index, pid = slot.index, slot.process.pid
    assert index is not None
    if slot.conn in ready or slot.conn.poll():
        try:
            reply = slot.conn.recv()
        except (EOFError, OSError):
            reply = None  # it died, possibly half-way through sending; its sentinel says how
        if reply is not None:
            slot.index = None
            if reply[0] == "error":
                return Finished(index, error=JobError(*reply[1:]), pid=pid)
            return Finished(index, reply[2], pid=pid)
    if slot.process.sentinel in ready or not slot.process.is_alive():
        slot.process.join(_JOIN_TIMEOUT_S)
        slot.index = None
        return Finished(index, error=WorkerDiedError(index, pid, slot.process.exitcode), pid=pid)
    return None


def _stop(slots: list[_Slot | None]) -> None:
    live = [slot for slot in slots if slot is not None]
    for slot in live:
        if slot.process.is_alive():
            if slot.index is None:
                try:
                    slot.conn.send(None)  # an idle worker leaves on its own
                except OSError:
                    slot.process.terminate()
            else:
                slot.process.terminate()
    for slot in live:
        slot.process.join(_JOIN_TIMEOUT_S)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
        slot.conn.close()


def run_jobs(
    function: Callable[[Job], Any],
    jobs: Sequence[Job],
    processes: int,
    *,
    jobs_per_worker: int = JOBS_PER_WORKER,
    keep_going: bool = False,
) -> Iterator[Finished]:
    """Yield a `Finished` for each of `jobs`, in job order, computed by `processes` worker processes.

    A job that raises or whose worker dies: without `keep_going`, JobError or WorkerDiedError is
    raised at once (not in job order) and every worker is stopped; with `keep_going`, its Finished
    carries the error, a dead worker is replaced and the other jobs go on. On any exit (Ctrl-C,
    closing the generator early) every worker is stopped.
    """
    pending = deque(range(len(jobs)))
    processes = max(1, min(processes, len(jobs)))
    jobs_per_worker = max(1, jobs_per_worker)
    context = worker_context()
    slots: list[_Slot | None] = [None] * processes
    done: dict[int, Finished] = {}
    following = 0  # the first job not yielded yet
    try:
        while following < len(jobs):
            horizon = following + LOOKAHEAD * processes
            for n, slot in enumerate(slots):
                while pending and pending[0] < horizon and (slot is None or slot.index is None):
                    if slot is None or slot.left == 0:
                        if slot is not None:
                            _stop([slot])  # it has done its share and exits on its own
                        slot = slots[n] = _start(context, function, jobs_per_worker)
                    if _give(slot, pending[0], jobs[pending[0]]):
                        pending.popleft()
                        continue
                    _stop([slot])
                    slots[n] = None
                    if slot.left < jobs_per_worker:  # it ended while idle: a new worker takes the job
                        slot = None
                        continue
                    # A new worker that cannot take a job: report it rather than start workers forever.
                    index = pending.popleft()
                    died = WorkerDiedError(index, slot.process.pid, slot.process.exitcode)
                    if not keep_going:
                        raise died
                    done[index] = Finished(index, error=died, pid=slot.process.pid)
                    slot = None
            busy = [slot for slot in slots if slot is not None and slot.index is not None]
            ready = multiprocessing.connection.wait([s.conn for s in busy] + [s.process.sentinel for s in busy])
            for slot in busy:
                finished = _collect(slot, ready)
                if finished is None:
                    continue
                if finished.error is not None and not keep_going:
                    raise finished.error
                if isinstance(finished.error, WorkerDiedError):
                    _stop([slot])
                    slots[slots.index(slot)] = None
                done[finished.index] = finished
            while following in done:  # in job order, whatever order they finish in
                yield done.pop(following)
                following += 1
    finally:
        _stop(slots)
