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

Under a memory budget (`budget.Budget`) a shard whose facts would not fit is checked in
partitions by checksum bucket: each decoded segment's digests are routed to their
partition and spilled when they do not fit (`spill.FactSpill`), and each partition is
folded on its own. Buckets are chosen by fact state, so a partition holds every datom of
its facts and its buckets' sums are whole: the result is the same as one fold's.

An `EntityPartition(index, count)` restricts the check to the facts whose stable entity
hash mod count == index (`result.merge_partials` merges the partials).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, Segment, TRange, cache_prefix, list_parquet, parquet_tables, read_segment
from logcache.datomic.materialize import LatestDatoms, as_datoms, current_facts
from logcache.datomic.rowhash import entity_partition, fact_states, finish_rows
from logcache.datomic.tables import ENTITY_SCHEMA
from logcache.entries import CacheEntry
from logcache.storage import ObjectInfo, Store
from logcache.validation.budget import Budget, estimated_datoms
from logcache.validation.checksum import ENTITY_BUCKETS, BucketChecksums, Measure, bucket_groups, fact_buckets, max_t, multiset_diff
from logcache.validation.scan import Decoded
from logcache.validation.spill import FactSpill


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


# Facts are cut into slices by their states' top bits, about this many datoms each, to
# find each one's latest datom: a slice sorts in cache, and there are few enough slices
# that their fixed cost (a few dozen numpy calls each) stays small.
SLICE_ROWS = 1 << 16
# Slices are numbered in a uint16 (its stable argsort is a radix sort).
_MAX_SLICE_BITS = 16


def slice_bits(datoms: int) -> int:
    """How many top bits of the states number the slices of `datoms` datoms."""
    return max(0, min(_MAX_SLICE_BITS, math.ceil(math.log2(max(1, datoms) / SLICE_ROWS))))


@dataclass
class _Facts:
    """One segment's datoms up to T, fact state and 2t + added, cut into slices."""

    states: list[np.ndarray]
    order: list[np.ndarray]


@dataclass
class _Cached:
    """Checksums and counts of facts: one cached Parquet file's, or one slice's expected."""

    sums: BucketChecksums
    rows: int = 0
    max_t: int | None = None
    past_t: int = 0

    def merge(self, other: _Cached) -> None:
        self.sums.counts += other.sums.counts
        self.sums.sums += other.sums.sums  # uint64: wraps mod 2^64 like the per-row sums
        self.rows += other.rows
        if other.max_t is not None:
            self.max_t = other.max_t if self.max_t is None else max(self.max_t, other.max_t)
        self.past_t += other.past_t


def _sliced(states: np.ndarray, order: np.ndarray, bits: int) -> _Facts:
    """Cut into 2^bits slices by the states' top bits, keeping each slice's rows in the
    order they came (a stable cut)."""
    if not bits:
        return _Facts([states], [order])
    slices = (states >> np.uint64(64 - bits)).astype(np.uint16)
    by_slice = np.argsort(slices, kind="stable")  # a radix sort on 16 bits
    cuts = np.searchsorted(slices[by_slice], np.arange(1, 1 << bits))
    return _Facts(np.split(states[by_slice], cuts), np.split(order[by_slice], cuts))


def _fold(facts: list[_Facts], bits: int, pool: ThreadPoolExecutor) -> _Cached:
    folded = _Cached(BucketChecksums(ENTITY_BUCKETS))
    for part in pool.map(functools.partial(_current_in_slice, facts, bits), range(1 << bits)):
        folded.merge(part)
    return folded


# What a fold returns: `spread`'s fold tasks hand it from worker to worker.
Folded = _Cached


def fold_partition(states: np.ndarray, order: np.ndarray, pool: ThreadPoolExecutor) -> _Cached:
    """Checksums of the current facts among one partition's digests (every datom of its facts)."""
    bits = slice_bits(len(states))
    return _fold([_sliced(states, order, bits)], bits, pool)


def fact_digests(decoded: Decoded, up_to_t: int, partition: EntityPartition = WHOLE) -> tuple[np.ndarray, np.ndarray]:
    """Fact state and `2t + added` of a decoded segment's datoms up to T in `partition`."""
    t = decoded.column("t")
    order = t * 2
    order += decoded.table.column("added").to_numpy(zero_copy_only=False)
    # Every segment but the one holding T is wholly kept (by its datoms, not its name): no copies.
    keep = None if not len(t) or t.max() <= up_to_t else t <= up_to_t
    inside = partition.mask(decoded.column("e"))
    if inside is not None:
        keep = inside if keep is None else keep & inside
    return (decoded.states, order) if keep is None else (decoded.states[keep], order[keep])


def _current_in_slice(facts: list[_Facts], bits: int, index: int) -> _Cached:
    """Checksums of the current facts of one slice: each fact's latest datom (the
    greatest 2t + added: later t wins, an assertion wins a tie) when it is an assertion."""
    states = np.concatenate([f.states[index] for f in facts]) if facts else np.empty(0, np.uint64)
    order = np.concatenate([f.order[index] for f in facts]) if facts else np.empty(0, np.int64)
    part = _Cached(BucketChecksums(ENTITY_BUCKETS))
    if not len(states):
        return part
    states, latest = _latest(states, order, bits)
    current = (latest & 1) == 1
    states, t = states[current], latest[current] >> 1
    part.sums.add(fact_buckets(states), finish_rows(states, t))
    part.rows = len(states)
    part.max_t = max_t(None, t)
    return part


def _latest(states: np.ndarray, order: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct state of a slice (whose top `bits` bits are all the same) and the
    greatest order among its rows.

    Rows are sorted by one uint64 key: the state's next bits, then the row's index in
    its low bits. numpy sorts plain integers 2-3x faster than it argsorts them, and the
    index is the permutation. Two distinct states sharing the key's state bits (about one
    slice in a thousand) may interleave; that is seen, and the slice then argsorts the
    full states. Either sort keeps the rows of a state in the order they came. They
    usually come in t order (segments, and the datoms in each, are in t order), so the
    last row of a state holds its latest datom; otherwise a reduce finds it."""
    n = len(states)
    index_bits = np.uint64(max(1, (n - 1).bit_length()))
    key = states << np.uint64(bits)
    key >>= index_bits
    key <<= index_bits
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    by_state = (key & np.uint64((1 << int(index_bits)) - 1)).view(np.int64)
    sorted_states = states[by_state]
    changes = sorted_states[1:] != sorted_states[:-1]
    key ^= np.roll(key, -1)
    key >>= index_bits
    if np.any(changes & (key[:-1] == 0)):
        by_state = np.argsort(states, kind="stable")
        sorted_states = states[by_state]
        changes = sorted_states[1:] != sorted_states[:-1]
    starts = np.flatnonzero(np.r_[True, changes])
    if np.all(order[1:] >= order[:-1]):
        ends = np.r_[starts[1:] - 1, n - 1]
        return sorted_states[starts], order[by_state[ends]]
    return sorted_states[starts], np.maximum.reduceat(order[by_state], starts)


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
        budget: Budget | None = None,
        parts: int | None = None,
    ) -> None:
        """`parts`: the partitions its digests are routed to (None: as many as `budget`
        needs; 1 for a check whose folds are made elsewhere, `spread`)."""
        self.entry, self.logs, self.destination = entry, logs, destination
        self.files = list_parquet(destination, cache_prefix(entry, destination))
        self.all_segments = segments
        self.partition = partition
        self.batch_rows = batch_rows
        self.up_to_t = TRange(None, entry.t)
        datoms = estimated_datoms(sum(s.size for s in self.segments()) // partition.count)
        self.parts = parts or (1 if budget is None else budget.partitions(datoms))
        self.diff_rows = None if budget is None else budget.diff_rows
        self.spill = None if budget is None or self.parts == 1 else FactSpill(budget.spill_root, self.parts, budget.held)
        self.bits = slice_bits(datoms)

    def segments(self) -> list[Segment]:
        return [s for s in self.all_segments if s.first_t <= self.entry.t]

    def digest(self, decoded: Decoded) -> _Facts | None:
        states, order = fact_digests(decoded, self.entry.t, self.partition)
        if self.spill is not None:
            self.spill.add(states, order)
            return None
        return _sliced(states, order, self.bits)  # on the decoding threads

    def cache_tasks(self) -> list[Callable[[], _Cached]]:
        return [functools.partial(self._checksum, info) for info in self.files]

    def _tables(self, files: list[ObjectInfo]) -> Iterator[pa.Table]:
        return self.partition.keep(parquet_tables(self.destination, files, ENTITY_SCHEMA, EVERYTHING, self.batch_rows))

    def _checksum(self, info: ObjectInfo) -> _Cached:
        part = _Cached(BucketChecksums(ENTITY_BUCKETS))
        for table in self._tables([info]):
            states = fact_states(table)
            t = table.column("t").to_numpy()
            part.sums.add(fact_buckets(states), finish_rows(states, t))
            part.rows += table.num_rows
            part.max_t = max_t(part.max_t, t)
            part.past_t += int(np.count_nonzero(t > self.entry.t))
        return part

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()

    def finish(self, digests: list[object], cached: list[object], pool: ThreadPoolExecutor) -> Measure:
        if self.spill is None:
            facts = [d for d in digests if isinstance(d, _Facts)]
            datoms = sum(len(s) for f in facts for s in f.states)
            expected = _fold(facts, self.bits, pool)
            del facts
        else:
            # One partition at a time: only its facts are held while it is folded.
            expected, datoms = _Cached(BucketChecksums(ENTITY_BUCKETS)), 0
            for p in range(self.parts):
                states, order = self.spill.take(p)
                datoms += len(states)
                expected.merge(fold_partition(states, order, pool))
                del states, order
        del digests
        return self.compare(expected, datoms, cached, pool)

    def compare(self, expected: _Cached, datoms: int, cached: list[object], pool: ThreadPoolExecutor) -> Measure:
        """The measure from the folded log (`expected`, of `datoms` datoms up to T) and the
        cache tasks' checksums: differing buckets are diffed exactly."""
        actual = _Cached(BucketChecksums(ENTITY_BUCKETS))
        for part in cached:
            assert isinstance(part, _Cached)
            actual.merge(part)
        measure = Measure(
            rows_expected=expected.rows,
            rows_actual=actual.rows,
            cache_max_t=actual.max_t,
            expected_max_t=expected.max_t,
            rows_past_t=actual.past_t,
        )
        differing = expected.sums.differing(actual.sums)
        if len(differing) and self.diff_rows is None:
            self._diff(measure, differing, pool)
        elif len(differing) and self.diff_rows is not None:
            # A bucket's rows to diff: its datoms up to T (about datoms per current fact
            # times its current facts) and its cached rows; groups of buckets that fit.
            per_fact = datoms / max(1, expected.rows)
            rows = (expected.sums.counts * per_fact).astype(np.int64) + actual.sums.counts
            for group in bucket_groups(differing, rows, self.diff_rows):
                self._diff(measure, group, pool)
        return measure

    def _diff(self, measure: Measure, differing: np.ndarray, pool: ThreadPoolExecutor) -> None:
        """Exact comparison, and the incremental read, over the `differing` buckets only;
        adds to `measure`, so the buckets may come in groups."""
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
        measure.diff.add(multiset_diff(current_facts(latest), cached, ENTITY_SCHEMA.names))

        full, advanced = LatestDatoms(), LatestDatoms()
        full.add(latest)
        advanced.add(as_datoms(cached))
        for table in newer:
            full.add(table)
            advanced.add(table)
        moved = multiset_diff(full.current(), advanced.current(), ENTITY_SCHEMA.names)
        measure.advance_mismatches += moved.missing + moved.extra + moved.duplicates
