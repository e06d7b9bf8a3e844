"""No orphans: a SIGKILLed `logcache validate` leaves no pool worker behind, and nothing
is written after its workers are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from logcache.cli import main
from logcache.demo import build_world


def _result_files(root: Path) -> dict[str, float]:
    base = root / "results"
    return {p.relative_to(base).as_posix(): p.stat().st_mtime for p in base.rglob("*") if p.is_file()} if base.exists() else {}


def test_sigkill_of_validate_leaves_no_worker_and_no_late_write(tmp_path: Path) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=3, scale="small")
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcache", "validate", str(campaign), "--workers", "2", "--parcel-count", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        children = parent.children(recursive=True)
        if len([c for c in children if "multiprocessing" in " ".join(c.cmdline())]) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "validate ended before its pool was up"
    pids = [c.pid for c in children]
    assert len(pids) >= 2, "the pool workers were started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.monotonic()
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"still running 5 s after the kill: {[p.pid for p in alive]}"
    assert time.monotonic() - killed_at < 5
    after = _result_files(root)
    time.sleep(1.0)
    assert _result_files(root) == after, "nothing is written once the workers are gone"
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in pids)


def test_a_command_job_ends_once_its_orchestrator_is_gone(tmp_path: Path) -> None:
    from logcache.validation.orphans import ORCHESTRATOR_ENV

    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    job = subprocess.Popen(
        [sys.executable, "-c", "from logcache.validation.orphans import guard_job; import time; guard_job(); time.sleep(60)"],
        env={**os.environ, ORCHESTRATOR_ENV: str(stand_in.pid)},
    )
    try:
        time.sleep(1.0)
        assert job.poll() is None, "the job runs while its orchestrator does"
        stand_in.kill()
        stand_in.wait()
        assert job.wait(timeout=5) == 1
    finally:
        for proc in (job, stand_in):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
