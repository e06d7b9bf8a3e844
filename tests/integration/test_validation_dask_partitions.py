"""On Dask a heavy shard's entities check is tasks of its own: its segment decodes and
partition folds spread over the workers, within their memory limits, and its row is
the one an in-process run writes."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from logcache.cli import main
from logcache.datomic.logop import list_segments
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.stores import open_destination, open_logs, open_results
from logcache.validation import latest_results, read_results, run_validation
from logcache.validation.budget import Budget, estimated_datoms
from state.config import load_config

BUDGET = 4 << 20


class _WhereRan:
    """A scheduler plugin that records which worker finished each task."""

    name = "logcache-test-spread-where-ran"

    def __init__(self) -> None:
        self.worker_of: dict[str, str] = {}

    def transition(self, key: object, start: str, finish: str, *args: object, **kwargs: object) -> None:
        if finish == "memory" and "worker" in kwargs:
            self.worker_of[str(key)] = str(kwargs["worker"])


def _comparable(row: object) -> dict[str, object]:
    fields = asdict(row)  # type: ignore[call-overload]
    for name in ("started_at", "duration_s", "parcel"):
        fields.pop(name)
    return fields


def test_a_heavy_entities_check_spreads_over_every_worker(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    root = tmp_path / "w"
    build_world(str(root), seed=5, scale="small")
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    config = load_config(campaign)
    logs, destination = open_logs(config), open_destination(config)
    heavy = max((e for e in read_entries(root / CSV_NAME) if e.kind != "log"), key=lambda e: e.bytes)
    up_to_t = sum(s.size for s in list_segments(logs, heavy.dataset) if s.first_t <= heavy.t)
    parts = Budget(BUDGET, tmp_path).partitions(estimated_datoms(up_to_t))
    assert parts >= 4

    plugin = type("WhereRan", (_WhereRan, SchedulerPlugin), {})()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB", dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        cluster.scheduler.add_plugin(plugin)
        pids = client.run(os.getpid)
        code = main(["validate", str(campaign), "--backend", "dask", "--scheduler", cluster.scheduler_address, "--worker-memory", str(BUDGET), "--filter-by-name", heavy.pair])
        # The same workers, the same processes: none was restarted (for memory or else).
        assert client.run(os.getpid) == pids
        assert len(client.scheduler_info()["workers"]) == 2
    assert code == 0

    mine = {k: w for k, w in plugin.worker_of.items() if heavy.pair in k}
    decodes = {k: w for k, w in mine.items() if k.startswith("logcache-decode-")}
    folds = {k: w for k, w in mine.items() if k.startswith("logcache-fold-")}
    assert len(folds) == parts and decodes, sorted(mine)
    assert set(mine.values()) == set(pids), f"the heavy shard's tasks ran on fewer workers than there are: {mine}"
    assert not any((config.work_dir / "spill").glob("*/*")), "the spread check left pieces behind"

    rows = latest_results(read_results(open_results(config)))
    row = rows[(heavy.dataset, "materialized-entities-validation")]
    assert row.is_valid and row.rows_expected > 0
    assert _comparable(row) == _comparable(run_validation(heavy, "materialized-entities-validation", logs, destination))
