"""Parcel heartbeats: `status/<parcel>.json` in the campaign's results store.

A running parcel rewrites its heartbeat (atomically, through the store) when a task
starts or ends and every few seconds in between, so any watcher (the TUI, `logcache
status`, the parent of a command-backend job) sees progress, and can call a parcel stuck
once its heartbeat is older than the campaign's `heartbeat_stale_s`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from logcache.errors import LogcacheError
from logcache.storage import Store
from logcache.validation.result import utc_now

PREFIX = "status/"


class HeartbeatState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Heartbeat:
    parcel: str
    state: HeartbeatState
    task: str  # the task in hand ("" between tasks)
    done: int
    total: int
    bytes_done: int
    bytes_total: int
    updated_at: str  # ISO 8601 UTC
    started_at: str
    host: str
    pid: int

    def __post_init__(self) -> None:
        # A heartbeat read back from JSON carries the state as a plain string.
        object.__setattr__(self, "state", HeartbeatState(self.state))

    def age_s(self, now: datetime | None = None) -> float:
        then = datetime.fromisoformat(self.updated_at)
        return ((now or datetime.now(UTC)) - then).total_seconds()


def key_of(parcel: str) -> str:
    return f"{PREFIX}{parcel}.json"


def read_heartbeats(results: Store) -> dict[str, Heartbeat]:
    """Every parcel's last heartbeat; an unreadable one (being replaced on a store without
    atomic writes) is skipped until the next poll."""
    beats: dict[str, Heartbeat] = {}
    try:
        infos = list(results.list(PREFIX))
    except LogcacheError:
        return beats
    for info in infos:
        if not info.key.endswith(".json"):
            continue
        try:
            beat = Heartbeat(**json.loads(results.read_bytes(info.key)))
        except (LogcacheError, ValueError, TypeError):
            continue
        beats[beat.parcel] = beat
    return beats


class HeartbeatWriter:
    """Keeps one parcel's heartbeat current while it runs; a background thread re-stamps
    it every `every_s` so a long task still shows the process alive."""

    def __init__(self, results: Store, parcel: str, total: int, bytes_total: int, every_s: float) -> None:
        start = utc_now()
        self._results = results
        self._beat = Heartbeat(parcel, HeartbeatState.RUNNING, "", 0, total, 0, bytes_total, start, start, socket.gethostname(), os.getpid())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._every_s = every_s
        self._thread = threading.Thread(target=self._tick, name=f"heartbeat-{parcel}", daemon=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        """Stop re-stamping (idempotent); the heartbeat keeps its last state."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def close(self, failed: bool) -> None:
        """Stop, and record the parcel as done or failed."""
        self.stop()
        self.update(state=HeartbeatState.FAILED if failed else HeartbeatState.DONE, task="")

    def update(self, **changes: object) -> None:
        with self._lock:
            self._beat = replace(self._beat, **changes)  # type: ignore[arg-type]
        self._write()

    def _tick(self) -> None:
        while not self._stop.wait(self._every_s):
            self._write()

    def _write(self) -> None:
        with self._lock:
            self._beat = replace(self._beat, updated_at=utc_now())
            data = json.dumps(asdict(self._beat)).encode()
        try:
            self._results.write_bytes(key_of(self._beat.parcel), data)
        except LogcacheError:
            # A missed heartbeat only makes the parcel look late; the work goes on.
            pass
