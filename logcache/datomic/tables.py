"""The Arrow schemas of the cached Parquet: datoms (the log) and current facts (the
materialized entities). Apart from `schema`, whose names every command reads, so that a
command that never touches data does not pay for importing Arrow."""

from __future__ import annotations

import pyarrow as pa

# A datom as stored in Avro segments and in the cached log Parquet.
DATOM_SCHEMA = pa.schema(
    [
        pa.field("e", pa.int64(), nullable=False),
        pa.field("a", pa.int64(), nullable=False),
        pa.field("v", pa.string(), nullable=False),
        pa.field("t", pa.int64(), nullable=False),
        pa.field("added", pa.bool_(), nullable=False),
    ]
)

# A current fact as of T, as stored in the cached materialized-entities Parquet:
# t is the t of the assertion that made the fact current.
ENTITY_SCHEMA = pa.schema(
    [
        pa.field("e", pa.int64(), nullable=False),
        pa.field("a", pa.int64(), nullable=False),
        pa.field("v", pa.string(), nullable=False),
        pa.field("t", pa.int64(), nullable=False),
    ]
)
