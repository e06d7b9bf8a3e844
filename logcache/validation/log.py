"""log-validation: the cache equals the source log up to T, as a multiset of datoms.

One streaming pass per side fills per-t-bucket checksums (count, hash sum); only the
buckets that differ are read again, in groups of at most `max_diff_rows` rows, and
diffed exactly. Memory is one batch plus the buckets being diffed, never a whole shard.
A `TRange` restricts the whole comparison, so a heavy shard splits into sub-tasks
whose partial results merge (`result.merge_partials`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.schema import DATOM_SCHEMA
from logcache.entries import CacheEntry
from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, TRange, cache_prefix, in_ranges, list_parquet, list_segments, parquet_tables, segment_tables
from logcache.datomic.rowhash import hash_rows
from logcache.storage import Store
from logcache.validation.checksum import BucketChecksums, Measure, max_t, multiset_diff

T_BUCKETS = 1 << 12
MAX_DIFF_ROWS = 1 << 21


class _Buckets:
    """t -> bucket over [origin, origin + size * width), the edges open-ended."""

    def __init__(self, lo: int, hi: int, scope: TRange, size: int = T_BUCKETS) -> None:
        self.origin = lo
        self.width = max(1, math.ceil((hi - lo + 1) / size))
        self.size = size
        self.scope = scope

    def of(self, t: np.ndarray) -> np.ndarray:
        return np.clip((t - self.origin) // self.width, 0, self.size - 1)

    def range_of(self, first: int, last: int) -> TRange:
        lo = None if first == 0 else self.origin + first * self.width
        hi = None if last == self.size - 1 else self.origin + (last + 1) * self.width - 1
        return self.scope.intersect(TRange(lo, hi))


def split_log(logs: Store, shard: str, parts: int) -> list[TRange]:
    """Up to `parts` t ranges covering the whole t axis with about equal segment bytes,
    cut at segment boundaries, for splitting one shard's log-validation into sub-tasks."""
    segments = list_segments(logs, shard)
    total = sum(s.size for s in segments) or 1
    cuts: list[int] = []
    done = 0
    for segment in segments[:-1]:
        done += segment.size
        if len(cuts) < parts - 1 and done >= total * (len(cuts) + 1) / parts:
            cuts.append(segment.last_t)
    bounds = [None, *cuts]
    return [TRange(None if lo is None else lo + 1, hi) for lo, hi in zip(bounds, [*cuts, None])]


def validate_log(
    entry: CacheEntry,
    logs: Store,
    destination: Store,
    scope: TRange = EVERYTHING,
    batch_rows: int = BATCH_ROWS,
    max_diff_rows: int = MAX_DIFF_ROWS,
) -> Measure:
    """Compare the cache with the source log up to T inside `scope` (raises PathNotFound,
    CorruptData or SchemaMismatch for unreadable inputs)."""
    segments = list_segments(logs, entry.dataset)
    files = list_parquet(destination, cache_prefix(entry, destination))
    wanted = scope.intersect(TRange(None, entry.t))
    buckets = _Buckets(
        scope.lo if scope.lo is not None else segments[0].first_t,
        scope.hi if scope.hi is not None else max(entry.t, segments[-1].last_t),
        scope,
    )

    # One task per source (an Avro segment, a Parquet file), run on a thread pool: Polars'
    # Avro reader, pyarrow's Parquet reader and the numpy hashing all release the GIL, so
    # decoding and hashing overlap across cores. A task streams its source one batch at a
    # time and returns only per-bucket sums, so memory stays a few batches.
    def expected(within: TRange, only: list[TRange] | None = None) -> list[Callable[[], Iterator[pa.Table]]]:
        scoped = wanted.intersect(within)
        chosen = [s for s in segments if in_ranges(s.first_t, s.last_t, scoped, only)]
        return [functools.partial(segment_tables, logs, [s], scoped) for s in chosen]

    def actual(within: TRange, only: list[TRange] | None = None) -> list[Callable[[], Iterator[pa.Table]]]:
        scoped = scope.intersect(within)
        return [functools.partial(parquet_tables, destination, [f], DATOM_SCHEMA, scoped, batch_rows, only) for f in files]

    def checksum(source: Callable[[], Iterator[pa.Table]]) -> _Partial:
        part = _Partial(buckets.size)
        for table in source():
            t = table.column("t").to_numpy()
            part.sums.add(buckets.of(t), hash_rows(table))
            part.rows += table.num_rows
            part.max_t = max_t(part.max_t, t)
            part.past_t += int((t > entry.t).sum())
        return part

    measure = Measure()
    pool = ThreadPoolExecutor(_workers(), thread_name_prefix="log-validation")
    try:
        # Both sides' tasks in one queue, so no core idles at the switch between sides; the
        # Parquet files (the biggest tasks) first, so the last tasks to finish are short.
        # Results are taken expected side first, so an unreadable file raises the same
        # error as a sequential read would.
        late = [pool.submit(checksum, s) for s in actual(EVERYTHING)]
        early = [pool.submit(checksum, s) for s in expected(EVERYTHING)]
        sides = {"expected": _Partial(buckets.size), "actual": _Partial(buckets.size)}
        for side, futures in (("expected", early), ("actual", late)):
            for future in futures:
                sides[side].merge(future.result())
        measure.rows_expected = sides["expected"].rows
        measure.expected_max_t = sides["expected"].max_t
        measure.rows_actual = sides["actual"].rows
        measure.cache_max_t = sides["actual"].max_t
        measure.rows_past_t = sides["actual"].past_t
        sums = [sides["expected"].sums, sides["actual"].sums]
        differing = sums[0].differing(sums[1])
        for group in _groups(differing, np.maximum(sums[0].counts, sums[1].counts), max_diff_rows):
            within = buckets.range_of(int(group[0]), int(group[-1]))
            # Read again only the sources (segments, row groups) that hold a differing bucket.
            only = [buckets.range_of(int(run[0]), int(run[-1])) for run in _runs(group)]
            tasks = [expected(within, only), actual(within, only)]
            found = list(pool.map(functools.partial(_keep, buckets, group), tasks[0] + tasks[1]))
            sides_kept = (found[: len(tasks[0])], found[len(tasks[0]) :])
            frames = [_frame([table for tables in kept for table in tables]) for kept in sides_kept]
            measure.diff.add(multiset_diff(frames[0], frames[1], DATOM_SCHEMA.names))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on an error, start no further reads
    return measure


class _Partial:
    """One task's share of a side's checksums and counts."""

    def __init__(self, size: int) -> None:
        self.sums = BucketChecksums(size)
        self.rows = 0
        self.max_t: int | None = None
        self.past_t = 0

    def merge(self, other: _Partial) -> None:
        self.sums.counts += other.sums.counts
        self.sums.sums += other.sums.sums  # uint64: wraps mod 2^64 like the per-row sums
        self.rows += other.rows
        self.max_t = other.max_t if self.max_t is None else self.max_t if other.max_t is None else max(self.max_t, other.max_t)
        self.past_t += other.past_t


def _workers() -> int:
    """Reader threads: the cores this process may use, at most 4 (beyond that the
    storage and Polars' own threads gain little)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _runs(group: np.ndarray) -> list[np.ndarray]:
    """`group` (sorted bucket numbers) split into runs of consecutive buckets."""
    return np.split(group, np.flatnonzero(np.diff(group) != 1) + 1)


def _groups(differing: np.ndarray, rows: np.ndarray, limit: int) -> Iterator[np.ndarray]:
    """Runs of differing buckets holding at most `limit` rows (one bucket may exceed it)."""
    start = 0
    held = 0
    for i, bucket in enumerate(differing):
        if i > start and held + rows[bucket] > limit:
            yield differing[start:i]
            start, held = i, 0
        held += int(rows[bucket])
    if len(differing) > start:
        yield differing[start:]


def _keep(buckets: _Buckets, group: np.ndarray, source: Callable[[], Iterator[pa.Table]]) -> list[pa.Table]:
    kept = []
    for table in source():
        keep = np.isin(buckets.of(table.column("t").to_numpy()), group)
        if keep.any():
            kept.append(table.filter(pa.array(keep)))
    return kept


def _frame(kept: list[pa.Table]) -> pl.DataFrame:
    frame = pl.from_arrow(pa.concat_tables(kept)) if kept else pl.from_arrow(DATOM_SCHEMA.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame
