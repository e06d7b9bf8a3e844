"""One operator per campaign: a lock file naming the holder, plus an OS lock on it.

The OS lock (flock) is released by the kernel when the holder dies, even by kill -9, so
a lock file whose flock is free is stale and is taken over with a notice. A lock file
naming another host is never taken over by guessing (a shared folder's flock may not
reach across hosts): only `--break-lock` takes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from state.errors import StateError
from state.model import operator, utc_now


class LockHeld(StateError):
    """Another operator drives this campaign; `holder` is who (None when the lock file
    names nobody readable), for a front end to show without parsing the text."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another process"
        if holder is not None and not holder.here:
            who += f" on host {holder.host}"
        super().__init__(f"campaign is being driven by {who}; use --break-lock if that session is gone")


class LockUnusable(StateError):
    """The lock file cannot be created or opened as a plain file."""


@dataclass(frozen=True)
class Holder:
    operator: str
    host: str
    pid: int
    started_at: str

    def describe(self) -> str:
        try:
            since = datetime.strptime(self.started_at, "%Y-%m-%dT%H:%M:%SZ").strftime("%H:%M")
        except ValueError:
            since = self.started_at
        return f"{self.operator} (pid {self.pid}) since {since}"

    @property
    def here(self) -> bool:
        """Whether the holder ran on this host (only then can its pid be checked)."""
        return self.host == socket.gethostname()


class LockState(StrEnum):
    FREE = "free"  # nobody holds it (released, or never taken)
    LIVE = "live"  # held by a process running on this host
    DEAD = "dead"  # names a process of this host that is gone (killed, crashed)
    ELSEWHERE = "elsewhere"  # held from another host: nothing here can tell if it runs


@dataclass(frozen=True)
class LockStatus:
    state: LockState
    holder: Holder | None

    @property
    def driving(self) -> bool:
        """Whether someone may be driving the campaign now (never a dead process of ours)."""
        return self.state in (LockState.LIVE, LockState.ELSEWHERE)

    def describe(self) -> str:
        """One line for a front end: who drives, or who last drove and is gone."""
        h = self.holder
        if h is None:
            return "nobody drives this campaign"
        if self.state is LockState.DEAD:
            return f"last driven by {h.describe()} (not running)"
        if self.state is LockState.ELSEWHERE:
            return f"driven by {h.describe()} on host {h.host}; if that session is gone, take over with --break-lock"
        return f"driven by {h.describe()}"


def lock_status(lock_path: Path) -> LockStatus:
    """Who holds the lock, from the lock file alone: cheap enough to poll (one small read
    and, on this host, one signal-0 probe). The OS lock is not probed: taking it even for
    an instant could refuse a driver starting at that moment."""
    holder = read_holder(lock_path)
    if holder is None:
        return LockStatus(LockState.FREE, None)
    if not holder.here:
        return LockStatus(LockState.ELSEWHERE, holder)
    return LockStatus(LockState.LIVE if pid_alive(holder.pid) else LockState.DEAD, holder)


def read_holder(lock_path: Path) -> Holder | None:
    if lock_path.is_symlink():
        return None
    try:
        raw = json.loads(lock_path.read_text(encoding="utf-8"))
        return Holder(str(raw["operator"]), str(raw["host"]), int(raw["pid"]), str(raw["started_at"]))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with `pid` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


class CampaignLock:
    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._file: IO[str] | None = None
        # The lock file as it was before this acquire (None: there was none), so that a
        # refused command can leave it as it found it.
        self._before: tuple[str, int, int] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self, break_lock: bool = False) -> str | None:
        """Take the lock; returns a notice when a stale or broken lock was taken over."""
        path = self.lock_path
        if path.is_symlink():
            # Never followed: a link could make a lock "held" on another campaign, or have
            # the holder record written over any file the operator may write.
            raise LockUnusable(f"{path} is a symbolic link; remove it (the lock file is always a plain file) and retry")
        if path.is_dir():
            raise LockUnusable(f"{path} is a folder where the campaign's lock file belongs; move it away and retry")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                st = os.stat(path)
                self._before = (path.read_text(encoding="utf-8", errors="replace"), st.st_atime_ns, st.st_mtime_ns)
            except FileNotFoundError:
                self._before = None
            # Open without truncating: a refused acquire must not touch the holder's file.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise LockUnusable(f"cannot create or open the lock file {path}: {exc.strerror}; check the campaign folder's permissions and free space") from None
        f = os.fdopen(fd, "r+", encoding="utf-8")
        previous = read_holder(self.lock_path)
        notice = None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not break_lock:
                f.close()
                raise LockHeld(previous) from None
            # The holder's OS lock stays with its process; breaking means we proceed and
            # overwrite the record, which the old holder's next save cannot see through.
            notice = f"broke the lock of {previous.describe() if previous else 'an unknown holder'}"
        else:
            if os.fstat(f.fileno()).st_ino != _inode(self.lock_path):
                # The file was removed (`release(undo=True)`) between our open and our
                # flock: the lock is on a file nobody else can see. Lock the path anew.
                f.close()
                return self.acquire(break_lock)
            if previous is not None and not previous.here and not break_lock:
                # Free here, but a flock on a shared folder may not reach the other host.
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
                raise LockHeld(previous) from None
            if previous is not None and not previous.here:
                notice = f"broke the lock of {previous.describe()} on host {previous.host}"
            elif previous is not None:
                state = "no longer running" if not pid_alive(previous.pid) else "its lock was released"
                notice = f"took over a stale lock from {previous.operator} (pid {previous.pid}, {state})"
        me = Holder(operator(), socket.gethostname(), os.getpid(), utc_now())
        try:
            f.seek(0)
            f.truncate()
            f.write(json.dumps(asdict(me)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        except OSError as exc:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
            raise LockUnusable(f"cannot write the lock file {path}: {exc.strerror}; check the campaign folder's permissions and free space") from None
        self._file = f
        return notice

    def release(self, undo: bool = False) -> None:
        """Let go of the lock. The file is emptied, not unlinked, so that it stays one
        inode for everyone. `undo` (a refused command) leaves the file as acquire found
        it: a file it made is unlinked while still locked, which `acquire`'s inode check
        makes safe for a racer; one that was there gets its text and times back."""
        if self._file is None:
            return
        try:
            self._file.seek(0)
            self._file.truncate()
            if undo and self._before is None and os.fstat(self._file.fileno()).st_ino == _inode(self.lock_path):
                self.lock_path.unlink()
            elif undo and self._before is not None:
                text, atime_ns, mtime_ns = self._before
                self._file.write(text)
                self._file.flush()
                os.utime(self._file.fileno(), ns=(atime_ns, mtime_ns))
            self._file.flush()
        except OSError:
            pass  # a file that cannot be emptied still names a holder whose flock is free: stale
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> CampaignLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
