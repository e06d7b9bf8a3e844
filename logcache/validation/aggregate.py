"""Runbook step 6: every result into one `cache-validations` dataset and its summary.

The latest attempt wins per (dataset, validation). Every expected pair is present: one
without a result (or with a result for another T, left from an earlier transaction) is a
row with is_valid false and error_kind `not-run`, so "all valid" means all checked. The
summary counts three outcomes apart: valid, invalid (what the data shows) and not checked
(`not-run`, and `not-checked` rows whose check the storage stopped).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from logcache.datomic.schema import VALIDATIONS
from logcache.entries import CacheEntry
from logcache.storage import Store
from logcache.validation import KIND_OF, ResultRow, latest_results, read_results
from logcache.validation.result import NOT_RUN, rows_to_table
from state.model import AggregateSummary, ErrorKindCount, utc_now
from state.persist_text import write_bytes_atomic

OUTPUT_NAME = "cache-validations.parquet"


@dataclass(frozen=True)
class Aggregate:
    rows: list[ResultRow]
    summary: AggregateSummary

    @property
    def invalid(self) -> list[ResultRow]:
        """The rows the data shows wrong."""
        return [r for r in self.rows if not r.is_valid and not unchecked(r)]

    @property
    def not_checked(self) -> list[ResultRow]:
        return [r for r in self.rows if unchecked(r)]


def unchecked(row: ResultRow) -> bool:
    """Whether the row says nothing about the data: never run, or its check stopped."""
    return not row.checked


def not_run(entry: CacheEntry, why: str) -> ResultRow:
    validation = VALIDATIONS[entry.kind]
    return ResultRow(
        dataset=entry.dataset,
        validation=validation,
        parcel="",
        cache_t=entry.t,
        rows_expected=0,
        rows_actual=0,
        missing=0,
        extra=0,
        duplicates=0,
        is_valid=False,
        error_kind=NOT_RUN,
        error=f"{why}; run `logcache validate CAMPAIGN --filter-by-name {entry.pair}`",
        sample="[]",
        started_at="",
        duration_s=0.0,
    )


def aggregate_rows(entries: list[CacheEntry], results: Store) -> list[ResultRow]:
    latest = latest_results(read_results(results))
    rows = []
    for entry in sorted(entries, key=lambda e: (e.dataset, e.kind)):
        row = latest.get((entry.dataset, VALIDATIONS[entry.kind]))
        if row is None:
            rows.append(not_run(entry, "no result"))
        elif row.cache_t != entry.t:
            rows.append(not_run(entry, f"the result is for T={row.cache_t}, the entry's T is {entry.t}"))
        else:
            rows.append(row)
    return rows


def pair_dataset(row: ResultRow) -> str:
    """The `<shard>/<kind>` dataset a result row is about."""
    return f"{row.dataset}/{KIND_OF[row.validation]}"


def summarize(rows: list[ResultRow], path: Path, excluded: AbstractSet[str] = frozenset()) -> AggregateSummary:
    """Counts; an invalid row of a dataset left out of the patch is accounted for, so it
    counts as `excluded`, not as `invalid`; a row that says nothing about the data (never
    run, or its check stopped) counts as `not_checked`."""
    failing = [r for r in rows if not r.is_valid]
    left_out = [r for r in failing if pair_dataset(r) in excluded]
    counted = [r for r in failing if pair_dataset(r) not in excluded]
    kinds = Counter(r.error_kind for r in counted)
    not_checked = sum(unchecked(r) for r in counted)
    return AggregateSummary(
        rows=len(rows),
        valid=len(rows) - len(failing),
        invalid=len(counted) - not_checked,
        by_error_kind=[ErrorKindCount(k, n) for k, n in sorted(kinds.items())],
        path=str(path),
        at=utc_now(),
        excluded=len(left_out),
        not_checked=not_checked,
    )


def aggregate(entries: list[CacheEntry], results: Store, work_dir: Path, excluded: AbstractSet[str] = frozenset()) -> Aggregate:
    """Write `cache-validations.parquet` in `work_dir` (atomically) and summarize it."""
    import pyarrow.parquet as pq  # here: the runbook's views import this module, few write

    rows = aggregate_rows(entries, results)
    path = work_dir / OUTPUT_NAME
    buf = io.BytesIO()
    pq.write_table(rows_to_table(rows), buf)
    write_bytes_atomic(path, buf.getvalue())
    return Aggregate(rows, summarize(rows, path, excluded))


def read_aggregate(work_dir: Path) -> list[ResultRow]:
    """The rows of the last `cache-validations.parquet`, or none if there is none yet."""
    import pyarrow.parquet as pq

    path = work_dir / OUTPUT_NAME
    if not path.exists():
        return []
    return [ResultRow(**r) for r in pq.read_table(path).to_pylist()]
