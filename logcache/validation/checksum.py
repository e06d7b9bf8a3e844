"""Checksum-then-narrow multiset comparison (the data-diff method, in numpy and Polars).

Pass 1 streams each side once and keeps, per bucket, the row count and the SUM mod 2^64
of the stable row hashes (`logcache.datomic.rowhash`): order independent and a few bytes per
bucket. Pass 2 loads only the buckets whose (count, sum) differ and diffs them exactly
with counts, because an anti-join would treat duplicates as one row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from logcache.datomic.rowhash import fmix64
from logcache.validation.budget import ENTITY_BUCKETS
from logcache.validation.result import SAMPLE_SIZE


def bucket_groups(differing: np.ndarray, rows: np.ndarray, limit: int) -> Iterator[np.ndarray]:
    """Runs of `differing` buckets (sorted) holding at most `limit` rows each by `rows`
    (rows per bucket); one bucket may exceed it alone."""
    start = 0
    held = 0
    for i, bucket in enumerate(differing):
        if i > start and held + rows[bucket] > limit:
            yield differing[start:i]
            start, held = i, 0
        held += int(rows[bucket])
    if len(differing) > start:
        yield differing[start:]


class BucketChecksums:
    """Per-bucket row count and hash sum over buckets 0..size-1."""

    def __init__(self, size: int) -> None:
        self.counts = np.zeros(size, dtype=np.int64)
        self.sums = np.zeros(size, dtype=np.uint64)

    def add(self, buckets: np.ndarray, hashes: np.ndarray) -> None:
        self.counts += np.bincount(buckets, minlength=len(self.counts))
        np.add.at(self.sums, buckets, hashes)  # uint64 addition wraps: the sum is mod 2^64

    def differing(self, other: BucketChecksums) -> np.ndarray:
        return np.flatnonzero((self.counts != other.counts) | (self.sums != other.sums))


@dataclass
class Diff:
    """The exact difference of two multisets of rows."""

    missing: int = 0  # copies in expected beyond those in actual
    extra: int = 0  # rows in actual that expected does not hold at all
    duplicates: int = 0  # surplus copies in actual of rows that expected does hold
    sample: list[dict[str, object]] = field(default_factory=list)

    def add(self, other: Diff) -> None:
        self.missing += other.missing
        self.extra += other.extra
        self.duplicates += other.duplicates
        self.sample = _first_of_each_kind(self.sample + other.sample)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.duplicates)


def _first_of_each_kind(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows `multiset_diff` would sample from all of them (two of each kind, ordered
    by kind then the row's columns), so a diff made in groups samples as one made whole."""
    def order(row: dict[str, object]) -> tuple[object, ...]:
        return (row["kind"], *(row[k] for k in row if k not in ("kind", "count")))

    out: list[dict[str, object]] = []
    for row in sorted(rows, key=order):
        if sum(1 for kept in out if kept["kind"] == row["kind"]) < 2:
            out.append(row)
    return out[:SAMPLE_SIZE]


def multiset_diff(expected: pl.DataFrame, actual: pl.DataFrame, columns: Sequence[str]) -> Diff:
    keys = list(columns)
    left = expected.group_by(keys).agg(pl.len().cast(pl.Int64).alias("_expected"))
    right = actual.group_by(keys).agg(pl.len().cast(pl.Int64).alias("_actual"))
    joined = (
        left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("_expected").fill_null(0), pl.col("_actual").fill_null(0))
        .filter(pl.col("_expected") != pl.col("_actual"))
    )
    if joined.is_empty():
        return Diff()
    kind = (
        pl.when(pl.col("_actual") < pl.col("_expected"))
        .then(pl.lit("missing"))
        .when(pl.col("_expected") == 0)
        .then(pl.lit("extra"))
        .otherwise(pl.lit("duplicate"))
    )
    joined = joined.with_columns(kind.alias("kind"), (pl.col("_actual") - pl.col("_expected")).abs().alias("count"))
    totals = dict(joined.group_by("kind").agg(pl.col("count").sum()).iter_rows())
    # A couple of rows of each kind, so one kind cannot crowd out the others.
    sample = joined.sort("kind", *keys).group_by("kind", maintain_order=True).head(2).head(SAMPLE_SIZE)
    return Diff(
        missing=int(totals.get("missing", 0)),
        extra=int(totals.get("extra", 0)),
        duplicates=int(totals.get("duplicate", 0)),
        sample=sample.select("kind", "count", *keys).to_dicts(),
    )


@dataclass
class Measure:
    """What one validation (or one sub-task of it) found, before it becomes a result row."""

    rows_expected: int = 0
    rows_actual: int = 0
    diff: Diff = field(default_factory=Diff)
    cache_max_t: int | None = None
    expected_max_t: int | None = None
    rows_past_t: int = 0
    advance_mismatches: int = 0


def max_t(current: int | None, t: np.ndarray) -> int | None:
    if not len(t):
        return current
    top = int(t.max())
    return top if current is None else max(current, top)


def fact_buckets(states: np.ndarray, size: int = ENTITY_BUCKETS) -> np.ndarray:
    """The checksum bucket of each fact state (`rowhash.fact_states`), mixed so every
    bucket holds a fair share; all datoms and the cached row of a fact share one."""
    mixed = fmix64(states.copy())
    if size & (size - 1):
        mixed %= np.uint64(size)
    else:
        mixed &= np.uint64(size - 1)  # the same as the modulo, several times faster
    return mixed.view(np.int64)
