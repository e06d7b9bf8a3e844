"""A heavy shard's entities check as units of scheduling. On Dask it is tasks of its own:
its segment decodes and partition folds spread over the workers, within their memory
limits. With the command backend its partitions are named (`<pair>#pKofN`), each a job.
Either way its row is the one an in-process run writes."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from support.where_ran import WhereRan

from logcache.cli import main
from logcache.datomic.logop import list_segments
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.errors import UsageError
from logcache.stores import open_destination, open_logs, open_results
from logcache.validation import latest_results, read_results, run_validation
from logcache.validation.budget import Budget, estimated_datoms
from logcache.validation.plan import named_partitions
from state.config import load_config

BUDGET = 4 << 20


def _world(root: Path, scale: str) -> Path:
    build_world(str(root), seed=5, scale=scale)
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    return campaign


def _comparable(row: object) -> dict[str, object]:
    fields = asdict(row)  # type: ignore[call-overload]
    for name in ("started_at", "duration_s", "parcel"):
        fields.pop(name)
    return fields


def test_a_heavy_entities_check_spreads_over_every_worker(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    root = tmp_path / "w"
    campaign = _world(root, "small")
    config = load_config(campaign)
    logs, destination = open_logs(config), open_destination(config)
    heavy = max((e for e in read_entries(root / CSV_NAME) if e.kind != "log"), key=lambda e: e.bytes)
    up_to_t = sum(s.size for s in list_segments(logs, heavy.dataset) if s.first_t <= heavy.t)
    parts = Budget(BUDGET, tmp_path).partitions(estimated_datoms(up_to_t))
    assert parts >= 4

    plugin = WhereRan()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB", dashboard_address=":0") as cluster,
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


def test_a_command_job_checks_one_named_partition(tmp_path: Path) -> None:
    root = tmp_path / "w"
    campaign = _world(root, "tiny")
    config = load_config(campaign)
    heavy = max((e for e in read_entries(root / CSV_NAME) if e.kind != "log"), key=lambda e: e.bytes)
    template = f"{shlex.quote(sys.executable)} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}} {{args}}"
    base = ["validate", str(campaign), "--backend", "command", "--template", template, "--filter-by-name"]
    results = open_results(config)

    # One partition: its job saves its partial; the pair has no result until all are in.
    assert main([*base, f"{heavy.pair}#p2of4"]) == 1
    keys = sorted(i.key for i in results.list() if i.key.startswith(f"{heavy.dataset}/materialized-entities-validation/"))
    assert keys == [f"{heavy.dataset}/materialized-entities-validation/attempt-000001.part-p_1_4.parquet"], keys
    assert (heavy.dataset, "materialized-entities-validation") not in latest_results(read_results(results))
    log = "".join(p.read_text() for p in (root / "jobs").glob("parcel-*.log"))
    assert "1 tasks run" in log, log

    # The others: the job that finds all four in writes the pair's row, the one a whole check writes.
    assert main([*base, ",".join(f"{heavy.pair}#p{k}of4" for k in (1, 3, 4))]) == 0
    row = latest_results(read_results(results))[(heavy.dataset, "materialized-entities-validation")]
    whole = run_validation(heavy, "materialized-entities-validation", open_logs(config), open_destination(config))
    assert row.is_valid and _comparable(row) == _comparable(whole)


def test_a_partition_name_is_checked() -> None:
    with pytest.raises(UsageError, match="names no partition"):
        named_partitions(["raw-a-s0/materialized-entities-validation#p5of4"])
    with pytest.raises(UsageError, match="only a materialized-entities check"):
        named_partitions(["raw-a-s0/log-validation#p1of4"])
    pairs, partitions = named_partitions(["raw-a-s0/materialized-entities-validation#p2of4", "raw-b-s0/log-validation"])
    assert pairs == ["raw-a-s0/materialized-entities-validation", "raw-b-s0/log-validation"]
    assert partitions.parts == {"raw-a-s0/materialized-entities-validation": 4}


def test_the_plan_names_each_partition_as_filter_by_name_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    root = tmp_path / "w"
    campaign = _world(root, "tiny")
    heavy = max((e for e in read_entries(root / CSV_NAME) if e.kind != "log"), key=lambda e: e.bytes)
    names = [f"{heavy.pair}#p1of4", f"{heavy.pair}#p3of4"]
    capsys.readouterr()
    assert main(["plan", str(campaign), "--parcel-count", "2", "--json", "--filter-by-name", ",".join(names)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert sorted(t for p in planned["parcels"] for t in p["tasks"]) == names


def test_the_command_backend_cuts_a_heavy_entities_check_into_partitions_its_jobs_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runbook's manual split, automatic: a check over one job's budget is planned as
    partitions, spread over the jobs, and the pair's row is the whole check's."""
    import json

    root = tmp_path / "w"
    campaign = _world(root, "tiny")
    config = load_config(campaign)
    entries = read_entries(root / CSV_NAME)
    heavy = max((e for e in entries if e.kind != "log"), key=lambda e: e.bytes)
    light = min((e for e in entries if e.kind != "log"), key=lambda e: e.bytes)
    plan_args = ["--parcel-count", "3", "--worker-memory", "16KiB", "--filter-by-name", f"{heavy.pair},{light.pair}"]

    def planned() -> list[list[str]]:
        capsys.readouterr()
        assert main(["plan", str(campaign), "--json", *plan_args]) == 0
        return [p["tasks"] for p in json.loads(capsys.readouterr().out)["parcels"]]

    assert sorted(t for tasks in planned() for t in tasks) == sorted((heavy.pair, light.pair)), "the local backend cuts nothing at the plan"
    text = campaign.read_text(encoding="utf-8")
    assert 'backend = "local"' in text
    campaign.write_text(text.replace('backend = "local"', 'backend = "command"'), encoding="utf-8")
    parcels = planned()
    parts = [t for tasks in parcels for t in tasks if t.startswith(f"{heavy.pair}#p")]
    assert len(parts) >= 2 and sum(any(t in parts for t in tasks) for tasks in parcels) >= 2, parcels

    template = f"{shlex.quote(sys.executable)} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}} {{args}}"
    assert main(["validate", str(campaign), "--template", template, *plan_args]) == 0
    results = open_results(config)
    partials = [i.key for i in results.list() if i.key.startswith(f"{heavy.dataset}/materialized-entities-validation/") and ".part-p_" in i.key]
    assert len(partials) == len(parts), partials
    row = latest_results(read_results(results))[(heavy.dataset, "materialized-entities-validation")]
    whole = run_validation(heavy, "materialized-entities-validation", open_logs(config), open_destination(config))
    assert row.is_valid and _comparable(row) == _comparable(whole)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("bad", "'bad' names no partitions"),
        ("raw-feed-s0/log-validation=2", "names no partitions"),
        ("raw-nope-s0/materialized-entities-validation=3", "unknown dataset/validation 'raw-nope-s0/materialized-entities-validation' in --entity-partitions"),
    ],
)
def test_bad_entity_partitions_are_one_line_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, said: str) -> None:
    campaign = _world(tmp_path / "w", "tiny")
    config = load_config(campaign)
    before = config.state_path.read_bytes()
    results = sorted(i.key for i in open_results(config).list())
    capsys.readouterr()
    assert main(["validate", str(campaign), "--entity-partitions", value]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and "\n" not in err, err
    assert config.state_path.read_bytes() == before
    assert sorted(i.key for i in open_results(config).list()) == results
