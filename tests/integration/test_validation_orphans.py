"""No orphans: a SIGKILLed `logcache validate` leaves no pool worker behind, and nothing
is written after its workers are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from logcache.cli import main
from logcache.demo import build_world


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a live process, None once it is gone (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return state, int(ppid)


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[1] == parent:
                found.append(int(entry.name))
                frontier.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its parent's reap is left


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


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
    deadline = time.monotonic() + 60
    children: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        children = _descendants(proc.pid)
        if len([c for c in children if "multiprocessing" in _cmdline(c)]) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "validate ended before its pool was up"
    assert len(children) >= 2, "the pool workers were started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone_by = time.monotonic() + 5
    while any(_running(c) for c in children) and time.monotonic() < gone_by:
        time.sleep(0.05)
    alive = [c for c in children if _running(c)]
    assert not alive, f"still running 5 s after the kill: {alive} {[_cmdline(c) for c in alive]}"
    after = _result_files(root)
    time.sleep(1.0)
    assert _result_files(root) == after, "nothing is written once the workers are gone"

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
