"""Benchmark: both checks of the heaviest `large` shard on a Dask LocalCluster of 2 workers
at `memory_limit="512MiB"` each, against the same checks on the local backend, in one run.

    python bench/dask_heavy.py [--data /work/bench-data] [--scale large] [--worker-memory 256MiB]

The issue's target: on that cluster the shard validates valid, both workers run tasks of
it, and no worker is restarted for memory. Printed: the seconds of each backend (the
local one unbounded, as the baseline), which workers finished the shard's tasks, each
worker's pid before and after (a restarted worker has a new one) and its peak RSS, and
the rows. The world is built once by `bench/validate.py`'s `ensure_world`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from logcache.datomic.schema import VALIDATIONS
from logcache.entries import CSV_NAME, read_entries
from logcache.storage import open_store
from logcache.validation import latest_results, read_results
from logcache.validation.predict import peak_rss


def logcache(args: list[str]) -> tuple[int, float]:
    """`logcache ARGS` as an operator runs it, in a process of its own: exit code, seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "logcache", *args], check=False, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        print(f"logcache {args[0]} exited {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr)
    return done.returncode, time.perf_counter() - started


def main() -> int:
    # Here, not at the top: Dask's worker processes import this script again, and
    # bench/validate.py takes this folder off sys.path once imported.
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin
    from validate import ensure_world, log

    class WhereRan(SchedulerPlugin):
        name = "bench-where-ran"

        def __init__(self) -> None:
            self.worker_of: dict[str, str] = {}

        def transition(self, key: object, start: str, finish: str, *args: object, **kwargs: object) -> None:
            if finish == "memory" and "worker" in kwargs:
                self.worker_of[str(key)] = str(kwargs["worker"])

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data"), help="where the demo worlds are kept (built once)")
    parser.add_argument("--scale", default="large")
    parser.add_argument("--worker-memory", default="256MiB", help="the workers' budget (--worker-memory)")
    args = parser.parse_args()
    campaign = ensure_world(args.data, args.scale)
    root = campaign.parent
    entries = read_entries(root / CSV_NAME)
    heaviest = max((e for e in entries if e.kind == "log"), key=lambda e: e.bytes).dataset
    pairs = [f"{heaviest}/{VALIDATIONS[kind]}" for kind in ("log", "materialized-entities")]

    def fresh() -> None:  # every run is the pairs' first validation, as in a campaign
        for pair in pairs:
            shutil.rmtree(root / "results" / pair, ignore_errors=True)

    fresh()
    log(f"local backend: {','.join(pairs)}")
    local_code, local_s = logcache(["validate", str(campaign), "--filter-by-name", ",".join(pairs)])

    fresh()
    plugin = WhereRan()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB", dashboard_address=":0") as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        cluster.scheduler.add_plugin(plugin)
        before = client.run(os.getpid)
        log(f"Dask LocalCluster of {len(before)} workers at 512MiB each, --worker-memory {args.worker_memory}")
        dask = ["validate", str(campaign), "--backend", "dask", "--scheduler", cluster.scheduler_address, "--worker-memory", args.worker_memory]
        code, dask_s = logcache([*dask, "--filter-by-name", ",".join(pairs)])
        after = client.run(os.getpid)
        peaks = client.run(peak_rss)
    latest = latest_results(read_results(open_store(str(root / "results"))))
    mine = {k: w for k, w in plugin.worker_of.items() if heaviest in k}
    print(f"\n== {args.scale}: both checks of {heaviest}")
    print(f"local backend (unbounded)   {local_s:7.2f} s  exit {local_code}")
    print(f"Dask, 2 x 512MiB            {dask_s:7.2f} s  exit {code}  ({dask_s / local_s:.2f}x local)")
    for worker in sorted(before):
        tasks = sum(1 for w in mine.values() if w == worker)
        print(f"  {worker}: pid {before[worker]} -> {after.get(worker)}, {tasks} of the shard's tasks, peak RSS {peaks.get(worker, 0) / 2**20:.0f} MB")
    rows = [latest[(heaviest, pair.split("/")[1])] for pair in pairs]
    for pair, row in zip(pairs, rows):
        print(f"  {pair}: valid={row.is_valid} rows {row.rows_expected}/{row.rows_actual} {row.error_kind}")
    ran_on_both = set(mine.values()) == set(before)
    restarted = [w for w in before if after.get(w) != before[w]]
    valid = all(row.is_valid for row in rows)
    print("\n== targets")
    print(f"valid on Dask                               {'met' if valid and code == 0 else 'MISSED'}")
    print(f"both workers ran tasks of the shard          {'met' if ran_on_both else 'MISSED'}")
    print(f"no worker restarted                          {'met' if not restarted else 'MISSED: ' + ', '.join(restarted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
