"""Benchmark: `logcache status` on a 5,000-dataset campaign, against the interpreter's
own start-up measured in the same run.

    python bench/status_5000.py [--datasets 5000] [--repeat 5]

It writes a campaign whose state holds every dataset (copy statuses mixed), 40 parcels
and some failed paths, then times `logcache status` and `logcache status --json` as
real processes, and `python -c "import logcache.cli"` as the floor nothing can beat.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logcache.demo import build_world
from state.config import load_config
from state.model import CampaignState, CopyStatus, DatasetState, ParcelState, ParcelStatus, StepName, StepStatus
from state.persist import save_state


def make_campaign(folder: Path, datasets: int) -> Path:
    build_world(str(folder), seed=1, scale="tiny")
    config = load_config(folder / "campaign.toml")
    state = CampaignState(config.name, transaction_id="bench")
    statuses = list(CopyStatus)
    for i in range(datasets):
        kind = "log" if i % 2 == 0 else "materialized-entities"
        shard = f"raw-db{i // 64:03d}-s{(i // 2) % 32}"
        cache_id = f"id{i:08d}"
        state.datasets.append(
            DatasetState(shard, kind, 1000 + i, f"s3://eph/{cache_id}", f"s3://perm/cache/{cache_id}", 40, 40 << 20, statuses[i % len(statuses)])
        )
    state.parcels = [ParcelState(str(i), "local", f"pool-{i}", ParcelStatus.DONE, None, 125, 125) for i in range(40)]
    for i in range(25):
        state.add_failed_path(f"s3://perm/cache/id{i:08d}", "validation", state.datasets[i].name)
    for name in (StepName.PICK_TRANSACTION, StepName.DISCOVER, StepName.COPY):
        state.start_step(name)
        state.finish_step(name, StepStatus.DONE, note="bench")
    save_state(config.state_path, state)
    return folder / "campaign.toml"


def timed(cmd: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        campaign = make_campaign(Path(tmp) / "w", args.datasets)
        size = campaign.with_name("campaign.state.toml").stat().st_size
        floor = timed([sys.executable, "-c", "import logcache.cli"], args.repeat)
        text = timed([sys.executable, "-m", "logcache", "status", str(campaign)], args.repeat)
        as_json = timed([sys.executable, "-m", "logcache", "status", str(campaign), "--json"], args.repeat)
    print(f"state file: {args.datasets:,} datasets, {size / 1e6:.1f} MB")
    print(f"baseline   import logcache.cli   {floor:6.3f} s")
    print(f"status                           {text:6.3f} s  ({text / floor:.2f}x the baseline)")
    print(f"status --json                    {as_json:6.3f} s  ({as_json / floor:.2f}x the baseline)")
    print(f"under a second: {'yes' if max(text, as_json) < 1 else 'NO'}")


if __name__ == "__main__":
    main()
