"""The campaign's event log: one JSON line per event in the work dir, so a session's
history outlives it. The runbook appends its events whoever drives (journaling.py), the
app its own lines; the app reloads the recent lines when it opens and a watcher follows
new ones (`read_since`); `logcache log CAMPAIGN` prints them."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

JOURNAL_NAME = "events.jsonl"
# Reading the tail only: how far back from the end to look for `limit` lines.
_TAIL_BLOCK = 64 * 1024


@dataclass(frozen=True)
class JournalEntry:
    at: str  # ISO 8601 UTC
    operator: str
    text: str
    level: str = "info"  # info | warning | error


def journal_path(work_dir: Path) -> Path:
    return work_dir / JOURNAL_NAME


def append(work_dir: Path, entry: JournalEntry) -> None:
    """One line, appended in one write, so concurrent readers never see half an entry."""
    line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
    work_dir.mkdir(parents=True, exist_ok=True)
    data = line.encode("utf-8")
    path = journal_path(work_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "no room for the whole entry", str(path))
        except OSError:
            # A full disk leaves neither half an entry nor, for a refused command that
            # writes nothing, a journal it created.
            os.ftruncate(fd, start)
            if start == 0:
                path.unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)


def _parse(line: str) -> JournalEntry | None:
    try:
        raw = json.loads(line)
        return JournalEntry(str(raw["at"]), str(raw["operator"]), str(raw["text"]), str(raw.get("level", "info")))
    except (ValueError, KeyError, TypeError):
        return None  # a torn or foreign line is skipped, not fatal


def recent(work_dir: Path, limit: int = 200) -> list[JournalEntry]:
    """The last `limit` entries, oldest first, reading only the file's tail."""
    path = journal_path(work_dir)
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = end
            data = b""
            while start > 0 and (limit <= 0 or data.count(b"\n") <= limit):
                start = max(0, start - _TAIL_BLOCK)
                f.seek(start)
                data = f.read(end - start)
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > 0:
        lines = lines[1:]  # the first line may be cut
    entries = [e for e in map(_parse, lines) if e is not None]
    return entries[-limit:] if limit > 0 else entries


def journal_size(work_dir: Path) -> int:
    """The journal's size in bytes (0 when there is none): one stat, for a watcher to poll."""
    try:
        return os.stat(journal_path(work_dir)).st_size
    except FileNotFoundError:
        return 0


def read_since(work_dir: Path, offset: int) -> tuple[list[JournalEntry], int]:
    """The entries appended after byte `offset`, and the offset to read from next time.
    Only whole lines are read (a line being appended is left for the next call); a
    journal shorter than `offset` (replaced, truncated) is read from its start."""
    try:
        with journal_path(work_dir).open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end < offset:
                offset = 0
            f.seek(offset)
            data = f.read(end - offset)
    except FileNotFoundError:
        return [], 0
    whole = data.rfind(b"\n") + 1
    lines = data[:whole].decode("utf-8", errors="replace").splitlines()
    return [e for e in map(_parse, lines) if e is not None], offset + whole
