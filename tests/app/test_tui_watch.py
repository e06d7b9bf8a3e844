"""Issue 21: a second operator's app follows the campaign another process drives, and
takes it over when that process is gone, without a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tui import footer_text, text
from textual.widgets import DataTable, Static

from logcache.campaign import lock_path
from logcache.cli import main as cli
from logcache.demo import build_world
from state.config import load_config
from state.lock import read_holder
from state.model import StepName, StepStatus
from tui.app import LogcacheApp

SIZE = (120, 40)
# Each validation unit of the driver's process takes this much longer, so the watcher
# sees validation under way (a sitecustomize on the driver's PYTHONPATH; its pool's
# processes load it too).
SLOW_UNITS = """\
import time
from logcache.validation.backends import local as backends
_real = backends.run_unit_here
def _slow(*args, **kwargs):
    time.sleep(0.4)
    return _real(*args, **kwargs)
backends.run_unit_here = _slow
"""


@pytest.fixture
def ready_to_validate(tmp_path: Path) -> Path:
    world = tmp_path / "w"
    build_world(str(world), seed=11, scale="small")
    campaign = world / "campaign.toml"
    campaign.write_text(campaign.read_text().replace("[validation]\n", "[validation]\nheartbeat_stale_s = 2.0\n"))
    assert cli(["run", str(campaign)]) == 3
    assert cli(["step", "done", str(campaign), "build-image", "--note", "t"]) == 0
    return campaign


def logcache_run(campaign: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "logcache", "run", str(campaign)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def logged(app: LogcacheApp) -> str:
    with app.live.lock:
        return "\n".join(getattr(item, "text", None) or str(item[1]) for item in app.live.log)  # type: ignore[index]


async def test_a_read_only_app_follows_the_driver_live_and_takes_over_when_it_exits(ready_to_validate: Path, tmp_path: Path) -> None:
    campaign = ready_to_validate
    hook = tmp_path / "slow-units"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_UNITS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    driver = logcache_run(campaign, env)
    lock = lock_path(load_config(campaign))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ((h := read_holder(lock)) is None or h.pid != driver.pid):
            await asyncio.sleep(0.05)
        app = LogcacheApp(campaign)
        seen: set[str] = set()
        async with app.run_test(size=SIZE) as pilot:
            assert app.campaign.read_only and f"pid {driver.pid}" in text(app, "#header")
            await pilot.press("2")  # the Validators pane
            while driver.poll() is None and time.monotonic() < deadline + 120:
                await pilot.pause(0.1)
                state = app.campaign.state
                if state.step(StepName.VALIDATE).status is StepStatus.RUNNING:
                    seen.add("validate running")
                # The pane mounts on the app's loop: under load the parcels may come first.
                tables = app.screen.query("#parcels-table").results(DataTable)
                if state.parcels and any(t.row_count for t in tables):
                    seen.add("parcels")
                if "validate: started" in logged(app):
                    seen.add("log")
                if "read-only" in text(app, "#header"):
                    seen.add("read-only while driven")
            out, err = driver.communicate(timeout=60)
            assert driver.returncode == 3 and "stopped at merge-pr" in out, out + err
            assert seen == {"validate running", "parcels", "log", "read-only while driven"}, seen

            # The driver is gone: this session takes over within a few seconds.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and app.campaign.read_only:
                await pilot.pause(0.1)
            await pilot.pause(0.3)
            assert not app.campaign.read_only and app.holder == ""
            header = str(app.screen.query_one("#header", Static).render())
            assert "read-only" not in header and "Run all" in footer_text(app), header
            assert any("took the campaign over" in n.message for n in app._notifications)
            assert "took the campaign over" in logged(app)
            assert app.campaign.state.step(StepName.VALIDATE).status is StepStatus.DONE
            assert read_holder(lock) is not None and read_holder(lock).pid == os.getpid()  # type: ignore[union-attr]

            third = logcache_run(campaign)
            out, err = await asyncio.to_thread(third.communicate, timeout=120)
            assert third.returncode == 2 and f"pid {os.getpid()}" in err, out + err
            await pilot.press("q")
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert read_holder(lock) is None, "the app released the lock it took over"
