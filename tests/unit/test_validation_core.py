import io
import json
import random

import fastavro
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logcache.datomic.logop import list_segments
from logcache.datomic.materialize import advance, materialize
from logcache.datomic.schema import AVRO_DATOM_SCHEMA, segment_key
from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA
from logcache.entries import CacheEntry
from logcache.errors import CorruptData
from logcache.storage import LocalStore
from logcache.validation import (
    EntityPartition,
    TRange,
    has_result,
    latest_results,
    merge_partials,
    read_results,
    run_validation,
    split_log,
    write_result,
)

SHARD = "raw-demo-s0"
TX_INSTANT, NAME, TAGS = 50, 60, 61  # card-one NAME, card-many TAGS


def random_log(seed: int, transactions: int = 120) -> list[dict]:
    """A consistent Datomic-like log: card-one updates retract the old value, card-many
    adds and removes tags, whole entities get retracted; every tx asserts txInstant."""
    rng = random.Random(seed)
    names: dict[int, str] = {}
    tags: dict[int, set[str]] = {}
    out: list[dict] = []
    for t in range(1000, 1000 + transactions):
        out.append({"e": 3 * 2**42 + t, "a": TX_INSTANT, "v": f"2024-01-01T00:00:{t}", "t": t, "added": True})
        # One change per entity per transaction: Datomic rejects asserting and
        # retracting one datom in the same transaction.
        for e in rng.sample(range(1, 41), rng.randint(1, 6)):
            op = rng.random()
            if op < 0.45:
                new = f"name-{rng.randint(0, 9)}"
                if names.get(e) == new:
                    continue
                if e in names:
                    out.append({"e": e, "a": NAME, "v": names[e], "t": t, "added": False})
                names[e] = new
                out.append({"e": e, "a": NAME, "v": new, "t": t, "added": True})
            elif op < 0.8:
                tag = f"tag-{rng.randint(0, 5)}"
                present = tag in tags.setdefault(e, set())
                (tags[e].discard if present else tags[e].add)(tag)
                out.append({"e": e, "a": TAGS, "v": tag, "t": t, "added": not present})
            elif e in names or tags.get(e):
                if e in names:
                    out.append({"e": e, "a": NAME, "v": names.pop(e), "t": t, "added": False})
                for tag in sorted(tags.pop(e, set())):
                    out.append({"e": e, "a": TAGS, "v": tag, "t": t, "added": False})
    return out


def reference(rows: list[dict], as_of: int | None = None) -> set[tuple]:
    latest: dict[tuple, tuple[int, bool]] = {}
    for d in sorted(rows, key=lambda d: d["t"]):
        if as_of is None or d["t"] <= as_of:
            latest[(d["e"], d["a"], d["v"])] = (d["t"], d["added"])
    return {(*fact, t) for fact, (t, added) in latest.items() if added}


def facts(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select(ENTITY_SCHEMA.names).iter_rows())


def write_segments(store: LocalStore, rows: list[dict], per_segment: int) -> None:
    by_t: dict[int, list[dict]] = {}
    for d in rows:
        by_t.setdefault(d["t"], []).append(d)
    ts = sorted(by_t)
    for i in range(0, len(ts), per_segment):
        chunk = [d for t in ts[i : i + per_segment] for d in by_t[t]]
        buf = io.BytesIO()
        fastavro.writer(buf, fastavro.parse_schema(AVRO_DATOM_SCHEMA), chunk, codec="deflate")
        store.write_bytes(f"{SHARD}/{segment_key(chunk[0]['t'], chunk[-1]['t'])}", buf.getvalue())


def write_parquet(store: LocalStore, prefix: str, table: pa.Table, parts: int = 3) -> None:
    step = -(-table.num_rows // parts)
    for i in range(parts):
        buf = io.BytesIO()
        pq.write_table(table.slice(i * step, step), buf, row_group_size=50)
        store.write_bytes(f"{prefix}/part-{i:05d}.parquet", buf.getvalue())


class World:
    def __init__(self, tmp_path, seed: int = 7, per_segment: int = 10) -> None:
        self.rows = random_log(seed)
        self.T = 1000 + 90
        self.logs = LocalStore(tmp_path / "logs")
        self.dest = LocalStore(tmp_path / "dest")
        self.results = LocalStore(tmp_path / "results")
        write_segments(self.logs, self.rows, per_segment)
        self.cached_log = [d for d in self.rows if d["t"] <= self.T]
        self.snapshot = sorted(reference(self.rows, self.T))

    def log_entry(self, rows: list[dict] | None = None, t: int | None = None, prefix: str = "log1", table: pa.Table | None = None) -> CacheEntry:
        table = table if table is not None else pa.Table.from_pylist(rows if rows is not None else self.cached_log, schema=DATOM_SCHEMA)
        write_parquet(self.dest, prefix, table)
        return CacheEntry(SHARD, "log", self.T if t is None else t, "src", self.dest.url_of(prefix), 3, 0)

    def entities_entry(self, facts_rows: list[tuple] | None = None, prefix: str = "ent1") -> CacheEntry:
        rows = [dict(zip(ENTITY_SCHEMA.names, f)) for f in (self.snapshot if facts_rows is None else facts_rows)]
        write_parquet(self.dest, prefix, pa.Table.from_pylist(rows, schema=ENTITY_SCHEMA))
        return CacheEntry(SHARD, "materialized-entities", self.T, "src", self.dest.url_of(prefix), 3, 0)

    def run(self, entry: CacheEntry, **kw):
        validation = "log-validation" if entry.kind == "log" else "materialized-entities-validation"
        return run_validation(entry, validation, self.logs, self.dest, **kw)


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


# ---------------------------------------------------------------- materialize


def test_materialize_card_one_card_many_and_entity_retraction():
    rows = [
        {"e": 1, "a": NAME, "v": "ann", "t": 1, "added": True},
        {"e": 1, "a": TAGS, "v": "x", "t": 1, "added": True},
        {"e": 1, "a": TAGS, "v": "y", "t": 2, "added": True},
        {"e": 1, "a": NAME, "v": "ann", "t": 3, "added": False},  # card-one update
        {"e": 1, "a": NAME, "v": "bea", "t": 3, "added": True},
        {"e": 1, "a": TAGS, "v": "x", "t": 4, "added": False},  # card-many removal
        {"e": 2, "a": NAME, "v": "cy", "t": 2, "added": True},
        {"e": 2, "a": NAME, "v": "cy", "t": 5, "added": False},  # entity retraction
        {"e": 2, "a": TAGS, "v": "z", "t": 3, "added": True},
        {"e": 2, "a": TAGS, "v": "z", "t": 5, "added": False},
    ]
    table = pa.Table.from_pylist(rows, schema=DATOM_SCHEMA)
    assert facts(materialize(table)) == {(1, NAME, "bea", 3), (1, TAGS, "y", 2)}
    assert facts(materialize(table, up_to_t=3)) == {(1, NAME, "bea", 3), (1, TAGS, "x", 1), (1, TAGS, "y", 2), (2, NAME, "cy", 2), (2, TAGS, "z", 3)}
    assert facts(materialize(pl.from_arrow(table).lazy(), up_to_t=3)) == facts(materialize(table, up_to_t=3))


@pytest.mark.parametrize("seed", range(8))
def test_advance_equals_materialize_on_random_logs(seed):
    rows = random_log(seed, transactions=80)
    table = pa.Table.from_pylist(rows, schema=DATOM_SCHEMA)
    cut = 1000 + random.Random(seed).randint(0, 80)
    snapshot = materialize([table.slice(i, 37) for i in range(0, table.num_rows, 37)], up_to_t=cut)
    assert facts(snapshot) == reference(rows, cut)
    newer = pl.from_arrow(table).filter(pl.col("t") > cut)
    assert facts(advance(snapshot, newer)) == facts(materialize(table)) == reference(rows)


# ---------------------------------------------------------------- log-validation


def test_clean_log_is_valid(world):
    row = world.run(world.log_entry())
    assert (row.is_valid, row.error_kind, row.error) == (True, "none", "")
    assert row.rows_expected == row.rows_actual == len(world.cached_log)
    assert (row.missing, row.extra, row.duplicates, row.cache_max_t) == (0, 0, 0, world.T)


def test_log_counts_dropped_extra_duplicated_and_altered_datoms(world):
    rows = list(world.cached_log)
    dropped = [rows.pop(10), rows.pop(200)]
    rows += [rows[5], rows[5], rows[300]]  # row 5 three times, row 300 twice
    altered = dict(rows[400])
    rows[400] = {**altered, "v": altered["v"] + "!"}
    rows.append({"e": 999, "a": NAME, "v": "nobody", "t": 1010, "added": True})
    row = world.run(world.log_entry(rows))
    assert (row.is_valid, row.error_kind) == (False, "mismatch")
    assert (row.missing, row.extra, row.duplicates) == (3, 2, 3)
    assert row.rows_actual == len(rows) and row.rows_expected == len(world.cached_log)
    sample = json.loads(row.sample)
    assert {s["kind"] for s in sample} == {"missing", "extra", "duplicate"}
    assert all(set(s) >= {"e", "a", "v", "t", "added", "count"} for s in sample)
    assert "3 missing, 2 extra, 3 duplicated datoms" in row.error and "\n" not in row.error
    assert any(s["kind"] == "missing" and s["v"] in {d["v"] for d in dropped + [altered]} for s in sample)


def test_rows_past_t_and_wrong_t_are_t_mismatch(world):
    past = world.run(world.log_entry([d for d in world.rows if d["t"] <= world.T + 2], prefix="past"))
    assert past.error_kind == "t-mismatch" and past.rows_past_t > 0 and past.extra == past.rows_past_t
    assert f"t > T = {world.T}" in past.error
    # The registry claims a later T than the cache holds: datoms after the cache's max t are missing.
    stale = world.run(world.log_entry(t=world.T + 3, prefix="stale"))
    assert stale.error_kind == "t-mismatch" and stale.cache_max_t == world.T
    assert stale.missing == sum(1 for d in world.rows if world.T < d["t"] <= world.T + 3)


def test_schema_mismatch(world):
    table = pa.Table.from_pylist(world.cached_log, schema=DATOM_SCHEMA)
    table = table.set_column(1, pa.field("a", pa.string()), table.column("a").cast(pa.string()))
    row = world.run(world.log_entry(table=table))
    assert row.error_kind == "schema" and "a: string (expected int64)" in row.error and not row.is_valid


def test_missing_prefix_and_truncated_parquet(world, tmp_path):
    entry = CacheEntry(SHARD, "log", world.T, "src", world.dest.url_of("never-copied"), 3, 0)
    row = world.run(entry)
    assert (row.error_kind, row.error) == ("missing-path", f"Path does not exist: {world.dest.url_of('never-copied')}")
    entry = world.log_entry()
    part = tmp_path / "dest" / "log1" / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    row = world.run(entry)
    assert row.error_kind == "corrupt-file" and "part-00001.parquet" in row.error and "\n" not in row.error


def test_log_subtasks_merge_to_the_whole_row(world):
    rows = list(world.cached_log)
    del rows[3]
    rows.append(rows[-1])
    entry = world.log_entry(rows)
    whole = world.run(entry)
    ranges = split_log(world.logs, SHARD, 4, entry.t)
    assert len(ranges) == 4 and ranges[0].lo is None and ranges[-1].hi is None
    parts = [world.run(entry, subtask=r) for r in ranges]
    assert all(p.subtask for p in parts)
    merged = merge_partials(parts)
    for name in ("rows_expected", "rows_actual", "missing", "extra", "duplicates", "is_valid", "error_kind", "error", "cache_max_t"):
        assert getattr(merged, name) == getattr(whole, name), name
    assert (merged.missing, merged.duplicates) == (1, 1)


def test_a_log_is_split_by_the_bytes_its_check_reads(world):
    """Segments past T weigh nothing in the split: each sub-task gets about an equal share
    of the segments up to T (counted, the segments past T left the last sub-task nothing
    to check while the first held most of the work)."""
    entry = world.log_entry(t=1059)  # 6 segments up to T, 6 past it
    segments = list_segments(world.logs, SHARD)
    read = [s for s in segments if s.first_t <= entry.t]
    assert (len(read), len(segments)) == (6, 12)
    ranges = split_log(world.logs, SHARD, 3, entry.t)
    assert len(ranges) == 3 and ranges[0].lo is None and ranges[-1].hi is None
    # Cut at segment boundaries, each range is within a segment of a third of the bytes read.
    shares = [sum(s.size for s in read if r.overlaps(s.first_t, s.last_t)) for r in ranges]
    assert sum(shares) == sum(s.size for s in read)
    assert max(shares) - min(shares) < 2 * max(s.size for s in read), shares


def test_many_small_segments_and_small_batches(tmp_path):
    world = World(tmp_path, seed=3, per_segment=1)
    row = world.run(world.log_entry(), batch_rows=7)
    assert row.is_valid and row.rows_actual == len(world.cached_log)


# ---------------------------------------------------------------- materialized-entities-validation


def test_clean_entities_are_valid(world):
    row = world.run(world.entities_entry())
    assert (row.is_valid, row.error_kind, row.advance_mismatches) == (True, "none", 0), row.error
    assert row.rows_expected == row.rows_actual == len(world.snapshot)


def test_entities_detect_dropped_extra_and_altered_facts(world):
    snap = list(world.snapshot)
    snap.pop(4)
    e, a, v, t = snap[7]
    snap[7] = (e, a, v + "?", t)
    snap.append((12345, NAME, "ghost", world.T - 1))
    row = world.run(world.entities_entry(snap))
    assert (row.error_kind, row.missing, row.extra, row.duplicates) == ("mismatch", 2, 2, 0)
    assert row.advance_mismatches > 0  # the broken snapshot also advances to wrong facts


def test_entity_partitions_merge_to_the_whole_row(world):
    snap = list(world.snapshot)
    snap.pop(0)
    snap.append(snap[3])
    entry = world.entities_entry(snap)
    whole = world.run(entry)
    merged = merge_partials([world.run(entry, subtask=EntityPartition(i, 3)) for i in range(3)])
    for name in ("rows_expected", "rows_actual", "missing", "extra", "duplicates", "advance_mismatches", "error_kind", "error", "cache_max_t"):
        assert getattr(merged, name) == getattr(whole, name), name
    assert (whole.missing, whole.duplicates) == (1, 1)


# ---------------------------------------------------------------- result files


def test_results_round_trip_latest_attempt_and_corrupt_file(world, tmp_path):
    entry = world.log_entry()
    assert not has_result(world.results, SHARD, "log-validation")
    first = world.run(entry, parcel="p0")
    second = world.run(entry, parcel="p1", attempt=2)
    partial = world.run(entry, subtask=TRange(None, 1010))
    for row in (first, second, partial):
        write_result(world.results, row)
    assert has_result(world.results, SHARD, "log-validation")
    rows = read_results(world.results)
    assert rows == [first, second]
    assert latest_results(rows)[(SHARD, "log-validation")] == second
    assert partial in read_results(world.results, include_partials=True)
    bad = tmp_path / "results" / SHARD / "log-validation" / "attempt-000003.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(CorruptData, match="attempt-000003.parquet"):
        read_results(world.results)


@pytest.mark.parametrize("lists_per_pair", [64, 1], ids=["a-listing-per-pair", "one-listing"])
def test_results_read_for_some_pairs_are_theirs_alone(world, tmp_path, monkeypatch, lists_per_pair):
    import logcache.validation.result as result

    monkeypatch.setattr(result, "_LISTS_PER_PAIR", lists_per_pair)
    log_row = world.run(world.log_entry())
    entities_row = world.run(world.entities_entry())
    for row in (log_row, entities_row):
        write_result(world.results, row)
    other = tmp_path / "results" / "raw-other-s0" / "log-validation" / "attempt-000001.parquet"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"PAR1 not really")  # read, it would raise CorruptData
    assert read_results(world.results, pairs={(SHARD, "log-validation")}) == [log_row]
    both = {(SHARD, "log-validation"), (SHARD, "materialized-entities-validation")}
    assert read_results(world.results, pairs=both) == [log_row, entities_row]
    with pytest.raises(CorruptData, match="raw-other-s0"):
        read_results(world.results)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_log_result_does_not_depend_on_the_worker_count(tmp_path, monkeypatch, workers):
    import logcache.validation.check as check

    world = World(tmp_path, seed=5, per_segment=4)
    rows = list(world.cached_log)
    # Differences far apart in t, so the re-read pass skips the sources between them.
    dropped = [rows.pop(3), rows.pop(len(rows) // 2)]
    rows += [rows[-1], {**rows[7], "v": rows[7]["v"] + "?"}]
    entry = world.log_entry(rows)
    monkeypatch.setattr(check, "reader_threads", lambda: workers)
    row = world.run(entry, batch_rows=16)
    assert (row.missing, row.extra, row.duplicates) == (2, 1, 1)
    assert row.rows_expected == len(world.cached_log) and row.rows_actual == len(rows)
    assert {s["v"] for s in json.loads(row.sample) if s["kind"] == "missing"} == {d["v"] for d in dropped}


def test_advance_is_checked_where_the_snapshot_differs_and_counts_as_in_full(world):
    # The incremental read is computed only over the buckets where the snapshot differs
    # (elsewhere it cannot differ); its count must equal a brute-force full comparison.
    from collections import Counter

    snap = list(world.snapshot)
    snap.pop(4)
    e, a, v, t = snap[7]
    snap[7] = (e, a, v + "?", t)
    snap.append(snap[2])
    row = world.run(world.entities_entry(snap))
    log = pa.Table.from_pylist(world.rows, schema=DATOM_SCHEMA)
    newer = pl.from_arrow(log).filter(pl.col("t") > world.T)
    cached = pl.DataFrame(snap, schema=ENTITY_SCHEMA.names, orient="row")
    full = Counter(materialize(log).select(ENTITY_SCHEMA.names).iter_rows())
    advanced = Counter(advance(cached, newer).select(ENTITY_SCHEMA.names).iter_rows())
    differing = sum(((full - advanced) + (advanced - full)).values())
    assert row.advance_mismatches == differing > 0
