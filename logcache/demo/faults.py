"""Faults a demo world can carry, to rehearse what goes wrong in a real refresh.

Every fault breaks one dataset of the chosen (latest succeeded) transaction, and no
dataset carries two faults, so each one's effect can be predicted exactly; the world's
`truth.json` records that prediction.

- missing-copy: the copy vanishes from the destination after it was verified
  (see `lifecycle.ExpiringStore`); a re-copy fixes it.
- missing-source: the catalog lists an ephemeral prefix that does not exist.
- corrupt-cache: the cached Parquet drops, duplicates and alters rows.
- stale-t: the catalog's t for the dataset is not the data's max t.
- bad-parquet: one Parquet file of the dataset is truncated to half its size.

Conditions that a real refresh meets and a validator must read right:

- spark-temporary: the dataset's prefix also holds Spark's markers (`_SUCCESS`, a `.crc`)
  and a failed task's `_temporary/.../part-00000.parquet`, a copy of a real part; the
  dataset is valid, and a copy carries the markers but never `_temporary/`.
- codec-bzip2, codec-xz, codec-zstandard: the shard's Avro log segments use that codec;
  both of its datasets are valid.
- empty-dataset: the dataset holds no rows and the catalog records T = 0: valid.
- empty-with-t: the dataset holds no rows but the catalog records the run's T:
  discovery flags it.
- log-gap: a segment in the middle of the shard's log (below T) is missing: a finding
  about the log (`log of <shard> has no segment for t A-B`), never about the cache.
- log-overlap: the shard's log has one more segment repeating datoms of another: a
  finding about the log (`segments A and B of <shard> overlap in t A-B`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logcache.errors import UsageError

FAULT_KINDS = (
    "missing-copy", "missing-source", "corrupt-cache", "stale-t", "bad-parquet",
    # New kinds go last: the existing kinds of a seed then land where they always did.
    "spark-temporary", "codec-bzip2", "codec-xz", "codec-zstandard", "empty-dataset", "empty-with-t", "log-gap", "log-overlap",
)
LOG_FAULTS = ("codec-bzip2", "codec-xz", "codec-zstandard", "log-gap", "log-overlap")  # on the shard's log, not one dataset

# Marks an altered value so it can never equal a real one.
ALTERED_MARK = "\u2047corrupt:"


def parse_faults(specs: Sequence[str]) -> dict[str, int]:
    """`["corrupt-cache=2", ...]` -> {"corrupt-cache": 2}; raises UsageError on bad input."""
    faults: dict[str, int] = {}
    for spec in specs:
        kind, sep, count = spec.partition("=")
        if kind not in FAULT_KINDS:
            raise UsageError(f"unknown fault {kind!r} in --fault {spec}; use one of {', '.join(FAULT_KINDS)}")
        if not sep or not count.isdigit() or int(count) < 1:
            raise UsageError(f"bad count in --fault {spec}; write KIND=COUNT with COUNT >= 1, e.g. {kind}=1")
        if kind in faults:
            raise UsageError(f"--fault {kind} given twice; give it once with the total count")
        faults[kind] = int(count)
    return faults


def assign_faults(faults: dict[str, int], datasets: list[str], rng: np.random.Generator) -> dict[str, str]:
    """entry name -> fault kind, distinct datasets, chosen deterministically from `datasets`."""
    wanted = sum(faults.values())
    if wanted > len(datasets):
        raise UsageError(f"{wanted} faults asked but the chosen transaction has only {len(datasets)} datasets; ask for fewer")
    shuffled = [datasets[i] for i in rng.permutation(len(datasets))]
    assigned: dict[str, str] = {}
    for kind in FAULT_KINDS:
        for _ in range(faults.get(kind, 0)):
            assigned[shuffled[len(assigned)]] = kind
    return assigned


@dataclass(frozen=True)
class Corruption:
    table: pa.Table
    effect: dict[str, object]


def corrupt(table: pa.Table, max_t: int, rng: np.random.Generator) -> Corruption:
    """Drop some rows, duplicate others and alter one row's v.

    Rows at max_t are left alone so that the data's max t, and so the T a reader would
    infer from it, stays right: this fault is about content, stale-t is about T.
    """
    t = table.column("t").to_numpy()
    candidates = np.nonzero(t < max_t)[0]
    n_drop, n_dup = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if len(candidates) < n_drop + n_dup + 1:
        raise UsageError("a dataset chosen for corrupt-cache is too small to corrupt; use a larger --scale")
    picked = rng.choice(candidates, n_drop + n_dup + 1, replace=False)
    dropped, duplicated, altered = np.sort(picked[:n_drop]), np.sort(picked[n_drop:-1]), int(picked[-1])
    keep = np.ones(table.num_rows, dtype=np.int64)
    keep[dropped] = 0
    keep[duplicated] = 2
    # Duplicates sit next to their original, so the file stays sorted like the real thing.
    rows = np.repeat(np.arange(table.num_rows), keep)
    out = table.take(pa.array(rows))
    position = int(np.searchsorted(rows, altered))
    v = out.column("v")
    mask = pa.array(np.arange(out.num_rows) == position)
    new_v = pc.if_else(mask, pa.scalar(ALTERED_MARK + str(v[position].as_py())), v)
    out = out.set_column(out.schema.get_field_index("v"), out.schema.field("v"), new_v)
    before = table.slice(altered, 1).to_pylist()[0]
    effect: dict[str, object] = {
        "rows_expected": table.num_rows,
        "rows_written": out.num_rows,
        # As a multiset comparison of cache against truth would count them:
        "missing": n_drop + 1,  # the dropped rows and the altered row's original
        "extra": 1,  # the altered row
        "duplicated": n_dup,  # rows present twice
        "dropped_rows": table.take(pa.array(dropped)).to_pylist(),
        "duplicated_rows": table.take(pa.array(duplicated)).to_pylist(),
        "altered_rows": [{"before": before, "after": {**before, "v": ALTERED_MARK + str(before["v"])}}],
    }
    return Corruption(out, effect)
