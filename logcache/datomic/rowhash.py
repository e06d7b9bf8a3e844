"""A per-row 64-bit hash of datoms that is the same in every process, platform and version.

Why not Polars: `Series.hash` / `DataFrame.hash_rows` are documented as stable only
within one Polars version (their seeds and string hashing changed between releases and
differed across platforms), and validation compares checksums computed by different
workers, possibly on different machines, and may persist them. pyarrow.compute has no
public hash kernel. So the hash is defined here, over canonical values, in numpy uint64
arithmetic (which wraps mod 2^64 the same way everywhere):

- every integer is read as its two's-complement 64-bit pattern, `added` as 0/1;
- `fold(h, x) = (h ^ x) * C2; h ^= h >> 32`: for a fixed x a bijection of h, so two
  inputs that differ in one step never collide before the final mix;
- a string: h = fold(byte length ^ SEED, 0), then fold in its UTF-8 bytes as little-endian
  8-byte words (the last one zero-padded), then `fmix64(h)`; the length up front keeps
  "a" and "a\\0" apart;
- a row: h = SEED, fold in each column in the given order (strings as their hash), then
  `fmix64(h)`.

`fmix64` is MurmurHash3's 64-bit finaliser (a bijection with full avalanche). Strings are
hashed vectorised over Arrow's offsets and data buffers, one pass per word position
(gathering word k of every string longer than 8k bytes), all in place on 64K-row slices. Order independence of a whole table comes from summing
row hashes mod 2^64 (see `validation.checksum`), the scheme data-diff uses.

`tests/unit/test_rowhash.py` pins golden values: changing any constant or step here changes
every stored checksum and must be a deliberate, versioned decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

HASH_VERSION = 1

_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED = np.uint64(0x6C6F67636163686C)  # "logcachl"
_PARTITION_SEED = np.uint64(0x656E746974792D70)  # "entity-p"
_S33 = np.uint64(33)
_S32 = np.uint64(32)


# Rows are hashed in slices this long so that every temporary stays in cache instead of
# paying page faults on fresh multi-megabyte arrays (3-4x faster than whole columns).
_SLICE = 1 << 16


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser on a uint64 array, in place; returns `x`."""
    tmp = np.empty_like(x)
    np.right_shift(x, _S33, out=tmp)
    x ^= tmp
    x *= _C1
    np.right_shift(x, _S33, out=tmp)
    x ^= tmp
    x *= _C2
    np.right_shift(x, _S33, out=tmp)
    x ^= tmp
    return x


def _fold(h: np.ndarray, values: np.ndarray, tmp: np.ndarray) -> None:
    """h = (h ^ values) * C2; h ^= h >> 32, in place: a bijection of h for fixed values."""
    h ^= values
    h *= _C2
    np.right_shift(h, _S32, out=tmp)
    h ^= tmp


def _as_u64(column: pa.Array) -> np.ndarray:
    if pa.types.is_boolean(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.uint64)
    if not pa.types.is_int64(column.type):
        column = column.cast(pa.int64())
    return column.to_numpy(zero_copy_only=False).view(np.uint64)


# _MASKS[n] keeps the low n bytes of a word (n = 8: all of them).
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)


def _strings(column: pa.Array) -> np.ndarray:
    n = len(column)
    buffers = column.buffers()
    wide = pa.types.is_large_string(column.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32, count=n + 1, offset=column.offset * (8 if wide else 4))
    if not wide:
        offsets = offsets.astype(np.int64)
    base = int(offsets[0])
    span = int(offsets[-1]) - base
    if buffers[2] is not None and buffers[2].size >= base + span + 8:
        # Bytes follow the slice's last string (the next strings'): every word load is in
        # bounds without a copy, and the bytes past each string's end are masked off.
        data = np.frombuffer(buffers[2], dtype=np.uint8, count=span + 8, offset=base)
    else:
        data = np.zeros(span + 8, dtype=np.uint8)  # 8 zero bytes so every word load is in bounds
        if span:
            data[:span] = np.frombuffer(buffers[2], dtype=np.uint8, count=span, offset=base)
    # A uint64 view at every byte offset: word k of a string is one gather at start + 8k.
    words_at = np.ndarray(shape=(span + 1,), dtype="<u8", buffer=data, strides=(1,))
    start = offsets[:-1] - base
    lengths = np.diff(offsets)
    h = lengths.view(np.uint64) ^ _SEED
    tmp = np.empty_like(h)
    _fold(h, np.zeros(1, dtype=np.uint64), tmp)
    rows: np.ndarray | None = None  # None: every string
    k = 0
    while True:
        at, rest = (start, lengths) if rows is None else (start[rows] + 8 * k, lengths[rows] - 8 * k)
        word = words_at[at]
        word &= _MASKS[np.minimum(rest, 8)]  # zero the bytes past the string's end
        if rows is None:
            _fold(h, word, tmp)
            rows = np.flatnonzero(lengths > 8)
        else:
            sub = h[rows]
            _fold(sub, word, np.empty_like(sub))
            h[rows] = sub
            rows = rows[rest > 8]
        if not len(rows):
            return fmix64(h)
        k += 1


def _column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if is_string_type(column.type) and not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())
    return column


def hash_strings(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The stable 64-bit hash of each UTF-8 string (datoms have no nulls)."""
    column = _column(column)
    out = np.empty(len(column), dtype=np.uint64)
    for lo in range(0, len(column), _SLICE):
        out[lo : lo + _SLICE] = _strings(column.slice(lo, _SLICE))
    return out


def hash_rows(table: pa.Table | pa.RecordBatch, columns: Sequence[str] | None = None) -> np.ndarray:
    """The stable hash of each row over `columns` (default: all, in schema order)."""
    return fmix64(_fold_columns(table, list(columns) if columns is not None else table.schema.names))


def fact_states(table: pa.Table | pa.RecordBatch, columns: Sequence[str] = ("e", "a", "v")) -> np.ndarray:
    """The unmixed state of `hash_rows` after folding a fact's columns (e, a, v): one
    uint64 per row that identifies the fact (any two facts collide with odds 2^-64).

    Validation groups datoms by it instead of by (e, a, v), and finishes it into the row
    hash of a datom or of a fact (`finish_rows`) without hashing the value again.
    """
    return _fold_columns(table, columns)


def _fold_columns(table: pa.Table | pa.RecordBatch, columns: Sequence[str]) -> np.ndarray:
    """The unmixed hash state of each row after folding `columns` in order, a slice at a time."""
    kinds = [table.schema.field(name).type for name in columns]
    arrays = [_column(table.column(name)) for name in columns]
    out = np.empty(table.num_rows, dtype=np.uint64)
    for lo in range(0, table.num_rows, _SLICE):
        h = np.full(min(_SLICE, table.num_rows - lo), _SEED, dtype=np.uint64)
        tmp = np.empty_like(h)
        for kind, array in zip(kinds, arrays):
            part = array.slice(lo, _SLICE)
            _fold(h, _strings(part) if is_string_type(kind) else _as_u64(part), tmp)
        out[lo : lo + len(h)] = h
    return out


def finish_rows(states: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """`hash_rows` of the rows whose first columns gave `states` (`fact_states`) and whose
    remaining columns are `more` (int64 or bool arrays, in column order); a new array."""
    out = np.empty_like(states)
    for lo in range(0, len(states), _SLICE):
        h = states[lo : lo + _SLICE].copy()
        tmp = np.empty_like(h)
        for values in more:
            part = values[lo : lo + _SLICE]
            _fold(h, part.astype(np.uint64) if part.dtype == np.bool_ else part.view(np.uint64), tmp)
        out[lo : lo + len(h)] = fmix64(h)
    return out


def hash_entities(e: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """The stable hash of entity ids, used to partition a shard's facts by entity."""
    values = np.asarray(e, dtype=np.int64).view(np.uint64) if isinstance(e, np.ndarray) else _as_u64(_column(e))
    return fmix64(values ^ _PARTITION_SEED)


def entity_partition(e: pa.Array | pa.ChunkedArray | np.ndarray, count: int) -> np.ndarray:
    """Partition number (0..count-1) of each entity id: stable hash of e mod count."""
    return (hash_entities(e) % np.uint64(count)).astype(np.int64)


def is_string_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


__all__ = ["HASH_VERSION", "entity_partition", "fact_states", "finish_rows", "fmix64", "hash_entities", "hash_rows", "hash_strings", "is_string_type"]
