"""The run folder: one run's outputs, all of them or none, from one scenario, written by one run at a time.

How `sim run --out OUT` uses its folder (docs/faults.md tells the user the same):

- **Lock.** `OUT`'s sibling `.OUT.lock` is locked (`fcntl.flock`) for the whole run, before the
  simulation starts, so a second run on the same folder fails at once, naming the pid that holds it.
  The lock dies with its process, so a killed run never leaves a stale lock.
- **Whose folder.** `OUT/manifest.json` names the scenario the folder belongs to. A run of the same
  scenario (same name) replaces it. A folder of another scenario, a non-empty folder without a
  readable manifest, or a run folder with files the run did not write, is refused unless `force`.
  Folders holding the current directory, the home directory or the run's input files are never replaced.
- **All or nothing.** The outputs are written into a hidden staging folder beside `OUT`
  (`.OUT.partial-XXXXXXXX`), then swapped in by renames, with SIGINT/SIGTERM deferred for the swap:
  `OUT` holds the previous complete run (or nothing) until the new run is complete. An interrupted
  run removes its staging folder; one killed outright leaves it hidden, and the next run on `OUT`
  removes it.

`sim compare` claims its folder the same way (it has no --force, so its refusals never suggest one).
`sim sweep` and `sim calibrate` write into their folder run by run and resume, so they take the same
lock and the same checks of the place (never a file system's root, the current or home folder, or
one holding an input), then `claim_resumable_folder`: the folder is theirs when empty or when its
`folder.json` names the same kind, name and experiment (spec) file; anything else is refused.
`sim check --out FILE` is checked up front by `check_output_file`, before any run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sim.outputs.atomic import fsync_directory
from sim.outputs.manifest import MANIFEST_NAME

try:
    import fcntl
except ImportError:  # not POSIX: runs are not locked against each other
    fcntl = None  # type: ignore[assignment]

_PARTIAL = ".partial-"
_REPLACED = ".replaced-"
_RENAME_EXCHANGE = 2  # renameat2 flag (Linux 3.15+): swap two paths atomically
_AT_FDCWD = -100


class OutputFolderError(Exception):
    """The output folder cannot be used as asked (exit 2). The message is one line for the user."""


class OutputWriteError(Exception):
    """Writing the outputs failed part-way (disk full, I/O error; exit 1). The folder was left as it was."""


def _reason(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the disk" if error.errno == errno.ENOSPC else "disk quota exceeded"
    return error.strerror or type(error).__name__


def os_error_reason(error: OSError) -> str:
    """A failed write's cause in a few words ("no space left on the disk"), for one-line messages."""
    return _reason(error)


# --------------------------------------------------------------------------- the lock
def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"


def _acquire_lock(target: Path, shown: str) -> int | None:
    """Lock `.OUT.lock` (exclusive, non-blocking); the fd holds the lock. None where flock is missing."""
    if fcntl is None:
        return None
    path = _lock_path(target)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputFolderError(f"cannot use the output folder {shown}: {_reason(error)} ({path})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputFolderError(
                f"{shown} is being written by another sim run ({_holder(path)}); "
                "wait for it to finish or choose another --out"
            ) from None
        # The holder before us may have removed the file between our open and our lock: retry on the new one.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    return fd


def _release_lock(target: Path, fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(_lock_path(target))  # while still holding it, so no one can hold a lock on a removed file
    os.close(fd)


# --------------------------------------------------------------------------- what is in the folder
def _read_manifest(target: Path) -> dict | None:
    try:
        data = json.loads((target / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("scenario"), str) else None


def _foreign_entries(target: Path, manifest: dict) -> list[str]:
    """Entries of a run folder that its manifest does not list (a user's own files)."""
    listed = manifest.get("files")
    files: dict = listed if isinstance(listed, dict) else {}
    known = {MANIFEST_NAME} | {str(name) for name in files}
    known |= {str(Path(name).parent) for name in files if "/" in str(name)}
    found = []
    for path in sorted(target.rglob("*")):
        name = path.relative_to(target).as_posix()
        if name not in known and not path.name.startswith(".") and ".tmp-" not in path.name:
            found.append(name)
    return found


def _replace_hint(force_option: str | None) -> str:
    """How to get past a refusal: name the force option only where the command has one."""
    return f"use {force_option} to replace it, or choose another --out" if force_option else \
        "choose another --out, or move its contents away"


def _folder_entries(target: Path, shown: str) -> list[str] | None:
    """What an existing output folder holds (sorted), None when there is nothing there; a file or an
    unreadable folder is refused."""
    if not target.exists() and not target.is_symlink():
        return None
    if not target.is_dir():
        raise OutputFolderError(f"{shown} exists and is not a folder; choose another --out")
    try:
        return sorted(os.listdir(target))
    except OSError as error:
        raise OutputFolderError(f"cannot read the output folder {shown}: {_reason(error)}") from None


def _check_existing(
    target: Path, shown: str, scenario_name: str, force: bool, force_option: str | None = "--force"
) -> None:
    """Refuse to replace what is not a run of this scenario, unless forced."""
    hint = _replace_hint(force_option)
    entries = _folder_entries(target, shown)
    if entries is None:
        return
    if not entries or force:
        return
    resumable = _read_folder_state(target)
    if resumable is not None:  # a sweep's or a calibration's folder: its results took hours
        raise OutputFolderError(f"{shown} holds {_describe_state(resumable)}; {hint}")
    manifest = _read_manifest(target)
    if manifest is None:
        raise OutputFolderError(
            f"{shown} is not empty and holds no sim run (no readable {MANIFEST_NAME}; it has {_listed(entries)}); "
            f"{hint}"
        )
    if manifest["scenario"] != scenario_name:
        raise OutputFolderError(
            f"{shown} holds a run of scenario {manifest['scenario']!r}, not {scenario_name!r}; {hint}"
        )
    foreign = _foreign_entries(target, manifest)
    if foreign:
        anyway = f"use {force_option} to replace the folder anyway, " if force_option else ""
        raise OutputFolderError(
            f"{shown} holds files that are not part of its run ({_listed(foreign)}); they would be lost when the "
            f"run is replaced: move them, {anyway}or choose another --out"
        )


def _listed(entries: list[str]) -> str:
    return ", ".join(repr(e) for e in entries[:3]) + (", ..." if len(entries) > 3 else "")


def _check_protected(
    target: Path, shown: str, protected: Iterable[Path], why: str = "a run replaces its whole output folder"
) -> None:
    """Never replace a folder holding the current directory, the home directory or an input file."""
    keep = [(Path.cwd().resolve(), "the current folder")]
    with contextlib.suppress(RuntimeError, KeyError):  # no home directory known
        keep.append((Path.home().resolve(), "the home folder"))
    keep += [(Path(p).resolve(), f"the run's input file {p}") for p in protected]
    for path, what in keep:
        if path == target or target in path.parents:
            raise OutputFolderError(
                f"{shown} holds {what}, and {why}; choose another --out"
            )


def _resolved(out: str | os.PathLike[str], shown: str) -> Path:
    """`out` absolute with symlinks resolved; a symlink loop is bad input, not a crash."""
    try:
        return Path(out).resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: Python < 3.13 on a loop
        reason = _reason(error) if isinstance(error, OSError) else "a symbolic link loops"
        raise OutputFolderError(f"cannot use {shown}: {reason} ({error}); choose another --out") from None


def _usable_target(
    out_dir: str | os.PathLike[str], protected: Iterable[str | os.PathLike[str]], why: str
) -> tuple[str, Path]:
    """What every output folder must be: not a file system's root, not holding the current folder, the home
    folder or an input, not below a file, with a parent we can create. Returns (as shown, resolved)."""
    shown = os.fspath(out_dir)
    target = _resolved(out_dir, shown)  # a symlinked folder is used where it really is
    if target.parent == target or os.path.ismount(target):
        raise OutputFolderError(f"{shown} is the root of a file system, and {why}; use a folder inside it")
    _check_protected(target, shown, [Path(p) for p in protected], why)
    blocker = _not_a_folder(target)
    if blocker is not None:
        raise OutputFolderError(f"cannot create the output folder {shown}: {blocker} is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(f"cannot create the output folder {shown}: {_reason(error)}") from None
    return shown, target


def _not_a_folder(target: Path) -> Path | None:
    """The first existing ancestor of `target` that is not a folder (`--out notes.txt/run`)."""
    for path in reversed(target.parents):
        if path.exists() and not path.is_dir():
            return path
    return None


def _remove_leftovers(target: Path) -> None:
    """Staging and replaced folders of runs on `target` killed outright (we hold the lock, so none is live)."""
    ours = re.compile(rf"^\.{re.escape(target.name)}({re.escape(_PARTIAL)}|{re.escape(_REPLACED)})[0-9a-f]{{8}}$")
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if ours.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


def _hidden_sibling(target: Path, kind: str) -> Path:
    """A new empty hidden folder beside `target` (same file system, so renames between them are atomic).

    Made with the default permissions (umask applied), since it becomes the output folder.
    """
    while True:
        path = target.parent / f".{target.name}{kind}{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


# --------------------------------------------------------------------------- swapping in
def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this file system or kernel cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), os.fsdecode(second))


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends, then deliver them (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    wanted = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {}
    for signum in wanted:
        handler = signal.getsignal(signum)
        if handler is None or handler == signal.SIG_IGN:
            continue  # installed outside Python, or ignored: leave it alone
        previous[signum] = signal.signal(signum, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


@dataclass
class RunFolder:
    """A claimed output folder: write into `staging`, then `commit()` to put the run in place."""

    shown: str  # the folder as the user named it, for messages
    target: Path  # where it is (absolute, symlinks resolved)
    staging: Path
    scenario_name: str
    force: bool
    had_contents: bool  # the folder held something before this run (kept until the swap)
    committed: bool = field(default=False)
    force_option: str | None = "--force"

    def final_path(self, path: Path) -> Path:
        """Where a file written under `staging` ends up."""
        return Path(self.shown) / Path(path).relative_to(self.staging)

    def state(self) -> str:
        """What the folder holds now, for a message after a failure or an interruption."""
        if self.committed:
            return f"{self.shown} holds the complete new run"
        if self.had_contents:
            return f"{self.shown} was left as it was (no partial output)"
        return f"nothing was written to {self.shown}"

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Turn a failed write (disk full, I/O error, permissions) into OutputWriteError with the folder's state."""
        try:
            yield
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise OutputWriteError(
                f"cannot write the outputs to {self.shown}: {_reason(error)}{where}; {self.state()}"
            ) from None

    def commit(self) -> None:
        """Swap the staging folder in place of the target; the previous contents are removed."""
        _check_existing(self.target, self.shown, self.scenario_name, self.force, self.force_option)  # changed?
        for directory in [*(p for p in self.staging.rglob("*") if p.is_dir()), self.staging]:
            fsync_directory(directory)
        old: Path | None = None
        try:
            with deferred_signals():  # a signal here is delivered once the swap is done
                if not self.target.exists() or (self.target.is_dir() and not any(self.target.iterdir())):
                    os.replace(self.staging, self.target)  # rename(2) replaces an empty folder
                elif _exchange(self.staging, self.target):
                    old = self.staging  # it now holds the previous contents
                else:
                    old = _hidden_sibling(self.target, _REPLACED)
                    os.replace(self.target, old)  # `old` is empty, so this replaces it
                    try:
                        os.replace(self.staging, self.target)
                    except OSError:
                        os.replace(old, self.target)  # put the previous run back
                        raise
                self.committed = True
                fsync_directory(self.target.parent)
        except OSError as error:
            raise OutputWriteError(
                f"cannot move the finished run into {self.shown}: {_reason(error)}; {self.state()}"
            ) from None
        finally:
            if old is not None and self.committed:
                shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def claim_run_folder(
    out_dir: str | os.PathLike[str],
    scenario_name: str,
    *,
    force: bool = False,
    protected: Iterable[str | os.PathLike[str]] = (),
    force_option: str | None = "--force",
) -> Iterator[RunFolder]:
    """Lock and check `out_dir` for a run of `scenario_name`, give a staging folder, clean up after.

    Raises OutputFolderError (exit 2) when the folder cannot be used; its message names
    `force_option` (None: the command has none). Leaving the block without `commit()` (an error,
    Ctrl-C, SIGTERM) removes the staging folder and leaves `out_dir` as it was. An exception
    leaving the block gets `output_state`: what the folder holds, for the message.
    """
    shown, target = _usable_target(out_dir, protected, "a run replaces its whole output folder")
    lock = _acquire_lock(target, shown)
    try:
        _remove_leftovers(target)
        _check_existing(target, shown, scenario_name, force, force_option)
        try:
            staging = _hidden_sibling(target, _PARTIAL)
        except OSError as error:
            raise OutputFolderError(f"cannot write in the output folder {shown}: {_reason(error)}") from None
        had_contents = target.is_dir() and any(target.iterdir())
        folder = RunFolder(shown.rstrip("/") or shown, target, staging, scenario_name, force, had_contents,
                           force_option=force_option)
        try:
            yield folder
        except BaseException as error:
            with contextlib.suppress(AttributeError, TypeError):
                error.output_state = folder.state()  # type: ignore[attr-defined]
            raise
        finally:
            if not folder.committed:
                shutil.rmtree(staging, ignore_errors=True)
    finally:
        _release_lock(target, lock)


# --------------------------------------------------------------------------- resumable folders (sweep, calibrate)
FOLDER_STATE = "folder.json"  # what a resumable folder is: {"kind", "name", "file"}, written when it is claimed
_KIND_WORDS = {"sweep": ("a sweep", "experiment"), "calibration": ("a calibration", "spec")}


def _read_folder_state(target: Path) -> dict | None:
    """The folder's `folder.json` if it is one a sweep or a calibration wrote, else None."""
    try:
        data = json.loads((target / FOLDER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in _KIND_WORDS:
        return None
    if not all(isinstance(data.get(key), str) for key in ("name", "file")):
        return None
    return data


def _describe_state(state: dict) -> str:
    article, noun = _KIND_WORDS[state["kind"]]
    return f"{article} of {noun} {state['name']!r} ({state['file']})"


def _legacy_sweep(target: Path, name: str, file: str) -> bool:
    """A complete sweep folder written before folder.json existed: its manifest names the same experiment."""
    try:
        manifest = json.loads((target / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("experiment") != name:
        return False
    recorded = manifest.get("experiment_file")
    with contextlib.suppress(TypeError, OSError, RuntimeError):
        return str(Path(recorded).resolve()) == file  # type: ignore[arg-type]
    return False


def _check_resumable(target: Path, shown: str, state: dict, force: bool, force_option: str | None) -> None:
    """Let through an empty folder or one of the same sweep (calibration); refuse anything else."""
    entries = _folder_entries(target, shown)
    if entries is None:
        return
    if not entries or (force and force_option):
        return
    found = _read_folder_state(target)
    hint = _replace_hint(force_option)
    wanted = _describe_state(state)
    if found is not None:
        if all(found[key] == state[key] for key in ("kind", "name", "file")):
            return
        raise OutputFolderError(f"{shown} holds {_describe_state(found)}, not {wanted}; its results would be "
                                f"lost; {hint}")
    if state["kind"] == "sweep" and _legacy_sweep(target, state["name"], state["file"]):
        return
    manifest = _read_manifest(target)
    if manifest is not None:
        what = f"the outputs of {manifest['scenario']!r}"
        raise OutputFolderError(f"{shown} holds {what}, not {wanted}; they would be mixed with it; {hint}")
    raise OutputFolderError(f"{shown} is not empty and holds no sim {state['kind']} of {_KIND_WORDS[state['kind']][1]} "
                            f"{state['name']!r} (no readable {FOLDER_STATE}; it has {_listed(entries)}); {hint}")


@dataclass
class ResumableFolder:
    """A claimed folder that is written in place, run by run, and resumed: a sweep's or a calibration's."""

    shown: str
    target: Path
    state: dict


@contextlib.contextmanager
def claim_resumable_folder(
    out_dir: str | os.PathLike[str],
    kind: str,
    name: str,
    file: str | os.PathLike[str],
    *,
    force: bool = False,
    force_option: str | None = None,
    protected: Iterable[str | os.PathLike[str]] = (),
) -> Iterator[ResumableFolder]:
    """Lock and check `out_dir` for a `kind` ("sweep" or "calibration") of `name` read from `file`.

    The folder is ours when it is empty or its folder.json names the same kind, name and file (the
    same experiment, perhaps edited since: resuming keeps what still fits). Anything else is
    refused (OutputFolderError, exit 2): another experiment's results, a run, a user's files.
    folder.json is written at once, so even an interrupted first attempt is recognised later.
    """
    state = {"kind": kind, "name": name, "file": str(Path(file).resolve())}
    shown, target = _usable_target(out_dir, protected, f"{_KIND_WORDS[kind][0]} writes into its output folder")
    lock = _acquire_lock(target, shown)
    try:
        _check_resumable(target, shown, state, force, force_option)
        try:
            target.mkdir(exist_ok=True)
            if _read_folder_state(target) != state:
                from sim.outputs.atomic import atomic_write_bytes

                atomic_write_bytes(target / FOLDER_STATE, (json.dumps(state, indent=1) + "\n").encode("utf-8"))
        except OSError as error:
            raise OutputFolderError(f"cannot write in the output folder {shown}: {_reason(error)}") from None
        yield ResumableFolder(shown.rstrip("/") or shown, target, state)
    finally:
        _release_lock(target, lock)


def check_output_file(out: str | os.PathLike[str]) -> Path:
    """Check up front that a report can be written at `out` (a file), before any work: not a folder, not
    below a file, its folder creatable and writable. Raises OutputFolderError (exit 2)."""
    shown = os.fspath(out)
    target = _resolved(out, shown)
    if target.is_dir():
        raise OutputFolderError(f"{shown} is a folder; --out names the report file, like {Path(shown) / 'check.md'}")
    blocker = _not_a_folder(target)
    if blocker is not None:
        raise OutputFolderError(f"cannot write {shown}: {blocker} is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe = _hidden_sibling(target, ".probe-")  # what the atomic write will do there: make a new entry
        probe.rmdir()
    except OSError as error:
        raise OutputFolderError(f"cannot write {shown}: {_reason(error)}") from None
    return target
