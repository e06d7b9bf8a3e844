import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logcache.catalog import CatalogDataset, Transaction, open_catalog, pick_transaction
from logcache.cli import main
from logcache.demo import build_world
from logcache.discover.footers import discover
from logcache.entries import CSV_NAME, read_entries
from logcache.storage import LocalStore
from logcache.stores import open_destination, open_source
from state.config import load_config

FAULTS = {"stale-t": 1, "missing-source": 1, "bad-parquet": 1, "corrupt-cache": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disc") / "w"
    build_world(str(root), seed=11, scale="tiny", faults=FAULTS)
    return root


def test_discover_finds_t_and_reports_faults_as_findings(world: Path) -> None:
    truth = json.loads((world / "truth.json").read_text())
    config = load_config(world / "campaign.toml")
    tx = pick_transaction(open_catalog(config).transactions())
    assert tx.id == truth["transaction"]
    result = discover(tx, open_source(config), open_destination(config), concurrency=4)

    assert {e.name for e in result.entries} == set(truth["entries"])
    for entry in result.entries:
        expected = truth["entries"][entry.name]
        assert entry.t == expected["catalog_t"], entry.name
        assert entry.destination.endswith("/permanent/cache/" + expected["cache_id"])
    found = {(f.name, f.kind) for f in result.findings}
    by_fault = {f["kind"]: f["entry"] for f in truth["faults"]}
    assert found == {
        (by_fault["stale-t"], "t-mismatch"),
        (by_fault["missing-source"], "missing-path"),
        (by_fault["bad-parquet"], "corrupt-file"),
    }
    clean = [e for e in result.entries if e.name not in by_fault.values()]
    assert all(e.t == truth["entries"][e.name]["t"] for e in clean)
    assert result.scanned == []


def test_t_from_data_when_footer_has_no_statistics(tmp_path: Path) -> None:
    table = pa.table({"e": [1, 2], "a": [10, 10], "v": ["x", "y"], "t": [5, 9], "added": [True, True]})
    (tmp_path / "src" / "id1").mkdir(parents=True)
    pq.write_table(table, tmp_path / "src" / "id1" / "part-0.parquet", write_statistics=False)
    tx = Transaction("tx", "succeeded", "2026-01-01T00:00:00Z", (CatalogDataset("raw-a-s0", "log", "id1", 9),))
    result = discover(tx, LocalStore(tmp_path / "src"), LocalStore(tmp_path / "dst"))
    assert result.scanned == ["raw-a-s0/log"]
    assert result.findings == []
    assert result.entries[0].objects == 1


def test_cli_writes_sorted_cache_entries_csv(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", str(world / "campaign.toml")]) == 0
    entries = read_entries(world / CSV_NAME)
    assert [(e.dataset, e.kind) for e in entries] == sorted((e.dataset, e.kind) for e in entries)
    assert "t-mismatch" in capsys.readouterr().out


def test_cli_missing_campaign_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such campaign file" in err
