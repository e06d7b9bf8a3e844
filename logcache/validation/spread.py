"""A heavy shard's materialized-entities check as many small tasks, for a cluster.

In one process (`entities.EntitiesCheck` under a budget) a heavy shard's digests are
routed to P partitions by checksum bucket, spilled, and each partition folded in turn.
On a cluster the same steps are tasks that any worker may run (`backends.dask`):

- one `decode_task` per segment up to T: the segment is decoded once, and its digests
  (fact state, `2t + added`) are cut into their partitions and written as one Arrow IPC
  piece per partition under a folder every worker reaches (`<work_dir>/spill/...`);
- one `fold_task` per partition, once every decode has ended: it reads its pieces and
  returns the partition's bucket checksums (a few KB);
- one `finish_task`: it sums the partitions' checksums, checksums the cache, diffs the
  differing buckets exactly (`EntitiesCheck.compare`, as in one process) and writes the
  pair's one result row. A partition holds every datom of its facts, so the row equals
  the in-process check's.

The folder is named like a unit's spill folder after the process that planned it, so
once that process is gone the next unit on its host removes what a crash left
(`spill.sweep`); `finish_task` and the planner remove it when the check ends.
"""

from __future__ import annotations

import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from logcache.datomic.logop import Segment, list_segments
from logcache.entries import CacheEntry
from logcache.validation.budget import Budget, budget_of, estimated_datoms, reader_threads, release_freed_memory
from logcache.validation.check import Job, result_row
from logcache.validation.checksum import ENTITY_BUCKETS, BucketChecksums, Measure
from logcache.validation.entities import EntitiesCheck, Folded, fact_digests, fold_partition
from logcache.validation.parcel import ParcelOutcome, Stores
from logcache.validation.plan import Task
from logcache.validation.result import STOPS_THE_RUN, pair_attempts, utc_now, write_result
from logcache.validation.scan import decode
from logcache.validation.spill import read_pieces, routed, spill_folder, write_piece
from state.config import CampaignConfig


@dataclass(frozen=True)
class Spread:
    """One heavy entities check planned as tasks: its entry, attempt, partitions, the
    shard's segments (those up to T are decoded) and the shared folder of its pieces."""

    entry: CacheEntry
    validation: str
    attempt: int
    parts: int
    segments: tuple[Segment, ...]
    folder: Path

    @property
    def decoded(self) -> list[Segment]:
        """The segments the check decodes, in t order (the order their errors are told in)."""
        return sorted((s for s in self.segments if s.first_t <= self.entry.t), key=lambda s: (s.first_t, s.key))

    def piece(self, part: int, index: int) -> Path:
        return self.folder / f"part-{part:04d}" / f"segment-{index:06d}.arrows"


def spread_of(stores: Stores, budget: Budget, entry: CacheEntry, task: Task, force: bool) -> Spread | None:
    """The check of `task` as tasks, or None when it is no heavy entities check (it fits
    one fold under `budget`), is already settled, or its log cannot be listed (a unit then
    runs it and its row says why)."""
    if entry.kind == "log" or task.parts != 1:
        return None
    done = pair_attempts(stores.results, task.dataset, task.validation)
    if done.settled and not force:
        return None
    try:
        segments = list_segments(stores.logs, entry.dataset)
    except Exception:  # noqa: BLE001 - the unit that runs it instead reports why in its row
        return None
    parts = budget.partitions(estimated_datoms(sum(s.size for s in segments if s.first_t <= entry.t)))
    if parts == 1:
        return None
    folder = spill_folder(budget.spill_root, f"spread{uuid.uuid4().hex[:8]}")
    return Spread(entry, task.validation, done.next, parts, tuple(segments), folder)


def decode_task(config: CampaignConfig, spread: Spread, index: int) -> int | Exception:
    """Decode segment `index` of `spread.decoded` and write its digests' pieces; the datoms
    kept, or the error that stopped the read (told by `finish_task`, as in one process)."""
    try:
        decoded = decode(Stores.of(config).logs, spread.decoded[index])
        states, order = fact_digests(decoded, spread.entry.t)
        del decoded
        for part, (s, o) in enumerate(routed(states, order, spread.parts)):
            if len(s):
                path = spread.piece(part, index)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_piece(path, s, o)
        datoms = len(states)
        del states, order
        release_freed_memory()  # a worker decodes segment after segment within its limit
        return datoms
    except Exception as exc:  # noqa: BLE001 - classified into the pair's row by finish_task
        return exc


def fold_task(spread: Spread, part: int, *decodes: int | Exception) -> Folded | None:
    """Partition `part`'s checksums from its pieces, once every decode has ended (`decodes`,
    their outcomes); None when a decode failed: the row tells that error instead."""
    if any(isinstance(d, Exception) for d in decodes):
        return None
    states, order = read_pieces(sorted((spread.folder / f"part-{part:04d}").glob("segment-*.arrows")))
    with ThreadPoolExecutor(reader_threads(), thread_name_prefix="validation-fold") as pool:
        return fold_partition(states, order, pool)


def finish_task(config: CampaignConfig, spread: Spread, label: str, decodes: list[int | Exception], *folds: Folded | None) -> ParcelOutcome:
    """The pair's result row from its partitions' checksums, written to the results store."""
    started, clock = utc_now(), time.perf_counter()
    stores, budget = Stores.of(config), budget_of(config)
    job = Job(spread.entry, spread.validation, None, spread.attempt)
    outcome: Measure | Exception
    try:
        outcome = next((d for d in decodes if isinstance(d, Exception)), None) or _compare(stores, budget, spread, decodes, folds)
    except Exception as exc:  # noqa: BLE001 - the caller classifies it into the row like any other
        outcome = exc
    finally:
        remove(spread)
    if isinstance(outcome, STOPS_THE_RUN):
        raise outcome
    row = result_row(job, outcome, label, started, round(time.perf_counter() - clock, 6), list(spread.segments))
    write_result(stores.results, row)
    return ParcelOutcome(label, 1, 0, (row,))


def _compare(stores: Stores, budget: Budget, spread: Spread, decodes: list[int | Exception], folds: tuple[Folded | None, ...]) -> Measure:
    expected = Folded(BucketChecksums(ENTITY_BUCKETS))
    for folded in folds:
        assert folded is not None  # only None after a failed decode, told before this
        expected.merge(folded)
    datoms = sum(d for d in decodes if isinstance(d, int))
    # parts=1: the folds were made by the fold tasks; the budget bounds the diff.
    check = EntitiesCheck(spread.entry, stores.logs, stores.destination, list(spread.segments), budget=budget, parts=1)
    try:
        with ThreadPoolExecutor(reader_threads(), thread_name_prefix="validation") as pool:
            cached = list(pool.map(lambda task: task(), check.cache_tasks()))
            return check.compare(expected, datoms, cached, pool)
    finally:
        check.close()


def remove(spread: Spread) -> None:
    """The check's pieces, whatever is left of them."""
    shutil.rmtree(spread.folder, ignore_errors=True)


def combined(label: str, *outcomes: ParcelOutcome) -> ParcelOutcome:
    """One unit's outcome from its parts run as separate tasks."""
    return ParcelOutcome(label, sum(o.ran for o in outcomes), sum(o.skipped for o in outcomes), tuple(r for o in outcomes for r in o.rows))
