import io

import fastavro
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logcache.datomic.logop import TRange, log_tables, scan_log
from logcache.datomic.schema import AVRO_DATOM_SCHEMA, segment_key
from logcache.datomic.tables import DATOM_SCHEMA
from logcache.entries import CacheEntry
from logcache.errors import CorruptData, PathNotFound
from logcache.storage import LocalStore

SHARD = "raw-demo-s0"


def datoms(ts: list[int]) -> list[dict]:
    return [{"e": 100 + t, "a": 7, "v": f"value {t}", "t": t, "added": True} for t in ts]


def write_segment(store: LocalStore, rows: list[dict]) -> str:
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(AVRO_DATOM_SCHEMA), rows, codec="deflate")
    key = f"{SHARD}/{segment_key(rows[0]['t'], rows[-1]['t'])}"
    store.write_bytes(key, buf.getvalue())
    return key


def write_cache(store: LocalStore, prefix: str, rows: list[dict], parts: int = 2) -> None:
    table = pa.Table.from_pylist(rows, schema=DATOM_SCHEMA)
    step = -(-len(rows) // parts)
    for i in range(parts):
        buf = io.BytesIO()
        pq.write_table(table.slice(i * step, step), buf, row_group_size=3)
        store.write_bytes(f"{prefix}/part-{i:05d}.parquet", buf.getvalue())


@pytest.fixture
def world(tmp_path):
    logs, dest = LocalStore(tmp_path / "logs"), LocalStore(tmp_path / "cache")
    # Segments: [1..4] wholly before T=6, [5..8] straddles it, [9..10] after it.
    for ts in ([1, 2, 3, 4], [5, 6, 6, 7, 8], [9, 10]):
        write_segment(logs, datoms(ts))
    write_cache(dest, "c1", datoms([1, 2, 3, 4, 5, 6, 6]))
    entry = CacheEntry(SHARD, "log", 6, "src", dest.url_of("c1"), 2, 0)
    return logs, dest, entry


def ts_of(tables) -> list[int]:
    return sorted(t for table in tables for t in table.column("t").to_pylist())


def test_boundary_datoms_come_once(world):
    logs, dest, entry = world
    assert ts_of(log_tables(logs, SHARD, dest, entry)) == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]
    frame = scan_log(logs, SHARD, dest, entry).collect()
    assert frame.schema == pl.Schema({"e": pl.Int64, "a": pl.Int64, "v": pl.String, "t": pl.Int64, "added": pl.Boolean})
    assert sorted(frame["t"].to_list()) == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]
    assert scan_log(logs, SHARD, dest, entry).filter(pl.col("t") >= 6).select("t").collect()["t"].sort().to_list() == [6, 6, 7, 8, 9, 10]


def test_segments_before_t_are_not_opened(world, tmp_path):
    logs, dest, entry = world
    # Corrupt the segment lying wholly at or before T: the LogOp must never read it.
    (tmp_path / "logs" / SHARD / segment_key(1, 4)).write_bytes(b"not avro")
    assert ts_of(log_tables(logs, SHARD, dest, entry)) == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]


def test_cache_rows_past_t_are_not_doubled(world):
    logs, dest, entry = world
    write_cache(dest, "c2", datoms([1, 2, 3, 4, 5, 6, 6, 7]))
    entry = CacheEntry(SHARD, "log", 6, "src", dest.url_of("c2"), 2, 0)
    assert ts_of(log_tables(logs, SHARD, dest, entry)) == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]


def test_without_cache_entry_reads_every_segment(world):
    logs, _, _ = world
    assert ts_of(log_tables(logs, SHARD)) == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]
    assert ts_of(log_tables(logs, SHARD, t_range=TRange(4, 6))) == [4, 5, 6, 6]


def test_t_range_restricts_cache_and_segments(world):
    logs, dest, entry = world
    assert ts_of(log_tables(logs, SHARD, dest, entry, TRange(3, 8))) == [3, 4, 5, 6, 6, 7, 8]
    assert ts_of(log_tables(logs, SHARD, dest, entry, TRange(7, None))) == [7, 8, 9, 10]


def test_missing_prefix_is_path_not_found_with_its_url(world):
    logs, dest, _ = world
    entry = CacheEntry(SHARD, "log", 6, "src", dest.url_of("gone"), 2, 0)
    with pytest.raises(PathNotFound) as err:
        list(log_tables(logs, SHARD, dest, entry))
    assert str(err.value) == dest.url_of("gone")


def test_unreadable_files_are_corrupt_data_naming_the_file(world, tmp_path):
    logs, dest, entry = world
    part = tmp_path / "cache" / "c1" / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.raises(CorruptData, match="part-00001.parquet") as err:
        list(log_tables(logs, SHARD, dest, entry))
    assert "\n" not in str(err.value)
    (tmp_path / "logs" / SHARD / segment_key(9, 10)).write_bytes(b"Obj\x01garbage")
    with pytest.raises(CorruptData, match=segment_key(9, 10)):
        list(log_tables(logs, SHARD))


def test_parquet_tables_reads_only_row_groups_overlapping_the_given_ranges(world, tmp_path):
    from logcache.datomic.logop import list_parquet, parquet_tables

    _, dest, _ = world
    files = list_parquet(dest, "c1")
    everything = ts_of(parquet_tables(dest, files, DATOM_SCHEMA))
    assert everything == [1, 2, 3, 4, 5, 6, 6]
    # Row groups of 3 rows: [1, 2, 3], [4] | [5, 6, 6]; only those overlapping t 2 or t 5..5 are read.
    picked = ts_of(parquet_tables(dest, files, DATOM_SCHEMA, only=[TRange(2, 2), TRange(5, 5)]))
    assert picked == [1, 2, 3, 5, 6, 6]
    assert ts_of(parquet_tables(dest, files, DATOM_SCHEMA, TRange(None, 5), only=[TRange(5, 5)])) == [5]
