"""Debounced saving: progress may mark the state thousands of times a second, yet the file
is rewritten at most once per interval and never lags more than about one interval.

The interval grows with what a save costs: at least `SAVE_COST_FACTOR` times the last
save's duration, so rendering a large state (20,000 datasets take seconds) stays a small
share of a run however large the campaign. Durability is unchanged: milestones
(`save_now`) and `close` write at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from state.model import CampaignState, utc_now
from state.persist import save_state

# Marks are written at most once per this many times the last save's duration.
SAVE_COST_FACTOR = 10.0


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
        self._last_cost = 0.0
        self.writes = 0

    @property
    def interval_s(self) -> float:
        """The least time between two debounced writes now."""
        return max(self.min_interval_s, SAVE_COST_FACTOR * self._last_cost)

    def mark(self, state: CampaignState) -> None:
        with self._lock:
            self._pending = state
            wait = self._last + self.interval_s - self._clock()
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
        started = self._clock()
        self._save(self.path, state)
        self._last = self._clock()
        self._last_cost = self._last - started
        self.writes += 1
