"""Units of parcels followed on an executor (the local pool, a Dask cluster): the parent
submits every unit, writes each parcel's heartbeat from its units' progress, and ends
each parcel when its units have ended."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logcache.errors import describe
from logcache.stores import open_results
from logcache.validation.backends.base import CANCEL_S, POLL_S, JobEnd, JobStarted, ParcelJob, RunOptions
from logcache.validation.heartbeat import HeartbeatWriter
from logcache.validation.plan import Task, units
from logcache.validation.result import STOPS_THE_RUN
from state.config import CampaignConfig


def unit_label(job: ParcelJob, unit: tuple[Task, ...]) -> str:
    return f"{job.label}:{unit[0].task_id}" if len(unit) == 1 else f"{job.label}:{unit[0].dataset}"


@dataclass
class _Progress:
    """The parent's view of one parcel whose units run on a pool or Dask; its heartbeat
    is written by the parent, so other sessions follow it like any parcel's."""

    job: ParcelJob
    job_id: str
    futures: list[tuple[tuple[Task, ...], Any]]
    beat: HeartbeatWriter
    done: set[int] = field(default_factory=set)

    def poll(self) -> None:
        finished = {i for i, (_, f) in enumerate(self.futures) if f.done()}
        if finished != self.done:
            self.done = finished
            units_done = [self.futures[i][0] for i in finished]
            running = next((u for i, (u, _) in enumerate(self.futures) if i not in finished), None)
            self.beat.update(
                task=running[0].task_id if running else "",
                done=sum(len(u) for u in units_done),
                bytes_done=sum(t.weight for u in units_done for t in u),
            )

    def end(self) -> JobEnd:
        errors, missing, rows = [], [], []
        for _, future in self.futures:
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker ends its unit, not the campaign
                errors.append(describe(exc))
                continue
            missing.extend(outcome.missing_paths)
            rows.extend(outcome.rows)
        self.beat.close(failed=bool(errors))
        return JobEnd(self.job.label, self.job_id, not errors, errors[0] if errors else "", tuple(dict.fromkeys(missing)), rows=tuple(rows))


def _every(config: CampaignConfig) -> float:
    return max(0.5, min(5.0, config.validation.heartbeat_stale_s / 4))


def follow_units(
    config: CampaignConfig,
    jobs: list[ParcelJob],
    submit: Callable[[ParcelJob, tuple[Task, ...]], Any],
    wait_all: Callable[[list[Any], float], object],
    backend: str,
    options: RunOptions,
    on_cancel: Callable[[], None],
) -> list[JobEnd]:
    """Submit every unit of every job (heaviest first across jobs, so the longest units
    start first), then follow them until all have ended."""
    results = open_results(config)
    progress: dict[str, _Progress] = {}
    for job in jobs:
        beat = HeartbeatWriter(results, job.label, len(job.parcel.tasks), job.parcel.bytes, _every(config))
        progress[job.label] = _Progress(job, f"{backend}-{job.label}", [], beat)
    pending = sorted(((u, job) for job in jobs for u in units(job.parcel.tasks)), key=lambda uj: -sum(t.weight for t in uj[0]))
    try:
        for job in jobs:
            progress[job.label].beat.start()
            options.started(JobStarted(job.label, backend, progress[job.label].job_id))
        for unit, job in pending:
            progress[job.label].futures.append((unit, submit(job, unit)))
        futures = [f for p in progress.values() for _, f in p.futures]
        next_poll = time.monotonic() + POLL_S
        while not all(f.done() for f in futures):
            if options.cancelled:
                on_cancel()
                raise KeyboardInterrupt
            # A stop is honoured within CANCEL_S; heartbeats and `watch` run every POLL_S.
            wait_all(futures, CANCEL_S)
            stop = next((f.exception() for f in futures if f.done() and not f.cancelled() and isinstance(f.exception(), STOPS_THE_RUN)), None)
            if stop is not None:
                on_cancel()
                raise stop
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_S
                for p in progress.values():
                    p.poll()
                options.watch()
        for p in progress.values():
            p.poll()
        return [p.end() for p in progress.values()]
    finally:
        for p in progress.values():
            p.beat.stop()
