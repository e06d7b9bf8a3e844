"""Benchmark: finding each cached file's T from Parquet footers, against reading `t`, in one run.

    python bench/discover_t.py [--datasets 50] [--files 6] [--rows 60000] [--workers 16] [--repeat 5]

It writes `--datasets` cached datasets of `--files` Parquet parts each, with the demo's own
writer (`writers.parquet_parts`: snappy, 3 row groups a part, statistics on), half of them
`log` (sorted by t, a few datoms per transaction) and half `materialized-entities` (sorted
by e, so t is scattered). Then, on every part, with a pool of `--workers` threads each:

1. logcache: `parquet_max_t`, which reads only the footer's row-group statistics;
2. pyarrow: `pq.read_table(path, columns=["t"])` and the max of the column;
3. Polars: `pl.scan_parquet(path).select(pl.col("t").max())`.

Every way must find the same T for every file (else the exit status is 1); the times are
medians of `--repeat` runs. Reading `t` costs more the more rows a part holds while a
footer does not, and the demo world writes parts of up to 2 million rows: the default
60,000 keeps the run short, and understates the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logcache.demo import writers
from logcache.discover.footers import parquet_max_t
from logcache.storage import LocalStore, Store

DATOMS_PER_TX = 8


def dataset_table(rng: np.random.Generator, rows: int, kind: str, first_t: int) -> pa.Table:
    t = first_t + np.sort(rng.integers(0, max(1, rows // DATOMS_PER_TX), rows))
    e = np.sort(rng.integers(1 << 40, (1 << 40) + rows // 4, rows))
    if kind == "log":
        e = rng.permutation(e)
    else:
        t = rng.permutation(t)
    return pa.table(
        {
            "e": pa.array(e, pa.int64()),
            "a": pa.array(rng.integers(10, 200, rows), pa.int64()),
            "v": pc.cast(pa.array(rng.integers(0, 1 << 40, rows)), pa.string()),
            "t": pa.array(t, pa.int64()),
            "added": pa.array(rng.random(rows) < 0.9),
        }
    )


def build(root: Path, datasets: int, files: int, rows: int) -> list[str]:
    rng = np.random.default_rng(7)
    keys: list[str] = []
    for d in range(datasets):
        kind = "log" if d % 2 == 0 else "materialized-entities"
        table = dataset_table(rng, files * rows, kind, first_t=1_000_000 * (d + 1))
        folder = root / f"id{d:06d}"
        folder.mkdir(parents=True)
        for i, body in enumerate(writers.parquet_parts(table, files)):
            (folder / f"part-{i:05d}.parquet").write_bytes(body)
            keys.append(f"{folder.name}/part-{i:05d}.parquet")
    return keys


def footer_t(store: Store, key: str) -> int | None:
    found = parquet_max_t(store, key)
    if found.scanned:
        raise SystemExit(f"{key} has no statistics on `t`: logcache scanned it, the benchmark is void")
    return found.max_t


def arrow_t(path: str) -> int | None:
    return pc.max(pq.read_table(path, columns=["t"]).column("t")).as_py()


def polars_t(path: str) -> int | None:
    return pl.scan_parquet(path).select(pl.col("t").max()).collect().item()


def timed(ways: dict[str, Callable[[str], int | None]], keys: list[str], workers: int, repeat: int) -> dict[str, tuple[float, list[int | None]]]:
    runs: dict[str, list[float]] = {name: [] for name in ways}
    found: dict[str, list[int | None]] = {}
    # Round-robin, so a noisy moment on the machine does not land on one way only.
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                found[name] = list(pool.map(way, keys))
            runs[name].append(time.perf_counter() - start)
    return {name: (statistics.median(runs[name]), found[name]) for name in ways}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=50)
    ap.add_argument("--files", type=int, default=6, help="Parquet parts per dataset")
    ap.add_argument("--rows", type=int, default=60_000, help="rows per part")
    # discover's default `concurrency`, which sizes its pool of footer reads.
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = build(root, args.datasets, args.files, args.rows)
        paths = {key: str(root / key) for key in keys}
        total = sum(Path(p).stat().st_size for p in paths.values())
        # Every byte is read once before timing, so no way pays for the disk: reading `t`
        # from a cold cache (or from S3) would cost more, which makes the ratio conservative.
        for path in paths.values():
            Path(path).read_bytes()
        store = LocalStore(root)
        ways = timed(
            {
                "logcache parquet_max_t (footers)": lambda k: footer_t(store, k),
                "pyarrow read_table(columns=[t])": lambda k: arrow_t(paths[k]),
                "polars scan_parquet t.max()": lambda k: polars_t(paths[k]),
            },
            keys,
            args.workers,
            args.repeat,
        )
    reference = ways["logcache parquet_max_t (footers)"][1]
    disagree = [name for name, (_, found) in ways.items() if found != reference]
    print(f"{len(keys)} files ({args.datasets} datasets x {args.files}), {len(keys) * args.rows:,} rows, {total / 1e6:.0f} MB")
    print(f"{args.workers} threads, median of {args.repeat} runs, page cache warm")
    print(f"{'way':34} {'seconds':>8} {'files/s':>9}")
    for name, (seconds, _) in ways.items():
        print(f"{name:34} {seconds:8.3f} {len(keys) / seconds:9.0f}")
    footer = ways["logcache parquet_max_t (footers)"][0]
    for name, (seconds, _) in list(ways.items())[1:]:
        print(f"footer-only is {seconds / footer:.1f}x faster than {name.split()[0]} reading t")
    if disagree:
        sys.exit(f"T DISAGREES with the footers for: {', '.join(disagree)}")
    print(f"all ways agree on T for all {len(keys)} files")


if __name__ == "__main__":
    main()
