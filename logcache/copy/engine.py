"""Runbook step 3: copy each entry's prefix from the ephemeral source to the permanent
destination, idempotently, with many copies in flight, and verify each prefix.

One thread (the caller's) owns all the bookkeeping; copier threads only do I/O and hand
their outcome back through a queue, so no counter needs a lock. The stores are
thread-safe, so one store per side serves every thread; S3 -> S3 copies are server-side
(`Store.copy_from`), and throttling (503 SlowDown) is retried by botocore's
standard/adaptive retry mode configured on the stores' clients.

Every worker is a daemon thread and the caller's thread never waits on one without a
timeout: a cancel returns within CANCEL_GRACE_S whatever the network does (a request still
in flight ends by its own timeout and its outcome is dropped). A server that does not
answer at all (EndpointUnreachable) or a destination that takes no writes (StoreUnwritable:
a full disk) is not one dataset's failure: it stops the run and is raised, once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
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
from logcache.errors import EndpointUnreachable, LogcacheError, UsageError, missing_path
from logcache.storage import Store
from logcache.storage.base import StoreUnwritable

# Errors that are about a whole store, not one dataset: the run stops and raises them once.
_FATAL = (EndpointUnreachable, StoreUnwritable)

PROGRESS_INTERVAL_S = 0.1
# How long outcomes gather once the first arrives: at most 50 wake-ups a second.
GATHER_S = 0.02
RATE_WINDOW_S = 5.0
# Listing is one request per 1,000 keys per side: a few threads keep it latency-bound.
MAX_LISTERS = 16
VERIFIERS = 4
# After a cancel, how long copies already in flight may take to finish and be counted.
CANCEL_GRACE_S = 1.5


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

    Objects already at the destination whose content is shown equal (`content_equal`)
    are skipped, so a rerun after any interruption copies only what is missing. A
    destination object that differs is a conflict: reported, and replaced only with
    `overwrite`. Nothing at the source is ever modified. Setting `cancel` stops new copies;
    those in flight get CANCEL_GRACE_S to finish and the report is marked interrupted.
    Raises EndpointUnreachable when a server stops answering, StoreUnwritable when the
    destination takes no writes.
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
    fatal: EndpointUnreachable | StoreUnwritable | None = None


@dataclass(frozen=True)
class _Listed:
    index: int
    entry: CacheEntry
    outcome: EntryPlan | BaseException


def _daemons(count: int, target: Callable[..., None], *args: object, name: str) -> list[threading.Thread]:
    """Started daemon threads: one that waits on a stalled server never holds up a cancel
    or the process's exit."""
    threads = [threading.Thread(target=target, args=args, name=f"{name}-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


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
        # Set when the run is over (or cannot go on): workers stop taking work.
        self.halt = threading.Event()
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
        # Datasets whose progress changed since the last CopyProgress: a tick costs what
        # changed, not the size of the campaign.
        self.changed: set[str] = set()

    def execute(self, entries: list[CacheEntry], dry_run: bool) -> CopyReport:
        for e in entries:
            self.results[e.name] = DatasetResult(e.name, e.source, e.destination)
        try:
            plans, unlisted = self._plan(entries)
            self.emit(CopyPlanned(tuple(p.summary() for p in plans), dry_run))
            for entry, reason in unlisted:
                self._fail(entry.name, entry.source, reason)
            for plan in plans:
                self._record_plan(plan, dry_run)
            if not dry_run and not self.cancel.is_set():
                self._copy()
        finally:
            # Workers still waiting on a server take no new work; their outcomes are dropped.
            self.halt.set()
        interrupted = False
        for result in self.results.values():
            if result.status is DatasetStatus.PENDING:
                result.status = DatasetStatus.INTERRUPTED
                interrupted = True
        self._progress(force=True)
        report = CopyReport(self.results, self.failures, interrupted, dry_run, time.monotonic() - self.started)
        self.emit(CopyFinished(report))
        return report

    def _stopping(self) -> bool:
        return self.cancel.is_set() or self.halt.is_set()

    def _plan(self, entries: list[CacheEntry]) -> tuple[list[EntryPlan], list[tuple[CacheEntry, str]]]:
        """The plans of the entries that could be listed, and why the others could not;
        after a cancel, only those listed so far (the rest stay pending)."""
        todo: queue.SimpleQueue[tuple[int, CacheEntry]] = queue.SimpleQueue()
        for numbered in enumerate(entries):
            todo.put(numbered)
        listed: queue.SimpleQueue[_Listed] = queue.SimpleQueue()

        def lister() -> None:
            while not self._stopping():
                try:
                    index, entry = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome: EntryPlan | BaseException = plan_entry(entry, self.source, self.destination, self.overwrite)
                except Exception as exc:  # noqa: BLE001 - one dataset's failure must not stop the others
                    outcome = exc
                listed.put(_Listed(index, entry, outcome))

        if entries:
            _daemons(max(1, min(MAX_LISTERS, self.concurrency, len(entries))), lister, name="lister")
        found: list[_Listed] = []
        while len(found) < len(entries) and not self.cancel.is_set():
            try:
                item = listed.get(timeout=PROGRESS_INTERVAL_S)
            except queue.Empty:
                continue
            if isinstance(item.outcome, _FATAL):
                raise item.outcome
            found.append(item)
        plans: list[EntryPlan] = []
        unlisted: list[tuple[CacheEntry, str]] = []
        for item in sorted(found, key=lambda i: i.index):
            if isinstance(item.outcome, BaseException):
                unlisted.append((item.entry, _reason(item.outcome)))
            elif not item.outcome.source:
                unlisted.append((item.entry, missing_path(item.entry.source)))
            else:
                plans.append(item.outcome)
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
        to_verify: queue.SimpleQueue[_Tally] = queue.SimpleQueue()
        # Copier threads take their own work and this thread collects their outcomes in
        # batches, so no thread is woken once per copy: on a busy machine those wake-ups
        # cost more CPU than a copy's own request.
        # The rate is measured from the first copy on (not from the first progress tick), so
        # a run shorter than one tick still has one.
        self.rate.add(time.monotonic(), 0, 0)
        verifying = 0
        for tally in self.tallies.values():
            if not tally.plan.copies:
                to_verify.put(tally)
                verifying += 1
        _daemons(VERIFIERS if self.tallies else 0, self._verifier, to_verify, name="verifier")
        copiers = _daemons(min(self.concurrency, work.qsize()), self._copier, work, name="copier")
        cancelled_at: float | None = None
        while any(t.is_alive() for t in copiers) or verifying or not self.done_q.empty():
            if self.cancel.is_set():
                # Copies in flight and datasets complete by then get a moment to finish and
                # be verified; what is not done by then is left to the rerun.
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                    return
            for outcome in self._collect():
                if isinstance(outcome, _Checked):
                    if outcome.fatal is not None:
                        self._halt(copiers)
                        raise outcome.fatal
                    verifying -= 1
                    self._checked(outcome)
                elif isinstance(outcome.error, _FATAL):
                    self._halt(copiers)
                    raise outcome.error
                elif self._copied(outcome):
                    to_verify.put(outcome.tally)
                    verifying += 1
            self._progress()

    def _halt(self, copiers: list[threading.Thread]) -> None:
        """Stop the run: no copy starts, and those in flight get CANCEL_GRACE_S to end
        (and to remove their temp files)."""
        self.halt.set()
        deadline = time.monotonic() + CANCEL_GRACE_S
        for thread in copiers:
            thread.join(max(0.0, deadline - time.monotonic()))

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
        while not self._stopping():
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

    def _verifier(self, to_verify: queue.SimpleQueue[_Tally]) -> None:
        # Not stopped by a cancel: datasets complete by then are verified within the grace.
        while not self.halt.is_set():
            try:
                tally = to_verify.get(timeout=PROGRESS_INTERVAL_S)
            except queue.Empty:
                continue
            plan = tally.plan
            try:
                reason = verify_prefix(self.source, plan.source_prefix, self.destination, plan.destination_prefix)
            except _FATAL as exc:
                self.done_q.put(_Checked(tally, None, exc))  # the collecting thread raises it
                return
            except Exception as exc:  # noqa: BLE001 - a failed listing fails this dataset only
                reason = _reason(exc)
            self.done_q.put(_Checked(tally, reason))

    def _copied(self, outcome: _Copied) -> bool:
        """Account for one finished copy; True when its dataset is ready to verify."""
        tally, copy = outcome.tally, outcome.copy
        result = self.results[tally.plan.entry.name]
        tally.done += 1
        self.objects_done += 1
        self.changed.add(result.name)
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
        self.changed.add(entry.name)
        self.emit(DatasetVerified(entry.name, entry.destination, result.objects, result.bytes))

    def _fail(self, name: str, url: str, reason: str) -> None:
        result = self.results[name]
        result.status = DatasetStatus.FAILED
        result.reason = reason
        self.changed.add(name)
        self.failures.append(Failure(name, url, reason))
        self.emit(DatasetFailed(name, url, reason))

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_INTERVAL_S:
            return
        if force and self.last_progress and not self.changed:
            # The last tick already told every dataset's final figures: an empty closing
            # one would leave a consumer reading the last event with nothing in it.
            return
        self.last_progress = now
        objects_per_s, bytes_per_s = self.rate.add(now, self.objects_done, self.bytes_done)
        eta = None
        if objects_per_s > 0:
            eta = (self.objects_total - self.objects_done) / objects_per_s
            if bytes_per_s > 0:
                eta = max(eta, (self.bytes_total - self.bytes_done) / bytes_per_s)
        datasets = tuple(self._dataset_progress(self.results[name]) for name in sorted(self.changed))
        self.changed.clear()
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
