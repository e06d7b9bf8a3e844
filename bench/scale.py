"""Benchmark: how each step's cost grows with the campaign, at 1k, 5k and 20k datasets.

    python bench/scale.py [--sizes 1000,5000,20000] [--steps discover,copy,...] [--keep DIR]

A campaign of N datasets is built flat: one tiny demo shard (its Avro log segments and
both cached Parquet datasets) is cloned, as hard links, under N/2 shard names, and one
succeeded nightly run lists all of them. Every step then runs as a real `logcache`
process, and the time per dataset at each size is printed next to the smallest size's:
the target is at most 1.5x at the largest size for every step, and `status` under 1 s.
Peak memory is each process's maximum resident set.

The app's side of this benchmark (the same campaigns driven headless) is added in
`app_measurements`, kept apart so the CLI figures never depend on the TUI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from logcache.catalog import CatalogDataset, Transaction
from logcache.datomic.schema import KINDS
from logcache.demo import build_world

STEPS = ("discover", "copy", "copy-nothing", "status", "plan", "validate")
TARGET_RATIO = 1.5
TEMPLATE_SHARD = "raw-accounts-s1"
TX_ID = "00000000-0000-4000-8000-000000000bench"


@dataclass(frozen=True)
class Measure:
    step: str
    datasets: int
    seconds: float
    peak_rss_mb: float
    exit_code: int

    @property
    def per_dataset_ms(self) -> float:
        return 1000 * self.seconds / self.datasets


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        os.link(item, dst / item.name)


def build_campaign(folder: Path, datasets: int) -> Path:
    """A campaign of `datasets` datasets (two per shard) cloned from one tiny demo shard."""
    template = folder / "template"
    build_world(str(template), seed=1, scale="tiny")
    truth = json.loads((template / "truth.json").read_text())
    world = folder / "world"
    world.mkdir()
    for name in ("campaign.toml", "registry"):
        source = template / name
        if source.is_dir():
            subprocess.run(["cp", "-r", str(source), str(world / name)], check=True)
        else:
            (world / name).write_bytes(source.read_bytes())
    for sub in ("ephemeral", "logs", "catalog", "permanent/cache"):
        (world / sub).mkdir(parents=True, exist_ok=True)
    cached = {kind: truth["entries"][f"{TEMPLATE_SHARD}/{kind}"] for kind in KINDS}
    listed: list[CatalogDataset] = []
    for i in range(datasets // 2):
        shard = f"raw-bench{i:06d}-s0"
        _link_tree(template / "logs" / TEMPLATE_SHARD, world / "logs" / shard)
        for kind in KINDS:
            cache_id = f"b{i:06d}{kind[0]}"
            _link_tree(template / "ephemeral" / cached[kind]["cache_id"], world / "ephemeral" / cache_id)
            listed.append(CatalogDataset(shard, kind, cache_id, int(cached[kind]["catalog_t"])))
    tx = Transaction(TX_ID, "succeeded", "2026-11-20T04:00:00Z", tuple(listed))
    (world / "catalog" / f"{TX_ID}.json").write_text(tx.to_json())
    return world / "campaign.toml"


def _timed(step: str, args: list[str], datasets: int) -> Measure:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "logcache", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    # wait4 gives this process's own peak resident set (ru_maxrss, KiB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        print(f"  {step} exited {proc.returncode}: {err.strip().splitlines()[-1:]}", file=sys.stderr)
    return Measure(step, datasets, seconds, usage.ru_maxrss / 1024, proc.returncode)


def measure_cli(campaign: Path, datasets: int, steps: tuple[str, ...]) -> list[Measure]:
    c = str(campaign)
    commands = {
        "discover": ["discover", c],
        "copy": ["copy", c],
        "copy-nothing": ["copy", c],
        "status": ["status", c],
        "plan": ["plan", c],
        "validate": ["validate", c],
    }
    return [_timed(step, commands[step], datasets) for step in STEPS if step in steps]


def app_measurements(campaign: Path, datasets: int) -> list[Measure]:
    """The app's copy time and key-press latency on the same campaign: measured by the
    app's own benchmark code, added here by the TUI's owners; none until then."""
    return []


def report(results: dict[int, list[Measure]]) -> None:
    sizes = sorted(results)
    base = {m.step: m for m in results[sizes[0]]}
    print(f"\n{'step':<14}" + "".join(f"{n:>12,} ds" for n in sizes) + f"{'ratio':>9}  {'peak RSS':>9}  verdict")
    for step in STEPS:
        row = [next((m for m in results[n] if m.step == step), None) for n in sizes]
        if row[0] is None or any(m is None for m in row):
            continue
        last = row[-1]
        assert last is not None
        ratio = last.per_dataset_ms / base[step].per_dataset_ms
        ok = ratio <= TARGET_RATIO and (step != "status" or last.seconds < 1.0)
        cells = "".join(f"{m.per_dataset_ms:>10.3f} ms" for m in row if m is not None)
        print(f"{step:<14}{cells}{ratio:>8.2f}x  {last.peak_rss_mb:>6.0f} MB  {'ok' if ok else 'OVER TARGET'}")
    largest = sizes[-1]
    status = next((m for m in results[largest] if m.step == "status"), None)
    if status is not None:
        print(f"status at {largest:,} datasets: {status.seconds:.2f} s (target < 1 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--keep", type=Path, help="build the campaigns under this folder and keep them")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = tuple(args.steps.split(","))
    results: dict[int, list[Measure]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for n in sizes:
            started = time.perf_counter()
            campaign = build_campaign(root / f"n{n}", n)
            print(f"{n:,} datasets: built in {time.perf_counter() - started:.1f} s", flush=True)
            results[n] = measure_cli(campaign, n, steps) + app_measurements(campaign, n)
            for m in results[n]:
                print(f"  {m.step:<14} {m.seconds:8.2f} s  {m.per_dataset_ms:8.3f} ms/dataset  rc {m.exit_code}  peak {m.peak_rss_mb:.0f} MB", flush=True)
    report(results)


if __name__ == "__main__":
    main()
