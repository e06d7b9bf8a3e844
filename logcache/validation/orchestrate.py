"""Validate a campaign's cache entries in parcels on a backend, watching heartbeats.

This is the parent's side: plan the parcels, start them, turn heartbeats into
`ParcelUpdate` events (a parcel whose heartbeat is older than `heartbeat_stale_s` is
stuck), and gather the result rows and every failed path once they end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from logcache.datomic.schema import entry_name
from logcache.entries import CacheEntry, owner_of
from logcache.errors import LogcacheError, missing_paths
from logcache.storage import Store
from logcache.stores import open_logs, open_results
from logcache.validation import KIND_OF, ResultRow, latest_results, read_results
from logcache.validation.backends.base import JobEnd, JobStarted, ParcelJob, RunOptions
from logcache.validation.backends.registry import backend_named
from logcache.validation.budget import budget_of, estimated_datoms
from logcache.validation.heartbeat import Heartbeat, HeartbeatState, read_heartbeats
from logcache.validation.plan import MAX_ENTITY_PARTS, Parcel, Partitions, filter_by_name, format_cut, named_partitions, plan
from logcache.validation.predict import forecast, write_predictions
from logcache.validation.result import utc_now
from state.config import CampaignConfig, load_config
from state.model import FailedPathOrigin, ParcelStatus


@dataclass(frozen=True)
class ParcelUpdate:
    label: str
    backend: str
    job_id: str
    status: ParcelStatus
    task: str
    done: int
    total: int
    bytes_done: int
    bytes_total: int
    heartbeat_at: str | None
    heartbeat_age_s: float | None
    error: str = ""

    @classmethod
    def of(
        cls, label: str, backend: str, job_id: str, status: ParcelStatus, beat: Heartbeat | None, total: int, bytes_total: int, error: str = ""
    ) -> ParcelUpdate:
        if beat is None:
            return cls(label, backend, job_id, status, "", 0, total, 0, bytes_total, None, None, error)
        return cls(
            label, backend, job_id, status, beat.task, beat.done, total, beat.bytes_done, bytes_total, beat.updated_at, round(beat.age_s(), 1), error
        )


def beat_status(beat: Heartbeat, stale_s: float) -> ParcelStatus:
    """The parcel's status as its heartbeat tells it: a running one gone quiet is stuck."""
    if beat.state is HeartbeatState.RUNNING and beat.age_s() > stale_s:
        return ParcelStatus.STUCK
    return ParcelStatus(beat.state.value)


@dataclass(frozen=True)
class FoundPath:
    url: str
    origin: FailedPathOrigin
    dataset_name: str


@dataclass(frozen=True)
class ValidationRun:
    jobs: list[JobEnd]
    rows: list[ResultRow]  # the latest result of every planned pair that has one
    failed_paths: list[FoundPath]
    pairs: int

    @property
    def invalid(self) -> list[ResultRow]:
        """The pairs the data shows wrong (not those that could not be checked)."""
        return [r for r in self.rows if not r.is_valid and r.checked]

    @property
    def valid(self) -> int:
        """Pairs whose saved result is valid: a pair never counts as valid otherwise."""
        return sum(r.is_valid for r in self.rows)

    @property
    def not_checked(self) -> list[ResultRow]:
        """The pairs whose latest attempt could not check them, with the cause."""
        return [r for r in self.rows if not r.checked]

    @property
    def unchecked(self) -> int:
        """Pairs not checked: those with a not-checked row and those with no result saved."""
        return self.pairs - self.valid - len(self.invalid)


@dataclass
class _Watcher:
    results: Store
    jobs: dict[str, ParcelJob]
    since: str  # heartbeats older than this run are an earlier run's
    stale_s: float
    on_event: Callable[[ParcelUpdate], None] | None
    job_ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def started(self, s: JobStarted) -> None:
        self.job_ids[s.label] = (s.backend, s.job_id)
        self._emit(s.label, ParcelStatus.PENDING, None)

    def poll(self) -> None:
        beats = self._beats()
        for label in self.jobs:
            beat = beats.get(label)
            if beat is not None:
                self._emit(label, beat_status(beat, self.stale_s), beat)

    def ended(self, ends: list[JobEnd]) -> None:
        beats = self._beats()
        for end in ends:
            self._emit(end.label, ParcelStatus.DONE if end.ok else ParcelStatus.FAILED, beats.get(end.label), end.error)

    def _beats(self) -> dict[str, Heartbeat]:
        return {label: beat for label, beat in read_heartbeats(self.results).items() if beat.started_at >= self.since}

    def _emit(self, label: str, status: ParcelStatus, beat: Heartbeat | None, error: str = "") -> None:
        if self.on_event is not None:
            job = self.jobs[label]
            backend, job_id = self.job_ids.get(label, ("", ""))
            self.on_event(ParcelUpdate.of(label, backend, job_id, status, beat, len(job.parcel.tasks), job.parcel.bytes, error))


def plan_parcels(
    entries: list[CacheEntry], count: int, balance: str, names: list[str] | None = None, cut: Mapping[str, int] | None = None
) -> list[Parcel]:
    """The parcels of `names` (all entries without), an entities check's partitions
    (`<pair>#pKofN`, or all of a pair `cut` into N) each a task of its own."""
    partitions = named_partitions(names or [])[1]
    chosen = filtered(entries, names)
    filter_by_name(entries, list(cut or {}), "--entity-partitions")  # an unknown pair is refused, with the closest name
    parts = {pair: n for pair, n in (cut or {}).items() if pair not in partitions.parts} | partitions.parts
    return plan(chosen, count, balance, Partitions(parts, partitions.only))


def cut_for(config: CampaignConfig, backend: str, entries: list[CacheEntry], names: list[str] | None, given: dict[str, int] | None) -> dict[str, int]:
    """The entities checks planned in partitions: those `given` (`--entity-partitions`),
    else, with the command backend, those over one job's budget (`memory_cut`)."""
    if given is not None:
        return given
    return memory_cut(config, filtered(entries, names)) if backend == "command" and entries else {}


def filtered(entries: list[CacheEntry], names: list[str] | None) -> list[CacheEntry]:
    """The entries `names` (`--filter-by-name`, partitions included) choose; all without."""
    return filter_by_name(entries, named_partitions(names)[0]) if names else entries


def memory_cut(config: CampaignConfig, entries: list[CacheEntry]) -> dict[str, int]:
    """The command backend's parcels are jobs on machines of their own, which share no
    spill folder: an entities check whose facts would not fit one job's memory budget is
    cut into partitions at the plan, each a task any job can run (what the runbook's
    operators did by hand). Partitions by the shard's log bytes up to T, as the check
    itself counts them."""
    from logcache.datomic.logop import list_segments

    budget, logs = budget_of(config), open_logs(config)

    def parts(entry: CacheEntry) -> int:
        size = sum(s.size for s in list_segments(logs, entry.dataset) if s.first_t <= entry.t)
        return min(MAX_ENTITY_PARTS, budget.partitions(estimated_datoms(size)))

    heavy = [e for e in entries if e.kind != "log"]
    with ThreadPoolExecutor(16, thread_name_prefix="cut") as pool:
        counts = list(pool.map(parts, heavy))
    return {e.pair: n for e, n in zip(heavy, counts) if n > 1}


def jobs_for(
    config: CampaignConfig, parcels: list[Parcel], balance: str, names: list[str] | None, prefix: str = "", cut: Mapping[str, int] | None = None
) -> list[ParcelJob]:
    args: tuple[str, ...] = ()
    if balance != config.validation.balance:
        args += ("--balance", balance)
    if names:
        args += ("--filter-by-name", ",".join(names))
    if cut:
        # Each job plans the parcels again: told the partitions, it finds its own.
        args += ("--entity-partitions", format_cut(dict(cut)))
    args += s3_overrides(config)
    if config.validation.worker_memory is not None and config.validation.worker_memory != load_config(config.path).validation.worker_memory:
        args += ("--worker-memory", str(config.validation.worker_memory))
    return [ParcelJob(p, f"{prefix}{p.parcel_id}", len(parcels), args) for p in parcels if p.tasks]


def s3_overrides(config: CampaignConfig) -> tuple[str, ...]:
    """`--endpoint-url` and `--profile` where this run's differ from the campaign file's
    (given on the operator's command line): a job reads the file, so it is told them."""
    on_file = load_config(config.path).s3
    args: tuple[str, ...] = ()
    for name, flag in (("endpoint_url", "--endpoint-url"), ("profile", "--profile")):
        value = getattr(config.s3, name)
        if value is not None and value != getattr(on_file, name):
            args += (flag, value)
    return args


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
    image: str = "",
    on_line: Callable[[str], None] | None = None,
    cut: Mapping[str, int] | None = None,
) -> ValidationRun:
    """`image` is the `{image}` of the command backend's templates; `on_line` gets the
    asynchronous submitter's hook output; `cut`, the entities checks planned in
    partitions (`memory_cut`)."""
    parcels = plan_parcels(entries, count, balance, names, cut)
    jobs = jobs_for(config, parcels, balance, names, prefix, cut)
    try:
        write_predictions(config.work_dir, *forecast(config, entries, parcels, prefix))
    except LogcacheError:
        pass  # the log cannot be sampled: the run itself reports why, in its rows
    results = open_results(config)
    chosen = backend_named(backend)
    now = utc_now()
    since = min(now, chosen.resumed_since(config, jobs) or now)
    watcher = _Watcher(results, {j.label: j for j in jobs}, since, config.validation.heartbeat_stale_s, on_event)
    options = RunOptions(force, watcher.poll, watcher.started, cancel, image, on_line)
    ends = chosen.run(config, jobs, options)
    watcher.ended(ends)
    pairs = planned_pairs(parcels)
    # The rows the jobs returned are the latest of their pairs (the campaign's lock keeps
    # anyone else from writing one); only the others are read, so a run whose workers
    # reported every row never loads Parquet here.
    latest = latest_results([r for end in ends for r in end.rows])
    unreported = pairs - latest.keys()
    if unreported:
        stored = latest_results(read_results(results, pairs=unreported if names else None))
        latest |= {pair: stored[pair] for pair in unreported if pair in stored}
    rows = [latest[pair] for pair in sorted(pairs) if pair in latest]
    return ValidationRun(ends, rows, found_paths(entries, rows, ends), len(pairs))


def planned_pairs(parcels: list[Parcel]) -> set[tuple[str, str]]:
    """The (dataset, validation) pairs the parcels' tasks check."""
    return {(t.dataset, t.validation) for p in parcels for t in p.tasks}


def found_paths(entries: list[CacheEntry], rows: list[ResultRow], ends: list[JobEnd]) -> list[FoundPath]:
    """Failed paths from result rows (`missing-path`) and from job logs, each once, named
    by the dataset whose source or destination it is."""
    found: dict[str, FoundPath] = {}
    for row in rows:
        if row.error_kind == "missing-path":
            for url in missing_paths(row.error):
                found.setdefault(url, FoundPath(url, FailedPathOrigin.VALIDATION, entry_name(row.dataset, KIND_OF[row.validation])))
    for end in ends:
        for url in end.missing_paths:
            found.setdefault(url, FoundPath(url, FailedPathOrigin.JOB_LOG, owner_of(entries, url)))
    return list(found.values())
