"""Serialise datoms to the world's file formats, as bytes for `Store.write_bytes`.

Both writers are deterministic for the same input (Avro's sync marker is normally random,
so the caller passes one derived from the seed), which is what lets tests compare two
builds byte for byte.
"""

from __future__ import annotations

import bz2
import importlib
import io
import lzma
import math
import sys
import zlib
from collections.abc import Callable
from typing import Any

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from logcache.datomic.schema import AVRO_DATOM_SCHEMA

# deflate needs nothing beyond zlib; fastavro's snappy would add a dependency (cramjam).
AVRO_CODEC = "deflate"
_PARSED_SCHEMA = fastavro.parse_schema(AVRO_DATOM_SCHEMA)
_AVRO_BLOCK = 65_536
_PARQUET_OPTIONS: dict[str, Any] = {"compression": "snappy", "write_statistics": True}


def _zstd(data: bytes) -> bytes:
    # Python's own from 3.14, else the backport fastavro itself reads zstandard with.
    zstd = importlib.import_module("compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd")
    return bytes(zstd.compress(data))


def _deflate(data: bytes) -> bytes:
    deflate = zlib.compressobj(1, zlib.DEFLATED, -15)  # raw deflate, as Avro wants; level 1: 4x faster than 6, 15% larger
    return deflate.compress(data) + deflate.flush()


# Each codec's block compression, as the Avro specification defines it.
_BLOCK_CODECS: dict[str, Callable[[bytes], bytes]] = {"deflate": _deflate, "bzip2": bz2.compress, "xz": lzma.compress, "zstandard": _zstd}


def avro_segment(table: pa.Table, sync_marker: bytes, codec: str = AVRO_CODEC) -> bytes:
    """An Avro object container file of `table`'s datoms (DATOM_SCHEMA column order).

    fastavro writes the header (schema, codec, sync marker); the data blocks are encoded
    here with numpy, because building one Python dict per datom for fastavro would cost
    minutes on a 20M-datom shard. Every segment is read back by fastavro in the tests.
    """
    buf = io.BytesIO()
    fastavro.writer(buf, _PARSED_SCHEMA, [], codec=codec, sync_marker=sync_marker)
    compress = _BLOCK_CODECS[codec]
    for start in range(0, table.num_rows, _AVRO_BLOCK):
        body = _encode_records(table.slice(start, _AVRO_BLOCK))
        packed = compress(body)
        count = min(_AVRO_BLOCK, table.num_rows - start)
        buf.write(_varints(np.array([count, len(packed)], dtype=np.int64)).tobytes())
        buf.write(packed)
        buf.write(sync_marker)
    return buf.getvalue()


def _zigzag(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Avro longs: zigzag varint bytes as an (n, 10) matrix, and each value's byte count."""
    z = ((values.astype(np.int64) << 1) ^ (values.astype(np.int64) >> 63)).view(np.uint64)
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    groups = (z[:, None] >> shifts) & np.uint64(0x7F)
    count = 1 + (z[:, None] >= (np.uint64(1) << shifts[1:])).sum(axis=1)
    more = np.arange(10) < (count[:, None] - 1)  # continuation bit on all but the last byte
    return (groups | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8), count


def _varints(values: np.ndarray) -> np.ndarray:
    matrix, count = _zigzag(values)
    return matrix[np.arange(10) < count[:, None]]


def _encode_records(table: pa.Table) -> bytes:
    """The concatenated binary encoding of every record: e, a, len(v), v, t, added."""
    v = table.column("v").combine_chunks()
    offsets = np.frombuffer(v.buffers()[1], dtype=np.int32, count=len(v) + 1, offset=v.offset * 4)
    strings = np.frombuffer(v.buffers()[2], dtype=np.uint8) if v.buffers()[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets).astype(np.int64)
    fields = [_zigzag(table.column(name).to_numpy()) for name in ("e", "a")] + [_zigzag(lengths)]
    t_field = _zigzag(table.column("t").to_numpy())
    added = table.column("added").to_numpy(zero_copy_only=False).astype(np.uint8)
    sizes = sum(c for _, c in fields) + lengths + t_field[1] + 1
    record_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    cursor = record_start.copy()
    for matrix, count in fields:
        _scatter(out, cursor, matrix, count)
        cursor += count
    # The string bytes are contiguous in Arrow's buffer: shift each string to its record.
    shift = np.repeat(cursor - offsets[:-1], lengths)
    out[np.arange(offsets[0], offsets[-1]) + shift] = strings[offsets[0] : offsets[-1]]
    cursor += lengths
    _scatter(out, cursor, *t_field)
    cursor += t_field[1]
    out[cursor] = added
    return out.tobytes()


def _scatter(out: np.ndarray, at: np.ndarray, matrix: np.ndarray, count: np.ndarray) -> None:
    keep = np.arange(10) < count[:, None]
    out[(at[:, None] + np.arange(10))[keep]] = matrix[keep]


def parquet_parts(table: pa.Table, parts: int, row_groups_per_part: int = 3) -> list[bytes]:
    """`table` split into `parts` contiguous files of several row groups each, with statistics."""
    parts = max(1, min(parts, table.num_rows or 1))
    per_part = math.ceil(table.num_rows / parts) if table.num_rows else 0
    out = []
    for i in range(parts):
        piece = table.slice(i * per_part, per_part)
        buf = io.BytesIO()
        pq.write_table(piece, buf, row_group_size=max(1, math.ceil(piece.num_rows / row_groups_per_part)), **_PARQUET_OPTIONS)
        out.append(buf.getvalue())
    return out


class ParquetParts:
    """Files of `part_rows` rows (the last may hold fewer) from tables added in order,
    each handed to `emit(index, body)` once full: a dataset written while it is generated,
    only the current file's encoded bytes held (the tables added are not kept)."""

    def __init__(self, schema: pa.Schema, part_rows: int, emit: Callable[[int, bytes], None], row_groups_per_part: int = 3) -> None:
        self.schema, self.part_rows, self.emit = schema, part_rows, emit
        self.group_rows = max(1, math.ceil(part_rows / row_groups_per_part))
        self.files = self.rows = 0
        self._buf: io.BytesIO | None = None
        self._writer: pq.ParquetWriter | None = None
        self._held = 0

    def add(self, table: pa.Table) -> None:
        while table.num_rows:
            writer = self._writer if self._writer is not None else self._open()
            take = min(table.num_rows, self.part_rows - self._held)
            writer.write_table(table.slice(0, take), row_group_size=self.group_rows)
            self._held += take
            self.rows += take
            table = table.slice(take)
            if self._held == self.part_rows:
                self._flush()

    def close(self) -> int:
        """Write the last file (an empty one if nothing was added); the files written."""
        if self._writer is None and self.files == 0:
            self._open()
        if self._writer is not None:
            self._flush()
        return self.files

    def _open(self) -> pq.ParquetWriter:
        self._buf = io.BytesIO()
        self._writer = pq.ParquetWriter(self._buf, self.schema, **_PARQUET_OPTIONS)
        return self._writer

    def _flush(self) -> None:
        assert self._writer is not None and self._buf is not None
        self._writer.close()
        self.emit(self.files, self._buf.getvalue())
        self.files += 1
        self._writer, self._buf, self._held = None, None, 0
