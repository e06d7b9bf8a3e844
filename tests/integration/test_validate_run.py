"""Validation in parcels, end to end through the CLI: faults against the generator's
truth, the seed's parcel contract, the backends, a killed parcel, and bad input."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from logcache.cli import main
from logcache.datomic.schema import VALIDATIONS
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.validation import latest_results, read_results
from state.persist import load_state

ALL_FAULTS = {"missing-copy": 1, "missing-source": 1, "corrupt-cache": 1, "stale-t": 1, "bad-parquet": 1}
EXPECTED_KIND = {
    "missing-copy": "missing-path",
    "missing-source": "missing-path",
    "corrupt-cache": "mismatch",
    "stale-t": "t-mismatch",
    "bad-parquet": "corrupt-file",
}


def _world(root: Path, faults: dict[str, int] | None = None, seed: int = 11, scale: str = "tiny") -> Path:
    build_world(str(root), seed=seed, scale=scale, faults=faults or {})
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    main(["copy", str(campaign)])
    return campaign


def _rows(root: Path) -> dict[tuple[str, str], dict[str, object]]:
    """Latest result per pair, without the fields that depend on when or where it ran."""
    rows = latest_results(read_results(_results(root)))
    return {k: {f: v for f, v in asdict(r).items() if f not in ("started_at", "duration_s", "attempt")} for k, r in rows.items()}


def _results(root: Path):  # type: ignore[no-untyped-def]
    from logcache.storage import open_store

    return open_store(str(root / "results"))


def _result_files(root: Path) -> dict[str, bytes]:
    base = root / "results"
    # A write in flight (`.logcache-tmp-*`) is not a result: a kill may leave one, which the next run removes.
    files = sorted(p for p in base.rglob("*.parquet") if not p.name.startswith(".logcache-tmp-")) if base.exists() else []
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def fault_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "w"
    campaign = _world(root, ALL_FAULTS)
    assert main(["validate", str(campaign), "--parcel-count", "3"]) == 1
    return root


def test_every_fault_is_reported_on_exactly_its_dataset(fault_world: Path) -> None:
    truth = json.loads((fault_world / "truth.json").read_text())
    rows = latest_results(read_results(_results(fault_world)))
    entries = read_entries(fault_world / CSV_NAME)
    assert len(rows) == len(entries) == len(truth["entries"])
    broken = {}
    for fault in truth["faults"]:
        dataset, kind = fault["entry"].rsplit("/", 1)
        broken[(dataset, VALIDATIONS[kind])] = fault
    for pair, row in rows.items():
        if pair not in broken:
            assert row.is_valid and row.error_kind == "none", (pair, row.error)
            continue
        fault = broken[pair]
        assert not row.is_valid and row.error_kind == EXPECTED_KIND[fault["kind"]], (fault["kind"], row.error_kind, row.error)
        if fault["kind"] == "corrupt-cache":
            effect = fault["effect"]
            assert (row.missing, row.extra, row.duplicates) == (effect["missing"], effect["extra"], effect["duplicated"])
            assert row.rows_actual == effect["rows_written"] and row.rows_expected == effect["rows_expected"]
        if fault["kind"] == "missing-copy":
            assert row.error == f"Path does not exist: {fault['effect']['destination_url']}"
    state = load_state(fault_world / "campaign.state.toml")
    urls = {fp.url for fp in state.failed_paths}
    missing_copy = next(f for f in truth["faults"] if f["kind"] == "missing-copy")
    assert missing_copy["effect"]["destination_url"] in urls


def test_aggregate_names_the_invalid_rows_and_exits_1(fault_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import polars as pl

    assert main(["aggregate", str(fault_world / "campaign.toml")]) == 1
    table = pl.read_parquet(fault_world / "cache-validations.parquet")
    assert table.height == len(read_entries(fault_world / CSV_NAME))
    assert table.filter(~pl.col("is_valid")).height == len(ALL_FAULTS)
    out = capsys.readouterr().out
    assert f"{len(ALL_FAULTS)} invalid" in out and "not all valid" in out


def test_recopy_of_the_failed_paths_fixes_the_lost_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "w"
    campaign = str(_world(root, {"missing-copy": 2}))
    assert main(["validate", campaign, "--parcel-count", "2"]) == 1
    capsys.readouterr()
    assert main(["failures", campaign]) == 1  # findings: one rule for the reporting commands (README, exit codes)
    out = capsys.readouterr().out
    assert out.count("Path does not exist") == 0 and out.count("open ") == 2
    recopy = next(line for line in out.splitlines() if line.startswith("re-copy:")).split(":", 1)[1].split()
    revalidate = next(line for line in out.splitlines() if line.startswith("re-validate:")).split(":", 1)[1].split()
    assert main(recopy[1:]) == 0
    assert main(revalidate[1:]) == 0
    assert main(["aggregate", campaign]) == 0


def test_the_seeds_parcel_contract_covers_every_pair_once(tmp_path: Path) -> None:
    root = tmp_path / "w"
    campaign = str(_world(root))
    for i in range(10):
        assert main(["validate", campaign, "--balance", "alphabetical", "--parcel-count", "10", "--parcel-id", str(i)]) == 0
    files = _result_files(root)
    entries = read_entries(root / CSV_NAME)
    assert sorted(files) == sorted(f"{e.dataset}/{VALIDATIONS[e.kind]}/attempt-000001.parquet" for e in entries)
    databases = {}
    for row in read_results(_results(root)):
        databases.setdefault(row.parcel, set()).add(row.dataset.rsplit("-s", 1)[0])
    firsts = [min(d) for _, d in sorted(databases.items(), key=lambda kv: int(kv[0]))]
    assert firsts == sorted(firsts), "databases are shared out in alphabetical order"


def test_filter_by_name_runs_just_those(tmp_path: Path) -> None:
    root = tmp_path / "w"
    campaign = str(_world(root))
    names = ["raw-feed-s0/log-validation", "raw-billing-s1/materialized-entities-validation"]
    assert main(["validate", campaign, "--parcel-count", "1", "--parcel-id", "0", "--filter-by-name", ",".join(names)]) == 0
    assert sorted(k.split("/attempt")[0] for k in _result_files(root)) == sorted(names)


def test_heavy_shards_split_into_subtasks_give_the_same_rows(tmp_path: Path) -> None:
    root = tmp_path / "w"
    campaign = str(_world(root, {"corrupt-cache": 2}, seed=5, scale="small"))
    assert main(["validate", campaign, "--parcel-count", "1"]) == 1
    whole = _rows(root)
    assert main(["validate", campaign, "--parcel-count", "6", "--force"]) == 1
    assert any(".part-" in k for k in _result_files(root)), "the heavy shards were split"
    split = _rows(root)
    for pair in whole:
        whole[pair]["parcel"] = split[pair]["parcel"] = ""
    assert split == whole


def test_local_dask_and_command_backends_give_identical_rows(tmp_path: Path) -> None:
    from distributed import LocalCluster

    root = tmp_path / "w"
    campaign = str(_world(root, {"corrupt-cache": 1, "stale-t": 1, "missing-copy": 1}))
    assert main(["validate", campaign, "--parcel-count", "3"]) == 1
    local = _rows(root)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        assert main(["validate", campaign, "--parcel-count", "3", "--force", "--backend", "dask", "--scheduler", cluster.scheduler_address]) == 1
    dask = _rows(root)
    template = f"{shlex.quote(sys.executable)} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}} {{args}}"
    assert main(["validate", campaign, "--parcel-count", "3", "--force", "--backend", "command", "--template", template]) == 1
    command = _rows(root)
    assert local == dask == command
    assert len(local) == len(read_entries(root / CSV_NAME))
    logs = sorted((root / "jobs").glob("parcel-*.log"))
    assert len(logs) == 3
    assert "Path does not exist: " in "".join(p.read_text() for p in logs)
    state = load_state(root / "campaign.state.toml")
    assert {p.backend for p in state.parcels} == {"command"} and all(p.job_id.startswith("pid ") for p in state.parcels)
    assert any(fp.origin in ("validation", "job-log") for fp in state.failed_paths)


def test_a_killed_parcel_resumes_without_redoing_results(tmp_path: Path) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=2, scale="small")
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    total = len(read_entries(root / CSV_NAME))
    cmd = [sys.executable, "-m", "logcache", "validate", str(campaign), "--parcel-count", "1", "--parcel-id", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(_result_files(root)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _result_files(root)
    assert 3 <= len(before) < total, "killed mid-way"
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    after = _result_files(root)
    assert {k: after[k] for k in before} == before, "results written before the kill are kept as they were"
    assert sorted(k.split("/attempt")[0] for k in after) == sorted(f"{e.dataset}/{VALIDATIONS[e.kind]}" for e in read_entries(root / CSV_NAME))
    assert all(k.endswith("attempt-000001.parquet") for k in after)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--filter-by-name", "raw-nope-s0/log-validation"], "unknown dataset/validation 'raw-nope-s0/log-validation'"),
        (["--parcel-count", "4", "--parcel-id", "4"], "--parcel-id 4 is out of range: use 0 to 3"),
        (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
        (["--corrupt-result"], "is not a readable result file"),
        (["--parcel-count", "0"], "--parcel-count must be at least 1 (got 0)"),
        (["--workers", "0"], "--workers must be at least 1, not 0"),
        (["--force", "--backend", "command", "--template", "logcache validate {campaign} --parcel-id {parcel_id}"], "must pass {args}"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    root = tmp_path / "w"
    campaign = str(_world(root))
    if args == ["--corrupt-result"]:
        bad = root / "results" / "raw-feed-s0" / "log-validation" / "attempt-000001.parquet"
        bad.parent.mkdir(parents=True)
        bad.write_bytes(b"PAR1 not really")
        args = []
    state = (root / "campaign.state.toml").read_bytes()
    files = _result_files(root)
    capsys.readouterr()
    assert main(["validate", campaign, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert (root / "campaign.state.toml").read_bytes() == state
    assert _result_files(root) == files
    assert not (root / "results" / "status").exists()


def test_a_filtered_run_reads_only_its_own_pairs_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A corrupt result of another pair neither refuses nor fails a run of named pairs
    (its rows are the ones its workers returned); one of a named pair still refuses it."""
    root = tmp_path / "w"
    campaign = str(_world(root))
    bad = root / "results" / "raw-feed-s0" / "log-validation" / "attempt-000001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 not really")
    other = next(e for e in read_entries(root / CSV_NAME) if e.dataset != "raw-feed-s0" and e.kind == "log")
    pair = f"{other.dataset}/log-validation"
    capsys.readouterr()
    assert main(["validate", campaign, "--filter-by-name", pair, "--workers", "1"]) == 0
    assert "1 pairs: 1 valid" in capsys.readouterr().out
    assert bad.read_bytes() == b"PAR1 not really"
    assert main(["validate", campaign, "--filter-by-name", f"{pair},raw-feed-s0/log-validation"]) == 2
    assert "is not a readable result file" in capsys.readouterr().err


def test_plan_prints_bytes_per_parcel_and_the_imbalance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=5, scale="small")
    campaign = str(root / "campaign.toml")
    assert main(["discover", campaign]) == 0
    capsys.readouterr()
    assert main(["plan", campaign, "--parcel-count", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"parcel {i}" for i in range(6)]
    assert sum(int(line.split()[2].strip("(")) for line in lines[:-1]) > 0, "heavy shards are split into sub-tasks"
    ratio = float(lines[-1].rsplit(" ", 1)[1])
    assert lines[-1].startswith("size balance over 6 parcels: max/mean bytes") and 1.0 <= ratio < 1.5
    assert main(["plan", campaign, "--parcel-count", "0"]) == 2
    assert capsys.readouterr().err.strip() == "logcache: --parcel-count must be at least 1 (got 0)"


def test_a_command_job_refused_by_its_environment_stops_the_run_at_once_with_exit_2(tmp_path: Path) -> None:
    """A job that exits 2 (here: expired credentials, as `logcache validate` says them) is
    no finding about its parcel: the run stops at once with its line, exit 2, the other
    jobs are stopped and nothing is left running; a plain rerun with a working job
    template then checks every pair."""
    root = tmp_path / "w"
    campaign = str(_world(root))
    refused = "echo 'logcache: access denied to s3://results (ExpiredToken); renew the credentials' >&2; exit 2"
    slow = "sleep 31; true"  # a shell with a child, as a real submitter is
    template = f"if [ {{parcel_id}} = 0 ]; then {refused}; else {slow}; fi"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "logcache", "validate", campaign, "--parcel-count", "2", "--backend", "command", "--template", template],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "parcel 0's job was refused: access denied to s3://results (ExpiredToken)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert time.monotonic() - started < 25, "the sleeping job was stopped, not waited for"
    assert subprocess.run(["pgrep", "-f", "sleep 31"], capture_output=True).returncode == 1, "the job's children were stopped too"
    state = load_state(root / "campaign.state.toml")
    assert all(p.status.value != "running" for p in state.parcels)
    assert all(s.status.value != "running" for s in state.steps)
    job = f"{shlex.quote(sys.executable)} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}} {{args}}"
    assert main(["validate", campaign, "--parcel-count", "2", "--backend", "command", "--template", job]) == 0
    assert len(_rows(root)) == len(read_entries(root / CSV_NAME))
