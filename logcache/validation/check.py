"""Run the validations of one shard (or one sub-task of one) into result rows.

The checks of one shard run together, so its log segments are decoded once for both
(`scan.run_checks`). Data problems never raise: a missing prefix, an unreadable file, a
wrong schema, a wrong T or different rows each become the row's error_kind with a
one-line error. A check the storage stopped (unreachable, a body cut short on every
attempt, a full disk) says nothing about the data: its row is `not-checked`, naming the
cause. Denied or expired credentials would stop every check the same way, so they stop
the run instead (`STOPS_THE_RUN`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from logcache.datomic.coverage import Coverage, coverage
from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, SchemaMismatch, Segment, TRange, list_segments
from logcache.entries import CacheEntry
from logcache.errors import CannotCheckHere, CorruptData, PathNotFound, StorageError, describe, missing_path
from logcache.storage import Store
from logcache.validation.budget import Budget, reader_threads
from logcache.validation.checksum import Measure
from logcache.validation.entities import WHOLE, EntitiesCheck, EntityPartition
from logcache.validation.log import LogCheck
from logcache.validation.result import KIND_OF, LOG_GAP, LOG_OVERLAP, NOT_CHECKED, STOPS_THE_RUN, ResultRow, classify, sample_json, utc_now
from logcache.validation.scan import Check, run_checks
from logcache.validation.spill import sweep

Subtask = TRange | EntityPartition


@dataclass(frozen=True)
class Job:
    """One validation to run: the entry, which validation, and which sub-task (None: whole)."""

    entry: CacheEntry
    validation: str
    subtask: Subtask | None = None
    attempt: int = 1


def run_validation(
    entry: CacheEntry,
    validation: str,
    logs: Store,
    destination: Store,
    subtask: Subtask | None = None,
    parcel: str = "",
    attempt: int = 1,
    batch_rows: int = BATCH_ROWS,
    budget: Budget | None = None,
) -> ResultRow:
    """The result row of `validation` on `entry`; with `subtask`, a partial (its
    `subtask` field set) to merge with its siblings through `merge_partials`."""
    return run_shard([Job(entry, validation, subtask, attempt)], logs, destination, parcel=parcel, batch_rows=batch_rows, budget=budget)[0]


def run_shard(
    jobs: list[Job],
    logs: Store,
    destination: Store,
    parcel: str = "",
    batch_rows: int = BATCH_ROWS,
    readers: ThreadPoolExecutor | None = None,
    budget: Budget | None = None,
) -> list[ResultRow]:
    """The result rows of `jobs`, all of one shard, from one decode of its segments.

    The reads run on `readers` when given: units running side by side in one process
    share one pool of about as many threads as cores, so that they neither oversubscribe
    the cores (a pool each put 12 readers on 2 cores: 20% slower on the medium demo
    world) nor leave the last unit to read on one thread. Under `budget` a check whose
    working set would not fit runs in partitions (None: unbounded)."""
    for job in jobs:
        kind = KIND_OF.get(job.validation)
        if kind is None or kind != job.entry.kind:
            raise ValueError(f"{job.validation!r} does not apply to a {job.entry.kind!r} entry")
        if kind == "log" and job.subtask is not None and not isinstance(job.subtask, TRange):
            raise ValueError("log-validation splits by t range (TRange)")
        if kind != "log" and job.subtask is not None and not isinstance(job.subtask, EntityPartition):
            raise ValueError("materialized-entities-validation splits by entity partition")
    if len({job.entry.dataset for job in jobs}) > 1:
        raise ValueError("run_shard runs the validations of one shard")
    started, clock = utc_now(), time.perf_counter()
    if budget is not None:
        sweep(budget.spill_root)  # what a killed unit of this host left
    checks: list[Check | Exception] = []
    segments: list[Segment] = []
    try:
        segments = list_segments(logs, jobs[0].entry.dataset)
        for job in jobs:
            checks.append(_check(job, logs, destination, segments, batch_rows, budget))
    except Exception as exc:  # noqa: BLE001 - the shard's log cannot be listed: every check says why
        checks = [exc] * len(jobs)
    partitioned = any(isinstance(c, EntitiesCheck) and c.spill is not None for c in checks)
    if readers is None:
        threads = reader_threads() if budget is None else budget.readers(reader_threads())
        with ThreadPoolExecutor(threads, thread_name_prefix="validation") as own:
            measures = run_checks(logs, checks, own, release_memory=partitioned)
    else:
        measures = run_checks(logs, checks, readers, release_memory=partitioned)
    stop = next((m for m in measures if isinstance(m, STOPS_THE_RUN)), None)
    if stop is not None:
        raise stop
    duration = round(time.perf_counter() - clock, 6)
    return [result_row(job, m, parcel, started, duration / len(jobs), segments) for job, m in zip(jobs, measures)]


def result_row(job: Job, outcome: Measure | Exception, parcel: str, started: str, duration: float, segments: list[Segment]) -> ResultRow:
    """The row of `job` from its measure or the error that stopped it, judged against its
    shard's log (`segments`): what `run_shard` returns, for checks run elsewhere too."""
    return _on_the_log(_row(job, outcome, parcel, started, duration), coverage(job.entry.dataset, segments, job.entry.t))


def _on_the_log(row: ResultRow, log: Coverage) -> ResultRow:
    """A finding made against a log with an overlap, or with a gap where the cache and the
    log differ, is stated as a finding about the log: the cache was compared with a log
    that is not whole. (A gap alone is no finding: t values need not be contiguous.)"""
    if log.whole or not row.checked or row.error_kind in ("missing-path", "corrupt-file", "schema"):
        return row
    if not log.overlaps and row.is_valid:
        return row
    kind = LOG_OVERLAP if log.overlaps else LOG_GAP
    differ = f" (compared with it, {row.error})" if row.error else ""
    return replace(row, is_valid=False, error_kind=kind, error=f"{log.describe()}: the log is not whole, fix it before judging the cache{differ}")


def _check(job: Job, logs: Store, destination: Store, segments: list[Segment], batch_rows: int, budget: Budget | None) -> Check | Exception:
    try:
        if job.entry.kind == "log":
            scope = job.subtask if isinstance(job.subtask, TRange) else EVERYTHING
            return LogCheck(job.entry, logs, destination, segments, scope, batch_rows, budget=budget)
        partition = job.subtask if isinstance(job.subtask, EntityPartition) else WHOLE
        return EntitiesCheck(job.entry, logs, destination, segments, partition, batch_rows, budget)
    except Exception as exc:  # noqa: BLE001 - classified into the row like any other input error
        return exc


def _row(job: Job, outcome: Measure | Exception, parcel: str, started: str, duration: float) -> ResultRow:
    error_kind, error, measure = "none", "", Measure()
    if isinstance(outcome, Measure):
        measure = outcome
    elif isinstance(outcome, PathNotFound):
        error_kind, error = "missing-path", missing_path(str(outcome))
    elif isinstance(outcome, CorruptData):
        error_kind, error = "corrupt-file", str(outcome)
    elif isinstance(outcome, SchemaMismatch):
        error_kind, error = "schema", str(outcome)
    elif isinstance(outcome, (StorageError, CannotCheckHere)):
        error_kind, error = NOT_CHECKED, outcome.one_line()
    elif isinstance(outcome, OSError):
        error_kind, error = NOT_CHECKED, describe(outcome)
    else:  # neither an unexpected error nor a bug may stop the parcel's other validations
        error_kind, error = "internal", describe(outcome)
    row = ResultRow(
        dataset=job.entry.dataset,
        validation=job.validation,
        parcel=parcel,
        cache_t=job.entry.t,
        rows_expected=measure.rows_expected,
        rows_actual=measure.rows_actual,
        missing=measure.diff.missing,
        extra=measure.diff.extra,
        duplicates=measure.diff.duplicates,
        is_valid=False,
        error_kind=error_kind,
        error=error,
        sample=sample_json(measure.diff.sample),
        started_at=started,
        duration_s=duration,
        attempt=job.attempt,
        subtask=job.subtask.label() if job.subtask is not None else "",
        cache_max_t=measure.cache_max_t,
        expected_max_t=measure.expected_max_t,
        rows_past_t=measure.rows_past_t,
        advance_mismatches=measure.advance_mismatches,
    )
    return classify(row, KIND_OF[job.validation])
