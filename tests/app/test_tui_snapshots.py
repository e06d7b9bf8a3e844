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


# Issue 22: a dialog and the Log pane with long lines at the two small sizes, in the
# default and a light theme: no cut button, no lost character.
SMALL = [(80, 24), (60, 20)]
THEMES = ["textual-dark", "textual-light"]
LONG_LINES = [
    "run all: waiting at Build the validation image; Enter on it when it is done, and the Validate step starts its parcels",
    "rerun: logcache validate /srv/campaigns/2026-11-25/campaign.toml --force --filter-by-name raw-double-entry-s3/materialized-entities-validation",
    "re-copying 2 failed paths (raw-feed-s2/materialized-entities, raw-double-entry-s3/log), then re-validating those datasets; see 3 Failed",
]


@pytest.mark.parametrize("theme", THEMES, ids=["dark", "light"])
@pytest.mark.parametrize("size", SMALL, ids=["80x24", "60x20"])
def test_dialog_with_a_refusal(snap_compare, app: LogcacheApp, size: tuple[int, int], theme: str) -> None:  # type: ignore[no-untyped-def]
    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        from tui.modals import PromptModal

        pilot.app.theme = theme
        pilot.app.push_screen(PromptModal("The image tag you pushed (build-image)", placeholder="e.g. quay-2026-11-25", needed="the pushed image's tag"))
        await pilot.pause()
        await pilot.press("enter")

    assert snap_compare(app, terminal_size=size, run_before=ask)


@pytest.mark.parametrize("theme", THEMES, ids=["dark", "light"])
@pytest.mark.parametrize("size", SMALL, ids=["80x24", "60x20"])
def test_confirm_dialog(snap_compare, app: LogcacheApp, size: tuple[int, int], theme: str) -> None:  # type: ignore[no-untyped-def]
    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        from tui.modals import ConfirmModal

        pilot.app.theme = theme
        question = "2 failed paths, e.g. s3://acme-logcache-permanent/2026-11-25/raw-feed-s2/log/part-00001.avro.\nRe-copy them and re-validate just those datasets?"
        pilot.app.push_screen(ConfirmModal(question, yes="Re-copy", no="Later"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ask)


@pytest.mark.parametrize("theme", THEMES, ids=["dark", "light"])
@pytest.mark.parametrize("size", SMALL, ids=["80x24", "60x20"])
def test_log_pane_with_long_lines(snap_compare, app: LogcacheApp, size: tuple[int, int], theme: str) -> None:  # type: ignore[no-untyped-def]
    async def show_log(pilot) -> None:  # type: ignore[no-untyped-def]
        from datetime import datetime

        pilot.app.theme = theme
        from tui.widgets.log_pane import LogPane

        await pilot.press("6")
        # Only these lines: the reloaded history carries the test's folder and the clock.
        pilot.app.screen.query_one(LogPane).clear_lines()
        with pilot.app.live.lock:
            pilot.app.live.log.clear()
            for line in LONG_LINES:
                pilot.app.live.add_log((datetime(2026, 11, 25, 6, 0, 0), line))
        pilot.app.refresh_views()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show_log)
