import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from state.debounce import DebouncedSaver
from state.lock import CampaignLock, LockHeld, read_holder
from state.model import AggregateSummary, CampaignState, CopyStatus, DatasetState, ErrorKindCount, ParcelState, StepName, StepStatus
from state.persist import StateFileError, load_state, save_state


def full_state() -> CampaignState:
    s = CampaignState("demo", transaction_id="tx-1")
    s.start_step(StepName.DISCOVER, who="alice@bastion-2")
    s.finish_step(StepName.DISCOVER, StepStatus.DONE, note="36 datasets")
    s.datasets.append(DatasetState("raw-feed-s0", "log", 42, "s3://e/id", "s3://p/cache/id", 3, 999, CopyStatus.FAILED, "boom"))
    s.parcels.append(ParcelState("0", "local", "pid-1", last_heartbeat="2026-01-01T00:00:00Z", tasks_done=1, tasks_total=4))
    s.add_failed_path("s3://p/cache/id", "validation", "raw-feed-s0/log")
    s.patch_path = "/tmp/x.patch"
    s.aggregate = AggregateSummary(36, 35, 1, [ErrorKindCount("mismatch", 1)], "/w/cache-validations.parquet", "now")
    return s


def test_round_trip_and_backup(tmp_path: Path) -> None:
    path = tmp_path / "campaign.state.toml"
    first = full_state()
    save_state(path, first)
    before = path.read_bytes()
    first.transaction_id = "tx-2"
    save_state(path, first)
    assert (tmp_path / "campaign.state.toml.bak").read_bytes() == before
    loaded = load_state(path)
    assert loaded == first
    assert loaded.step(StepName.DISCOVER).operator == "alice@bastion-2"
    assert b"secret" not in path.read_bytes().lower()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t[: len(t) // 2] + "[[steps", "not valid TOML"),
        (lambda t: t.replace('status = "done"', "status = 7", 1), "steps[1].status must be one of"),
        (lambda t: t.replace("objects = 3", 'objects = "three"'), "datasets[0].objects must be an integer"),
        (lambda t: t.replace("schema_version = 1", "schema_version = 3"), "newer logcache (schema 3 > 1)"),
    ],
)
def test_bad_state_file_is_one_line_error_and_untouched(tmp_path: Path, mutate, message: str) -> None:
    path = tmp_path / "campaign.state.toml"
    save_state(path, full_state())
    path.write_text(mutate(path.read_text()))
    before = path.read_bytes()
    with pytest.raises(StateFileError) as err:
        load_state(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text
    assert path.read_bytes() == before


def test_migrates_schema_0(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('schema_version = 0\ncampaign_name = "old"\nsnapshot_id = "tx-9"\n')
    state = load_state(path)
    assert state.transaction_id == "tx-9" and state.failed_paths == []
    assert [s.name for s in state.steps] == list(StepName)
    assert path.read_text().startswith("schema_version = 0")


def test_debounced_saver_bounds_writes_and_keeps_latest(tmp_path: Path) -> None:
    now = [0.0]
    saver = DebouncedSaver(tmp_path / "s.toml", min_interval_s=1.0, clock=lambda: now[0])
    state = CampaignState("demo")
    for i in range(100_000):
        state.transaction_id = f"tx-{i}"
        now[0] = i * 0.00005  # 100,000 marks over 5 seconds
        saver.mark(state)
    saver.close()
    assert saver.writes <= 7
    assert load_state(tmp_path / "s.toml").transaction_id == "tx-99999"


def test_debounced_saver_flushes_a_quiet_burst_by_timer(tmp_path: Path) -> None:
    saver = DebouncedSaver(tmp_path / "s.toml", min_interval_s=0.2)
    state = CampaignState("demo")
    saver.mark(state)
    state.transaction_id = "late"
    saver.mark(state)
    time.sleep(0.6)
    assert load_state(tmp_path / "s.toml").transaction_id == "late"
    saver.close()


HOLD = "import sys,time; from pathlib import Path; from state.lock import CampaignLock; lock = CampaignLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True); time.sleep(60)"


def test_second_operator_is_refused_naming_the_holder(tmp_path: Path) -> None:
    lock_path = tmp_path / "campaign.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "held"
        before = lock_path.read_bytes()
        with pytest.raises(LockHeld) as err:
            CampaignLock(lock_path).acquire()
        assert f"(pid {holder.pid})" in str(err.value) and "use --break-lock" in str(err.value)
        assert lock_path.read_bytes() == before
        notice = CampaignLock(lock_path).acquire(break_lock=True)
        assert notice and "broke the lock" in notice
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_killed_holder_is_taken_over(tmp_path: Path) -> None:
    lock_path = tmp_path / "campaign.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = CampaignLock(lock_path)
    notice = lock.acquire()
    assert notice and f"pid {holder.pid}" in notice and "no longer running" in notice
    assert read_holder(lock_path).pid == os.getpid()
    lock.release()
    assert read_holder(lock_path) is None
