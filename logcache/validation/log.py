"""log-validation: the cache equals the source log up to T, as a multiset of datoms.

One streaming pass per side fills per-t-bucket checksums (count, hash sum): the log side
from the shard's shared segment scan (`scan`), the cache side one task per Parquet file.
Only the buckets that differ are read again, in groups of at most `max_diff_rows` rows,
and diffed exactly. Memory is a few batches plus the buckets being diffed, never a whole
shard. A `TRange` restricts the whole comparison, so a heavy shard splits into sub-tasks
(each reading only its own segments) whose partial results merge (`result.merge_partials`).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.logop import (
    BATCH_ROWS,
    EVERYTHING,
    Segment,
    TRange,
    cache_prefix,
    in_ranges,
    list_parquet,
    list_segments,
    parquet_tables,
    segment_tables,
)
from logcache.datomic.rowhash import finish_rows, hash_rows
from logcache.datomic.tables import DATOM_SCHEMA
from logcache.entries import CacheEntry
from logcache.storage import Store
from logcache.validation.budget import Budget
from logcache.validation.checksum import BucketChecksums, Measure, bucket_groups, max_t, multiset_diff
from logcache.validation.scan import Decoded

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


def split_log(logs: Store, shard: str, parts: int, up_to_t: int) -> list[TRange]:
    """Up to `parts` t ranges covering the whole t axis with about equal bytes of the
    segments the check reads (those starting at or before `up_to_t`, the entry's T), cut
    at segment boundaries, for splitting one shard's log-validation into sub-tasks. The
    segments past T weigh nothing: counted, they made a last range with nothing to check
    while the first ones held all the work."""
    segments = [s for s in list_segments(logs, shard) if s.first_t <= up_to_t]
    total = sum(s.size for s in segments) or 1
    cuts: list[int] = []
    done = 0
    for segment in segments[:-1]:
        done += segment.size
        if len(cuts) < parts - 1 and done >= total * (len(cuts) + 1) / parts:
            cuts.append(segment.last_t)
    bounds = [None, *cuts]
    return [TRange(None if lo is None else lo + 1, hi) for lo, hi in zip(bounds, [*cuts, None])]


class LogCheck:
    """log-validation of one entry within `scope`, as a check of the shared segment scan
    (`scan.run_checks`): construction lists the cache (PathNotFound when it is gone)."""

    def __init__(
        self,
        entry: CacheEntry,
        logs: Store,
        destination: Store,
        segments: list[Segment],
        scope: TRange = EVERYTHING,
        batch_rows: int = BATCH_ROWS,
        max_diff_rows: int = MAX_DIFF_ROWS,
        budget: Budget | None = None,
    ) -> None:
        self.entry, self.logs, self.destination = entry, logs, destination
        self.files = list_parquet(destination, cache_prefix(entry, destination))
        self.all_segments = segments
        self.scope = scope
        self.wanted = scope.intersect(TRange(None, entry.t))
        # Under a budget the differing buckets are diffed in groups that fit it.
        self.batch_rows, self.max_diff_rows = batch_rows, max_diff_rows if budget is None else min(max_diff_rows, budget.diff_rows)
        self.buckets = _Buckets(
            scope.lo if scope.lo is not None else segments[0].first_t,
            scope.hi if scope.hi is not None else max(entry.t, segments[-1].last_t),
            scope,
        )
        self._lock = threading.Lock()
        self._sides = {"expected": _Partial(self.buckets.size), "actual": _Partial(self.buckets.size)}

    def segments(self) -> list[Segment]:
        return [s for s in self.all_segments if self.wanted.overlaps(s.first_t, s.last_t)]

    def digest(self, decoded: Decoded) -> None:
        t = decoded.column("t")
        mask = self.wanted.mask(decoded.table.column("t"))
        keep = None if mask is None else mask.to_numpy(zero_copy_only=False)
        states = decoded.states if keep is None else decoded.states[keep]
        t = t if keep is None else t[keep]
        added = decoded.table.column("added").to_numpy(zero_copy_only=False)
        added = added if keep is None else added[keep]
        part = _Partial(self.buckets.size)
        part.sums.add(self.buckets.of(t), finish_rows(states, t, added))
        part.rows = len(t)
        part.max_t = max_t(None, t)
        self._merge("expected", part)

    def close(self) -> None:
        """Nothing to release: the log check holds only bucket sums between reads."""

    def cache_tasks(self) -> list[Callable[[], None]]:
        return [functools.partial(self._checksum, source) for source in self._actual(EVERYTHING)]

    def _checksum(self, source: Callable[[], Iterator[pa.Table]]) -> None:
        part = _Partial(self.buckets.size)
        for table in source():
            t = table.column("t").to_numpy()
            part.sums.add(self.buckets.of(t), hash_rows(table))
            part.rows += table.num_rows
            part.max_t = max_t(part.max_t, t)
            part.past_t += int((t > self.entry.t).sum())
        self._merge("actual", part)

    def _merge(self, side: str, part: _Partial) -> None:
        """Fold a task's share into its side at once (from the reading threads), so what is
        held does not grow with the shard's segments and files."""
        with self._lock:
            self._sides[side].merge(part)

    def _expected(self, within: TRange, only: list[TRange] | None = None) -> list[Callable[[], Iterator[pa.Table]]]:
        scoped = self.wanted.intersect(within)
        chosen = [s for s in self.all_segments if in_ranges(s.first_t, s.last_t, scoped, only)]
        return [functools.partial(segment_tables, self.logs, [s], scoped) for s in chosen]

    def _actual(self, within: TRange, only: list[TRange] | None = None) -> list[Callable[[], Iterator[pa.Table]]]:
        scoped = self.scope.intersect(within)
        return [functools.partial(parquet_tables, self.destination, [f], DATOM_SCHEMA, scoped, self.batch_rows, only) for f in self.files]

    def finish(self, digests: list[object], cached: list[object], pool: ThreadPoolExecutor) -> Measure:
        sides = self._sides
        measure = Measure(
            rows_expected=sides["expected"].rows,
            expected_max_t=sides["expected"].max_t,
            rows_actual=sides["actual"].rows,
            cache_max_t=sides["actual"].max_t,
            rows_past_t=sides["actual"].past_t,
        )
        sums = [sides["expected"].sums, sides["actual"].sums]
        differing = sums[0].differing(sums[1])
        for group in bucket_groups(differing, np.maximum(sums[0].counts, sums[1].counts), self.max_diff_rows):
            within = self.buckets.range_of(int(group[0]), int(group[-1]))
            # Read again only the sources (segments, row groups) that hold a differing bucket.
            only = [self.buckets.range_of(int(run[0]), int(run[-1])) for run in _runs(group)]
            tasks = [self._expected(within, only), self._actual(within, only)]
            found = list(pool.map(functools.partial(_keep, self.buckets, group), tasks[0] + tasks[1]))
            kept = (found[: len(tasks[0])], found[len(tasks[0]) :])
            frames = [_frame([table for tables in side for table in tables]) for side in kept]
            measure.diff.add(multiset_diff(frames[0], frames[1], DATOM_SCHEMA.names))
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


def _runs(group: np.ndarray) -> list[np.ndarray]:
    """`group` (sorted bucket numbers) split into runs of consecutive buckets."""
    return np.split(group, np.flatnonzero(np.diff(group) != 1) + 1)


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
