"""The campaign's event log: one JSON line per event in the work dir, so a session's
history outlives it. The app appends what it shows in its Log and reloads the recent
lines when it opens; `logcache log CAMPAIGN` prints them."""

from __future__ import annotations

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
    fd = os.open(journal_path(work_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
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
