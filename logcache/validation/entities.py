"""materialized-entities-validation: the cached snapshot against the source log.

The check: cached snapshot == materialize(log up to T). Without materialising facts:
each datom up to T is reduced to its fact state (the row hash of e, a, v before t and
added, `rowhash.fact_states`, from the shard's shared segment scan) and `2t + added`;
one group-by over those two integer columns keeps each fact's latest datom, and the
facts whose latest datom is an assertion are the current ones. Their row hashes
(`finish_rows(state, t)`, the same function the cache side applies to its rows) fill
per-bucket checksums, buckets chosen by fact state; only differing buckets are read
again and diffed exactly, value by value.

The incremental read the cache exists for, advance(cached snapshot, datoms with t > T),
equals materialize(whole log) whenever the snapshot equals materialize(log up to T)
(see `materialize.advance`: newer datoms have t > T, so they override the same facts
in both folds). So it cannot differ where the check above passed, and it is computed
only over the differing buckets, where it tells the operator whether nightly reads
would be wrong too (`advance_mismatches`).

An `EntityPartition(index, count)` restricts the check to the facts whose stable entity
hash mod count == index (`result.merge_partials` merges the partials).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, Segment, TRange, cache_prefix, list_parquet, parquet_tables, read_segment
from logcache.datomic.materialize import LatestDatoms, as_datoms, current_facts
from logcache.datomic.rowhash import entity_partition, fact_states, finish_rows
from logcache.datomic.schema import ENTITY_SCHEMA
from logcache.entries import CacheEntry
from logcache.storage import Store
from logcache.validation.checksum import ENTITY_BUCKETS, BucketChecksums, Measure, fact_buckets, max_t, multiset_diff
from logcache.validation.scan import Decoded


@dataclass(frozen=True)
class EntityPartition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} is not in 0..{self.count - 1}")

    def label(self) -> str:
        return f"p:{self.index}/{self.count}"

    def mask(self, e: np.ndarray) -> np.ndarray | None:
        """Rows of entity ids `e` in this partition, or None for all of them."""
        return None if self.count == 1 else entity_partition(e, self.count) == self.index

    def keep(self, tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for table in tables:
            mask = self.mask(table.column("e").to_numpy())
            if mask is None:
                yield table
            elif mask.any():
                yield table.filter(pa.array(mask))


WHOLE = EntityPartition(0, 1)


@dataclass
class _Facts:
    """One segment's datoms up to T: fact state and 2t + added."""

    states: np.ndarray
    order: np.ndarray


@dataclass
class _Cached:
    """One cached Parquet file's checksums and counts."""

    sums: BucketChecksums
    rows: int = 0
    max_t: int | None = None
    past_t: int = 0


class EntitiesCheck:
    """materialized-entities-validation of one entry (one partition of it), as a check of
    the shared segment scan; construction lists the cache (PathNotFound when it is gone)."""

    def __init__(
        self,
        entry: CacheEntry,
        logs: Store,
        destination: Store,
        segments: list[Segment],
        partition: EntityPartition = WHOLE,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.entry, self.logs, self.destination = entry, logs, destination
        self.files = list_parquet(destination, cache_prefix(entry, destination))
        self.all_segments = segments
        self.partition = partition
        self.batch_rows = batch_rows
        self.up_to_t = TRange(None, entry.t)

    def segments(self) -> list[Segment]:
        return [s for s in self.all_segments if s.first_t <= self.entry.t]

    def digest(self, decoded: Decoded) -> _Facts:
        t = decoded.column("t")
        keep = t <= self.entry.t
        inside = self.partition.mask(decoded.column("e"))
        if inside is not None:
            keep &= inside
        added = decoded.table.column("added").to_numpy(zero_copy_only=False)
        every = bool(keep.all())
        return _Facts(decoded.states if every else decoded.states[keep], (t * 2 + added) if every else (t[keep] * 2 + added[keep]))

    def cache_tasks(self) -> list[Callable[[], _Cached]]:
        return [functools.partial(self._checksum, info) for info in self.files]

    def _tables(self, files: list[object]) -> Iterator[pa.Table]:
        return self.partition.keep(parquet_tables(self.destination, files, ENTITY_SCHEMA, EVERYTHING, self.batch_rows))  # type: ignore[arg-type]

    def _checksum(self, info: object) -> _Cached:
        part = _Cached(BucketChecksums(ENTITY_BUCKETS))
        for table in self._tables([info]):
            states = fact_states(table)
            t = table.column("t").to_numpy()
            part.sums.add(fact_buckets(states), finish_rows(states, t))
            part.rows += table.num_rows
            part.max_t = max_t(part.max_t, t)
            part.past_t += int(np.count_nonzero(t > self.entry.t))
        return part

    def finish(self, digests: list[object], cached: list[object], pool: ThreadPoolExecutor) -> Measure:
        facts = [d for d in digests if isinstance(d, _Facts)]
        states = np.concatenate([f.states for f in facts]) if facts else np.empty(0, np.uint64)
        order = np.concatenate([f.order for f in facts]) if facts else np.empty(0, np.int64)
        del facts, digests
        latest = pl.DataFrame({"s": states, "o": order}).group_by("s").agg(pl.col("o").max())
        del states, order
        current = latest.filter(pl.col("o") % 2 == 1)
        del latest
        s = current.get_column("s").to_numpy()
        t = current.get_column("o").to_numpy() >> 1
        expected = BucketChecksums(ENTITY_BUCKETS)
        expected.add(fact_buckets(s), finish_rows(s, t))
        actual = _Cached(BucketChecksums(ENTITY_BUCKETS))
        for part in cached:
            assert isinstance(part, _Cached)
            actual.sums.counts += part.sums.counts
            actual.sums.sums += part.sums.sums  # uint64: wraps mod 2^64 like the per-row sums
            actual.rows += part.rows
            if part.max_t is not None:
                actual.max_t = part.max_t if actual.max_t is None else max(actual.max_t, part.max_t)
            actual.past_t += part.past_t
        measure = Measure(
            rows_expected=len(s),
            rows_actual=actual.rows,
            cache_max_t=actual.max_t,
            expected_max_t=max_t(None, t),
            rows_past_t=actual.past_t,
        )
        differing = expected.differing(actual.sums)
        if len(differing):
            self._diff(measure, differing, pool)
        return measure

    def _diff(self, measure: Measure, differing: np.ndarray, pool: ThreadPoolExecutor) -> None:
        """Exact comparison, and the incremental read, over the differing buckets only."""
        wanted = np.zeros(ENTITY_BUCKETS, dtype=bool)
        wanted[differing] = True

        def in_buckets(table: pa.Table) -> pa.Table:
            mask = wanted[fact_buckets(fact_states(table))]
            inside = self.partition.mask(table.column("e").to_numpy())
            return table.filter(pa.array(mask if inside is None else mask & inside))

        def segment_rows(segment: Segment, t_range: TRange) -> pa.Table:
            table = read_segment(self.logs, segment.key)
            mask = t_range.mask(table.column("t"))
            return in_buckets(table if mask is None else table.filter(mask))

        older = [s for s in self.all_segments if s.first_t <= self.entry.t]
        newer_range = TRange(self.entry.t + 1, None)
        newer_segments = [s for s in self.all_segments if s.last_t > self.entry.t]
        as_of_t = LatestDatoms()
        for table in pool.map(functools.partial(segment_rows, t_range=self.up_to_t), older):
            as_of_t.add(table)
        newer = list(pool.map(functools.partial(segment_rows, t_range=newer_range), newer_segments))
        cached_tables = [in_buckets(table) for table in self._tables(list(self.files))]
        cached = pl.from_arrow(pa.concat_tables([ENTITY_SCHEMA.empty_table(), *(t.cast(ENTITY_SCHEMA) for t in cached_tables)]))
        assert isinstance(cached, pl.DataFrame)
        latest = as_of_t.latest()
        measure.diff = multiset_diff(current_facts(latest), cached, ENTITY_SCHEMA.names)

        full, advanced = LatestDatoms(), LatestDatoms()
        full.add(latest)
        advanced.add(as_datoms(cached))
        for table in newer:
            full.add(table)
            advanced.add(table)
        moved = multiset_diff(full.current(), advanced.current(), ENTITY_SCHEMA.names)
        measure.advance_mismatches = moved.missing + moved.extra + moved.duplicates
