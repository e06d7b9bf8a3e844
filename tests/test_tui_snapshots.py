"""Snapshots of the main screen at the two sizes operators use: 80x24 and 160x48.

Update them after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logcache.demo import build_world
from tui.app import LogcacheApp


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LogcacheApp:
    monkeypatch.setenv("LOGCACHE_OPERATOR", "alice@bastion-2")
    root = tmp_path / "w"
    build_world(str(root), seed=7, scale="tiny")
    return LogcacheApp(root / "campaign.toml")


def test_main_screen_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24))


def test_main_screen_160x48(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(160, 48))


def test_failed_paths_pane_by_key_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24), press=["3"])


def test_main_screen_light_theme_80x24(snap_compare, app: LogcacheApp) -> None:  # type: ignore[no-untyped-def]
    def light(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.theme = "textual-light"

    assert snap_compare(app, terminal_size=(80, 24), run_before=light)
