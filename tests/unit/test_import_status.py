import json
from pathlib import Path

import pytest

from logcache.cli import main
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from state.config import load_config
from state.model import StepName, StepStatus
from state.persist import load_state


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=5, scale="tiny")
    return tmp_path / "w"


def test_import_notebook_csv_seeds_entries_and_skips_discovery(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = world / "2019-03-20-log-cache.csv"
    csv.write_text(
        '"""raw-feed-s0/log"" -> LogCacheEntry(t = 1234L, path = s""s3a://ephemeral-1/4FUNeUsqSRqxORFm0aJ-jA"")",\n'
        '"""raw-feed-s0/materialized-entities"" -> LogCacheEntry(t = 1200L, path = s""s3://ephemeral-1/AAAAeUsqSRqxORFm0aJ-jA"")",\n'
    )
    assert main(["import-csv", str(world / "campaign.toml"), str(csv)]) == 0
    entries = read_entries(world / CSV_NAME)
    assert [(e.name, e.t, e.source) for e in entries] == [
        ("raw-feed-s0/log", 1234, "s3://ephemeral-1/4FUNeUsqSRqxORFm0aJ-jA"),
        ("raw-feed-s0/materialized-entities", 1200, "s3://ephemeral-1/AAAAeUsqSRqxORFm0aJ-jA"),
    ]
    assert entries[0].destination.endswith("/permanent/cache/4FUNeUsqSRqxORFm0aJ-jA")
    state = load_state(load_config(world / "campaign.toml").state_path)
    assert state.step(StepName.DISCOVER).status is StepStatus.SKIPPED
    assert [d.name for d in state.datasets] == ["raw-feed-s0/log", "raw-feed-s0/materialized-entities"]


def test_import_bad_line_is_one_line_error_and_writes_nothing(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = world / "bad.csv"
    csv.write_text('"""raw-feed-s0/log"" -> LogCacheEntry(t = 12L, path = s""s3://e/x"")"\nnot an entry\n')
    assert main(["import-csv", str(world / "campaign.toml"), str(csv)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.csv:2: not a cache entry" in err and "\n" not in err
    assert not (world / CSV_NAME).exists()


def test_status_json_and_manual_step(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = str(world / "campaign.toml")
    assert main(["status", campaign, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["next_step"] == "pick-transaction" and body["driven_by"] is None
    assert main(["step", "done", campaign, "build-image", "--note", "quay.io/etl:a8334c1"]) == 0
    capsys.readouterr()
    assert main(["status", campaign]) == 0
    out = capsys.readouterr().out
    assert "[x] Build and push the image (manual)  quay.io/etl:a8334c1" in out
    assert "next: logcache run" in out
