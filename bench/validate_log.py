"""Benchmark: log-validation of one heavy shard, logcache against two baselines, in one run.

    python bench/validate_log.py [--datoms 20000000] [--quick] [--seed 7]

One shard is generated with the demo's own generator (`generate_shard`, `writers`): Avro
log segments plus a cached Parquet copy holding at least `--datoms` datoms up to T
(`--quick`: 2 million). The cache is then broken on purpose: 3 datoms dropped, 2
duplicated and 1 with its value altered, so every method must find 4 missing and 3
surplus datoms (surplus = extra + duplicated copies).

Each method runs in its own fresh process and reports its own peak RSS: VmHWM, which
exec resets (a child's ru_maxrss would include the parent's RSS at fork time):

1. logcache: `run_validation(entry, "log-validation", ...)`, reading the Avro segments;
2. DuckDB: `EXCEPT ALL` both ways over the cache (t <= T) and the source (t <= T);
3. Polars anti-join both ways, duplicates numbered by `cum_count` over the whole datom.

DuckDB cannot read Avro without an extension (and there is no network), so both
baselines read a Parquet conversion of the segments, made outside the timed section:
an advantage given to the baselines (Parquet decodes much faster than deflate Avro).
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/validate_log.py`, this folder comes first on sys.path, where the
# sibling `bench/copy.py` would shadow the stdlib's `copy` module.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import dataclasses
import json
import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SHARD = "raw-double-entry-s0"
CACHE_ID = "bench-cache"
KEYS = ["e", "a", "v", "t", "added"]
SEGMENT_ROWS = 500_000  # as the demo world writes them
PART_ROWS = 2_000_000
# Injected into the cache: 3 dropped + 1 altered (its original is missing), 2 duplicated
# + 1 altered (the altered copy is extra).
DROPPED, DUPLICATED = 3, 2
MISSING, SURPLUS = DROPPED + 1, DUPLICATED + 1
METHODS = ("logcache", "duckdb", "polars")


@dataclass(frozen=True)
class Shard:
    root: str
    t: int  # the cache's T
    cache_rows: int
    log_rows: int
    segments: int
    entry: dict[str, object]  # a CacheEntry's fields

    @property
    def logs(self) -> Path:
        return Path(self.root) / "logs"

    @property
    def destination(self) -> Path:
        return Path(self.root) / "permanent" / "cache"

    @property
    def cache_glob(self) -> str:
        return str(self.destination / CACHE_ID / "*.parquet")

    @property
    def source_parquet(self) -> Path:
        return Path(self.root) / "baseline" / "source.parquet"


@dataclass(frozen=True)
class Outcome:
    method: str
    seconds: float
    missing: int
    surplus: int
    detail: str
    peak_rss_mb: float = 0.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- building the shard


def build_shard(root: Path, datoms: int, seed: int) -> Shard:
    from logcache.demo import writers
    from logcache.demo.history import generate_shard
    from logcache.entries import CacheEntry
    from logcache.storage import LocalStore

    # The generator's count overshoots its target by ~10%; 1.05x leaves ~15% of the log
    # after T, so the LogOp's newer-segment path is exercised too.
    history = generate_shard(np.random.default_rng([seed, 0]), int(datoms * 1.05), first_t=1000)
    if history.rows <= datoms:
        raise SystemExit(f"the generator made only {history.rows:,} datoms; need more than {datoms:,}")
    # T closes the transaction of datom number `datoms`, so the cache holds >= datoms rows.
    t_index = int(history.tx[datoms - 1])
    t = int(history.t_values[t_index])
    cache_rows = history.rows_up_to(t_index)
    table = history.log_table(0, history.rows)
    log(f"generated {history.rows:,} datoms; T = {t}, {cache_rows:,} of them cached")

    rng = np.random.default_rng([seed, 1])
    logs = LocalStore(root / "logs")
    # Segments cut at transaction starts, so no t is split across two of them.
    cuts = {int(np.searchsorted(history.tx, history.tx[i], side="left")) for i in range(SEGMENT_ROWS, history.rows, SEGMENT_ROWS)}
    bounds = sorted({0, history.rows} | cuts)
    for start, stop in zip(bounds, bounds[1:]):
        first_t, last_t = (int(history.t_values[history.tx[i]]) for i in (start, stop - 1))
        body = writers.avro_segment(table.slice(start, stop - start), rng.bytes(16))
        logs.write_bytes(f"{SHARD}/segment-{first_t:012d}-{last_t:012d}.avro", body)
    log(f"wrote {len(bounds) - 1} Avro segments")

    cache = inject_differences(table.slice(0, cache_rows), rng)
    destination = LocalStore(root / "permanent" / "cache")
    parts = writers.parquet_parts(cache, max(2, math.ceil(cache.num_rows / PART_ROWS)))
    for i, body in enumerate(parts):
        destination.write_bytes(f"{CACHE_ID}/part-{i:05d}.parquet", body)
    log(f"wrote the cache: {len(parts)} Parquet files, {cache.num_rows:,} rows")

    entry = CacheEntry(SHARD, "log", t, f"file:///ephemeral/{CACHE_ID}", destination.url_of(CACHE_ID), len(parts), sum(map(len, parts)))
    shard = Shard(str(root), t, cache_rows, history.rows, len(bounds) - 1, dataclasses.asdict(entry))
    convert_source(shard)
    return shard


def inject_differences(cache: pa.Table, rng: np.random.Generator) -> pa.Table:
    picks = rng.choice(cache.num_rows, DROPPED + 1 + DUPLICATED, replace=False)
    dropped, altered, duplicated = picks[:DROPPED], int(picks[DROPPED]), picks[DROPPED + 1 :]
    copies = np.ones(cache.num_rows, dtype=np.int64)
    copies[dropped] = 0
    copies[altered] = 0
    copies[duplicated] = 2  # each copy next to its original, so t order (and row-group stats) hold
    rows = np.repeat(np.arange(cache.num_rows), copies)
    changed = cache.slice(altered, 1)
    changed = changed.set_column(2, "v", pc.binary_join_element_wise(changed.column("v"), pa.scalar(" (altered by bench)"), ""))
    at = int(np.searchsorted(rows, altered))
    kept = cache.take(pa.array(rows))
    return pa.concat_tables([kept.slice(0, at), changed.cast(cache.schema), kept.slice(at)])


def convert_source(shard: Shard) -> None:
    """The Avro segments that hold t <= T, as one Parquet file for the baselines (untimed)."""
    import polars as pl

    from logcache.datomic.schema import DATOM_SCHEMA, parse_segment_key

    shard.source_parquet.parent.mkdir(parents=True)
    with pq.ParquetWriter(shard.source_parquet, DATOM_SCHEMA, compression="snappy") as out:
        for path in sorted((shard.logs / SHARD).glob("*.avro")):
            found = parse_segment_key(path.name)
            if found is not None and found.first_t <= shard.t:
                out.write_table(pl.read_avro(path).to_arrow().cast(DATOM_SCHEMA))
    log("converted the Avro segments holding t <= T to Parquet for the baselines (untimed)")


# ---------------------------------------------------------------- the methods (child side)


def run_logcache(shard: Shard) -> Outcome:
    from logcache.entries import CacheEntry
    from logcache.storage import LocalStore
    from logcache.validation import run_validation

    entry = CacheEntry(**shard.entry)  # type: ignore[arg-type]
    logs, destination = LocalStore(shard.logs), LocalStore(shard.destination)
    started = time.perf_counter()
    row = run_validation(entry, "log-validation", logs, destination)
    seconds = time.perf_counter() - started
    if row.error_kind != "mismatch":
        raise SystemExit(f"logcache: expected a mismatch, got {row.error_kind}: {row.error}")
    detail = f"missing {row.missing}, extra {row.extra}, duplicates {row.duplicates}"
    return Outcome("logcache", seconds, row.missing, row.extra + row.duplicates, detail)


def run_duckdb(shard: Shard) -> Outcome:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{Path(shard.root) / 'duckdb-tmp'}'")
    started = time.perf_counter()
    cache = f"SELECT {', '.join(KEYS)} FROM read_parquet('{shard.cache_glob}') WHERE t <= {shard.t}"
    source = f"SELECT {', '.join(KEYS)} FROM read_parquet('{shard.source_parquet}') WHERE t <= {shard.t}"
    missing = con.execute(f"SELECT count(*) FROM ({source} EXCEPT ALL {cache})").fetchone()
    surplus = con.execute(f"SELECT count(*) FROM ({cache} EXCEPT ALL {source})").fetchone()
    seconds = time.perf_counter() - started
    assert missing is not None and surplus is not None
    return Outcome("duckdb", seconds, int(missing[0]), int(surplus[0]), "EXCEPT ALL both ways")


def run_polars(shard: Shard) -> Outcome:
    import polars as pl

    def side(path: str) -> pl.DataFrame:
        # Number the copies of each datom, so an anti-join on (datom, copy) counts duplicates.
        scan = pl.scan_parquet(path).filter(pl.col("t") <= shard.t).select(KEYS)
        return scan.with_columns(pl.col("e").cum_count().over(KEYS).alias("copy")).collect()

    started = time.perf_counter()
    source, cache = side(str(shard.source_parquet)), side(shard.cache_glob)
    on = [*KEYS, "copy"]
    missing = source.join(cache, on=on, how="anti").height
    surplus = cache.join(source, on=on, how="anti").height
    seconds = time.perf_counter() - started
    return Outcome("polars", seconds, missing, surplus, "anti-join both ways")


def peak_rss_mb() -> float:
    """This process's peak RSS since exec. Not ru_maxrss: Linux carries the forking
    parent's RSS into it, which would charge every method for the shard builder."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status: this benchmark needs Linux")


def child_main(method: str, spec: Path, out: Path) -> None:
    shard = Shard(**json.loads(spec.read_text()))
    outcome = {"logcache": run_logcache, "duckdb": run_duckdb, "polars": run_polars}[method](shard)
    out.write_text(json.dumps(dataclasses.asdict(dataclasses.replace(outcome, peak_rss_mb=peak_rss_mb()))))


# ---------------------------------------------------------------- the run (parent side)


def measure(method: str, spec: Path, work: Path) -> Outcome:
    """Run one method in a fresh interpreter, so its peak RSS is its own."""
    out = work / f"{method}.json"
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", method, str(spec), str(out)])
    if done.returncode != 0:
        raise SystemExit(f"{method} failed (exit {done.returncode})")
    return Outcome(**json.loads(out.read_text()))


def report(shard: Shard, outcomes: dict[str, Outcome]) -> None:
    print(f"\nlog-validation of one shard: {shard.cache_rows:,} datoms cached (t <= {shard.t}), "
          f"{shard.log_rows:,} in {shard.segments} Avro segments")
    print(f"injected into the cache: {DROPPED} dropped, {DUPLICATED} duplicated, 1 altered "
          f"-> expected missing {MISSING}, surplus {SURPLUS}")
    print("note: DuckDB and Polars read a Parquet conversion of the Avro segments, made outside "
          "their timing (an advantage to the baselines); logcache reads the Avro itself\n")
    print(f"{'method':<10} {'seconds':>9} {'peak RSS MB':>12}  differences found")
    for o in outcomes.values():
        print(f"{o.method:<10} {o.seconds:>9.2f} {o.peak_rss_mb:>12.0f}  missing {o.missing}, surplus {o.surplus} ({o.detail})")
    ours = outcomes["logcache"]
    print()
    for name, label in (("duckdb", "DuckDB"), ("polars", "polars anti-join")):
        ratio = outcomes[name].seconds / ours.seconds
        print(f"logcache is {ratio:.1f}x faster than {label}" if ratio >= 1 else f"logcache is {1 / ratio:.1f}x slower than {label}")
    better = min((outcomes["duckdb"], outcomes["polars"]), key=lambda o: o.seconds)
    for o in (outcomes["duckdb"], outcomes["polars"]):
        print(f"logcache peak RSS is {ours.peak_rss_mb / o.peak_rss_mb:.2f}x that of {o.method}"
              + (" (the better baseline)" if o is better else ""))
    met = better.seconds / ours.seconds >= 3 and ours.peak_rss_mb <= better.peak_rss_mb
    print(f"target (>= 3x faster than the better baseline, peak RSS no higher): {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datoms", type=int, default=20_000_000, help="datoms in the cache (default 20M)")
    parser.add_argument("--quick", action="store_true", help="2 million datoms")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    datoms = 2_000_000 if args.quick else args.datoms
    work = Path(tempfile.mkdtemp(prefix="logcache-bench-validate-"))
    try:
        started = time.perf_counter()
        shard = build_shard(work / "shard", datoms, args.seed)
        log(f"built the shard in {time.perf_counter() - started:.0f}s")
        spec = work / "shard.json"
        spec.write_text(json.dumps(dataclasses.asdict(shard)))
        outcomes = {}
        for method in METHODS:
            log(f"timing {method}")
            outcomes[method] = measure(method, spec, work)
        report(shard, outcomes)
        if len({(o.missing, o.surplus) for o in outcomes.values()}) != 1:
            raise SystemExit("the methods disagree on the differences: "
                             + "; ".join(f"{o.method} found missing {o.missing}, surplus {o.surplus}" for o in outcomes.values()))
        wrong = [o for o in outcomes.values() if (o.missing, o.surplus) != (MISSING, SURPLUS)]
        if wrong:
            raise SystemExit("methods disagree with the injected truth: "
                             + "; ".join(f"{o.method} found missing {o.missing}, surplus {o.surplus}" for o in wrong))
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
