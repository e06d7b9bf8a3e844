"""A dataset's seven entry fields are declared once (state.model.CacheRecord): the
library's CacheEntry is that record, the state's DatasetState is it plus the copy's
status, and the state file keeps the same keys as before."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from logcache.entries import CacheEntry
from state.model import CacheRecord, CampaignState, CopyStatus, DatasetState
from state.persist import load_state, save_state

ENTRY = CacheEntry("raw-feed-s0", "log", 42, "s3://e/id", "s3://p/cache/id", 3, 999)


def test_the_entry_fields_are_declared_once() -> None:
    record = [f.name for f in dataclasses.fields(CacheRecord)]
    assert record == ["dataset", "kind", "t", "source", "destination", "objects", "bytes"]
    assert [f.name for f in dataclasses.fields(CacheEntry)] == record
    assert [f.name for f in dataclasses.fields(DatasetState)] == [*record, "copy_status", "reason", "recopies"]


def test_a_dataset_state_of_an_entry_keeps_the_state_file_keys(tmp_path: Path) -> None:
    state = CampaignState("c")
    state.datasets = [DatasetState.of(ENTRY, CopyStatus.FAILED, "boom")]
    path = tmp_path / "campaign.state.toml"
    save_state(path, state)
    table = tomllib.loads(path.read_text())["datasets"][0]
    assert table == {
        "dataset": "raw-feed-s0", "kind": "log", "t": 42, "source": "s3://e/id", "destination": "s3://p/cache/id",
        "objects": 3, "bytes": 999, "copy_status": "failed", "reason": "boom", "recopies": 0,
    }
    path.with_name(f".{path.name}.json").unlink()  # read the TOML itself, not its parsed copy
    assert load_state(path).datasets == state.datasets
    assert state.datasets[0].name == ENTRY.name == "raw-feed-s0/log"


def test_a_dataset_changes_by_a_new_record_put_in_its_place() -> None:
    state = CampaignState("c")
    other = CacheEntry("raw-feed-s1", "log", 43, "s3://e/id1", "s3://p/cache/id1", 1, 1)
    state.datasets = [DatasetState.of(ENTRY), DatasetState.of(other)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.datasets[1].copy_status = CopyStatus.VERIFIED  # type: ignore[misc]
    state.put_dataset(dataclasses.replace(state.datasets[1], copy_status=CopyStatus.VERIFIED))
    found = state.dataset("raw-feed-s1/log")
    assert found is not None and found.copy_status is CopyStatus.VERIFIED and len(state.datasets) == 2
    state.put_dataset(DatasetState.of(CacheEntry("raw-none-s0", "log", 1, "s", "d", 1, 1)))
    assert [d.name for d in state.datasets] == ["raw-feed-s0/log", "raw-feed-s1/log"]
