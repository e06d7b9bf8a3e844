"""Snapshots of the main screen at the sizes operators use: 60x20, 80x24 and 160x48, on
a demo world discovered and copied (the demo's longest dataset names on screen).

Update them after an intended change with `pytest tests/app/test_tui_snapshots.py --snapshot-update`,
then look at the SVGs in tests/app/__snapshots__/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logcache.cli import main
from logcache.demo import build_world
from state.persist import load_state, save_state
from tui.app import LogcacheApp
from tui.glyphs import ASCII, UNICODE

FIXED_TIME = "2026-11-25T06:00:00Z"


def copied_world(root: Path) -> Path:
    build_world(str(root), seed=7, scale="tiny", faults={"missing-copy": 2})
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    # Times fixed, so the snapshots do not change with the clock.
    state_path = root / "campaign.state.toml"
    state = load_state(state_path)
    for step in state.steps:
        if step.finished_at:
            step.started_at = step.finished_at = FIXED_TIME
            step.operator = "alice@bastion-2"
    save_state(state_path, state)
    return campaign


@pytest.fixture
def campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOGCACHE_OPERATOR", "alice@bastion-2")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return copied_world(tmp_path / "w")


@pytest.fixture
def app(campaign: Path) -> LogcacheApp:
    return LogcacheApp(campaign, glyphs=UNICODE)


def test_main_screen_60x20(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(60, 20))


def test_main_screen_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24))


def test_main_screen_160x48(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(160, 48))


def test_failed_paths_pane_by_key_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24), press=["3"])


def test_checklist_expanded_by_key_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24), press=["b"])


def test_help_screen_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"])


def test_ascii_glyphs_80x24(snap_compare, campaign: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(LogcacheApp(campaign, glyphs=ASCII), terminal_size=(80, 24))


def test_main_screen_light_theme_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    def light(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.theme = "textual-light"

    assert snap_compare(app, terminal_size=(80, 24), run_before=light)
