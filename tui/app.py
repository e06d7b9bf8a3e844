"""The runbook as a live checklist, with copy, validator, failed-path, PR-diff, results
and log panes.

The app holds no runbook logic: every action calls a `logcache.runbook.steps` function in a
thread worker, which reports through plain callbacks; those become `EngineEvent`
messages, folded into `Live`, and a timer redraws the visible pane a few times a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from logcache.campaign import Campaign, open_campaign
from logcache.errors import LogcacheError, describe
from logcache.registry import default_patch_path
from logcache.runbook import steps
from logcache.runbook.driver import run_campaign, run_step
from logcache.validation.aggregate import read_aggregate
from state.errors import StateError
from state.lock import LockHeld
from state.model import MANUAL_STEPS, STEP_TITLES, ParcelStatus, StepName, StepStatus, operator
from tui.live import Live
from tui.messages import EngineEvent, StepEnded
from tui.modals import ConfirmModal, PromptModal
from tui.panes import CopyPane, DiffPane, FailedPane, ResultsPane, ValidatorsPane

ICONS = {
    StepStatus.PENDING: "·",
    StepStatus.RUNNING: "▶",
    StepStatus.DONE: "✔",
    StepStatus.FAILED: "✖",
    StepStatus.SKIPPED: "–",
}
ICON_STYLE = {StepStatus.RUNNING: "cyan", StepStatus.DONE: "green", StepStatus.FAILED: "bold red"}
REFRESH_S = 0.25
HEARTBEAT_POLL_S = 2.0
UNFINISHED = {ParcelStatus.PENDING, ParcelStatus.RUNNING, ParcelStatus.STUCK}
# One line each in the checklist, even at 80 columns.
SHORT_TITLES = {
    StepName.PICK_TRANSACTION: "Pick nightly run",
    StepName.DISCOVER: "Discover T",
    StepName.COPY: "Copy to permanent",
    StepName.REGISTRY_EXPORT: "Export PR patch",
    StepName.BUILD_IMAGE: "Build image",
    StepName.VALIDATE: "Validate parcels",
    StepName.RECOPY_FAILED: "Re-copy failed",
    StepName.AGGREGATE: "Aggregate",
    StepName.MERGE_PR: "Merge PR",
}


class LogcacheApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "logcache"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run_all", "Run all"),
        Binding("c", "recopy", "Re-copy failed"),
        Binding("e", "export_patch", "Export PR"),
        Binding("a", "apply_patch", "Apply PR", show=False),
        Binding("x", "split_stuck", "Split stuck", show=False),
        Binding("f", "toggle_failures", "Failures only", show=False),
        Binding("i", "toggle_invalid", "Invalid only", show=False),
        Binding("s", "sort_table", "Sort", show=False),
        Binding("1", "tab('copy')", "Copy", show=False),
        Binding("2", "tab('validators')", "Validators", show=False),
        Binding("3", "tab('failed')", "Failed", show=False),
        Binding("4", "tab('diff')", "PR diff", show=False),
        Binding("5", "tab('results')", "Results", show=False),
        Binding("6", "tab('log')", "Log", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, campaign_path: Path, break_lock: bool = False) -> None:
        super().__init__()
        # Textual replaces sys.stderr with a capture that has no file descriptor, and
        # multiprocessing's resource tracker hands stderr's descriptor to the process it
        # starts with the first local validation pool: start it now, while stderr is real.
        resource_tracker.ensure_running()
        self.campaign_path = campaign_path
        self.break_lock = break_lock
        self.campaign: Campaign | None = None
        self.holder = ""
        self.operator = operator()
        self.live = Live()
        self.cancel = threading.Event()
        self.busy = ""
        self._stack = ExitStack()
        self._offered = 0
        self._prompts: dict[str, str] = {}
        self._sort_column = 0

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="header")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield OptionList(*[Option(SHORT_TITLES[n], id=n.value) for n in StepName], id="checklist")
                yield Static("", id="step-note")
            with TabbedContent(id="tabs", initial="copy"):
                with TabPane("Copy", id="copy"):
                    yield CopyPane()
                with TabPane("Validators", id="validators"):
                    yield ValidatorsPane()
                with TabPane("Failed", id="failed"):
                    yield FailedPane()
                with TabPane("PR diff", id="diff"):
                    yield DiffPane()
                with TabPane("Results", id="results"):
                    yield ResultsPane()
                with TabPane("Log", id="log"):
                    yield RichLog(id="log-view", wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.campaign = self._stack.enter_context(open_campaign(self.campaign_path, break_lock=self.break_lock, notice=self.log_line))
        except LockHeld as exc:
            self.holder = str(exc).split(";")[0].removeprefix("campaign is being driven by ")
            self.campaign = self._stack.enter_context(open_campaign(self.campaign_path, write=False))
            self.log_line(f"read-only: {exc}")
        self._offered = len(self.campaign.state.open_failed_paths())
        self.query_one("#checklist", OptionList).highlighted = self._current_index()
        self.refresh_views()
        self.set_interval(REFRESH_S, self.refresh_views)
        self.set_interval(HEARTBEAT_POLL_S, self._poll_parcels)
        self._load_diff()
        self._load_results()
        self.log_line(f"opened {self.campaign_path} as {self.operator}")

    def on_unmount(self) -> None:
        self._stack.close()

    # --- refreshing -------------------------------------------------------------------

    def refresh_views(self) -> None:
        campaign = self.campaign
        if campaign is None:
            return
        state = campaign.state
        with self.batch_update():
            self.query_one("#header", Static).update(self._header())
            checklist = self.query_one("#checklist", OptionList)
            for step in state.steps:
                prompt = self._step_prompt(step.name, step.status)
                if self._prompts.get(step.name.value) != prompt:
                    self._prompts[step.name.value] = prompt
                    checklist.replace_option_prompt(step.name.value, prompt)
            selected = self._selected_step()
            if selected is not None:
                s = state.step(selected)
                when = f" {s.finished_at}" if s.finished_at else ""
                self.query_one("#step-note", Static).update(f"[b]{STEP_TITLES[selected]}[/b]\n{s.status.value}{when}\n{s.note}")
            active = self.query_one(TabbedContent).active
            if active == "copy":
                self.query_one(CopyPane).refresh_from(state, self.live)
            elif active == "validators":
                self.query_one(ValidatorsPane).refresh_from(state, self.live)
            elif active == "failed":
                self.query_one(FailedPane).refresh_from(state, self.live)

    def _poll_parcels(self) -> None:
        """Follow parcels this session is not running (started before a reopen, or by a
        colleague's backend) through their heartbeats."""
        campaign = self.campaign
        if campaign is None or campaign.read_only or self.busy or not any(p.status in UNFINISHED for p in campaign.state.parcels):
            return

        def work() -> None:
            for update in steps.refresh_parcels(campaign):
                self.emit(update)

        self.run_worker(work, thread=True, group="heartbeats", exclusive=True, exit_on_error=False)

    def _header(self) -> str:
        assert self.campaign is not None
        state = self.campaign.state
        tx = state.transaction_id[:8] if state.transaction_id else "no transaction"
        nxt = state.next_step()
        if self.holder:
            overall = f"[b red]read-only: driven by {self.holder}[/]"
        elif self.busy:
            overall = f"[cyan]{self.busy}…[/]"
        elif state.aggregate and state.aggregate.all_valid:
            overall = "[green]all valid[/]"
        else:
            overall = f"next: {STEP_TITLES[nxt.name]}" if nxt else "[green]done[/]"
        return f"[b]logcache[/b] {state.campaign_name} · tx {tx} · {self.operator} · {overall}"

    @staticmethod
    def _step_prompt(name: StepName, status: StepStatus) -> str:
        manual = " [dim](manual)[/]" if name in MANUAL_STEPS else ""
        style = ICON_STYLE.get(status, "dim")
        return f"[{style}]{ICONS[status]}[/] {SHORT_TITLES[name]}{manual}"

    def _current_index(self) -> int:
        assert self.campaign is not None
        nxt = self.campaign.state.next_step()
        return list(StepName).index(nxt.name) if nxt else len(StepName) - 1

    def _selected_step(self) -> StepName | None:
        option = self.query_one("#checklist", OptionList).highlighted_option
        return StepName(option.id) if option is not None and option.id else None

    def log_line(self, text: str) -> None:
        self.query_one("#log-view", RichLog).write(f"{datetime.now():%H:%M:%S} {text}")

    def on_engine_event(self, message: EngineEvent) -> None:
        line = self.live.fold(message.event)
        if line:
            self.log_line(line)

    def emit(self, event: Any) -> None:
        """The library's callback, called in a worker thread."""
        self.post_message(EngineEvent(event))

    # --- running work -----------------------------------------------------------------

    def _start(self, what: str, work: Callable[[], object]) -> None:
        if self.campaign is None or self.campaign.read_only:
            self.notify(f"read-only: this campaign is driven by {self.holder}", severity="warning")
            return
        if self.busy:
            self.notify(f"busy: {self.busy} is running", severity="warning")
            return
        self.busy = what
        self.cancel.clear()
        self.log_line(f"{what}: started")
        self.run_worker(partial(self._in_thread, what, work), thread=True, group="step", name=what, exit_on_error=False)

    def _in_thread(self, what: str, work: Callable[[], object]) -> None:
        error = ""
        try:
            work()
        except (LogcacheError, StateError) as exc:
            error = exc.one_line()
        except KeyboardInterrupt:
            error = "stopped; run it again to resume"
        except Exception as exc:  # never a dead app: the step shows the failure
            error = f"internal error: {describe(exc)}"
        self.post_message(StepEnded(what, error))

    def on_step_ended(self, message: StepEnded) -> None:
        self.busy = ""
        self.log_line(f"{message.what}: " + (message.error or "finished"))
        if message.error:
            self.notify(message.error, title=message.what, severity="error")
        self.query_one("#checklist", OptionList).highlighted = self._current_index()
        self._load_diff()
        self._load_results()
        self.refresh_views()
        self._offer_recopy()

    def _offer_recopy(self) -> None:
        assert self.campaign is not None
        open_paths = self.campaign.state.open_failed_paths()
        if len(open_paths) <= self._offered or self.busy:
            self._offered = min(self._offered, len(open_paths))
            return
        self._offered = len(open_paths)
        question = f"{len(open_paths)} failed paths, e.g. {open_paths[-1].url}.\nRe-copy them and re-validate just those datasets?"

        def answer(yes: bool | None) -> None:
            if yes:
                self.action_recopy()

        self.push_screen(ConfirmModal(question, yes="Re-copy", no="Later"), answer)

    def _load_diff(self) -> None:
        campaign = self.campaign
        if campaign is None or not steps.entries_path(campaign).exists():
            return

        def work() -> None:
            try:
                patch = steps.registry_patch(campaign)
            except (LogcacheError, StateError) as exc:
                self.call_from_thread(self.log_line, f"registry diff: {exc.one_line()}")
                return
            self.call_from_thread(self.query_one(DiffPane).show, patch.update.summary(), patch.diff)

        self.run_worker(work, thread=True, group="diff", exclusive=True, exit_on_error=False)

    def _load_results(self) -> None:
        if self.campaign is not None:
            self.query_one(ResultsPane).show(self.campaign.state, read_aggregate(self.campaign.config.work_dir))

    # --- actions ----------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.run_step_named(StepName(event.option.id))

    def run_step_named(self, name: StepName) -> None:
        campaign = self.campaign
        if campaign is None:
            return
        if name in MANUAL_STEPS:
            def noted(note: str | None) -> None:
                if note:
                    self._start(name.value, lambda: steps.confirm_manual(campaign, name, note))

            self.push_screen(PromptModal(f"{STEP_TITLES[name]}: done? Leave a note (image tag, PR URL)", placeholder="note"), noted)
            return
        self._start(name.value, lambda: run_step(campaign, name, self.emit, self.cancel))

    def action_run_all(self) -> None:
        campaign = self.campaign
        if campaign is None:
            return

        def work() -> None:
            outcome = run_campaign(campaign, str(self.campaign_path), self.emit, self.cancel, say=lambda t: self.call_from_thread(self.log_line, t))
            self.call_from_thread(self.log_line, outcome.message)

        self._start("run all", work)

    def action_recopy(self) -> None:
        campaign = self.campaign
        if campaign is not None:
            self._start(StepName.RECOPY_FAILED.value, lambda: steps.run_recopy_failed(campaign, self.emit, self.cancel))

    def action_export_patch(self) -> None:
        campaign = self.campaign
        if campaign is None:
            return
        default = str(default_patch_path(campaign.config, datetime.now().date()))

        def chosen(path: str | None) -> None:
            if path:
                self._start("export the PR patch", lambda: steps.run_registry_export(campaign, Path(path).expanduser()))

        self.push_screen(PromptModal("Export the registry patch to", value=default), chosen)

    def action_apply_patch(self) -> None:
        campaign = self.campaign
        if campaign is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._start("apply the PR patch", lambda: self.log_from_thread(steps.apply_registry(campaign)))

        self.push_screen(ConfirmModal("Apply the registry patch on a new branch of the registry's work tree?", yes="Apply"), confirmed)

    def log_from_thread(self, text: str) -> None:
        self.call_from_thread(self.log_line, text)

    def action_split_stuck(self) -> None:
        campaign = self.campaign
        label = self.query_one(ValidatorsPane).selected()
        if campaign is None or label is None:
            self.notify("select a parcel in the Validators pane first", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_worker(
                    partial(self._in_thread, f"split parcel {label}", lambda: steps.split_stuck(campaign, label, 2, self.emit, self.cancel)),
                    thread=True,
                    group="split",
                    exit_on_error=False,
                )

        self.push_screen(ConfirmModal(f"Split what parcel {label} has not finished into 2 new parcels?", yes="Split"), confirmed)

    def action_toggle_failures(self) -> None:
        pane = self.query_one(CopyPane)
        pane.failures_only = not pane.failures_only
        self.action_tab("copy")

    def action_toggle_invalid(self) -> None:
        pane = self.query_one(ResultsPane)
        pane.invalid_only = not pane.invalid_only
        self.action_tab("results")
        self._load_results()

    def action_sort_table(self) -> None:
        active = self.query_one(TabbedContent).active
        tables = {"copy": "#copy-table", "validators": "#parcels-table", "failed": "#failed-table", "results": "#results-table"}
        table = self.query_one(tables[active], DataTable) if active in tables else None
        if table is None or not table.columns:
            return
        self._sort_column = (self._sort_column + 1) % len(table.columns)
        table.sort(list(table.columns)[self._sort_column], key=str)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.data_table.sort(event.column_key, key=str)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.refresh_views()

    async def action_quit(self) -> None:
        if not self.busy:
            self.exit()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.log_line("stopping: letting work in flight finish")
                self.cancel.set()
                # Polled, not awaited here, so the panes go on updating meanwhile.
                self.set_interval(0.1, self._exit_when_idle)

        self.push_screen(ConfirmModal(f"{self.busy} is running. Stop it and quit? The next start resumes it.", yes="Stop and quit", no="Stay"), confirmed)

    def _exit_when_idle(self) -> None:
        if all(w.is_finished for w in self.workers):
            self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action != "quit":
                yield SystemCommand(binding.description, f"key: {binding.key}", partial(self.run_action, binding.action))
        for name in StepName:
            yield SystemCommand(f"Step: {STEP_TITLES[name]}", "run or confirm this runbook step", partial(self.run_step_named, name))
