"""Benchmark: how each step's cost grows with the campaign, at 1k, 5k and 20k datasets.

    python bench/scale.py [--sizes 1000,5000,20000] [--steps discover,copy,...] [--keep DIR]

A campaign of N datasets is built flat: one tiny demo shard (its Avro log segments and
both cached Parquet datasets) is cloned, as hard links, under N/2 shard names, and one
succeeded nightly run lists all of them. Every step then runs as a real `logcache`
process, and the time per dataset at each size is printed next to the smallest size's:
the target is at most 1.5x at the largest size for every step, and `status` under 1 s.
Peak memory is each process's maximum resident set.

The app's side (`app_measurements`) copies a campaign of the same size in the app,
driven headless with Textual's pilot, and prints its time next to the CLI's copy and the
latency of every pane switch pressed while it ran (the longest and the 95th percentile),
and the longest the app's loop stalled meanwhile, between presses too: a key pressed then
waits that long. The target is every key under 0.3 s.
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
ALL = (*STEPS, "app")
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


# Drives the app headless (Textual's pilot) in its own process: starts the copy step,
# switches panes four times a second while it runs (an operator looking around), and
# prints the copy's time and how long each switch took to show.
APP_DRIVER = """
import asyncio, json, sys, time
from pathlib import Path
from state.model import StepName
from tui.app import LogcacheApp

async def beat(stalls):
    # The app's loop, seen from inside: a key pressed in a stall waits for its end too,
    # including stalls between two of the driver's presses.
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        stalls.append(now - last - 0.01)
        last = now

async def drive(campaign):
    app = LogcacheApp(Path(campaign))
    latencies, stalls = [], []
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        ticker = asyncio.create_task(beat(stalls))
        started = time.monotonic()
        app.main.run_step_named(StepName.COPY)
        keys = (("validators", "2"), ("copy", "1"), ("failed", "3"), ("copy", "1"), ("results", "5"), ("log", "6"), ("copy", "1"))
        turn = 0
        while app.busy or time.monotonic() - started < 0.5:
            tab, key = keys[turn % len(keys)]
            turn += 1
            pressed = time.monotonic()
            app.simulate_key(key)
            while app.screen.active_tab != tab and time.monotonic() < pressed + 60:
                await asyncio.sleep(0.002)
            latencies.append(time.monotonic() - pressed)
            await asyncio.sleep(0.25)
        copy_s = time.monotonic() - started
        ticker.cancel()
        await pilot.press("q")
    print(json.dumps({"copy_s": copy_s, "key_s": latencies, "stall_s": max(stalls)}))

asyncio.run(drive(sys.argv[1]))
"""

KEY_TARGET_S = 0.3


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ranked = sorted(values)
    return ranked[max(0, min(len(ranked) - 1, round(p / 100 * len(ranked) + 0.5) - 1))]


def app_measurements(folder: Path, datasets: int) -> list[Measure]:
    """The app's copy on a campaign of its own (discovered by the CLI, copied by the app),
    with the longest and the 95th-percentile pane-switch latency seen meanwhile."""
    campaign = build_campaign(folder, datasets)
    subprocess.run([sys.executable, "-m", "logcache", "discover", str(campaign)], check=True, stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([sys.executable, "-c", APP_DRIVER, str(campaign)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.strip():
        print(f"  the app's run exited {proc.returncode}", file=sys.stderr)
        return []
    found = json.loads(out.strip().splitlines()[-1])
    rss = usage.ru_maxrss / 1024
    keys: list[float] = found["key_s"]
    print(f"  app: {len(keys)} pane switches during the copy, each in s: {' '.join(f'{k:.3f}' for k in keys)}", flush=True)
    return [
        Measure("app-copy", datasets, found["copy_s"], rss, proc.returncode),
        Measure("app-key-max", datasets, max(keys), rss, proc.returncode),
        Measure("app-key-p95", datasets, percentile(keys, 95), rss, proc.returncode),
        Measure("app-stall-max", datasets, found["stall_s"], rss, proc.returncode),
    ]


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
    for n in sizes:
        by_step = {m.step: m for m in results[n]}
        if "app-copy" in by_step and "copy" in by_step:
            app, cli = by_step["app-copy"], by_step["copy"]
            worst, p95 = by_step["app-key-max"].seconds, by_step["app-key-p95"].seconds
            stall = by_step["app-stall-max"].seconds
            print(
                f"app at {n:,} datasets: copy {app.seconds:.2f} s vs the CLI's {cli.seconds:.2f} s "
                f"({app.seconds / cli.seconds:.2f}x, target 1.2x); pane switch during it: max {worst:.3f} s, p95 {p95:.3f} s; "
                f"longest stall of the app's loop {stall:.3f} s "
                f"(target every key < {KEY_TARGET_S} s: {'ok' if max(worst, stall) < KEY_TARGET_S else 'OVER TARGET'})"
            )
    largest = sizes[-1]
    status = next((m for m in results[largest] if m.step == "status"), None)
    if status is not None:
        print(f"status at {largest:,} datasets: {status.seconds:.2f} s (target < 1 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--steps", default=",".join(ALL), help="of " + ",".join(ALL) + " (app: the same copy driven in the app)")
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
            results[n] = measure_cli(campaign, n, steps) + (app_measurements(root / f"n{n}-app", n) if "app" in steps else [])
            for m in results[n]:
                print(f"  {m.step:<14} {m.seconds:8.2f} s  {m.per_dataset_ms:8.3f} ms/dataset  rc {m.exit_code}  peak {m.peak_rss_mb:.0f} MB", flush=True)
    report(results)


if __name__ == "__main__":
    main()
