"""Atomic file writes: a file appears under its final name complete, or not at all.

Every output of a run goes through this module. Data are written to a hidden temporary file
in the same directory (`.adoption.png.tmp-<pid>-<random>`), flushed and fsynced, then renamed
onto the final name with `os.replace` (atomic on POSIX and Windows within one file system).
If anything fails before the rename, the temporary file is removed and the final name is left
as it was, so an interrupted run never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A fresh hidden temporary path next to `path` (same directory, so the rename is atomic)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]{8}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporary files in `folder` left by writers that no longer run (a SIGKILLed or
    crashed process cannot clean up after itself); a live writer's temporary is left alone."""
    removed = 0
    for entry in folder.iterdir() if folder.is_dir() else ():
        match = _TEMPORARY.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
    return removed


def _fsync_file(path: Path) -> None:
    """Flush a file's data to disk (no-op where the platform cannot)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable by syncing its directory; silently skipped where unsupported."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is fsynced and renamed onto `path`.

    The parent directory is created if needed. If the block raises (or never creates the
    file), the temporary file is removed and `path` is untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic write of {final}: nothing was written to {tmp.name}")
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(final.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically; return the final path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically with LF line endings as given (no newline translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_unlink(path: str | os.PathLike[str]) -> None:
    """Remove `path` if it exists (used to retract a stale completion marker before rewriting)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fsync_directory(Path(path).parent)
