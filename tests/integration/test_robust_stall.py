"""A stalled S3 endpoint (rclone's S3 server frozen with SIGSTOP) neither hangs a copy nor
swallows a cancel: Ctrl-C ends the run within seconds, and a stall with no cancel ends it
with one error that names the endpoint, not a failure per dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.campaigns import write_campaign
from support.servers import rclone_server

from logcache.entries import CSV_NAME, CacheEntry, write_entries
from logcache.errors import EndpointUnreachable
from logcache.storage import open_store
from state.config import S3Settings
from state.model import StepName, StepStatus
from state.persist import load_state

DATASETS, PER_DATASET = 40, 25


@dataclass(frozen=True)
class Rclone:
    proc: subprocess.Popen[bytes]
    endpoint: str
    bucket_dir: Path

    def stop(self) -> None:
        """Freeze the server, and return once every one of its threads is stopped: the
        kernel stops them as each next runs, and a request sent in between was answered
        (seen under load, a list that should have stalled returned)."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        tasks = Path(f"/proc/{self.proc.pid}/task")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = []
            for task in tasks.iterdir():
                try:
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
                except OSError:
                    continue  # a thread that ended
            if all(state in "tT" for state in states):
                return
            time.sleep(0.005)
        raise AssertionError(f"rclone (pid {self.proc.pid}) did not stop within 10 s of SIGSTOP")

    def copied(self) -> int:
        dest = self.bucket_dir / "permanent"
        return sum(1 for p in dest.rglob("*.parquet")) if dest.exists() else 0


@pytest.fixture
def rclone(tmp_path: Path) -> Iterator[Rclone]:
    root = tmp_path / "server"
    bucket = root / "bucket"
    for d in range(DATASETS):
        folder = bucket / "ephemeral" / f"id{d:03d}"
        folder.mkdir(parents=True)
        for i in range(PER_DATASET):
            (folder / f"part-{i:04d}.parquet").write_bytes(f"{d}-{i}".encode() * 40)
    with rclone_server(root) as (proc, port):
        yield Rclone(proc, f"http://127.0.0.1:{port}", bucket)


def _campaign(tmp_path: Path, endpoint: str, direct: bool = True) -> Path:
    entries = [
        CacheEntry(f"raw-stall-s{d}", "log", 10, f"s3://bucket/ephemeral/id{d:03d}", f"s3://bucket/permanent/id{d:03d}", PER_DATASET, 0)
        for d in range(DATASETS)
    ]
    write_entries(tmp_path / CSV_NAME, entries)
    return write_campaign(
        tmp_path,
        f"""[s3]
endpoint_url = "{endpoint}"
region = "us-east-1"
max_attempts = 2
read_timeout_s = 2
connect_timeout_s = 2
direct_requests = {'true' if direct else 'false'}
[copy]
concurrency = 2
""",
        source="s3://bucket/ephemeral",
        destination="s3://bucket/permanent",
    )


def _env() -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": "rcaccess", "AWS_SECRET_ACCESS_KEY": "rcsecret", "PYTHONUNBUFFERED": "1"}


def _copy(campaign: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "logcache", "copy", str(campaign)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )


def test_ctrl_c_ends_a_copy_within_seconds_while_the_endpoint_is_stalled(rclone: Rclone, tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, rclone.endpoint)
    proc = _copy(campaign)
    deadline = time.monotonic() + 60
    while rclone.copied() < 5:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the copy never started"
        time.sleep(0.02)
    rclone.stop()
    assert rclone.copied() < DATASETS * PER_DATASET, "the copy finished before the endpoint could be stalled"
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - started
    assert proc.returncode == 130, err
    assert took < 3.0, f"cancel took {took:.1f} s"
    state = load_state(campaign.with_name("campaign.state.toml"))
    assert state.step(StepName.COPY).status is not StepStatus.RUNNING


def test_a_stalled_endpoint_ends_the_run_with_one_error_naming_it(rclone: Rclone, tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, rclone.endpoint)
    rclone.stop()
    started = time.monotonic()
    proc = _copy(campaign)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 2, (out, err)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    errors = [line for line in lines if "FAILED" in line or "logcache:" in line]
    assert len(errors) == 1, lines
    assert "stopped answering" in errors[0] and rclone.endpoint in errors[0], errors
    assert took < 30, f"the stall was noticed after {took:.1f} s"
    state = load_state(campaign.with_name("campaign.state.toml"))
    assert state.failed_paths == []
    assert state.step(StepName.COPY).status is StepStatus.FAILED
    assert rclone.endpoint in state.step(StepName.COPY).note


def test_boto3_requests_time_out_on_a_stalled_endpoint(rclone: Rclone, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rcaccess")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rcsecret")
    settings = S3Settings(endpoint_url=rclone.endpoint, region="us-east-1", max_attempts=2, direct_requests=False,
                          connect_timeout_s=1, read_timeout_s=1)
    store = open_store("s3://bucket", settings)
    assert len(list(store.list("ephemeral/id000"))) == PER_DATASET
    rclone.stop()
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable, match=rclone.endpoint):
        list(store.list("ephemeral/id001"))
    assert time.monotonic() - started < 10


def test_discover_on_a_stalled_endpoint_ends_with_one_error(rclone: Rclone, tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, rclone.endpoint)
    (tmp_path / CSV_NAME).unlink()
    datasets = [{"dataset": f"raw-stall-s{d}", "kind": "log", "path": f"id{d:03d}", "t": 10} for d in range(DATASETS)]
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "tx-1.json").write_text(
        json.dumps({"id": "tx-1", "status": "succeeded", "finished_at": "2026-11-20T04:00:00Z", "datasets": datasets})
    )
    rclone.stop()
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "logcache", "discover", str(campaign)], capture_output=True, text=True, env=_env(), timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and "stopped answering" in err and rclone.endpoint in err, err
    assert took < 20, f"discover took {took:.1f} s to give up"
