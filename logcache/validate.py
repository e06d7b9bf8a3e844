"""Validate a campaign's cache entries in parcels on a backend, watching heartbeats.

This is the parent's side: plan the parcels, start them, turn heartbeats into
`ParcelUpdate` events (a parcel whose heartbeat is older than `heartbeat_stale_s` is
stuck), and gather the result rows and every failed path once they end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from logcache.backends import Job, JobEnd, JobStarted, run_jobs
from logcache.datoms import VALIDATIONS
from logcache.entries import CacheEntry
from logcache.heartbeat import Heartbeat, now_iso, read_heartbeats
from logcache.parcels import Parcel, filter_by_name, plan
from logcache.stores import open_results
from logcache.validation import ResultRow, latest_results, read_results
from state.config import CampaignConfig


@dataclass(frozen=True)
class ParcelUpdate:
    label: str
    backend: str
    job_id: str
    status: str  # pending | running | stuck | done | failed
    task: str
    done: int
    total: int
    bytes_done: int
    bytes_total: int
    heartbeat_at: str | None
    heartbeat_age_s: float | None
    error: str = ""


@dataclass(frozen=True)
class FoundPath:
    url: str
    origin: str  # validation | job-log
    dataset_name: str


@dataclass(frozen=True)
class ValidationRun:
    jobs: list[JobEnd]
    rows: list[ResultRow]  # the latest result of every planned pair that has one
    failed_paths: list[FoundPath]
    pairs: int

    @property
    def invalid(self) -> list[ResultRow]:
        return [r for r in self.rows if not r.is_valid]


@dataclass
class _Watcher:
    config: CampaignConfig
    jobs: dict[str, Job]
    since: str
    on_event: Callable[[ParcelUpdate], None] | None
    job_ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def started(self, s: JobStarted) -> None:
        self.job_ids[s.label] = (s.backend, s.job_id)
        self._emit(s.label, "pending", None)

    def poll(self) -> None:
        beats = read_heartbeats(open_results(self.config))
        for label in self.jobs:
            beat = beats.get(label)
            fresh = beat if beat is not None and beat.started_at >= self.since else None
            if fresh is None:
                continue
            stale = fresh.state == "running" and fresh.age_s() > self.config.validation.heartbeat_stale_s
            self._emit(label, "stuck" if stale else fresh.state, fresh)

    def ended(self, end: JobEnd) -> None:
        beat = read_heartbeats(open_results(self.config)).get(end.label)
        self._emit(end.label, "done" if end.ok else "failed", beat if beat and beat.started_at >= self.since else None, end.error)

    def _emit(self, label: str, status: str, beat: Heartbeat | None, error: str = "") -> None:
        if self.on_event is None:
            return
        job = self.jobs[label]
        backend, job_id = self.job_ids.get(label, ("", ""))
        self.on_event(
            ParcelUpdate(
                label,
                backend,
                job_id,
                status,
                beat.task if beat else "",
                beat.done if beat else 0,
                len(job.parcel.tasks),
                beat.bytes_done if beat else 0,
                job.parcel.bytes,
                beat.updated_at if beat else None,
                round(beat.age_s(), 1) if beat else None,
                error,
            )
        )


def plan_parcels(entries: list[CacheEntry], count: int, balance: str, names: list[str] | None = None) -> list[Parcel]:
    return plan(filter_by_name(entries, names) if names else entries, count, balance)


def jobs_for(config: CampaignConfig, parcels: list[Parcel], balance: str, names: list[str] | None, prefix: str = "") -> list[Job]:
    args: tuple[str, ...] = ()
    if balance != config.validation.balance:
        args += ("--balance", balance)
    if names:
        args += ("--filter-by-name", ",".join(names))
    return [Job(p, f"{prefix}{p.parcel_id}", len(parcels), args) for p in parcels if p.tasks]


def validate(
    config: CampaignConfig,
    entries: list[CacheEntry],
    *,
    count: int,
    balance: str,
    backend: str,
    names: list[str] | None = None,
    force: bool = False,
    prefix: str = "",
    on_event: Callable[[ParcelUpdate], None] | None = None,
    cancel: threading.Event | None = None,
) -> ValidationRun:
    parcels = plan_parcels(entries, count, balance, names)
    jobs = jobs_for(config, parcels, balance, names, prefix)
    watcher = _Watcher(config, {j.label: j for j in jobs}, now_iso(), on_event)
    ends = run_jobs(config, jobs, backend=backend, force=force, watch=watcher.poll, started=watcher.started, cancel=cancel)
    for end in ends:
        watcher.ended(end)
    pairs = {(t.dataset, t.validation) for p in parcels for t in p.tasks}
    latest = latest_results(read_results(open_results(config)))
    rows = [latest[pair] for pair in sorted(pairs) if pair in latest]
    return ValidationRun(ends, rows, found_paths(entries, rows, ends), len(pairs))


def found_paths(entries: list[CacheEntry], rows: list[ResultRow], ends: list[JobEnd]) -> list[FoundPath]:
    """Failed paths from result rows (`missing-path`) and from job logs, each once, named
    by the dataset whose source or destination it is."""
    owner = {url: e.name for e in entries for url in (e.source, e.destination)}
    kinds = {v: k for k, v in VALIDATIONS.items()}
    found: dict[str, FoundPath] = {}
    for row in rows:
        if row.error_kind == "missing-path":
            url = row.error.removeprefix("Path does not exist: ")
            found.setdefault(url, FoundPath(url, "validation", f"{row.dataset}/{kinds[row.validation]}"))
    for end in ends:
        for url in end.missing_paths:
            found.setdefault(url, FoundPath(url, "job-log", owner.get(url.rstrip("/"), "")))
    return list(found.values())
