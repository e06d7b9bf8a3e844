"""The app as an operator over SSH meets it: help, footers, keys in tables, toasts,
notifications, the kept history, the remembered theme, the manual-step prompts, and the
detail of an invalid pair."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_tui import footer_text, idle
from textual.widget import Widget
from textual.widgets import DataTable, OptionList

from logcache.cli import main as cli
from logcache.demo import build_world
from logcache.runbook import journal
from logcache.runbook.events import StepEnded
from logcache.validation import ResultRow
from state.model import Resolution, StepName, StepStatus
from tui.alerts import osc_notification
from tui.app import LogcacheApp
from tui.detail_screen import DetailScreen
from tui.glyphs import ASCII, UNICODE, bar, glyphs_for, sparkline
from tui.help_screen import HelpScreen
from tui.main_screen import PANES, MainScreen
from tui.modals import PromptModal
from tui.widgets.checklist import Checklist
from tui.widgets.results_pane import kind_lines

SIZE = (80, 24)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=7, scale="tiny", faults={"missing-copy": 2})
    return root / "campaign.toml"


@pytest.fixture
def copied(world: Path) -> Path:
    assert cli(["discover", str(world)]) == 0
    assert cli(["copy", str(world)]) == 0
    return world


@pytest.fixture
def validated(copied: Path) -> Path:
    """Validated once: the two lost copies are invalid pairs and failed paths."""
    assert cli(["registry", "export", str(copied), "--out", str(copied.parent / "patch.diff")]) == 0
    assert cli(["step", "done", str(copied), "build-image", "--note", "quay-1"]) == 0
    cli(["validate", str(copied)])
    return copied


def told(app: LogcacheApp) -> list[str]:
    """Every toast the app shows from now on."""
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (said.append(message), notify(message, *a, **k))[1]  # type: ignore[method-assign]
    return said


async def test_help_on_question_mark_and_f1_lists_every_pane_and_escape_closes(world: Path) -> None:
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, HelpScreen)
            shown = str(app.screen.query_one("#help-text").render())
            for expected in ("Run all", "Split stuck", "Invalid only", "Failures only", "Export PR", "Re-copy failed", "First row", "Last row", "OSC 9", "logcache log"):
                assert expected in shown, expected
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert isinstance(app.screen, MainScreen)


async def test_footer_shows_the_focused_pane_and_survives_a_resize(copied: Path) -> None:
    app = LogcacheApp(copied)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause(0.1)
        assert "Split stuck" in footer_text(app) and "Invalid only" not in footer_text(app)
        await pilot.press("5")
        await pilot.pause(0.1)
        assert "Invalid only" in footer_text(app) and "Split stuck" not in footer_text(app)
        assert "Run all" in footer_text(app)
        await pilot.resize_terminal(200, 50)
        await pilot.pause(0.3)
        footer = footer_text(app)
        assert "Invalid only" in footer and "Quit" in footer and "palett" not in footer


async def test_home_and_end_go_to_the_first_and_last_row(copied: Path) -> None:
    app = LogcacheApp(copied)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1")
        await pilot.pause(0.2)
        table = app.screen.query_one("#copy-table", DataTable)
        assert table.has_focus and table.row_count == 36
        await pilot.press("end")
        assert table.cursor_row == 35
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_export_by_key_writes_at_once_and_says_where(copied: Path) -> None:
    app = LogcacheApp(copied)
    async with app.run_test(size=SIZE) as pilot:
        said = told(app)
        await pilot.press("4", "e", "x", "y", "z")  # keys typed after `e` land in no field
        await idle(pilot, app)
        assert isinstance(app.screen, MainScreen)
        state = app.campaign.state
        assert state.step(StepName.REGISTRY_EXPORT).status is StepStatus.DONE
        patch = Path(state.patch_path or "")
        assert patch.is_file()
        assert any(f"exported the PR patch to {patch}" in m for m in said), said
        await pilot.press("q")
    assert any(f"exported the PR patch to {patch}" in e.text for e in journal.recent(copied.parent))


async def test_the_end_of_a_long_step_rings_and_notifies(world: Path) -> None:
    assert cli(["discover", str(world)]) == 0
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        rings: list[int] = []
        sent: list[str] = []
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        app.write_escape = sent.append  # type: ignore[method-assign]
        app.screen.query_one(Checklist).select(StepName.COPY)
        app.screen.query_one("#checklist", OptionList).focus()
        await pilot.press("enter")
        await idle(pilot, app)
        assert rings == [1]
        assert len(sent) == 1 and "\x1b]9;logcache: copy: finished\x07" in sent[0] and "\x1b]777;notify;logcache: copy;finished\x07" in sent[0]
        # A short step (the export) does not ring.
        await pilot.press("e")
        await idle(pilot, app)
        assert rings == [1]


async def test_a_refresh_tick_while_the_app_shuts_down_touches_no_widget(world: Path) -> None:
    # The refresh timer can tick between the removal of the screens' widgets and the end
    # of the app (it failed CI once with NoMatches on #header); reproduced here on purpose.
    app = LogcacheApp(world)
    ticked: list[bool] = []
    async with app.run_test(size=SIZE):
        close_all = app._close_all

        async def widgets_gone_then_a_tick() -> None:
            await app.main.query("#header").remove()
            app.refresh_views()
            ticked.append(True)
            await close_all()

        app._close_all = widgets_gone_then_a_tick  # type: ignore[method-assign]
    assert ticked == [True]


def test_desktop_notifications_pass_through_tmux() -> None:
    plain = osc_notification("logcache: copy", "done; 36 verified\x1b[2J", tmux=False)
    assert plain == "\x1b]9;logcache: copy: done, 36 verified[2J\x07\x1b]777;notify;logcache: copy;done, 36 verified[2J\x07"
    wrapped = osc_notification("t", "b", tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\"


async def test_run_all_shows_the_recopy_and_goes_on_after_each_manual_step(world: Path) -> None:
    app = LogcacheApp(world)
    async with app.run_test(size=(120, 40)) as pilot:
        said = told(app)
        await pilot.press("r")
        deadline = time.monotonic() + 120
        while not isinstance(app.screen, PromptModal) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert isinstance(app.screen, PromptModal) and "image" in app.screen.question
        assert app.campaign.state.step(StepName.REGISTRY_EXPORT).status is StepStatus.DONE
        await pilot.press(*"quay-a8334c1", "enter")
        deadline = time.monotonic() + 180
        while not (isinstance(app.screen, PromptModal) and "PR" in app.screen.question) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert isinstance(app.screen, PromptModal) and "URL of the merged registry PR" in app.screen.question
        state = app.campaign.state
        assert state.step(StepName.BUILD_IMAGE).note == "quay-a8334c1"
        for step in (StepName.VALIDATE, StepName.RECOPY_FAILED, StepName.AGGREGATE):
            assert state.step(step).status is StepStatus.DONE, step
        assert any(m.startswith("re-copy") and "see 3 Failed" in m for m in said), said
        await pilot.press(*"https://git.example/pr/1", "enter")
        await idle(pilot, app)
        assert all(s.status is StepStatus.DONE for s in state.steps)
        await pilot.press("3")
        await pilot.pause(0.3)
        failed = app.screen.query_one("#failed-table", DataTable)
        rows = [[str(c) for c in failed.get_row(k)] for k in failed.rows]
        assert len(rows) == 2 and all(r[0] and r[1] == "revalidated" and r[2] for r in rows), rows
        log = "\n".join(e.text for e in journal.recent(world.parent))
        assert "logcache step done" not in log and "logcache run" not in log, "no CLI command that Enter on a step does"
        await pilot.press("q")


async def test_history_is_kept_and_reloaded_and_printed(world: Path) -> None:
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # pick the nightly run
        await idle(pilot, app)
        await pilot.press("q")
    entries = journal.recent(world.parent)
    assert any(e.text == "pick-transaction: started" for e in entries)
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause(0.3)
        shown = "\n".join(line.text for line in app.screen.query_one("#log-view").lines)  # type: ignore[attr-defined]
        assert "pick-transaction: started" in shown
        await pilot.press("q")
    done = subprocess.run([sys.executable, "-m", "logcache", "log", str(world), "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"at", "operator", "text", "level"} <= set(lines[0]) and any(line["text"] == "pick-transaction: started" for line in lines)
    done = subprocess.run([sys.executable, "-m", "logcache", "log", str(world), "-n", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.count("\n") == 1


def test_journal_reads_only_whole_lines_of_its_tail(tmp_path: Path) -> None:
    for i in range(3000):
        journal.append(tmp_path, journal.JournalEntry("2026-11-25T06:00:00Z", "alice", f"event {i} " + "x" * 40))
    with journal.journal_path(tmp_path).open("a", encoding="utf-8") as f:
        f.write('{"torn": \n')
    last = journal.recent(tmp_path, 5)
    assert [e.text.split()[1] for e in last] == ["2995", "2996", "2997", "2998", "2999"]
    assert len(journal.recent(tmp_path, 0)) == 3000


async def test_the_chosen_theme_is_remembered(world: Path) -> None:
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.press("q")
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "textual-light"
        await pilot.press("q")


def test_glyphs_bars_sparklines_and_error_kind_lines() -> None:
    assert glyphs_for("utf-8") is UNICODE and glyphs_for("UTF8") is UNICODE
    assert glyphs_for("ascii") is ASCII and glyphs_for("ANSI_X3.4-1968") is ASCII and glyphs_for("latin-1") is ASCII and glyphs_for(None) is ASCII
    for g in (UNICODE, ASCII):
        assert bar(3, 10, 10, g) == g.bar_full * 3 + g.bar_empty * 7
        line = sparkline([0.0, 50.0, 100.0], 10, g)
        assert line == g.spark[0] + g.spark[4] + g.spark[7]
    assert all(c.isascii() for g in (ASCII,) for c in "".join([*g.steps.values(), g.spark, g.bar_full, g.bar_empty, g.ellipsis]))

    def row(dataset: str, kind: str) -> ResultRow:
        return ResultRow(dataset, "log-validation", "0", 1, 1, 1, 0, 0, 0, kind == "", kind, "", "[]", "", 0.0)

    rows = [row("a", "missing-path"), row("b", "mismatch"), row("c", "missing-path"), row("d", "")]
    assert kind_lines(rows) == ["missing-path: 2, e.g. a/log-validation", "mismatch: 1, e.g. b/log-validation"]


async def test_copy_pane_sparkline_and_validators_bars(validated: Path) -> None:
    app = LogcacheApp(validated, glyphs=UNICODE)
    async with app.run_test(size=(120, 40)) as pilot:
        # A re-copy runs here: the two lost copies.
        await pilot.press("c")
        await idle(pilot, app)
        await pilot.press("1")
        await pilot.pause(0.3)
        line = str(app.screen.query_one("#copy-bar").render())
        assert any(c in line for c in UNICODE.spark[1:]), line
        await pilot.press("2")
        await pilot.pause(0.3)
        table = app.screen.query_one("#parcels-table", DataTable)
        bars = [str(table.get_cell(k, "bar")) for k in table.rows]
        assert any(UNICODE.bar_full in b for b in bars), bars
        await pilot.press("q")


async def test_enter_on_an_invalid_pair_opens_its_detail_from_failed_and_results(validated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.main_screen

    asked: list[str] = []

    def fake_loader(campaign: object):  # type: ignore[no-untyped-def]
        def load(pair: str) -> list[str]:
            asked.append(pair)
            return [f"{pair}: invalid (missing-path)", "sample of missing datoms:", "  e=17592186045418 a=:account/balance v=100 t=1012 added=true"]

        return load

    monkeypatch.setattr(tui.main_screen, "campaign_detail_loader", fake_loader)
    app = LogcacheApp(validated)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause(0.5)
        table = app.screen.query_one("#failed-table", DataTable)
        states = [str(table.get_cell(k, "state")) for k in table.rows]
        assert states.count("invalid") == 2 and states.count("open") == 2, states
        pair_row = states.index("invalid")
        table.move_cursor(row=pair_row)
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert isinstance(app.screen, DetailScreen)
        assert "e=17592186045418" in app.screen.text and asked[-1] == app.screen.pair
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("5")
        await pilot.pause(0.5)
        results = app.screen.query_one("#results-table", DataTable)
        assert results.row_count == 36
        await pilot.press("i")
        await pilot.pause(0.1)
        assert results.row_count == 2
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert isinstance(app.screen, DetailScreen) and app.screen.pair == asked[-1] and asked[-1].endswith("-validation")
        summary = str(app.screen_stack[0].query_one("#results-summary").render())
        assert "missing-path: 2, e.g." in summary
        await pilot.press("escape", "q")


async def test_the_detail_screen_shows_the_library_detail(validated: Path) -> None:
    detail = pytest.importorskip("logcache.validation.detail")
    from logcache.runbook import queries

    app = LogcacheApp(validated)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause(0.5)
        table = app.screen.query_one("#failed-table", DataTable)
        keys = [k.value for k in table.rows if str(k.value).startswith("pair:")]
        pair = str(keys[0]).removeprefix("pair:")
        table.move_cursor(row=[k.value for k in table.rows].index(keys[0]))
        await pilot.press("enter")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not isinstance(app.screen, DetailScreen) or "loading" in app.screen.text):
            await pilot.pause(0.1)
        assert isinstance(app.screen, DetailScreen)
        expected = detail.render_detail(detail.pair_detail(app.campaign.config, queries.entries(app.campaign), pair))
        assert all(line in app.screen.text for line in expected[:5])
        await pilot.press("escape", "q")


async def test_stop_and_quit_mid_validation_is_quick_and_the_reopened_panes_agree(copied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from logcache.validation.backends import local as backends
    from tui.modals import ConfirmModal

    # Validation of this small world can end before the quit is asked: each unit takes
    # a second longer, so the quit lands mid-validation and must wait for a unit in hand.
    real = backends.run_unit_here

    def slow_unit(*args: object, **kwargs: object) -> object:
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(backends, "run_unit_here", slow_unit)

    assert cli(["registry", "export", str(copied), "--out", str(copied.parent / "patch.diff")]) == 0
    assert cli(["step", "done", str(copied), "build-image", "--note", "quay-1"]) == 0
    app = LogcacheApp(copied)
    async with app.run_test(size=SIZE) as pilot:
        app.main.run_step_named(StepName.VALIDATE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not app.campaign.state.parcels:
            await pilot.pause(0.02)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal)
        asked = time.monotonic()
        await pilot.press("y")
        while app.return_code is None and time.monotonic() < asked + 30:
            await pilot.pause(0.02)
        stopped_in = time.monotonic() - asked
    assert stopped_in < 2.5, f"stop and quit took {stopped_in:.1f} s"
    app = LogcacheApp(copied)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause(0.3)
        step = app.campaign.state.step(StepName.VALIDATE)
        table = app.screen.query_one("#parcels-table", DataTable)
        statuses = {str(table.get_cell(k, "status")) for k in table.rows}
        summary = str(app.screen.query_one("#parcels-summary").render())
        if step.status is StepStatus.DONE:
            assert statuses == {"done"}
        else:
            assert step.status is StepStatus.PENDING and "interrupted" in step.note
            assert "running" not in statuses and f"validate pending: {step.note}" in summary
        await pilot.press("q")


async def test_an_unreadable_event_log_is_said_not_fatal(world: Path) -> None:
    journal.journal_path(world.parent).mkdir()
    app = LogcacheApp(world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause(0.2)
        shown = "\n".join(line.text for line in app.screen.query_one("#log-view").lines)  # type: ignore[attr-defined]
        assert "the event log cannot be read" in shown
        writes = [n.message for n in app._notifications if "cannot be written" in n.message]
        assert len(writes) == 1, "said once, not on every line"
        await pilot.press("q")
    done = subprocess.run([sys.executable, "-m", "logcache", "log", str(world)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "events.jsonl" in done.stderr, done.stderr


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


async def test_help_lists_a_panes_work_keys_under_that_pane_not_everywhere(world: Path) -> None:
    app = LogcacheApp(world)
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        shown = str(app.screen.query_one("#help-text").render())
        everywhere = shown.split("Everywhere", 1)[1].split("Checklist", 1)[0]
        for work in ("Re-copy failed", "Export PR", "Apply PR", "Split stuck"):
            assert work not in everywhere, work
            assert work in shown, work
        assert "Run all" in everywhere
