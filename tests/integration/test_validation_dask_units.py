"""On Dask the scheduled unit is a sub-task: a heavy shard's parts spread over the workers."""

from __future__ import annotations

from pathlib import Path

from support.where_ran import WhereRan

from logcache.cli import main
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.stores import open_results
from logcache.validation import latest_results, read_results
from state.config import load_config


def test_a_heavy_shards_subtasks_run_on_several_workers(tmp_path: Path) -> None:
    from distributed import LocalCluster

    root = tmp_path / "w"
    build_world(str(root), seed=5, scale="small")
    campaign = str(root / "campaign.toml")
    assert main(["discover", campaign]) == 0
    assert main(["copy", campaign]) == 0
    entries = read_entries(root / CSV_NAME)
    heavy = max((e for e in entries if e.kind == "log"), key=lambda e: e.bytes)
    light = sorted(e.pair for e in entries if e.kind == "log" and e.bytes < heavy.bytes / 4)[:4]
    names = [heavy.pair, *light]
    plugin = WhereRan()
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        cluster.scheduler.add_plugin(plugin)
        # Two parcels on three workers: were parcels the unit, at most two workers would run.
        code = main(["validate", campaign, "--parcel-count", "2", "--backend", "dask", "--scheduler", cluster.scheduler_address, "--filter-by-name", ",".join(names)])
    assert code == 0
    parts = {k: w for k, w in plugin.worker_of.items() if f"{heavy.pair}#" in k}
    assert len(parts) >= 3, f"the heavy shard was split into sub-tasks: {sorted(plugin.worker_of)}"
    assert len(set(parts.values())) == 3, f"the heavy shard's sub-tasks ran on fewer workers than there are: {parts}"
    rows = latest_results(read_results(open_results(load_config(root / "campaign.toml"))))
    assert {f"{d}/{v}" for d, v in rows} == set(names) and all(r.is_valid for r in rows.values())
