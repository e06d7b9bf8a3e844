"""Per-dataset work stays per dataset: indexed lookups in the state, saves spaced by what
they cost, a parsed copy of the state for fast loads, and copy progress that carries only
what changed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from logcache.copy import CopyEvent, CopyProgress, copy_entries
from logcache.entries import CacheEntry
from logcache.storage import open_store
from state.debounce import DebouncedSaver
from state.model import CampaignState, CopyStatus, DatasetState, StepName, StepStatus
from state.persist import StateFileError, load_state, parsed_copy_path, save_state


def _dataset(i: int, status: CopyStatus = CopyStatus.PENDING) -> DatasetState:
    return DatasetState(f"raw-db{i:05d}-s0", "log", 1000 + i, f"s3://e/id{i}", f"s3://p/cache/id{i}", 2, 10, status)


class _Counting(DatasetState):
    """A dataset that counts how often its name is asked for."""

    calls = 0

    @property
    def name(self) -> str:
        _Counting.calls += 1
        return f"{self.dataset}/{self.kind}"


def test_dataset_lookup_is_indexed_and_follows_the_list() -> None:
    state = CampaignState("big")
    state.datasets = [_Counting(f"raw-db{i:05d}-s0", "log", i, "s", "d", 1, 1) for i in range(5000)]
    _Counting.calls = 0
    for i in range(5000):
        found = state.dataset(f"raw-db{i:05d}-s0/log")
        assert found is not None and found.t == i
    # One pass to build the index, one check per hit: not a scan per lookup.
    assert _Counting.calls <= 3 * 5000
    assert state.dataset("raw-nope-s0/log") is None

    state.datasets = [_dataset(7)]
    assert state.dataset("raw-db00000-s0/log") is None
    assert state.dataset("raw-db00007-s0/log") is state.datasets[0]
    state.datasets.append(_dataset(8))
    assert state.dataset("raw-db00008-s0/log") is state.datasets[1]
    state.datasets[0] = _dataset(9)
    state.datasets[1] = _dataset(7)
    assert state.dataset("raw-db00007-s0/log") is state.datasets[1]


def test_failed_paths_are_recorded_once_by_url() -> None:
    state = CampaignState("big")
    for i in range(3000):
        assert state.add_failed_path(f"s3://p/cache/id{i}", "copy", f"raw-db{i:05d}-s0/log")
    assert not state.add_failed_path("s3://p/cache/id5", "copy", "raw-db00005-s0/log")
    assert len(state.failed_paths) == 3000
    found = state.failed_path("s3://p/cache/id2999")
    assert found is not None and found.dataset_name == "raw-db02999-s0/log"
    state.failed_paths = []
    assert state.failed_path("s3://p/cache/id1") is None


def test_indexes_are_not_persisted_and_do_not_change_equality(tmp_path: Path) -> None:
    state = CampaignState("big", datasets=[_dataset(i) for i in range(10)])
    assert state.dataset("raw-db00003-s0/log") is not None
    path = tmp_path / "campaign.state.toml"
    save_state(path, state)
    assert "_index" not in path.read_text()
    assert load_state(path) == state


def test_saves_are_spaced_by_their_cost_and_close_writes_the_last(tmp_path: Path) -> None:
    now = [0.0]
    saved: list[str | None] = []

    def slow_save(path: Path, state: CampaignState) -> None:
        now[0] += 0.5  # a save of a large state: half a second
        saved.append(state.transaction_id)

    saver = DebouncedSaver(tmp_path / "s.toml", min_interval_s=1.0, clock=lambda: now[0], save=slow_save)
    state = CampaignState("big")
    for i in range(60_000):
        state.transaction_id = f"tx-{i}"
        now[0] += 0.001  # 60 s of marks
        saver.mark(state)
    saver.close()
    # Without the cost rule a write would come every second: ~40 writes, 20 s of saving.
    assert saver.writes <= 14
    assert saved[-1] == "tx-59999"


def test_a_parsed_copy_serves_loads_until_the_toml_changes(tmp_path: Path) -> None:
    path = tmp_path / "campaign.state.toml"
    state = CampaignState("big", transaction_id="tx-1", datasets=[_dataset(i, CopyStatus.VERIFIED) for i in range(20_000)])
    state.finish_step(StepName.COPY, StepStatus.DONE, note="all")
    save_state(path, state)
    copy = parsed_copy_path(path)
    assert json.loads(copy.read_text())["state"]["transaction_id"] == "tx-1"
    started = time.perf_counter()
    loaded = load_state(path)
    fast = time.perf_counter() - started
    assert loaded == state
    assert fast < 1.0, f"loading 20,000 datasets took {fast:.2f} s"

    # A hand edit of the TOML wins over the copy.
    path.write_text(path.read_text().replace('transaction_id = "tx-1"', 'transaction_id = "tx-edited"'))
    assert load_state(path).transaction_id == "tx-edited"
    # A broken TOML is reported although the copy is intact.
    path.write_text(path.read_text().replace("objects = 2", 'objects = "two"', 1))
    try:
        load_state(path)
    except StateFileError as exc:
        assert "datasets[0].objects must be an integer" in str(exc)
    else:
        raise AssertionError("a malformed state file was accepted")


def test_copy_progress_carries_only_the_datasets_that_changed(tmp_path: Path) -> None:
    source, destination = open_store(str(tmp_path / "src")), open_store(str(tmp_path / "dst"))
    entries = []
    for i in range(400):
        source.write_bytes(f"id{i}/part-0.parquet", b"x" * 10)
        entries.append(CacheEntry(f"raw-db{i:04d}-s0", "log", 1, source.url_of(f"id{i}"), destination.url_of(f"id{i}"), 1, 10))
    events: list[CopyEvent] = []
    report = copy_entries(entries, source, destination, concurrency=8, on_event=events.append)
    assert report.ok
    ticks = [e for e in events if isinstance(e, CopyProgress)]
    carried = sum(len(t.datasets) for t in ticks)
    # Each dataset changes twice at most (copied, verified); a full table per tick would be 400 per tick.
    assert carried <= 2 * len(entries), (carried, len(ticks))
    assert {d.name for t in ticks for d in t.datasets} == {e.name for e in entries}
