"""log-validation: the cache equals the source log up to T, as a multiset of datoms.

One streaming pass per side fills per-t-bucket checksums (count, hash sum); only the
buckets that differ are read again, in groups of at most `max_diff_rows` rows, and
diffed exactly. Memory is one batch plus the buckets being diffed, never a whole shard.
A `TRange` restricts the whole comparison, so a heavy shard splits into sub-tasks
whose partial results merge (`result.merge_partials`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datoms import DATOM_SCHEMA
from logcache.entries import CacheEntry
from logcache.logop import BATCH_ROWS, EVERYTHING, TRange, cache_prefix, list_parquet, list_segments, parquet_tables, segment_tables
from logcache.rowhash import hash_rows
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

    def expected(within: TRange) -> Iterator[pa.Table]:
        return segment_tables(logs, segments, wanted.intersect(within))

    def actual(within: TRange) -> Iterator[pa.Table]:
        return parquet_tables(destination, files, DATOM_SCHEMA, scope.intersect(within), batch_rows)

    measure = Measure()
    sums = []
    for side, tables in (("expected", expected(EVERYTHING)), ("actual", actual(EVERYTHING))):
        checksums = BucketChecksums(buckets.size)
        for table in tables:
            t = table.column("t").to_numpy()
            checksums.add(buckets.of(t), hash_rows(table))
            if side == "expected":
                measure.rows_expected += table.num_rows
                measure.expected_max_t = max_t(measure.expected_max_t, t)
            else:
                measure.rows_actual += table.num_rows
                measure.cache_max_t = max_t(measure.cache_max_t, t)
                measure.rows_past_t += int((t > entry.t).sum())
        sums.append(checksums)
    differing = sums[0].differing(sums[1])
    for group in _groups(differing, np.maximum(sums[0].counts, sums[1].counts), max_diff_rows):
        within = buckets.range_of(int(group[0]), int(group[-1]))
        sides = [_collect(tables, buckets, group) for tables in (expected(within), actual(within))]
        measure.diff.add(multiset_diff(sides[0], sides[1], DATOM_SCHEMA.names))
    return measure


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


def _collect(tables: Iterator[pa.Table], buckets: _Buckets, group: np.ndarray) -> pl.DataFrame:
    kept = []
    for table in tables:
        keep = np.isin(buckets.of(table.column("t").to_numpy()), group)
        if keep.any():
            kept.append(table.filter(pa.array(keep)))
    frame = pl.from_arrow(pa.concat_tables(kept)) if kept else pl.from_arrow(DATOM_SCHEMA.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame

