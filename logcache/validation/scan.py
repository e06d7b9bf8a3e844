"""One pass over a shard's log segments that feeds every check of the shard.

Decoding the Avro segments is most of the work of both checks, so a shard's checks run
together: each segment is decoded once, its datoms' fact states (`rowhash.fact_states`,
the hash of e, a, v before t and added are folded in) computed once, and both are handed
to every check that needs that segment; each check keeps only a small digest (bucket
sums, or one state and one t per datom). The cached Parquet each check reads is a task
of its own on the same thread pool. Polars' Avro reader, pyarrow's Parquet reader and
the numpy hashing release the GIL, so the pool keeps every core busy.

A check says which segments it needs, digests a decoded one, lists its cache tasks, and
finishes from the digests (re-reading only what its checksums say differs). An error in
one check's inputs (a missing cache prefix, a corrupt Parquet file) fails that check
alone; an unreadable segment fails every check that needed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from logcache.datomic.logop import Segment, read_segment
from logcache.datomic.rowhash import fact_states
from logcache.storage import Store
from logcache.validation.checksum import Measure


@dataclass(frozen=True)
class Decoded:
    segment: Segment
    table: pa.Table  # every datom of the segment, DATOM_SCHEMA
    states: np.ndarray  # fact_states of every row

    def column(self, name: str) -> np.ndarray:
        return self.table.column(name).to_numpy()


class Check(Protocol):
    def segments(self) -> Sequence[Segment]: ...

    def digest(self, decoded: Decoded) -> object: ...

    def cache_tasks(self) -> list[Callable[[], object]]: ...

    def finish(self, digests: list[object], cached: list[object], pool: ThreadPoolExecutor) -> Measure: ...


def decode(logs: Store, segment: Segment) -> Decoded:
    table = read_segment(logs, segment.key)
    return Decoded(segment, table, fact_states(table))


def run_checks(logs: Store, checks: Sequence[Check | Exception], workers: int) -> list[Measure | Exception]:
    """Each check's measure, or the error that stopped it; a check given as an exception
    (its inputs could not even be listed) is passed through."""
    live = [(i, c) for i, c in enumerate(checks) if not isinstance(c, Exception)]
    by_key: dict[str, list[int]] = {}
    segments: dict[str, Segment] = {}
    for i, check in live:
        for segment in check.segments():
            segments[segment.key] = segment
            by_key.setdefault(segment.key, []).append(i)

    def digest(segment: Segment) -> dict[int, object]:
        decoded = decode(logs, segment)
        return {i: checks[i].digest(decoded) for i in by_key[segment.key]}  # type: ignore[union-attr]

    out: list[Measure | Exception] = [c if isinstance(c, Exception) else Measure() for c in checks]
    pool = ThreadPoolExecutor(workers, thread_name_prefix="validation")
    try:
        # Cache tasks first (the Parquet files are the biggest single tasks), then the
        # segments biggest first, so the tasks that finish last are short ones.
        cached = {i: [pool.submit(task) for task in check.cache_tasks()] for i, check in live}
        ordered = sorted(segments.values(), key=lambda s: -s.size)
        decoded = {s.key: pool.submit(digest, s) for s in ordered}
        for i, check in live:
            try:
                # The segments' errors first, in t order: what a sequential read would raise.
                mine = [decoded[s.key].result()[i] for s in sorted(check.segments(), key=lambda s: (s.first_t, s.key))]
                out[i] = check.finish(mine, [f.result() for f in cached[i]], pool)
            except Exception as exc:  # noqa: BLE001 - the caller classifies it into the check's row
                out[i] = exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on an error, start no further reads
    return out
