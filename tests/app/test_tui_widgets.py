"""The app's widgets as an operator over SSH meets them (issue 22): dialogs that say
what Enter and Escape do and refuse an answer inline, text that is never cut and can be
copied, tables that sort by value, filter and move like vi, toasts that never cover a
dialog or announce nothing, and the collapsed checklist's legend."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_tui import idle
from test_tui_operator import told
from test_tui_snapshots import copied_world
from textual.app import App, ComposeResult
from textual.widgets import Button, DataTable, Static
from textual.widgets._toast import Toast

from logcache.cli import main as cli
from logcache.demo import build_world
from state.errors import LogcacheError
from state.model import FailedPathOrigin, StepName, StepStatus
from state.persist import load_state, save_state
from tui.app import LogcacheApp
from tui.detail_screen import DetailScreen
from tui.glyphs import ASCII, UNICODE
from tui.help_screen import HelpScreen
from tui.modals import ConfirmModal, PromptModal
from tui.widgets.checklist import ChecklistLegend
from tui.widgets.log_pane import LogPane
from tui.widgets.table import KeyedTable, TableFilter
from tui.widgets.wrapped_log import WrappedLog

LONG = (
    "run all: waiting at Build the validation image; Enter on it when it is done, and the Validate step starts "
    "its parcels on the backend the campaign names: rerun: logcache validate /srv/campaigns/2026-11-25/campaign.toml "
    "--force --filter-by-name raw-double-entry-s3/materialized-entities-validation,raw-feed-s2/log-validation"
)


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    return copied_world(tmp_path / "w")


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_whole(log: WrappedLog, text: str) -> None:
    """Every character of `text` is in the log's rendered lines, none wider than the log."""
    width = log.scrollable_content_region.width
    assert width > 0
    assert max(strip.cell_length for strip in log.lines) <= width, "a line is wider than the log: its end is cut"
    assert squeezed(text) in squeezed("".join(strip.text for strip in log.lines))


class DialogHost(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("host")


# --- item 3: dialogs ----------------------------------------------------------------------


async def test_every_dialog_shows_what_enter_and_escape_do() -> None:
    app = DialogHost()
    async with app.run_test(size=(60, 20)) as pilot:
        for dialog in (ConfirmModal("Apply the patch?", yes="Apply"), PromptModal("The image tag you pushed")):
            app.push_screen(dialog)
            await pilot.pause()
            hints = " ".join(str(s.render()) for s in dialog.query(".hints"))
            assert "Enter" in hints and "Escape" in hints, hints
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not dialog


async def test_an_empty_prompt_says_what_is_needed_inline_and_stays_open() -> None:
    app = DialogHost()
    answers: list[str | None] = []
    async with app.run_test(size=(60, 20)) as pilot:
        dialog = PromptModal("The image tag you pushed", needed="the image's tag")
        app.push_screen(dialog, answers.append)
        await pilot.pause()
        await pilot.press("space", "enter")
        await pilot.pause()
        assert app.screen is dialog and not answers
        assert "the image's tag" in dialog.refusal and "Escape" in dialog.refusal
        await pilot.press(*"quay-1", "enter")
        await pilot.pause()
        assert answers == ["quay-1"]


async def test_a_prompt_shows_its_checks_refusal_inline_and_stays_open_until_the_answer_passes() -> None:
    def check(answer: str) -> None:
        if not answer.startswith("https://"):
            raise LogcacheError(f"give the merged PR's URL: {answer!r} is not an http(s) URL")

    app = DialogHost()
    answers: list[str | None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = PromptModal("URL of the merged registry PR", check=check)
        app.push_screen(dialog, answers.append)
        await pilot.pause()
        await pilot.press(*"not a url", "enter")
        await pilot.pause()
        assert app.screen is dialog and not answers
        assert dialog.refusal == "give the merged PR's URL: 'not a url' is not an http(s) URL"
        refusal = dialog.query_one("#refusal")
        assert refusal.region.height == 1, "the refusal is shown, on one line"
        await pilot.press("x")  # typing again clears the refusal
        assert dialog.refusal == ""
        await pilot.press(*["backspace"] * 10, *"https://git.example/pr/1", "enter")
        await pilot.pause()
        assert answers == ["https://git.example/pr/1"]


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_dialog_buttons_are_whole_and_no_toast_covers_them(copied: Path, size: tuple[int, int]) -> None:
    app = LogcacheApp(copied, glyphs=UNICODE)
    question = (
        "2 failed paths, e.g. s3://acme-logcache-permanent/cache/2026-11-25/raw-double-entry-s3/materialized-entities/segment-000123.avro.\n"
        "Re-copy them and re-validate just those datasets?"
    )
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause()
        for dialog in (ConfirmModal(question, yes="Re-copy", no="Later"), ConfirmModal("copy is running. Stop it and quit? The next start resumes it.", yes="Stop and quit", no="Stay")):
            app.push_screen(dialog)
            await pilot.pause()
            app.notify("re-copy of failed paths failed: 2 paths could not be read\nfrom the source bucket\nsee the Log", severity="error", timeout=30)
            await pilot.pause(0.3)
            frame = dialog.query_one(".dialog").region
            buttons = list(dialog.query(Button))
            assert len(buttons) == 2
            for button in buttons:
                r = button.region
                assert r.width >= len(str(button.label)) + 2 and r.height == 3, (button.label, r)
                assert frame.contains_region(r) and app.screen.region.contains_region(r), (button.label, r, frame)
                for toast in app.screen.query(Toast):
                    assert not toast.region.overlaps(r), f"a toast covers {button.label}"
            assert not any("could not be read" in line for line in screen_lines(app)), "a toast shows over the dialog"
            await pilot.press("escape")
            await pilot.pause()
        # Back on the main screen the toast is shown: it was hidden, not lost.
        await pilot.pause(0.3)
        assert any(t.region.area for t in app.screen.query(Toast)), [t.region for t in app.screen.query(Toast)]


# --- item 4: text that can be read and copied ----------------------------------------------


async def test_the_detail_screen_wraps_a_long_rerun_command_and_y_copies_it(copied: Path) -> None:
    command = LONG.partition("rerun: ")[2]
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=(80, 24)) as pilot:
        app.main.open_detail("raw-feed-s2/log-validation", lambda pair: [f"{pair}: INVALID (mismatch)", f"  rerun: {command}"])
        await pilot.pause()
        deadline = time.monotonic() + 10
        while (not isinstance(app.screen, DetailScreen) or "loading" in app.screen.text) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        assert isinstance(app.screen, DetailScreen)
        assert_whole(app.screen.query_one(WrappedLog), f"rerun: {command}")
        await pilot.press("y")
        assert app.clipboard == command


def with_failed_paths(campaign: Path) -> list[str]:
    """Two failed paths as a copy records them, with URLs as long as a real bucket's, and a
    long error."""
    state_path = campaign.parent / "campaign.state.toml"
    state = load_state(state_path)
    urls = []
    for ds in state.datasets[:2]:
        url = f"s3://acme-logcache-permanent/2026-11-25/{ds.name}/part-00001.avro"
        state.add_failed_path(url, FailedPathOrigin.COPY, ds.name)
        fp = state.failed_path(url)
        assert fp is not None
        fp.note = "copy failed: 503 SlowDown after 5 attempts (the source bucket throttled the copy; run it again later)"
        urls.append(url)
    save_state(state_path, state)
    return urls


def screen_lines(app: App[None]) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_update(full=True).strips]  # type: ignore[attr-defined]


async def test_a_failed_path_is_whole_at_200_columns_opens_in_a_detail_screen_and_y_copies_it(copied: Path) -> None:
    urls = with_failed_paths(copied)
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#failed-table", KeyedTable)
        deadline = time.monotonic() + 20  # a loaded machine: the pane fills at its refresh
        while (table.row_count < 2 or urls[1] not in "\n".join(screen_lines(app))) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        shown = "\n".join(screen_lines(app))
        for url in urls:
            assert url in shown, f"the path column is cut: {url}"
        assert table.has_focus and table.selected_key() == urls[0]
        said = told(app)
        await pilot.press("y")
        assert app.clipboard == urls[0] and any(urls[0] in m for m in said), said
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while (not isinstance(app.screen, DetailScreen) or "loading" in app.screen.text) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert isinstance(app.screen, DetailScreen)
        text = app.screen.text
        dataset = urls[0].split("/")[-3] + "/" + urls[0].split("/")[-2]
        for expected in (f"path:       {urls[0]}", f"dataset:    {dataset}", "found by:   copy", "resolution: open", "503 SlowDown after 5 attempts", "fix: logcache copy "):
            assert expected in text, (expected, text)
        await pilot.press("y")
        assert app.clipboard.startswith("logcache copy ") and f"--only {dataset}" in app.clipboard
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)


# --- item 5: the Log pane -----------------------------------------------------------------


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_the_log_pane_wraps_without_losing_a_character(copied: Path, size: tuple[int, int]) -> None:
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=size) as pilot:
        await pilot.press("6")
        await pilot.pause(0.2)
        app.log_line(LONG)
        app.refresh_views()
        await pilot.pause(0.2)
        log = app.screen.query_one(LogPane)
        assert_whole(log, LONG)
        await pilot.press("b")  # the checklist expands: the log is narrower, wrapped again
        await pilot.pause(0.3)
        assert_whole(log, LONG)


# --- item 7: toasts -----------------------------------------------------------------------


@pytest.fixture
def validated(tmp_path: Path) -> Path:
    """Copied and validated: two lost copies are failed paths, open."""
    root = tmp_path / "v"
    build_world(str(root), seed=7, scale="tiny", faults={"missing-copy": 2})
    campaign = root / "campaign.toml"
    assert cli(["discover", str(campaign)]) == 0 and cli(["copy", str(campaign)]) == 0
    assert cli(["registry", "export", str(campaign), "--out", str(root / "patch.diff")]) == 0
    assert cli(["step", "done", str(campaign), "build-image", "--note", "quay-1"]) == 0
    cli(["validate", str(campaign)])
    return campaign


async def test_a_recopy_from_the_failed_pane_keeps_the_whole_copy_summary_and_toasts_nothing_empty(validated: Path) -> None:
    app = LogcacheApp(validated, glyphs=UNICODE)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        while isinstance(app.screen, ConfirmModal):  # the re-copy offer: taken by key below
            await pilot.press("n")
        said = told(app)
        await pilot.press("3")
        await pilot.pause(0.3)
        assert app.campaign.state.open_failed_paths()
        await pilot.press("c")
        await idle(pilot, app)
        assert app.campaign.state.step(StepName.RECOPY_FAILED).status is StepStatus.DONE
        assert said, "the re-copy was announced"
        assert not any("see 3 Failed" in m for m in said), said
        assert not any("0 failed paths" in m or "()" in m or m.rstrip().endswith(":") for m in said), said
        await pilot.press("1")
        await pilot.pause(0.5)
        summary = str(app.screen.query_one("#copy-summary", Static).render())
        total = len(app.campaign.state.datasets)
        assert summary.startswith(f"{total}/{total} datasets verified"), summary
        # The Validators pane, after a reopen, fills bytes and heartbeats of the parcels
        # that ran before (the CLI's validation here).
        await pilot.press("2")
        await pilot.pause(0.3)
    again = LogcacheApp(validated, glyphs=UNICODE)
    async with again.run_test(size=(160, 40)) as pilot:
        while isinstance(again.screen, ConfirmModal):
            await pilot.press("n")
        await pilot.press("2")
        await pilot.pause(1.0)
        table = again.screen.query_one("#parcels-table", DataTable)
        rows = [[str(c) for c in table.get_row(k)] for k in table.rows]
        assert rows and all(r[1] == "done" for r in rows), rows
        assert all(r[3].strip() and r[4] != "-" for r in rows), rows


# --- item 8: tables -----------------------------------------------------------------------


def cells(table: DataTable[object], column: int) -> list[str]:
    return [str(table.get_row(k)[column]) for k in [r.key for r in table.ordered_rows]]


def in_bytes(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


@pytest.mark.parametrize(("glyphs", "up", "down"), [(UNICODE, "▲", "▼"), (ASCII, "^", "v")])
async def test_sorting_by_bytes_sorts_by_value_and_the_header_shows_the_direction(copied: Path, glyphs, up: str, down: str) -> None:  # type: ignore[no-untyped-def]
    app = LogcacheApp(copied, glyphs=glyphs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")
        await pilot.pause(0.2)
        table = app.screen.query_one("#copy-table", KeyedTable)
        # s goes through the columns, each ascending then descending: bytes is the fourth.
        await pilot.press(*"s" * 7)
        await pilot.pause(0.1)
        assert table.sorted_by == ("bytes", False)
        sizes = [in_bytes(c) for c in cells(table, 3)]
        assert sizes == sorted(sizes) and sizes != sorted(sizes, key=str), sizes
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[3].strip() == f"bytes {up}" and all(up not in lab and down not in lab for lab in labels[:3]), labels
        await pilot.press("s")
        sizes = [in_bytes(c) for c in cells(table, 3)]
        assert sizes == sorted(sizes, reverse=True)
        assert str(table.columns[table.ordered_columns[3].key].label).strip() == f"bytes {down}"


async def test_slash_filters_rows_escape_clears_and_j_k_move(copied: Path) -> None:
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        await pilot.pause(0.2)
        table = app.screen.query_one("#copy-table", KeyedTable)
        assert table.row_count == 36
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("slash", *"feed-s2")
        await pilot.pause(0.1)
        assert isinstance(app.focused, TableFilter)
        assert sorted(cells(table, 0)) == ["raw-feed-s2/log", "raw-feed-s2/materialized-entities"]
        await pilot.press("enter")  # back to the table, the filter kept
        assert app.focused is table and table.row_count == 2
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("slash", "escape")
        await pilot.pause(0.1)
        assert app.focused is table and table.row_count == 36 and not list(app.screen.query(TableFilter))


# --- item 9: legend and help --------------------------------------------------------------


async def test_the_collapsed_checklist_has_a_legend_of_its_icons(copied: Path) -> None:
    for glyphs in (UNICODE, ASCII):
        app = LogcacheApp(copied, glyphs=glyphs)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            legend = app.screen.query_one(ChecklistLegend)
            assert legend.region.height == 1
            text = str(legend.render())
            for status in (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.DONE, StepStatus.FAILED):
                assert f"{glyphs.steps[status]} {status.value}" in text, text
            assert any(text in line for line in screen_lines(app))
            await pilot.press("b")  # expanded: the steps are named, no legend
            await pilot.pause(0.2)
            assert legend.region.height == 0


async def test_the_help_wraps_to_80_columns_under_each_description(copied: Path) -> None:
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        help_text = app.screen.query_one("#help-text", Static)
        lines = str(help_text.render()).split("\n")
        width = help_text.content_region.width
        assert max(len(line) for line in lines) <= width, "Static wraps what is wider, back to the left edge"
        notes = lines[lines.index("Notifications") + 1 :]
        assert len(notes) > 2 and all(line.startswith("  ") for line in notes if line), notes


async def test_a_manual_steps_prompt_refuses_a_bad_note_inline_with_the_librarys_check(copied: Path) -> None:
    app = LogcacheApp(copied, glyphs=UNICODE)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        for step, bad in ((StepName.BUILD_IMAGE, "quay a8334c1"), (StepName.MERGE_PR, "not a url")):
            app.main.run_step_named(step)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, PromptModal)
            await pilot.press("enter")
            assert app.screen is dialog and dialog.refusal.startswith("type an answer (")
            await pilot.press(*bad, "enter")
            await pilot.pause()
            assert app.screen is dialog, "a bad note closed the dialog"
            assert repr(bad) in dialog.refusal, dialog.refusal
            await pilot.press("escape")
            await pilot.pause()
        assert app.campaign.state.step(StepName.BUILD_IMAGE).status is StepStatus.PENDING
        assert app.campaign.state.step(StepName.MERGE_PR).status is StepStatus.PENDING
