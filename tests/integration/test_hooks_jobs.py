"""The asynchronous submitter of the command backend, with a real background submitter
(jobs started with setsid/nohup, ids printed), real heartbeats, a status command, and a
ledger file standing in for the cluster's scale-up and scale-down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.hooks import alive, ledger, lines_of, parcel_jobs, submitter_world, wait_until

from logcache.hooks.runner import HookFailed
from logcache.validation.backends import JobStarted
from logcache.validation.jobs import JsonRecordBook, ParcelRecord, Submitter, default_book, held_machines, release_machines, run_async
from state.config import load_config
from state.errors import ConfigFileError

TESTS = Path(__file__).resolve().parents[1]  # where `support` is importable from


def _ignore(*_: object) -> None:
    pass


def _job_pids(world: Path) -> list[int]:
    return [int(p.read_text()) for p in (world / "out").glob("*.pid")]


def _assert_scaled_once_after_end(world: Path, labels: list[str]) -> None:
    rows = ledger(world)
    ups = Counter(label for action, label, _, _ in rows if action == "up")
    downs = [(label, job_id, at) for action, label, job_id, at in rows if action == "down"]
    assert ups == Counter(labels), rows
    assert Counter(label for label, _, _ in downs) == Counter(labels), rows  # exactly once each
    ends = {line.split()[0]: float(line.split()[1]) for line in (world / "job-ends").read_text().splitlines()} if (world / "job-ends").exists() else {}
    for label, job_id, at in downs:
        assert job_id.startswith(f"job-{label}-"), job_id
        if label in ends:
            assert at >= ends[label], f"parcel {label} scaled down before its job ended"


def test_jobs_run_in_the_background_and_each_parcel_is_scaled_down_once_after_it_ends(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    labels = ["0", "1", "2"]
    started: list[JobStarted] = []
    polls = 0

    def watch() -> None:
        nonlocal polls
        polls += 1
        # Jobs finish one by one, each only after every job was submitted: the submitter returned at once.
        if polls <= len(labels):
            (tmp_path / "gate" / labels[polls - 1]).touch()

    lines: list[str] = []
    ends = run_async(config, parcel_jobs(labels), force=False, watch=watch, started=started.append, on_line=lines.append)

    assert [s.label for s in started] == labels and all(s.job_id.startswith(f"job-{s.label}-") for s in started)
    assert [e.label for e in ends] == labels and all(e.ok for e in ends), ends
    assert ends[1].missing_paths == ("s3a://permanent/cache/4FUNeUsqSRqxORFm0aJ-jA",)  # from the `logs` command
    assert ends[0].missing_paths == () and Path(ends[1].log_path).name == "parcel-1.log"
    assert sorted(lines_of(tmp_path / "job-starts")) == labels
    _assert_scaled_once_after_end(tmp_path, labels)
    assert any(line.startswith("[0 submit] Submitted batch job job-0-") for line in lines)

    records = default_book(config).load()
    assert {r.outcome for r in records.values()} == {"done"} and not any(r.holding for r in records.values())
    usage = held_machines(config, records)
    assert usage.holding == () and usage.machine_hours is not None and usage.machine_hours > 0
    assert usage.cost == pytest.approx(usage.machine_hours * 0.4)

    # Run again: every parcel ended in this run, so nothing is submitted or scaled again.
    again = run_async(config, parcel_jobs(labels), force=False, watch=_ignore, started=_ignore)
    assert [e.ok for e in again] == [True] * 3 and again[1].missing_paths == ends[1].missing_paths
    assert sorted(lines_of(tmp_path / "job-starts")) == labels
    _assert_scaled_once_after_end(tmp_path, labels)


PARENT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from support.hooks import parcel_jobs
from logcache.validation.jobs import run_async
from state.config import load_config

config = load_config(Path(sys.argv[1]))
run_async(config, parcel_jobs(["0", "1", "2"]), force=False, watch=lambda: None, started=lambda s: print("started", s.label, s.job_id, flush=True))
"""


def test_sigkill_mid_submission_then_rerun_submits_nothing_twice_and_scales_everything_down(tmp_path: Path) -> None:
    config_path = submitter_world(tmp_path)
    (tmp_path / "submit-hold-2").touch()  # the third submission hangs until logcache is killed
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(config_path), str(TESTS)], stdout=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: len(lines_of(tmp_path / "job-starts")) == 2, 30), "two jobs never started"
        assert wait_until(lambda: sum(1 for r in ledger(tmp_path) if r[0] == "up") == 3, 10)
        # Killed only once the third submission hangs: its scale-up alone could be seen a
        # moment before logcache records the submission (seen once under load).
        assert wait_until(lambda: (tmp_path / "submitting-2").exists(), 10)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    finally:
        if parent.poll() is None:
            parent.kill()
    jobs = _job_pids(tmp_path)
    assert len(jobs) == 2 and all(alive(p) for p in jobs), "jobs must outlive the logcache that submitted them"
    records = default_book(load_config(config_path)).load()
    assert records["2"].submitting_at and not records["2"].job_id and records["2"].holding
    usage = held_machines(load_config(config_path), records)
    assert usage.holding == ("0", "1", "2")

    (tmp_path / "gate" / "0").touch()  # one job ends while no logcache watches it
    assert wait_until(lambda: "0" in " ".join(lines_of(tmp_path / "job-ends")), 20)
    (tmp_path / "submit-hold-2").unlink()

    polls = 0

    def watch() -> None:
        nonlocal polls
        polls += 1
        if polls == 2:
            (tmp_path / "gate" / "all").touch()

    ends = run_async(load_config(config_path), parcel_jobs(["0", "1", "2"]), force=False, watch=watch, started=_ignore)
    assert all(e.ok for e in ends), ends
    assert sorted(lines_of(tmp_path / "job-starts")) == ["0", "1", "2"], "a parcel was submitted twice"
    _assert_scaled_once_after_end(tmp_path, ["0", "1", "2"])
    assert held_machines(load_config(config_path), default_book(load_config(config_path)).load()).holding == ()


def test_a_job_id_printed_before_logcache_died_is_read_back_not_submitted_again(tmp_path: Path) -> None:
    config_path = submitter_world(tmp_path)
    (tmp_path / "submit-linger-0").touch()  # the submitter printed the id, then hangs
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(config_path), str(TESTS)], stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: "Submitted batch job" in _read(tmp_path / "jobs" / "parcel-0.submit.log"), 30)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    finally:
        if parent.poll() is None:
            parent.kill()
    assert not default_book(load_config(config_path)).load()["0"].job_id
    (tmp_path / "submit-linger-0").unlink()
    (tmp_path / "gate" / "all").touch()
    ends = run_async(load_config(config_path), parcel_jobs(["0", "1", "2"]), force=False, watch=_ignore, started=_ignore)
    assert all(e.ok for e in ends)
    assert sorted(lines_of(tmp_path / "job-starts")) == ["0", "1", "2"], "a parcel was submitted twice"
    assert ends[0].job_id == next((tmp_path / "out").glob("job-0-*.pid")).stem
    _assert_scaled_once_after_end(tmp_path, ["0", "1", "2"])


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_quitting_leaves_jobs_running_and_the_next_run_follows_them(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    cancel = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        run_async(config, parcel_jobs(["0", "1"]), force=False, watch=cancel.set, started=_ignore, cancel=cancel)
    assert all(alive(p) for p in _job_pids(tmp_path)) and len(_job_pids(tmp_path)) == 2
    assert held_machines(config, default_book(config).load()).holding == ("0", "1")
    assert not [r for r in ledger(tmp_path) if r[0] == "down"]

    (tmp_path / "gate" / "all").touch()
    ends = run_async(config, parcel_jobs(["0", "1"]), force=False, watch=_ignore, started=_ignore)
    assert all(e.ok for e in ends)
    assert sorted(lines_of(tmp_path / "job-starts")) == ["0", "1"]
    _assert_scaled_once_after_end(tmp_path, ["0", "1"])


def test_status_ends_a_job_that_died_before_its_heartbeat(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    ends = run_async(config, parcel_jobs(["crash"]), force=False, watch=_ignore, started=_ignore)
    assert not ends[0].ok and "ended FAILED (its scheduler's status)" in ends[0].error
    _assert_scaled_once_after_end(tmp_path, ["crash"])


def test_a_failed_submit_is_one_line_gives_machines_back_and_is_retried(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    (tmp_path / "submit-fails").touch()
    with pytest.raises(HookFailed) as failed:
        run_async(config, parcel_jobs(["0"]), force=False, watch=_ignore, started=_ignore)
    assert failed.value.one_line().startswith("submit hook exited with 1: sabesp: 503 from aurora")
    assert [(a, label) for a, label, _, _ in ledger(tmp_path)] == [("up", "0"), ("down", "0")]
    record = default_book(config).load()["0"]
    assert not record.holding and not record.ended and not record.submitting_at

    (tmp_path / "gate" / "all").touch()
    ends = run_async(config, parcel_jobs(["0"]), force=False, watch=_ignore, started=_ignore)
    assert ends[0].ok and lines_of(tmp_path / "job-starts") == ["0"]
    assert [a for a, *_ in ledger(tmp_path)] == ["up", "down", "up", "down"]


def test_a_failed_scale_down_keeps_the_hold_and_the_next_run_retries_it(tmp_path: Path) -> None:
    path = submitter_world(tmp_path)
    broken = path.read_text().replace("ledger.sh down", "ledger.sh down-broken")
    path.write_text(broken)
    (tmp_path / "ledger.sh").write_text((tmp_path / "ledger.sh").read_text() + '[ "$1" = down-broken ] && { echo "aws: ExpiredToken" >&2; exit 254; }\nexit 0\n')
    (tmp_path / "gate" / "all").touch()
    config = load_config(path)
    with pytest.raises(HookFailed, match="scale_down hook exited with 254: aws: ExpiredToken"):
        run_async(config, parcel_jobs(["0"]), force=False, watch=_ignore, started=_ignore)
    assert held_machines(config, default_book(config).load()).holding == ("0",)

    path.write_text(broken.replace("down-broken", "down"))
    usage = release_machines(load_config(path))
    assert usage.holding == ()
    assert [a for a, *_ in ledger(tmp_path)] == ["up", "down-broken", "down"]


def test_operator_cancel_ends_the_job_and_gives_machines_back_once(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    quit_now = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        run_async(config, parcel_jobs(["0", "1"]), force=False, watch=quit_now.set, started=_ignore, cancel=quit_now)
    submitter = Submitter(config, default_book(config))
    assert submitter.cancel_parcels(["1"]) == ["1"]
    assert submitter.cancel_parcels(["1"]) == []  # already ended: nothing runs twice
    assert [(a, label) for a, label, _, _ in ledger(tmp_path)] == [("up", "0"), ("up", "1"), ("cancel", "1"), ("down", "1")]
    cancelled_job = int(next((tmp_path / "out").glob("job-1-*.pid")).read_text())
    assert wait_until(lambda: not alive(cancelled_job)), "the cancel command did not end the job"
    records = default_book(config).load()
    assert records["1"].outcome == "cancelled" and not records["1"].holding and records["0"].holding

    (tmp_path / "gate" / "all").touch()
    ends = run_async(config, parcel_jobs(["0", "1"]), force=False, watch=_ignore, started=_ignore)
    assert ends[0].ok and not ends[1].ok and "cancelled by the operator" in ends[1].error
    assert sorted(lines_of(tmp_path / "job-starts")) == ["0", "1"]


def test_machine_hours_and_cost_count_past_and_current_holds(tmp_path: Path) -> None:
    config = load_config(submitter_world(tmp_path))
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    up = (now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    records = {
        "0": ParcelRecord("0", 0, "r", up_at=up),  # holding for half an hour
        "1": ParcelRecord("1", 1, "r", machine_s=3600.0, outcome="done"),  # held an hour, given back
    }
    usage = held_machines(config, records, now)
    assert usage.holding == ("0",)
    assert usage.machine_hours == pytest.approx(40 * 1.5)
    assert usage.cost == pytest.approx(40 * 1.5 * 0.4)


def test_records_survive_a_round_trip_and_a_corrupt_file_is_one_line(tmp_path: Path) -> None:
    book = JsonRecordBook(tmp_path / "parcels.json")
    record = ParcelRecord("0", 0, "r", job_id="123", up_at="2026-11-26T12:00:00.000Z")
    book.save({"0": record})
    assert book.load() == {"0": record}
    (tmp_path / "parcels.json").write_text("{not json")
    from logcache.errors import ConfigError

    with pytest.raises(ConfigError, match="parcels.json is not a job record file"):
        book.load()


def test_submitter_config_is_checked_on_load(tmp_path: Path) -> None:
    from support.hooks import write_campaign

    with pytest.raises(ConfigFileError, match="validation.job_id_pattern"):
        load_config(write_campaign(tmp_path, '[validation]\nsubmit = "sbatch job.sh"'))
    with pytest.raises(ConfigFileError, match="validation.scale_down"):
        load_config(write_campaign(tmp_path, '[validation]\nsubmit = "s"\njob_id_pattern = "x"\nscale_up = "aws autoscaling ..."'))
    with pytest.raises(ConfigFileError, match=r"validation.submit` must be set for `validation.status"):
        load_config(write_campaign(tmp_path, '[validation]\nstatus = "sacct -j {job_id}"'))
    with pytest.raises(ConfigFileError, match=r"validation.scale_up.*found \{job_id\}"):
        load_config(write_campaign(tmp_path, '[validation]\nscale_up = "up {job_id}"\nscale_down = "down {job_id}"'))
    with pytest.raises(ConfigFileError, match="validation.nodes"):
        load_config(write_campaign(tmp_path, "[validation]\nhourly_cost = 0.4"))
