"""What every validation backend shares: the job types and the `Backend` protocol.

A job is one parcel's work under one label (`ParcelJob`). A backend first checks that it
can run the jobs (before the caller writes anything), then starts every one, reporting
each as `JobStarted`, calls `watch` about once a second until all have ended (the caller
polls heartbeats there), stops within `CANCEL_S` of `cancel` being set (raising
KeyboardInterrupt), and returns one `JobEnd` per job. Inside a job a backend may schedule
smaller units of work (`plan.units`: a shard's tasks, or one sub-task of a heavy shard).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from logcache.validation.plan import Parcel
from logcache.validation.result import ResultRow
from state.config import CampaignConfig

POLL_S = 1.0
CANCEL_S = 0.05


@dataclass(frozen=True)
class ParcelJob:
    """One parcel to run as one job, under its label."""

    parcel: Parcel
    label: str
    parcel_count: int
    # Extra `logcache validate` arguments that make a job re-plan exactly this parcel.
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobStarted:
    label: str
    backend: str
    job_id: str


@dataclass(frozen=True)
class JobEnd:
    label: str
    job_id: str
    ok: bool
    error: str  # one line; "" when ok
    missing_paths: tuple[str, ...]  # from the job's results or its log
    log_path: str = ""
    # The whole results the job's units returned as they wrote them (a backend whose
    # jobs return nothing leaves it empty: those are read from the results store).
    rows: tuple[ResultRow, ...] = ()


Watch = Callable[[], None]
Started = Callable[[JobStarted], None]
LineSink = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run the jobs: `force` reruns pairs that have a result; `image` fills
    `{image}` in the command backend's templates; `on_line` gets the output of the
    operator's commands (the asynchronous submitter's hooks)."""

    force: bool
    watch: Watch
    started: Started
    cancel: threading.Event | None = None
    image: str = ""
    on_line: LineSink | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


class Backend(Protocol):
    """Where parcels run. One module per backend, named in `registry.py`."""

    def check(self, config: CampaignConfig, jobs: Sequence[ParcelJob], force: bool) -> None:
        """Refuse (a LogcacheError) what this backend cannot run, before anything is written."""

    def resumed_since(self, config: CampaignConfig, jobs: Sequence[ParcelJob]) -> str | None:
        """When the earliest of these jobs that an earlier run left running was started
        (None if none): their heartbeats are older than this run and still count."""

    def run(self, config: CampaignConfig, jobs: list[ParcelJob], options: RunOptions) -> list[JobEnd]:
        """Run every job to its end; see the module's doc."""
