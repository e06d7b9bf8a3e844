"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from state.errors import StateError

_ADVICE = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space or raise the quota",
    errno.EFBIG: "the file size limit (ulimit -f) is too low",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "check the folder's permissions",
    errno.EPERM: "check the folder's permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "the path is a folder",
}


class WriteFailed(StateError):
    """A file logcache keeps (state, entries, patch, results) could not be written."""


def write_failed(path: Path, exc: OSError) -> WriteFailed:
    """One line naming the file and what to do about the OS error."""
    reason = exc.strerror or type(exc).__name__
    advice = _ADVICE.get(exc.errno or 0, "check the disk and the folder")
    return WriteFailed(f"cannot write {path}: {reason}; {advice}, then run the command again")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part; an OS error leaves no temp
    file and the old file as it was (callers turn it into their one-line error, e.g.
    `write_failed`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
