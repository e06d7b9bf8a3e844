"""Issue 21's foundations: who holds the lock (live, dead, another host, nobody), a
read-only session taking over, and the cheap change checks a watcher polls."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from logcache.campaign import lock_path, open_campaign, runs_detached
from logcache.demo import build_world
from logcache.runbook import journal
from logcache.runbook.status import render_status, status_report
from state.lock import CampaignLock, LockHeld, LockState, lock_status
from state.model import CampaignState, ParcelState, ParcelStatus, StepName, StepStatus
from state.persist import load_state, save_state


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny")
    return tmp_path / "w" / "campaign.toml"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_holder(path: Path, host: str, pid: int) -> None:
    path.write_text(json.dumps({"operator": "ann@elsewhere", "host": host, "pid": pid, "started_at": "2026-01-01T10:00:00Z"}) + "\n")


def test_lock_status_tells_free_live_dead_and_another_host(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "c.lock"
    assert lock_status(path).state is LockState.FREE
    with CampaignLock(path):
        held = lock_status(path)
        assert held.state is LockState.LIVE and held.driving and held.describe().startswith("driven by ")
    assert lock_status(path).state is LockState.FREE  # released: the file is emptied
    write_holder(path, socket.gethostname(), dead_pid())
    dead = lock_status(path)
    assert dead.state is LockState.DEAD and not dead.driving
    assert dead.describe().startswith("last driven by ann@elsewhere") and dead.describe().endswith("(not running)")
    write_holder(path, "other-host", 1)
    remote = lock_status(path)
    assert remote.state is LockState.ELSEWHERE and remote.driving and "--break-lock" in remote.describe()


def test_a_lock_from_another_host_is_taken_only_with_break_lock(tmp_path: Path) -> None:
    path = tmp_path / "c.lock"
    write_holder(path, "other-host", 1)
    with pytest.raises(LockHeld) as refused:
        CampaignLock(path).acquire()
    assert "on host other-host" in refused.value.one_line() and "--break-lock" in refused.value.one_line()
    assert "other-host" in path.read_text()  # left as it was
    lock = CampaignLock(path)
    assert "broke the lock" in (lock.acquire(break_lock=True) or "")
    lock.release()


def test_settle_leaves_only_the_command_backends_jobs_running(campaign: Path) -> None:
    """Local and Dask work dies with its driver; a command-backend job (submitted, or
    handed to a cluster by a blocking template) may run on, followed by its heartbeat."""
    with open_campaign(campaign, write=False) as c:
        config = c.config
    state = CampaignState("x")
    state.start_step(StepName.VALIDATE)
    state.parcels = [ParcelState("0", "local", "local-0", ParcelStatus.RUNNING), ParcelState("1", "command", "job-17", ParcelStatus.RUNNING),
                     ParcelState("2", "local", "", ParcelStatus.DONE), ParcelState("3", "dask", "dask-3", ParcelStatus.STUCK)]
    assert state.settle(lambda p: runs_detached(config, p))
    assert [p.status for p in state.parcels] == [ParcelStatus.INTERRUPTED, ParcelStatus.RUNNING, ParcelStatus.DONE, ParcelStatus.INTERRUPTED]
    assert state.step(StepName.VALIDATE).status is StepStatus.PENDING
    submitting = replace(config, submitter=replace(config.submitter, submit="submit {parcel_id}"))
    assert not state.settle(lambda p: runs_detached(submitting, p))
    assert state.parcels[1].status is ParcelStatus.RUNNING
    shown = render_status(status_report(state, "C"))
    assert "running: 1 (command job-17)" in shown and "2 interrupted" in shown


def test_a_read_only_session_takes_over_once_the_holder_lets_go(campaign: Path) -> None:
    with open_campaign(campaign) as driver:
        driver.state.start_step(StepName.COPY)
        driver.save()
        with open_campaign(campaign, write=False) as viewer:
            assert viewer.lock_status().state is LockState.LIVE
            assert not viewer.try_take_over() and viewer.read_only
            held = CampaignLock(lock_path(driver.config))
            driver.lock.release()  # type: ignore[union-attr]  # its session let go (the state still says copy runs)
            driver.saver = None  # and saves nothing more
            assert viewer.try_take_over() and not viewer.read_only
            assert viewer.state.step(StepName.COPY).status is StepStatus.PENDING  # settled and saved
            assert load_state(viewer.config.state_path).step(StepName.COPY).status is StepStatus.PENDING
            assert lock_status(lock_path(viewer.config)).state is LockState.LIVE
            with pytest.raises(LockHeld):
                held.acquire()
            viewer.state.transaction_id = "taken-over"
        assert lock_status(lock_path(viewer.config)).state is LockState.FREE  # released on close
        assert load_state(viewer.config.state_path).transaction_id == "taken-over"


def test_reload_state_if_changed_reads_only_a_changed_file(campaign: Path) -> None:
    with open_campaign(campaign) as driver:
        driver.save()
        with open_campaign(campaign, write=False) as viewer:
            assert not viewer.reload_state_if_changed()
            driver.state.transaction_id = "t1"
            driver.save()
            assert viewer.reload_state_if_changed() and viewer.state.transaction_id == "t1"
            assert not viewer.reload_state_if_changed()


def test_read_since_returns_whole_new_lines_and_the_next_offset(tmp_path: Path) -> None:
    entry = journal.JournalEntry("2026-01-01T00:00:00Z", "ann", "copy: started")
    assert journal.read_since(tmp_path, 0) == ([], 0)
    journal.append(tmp_path, entry)
    got, offset = journal.read_since(tmp_path, 0)
    assert got == [entry] and offset == journal.journal_size(tmp_path)
    with journal.journal_path(tmp_path).open("ab") as f:
        f.write(b'{"at": "2026-01-01T00:00:01Z", "operator": "ann", "te')  # being appended
    assert journal.read_since(tmp_path, offset) == ([], offset)
    with journal.journal_path(tmp_path).open("ab") as f:
        f.write(b'xt": "copy: done"}\n')
    got, offset = journal.read_since(tmp_path, offset)
    assert [e.text for e in got] == ["copy: done"] and offset == journal.journal_size(tmp_path)
    journal.journal_path(tmp_path).write_text("")
    journal.append(tmp_path, entry)
    assert journal.read_since(tmp_path, offset)[0] == [entry]  # shorter than the offset: read anew


def test_state_saves_are_seen_even_within_one_mtime_tick(tmp_path: Path) -> None:
    from state.persist import state_stamp

    path = tmp_path / "s.toml"
    save_state(path, CampaignState("a"))
    before = state_stamp(path)
    save_state(path, CampaignState("a"))
    assert state_stamp(path) != before  # a save replaces the file: a new inode


def test_a_closed_campaign_writes_nothing_more(campaign: Path) -> None:
    """A thread that outlives its session (a unit in hand at a quit) records a parcel
    after the close: the settled state on disk stays as it is."""
    with open_campaign(campaign) as c:
        c.state.parcels = [ParcelState("0", "local", "local-0", ParcelStatus.RUNNING)]
        c.save()
    settled = c.config.state_path.read_bytes()
    c.state.parcels[0].status = ParcelStatus.RUNNING
    c.mark()
    c.save()
    assert c.config.state_path.read_bytes() == settled
    assert b"interrupted" in settled


def test_a_driver_does_not_take_a_dead_sessions_fresh_heartbeat_for_running_work(campaign: Path) -> None:
    """A quit mid-validation leaves a parcel pending with a heartbeat written a moment
    before: the next driver (a reopened app) must not mark it running from that beat, as
    its worker died with the session. A command job with a job id is still followed."""
    from logcache.runbook.steps.validate import refresh_parcels
    from logcache.stores import open_results
    from logcache.validation.heartbeat import HeartbeatWriter

    with open_campaign(campaign) as c:
        c.state.parcels = [ParcelState("0", "local"), ParcelState("1", "command", "job-1")]
        results = open_results(c.config)
        for label in ("0", "1"):
            writer = HeartbeatWriter(results, label, 4, 100, every_s=60)
            writer.start()
            writer.stop()
        refresh_parcels(c)
        assert [(p.parcel_id, p.status) for p in c.state.parcels] == [("0", ParcelStatus.PENDING), ("1", ParcelStatus.RUNNING)]
    with open_campaign(campaign, write=False) as watcher:
        refresh_parcels(watcher)
        assert watcher.state.parcels[0].status is ParcelStatus.RUNNING  # a live driver's parcel, seen by a colleague
