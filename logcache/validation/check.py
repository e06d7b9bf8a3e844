"""Run one validation of one cache entry (or one sub-task of it) into a result row.

Data problems never raise: a missing prefix, an unreadable file, a wrong schema, a wrong
T or different rows each become the row's error_kind with a one-line error.
"""

from __future__ import annotations

import time

from logcache.entries import CacheEntry
from logcache.errors import CorruptData, PathNotFound, describe
from logcache.datomic.logop import BATCH_ROWS, EVERYTHING, SchemaMismatch, TRange
from logcache.storage import Store
from logcache.validation.checksum import Measure, sample_json
from logcache.validation.entities import WHOLE, EntityPartition, validate_entities
from logcache.validation.log import validate_log
from logcache.validation.result import KIND_OF, ResultRow, classify, utc_now

Subtask = TRange | EntityPartition


def run_validation(
    entry: CacheEntry,
    validation: str,
    logs: Store,
    destination: Store,
    subtask: Subtask | None = None,
    parcel: str = "",
    attempt: int = 1,
    batch_rows: int = BATCH_ROWS,
) -> ResultRow:
    """The result row of `validation` on `entry`; with `subtask`, a partial (its
    `subtask` field set) to merge with its siblings through `merge_partials`."""
    kind = KIND_OF.get(validation)
    if kind is None or kind != entry.kind:
        raise ValueError(f"{validation!r} does not apply to a {entry.kind!r} entry")
    started, clock = utc_now(), time.perf_counter()
    label = subtask.label() if subtask is not None else ""
    error_kind, error, measure = "none", "", Measure()
    try:
        if kind == "log":
            if subtask is not None and not isinstance(subtask, TRange):
                raise ValueError("log-validation splits by t range (TRange)")
            measure = validate_log(entry, logs, destination, subtask or EVERYTHING, batch_rows)
        else:
            if subtask is not None and not isinstance(subtask, EntityPartition):
                raise ValueError("materialized-entities-validation splits by entity partition")
            measure = validate_entities(entry, logs, destination, subtask or WHOLE, batch_rows)
    except PathNotFound as exc:
        error_kind, error = "missing-path", f"Path does not exist: {exc}"
    except CorruptData as exc:
        error_kind, error = "corrupt-file", str(exc)
    except SchemaMismatch as exc:
        error_kind, error = "schema", str(exc)
    except Exception as exc:  # neither an unexpected error nor a bug may stop the parcel's other validations
        error_kind, error = "internal", describe(exc)
    row = ResultRow(
        dataset=entry.dataset,
        validation=validation,
        parcel=parcel,
        cache_t=entry.t,
        rows_expected=measure.rows_expected,
        rows_actual=measure.rows_actual,
        missing=measure.diff.missing,
        extra=measure.diff.extra,
        duplicates=measure.diff.duplicates,
        is_valid=False,
        error_kind=error_kind,
        error=error,
        sample=sample_json(measure.diff.sample),
        started_at=started,
        duration_s=round(time.perf_counter() - clock, 6),
        attempt=attempt,
        subtask=label,
        cache_max_t=measure.cache_max_t,
        expected_max_t=measure.expected_max_t,
        rows_past_t=measure.rows_past_t,
        advance_mismatches=measure.advance_mismatches,
    )
    return classify(row, kind)
