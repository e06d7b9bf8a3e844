"""Current facts from datoms: full materialisation and the incremental `advance`.

A fact (e, a, v) is current as of T iff its latest datom with t <= T is an assertion; its
row carries that assertion's t. Retractions are explicit datoms (a cardinality-one update
writes one, an entity retraction writes one per fact), so cardinality-many attributes and
retracted entities need no special case.

Datomic rejects a transaction that asserts and retracts the same datom, so two datoms of
one fact never share a t in a valid log; should a malformed log have that, the assertion
wins, so the result never depends on row order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

import polars as pl
import pyarrow as pa

from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA

FACT = ["e", "a", "v"]
Datoms: TypeAlias = pl.LazyFrame | pl.DataFrame | pa.Table | Iterable[pl.DataFrame | pa.Table]

# The fold keeps at most this many pending datoms beyond its state before compacting.
_COMPACT_ROWS = 1 << 21


def _frame(table: pl.DataFrame | pa.Table) -> pl.DataFrame:
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(DATOM_SCHEMA.names)


def _latest(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per fact: its latest datom (t, added), the assertion winning a tie."""
    order = pl.col("t") * 2 + pl.col("added").cast(pl.Int64)
    return (
        frame.group_by(FACT)
        .agg(order.max().alias("_k"))
        .select(*FACT, (pl.col("_k") // 2).alias("t"), (pl.col("_k") % 2 == 1).alias("added"))
    )


class LatestDatoms:
    """A fold over datom batches keeping each fact's latest datom; memory is bounded by
    the number of distinct facts (plus one compaction window), not by the log's length."""

    def __init__(self, compact_rows: int = _COMPACT_ROWS) -> None:
        self._state = pl.DataFrame(schema=pl.DataFrame(DATOM_SCHEMA.empty_table()).schema)
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._compact_rows = compact_rows

    def add(self, batch: pl.DataFrame | pa.Table) -> None:
        frame = _frame(batch)
        self._pending.append(frame)
        self._pending_rows += frame.height
        if self._pending_rows > max(self._compact_rows, self._state.height):
            self._compact()

    def _compact(self) -> None:
        if self._pending:
            self._state = _latest(pl.concat([self._state, *self._pending], how="vertical_relaxed"))
            self._pending = []
            self._pending_rows = 0

    def latest(self) -> pl.DataFrame:
        self._compact()
        return self._state

    def current(self) -> pl.DataFrame:
        """The current facts (e, a, v, t)."""
        return current_facts(self.latest())


def current_facts(latest: pl.DataFrame) -> pl.DataFrame:
    return latest.filter(pl.col("added")).select(ENTITY_SCHEMA.names)


def materialize(datoms: Datoms, up_to_t: int | None = None) -> pl.DataFrame:
    """The current facts (e, a, v, t) of `datoms` as of `up_to_t` (None: all of them).

    `datoms` is a LazyFrame/DataFrame/Arrow table or an iterable of batches (e.g. the
    LogOp's `log_tables`), which is folded batch by batch.
    """
    if isinstance(datoms, pl.LazyFrame):
        lazy = datoms.select(DATOM_SCHEMA.names)
        if up_to_t is not None:
            lazy = lazy.filter(pl.col("t") <= up_to_t)
        order = pl.col("t") * 2 + pl.col("added").cast(pl.Int64)
        return (
            lazy.group_by(FACT)
            .agg(order.max().alias("_k"))
            .filter(pl.col("_k") % 2 == 1)
            .select(*FACT, (pl.col("_k") // 2).alias("t"))
            .collect(engine="streaming")
        )
    batches: Iterable[pl.DataFrame | pa.Table] = [datoms] if isinstance(datoms, pl.DataFrame | pa.Table) else datoms
    fold = LatestDatoms()
    for batch in batches:
        frame = _frame(batch)
        fold.add(frame if up_to_t is None else frame.filter(pl.col("t") <= up_to_t))
    return fold.current()


def as_datoms(snapshot: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """A snapshot's facts as the assertions that made them current."""
    frame = snapshot if isinstance(snapshot, pl.DataFrame) else pl.from_arrow(snapshot)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(ENTITY_SCHEMA.names).with_columns(pl.lit(True).alias("added"))


def advance(snapshot: pl.DataFrame | pa.Table, newer: Datoms) -> pl.DataFrame:
    """The snapshot as of T advanced by `newer` datoms (t > T): the incremental path.

    Equal to materialising the whole log, because the snapshot holds each current fact's
    latest datom and a fact absent from it is either never asserted or retracted, which
    any newer datom of that fact overrides just as it would in the full log.
    """
    fold = LatestDatoms()
    fold.add(as_datoms(snapshot))
    if isinstance(newer, pl.LazyFrame):
        newer = newer.collect(engine="streaming")
    for batch in [newer] if isinstance(newer, pl.DataFrame | pa.Table) else newer:
        fold.add(batch)
    return fold.current()
