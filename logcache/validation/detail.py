"""One validation result in full, for `logcache show` and the app's detail screen.

`pair_detail` reads the latest result of one `<dataset>/<validation>` pair (or says it has
not run), and places each sampled differing datom in its source: a missing datom (the
log has it, the cache does not) in the log segment whose t range holds its t, an extra
or duplicated one in the cached Parquet file that holds it. Only the sampled rows are
looked up, reading only the row groups whose t statistics cover them.
"""

from __future__ import annotations

import difflib
import json
import shlex
from dataclasses import asdict, dataclass, field

from logcache.datomic.schema import VALIDATIONS
from logcache.entries import CacheEntry
from logcache.errors import LogcacheError, UnknownDataset
from logcache.storage import Store
from logcache.stores import open_destination, open_logs, open_results
from logcache.validation.aggregate import aggregate_rows
from logcache.validation.result import NOT_CHECKED, ResultRow
from state.config import CampaignConfig


@dataclass(frozen=True)
class SampleDatom:
    """One sampled differing datom (a fact for materialized entities: `added` is None)."""

    kind: str  # missing | extra | duplicate
    count: int  # how many copies differ
    e: int
    a: int
    v: str
    t: int
    added: bool | None
    source: str  # the segment or Parquet file it came from; "" when not found


@dataclass(frozen=True)
class PairDetail:
    pair: str
    dataset: str
    validation: str
    is_valid: bool
    error_kind: str
    error: str
    counts: dict[str, int]  # rows_expected, rows_actual, missing, extra, duplicates, rows_past_t, advance_mismatches
    t: int  # the registry's T of the entry
    expected_max_t: int | None
    actual_max_t: int | None
    sample_missing: list[dict[str, object]] = field(default_factory=list)
    sample_extra: list[dict[str, object]] = field(default_factory=list)  # extra and duplicated rows
    rerun_command: str = ""
    attempt: int = 0
    parcel: str = ""
    started_at: str = ""
    duration_s: float = 0.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def find_entry(entries: list[CacheEntry], pair: str) -> CacheEntry:
    """The entry `pair` (`<dataset>/<validation>`) names; UnknownDataset otherwise."""
    known = {e.pair: e for e in entries}
    if pair in known:
        return known[pair]
    close = difflib.get_close_matches(pair, list(known), n=1)
    hint = f"did you mean {close[0]}?" if close else "give <dataset>/log-validation or <dataset>/materialized-entities-validation"
    raise UnknownDataset(f"no pair {pair!r} in the cache entries; {hint}")


def pair_detail(config: CampaignConfig, entries: list[CacheEntry], pair: str) -> PairDetail:
    entry = find_entry(entries, pair)
    row = aggregate_rows([entry], open_results(config))[0]
    sample = json.loads(row.sample) if row.sample else []
    located = _locate(config, entry, sample)
    return PairDetail(
        pair=pair,
        dataset=entry.dataset,
        validation=VALIDATIONS[entry.kind],
        is_valid=row.is_valid,
        error_kind=row.error_kind,
        error=row.error,
        counts=_counts(row),
        t=entry.t,
        expected_max_t=row.expected_max_t,
        actual_max_t=row.cache_max_t,
        sample_missing=[asdict(s) for s in located if s.kind == "missing"],
        sample_extra=[asdict(s) for s in located if s.kind != "missing"],
        rerun_command=f"logcache validate {shlex.quote(str(config.path))} --force --filter-by-name {pair}",
        attempt=row.attempt if row.started_at else 0,
        parcel=row.parcel,
        started_at=row.started_at,
        duration_s=row.duration_s,
    )


def _counts(row: ResultRow) -> dict[str, int]:
    names = ("rows_expected", "rows_actual", "missing", "extra", "duplicates", "rows_past_t", "advance_mismatches")
    return {n: int(getattr(row, n)) for n in names}


def _locate(config: CampaignConfig, entry: CacheEntry, sample: list[dict[str, object]]) -> list[SampleDatom]:
    if not sample:
        return []
    logs, destination = open_logs(config), open_destination(config)
    out = []
    for item in sample:
        t = int(item["t"])  # type: ignore[call-overload]
        datom = SampleDatom(
            kind=str(item["kind"]),
            count=int(item.get("count", 1)),  # type: ignore[call-overload]
            e=int(item["e"]),  # type: ignore[call-overload]
            a=int(item["a"]),  # type: ignore[call-overload]
            v=str(item["v"]),
            t=t,
            added=None if "added" not in item else bool(item["added"]),
            source="",
        )
        try:
            where = _segment_of(logs, entry.dataset, t) if datom.kind == "missing" else _file_of(destination, entry, datom)
        except LogcacheError:
            where = ""  # the source is gone or unreadable: the error line already says so
        out.append(SampleDatom(**{**asdict(datom), "source": where}))
    return out


def _segment_of(logs: Store, shard: str, t: int) -> str:
    # The data stack is imported where a sample is located, not where the runbook's views
    # import this module.
    from logcache.datomic.logop import list_segments

    segment = next((s for s in list_segments(logs, shard) if s.first_t <= t <= s.last_t), None)
    return logs.url_of(segment.key) if segment else ""


def _file_of(destination: Store, entry: CacheEntry, datom: SampleDatom) -> str:
    import pyarrow.compute as pc

    from logcache.datomic.logop import TRange, cache_prefix, list_parquet, parquet_tables
    from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA

    schema = DATOM_SCHEMA if entry.kind == "log" else ENTITY_SCHEMA
    for info in list_parquet(destination, cache_prefix(entry, destination)):
        for table in parquet_tables(destination, [info], schema, TRange(datom.t, datom.t)):
            match = pc.and_(pc.equal(table.column("e"), datom.e), pc.and_(pc.equal(table.column("a"), datom.a), pc.equal(table.column("v"), datom.v)))
            if pc.any(match).as_py():
                return destination.url_of(info.key)
    return ""


def render_detail(detail: PairDetail) -> list[str]:
    """The detail as plain-text lines (no markup), as `logcache show` prints it."""
    c = detail.counts
    state = "valid" if detail.is_valid else "NOT CHECKED (run validate again)" if detail.error_kind == NOT_CHECKED else f"INVALID ({detail.error_kind})"
    lines = [
        f"{detail.pair}: {state}",
        f"  T {detail.t}; expected max t {_t(detail.expected_max_t)}; cache max t {_t(detail.actual_max_t)}",
        f"  rows: {c['rows_expected']:,} expected, {c['rows_actual']:,} cached",
        f"  missing {c['missing']:,}, extra {c['extra']:,}, duplicates {c['duplicates']:,}, past T {c['rows_past_t']:,}, advance mismatches {c['advance_mismatches']:,}",
    ]
    if detail.error:
        lines.append(f"  error: {detail.error}")
    if detail.started_at:
        lines.append(f"  attempt {detail.attempt} in parcel {detail.parcel or '-'}, at {detail.started_at}, {detail.duration_s:.2f} s")
    for title, rows in (("missing (in the log, not in the cache)", detail.sample_missing), ("extra or duplicated (in the cache)", detail.sample_extra)):
        if rows:
            lines.append(f"  sample {title}:")
            for r in rows:
                added = "" if r["added"] is None else f" added={str(r['added']).lower()}"
                lines.append(f"    {r['kind']} x{r['count']}: e={r['e']} a={r['a']} v={r['v']!r} t={r['t']}{added}")
                lines.append(f"      from {r['source'] or '(source not found)'}")
    lines.append(f"  rerun: {detail.rerun_command}")
    return lines


def _t(value: int | None) -> str:
    return "-" if value is None else str(value)
