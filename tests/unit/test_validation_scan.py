"""Each segment of a shard's log is decoded once per validation run of the shard, for both
checks together and across a heavy shard's sub-tasks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import logcache.validation.scan as scan
from logcache.cli import main
from logcache.datomic.logop import list_segments
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.stores import open_destination, open_logs
from logcache.validation import run_validation, split_log
from logcache.validation.check import Job, run_shard
from state.config import load_config


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scan") / "w"
    build_world(str(root), seed=5, scale="small")
    assert main(["discover", str(root / "campaign.toml")]) == 0
    assert main(["copy", str(root / "campaign.toml")]) == 0
    return root


def _decodes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    real = scan.read_segment

    def counting(logs, key):  # type: ignore[no-untyped-def]
        counts[key] += 1
        return real(logs, key)

    monkeypatch.setattr(scan, "read_segment", counting)
    return counts


def test_both_checks_of_a_shard_share_one_decode(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(world / "campaign.toml")
    logs, destination = open_logs(config), open_destination(config)
    entries = read_entries(world / CSV_NAME)
    shard = max((e for e in entries if e.kind == "log"), key=lambda e: e.bytes).dataset
    pair = [e for e in entries if e.dataset == shard]
    decodes = _decodes(monkeypatch)
    rows = run_shard([Job(e, "log-validation" if e.kind == "log" else "materialized-entities-validation") for e in sorted(pair, key=lambda e: e.kind)], logs, destination)
    assert [r.is_valid for r in rows] == [True, True] and rows[0].rows_actual > 0 and rows[1].rows_actual > 0
    segments = list_segments(logs, shard)
    assert len(segments) > 1 and set(decodes.values()) == {1}
    assert set(decodes) == {s.key for s in segments if s.first_t <= max(e.t for e in pair)}


def test_a_split_logs_subtasks_decode_each_segment_once_in_all(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(world / "campaign.toml")
    logs, destination = open_logs(config), open_destination(config)
    entry = max((e for e in read_entries(world / CSV_NAME) if e.kind == "log"), key=lambda e: e.bytes)
    decodes = _decodes(monkeypatch)
    ranges = split_log(logs, entry.dataset, 4, entry.t)
    assert len(ranges) > 1
    parts = [run_validation(entry, "log-validation", logs, destination, subtask=r) for r in ranges]
    assert all(p.is_valid for p in parts)
    assert set(decodes.values()) == {1}


def test_shards_side_by_side_share_one_reader_pool_and_one_failure_stays_its_own(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from logcache.errors import CorruptData

    config = load_config(world / "campaign.toml")
    logs, destination = open_logs(config), open_destination(config)
    entries = read_entries(world / CSV_NAME)
    shards = sorted({e.dataset for e in entries if e.kind == "log"})[:3]
    broken = list_segments(logs, shards[0])[0].key
    threads: set[str] = set()
    real = scan.read_segment

    def recording(logs, key):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        if key == broken:
            raise CorruptData(f"{key} is not a readable Avro file")
        return real(logs, key)

    monkeypatch.setattr(scan, "read_segment", recording)
    with ThreadPoolExecutor(2, thread_name_prefix="shared-readers") as readers, ThreadPoolExecutor(3) as units:
        futures = {
            shard: units.submit(run_shard, [Job(e, "log-validation") for e in entries if e.dataset == shard and e.kind == "log"], logs, destination, readers=readers)
            for shard in shards
        }
        rows = {shard: f.result()[0] for shard, f in futures.items()}
        # The pool outlives every unit that used it, the failed one's included.
        assert readers.submit(lambda: 1).result() == 1
    assert rows[shards[0]].error_kind == "corrupt-file" and broken in rows[shards[0]].error
    assert all(rows[s].is_valid for s in shards[1:])
    assert threads and all(name.startswith("shared-readers") for name in threads)
