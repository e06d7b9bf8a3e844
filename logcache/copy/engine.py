"""Runbook step 3: copy each entry's prefix from the ephemeral source to the permanent
destination, idempotently, with many copies in flight, and verify each prefix.

One thread (the caller's) owns all the bookkeeping; copier threads only do I/O and hand
their outcome back through a queue, so no counter needs a lock. The stores are
thread-safe, so one store per side serves every thread; S3 -> S3 copies are server-side
(`Store.copy_from`), and throttling (503 SlowDown) is retried by botocore's
standard/adaptive retry mode configured on the stores' clients.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from logcache.copy.events import (
    CopyEvent,
    CopyFinished,
    CopyPlanned,
    CopyProgress,
    CopyReport,
    DatasetConflict,
    DatasetFailed,
    DatasetProgress,
    DatasetResult,
    DatasetStatus,
    DatasetVerified,
    Failure,
)
from logcache.copy.plan import EntryPlan, ObjectCopy, plan_entry
from logcache.copy.verify import verify_prefix
from logcache.entries import CacheEntry, select_entries
from logcache.errors import LogcacheError, UsageError, missing_path
from logcache.storage import Store

PROGRESS_INTERVAL_S = 0.1
# How long outcomes gather once the first arrives: at most 50 wake-ups a second.
GATHER_S = 0.02
RATE_WINDOW_S = 5.0
# Listing is one request per 1,000 keys per side: a few threads keep it latency-bound.
MAX_LISTERS = 16
VERIFIERS = 4


def connections_needed(concurrency: int) -> int:
    """Connection-pool size for a store used by a run at `concurrency`: copies, verifiers, listers."""
    return concurrency + max(VERIFIERS, MAX_LISTERS)


def copy_entries(
    entries: Sequence[CacheEntry],
    source: Store,
    destination: Store,
    *,
    only: Iterable[str] | None = None,
    concurrency: int = 64,
    overwrite: bool = False,
    dry_run: bool = False,
    on_event: Callable[[CopyEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> CopyReport:
    """Copy every selected entry's source prefix to its destination prefix and verify it.

    Objects already at the destination with the same size (and ETag, where comparable)
    are skipped, so a rerun after any interruption copies only what is missing. A
    destination object that differs is a conflict: reported, and replaced only with
    `overwrite`. Nothing at the source is ever modified. Setting `cancel` stops new copies;
    those in flight finish and the report is marked interrupted.
    """
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    selected = select_entries(entries, only)
    run = _Run(source, destination, concurrency, overwrite, on_event or (lambda _e: None), cancel or threading.Event())
    return run.execute(selected, dry_run)


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LogcacheError) else f"{type(exc).__name__}: {exc}"


@dataclass
class _Tally:
    plan: EntryPlan
    bytes_total: int = 0
    done: int = 0
    bytes_done: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bytes_total = sum(c.size for c in self.plan.copies)

    @property
    def finished(self) -> bool:
        return self.done == len(self.plan.copies)


@dataclass(frozen=True)
class _Copied:
    tally: _Tally
    copy: ObjectCopy
    error: BaseException | None


@dataclass(frozen=True)
class _Checked:
    tally: _Tally
    reason: str | None


class _Rate:
    """Objects/s and bytes/s over the last few seconds."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int, int]] = deque()

    def add(self, now: float, objects: int, nbytes: int) -> tuple[float, float]:
        self.samples.append((now, objects, nbytes))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
            self.samples.popleft()
        t0, o0, b0 = self.samples[0]
        span = now - t0
        return ((objects - o0) / span, (nbytes - b0) / span) if span > 0 else (0.0, 0.0)


class _Run:
    def __init__(
        self,
        source: Store,
        destination: Store,
        concurrency: int,
        overwrite: bool,
        emit: Callable[[CopyEvent], None],
        cancel: threading.Event,
    ) -> None:
        self.source = source
        self.destination = destination
        self.concurrency = concurrency
        self.overwrite = overwrite
        self.emit = emit
        self.cancel = cancel
        self.results: dict[str, DatasetResult] = {}
        self.failures: list[Failure] = []
        self.tallies: dict[str, _Tally] = {}
        self.started = time.monotonic()
        self.done_q: queue.SimpleQueue[_Copied | _Checked] = queue.SimpleQueue()
        self.objects_done = 0
        self.bytes_done = 0
        self.rate = _Rate()
        self.last_progress = 0.0
        self.objects_total = 0
        self.bytes_total = 0

    def execute(self, entries: list[CacheEntry], dry_run: bool) -> CopyReport:
        for e in entries:
            self.results[e.name] = DatasetResult(e.name, e.source, e.destination)
        plans, unlisted = self._plan(entries)
        self.emit(CopyPlanned(tuple(p.summary() for p in plans), dry_run))
        for entry, reason in unlisted:
            self._fail(entry.name, entry.source, reason)
        for plan in plans:
            self._record_plan(plan, dry_run)
        if not dry_run:
            self._copy()
        interrupted = False
        for result in self.results.values():
            if result.status is DatasetStatus.PENDING:
                result.status = DatasetStatus.INTERRUPTED
                interrupted = True
        self._progress(force=True)
        report = CopyReport(self.results, self.failures, interrupted, dry_run, time.monotonic() - self.started)
        self.emit(CopyFinished(report))
        return report

    def _plan(self, entries: list[CacheEntry]) -> tuple[list[EntryPlan], list[tuple[CacheEntry, str]]]:
        """The plans of the entries that could be listed, and why the others could not."""
        def one(entry: CacheEntry) -> EntryPlan | BaseException:
            try:
                return plan_entry(entry, self.source, self.destination, self.overwrite)
            except Exception as exc:  # noqa: BLE001 - one dataset's failure must not stop the others
                return exc

        plans: list[EntryPlan] = []
        unlisted: list[tuple[CacheEntry, str]] = []
        with ThreadPoolExecutor(max(1, min(MAX_LISTERS, self.concurrency, len(entries)))) as pool:
            for entry, outcome in zip(entries, pool.map(one, entries)):
                if isinstance(outcome, BaseException):
                    unlisted.append((entry, _reason(outcome)))
                elif not outcome.source:
                    unlisted.append((entry, missing_path(entry.source)))
                else:
                    plans.append(outcome)
        return plans, unlisted

    def _record_plan(self, plan: EntryPlan, dry_run: bool) -> None:
        result = self.results[plan.entry.name]
        result.objects = len(plan.source)
        result.bytes = sum(o.size for o in plan.source.values())
        result.objects_skipped = plan.present
        result.conflicts = list(plan.conflicts)
        if plan.conflicts:
            self.emit(DatasetConflict(result.name, plan.entry.destination, tuple(plan.conflicts), self.overwrite))
            if not self.overwrite:
                result.status = DatasetStatus.CONFLICT
                result.reason = f"{len(plan.conflicts)} objects at the destination differ from the source"
                return
        if dry_run:
            result.status = DatasetStatus.PLANNED
        else:
            self.tallies[plan.entry.name] = _Tally(plan)

    def _copy(self) -> None:
        self.objects_total = sum(len(t.plan.copies) for t in self.tallies.values())
        self.bytes_total = sum(t.bytes_total for t in self.tallies.values())
        work: queue.SimpleQueue[tuple[_Tally, ObjectCopy]] = queue.SimpleQueue()
        for tally in self.tallies.values():
            for copy in tally.plan.copies:
                work.put((tally, copy))
        # Copier threads take their own work and this thread collects their outcomes in
        # batches, so no thread is woken once per copy: on a busy machine those wake-ups
        # cost more CPU than a copy's own request.
        # The rate is measured from the first copy on (not from the first progress tick), so
        # a run shorter than one tick still has one.
        self.rate.add(time.monotonic(), 0, 0)
        copiers = [threading.Thread(target=self._copier, args=(work,), name=f"copier-{i}") for i in range(min(self.concurrency, work.qsize()))]
        verifying = 0
        with ThreadPoolExecutor(VERIFIERS) as verifiers:
            try:
                for tally in self.tallies.values():
                    if not tally.plan.copies:
                        verifiers.submit(self._verify, tally)
                        verifying += 1
                for thread in copiers:
                    thread.start()
                while any(t.is_alive() for t in copiers) or verifying or not self.done_q.empty():
                    outcomes = self._collect()
                    for outcome in outcomes:
                        if isinstance(outcome, _Checked):
                            verifying -= 1
                            self._checked(outcome)
                        elif self._copied(outcome):
                            verifiers.submit(self._verify, outcome.tally)
                            verifying += 1
                    self._progress()
            except BaseException:
                self.cancel.set()  # copies in flight finish, none start
                raise
            finally:
                for thread in copiers:
                    if thread.is_alive():
                        thread.join()

    def _collect(self) -> list[_Copied | _Checked]:
        """The outcomes ready now, waiting up to one progress interval for the first, then
        a moment for more to gather."""
        try:
            outcomes = [self.done_q.get(timeout=PROGRESS_INTERVAL_S)]
        except queue.Empty:
            return []
        time.sleep(GATHER_S)
        while True:
            try:
                outcomes.append(self.done_q.get_nowait())
            except queue.Empty:
                return outcomes

    def _copier(self, work: queue.SimpleQueue[tuple[_Tally, ObjectCopy]]) -> None:
        while not self.cancel.is_set():
            try:
                tally, copy = work.get_nowait()
            except queue.Empty:
                return
            try:
                self.destination.copy_from(self.source, copy.source_key, copy.destination_key, copy.size)
            except Exception as exc:  # noqa: BLE001 - reported per dataset, the run goes on
                self.done_q.put(_Copied(tally, copy, exc))
            else:
                self.done_q.put(_Copied(tally, copy, None))

    def _verify(self, tally: _Tally) -> None:
        plan = tally.plan
        try:
            reason = verify_prefix(self.source, plan.source_prefix, self.destination, plan.destination_prefix)
        except Exception as exc:  # noqa: BLE001 - a failed listing fails this dataset only
            reason = _reason(exc)
        self.done_q.put(_Checked(tally, reason))

    def _copied(self, outcome: _Copied) -> bool:
        """Account for one finished copy; True when its dataset is ready to verify."""
        tally, copy = outcome.tally, outcome.copy
        result = self.results[tally.plan.entry.name]
        tally.done += 1
        self.objects_done += 1
        if outcome.error is None:
            tally.bytes_done += copy.size
            self.bytes_done += copy.size
            result.objects_copied += 1
            result.bytes_copied += copy.size
        else:
            tally.errors.append(f"{self.source.url_of(copy.source_key)}: {_reason(outcome.error)}")
        if not tally.finished:
            return False
        if tally.errors:
            first = tally.errors[0]
            more = f" (and {len(tally.errors) - 1} more)" if len(tally.errors) > 1 else ""
            self._fail(result.name, tally.plan.entry.source, f"{len(tally.errors)} objects failed to copy: {first}{more}")
            return False
        return True

    def _checked(self, outcome: _Checked) -> None:
        entry = outcome.tally.plan.entry
        if outcome.reason is not None:
            self._fail(entry.name, entry.destination, outcome.reason)
            return
        result = self.results[entry.name]
        result.status = DatasetStatus.VERIFIED
        self.emit(DatasetVerified(entry.name, entry.destination, result.objects, result.bytes))

    def _fail(self, name: str, url: str, reason: str) -> None:
        result = self.results[name]
        result.status = DatasetStatus.FAILED
        result.reason = reason
        self.failures.append(Failure(name, url, reason))
        self.emit(DatasetFailed(name, url, reason))

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_INTERVAL_S:
            return
        self.last_progress = now
        objects_per_s, bytes_per_s = self.rate.add(now, self.objects_done, self.bytes_done)
        eta = None
        if objects_per_s > 0:
            eta = (self.objects_total - self.objects_done) / objects_per_s
            if bytes_per_s > 0:
                eta = max(eta, (self.bytes_total - self.bytes_done) / bytes_per_s)
        datasets = tuple(self._dataset_progress(r) for r in self.results.values())
        self.emit(
            CopyProgress(
                self.objects_done,
                self.objects_total,
                self.bytes_done,
                self.bytes_total,
                objects_per_s,
                bytes_per_s,
                eta,
                now - self.started,
                datasets,
            )
        )

    def _dataset_progress(self, result: DatasetResult) -> DatasetProgress:
        tally = self.tallies.get(result.name)
        if tally is None:
            return DatasetProgress(result.name, result.status, 0, 0, 0, 0)
        return DatasetProgress(
            result.name, result.status, tally.done, len(tally.plan.copies), tally.bytes_done, tally.bytes_total
        )
