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

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from logcache.datomic.logop import Segment, read_segment
from logcache.datomic.rowhash import fact_states
from logcache.storage import Store
from logcache.validation.budget import release_freed_memory
from logcache.validation.checksum import Measure

_T = TypeVar("_T")


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

    def cache_tasks(self) -> Sequence[Callable[[], object]]: ...

    def finish(self, digests: list[object], cached: list[object], pool: ThreadPoolExecutor) -> Measure: ...

    def close(self) -> None:
        """Release what the check holds outside memory (spill files), however it ended."""


def decode(logs: Store, segment: Segment) -> Decoded:
    table = read_segment(logs, segment.key)
    return Decoded(segment, table, fact_states(table))


def run_checks(logs: Store, checks: Sequence[Check | Exception], pool: ThreadPoolExecutor, release_memory: bool = False) -> list[Measure | Exception]:
    """Each check's measure, or the error that stopped it; a check given as an exception
    (its inputs could not even be listed) is passed through. The reads run on `pool`,
    which units running side by side may share (see `check.run_shard`). With
    `release_memory` (a check working within a budget it had to partition for), the heap's
    free pages go back to the OS after each segment (`budget.release_freed_memory`)."""
    live = [(i, c) for i, c in enumerate(checks) if not isinstance(c, Exception)]
    live_checks = dict(live)
    by_key: dict[str, list[int]] = {}
    segments: dict[str, Segment] = {}
    for i, check in live:
        for segment in check.segments():
            segments[segment.key] = segment
            by_key.setdefault(segment.key, []).append(i)

    def digest(segment: Segment) -> dict[int, object]:
        decoded = decode(logs, segment)
        digests = {i: live_checks[i].digest(decoded) for i in by_key[segment.key]}
        if release_memory:
            del decoded
            release_freed_memory()
        return digests

    out: list[Measure | Exception] = [c if isinstance(c, Exception) else Measure() for c in checks]
    submitted: list[Future[Any]] = []

    def submit(task: Callable[[], _T]) -> Future[_T]:
        future = pool.submit(task)
        submitted.append(future)
        return future

    try:
        # Cache tasks first (the Parquet files are the biggest single tasks), then the
        # segments biggest first, so the tasks that finish last are short ones.
        cached = {i: [submit(task) for task in check.cache_tasks()] for i, check in live}
        ordered = sorted(segments.values(), key=lambda s: -s.size)
        decoded = {s.key: submit(functools.partial(digest, s)) for s in ordered}
        for i, check in live:
            try:
                # The segments' errors first, in t order: what a sequential read would raise.
                mine = [decoded[s.key].result()[i] for s in sorted(check.segments(), key=lambda s: (s.first_t, s.key))]
                out[i] = check.finish(mine, [f.result() for f in cached[i]], pool)
            except Exception as exc:  # noqa: BLE001 - the caller classifies it into the check's row
                out[i] = exc
    finally:
        # On an error, start none of this shard's further reads, and return only once
        # those running have ended: none may outlive the call.
        for future in submitted:
            future.cancel()
        wait(submitted)
        for _, check in live:
            check.close()
    return out
