import numpy as np
import polars as pl
import pyarrow as pa

from logcache.datomic.rowhash import entity_partition, hash_rows, hash_strings
from logcache.datomic.tables import DATOM_SCHEMA

GOLDEN_TABLE = pa.table(
    {
        "e": [1, 17592186045418, -5, 0],
        "a": [10, 11, 12, 0],
        "v": ["", "a", "a longer value, past 8 bytes", "h\u00e9llo w\u00f6rld \u2047"],
        "t": [1000, 1001, 1002, 0],
        "added": [True, False, True, False],
    },
    schema=DATOM_SCHEMA,
)
GOLDEN_ROWS = [11701321702956922156, 3403040776393120972, 4087713270436502330, 14199383395669451986]
GOLDEN_STRINGS = [5041846198430051668, 7072489887557548182, 13928238155621852826, 15215473316985240669]
GOLDEN_PARTITIONS = [3, 2, 5, 5]


def test_golden_values_are_pinned():
    # A change here changes every checksum: bump rowhash.HASH_VERSION deliberately.
    assert hash_rows(GOLDEN_TABLE).tolist() == GOLDEN_ROWS
    assert hash_strings(GOLDEN_TABLE.column("v")).tolist() == GOLDEN_STRINGS
    assert entity_partition(GOLDEN_TABLE.column("e"), 7).tolist() == GOLDEN_PARTITIONS


def test_independent_of_arrow_layout_and_slicing():
    big = pa.concat_tables([GOLDEN_TABLE] * 40_000)  # crosses the 64K-row slice boundary
    expected = np.tile(np.array(GOLDEN_ROWS, dtype=np.uint64), 40_000)
    assert (hash_rows(big) == expected).all()
    via_polars = pl.from_arrow(GOLDEN_TABLE).to_arrow()  # large_string, maybe other chunks
    assert hash_rows(via_polars).tolist() == GOLDEN_ROWS
    assert hash_rows(GOLDEN_TABLE.slice(1, 2)).tolist() == GOLDEN_ROWS[1:3]


def test_sum_is_order_independent_and_sensitive_to_each_column():
    rng = np.random.default_rng(3)
    n = 5000
    table = pa.table(
        {
            "e": rng.integers(0, 1 << 44, n),
            "a": rng.integers(0, 50, n),
            "v": [f"v{x}" * int(x % 5) for x in rng.integers(0, 1000, n)],
            "t": rng.integers(0, 10_000, n),
            "added": rng.random(n) < 0.5,
        },
        schema=DATOM_SCHEMA,
    )
    shuffled = table.take(pa.array(rng.permutation(n)))
    assert hash_rows(table).sum(dtype=np.uint64) == hash_rows(shuffled).sum(dtype=np.uint64)
    base = hash_rows(table.slice(0, 1))[0]
    row = table.slice(0, 1).to_pylist()[0]
    for change in ({"e": row["e"] + 1}, {"a": row["a"] + 1}, {"v": row["v"] + "\0"}, {"t": row["t"] + 1}, {"added": not row["added"]}):
        other = pa.Table.from_pylist([{**row, **change}], schema=DATOM_SCHEMA)
        assert hash_rows(other)[0] != base, change


def test_strings_of_every_length_hash_apart():
    values = ["x" * n for n in range(40)] + ["y" * n for n in range(1, 40)] + ["a\0", "a", "\0a"]
    assert len(set(hash_strings(pa.array(values)).tolist())) == len(values)


def test_entity_partition_covers_every_entity_once():
    e = np.arange(10_000, dtype=np.int64)
    parts = entity_partition(e, 4)
    assert set(parts.tolist()) == {0, 1, 2, 3}
    assert 2000 < np.bincount(parts).min()


def test_fact_states_finish_into_the_row_hash():
    from logcache.datomic.rowhash import fact_states, finish_rows

    big = pa.concat_tables([GOLDEN_TABLE] * 20_000)  # crosses the slice boundary
    states = fact_states(big)
    t = big.column("t").to_numpy()
    added = big.column("added").to_numpy(zero_copy_only=False)
    assert (finish_rows(states, t, added) == hash_rows(big)).all()
    facts = big.select(["e", "a", "v", "t"])
    assert (finish_rows(states, t) == hash_rows(facts)).all()
    assert len(set(fact_states(GOLDEN_TABLE).tolist())) == 4
