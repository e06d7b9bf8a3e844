"""Debounced saving: progress may mark the state thousands of times a second, yet the file
is rewritten at most once per interval and never lags more than about one interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from state.model import CampaignState, utc_now
from state.persist import save_state


class DebouncedSaver:
    def __init__(
        self,
        path: Path,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        save: Callable[[Path, CampaignState], None] = save_state,
    ) -> None:
        self.path = path
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._save = save
        self._lock = threading.Lock()
        self._pending: CampaignState | None = None
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self.writes = 0

    def mark(self, state: CampaignState) -> None:
        with self._lock:
            self._pending = state
            wait = self._last + self.min_interval_s - self._clock()
            if wait <= 0:
                self._write_locked()
            elif self._timer is None:
                # A timer makes sure a burst that then goes quiet is still written.
                self._timer = threading.Timer(wait, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            if self._pending is not None:
                self._write_locked()

    def save_now(self, state: CampaignState) -> None:
        with self._lock:
            self._pending = state
            self._write_locked()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _write_locked(self) -> None:
        state, self._pending = self._pending, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        assert state is not None
        state.updated_at = utc_now()
        self._save(self.path, state)
        self._last = self._clock()
        self.writes += 1
