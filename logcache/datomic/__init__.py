"""What every step shares about Datomic data.

- `schema`: the datom schema, kinds and validations, and the names of logs and caches.
- `logop`: the LogOp, reading a shard's log as the cached Parquet plus the newer Avro segments.
- `materialize`: current facts as of T from a stream of datoms.
- `rowhash`: a stable per-row hash over canonical bytes (Polars' own hash is not stable).
"""
