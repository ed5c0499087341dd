"""Run jobs in worker processes and know which job a dead worker was running.

`concurrent.futures.ProcessPoolExecutor` reports a worker killed by the system (SIGKILL, the
out-of-memory killer) as a broken pool for every pending job, without saying which job it held.
Here each worker takes one job at a time over its own pipe, so when a worker's process ends
without answering, its job is known exactly; the other workers are then stopped and the
failure names the job and how the process ended.

Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent alone decides to
stop (it terminates its workers on the way out), so no worker prints a traceback.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Job = TypeVar("Job")
_STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
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


def _worker(conn: multiprocessing.connection.Connection, function: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in _STOP_SIGNALS[1:]:
        signal.signal(signum, signal.SIG_DFL)  # SIGTERM from the parent ends a worker at once
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    while True:
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
        except Exception as error:  # e.g. a result that cannot be pickled
            conn.send(("error", index, type(error).__name__, str(error), traceback.format_exc()))


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    index: int | None = None  # the job it is running


def _start(context: multiprocessing.context.BaseContext, function: Callable[[Any], Any]) -> _Slot:
    parent, child = context.Pipe()
    process = context.Process(target=_worker, args=(child, function), daemon=True)
    # Block the stop signals while forking, so the child cannot be interrupted before it ignores SIGINT.
    masking = hasattr(signal, "pthread_sigmask")  # POSIX
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS) if masking else set()
    try:
        process.start()
    finally:
        if masking:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    child.close()
    return _Slot(process, parent)


def _give(slot: _Slot, index: int, job: Any) -> None:
    slot.index = index
    try:
        slot.conn.send((index, job))
    except OSError:  # the worker is gone: report it with the job it was given
        slot.process.join(_JOIN_TIMEOUT_S)
        raise WorkerDiedError(index, slot.process.pid, slot.process.exitcode) from None


def _stop(slots: list[_Slot]) -> None:
    for slot in slots:
        if slot.process.is_alive():
            if slot.index is None:
                try:
                    slot.conn.send(None)
                except OSError:
                    slot.process.terminate()
            else:
                slot.process.terminate()
    for slot in slots:
        slot.process.join(_JOIN_TIMEOUT_S)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
        slot.conn.close()


def run_in_workers(
    function: Callable[[Job], Any],
    jobs: Sequence[Job],
    processes: int,
    context: multiprocessing.context.BaseContext,
) -> Iterator[tuple[int, Any]]:
    """Yield `(index, function(jobs[index]))` as jobs finish, computed by `processes` workers.

    Raises WorkerDiedError (the job whose worker ended) or JobError (the job that raised); on any
    exit (including Ctrl-C and closing the generator early), every worker is stopped.
    """
    pending = list(enumerate(jobs))
    pending.reverse()  # pop() takes the lowest index first
    slots: list[_Slot] = []
    try:
        slots = [_start(context, function) for _ in range(max(1, min(processes, len(jobs))))]
        for slot in slots:
            if pending:
                _give(slot, *pending.pop())
        while any(slot.index is not None for slot in slots):
            busy = [slot for slot in slots if slot.index is not None]
            ready = multiprocessing.connection.wait(
                [s.conn for s in busy] + [s.process.sentinel for s in busy]
            )
            for slot in busy:
                if slot.conn in ready or slot.conn.poll():
                    try:
                        reply = slot.conn.recv()
                    except (EOFError, OSError):
                        reply = None  # it died; its sentinel says how
                    if reply is not None:
                        if reply[0] == "error":
                            raise JobError(*reply[1:])
                        yield reply[1], reply[2]
                        slot.index = None
                        if pending:
                            _give(slot, *pending.pop())
                        continue
                if slot.process.sentinel in ready and slot.index is not None:
                    slot.process.join()
                    raise WorkerDiedError(slot.index, slot.process.pid, slot.process.exitcode)
    finally:
        _stop(slots)
