"""Hostile catalog and CSV values, and environment faults, end in one line and exit 2 from
a real `logcache` process, never an internal error, and leave no step running."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.processes import logcache

from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from state.config import load_config
from state.model import StepStatus
from state.persist import load_state


def one_line_exit_2(run: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    err = run.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("logcache: "), err
    assert "internal error" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def no_step_running(world: Path) -> None:
    state_path = load_config(world / "campaign.toml").state_path
    if state_path.exists():
        state = load_state(state_path)
        assert all(s.status is not StepStatus.RUNNING for s in state.steps), state.steps


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=5, scale="tiny")
    return tmp_path / "w"


def _chosen_catalog(world: Path) -> Path:
    truth = json.loads((world / "truth.json").read_text())
    return world / "catalog" / f"{truth['transaction']}.json"


def _edit_first_dataset(world: Path, change: Callable[[dict[str, Any]], None]) -> tuple[str, str]:
    path = _chosen_catalog(world)
    tx = json.loads(path.read_text())
    first = tx["datasets"][0]
    original_name = first["dataset"]
    change(first)
    path.write_text(json.dumps(tx))
    return tx["id"], original_name


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(path="../escaped/ID"), "'..' part"),
        (lambda d: d.update(path=""), "empty or the root"),
        (lambda d: d.update(path="/"), "empty or the root"),
        (lambda d: d.update(dataset=""), "dataset name is empty"),
        (lambda d: d.update(t=1146.9), "t must be an integer"),
        (lambda d: d.update(t=True), "t must be an integer"),
        (lambda d: d.update(t=2**63), "between 0 and 2^63 - 1"),
        (lambda d: d.update(t=10**30), "between 0 and 2^63 - 1"),
        (lambda d: d.update(dataset="raw-\x1b[31mred-s0"), "control characters"),
        (lambda d: d.update(dataset="raw-a,b-s0"), "may not hold ','"),
        (lambda d: d.update(kind="bogus"), "kind 'bogus'"),
    ],
)
def test_bad_catalog_values_are_refused_naming_transaction_and_dataset(world: Path, change: Callable[[dict[str, Any]], None], says: str) -> None:
    tx_id, name = _edit_first_dataset(world, change)
    run = logcache("discover", str(world / "campaign.toml"))
    err = one_line_exit_2(run, says, f"transaction {tx_id}")
    assert "\x1b" not in err
    if says not in ("dataset name is empty",) and "control" not in says and "','" not in says:
        assert name in err
    assert not (world / CSV_NAME).exists()
    no_step_running(world)


def test_catalog_t_written_as_1e400_is_refused(world: Path) -> None:
    path = _chosen_catalog(world)
    text = path.read_text()
    tx = json.loads(text)
    t = tx["datasets"][0]["t"]
    path.write_text(text.replace(f'"t": {t}', '"t": 1e400', 1))
    err = one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "t must be an integer", tx["id"])
    assert "inf" in err
    no_step_running(world)


def test_deeply_nested_catalog_json_is_refused(world: Path) -> None:
    (world / "catalog" / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    one_line_exit_2(logcache("transactions", str(world / "campaign.toml")), "nested too deeply")
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "nested too deeply")
    no_step_running(world)


def test_missing_catalog_folder_is_refused(world: Path) -> None:
    for item in (world / "catalog").iterdir():
        item.unlink()
    (world / "catalog").rmdir()
    one_line_exit_2(logcache("transactions", str(world / "campaign.toml")), "holds no transaction", "[catalog] url")


def _discovered(world: Path) -> list[Any]:
    assert logcache("discover", str(world / "campaign.toml")).returncode == 0
    return read_entries(world / CSV_NAME)


def test_import_csv_refuses_a_bogus_kind_and_accepts_a_bom(world: Path) -> None:
    entries = _discovered(world)
    text = (world / CSV_NAME).read_text()
    bogus = world / "bogus.csv"
    bogus.write_text(text.replace(f",{entries[0].kind},", ",bogus,", 1))
    one_line_exit_2(logcache("import-csv", str(world / "campaign.toml"), str(bogus)), "kind 'bogus'", repr(entries[0].dataset))

    notebook = world / "notebook.csv"
    notebook.write_bytes(
        "\ufeff".encode()
        + b'"""raw-feed-s0/log"" -> LogCacheEntry(t = 1234L, path = s""s3a://ephemeral-1/4FUNeUsqSRqxORFm0aJ-jA"")",\n'
    )
    run = logcache("import-csv", str(world / "campaign.toml"), str(notebook))
    assert run.returncode == 0, run.stderr
    bom = world / "bom.csv"
    bom.write_bytes("\ufeff".encode() + text.encode())
    run = logcache("import-csv", str(world / "campaign.toml"), str(bom))
    assert run.returncode == 0, run.stderr
    assert len(read_entries(world / CSV_NAME)) == len(entries)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('"""raw-feed-s0/log"" -> LogCacheEntry(t = 9223372036854775808L, path = s""s3://e/ID"")"', "between 0 and 2^63 - 1"),
        ('"""raw-feed-s0/log"" -> LogCacheEntry(t = 12L, path = s""s3://e/../escaped/ID"")"', "'..' part"),
        ('"""raw-a,b-s0/log"" -> LogCacheEntry(t = 12L, path = s""s3://e/ID"")"', "may not hold ','"),
    ],
)
def test_import_csv_refuses_bad_notebook_values(world: Path, line: str, says: str) -> None:
    csv = world / "bad.csv"
    csv.write_text(line + "\n")
    one_line_exit_2(logcache("import-csv", str(world / "campaign.toml"), str(csv)), says, "bad.csv:1")
    assert not (world / CSV_NAME).exists()


def test_an_edited_entries_file_with_an_escaping_path_is_refused(world: Path) -> None:
    entries = _discovered(world)
    text = (world / CSV_NAME).read_text()
    base, cache_id = entries[0].destination.rsplit("/", 1)
    assert entries[0].destination in text
    (world / CSV_NAME).write_text(text.replace(entries[0].destination, f"{base}/../escaped/{cache_id}", 1))
    one_line_exit_2(logcache("copy", str(world / "campaign.toml")), "'..' part", "line 2")
    assert not (world / "permanent" / "escaped").exists()
