"""The app's structure holds what it promises: every pane behind the one Pane protocol,
toasts driven by the runbook's step events (not by watching the state), and the queue's
progress messages collapsing without ever dropping a Log line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui import idle
from textual.app import App
from textual.widget import Widget

from logcache.cli import main as cli
from logcache.demo import build_world
from logcache.runbook.events import CopyProgress, DatasetFailed, ParcelUpdate, RunbookEvent, StepEnded
from state.model import ParcelStatus, Resolution, StepName, StepStatus
from tui.app import LogcacheApp
from tui.help_screen import HelpScreen
from tui.main_screen import PANES, MainScreen
from tui.messages import RunbookMessage

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def validated(tmp_path: Path) -> Path:
    """Validated once, with two lost copies: two open failed paths, two invalid pairs."""
    campaign = tmp_path / "w" / "campaign.toml"
    build_world(str(campaign.parent), seed=7, scale="tiny", faults={"missing-copy": 2})
    assert cli(["discover", str(campaign)]) == 0
    assert cli(["copy", str(campaign)]) == 0
    assert cli(["registry", "export", str(campaign), "--out", str(campaign.parent / "patch.diff")]) == 0
    assert cli(["step", "done", str(campaign), "build-image", "--note", "quay-1"]) == 0
    cli(["validate", str(campaign)])
    return campaign


def progress(done: int) -> CopyProgress:
    return CopyProgress(done, 10, done, 10, 1.0, 1.0, None, 1.0, ())


def parcel(label: str, done: int) -> ParcelUpdate:
    return ParcelUpdate(label, "local", "", ParcelStatus.RUNNING, "t", done, 10, done, 10, None, None)


async def test_every_pane_in_the_list_refreshes_has_help_entries_and_focuses_its_table(validated: Path) -> None:
    assert len({pane.TAB for pane in PANES}) == len(PANES), "one tab per pane"
    app = LogcacheApp(validated)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        screen = app.main
        for key, cls in enumerate(PANES, 1):
            await pilot.press(str(key))
            await pilot.pause(0.1)
            assert screen.active_tab == cls.TAB
            pane = screen.pane(cls.TAB)
            assert isinstance(pane, cls) and isinstance(pane, Widget)
            target = pane.focus_target()
            assert target.focusable and target.has_focus, f"{cls.TAB}: its key focuses {target}"
            assert target is pane or pane in target.ancestors, f"{cls.TAB}: focuses a widget of its own"
            assert cls.help_entries(), f"{cls.TAB} lists no key in the help"
            with app.live.lock:
                pane.refresh_from(app.campaign.state, app.live, force=True)
        # What the refresh showed: the loaded results reach the Failed and Results panes.
        failed = screen.pane("failed").focus_target()
        results = screen.pane("results").focus_target()
        assert failed.row_count == 4 and results.row_count == 36  # type: ignore[attr-defined]
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-text").render())
        for key, cls in enumerate(PANES, 1):
            assert f"{key} {cls.TITLE}" in shown, cls.TITLE
        await pilot.press("escape", "q")


async def test_the_recopy_toasts_come_from_step_events_even_with_no_refresh_in_between(validated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No refresh at all while the re-copy starts and ends: the toasts cannot come from a
    # look at the state between two refreshes.
    monkeypatch.setattr(MainScreen, "refresh_panes", lambda self, force=False: None)
    app = LogcacheApp(validated)
    async with app.run_test(size=SIZE) as pilot:
        said: list[tuple[str, str]] = []
        notify = app.notify

        def told(message: str, *args: Any, **kwargs: Any) -> None:
            said.append((message, kwargs.get("severity", "information")))
            notify(message, *args, **kwargs)

        app.notify = told  # type: ignore[method-assign]
        names = sorted({fp.dataset_name for fp in app.campaign.state.failed_paths})
        await pilot.pause(0.2)
        await pilot.press("c")
        await idle(pilot, app)
        assert app.campaign.state.step(StepName.RECOPY_FAILED).status is StepStatus.DONE
        assert all(fp.resolution is Resolution.REVALIDATED for fp in app.campaign.state.failed_paths)
        toasts = [m for m, _ in said if m.startswith("re-copy")]
        assert len(toasts) == 2, said
        started, ended = toasts
        assert started.startswith("re-copying 2 failed paths (") and all(n in started for n in names) and started.endswith("see 3 Failed")
        assert ended.startswith("re-copy of failed paths done: ") and ended.endswith("; see 3 Failed")

        # A failed re-copy says so as an error, straight from its event.
        said.clear()
        app.emit(StepEnded(StepName.RECOPY_FAILED, StepStatus.FAILED, "the destination refused"))
        await pilot.pause(0.1)
        assert ("re-copy of failed paths failed: the destination refused; see 3 Failed", "error") in said
        await pilot.press("q")


def test_progress_messages_of_one_type_replace_each_other_but_never_a_log_line() -> None:
    older, newer = RunbookMessage(progress(1)), RunbookMessage(progress(2))
    assert older.can_replace(newer)
    assert not RunbookMessage(progress(1), "a line").can_replace(newer), "a message with a Log line is never dropped"
    assert not older.can_replace(RunbookMessage(DatasetFailed("d", "u", "r"))), "only by a message of its event's type"
    assert RunbookMessage(parcel("0", 1)).can_replace(RunbookMessage(parcel("0", 2)))
    assert not RunbookMessage(parcel("0", 1)).can_replace(RunbookMessage(parcel("1", 2))), "another parcel's update says something else"


class Counting(App[None]):
    """Posts a burst of messages before its queue is read, and records what it handles."""

    def __init__(self, burst: list[RunbookMessage]) -> None:
        super().__init__()
        self.burst = burst
        self.handled: list[tuple[RunbookEvent, str | None]] = []

    def on_mount(self) -> None:
        for message in self.burst:
            self.post_message(message)

    def on_runbook_message(self, message: RunbookMessage) -> None:
        self.handled.append((message.event, message.line))


async def test_queued_progress_collapses_and_every_log_line_is_handled() -> None:
    burst = [
        RunbookMessage(progress(1)),
        RunbookMessage(progress(2)),
        RunbookMessage(progress(3)),
        RunbookMessage(DatasetFailed("a", "u", "r"), "copy failed: a"),
        RunbookMessage(DatasetFailed("b", "u", "r"), "copy failed: b"),
        RunbookMessage(progress(4), "a progress line"),
        RunbookMessage(progress(5)),
        RunbookMessage(parcel("0", 1)),
        RunbookMessage(parcel("1", 1)),
        RunbookMessage(parcel("1", 2)),
    ]
    app = Counting(burst)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
    assert app.handled == [
        (progress(3), None),
        (DatasetFailed("a", "u", "r"), "copy failed: a"),
        (DatasetFailed("b", "u", "r"), "copy failed: b"),
        (progress(4), "a progress line"),
        (progress(5), None),
        (parcel("0", 1), None),
        (parcel("1", 2), None),
    ]
