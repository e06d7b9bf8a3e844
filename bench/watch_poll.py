"""Benchmark: one poll of a read-only app's watcher (tui/watch.py) on a 20,000-dataset
campaign, idle and after the driver saved, against a plain load of the state measured in
the same run (what a watcher that re-read every poll would pay).

    python bench/watch_poll.py [--datasets 20000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

from status_5000 import make_campaign

from logcache.campaign import lock_path, open_campaign
from logcache.runbook import journal
from state.model import utc_now
from state.persist import load_state, save_state
from tui.watch import RELOAD_EVERY_S, Watcher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_campaign(Path(tmp) / "w", args.datasets)
        with open_campaign(path, write=False) as campaign:
            # A live holder (this process): the watcher follows and never takes over.
            holder = {"operator": "bench", "host": socket.gethostname(), "pid": os.getpid(), "started_at": utc_now()}
            lock_path(campaign.config).write_text(json.dumps(holder))
            watcher = Watcher(campaign)
            state_path = campaign.config.state_path
            size = state_path.stat().st_size
            idle, changed, loads = [], [], []
            now = time.monotonic()
            for i in range(args.repeat):
                now += 10 * RELOAD_EVERY_S
                start = time.perf_counter()
                watcher.poll(now)
                idle.append(time.perf_counter() - start)
                state = load_state(state_path)
                state.transaction_id = f"bench-{i}"
                save_state(state_path, state)  # the driver's save
                journal.append(campaign.config.work_dir, journal.JournalEntry(utc_now(), "bench", f"line {i}"))
                now += 10 * RELOAD_EVERY_S
                start = time.perf_counter()
                news = watcher.poll(now)
                changed.append(time.perf_counter() - start)
                assert news.reloaded and len(news.entries) == 1
                start = time.perf_counter()
                load_state(state_path)
                loads.append(time.perf_counter() - start)
    base = statistics.median(loads)
    print(f"state file: {args.datasets:,} datasets, {size / 1e6:.1f} MB")
    print(f"baseline  load the state          {base * 1e3:8.2f} ms")
    print(f"idle poll (nothing changed)       {statistics.median(idle) * 1e3:8.3f} ms  ({statistics.median(idle) / base:.4f}x the baseline)")
    print(f"poll after a save and a Log line  {statistics.median(changed) * 1e3:8.2f} ms  ({statistics.median(changed) / base:.2f}x the baseline)")
    print(f"polls every 0.5 s; a reload when the file changed, at most every {RELOAD_EVERY_S:.0f} s and a quarter of the time")


if __name__ == "__main__":
    main()
