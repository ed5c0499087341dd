"""Open a file a user named, safely: the one way every user path is read (scenario, `extends:`,
experiment, calibration spec, targets, patterns, ensemble, world data).

Only regular files are read. A named pipe (FIFO) would block the reader forever, a device could be
endless or have side effects, a socket cannot be opened, a symbolic link loop or a name with a NUL
or too long for the file system raises errors of its own: each is refused with a plain reason
*before* anything is opened, and the file is opened non-blocking and checked again (a file swapped
for a pipe in between is refused too, never waited on).
"""

from __future__ import annotations

import errno
import os
import stat

NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows file systems
PATH_MAX = 4095  # bytes in a whole path (Linux PATH_MAX less the final NUL)


class UnreadableFileError(Exception):
    """A user file that cannot be read: `reason` says why in plain words, without the file name."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{shown_name(name)}: {reason}")
        self.name, self.reason = name, reason


def shown_name(name: str, limit: int = 200) -> str:
    """A file name as messages show it: control characters escaped, and only an absurdly long one (beyond any
    real path a user types) shortened, so a FILE:LINE:COLUMN prefix names the file in full."""
    text = name if name.isprintable() else repr(name)[1:-1]
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-(limit // 2) + 3:]} ({len(name)} characters)"


def name_problem(name: str | os.PathLike[str]) -> str | None:
    """Why `name` cannot be a file name at all (a NUL, too long), or None."""
    text = os.fsdecode(name)
    if "\0" in text:
        return "the file name contains a NUL character, which no file name can hold"
    encoded = os.fsencode(text)
    if len(encoded) > PATH_MAX:
        return f"the file name is too long ({len(encoded):,} bytes; the limit is {PATH_MAX:,})"
    longest = max((len(part) for part in encoded.split(b"/")), default=0)
    if longest > NAME_MAX:
        return f"a part of the file name is too long ({longest:,} bytes; the limit is {NAME_MAX})"
    return None


_KINDS = (
    (stat.S_ISDIR, "is a directory, not a YAML file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file: sim reads only regular files"),
    (stat.S_ISCHR, "is a device, not a regular file: sim reads only regular files"),
    (stat.S_ISBLK, "is a device, not a regular file: sim reads only regular files"),
    (stat.S_ISSOCK, "is a socket, not a regular file: sim reads only regular files"),
)
_ERRORS = {
    errno.ENOENT: "no such file",
    errno.ENOTDIR: "no such file (a part of the path is not a folder)",
    errno.ELOOP: "symbolic link loop: the link points, through other links, back at itself",
    errno.EACCES: "permission denied: cannot read the file",
    errno.ENAMETOOLONG: "the file name is too long for the file system",
}


def _kind_problem(mode: int) -> str | None:
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "is not a regular file: sim reads only regular files"


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be read as a user file, or None when it is a regular file (links followed)."""
    reason = name_problem(path)
    if reason:
        return reason
    try:
        info = os.stat(path)
    except OSError as error:
        if error.errno == errno.ENOENT and os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
        return _ERRORS.get(error.errno or 0, f"cannot read the file: {error.strerror or error}")
    return _kind_problem(info.st_mode)


def exists(path: str | os.PathLike[str]) -> bool:
    """Whether something is at `path` (a dangling or looping link counts); never raises."""
    if name_problem(path):
        return False
    try:
        os.lstat(path)
    except OSError:
        return False
    return True


def read_user_file(path: str | os.PathLike[str], limit: int) -> tuple[bytes, int]:
    """The first `limit` + 1 bytes of a regular file and its size; raises UnreadableFileError.

    Checked before opening, opened non-blocking (a pipe swapped in meanwhile does not block) and
    checked again on the open descriptor, so what is read is the regular file that was checked.
    """
    name = os.fsdecode(path)
    reason = file_problem(path)
    if reason:
        raise UnreadableFileError(name, reason)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        reason = _ERRORS.get(error.errno or 0, f"cannot read the file: {error.strerror}")
        raise UnreadableFileError(name, reason) from None
    try:
        info = os.fstat(fd)
        reason = _kind_problem(info.st_mode)
        if reason:
            raise UnreadableFileError(name, reason)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks), max(total, info.st_size)
    except OSError as error:  # EIO, or EISDIR on odd file systems
        raise UnreadableFileError(name, f"cannot read the file: {error.strerror or error}") from None
    finally:
        os.close(fd)


def read_user_bytes(path: str | os.PathLike[str], limit: int = 256 * 1024 * 1024) -> bytes:
    """A whole user file already read once (to hash or copy it): safely again; InputError (exit 2) if it is
    not a regular file any more or has grown past `limit` bytes."""
    from sim.errors import InputError

    name = os.fsdecode(path)
    try:
        data, size = read_user_file(path, limit)
    except UnreadableFileError as error:
        raise InputError.single(shown_name(name), error.reason) from None
    if len(data) > limit:
        raise InputError.single(shown_name(name), f"file is too big: {size:,} bytes; the limit is {limit:,} bytes")
    return data
