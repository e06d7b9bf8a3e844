"""materialized-entities-validation: the cached snapshot against the source log.

(a) cached snapshot == materialize(log up to T), and (b) advance(cached snapshot, datoms
with t > T) == materialize(whole log), the incremental read the cache exists for. Both
compare per-entity-bucket checksums first and diff only the differing buckets.

Memory is the facts of one entity partition: an `EntityPartition(index, count)` keeps
the rows whose stable entity hash mod count == index, so a heavy shard splits into
sub-tasks whose partials merge (`result.merge_partials`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.schema import ENTITY_SCHEMA
from logcache.entries import CacheEntry
from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, TRange, cache_prefix, list_parquet, list_segments, parquet_tables, segment_tables
from logcache.datomic.materialize import LatestDatoms, as_datoms, current_facts
from logcache.datomic.rowhash import entity_partition
from logcache.storage import Store
from logcache.validation.checksum import Measure, compare_frames, max_t


@dataclass(frozen=True)
class EntityPartition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} is not in 0..{self.count - 1}")

    def label(self) -> str:
        return f"p:{self.index}/{self.count}"

    def keep(self, tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for table in tables:
            if self.count == 1:
                yield table
                continue
            mask = entity_partition(table.column("e"), self.count) == self.index
            if mask.any():
                yield table.filter(pa.array(mask))


WHOLE = EntityPartition(0, 1)


def _frame(tables: Iterator[pa.Table], schema: pa.Schema) -> pl.DataFrame:
    frame = pl.from_arrow(pa.concat_tables([schema.empty_table(), *tables]))
    assert isinstance(frame, pl.DataFrame)
    return frame


def validate_entities(
    entry: CacheEntry,
    logs: Store,
    destination: Store,
    partition: EntityPartition = WHOLE,
    batch_rows: int = BATCH_ROWS,
) -> Measure:
    segments = list_segments(logs, entry.dataset)
    files = list_parquet(destination, cache_prefix(entry, destination))
    cached = _frame(partition.keep(parquet_tables(destination, files, ENTITY_SCHEMA, EVERYTHING, batch_rows)), ENTITY_SCHEMA)
    as_of_t = LatestDatoms()
    for table in partition.keep(segment_tables(logs, segments, TRange(None, entry.t))):
        as_of_t.add(table)
    # The newer datoms are what a nightly read adds to the snapshot: small next to the
    # cache, so this partition's share is held to feed both folds below.
    newer = list(partition.keep(segment_tables(logs, segments, TRange(entry.t + 1, None))))
    expected = current_facts(as_of_t.latest())

    full, advanced = LatestDatoms(), LatestDatoms()
    full.add(as_of_t.latest())
    advanced.add(as_datoms(cached))
    for table in newer:
        full.add(table)
        advanced.add(table)
    diff_b = compare_frames(full.current(), advanced.current(), ENTITY_SCHEMA.names)

    t = cached.get_column("t").to_numpy()
    return Measure(
        rows_expected=expected.height,
        rows_actual=cached.height,
        diff=compare_frames(expected, cached, ENTITY_SCHEMA.names),
        cache_max_t=max_t(None, t),
        expected_max_t=max_t(None, expected.get_column("t").to_numpy()),
        rows_past_t=int(np.count_nonzero(t > entry.t)),
        advance_mismatches=diff_b.missing + diff_b.extra + diff_b.duplicates,
    )
