"""Issue 21: once `logcache run` is stopped (SIGTERM, Ctrl-C) or killed mid-validation on
the local backend, nothing in the state claims work that is not running: no step and no
parcel is `running`, `status` names no dead driver, and a plain rerun reaches all valid."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.processes import logcache, stop

from logcache.demo import build_world
from state.model import ParcelStatus, StepName, StepStatus
from state.persist import load_state

STATE = "campaign.state.toml"
LIVE = (ParcelStatus.RUNNING, ParcelStatus.STUCK)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("stop-state") / "world"
    # Medium: validation lasts seconds, so a parcel is caught running before its end.
    build_world(str(world), seed=11, scale="medium")
    return world


def validating(pristine: Path, tmp_path: Path) -> tuple[Path, subprocess.Popen[str]]:
    """A world copied from `pristine`, up to the image, and a `run` validating it, caught
    once it reported a parcel running (what a stop used to leave marked in the state)."""
    world = tmp_path / "world"
    shutil.copytree(pristine, world, symlinks=True)
    campaign = world / "campaign.toml"
    # Heartbeats followed every 0.5 s (a quarter of this): parcels are seen running.
    campaign.write_text(campaign.read_text().replace("[validation]\n", "[validation]\nheartbeat_stale_s = 2.0\n"))
    assert logcache("run", campaign).returncode == 3
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "logcache", "run", campaign], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if re.search(r"^parcel \S+ \[.*\]: running", line):
                seen.set()
        seen.set()  # the end of the output: nothing more to wait for

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen.wait(120)
    assert seen.is_set() and proc.poll() is None, "the run ended before a parcel was seen running: " + "".join(lines)
    proc.stdout = None  # the reader thread owns it; communicate() reads stderr only
    return world, proc


def assert_nothing_running(world: Path, on_file: bool = True) -> None:
    """`status` shows nothing running and no driver; `on_file`: nor does the state file."""
    if on_file:
        state = load_state(world / STATE)
        assert [s.name for s in state.steps if s.status is StepStatus.RUNNING] == []
        assert [p.parcel_id for p in state.parcels if p.status in LIVE] == []
        assert state.step(StepName.VALIDATE).status is StepStatus.PENDING
    status = logcache("status", world / "campaign.toml")
    assert status.returncode == 0, status.stderr
    report = status.stdout.replace("(not running)", "")
    assert "running" not in report and "[>]" not in report, status.stdout
    assert "driven by" not in report.replace("last driven by", ""), status.stdout


def assert_rerun_reaches_all_valid(world: Path) -> None:
    again = logcache("run", world / "campaign.toml")
    assert again.returncode == 3 and "stopped at merge-pr" in again.stdout, again.stdout + again.stderr
    state = load_state(world / STATE)
    assert state.aggregate is not None and state.aggregate.all_valid
    assert [p.parcel_id for p in state.parcels if p.status is not ParcelStatus.DONE] == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_run_leaves_no_parcel_or_step_running(signum: signal.Signals, pristine: Path, tmp_path: Path) -> None:
    world, proc = validating(pristine, tmp_path)
    out, err = stop(proc, signum)
    assert proc.returncode == 130, out + err
    assert any(p.status is ParcelStatus.INTERRUPTED for p in load_state(world / STATE).parcels)
    assert_nothing_running(world)
    status = logcache("status", world / "campaign.toml").stdout
    assert "interrupted" in status and "driven by" not in status, status
    assert_rerun_reaches_all_valid(world)


def test_a_killed_driver_is_named_not_running_and_its_work_shown_interrupted(pristine: Path, tmp_path: Path) -> None:
    world, proc = validating(pristine, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    raw = load_state(world / STATE)
    assert raw.step(StepName.VALIDATE).status is StepStatus.RUNNING  # as the killed driver left it
    assert_nothing_running(world, on_file=False)
    status = logcache("status", world / "campaign.toml").stdout
    assert f"(pid {proc.pid})" in status and "(not running)" in status and "last driven by" in status, status
    assert_rerun_reaches_all_valid(world)
