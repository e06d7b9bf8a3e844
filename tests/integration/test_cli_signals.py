"""`logcache run` as a real process, stopped by SIGTERM (a service manager, `kill`) or
SIGHUP (a dropped SSH session): it stops cleanly with exit 130, the state saved, and the
next run resumes and finishes."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.processes import logcache, results, stop

from logcache.demo import build_world
from logcache.runbook import MANUAL_STEPS
from state.model import StepName, StepStatus
from state.persist import load_state

STATE = "campaign.state.toml"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world never run (the entries it discovers name absolute paths, so each
    test copies it before running)."""
    world = tmp_path_factory.mktemp("signals") / "world"
    build_world(str(world), seed=11, scale="small")
    return world


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_run_stopped_by_a_signal_exits_130_saved_and_resumes(signum: signal.Signals, pristine: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    shutil.copytree(pristine, world, symlinks=True)
    campaign = world / "campaign.toml"
    first = logcache("run", campaign)
    assert first.returncode == 3 and "stopped at build-image" in first.stdout, first.stdout + first.stderr
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "logcache", "run", campaign], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while results(world) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before validation got under way"
    finally:
        out, err = stop(proc, signum)
    assert proc.returncode == 130, out + err
    assert "stopping: letting work in flight finish" in out
    assert err.strip().count("\n") == 0 and "interrupted; the campaign state is saved" in err, err
    state = load_state(world / STATE)
    validate = state.step(StepName.VALIDATE)
    assert validate.status is StepStatus.PENDING and "interrupted" in validate.note
    assert state.step(StepName.COPY).status is StepStatus.DONE
    assert not (world / "cache-validations.parquet").exists()

    again = logcache("run", campaign)
    assert again.returncode == 3 and "stopped at merge-pr" in again.stdout, again.stdout + again.stderr
    state = load_state(world / STATE)
    assert all(state.step(n).status is StepStatus.DONE for n in StepName if n not in MANUAL_STEPS)
    assert (world / "cache-validations.parquet").is_file()


def test_a_dropped_terminal_stops_the_run_cleanly_and_it_resumes(pristine: Path, tmp_path: Path) -> None:
    """The SSH case: `run` in a terminal whose other end closes (the kernel sends SIGHUP
    and every later write to the terminal fails)."""
    world = tmp_path / "world"
    shutil.copytree(pristine, world, symlinks=True)
    campaign = world / "campaign.toml"
    assert logcache("run", campaign).returncode == 3
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    pid, terminal = pty.fork()
    if pid == 0:  # the child: logcache in the terminal, as an operator's shell would start it
        os.execv(sys.executable, [sys.executable, "-m", "logcache", "run", str(campaign)])
    try:
        deadline = time.monotonic() + 120
        while results(world) < 2 and time.monotonic() < deadline:
            try:
                select.select([terminal], [], [], 0.02)[0] and os.read(terminal, 65536)
            except OSError:
                break
        assert results(world) >= 2, "validation did not start"
    finally:
        os.close(terminal)  # the connection drops
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130
    validate = load_state(world / STATE).step(StepName.VALIDATE)
    assert validate.status is StepStatus.PENDING and "interrupted" in validate.note
    again = logcache("run", campaign)
    assert again.returncode == 3 and "stopped at merge-pr" in again.stdout, again.stdout + again.stderr
