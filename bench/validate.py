"""Benchmark: validation on the demo worlds, logcache against hand-written scripts, in one run.

    python bench/validate.py [--data /work/bench-data] [--shapes entities-large,log-medium,log-large]

Against the hand-written scripts, three shapes, each run once per method:

- entities-large: materialized-entities-validation of the heaviest shard of `--scale large`;
- log-medium: log-validation of every log dataset of `--scale medium`;
- log-large: log-validation of the heaviest shard of `--scale large`.

Under a memory budget, both checks of the heaviest shard of a world, logcache unbounded
(`logcache`) against `--worker-memory 256MiB` (`bounded`): heavy-medium, heavy-large and
heavy-xlarge (`--scale xlarge`, >= 4x the datoms of large's heaviest shard; building it
takes a while and about 15 GB of disk). These shapes run the two logcache methods only.

At the end, the issue's targets, each with the figure measured: bounded peak RSS of the
largest process <= 450 MB whatever the shard, bounded on large <= 1.25x the unbounded
time, unbounded entities >= 4x and heavy log >= 5x the Polars script, each within 1.5x of
the decode floor, and log-medium >= 1.5x the Polars script.

Methods, each a whole process of its own (start-up and imports included), timed by this
parent, its peak RSS the peak of the sum over its process tree (sampled every 20 ms):

- logcache: `logcache validate CAMPAIGN --filter-by-name PAIRS`, as an operator runs it (the
  pairs' earlier results removed first, untimed, so every run is a first validation);
- polars: what an operator would write by hand in Polars, the plain way (no checksums, no
  bisection): `read_avro` per segment, concat, (for materialized entities, a group-by to
  each fact's latest datom), then copies counted per row on each side and joined;
- duckdb: the same in SQL (`EXCEPT ALL` both ways; `arg_max` per fact) over a Parquet
  conversion of the Avro segments made outside the timing (DuckDB reads no Avro offline);
- floor: just decoding the inputs the check needs (the Avro segments up to T, the cached
  Parquet) on all cores, a thread pool over files.

The worlds are built once (`demo-data`, `discover`, `copy`) and kept under `--data`;
logcache is byte-compiled first, as an installed package is. The
methods must agree on the differences found; the script stops if they do not.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/validate.py`, this folder comes first on sys.path; drop it so no
# sibling script can shadow a stdlib module.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import csv
import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

KEYS = ["e", "a", "v", "t", "added"]
FACT = ["e", "a", "v"]
SHAPES = ("entities-large", "log-medium", "log-large", "heavy-medium", "heavy-large", "heavy-xlarge")
METHODS = ("floor", "logcache", "polars", "duckdb", "bounded")
# What the heavy-* shapes run: logcache unbounded, and under this budget.
HEAVY_METHODS = ("logcache", "bounded")
BOUNDED_MEMORY = "256MiB"
_SEGMENT = re.compile(r"segment-(\d{12})-(\d{12})\.avro$")


@dataclass(frozen=True)
class Target:
    """One entry to check: what every method needs, in plain paths."""

    dataset: str
    kind: str
    t: int
    cache_dir: str
    logs_dir: str


@dataclass(frozen=True)
class Outcome:
    method: str
    seconds: float
    peak_rss_mb: float  # of the process tree, summed
    missing: int
    surplus: int
    largest_rss_mb: float = 0.0  # of its largest process


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- worlds and shapes


def ensure_world(data: Path, scale: str) -> Path:
    root = data / scale
    campaign = root / "campaign.toml"
    if not (root / "cache-entries.csv").exists():
        from logcache.cli import main

        if not campaign.exists():
            log(f"building the {scale} world in {root} (once; kept for later runs)")
            if main(["demo-data", str(root), "--scale", scale]) != 0:
                raise SystemExit(f"demo-data {scale} failed")
        if main(["discover", str(campaign)]) != 0 or main(["copy", str(campaign)]) != 0:
            raise SystemExit(f"discover or copy of the {scale} world failed")
    return campaign


def targets_of(campaign: Path, shape: str) -> list[Target]:
    root = campaign.parent
    with (root / "cache-entries.csv").open() as f:
        rows = list(csv.DictReader(f))
    kinds = {"entities": ["materialized-entities"], "log": ["log"], "heavy": ["log", "materialized-entities"]}[shape.split("-")[0]]
    chosen = [r for r in rows if r["kind"] in kinds]
    if shape.endswith("-large") or shape.startswith("heavy"):
        heaviest = max((r for r in rows if r["kind"] == "log"), key=lambda r: int(r["bytes"]))["dataset"]
        chosen = [r for r in chosen if r["dataset"] == heaviest]
    return [
        Target(r["dataset"], r["kind"], int(r["t"]), r["destination"].removeprefix("file://"), str(root / "logs" / r["dataset"]))
        for r in chosen
    ]


def segments_up_to(target: Target) -> list[Path]:
    """The Avro segments that hold t <= T (a segment's t range is in its name)."""
    out = []
    for path in sorted(Path(target.logs_dir).glob("*.avro")):
        m = _SEGMENT.search(path.name)
        if m and int(m.group(1)) <= target.t:
            out.append(path)
    return out


def source_parquet(target: Target) -> Path:
    """A Parquet conversion of the segments up to T, for DuckDB (made once, untimed)."""
    path = Path(target.logs_dir).parent.parent / "bench-baseline" / f"{target.dataset}.parquet"
    if not path.exists():
        import polars as pl

        path.parent.mkdir(parents=True, exist_ok=True)
        frames = [pl.read_avro(p) for p in segments_up_to(target)]
        pl.concat(frames).filter(pl.col("t") <= target.t).write_parquet(path)
    return path


# ---------------------------------------------------------------- methods (child side)


def run_floor(targets: list[Target]) -> tuple[int, int]:
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl
    import pyarrow.parquet as pq

    files: list[tuple[str, Path]] = []
    for target in targets:
        files += [("avro", p) for p in segments_up_to(target)]
        files += [("parquet", p) for p in sorted(Path(target.cache_dir).glob("*.parquet"))]
    files.sort(key=lambda f: -f[1].stat().st_size)  # biggest first: the last to finish are short

    def decode(item: tuple[str, Path]) -> int:
        kind, path = item
        return pl.read_avro(path).height if kind == "avro" else pq.read_table(path).num_rows

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        sum(pool.map(decode, files))
    return 0, 0


def run_polars(targets: list[Target]) -> tuple[int, int]:
    import polars as pl

    missing = surplus = 0
    for target in targets:
        source = pl.concat([pl.read_avro(p) for p in segments_up_to(target)]).filter(pl.col("t") <= target.t)
        cache = pl.read_parquet(Path(target.cache_dir) / "*.parquet")
        if target.kind == "log":
            keys = KEYS
        else:
            order = pl.col("t") * 2 + pl.col("added").cast(pl.Int64)
            latest = source.group_by(FACT).agg(order.max().alias("k"))
            source = latest.filter(pl.col("k") % 2 == 1).select(*FACT, (pl.col("k") // 2).alias("t"))
            keys = [*FACT, "t"]
        # Copies counted on each side, so duplicates count (an anti-join alone would not).
        counts = source.group_by(keys).len("n_source").join(cache.group_by(keys).len("n_cache"), on=keys, how="full", coalesce=True)
        counts = counts.fill_null(0)
        missing += int(counts.select((pl.col("n_source") - pl.col("n_cache")).clip(0).sum()).item())
        surplus += int(counts.select((pl.col("n_cache") - pl.col("n_source")).clip(0).sum()).item())
    return missing, surplus


def run_duckdb(targets: list[Target]) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect()
    missing = surplus = 0
    for target in targets:
        src = f"read_parquet('{source_parquet(target)}')"
        cache = f"read_parquet('{target.cache_dir}/*.parquet')"
        if target.kind == "log":
            expected = f"SELECT {', '.join(KEYS)} FROM {src}"
            actual = f"SELECT {', '.join(KEYS)} FROM {cache}"
        else:
            expected = (
                f"SELECT e, a, v, k // 2 AS t FROM (SELECT e, a, v, max(t * 2 + added::BIGINT) AS k FROM {src} GROUP BY e, a, v) WHERE k % 2 = 1"
            )
            actual = f"SELECT e, a, v, t FROM {cache}"
        found = con.execute(f"SELECT (SELECT count(*) FROM ({expected} EXCEPT ALL {actual})), (SELECT count(*) FROM ({actual} EXCEPT ALL {expected}))").fetchone()
        assert found is not None
        missing, surplus = missing + int(found[0]), surplus + int(found[1])
    return missing, surplus


def child_main(method: str, spec: Path, out: Path) -> None:
    targets = [Target(**t) for t in json.loads(spec.read_text())["targets"]]
    missing, surplus = {"floor": run_floor, "polars": run_polars, "duckdb": run_duckdb}[method](targets)
    out.write_text(json.dumps({"missing": missing, "surplus": surplus}))


# ---------------------------------------------------------------- the run (parent side)


def tree_rss(pid: int) -> tuple[float, float]:
    """RSS MB of the process tree: summed, and of its largest process."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    sizes = []
    for p in procs:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.Error:
            pass
    return sum(sizes) / 2**20, max(sizes, default=0) / 2**20


def timed(command: list[str], largest: list[float] | None = None) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, peak RSS MB of the process tree, the finished process); the peak of
    its largest process goes into `largest[0]` when given."""
    peak = [0.0]
    one = largest if largest is not None else [0.0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            total, biggest = tree_rss(proc.pid)
            peak[0], one[0] = max(peak[0], total), max(one[0], biggest)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    return seconds, peak[0], subprocess.CompletedProcess(command, proc.returncode, out, err)


def measure(method: str, campaign: Path, targets: list[Target], work: Path) -> Outcome:
    if method in HEAVY_METHODS:
        from logcache.datomic.schema import VALIDATIONS

        pairs = ",".join(f"{t.dataset}/{VALIDATIONS[t.kind]}" for t in targets)
        for t in targets:  # untimed: each run is the pairs' first validation, as in a campaign
            shutil.rmtree(campaign.parent / "results" / t.dataset / VALIDATIONS[t.kind], ignore_errors=True)
        budget = ["--worker-memory", BOUNDED_MEMORY] if method == "bounded" else []
        largest = [0.0]
        command = [sys.executable, "-m", "logcache", "validate", str(campaign), "--filter-by-name", pairs, *budget]
        seconds, peak, done = timed(command, largest)
        if done.returncode not in (0, 1):
            raise SystemExit(f"logcache failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return Outcome(method, seconds, peak, *logcache_counts(campaign, targets), largest_rss_mb=largest[0])
    spec, out = work / "spec.json", work / f"{method}.json"
    spec.write_text(json.dumps({"targets": [asdict(t) for t in targets]}))
    if method == "duckdb":
        for target in targets:
            source_parquet(target)  # untimed: DuckDB reads no Avro without a download
    seconds, peak, done = timed([sys.executable, os.path.abspath(__file__), "--child", method, str(spec), str(out)])
    if done.returncode != 0:
        raise SystemExit(f"{method} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    found = json.loads(out.read_text())
    return Outcome(method, seconds, peak, found["missing"], found["surplus"])


def logcache_counts(campaign: Path, targets: list[Target]) -> tuple[int, int]:
    from logcache.datomic.schema import VALIDATIONS
    from logcache.storage import open_store
    from logcache.validation import latest_results, read_results

    latest = latest_results(read_results(open_store(str(campaign.parent / "results"))))
    rows = [latest[(t.dataset, VALIDATIONS[t.kind])] for t in targets]
    bad = [r for r in rows if r.error_kind not in ("none", "mismatch")]
    if bad:
        raise SystemExit(f"logcache: {bad[0].dataset}/{bad[0].validation}: {bad[0].error_kind}: {bad[0].error}")
    return sum(r.missing for r in rows), sum(r.extra + r.duplicates for r in rows)


def fastest(runs: list[Outcome]) -> Outcome:
    """The fastest run's time (on a shared machine the others carry more of its
    neighbours' load), with the highest peaks of all the runs: a memory bound must hold
    on every run, not only on the quickest."""
    best = min(runs, key=lambda o: o.seconds)
    return replace(best, peak_rss_mb=max(o.peak_rss_mb for o in runs), largest_rss_mb=max(o.largest_rss_mb for o in runs))


def report(shape: str, targets: list[Target], outcomes: dict[str, Outcome]) -> None:
    names = ", ".join(t.dataset for t in targets) if len(targets) <= 2 else f"{len(targets)} datasets"
    print(f"\n== {shape}: {names}")
    floor = outcomes["floor"]
    print(f"{'method':<10} {'seconds':>8} {'peak RSS MB':>12} {'x floor':>8}  differences (missing, surplus)")
    for o in outcomes.values():
        print(f"{o.method:<10} {o.seconds:>8.2f} {o.peak_rss_mb:>12.0f} {o.seconds / floor.seconds:>8.2f}  {o.missing}, {o.surplus}")
    ours = outcomes["logcache"]
    for name in ("polars", "duckdb"):
        other = outcomes[name]
        print(f"logcache vs {name}: {other.seconds / ours.seconds:.2f}x the speed, {ours.peak_rss_mb / other.peak_rss_mb:.2f}x the peak RSS")
    found = {(o.missing, o.surplus) for n, o in outcomes.items() if n != "floor"}
    if len(found) != 1:
        raise SystemExit(f"{shape}: the methods disagree on the differences: {outcomes}")


def report_heavy(shape: str, targets: list[Target], outcomes: dict[str, Outcome]) -> None:
    print(f"\n== {shape}: both checks of {targets[0].dataset}")
    print(f"{'method':<10} {'seconds':>8} {'largest process MB':>19} {'tree MB':>8}  differences (missing, surplus)")
    for o in outcomes.values():
        print(f"{o.method:<10} {o.seconds:>8.2f} {o.largest_rss_mb:>19.0f} {o.peak_rss_mb:>8.0f}  {o.missing}, {o.surplus}")
    if len({(o.missing, o.surplus) for o in outcomes.values()}) != 1:
        raise SystemExit(f"{shape}: bounded and unbounded disagree on the differences: {outcomes}")


def print_targets(results: dict[str, dict[str, Outcome]]) -> None:
    """The issue's targets, each with its figure: only those whose shapes ran."""
    lines: list[tuple[str, float, str, bool]] = []

    def check(name: str, value: float, bound: float, at_most: bool) -> None:
        lines.append((name, value, f"{'<=' if at_most else '>='} {bound:g}", value <= bound if at_most else value >= bound))

    for shape in ("heavy-medium", "heavy-large", "heavy-xlarge"):
        if "bounded" in results.get(shape, {}):
            check(f"{shape} bounded peak MB (largest process)", results[shape]["bounded"].largest_rss_mb, 450, True)
    heavy = results.get("heavy-large", {})
    if {"logcache", "bounded"} <= set(heavy):
        check("heavy-large bounded / unbounded time", heavy["bounded"].seconds / heavy["logcache"].seconds, 1.25, True)
    for shape, speedup in (("entities-large", 4.0), ("log-large", 5.0), ("log-medium", 1.5)):
        got = results.get(shape, {})
        if {"logcache", "polars"} <= set(got):
            check(f"{shape} polars / logcache time", got["polars"].seconds / got["logcache"].seconds, speedup, False)
        if shape != "log-medium" and {"logcache", "floor"} <= set(got):
            check(f"{shape} logcache / floor time", got["logcache"].seconds / got["floor"].seconds, 1.5, True)
    print("\n== targets")
    for name, value, bound, ok in lines:
        print(f"{name:<45} {value:>8.2f}  {bound:<8} {'met' if ok else 'MISSED'}")


def byte_compile() -> None:
    """Byte-compile logcache as `pip install` does, so that no timed run compiles it: an
    editable install under PYTHONDONTWRITEBYTECODE (set on some CI and container images)
    would otherwise compile every module on every run, 60 ms of a one-second check."""
    import compileall

    import logcache
    import state

    for package in (logcache, state):
        compileall.compile_dir(os.path.dirname(os.path.abspath(package.__file__)), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data"), help="where the demo worlds are kept (built once)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every method, alternating; the fastest of each is reported, with the highest peak RSS of its rounds")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    shapes = [s for s in args.shapes.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    unknown = [s for s in shapes if s not in SHAPES] + [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown shape or method {unknown[0]!r}")
    work = args.data / "bench-run"
    work.mkdir(parents=True, exist_ok=True)
    byte_compile()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    results: dict[str, dict[str, Outcome]] = {}
    for shape in shapes:
        campaign = ensure_world(args.data, shape.split("-")[1])
        chosen = targets_of(campaign, shape)
        heavy = shape.startswith("heavy")
        shape_methods = [m for m in methods if m in HEAVY_METHODS] if heavy else [m for m in methods if m != "bounded"]
        runs: dict[str, list[Outcome]] = {m: [] for m in shape_methods}
        for round_ in range(args.repeat):
            for method in shape_methods:  # alternating, so a burst of load hits every method alike
                log(f"{shape}: {method} (round {round_ + 1} of {args.repeat})")
                runs[method].append(measure(method, campaign, chosen, work))
        outcomes = results[shape] = {m: fastest(rs) for m, rs in runs.items()}
        spread = ", ".join(f"{m} {min(o.seconds for o in rs):.2f}-{max(o.seconds for o in rs):.2f} s" for m, rs in runs.items())
        print(f"\n{shape}: range over {args.repeat} rounds: {spread}")
        if heavy and set(HEAVY_METHODS) <= set(outcomes):
            report_heavy(shape, chosen, outcomes)
        elif {"floor", "logcache", "polars", "duckdb"} <= set(outcomes):
            report(shape, chosen, outcomes)
        else:
            for o in outcomes.values():
                print(f"{shape} {o.method:<10} {o.seconds:>8.2f} s {o.peak_rss_mb:>8.0f} MB  {o.missing}, {o.surplus}")
    print_targets(results)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
