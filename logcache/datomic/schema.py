"""The shape of the data: datoms, log segments, cached Parquet, and the world's layout.

Everything that reads or writes logs, caches or catalogs goes through these names, so the
generator, the LogOp, discovery and validation agree on one format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("log", "materialized-entities")
VALIDATIONS = {"log": "log-validation", "materialized-entities": "materialized-entities-validation"}

# Datomic's transaction entity id for t: tx = 3 * 2^42 + t. Filter on t, never on tx.
TX_PARTITION_BASE = 3 * (1 << 42)

AVRO_DATOM_SCHEMA = {
    "type": "record",
    "name": "Datom",
    "namespace": "logcache",
    "fields": [
        {"name": "e", "type": "long"},
        {"name": "a", "type": "long"},
        {"name": "v", "type": "string"},
        {"name": "t", "type": "long"},
        {"name": "added", "type": "boolean"},
    ],
}

# logs/<shard>/segment-<first t>-<last t>.avro, both inclusive and zero-padded so that
# key order is t order and a reader can skip segments without opening them.
_SEGMENT_RE = re.compile(r"(?:^|/)segment-(\d{12})-(\d{12})\.avro$")


def segment_key(first_t: int, last_t: int) -> str:
    return f"segment-{first_t:012d}-{last_t:012d}.avro"


@dataclass(frozen=True)
class SegmentRange:
    first_t: int
    last_t: int


def parse_segment_key(key: str) -> SegmentRange | None:
    m = _SEGMENT_RE.search(key)
    return SegmentRange(int(m.group(1)), int(m.group(2))) if m else None


_SHARD_RE = re.compile(r"^raw-(?P<database>[a-z0-9][a-z0-9-]*?)-s(?P<shard>\d+)$")


def database_of(shard: str) -> str:
    """`raw-double-entry-s5` -> `double-entry`; a name not of that shape is its own database."""
    m = _SHARD_RE.match(shard)
    return m.group("database") if m else shard


def entry_name(dataset: str, kind: str) -> str:
    """The registry key of one cache entry: `<shard>/<kind>`."""
    return f"{dataset}/{kind}"
