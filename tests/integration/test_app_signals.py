"""Issue 21: the app (`logcache tui`) in a real pseudo-terminal, stopped mid-validation by
SIGHUP (a dropped SSH session) or SIGTERM (a service manager, `kill`), as the CLI is:
the work in flight finishes, the state is saved, the terminal is restored and the app
exits 130. Within 10 s no logcache process is left, nothing in the state is running,
`status` names no dead driver, and a plain `run` then reaches all valid."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli_stop_state import STATE, assert_nothing_running, assert_rerun_reaches_all_valid, logcache, pristine  # noqa: F401 - a fixture

from state.model import ParcelStatus
from state.persist import load_state

STOPPED_WITHIN_S = 10


def descendants(pid: int) -> set[int]:
    """Every live process under `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


class Terminal:
    """`logcache tui` in a pseudo-terminal, its output drained so that it never blocks."""

    def __init__(self, campaign: Path) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the app in the terminal, as an operator's shell starts it
            os.execve(sys.executable, [sys.executable, "-m", "logcache", "tui", str(campaign)], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.output = bytearray()
        self.status: int | None = None

    def drain(self, until: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return True
            if self.fd >= 0 and select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the app has closed the terminal
                    os.close(self.fd)
                    self.fd = -1
            elif self.fd < 0:
                time.sleep(0.05)
        return until()

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def press(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd >= 0:
            os.close(self.fd)


def parcel_running(world: Path) -> bool:
    try:
        return any(p.status is ParcelStatus.RUNNING for p in load_state(world / STATE).parcels)
    except Exception:  # noqa: BLE001 - a state file being replaced is read again
        return False


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_the_app_stopped_by_a_signal_mid_validation_exits_130_saved_and_resumes(signum: signal.Signals, pristine: Path, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    world = tmp_path / "world"
    shutil.copytree(pristine, world, symlinks=True)
    campaign = world / "campaign.toml"
    # One unit at a time: validation lasts long enough on a fast machine for the state file
    # (saved at most once a second) to show a parcel running, and units still wait when
    # the signal comes (the work in flight finishes, so all in flight would end done).
    campaign.write_text(campaign.read_text().replace("[validation]\n", "[validation]\nworkers = 1\n"))
    assert logcache("run", campaign).returncode == 3
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    app = Terminal(campaign)
    try:
        assert app.drain(lambda: b"Run all" in app.output, 60), "the app did not open: " + app.output.decode(errors="replace")
        app.press("r")
        assert app.drain(lambda: parcel_running(world), 120), "validation did not get under way"
        assert not app.exited(), "the app ended before validation got under way"
        under = descendants(app.pid)
        assert under, "local validation runs in worker processes"
        os.kill(app.pid, signum)
        signalled = time.monotonic()
        assert app.drain(app.exited, STOPPED_WITHIN_S), "the app was still running 10 s after the signal"
        assert app.status == 130, app.output.decode(errors="replace")[-2000:]
        gone = app.drain(lambda: not any(alive(pid) for pid in under), STOPPED_WITHIN_S - (time.monotonic() - signalled))
        assert gone, f"processes left running: {[pid for pid in under if alive(pid)]}"
        if signum is signal.SIGTERM:
            # The terminal is still there: the app gave it back (alternate screen left).
            assert app.drain(lambda: app.fd < 0 or b"\x1b[?1049l" in app.output, 5)
    finally:
        app.close()
    assert any(p.status is ParcelStatus.INTERRUPTED for p in load_state(world / STATE).parcels)
    assert_nothing_running(world)
    assert_rerun_reaches_all_valid(world)
