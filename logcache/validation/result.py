"""Validation result rows: the record, its Arrow schema, and one Parquet file per result.

Layout under the results store: `<dataset>/<validation>/attempt-<NNNNNN>.parquet` for a
finished row and `...attempt-<NNNNNN>.part-<label>.parquet` for a sub-task's partial.
Zero-padded attempts make "latest attempt wins" the last key in listing order.

A pair has one of three outcomes: valid, invalid (what the data shows), or not checked
(the store, the network, the credentials or the disk stopped the check: nothing is known
about the data). A not-checked row is kept beside the others as
`attempt-<NNNNNN>[.part-<label>].not-checked.parquet`, naming its cause; it is never a
result a rerun skips, so a plain rerun checks the pair again.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from logcache.datomic.schema import VALIDATIONS
from logcache.errors import AccessDenied, CorruptData, first_line
from logcache.storage.base import Store, StoreUnwritable

if TYPE_CHECKING:
    import pyarrow as pa

# How many differing datoms a result row keeps as its sample.
SAMPLE_SIZE = 5

_PARALLEL_READS = 64
# Up to this many pairs, their results are listed pair by pair (a listing each); more are
# found in one listing of everything.
_LISTS_PER_PAIR = 64
KIND_OF = {validation: kind for kind, validation in VALIDATIONS.items()}
# Causes that would leave every other check of the run not checked too (credentials
# denied or expired; a results store that takes no writes): the run stops at the first,
# with its one line, and what was saved stays.
STOPS_THE_RUN = (AccessDenied, StoreUnwritable)
NOT_CHECKED = "not-checked"
NOT_RUN = "not-run"  # the aggregate's row for a pair without a result (never saved as one)
# Findings about the shard's log, not the cache: its segments leave a gap or overlap.
LOG_GAP, LOG_OVERLAP = "log-gap", "log-overlap"
ERROR_KINDS = ("none", "missing-path", "corrupt-file", "schema", "t-mismatch", "mismatch", "internal", NOT_CHECKED, LOG_GAP, LOG_OVERLAP)
# Errors that stop a validation before any count is trustworthy, most telling first: a
# part not checked leaves the whole pair not checked, whatever its siblings found.
_FATAL = (NOT_CHECKED, "missing-path", "corrupt-file", "schema", LOG_OVERLAP, LOG_GAP, "internal")
_NOT_CHECKED_SUFFIX = ".not-checked"


@dataclass(frozen=True)
class ResultRow:
    dataset: str
    validation: str
    parcel: str
    cache_t: int
    rows_expected: int
    rows_actual: int
    missing: int
    extra: int
    duplicates: int
    is_valid: bool
    error_kind: str
    error: str
    sample: str  # JSON list of a few differing rows: kind, count and the row's columns
    started_at: str  # ISO 8601 UTC
    duration_s: float
    attempt: int = 1
    subtask: str = ""  # "" for a whole (or merged) result; else "t:LO..HI" or "p:I/N"
    cache_max_t: int | None = None  # the max t found in the cache
    expected_max_t: int | None = None  # the max t of what the cache should hold
    rows_past_t: int = 0  # cached rows with t > cache_t
    advance_mismatches: int = 0  # entities: facts where advance(cache, newer) != materialize(log)

    @property
    def checked(self) -> bool:
        """False when the check could not be made or was never run (valid and invalid are
        both checked)."""
        return self.error_kind not in (NOT_CHECKED, NOT_RUN)

    @property
    def key(self) -> str:
        return result_key(self.dataset, self.validation, self.attempt, self.subtask, not_checked=self.error_kind == NOT_CHECKED)


@functools.cache
def result_schema() -> pa.Schema:
    """The result files' schema, built on first use: Arrow is imported only by the commands
    that read or write results."""
    import pyarrow as pa

    # Read from ResultRow's declarations, so that the record and its files cannot drift
    # apart: a column is nullable only where its field is declared `... | None`.
    arrow = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([pa.field(f.name, arrow[str(f.type).removesuffix(" | None")], nullable=str(f.type).endswith(" | None")) for f in fields(ResultRow)])


def sample_json(sample: list[dict[str, object]]) -> str:
    return json.dumps(sample, ensure_ascii=False, sort_keys=True, default=str)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def result_key(dataset: str, validation: str, attempt: int, subtask: str = "", *, not_checked: bool = False) -> str:
    part = "" if not subtask else ".part-" + re.sub(r"[^A-Za-z0-9_-]+", "_", subtask)
    return f"{dataset}/{validation}/attempt-{attempt:06d}{part}{_NOT_CHECKED_SUFFIX if not_checked else ''}.parquet"


def rows_to_table(rows: list[ResultRow]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist([asdict(r) for r in rows], schema=result_schema())


def write_result(results: Store, row: ResultRow) -> str:
    """Write `row` as its own small Parquet file, atomically; returns its key."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(rows_to_table([row]), buf)
    results.write_bytes(row.key, buf.getvalue())
    return row.key


def read_results(results: Store, include_partials: bool = False, pairs: Collection[tuple[str, str]] | None = None) -> list[ResultRow]:
    """Every result row under `results` (only those of `pairs`, (dataset, validation),
    when given), in key order; CorruptData names a bad file."""
    if pairs is None or len(pairs) > _LISTS_PER_PAIR:
        infos = [i for i in results.list() if pairs is None or tuple(i.key.split("/")[:2]) in pairs]
    else:
        infos = [i for dataset, validation in sorted(pairs) for i in results.list(f"{dataset}/{validation}/")]
    keys = [info.key for info in infos if info.key.endswith(".parquet") and (include_partials or ".part-" not in info.key)]
    if len(keys) < _PARALLEL_READS:
        return [row for key in keys for row in read_result(results, key)]
    # Thousands of small files: read on threads (the store's I/O and pyarrow release the GIL).
    with ThreadPoolExecutor(8, thread_name_prefix="read-results") as pool:
        return [row for rows in pool.map(functools.partial(read_result, results), keys) for row in rows]


def read_result(results: Store, key: str) -> list[ResultRow]:
    """The rows of one result file; CorruptData names it when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = result_schema()
    try:
        with results.open_read(key) as f:
            table = pq.read_table(f)
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise CorruptData(f"{results.url_of(key)} is not a readable result file ({first_line(exc)}); delete it and re-run that validation") from None
    return [ResultRow(**r) for r in table.to_pylist()]


def latest_results(rows: list[ResultRow]) -> dict[tuple[str, str], ResultRow]:
    """The latest attempt per (dataset, validation), partials ignored; of one attempt, a
    checked row wins over a not-checked one."""
    latest: dict[tuple[str, str], ResultRow] = {}
    for row in rows:
        if row.subtask:
            continue
        pair = (row.dataset, row.validation)
        if pair not in latest or (row.attempt, row.checked) >= (latest[pair].attempt, latest[pair].checked):
            latest[pair] = row
    return latest


@dataclass(frozen=True)
class Attempts:
    """The whole (not partial) attempts of one pair found in the results store."""

    checked: list[int]
    not_checked: list[int]

    @property
    def settled(self) -> bool:
        """Whether the latest attempt checked the pair, so a rerun skips it."""
        return bool(self.checked) and max(self.checked) >= max(self.not_checked, default=0)

    @property
    def next(self) -> int:
        return max(self.checked + self.not_checked, default=0) + 1


def pair_attempts(results: Store, dataset: str, validation: str) -> Attempts:
    checked: list[int] = []
    not_checked: list[int] = []
    for info in results.list(f"{dataset}/{validation}/"):
        m = re.search(r"/attempt-(\d+)(\.not-checked)?\.parquet$", "/" + info.key)
        if m:
            (not_checked if m.group(2) else checked).append(int(m.group(1)))
    return Attempts(checked, not_checked)


def attempts(results: Store, dataset: str, validation: str) -> list[int]:
    """The attempts with a finished (whole, not partial) checked result for the pair."""
    return pair_attempts(results, dataset, validation).checked


def has_result(results: Store, dataset: str, validation: str) -> bool:
    """Whether the pair's latest attempt checked it, so a rerun can skip the pair."""
    return pair_attempts(results, dataset, validation).settled


def classify(row: ResultRow, validation_kind: str) -> ResultRow:
    """Set error_kind, error and is_valid from the counts (fatal errors are kept).

    The max-t checks need the whole shard, so a partial is only judged on its own rows.
    """
    if row.error_kind in _FATAL:
        return replace(row, is_valid=False)
    whole = not row.subtask
    problems: list[str] = []
    kind = "none"
    if row.rows_past_t:
        problems.append(f"{row.rows_past_t} cached rows have t > T = {row.cache_t}")
    if whole and not row.rows_past_t:
        # An empty cache agrees with an empty log up to T (both checks say so alike).
        if validation_kind == "log" and row.cache_max_t != row.cache_t and not (row.cache_max_t is None and row.expected_max_t is None):
            problems.append(f"the registry's T is {row.cache_t} but {_max_t(row.cache_max_t, 'the cache', 'datoms')}")
        if validation_kind == "materialized-entities" and row.cache_max_t != row.expected_max_t:
            log_side = "no facts" if row.expected_max_t is None else str(row.expected_max_t)
            problems.append(f"{_max_t(row.cache_max_t, 'the cache', 'facts')} but the log materialised to T = {row.cache_t} gives {log_side}")
    if problems:
        kind = "t-mismatch"
    counts = [(row.missing, "missing"), (row.extra, "extra"), (row.duplicates, "duplicated")]
    noun = "datoms" if validation_kind == "log" else "facts"
    if any(n for n, _ in counts):
        problems.append(", ".join(f"{n} {word}" for n, word in counts if n) + f" {noun} ({row.rows_actual} cached, {row.rows_expected} expected)")
        kind = "mismatch" if kind == "none" else kind
    if row.advance_mismatches:
        problems.append(f"advancing the cached snapshot with the newer log differs from materialising the whole log in {row.advance_mismatches} facts")
        kind = "mismatch" if kind == "none" else kind
    return replace(row, error_kind=kind, error="; ".join(problems), is_valid=kind == "none")


def _max_t(value: int | None, whose: str, noun: str) -> str:
    return f"{whose} holds no {noun}" if value is None else f"{whose}'s max t is {value}"


def merge_partials(parts: list[ResultRow]) -> ResultRow:
    """Merge sub-task partials of one (dataset, validation) into its one result row."""
    if not parts:
        raise ValueError("merge_partials needs at least one partial")
    fatal = sorted((p for p in parts if p.error_kind in _FATAL), key=lambda p: _FATAL.index(p.error_kind))
    merged_sample = [item for p in parts if p.sample for item in json.loads(p.sample)]

    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    def top(name: str) -> int | None:
        return max((getattr(p, name) for p in parts if getattr(p, name) is not None), default=None)

    first = parts[0]
    row = replace(
        first,
        rows_expected=total("rows_expected"),
        rows_actual=total("rows_actual"),
        missing=total("missing"),
        extra=total("extra"),
        duplicates=total("duplicates"),
        rows_past_t=total("rows_past_t"),
        advance_mismatches=total("advance_mismatches"),
        cache_max_t=top("cache_max_t"),
        expected_max_t=top("expected_max_t"),
        sample=sample_json(merged_sample[:SAMPLE_SIZE]) if merged_sample else "[]",
        started_at=min(p.started_at for p in parts),
        duration_s=sum(p.duration_s for p in parts),
        subtask="",
        error_kind=fatal[0].error_kind if fatal else "none",
        error=fatal[0].error if fatal else "",
    )
    return classify(row, KIND_OF[first.validation])
