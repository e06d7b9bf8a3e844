"""The runbook as a live checklist, with copy, validator, failed-path, PR-diff, results
and log panes.

The app holds no runbook logic: every piece of work calls a `logcache.runbook` function
in a thread worker, started through one gate (`start_work`) that refuses it in a
read-only session or while other work runs. Workers report library events as typed
messages; the app folds them into `Live` and a timer redraws the pane on screen a few
times a second, touching only what is visible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from logcache.campaign import Campaign, open_campaign
from logcache.errors import LogcacheError, describe
from logcache.registry import default_patch_path
from logcache.runbook import SPECS, journal, queries
from logcache.runbook.driver import confirm_manual, run_campaign, run_step
from logcache.runbook.steps import recopy_failed, registry_export, validate
from state.lock import LockHeld
from state.model import ParcelStatus, StepName, StepStatus, operator, utc_now
from tui import alerts
from tui.detail_screen import DetailLoader, DetailScreen, campaign_detail_loader
from tui.glyphs import Glyphs, ascii_scrollbars, terminal_glyphs
from tui.help_screen import HelpScreen
from tui.live import Live
from tui.main_screen import MainScreen, ReadOnlyMainScreen
from tui.messages import LibraryEvent, LogLine, WorkEnded, message_for
from tui.modals import ConfirmModal, PromptModal
from tui.settings import load_settings, save_setting
from tui.widgets.checklist import Checklist
from tui.widgets.copy_pane import CopyPane
from tui.widgets.diff_pane import DiffPane
from tui.widgets.failed_pane import FailedPane
from tui.widgets.results_pane import ResultsPane
from tui.widgets.table import KeyedTable
from tui.widgets.validators_pane import ValidatorsPane

REFRESH_S = 0.25
HEARTBEAT_POLL_S = 2.0
UNFINISHED = {ParcelStatus.PENDING, ParcelStatus.RUNNING, ParcelStatus.STUCK}
JOURNAL_RELOAD = 200
RUN_ALL = "run all"
# Work whose end is worth a bell and a desktop notification: run all, and the steps
# whose spec says so.
LONG_WORK = {RUN_ALL} | {spec.name.value for spec in SPECS.values() if spec.notify}


class LogcacheApp(App[None]):
    TITLE = "logcache"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit", show=False)]
    CSS_PATH = "app.tcss"

    def __init__(self, campaign_path: Path, break_lock: bool = False, glyphs: Glyphs | None = None) -> None:
        """Opens the campaign now, so a bad file, folder or lock is refused (one line,
        exit 2) before the screen takes over the terminal."""
        super().__init__()
        # Textual replaces sys.stderr with a capture that has no file descriptor, and
        # multiprocessing's resource tracker hands stderr's descriptor to the process it
        # starts with the first local validation pool: start it now, while stderr is real.
        resource_tracker.ensure_running()
        self.campaign_path = campaign_path
        self.glyphs = glyphs or terminal_glyphs()
        self.operator = operator()
        self.live = Live()
        self.cancel = threading.Event()
        self.busy = ""
        self.stopping = False
        self.holder = ""
        self._notices: list[str] = []
        self._stack = ExitStack()
        self._offered = 0
        self._continue_run_all = False
        self._manual_next: StepName | None = None
        self._journal_broken = False
        self._panes_ready = False  # the main screen's widgets are all mounted
        self._queued: set[type[LibraryEvent]] = set()  # kinds with a message in the queue
        self._seen_steps: dict[StepName, StepStatus] = {}
        self._theme_ready = False
        self._main: MainScreen | None = None
        self.campaign = self._open(break_lock)
        if self.glyphs.ascii:
            self.add_class("-ascii")
            self._stack.enter_context(ascii_scrollbars())
        theme = load_settings().get("theme")
        if theme and theme in self.available_themes:
            self.theme = theme

    def _open(self, break_lock: bool) -> Campaign:
        try:
            return self._stack.enter_context(open_campaign(self.campaign_path, break_lock=break_lock, notice=self._notices.append))
        except LockHeld as exc:
            self.holder = exc.holder.describe() if exc.holder is not None else "another session"
            self._notices.append(f"read-only: {exc}")
            return self._stack.enter_context(open_campaign(self.campaign_path, write=False))

    # --- lifecycle ----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        self._main = ReadOnlyMainScreen(self.glyphs) if self.campaign.read_only else MainScreen(self.glyphs)
        return self._main

    def screen_ready(self) -> None:
        """The main screen is composed: fill it and start the refresh timers."""
        screen = self.main
        self._panes_ready = True
        try:
            for entry in journal.recent(self.campaign.config.work_dir, JOURNAL_RELOAD):
                screen.log_pane.add_past(entry)
        except OSError as exc:
            self._notices.append(f"the event log cannot be read: {describe(exc)}")
        for notice in self._notices:
            self.log_line(notice, "warning")
        self._offered = len(self.campaign.state.open_failed_paths())
        self._seen_steps = {s.name: s.status for s in self.campaign.state.steps}
        screen.checklist.select(self._current_step())
        self.refresh_views()
        self.set_interval(REFRESH_S, self.refresh_views)
        self.set_interval(HEARTBEAT_POLL_S, self._poll_parcels)
        self.set_interval(HEARTBEAT_POLL_S, self._poll_machines)
        self._poll_machines()
        self._load_finished_parcels()
        self._load_diff()
        self._load_results()
        self.log_line(f"opened {self.campaign_path} as {self.operator}" + (" (read-only)" if self.campaign.read_only else ""))
        self._theme_ready = True

    @property
    def main(self) -> MainScreen:
        assert self._main is not None, "the main screen is pushed on mount"
        return self._main

    def on_unmount(self) -> None:
        self._stack.close()

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready:
            save_setting("theme", theme)

    # --- what the screen shows ----------------------------------------------------------

    def refresh_views(self) -> None:
        # The main screen, even under a dialog or the help: its panes keep up. Not once the
        # app is shutting down: the timer still ticks while the screens' widgets go.
        if self._main is not None and self._panes_ready and self.is_running:
            self._watch_steps()
            with self.live.lock:
                self._main.refresh_panes()

    def header_markup(self) -> str:
        state = self.campaign.state
        sep = f" {self.glyphs.separator} "
        nxt = state.next_step()
        if self.holder:
            overall = f"[b red]read-only: driven by {escape(self.holder)}[/]"
        elif self.stopping:
            overall = f"[yellow]stopping {escape(self.busy)}{self.glyphs.ellipsis}[/]"
        elif self.busy:
            overall = f"[cyan]{escape(self.busy)}{self.glyphs.ellipsis}[/]"
        elif state.aggregate and state.aggregate.all_valid:
            overall = "[green]all valid[/]"
        else:
            overall = f"next: {SPECS[nxt.name].title}" if nxt else "[green]done[/]"
        tx = f"tx {state.transaction_id[:8]}" if state.transaction_id else "no transaction"
        # What matters first: at 80 columns the end is cut, never the next step.
        return sep.join([f"[b]logcache[/b] {escape(state.campaign_name)}", overall, tx, escape(self.operator)])

    def _watch_steps(self) -> None:
        """Say in a toast what the run-all driver starts on its own: the re-copy."""
        for step in self.campaign.state.steps:
            before = self._seen_steps.get(step.name)
            if before is step.status:
                continue
            self._seen_steps[step.name] = step.status
            if step.name is not StepName.RECOPY_FAILED or step.status is StepStatus.PENDING:
                continue
            # Seen running, or already ended when a fast re-copy fell between refreshes.
            paths = [fp for fp in self.campaign.state.failed_paths if fp.resolution.value in ("open", "recopied")] if step.status is StepStatus.RUNNING else []
            if step.status is StepStatus.RUNNING and not paths:
                continue  # nothing to announce
            names = ", ".join(dict.fromkeys(fp.dataset_name for fp in paths if fp.dataset_name))
            # Never about the pane on screen.
            see = "" if self.main.active_tab == "failed" else "; see 3 Failed"
            text = (
                f"re-copying {len(paths)} failed paths" + (f" ({names})" if names else "") + f", then re-validating those datasets{see}"
                if step.status is StepStatus.RUNNING
                else f"re-copy of failed paths {step.status.value}" + (f": {step.note}" if step.note else "") + see
            )
            self.log_line(text)
            self.notify(text, title="re-copy", timeout=10, severity="error" if step.status is StepStatus.FAILED else "information")

    def _current_step(self) -> StepName:
        nxt = self.campaign.state.next_step()
        return nxt.name if nxt else list(StepName)[-1]

    def log_line(self, text: str, level: str = "info") -> None:
        """A line in the Log pane and, in a session that drives the campaign, in the
        campaign's event log."""
        if self._main is not None:
            self._main.log_pane.add(datetime.now(), text)
        if not self.campaign.read_only and not self._journal_broken:
            try:
                journal.append(self.campaign.config.work_dir, journal.JournalEntry(utc_now(), self.operator, text, level))
            except OSError as exc:
                self._journal_broken = True  # said once; the Log pane goes on
                self.notify(f"the event log cannot be written: {describe(exc)}", severity="warning")

    def on_log_line(self, message: LogLine) -> None:
        if message.level == "toast":
            self.notify(message.text)
        self.log_line(message.text, "info" if message.level == "toast" else message.level)

    @on(LibraryEvent)  # every kind: `on` matches subclasses, the naming convention does not
    def library_event(self, message: LibraryEvent) -> None:
        with self.live.lock:
            self._queued.discard(type(message))
        if message.line:
            self.log_line(message.line)

    def emit(self, event: Any) -> None:
        """The library's callback, called in a worker thread: the event is folded here,
        before any widget sees it, and the app is told. A message with nothing for the
        Log is posted only when none of its kind waits in the queue: each post wakes the
        app's thread through a socket, 1.2 s of a 5,000-dataset copy's 13 s."""
        with self.live.lock:
            line = self.live.fold(event)
            message = message_for(event, line)
            if line is None and type(message) in self._queued:
                return
            self._queued.add(type(message))
        self.post_message(message)

    @property
    def manual_steps(self) -> frozenset[StepName]:
        """The steps the operator does in this campaign (a configured hook does the others)."""
        return frozenset(name for name, spec in SPECS.items() if spec.manual_for(self.campaign.config))

    def say(self, text: str) -> None:
        """A line for the Log, from a worker thread."""
        self.post_message(LogLine(text))

    # --- the gate -----------------------------------------------------------------------

    def refusal(self, what: str) -> str | None:
        """Why `what` may not start now, or None."""
        if self.campaign.read_only:
            return f"read-only: {self.holder or 'another session'} drives this campaign, so {what} was not started"
        if self.stopping:
            return f"stopping: {what} was not started"
        if self.busy:
            return f"busy: {self.busy} is running, so {what} was not started"
        return None

    def allowed(self, what: str) -> bool:
        """The gate's check, for actions that ask a question before starting work."""
        reason = self.refusal(what)
        if reason:
            self.notify(reason, title="not started", severity="warning")
        return reason is None

    def start_work(self, what: str, work: Callable[[], str | None]) -> bool:
        """The one way work starts: refused (with the reason in a toast) in a read-only
        session or while other work runs; otherwise run in a thread worker. `work`
        returns a line worth a toast, or None."""
        if not self.allowed(what):
            return False
        self.busy = what
        self.cancel.clear()
        self.log_line(f"{what}: started")
        self.run_worker(partial(self._in_thread, what, work), thread=True, group="work", name=what, exit_on_error=False)
        self.refresh_views()
        return True

    def _in_thread(self, what: str, work: Callable[[], str | None]) -> None:
        started = time.monotonic()
        error = ""
        try:
            summary = work()
            if summary:
                self.post_message(LogLine(summary, "toast"))
        except LogcacheError as exc:
            error = exc.one_line()
        except KeyboardInterrupt:
            error = "stopped; run it again to resume"
        except Exception as exc:  # never a dead app: the step shows the failure
            error = f"internal error: {describe(exc)}"
        self.post_message(WorkEnded(what, error, what in LONG_WORK, time.monotonic() - started))

    def on_work_ended(self, message: WorkEnded) -> None:
        self.busy = ""
        self.log_line(f"{message.what}: " + (message.error or "finished") + f" ({message.elapsed_s:.1f} s)", "error" if message.error else "info")
        if message.error:
            self.notify(message.error, title=message.what, severity="error")
        if message.long and not self.stopping:
            self.alert(message.what, message.error or "finished")
        if self.stopping:
            return
        self.main.checklist.select(self._current_step())
        self._load_diff()
        self._load_results()
        with self.live.lock:
            self.main.refresh_panes(force=True)
        if self._continue_run_all and not message.error and message.what.startswith("confirm"):
            self._continue_run_all = False
            self.run_all()
            return
        self._continue_run_all = False
        manual, self._manual_next = self._manual_next, None
        if manual is not None:
            self.run_step_named(manual, continue_run_all=True)
            return
        self._offer_recopy()

    def alert(self, title: str, body: str) -> None:
        """The bell and a desktop notification, for the end of long work."""
        self.bell()
        self.write_escape(alerts.osc_notification(f"logcache: {title}", body, alerts.inside_tmux()))

    def write_escape(self, sequence: str) -> None:
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(sequence)

    # --- work ---------------------------------------------------------------------------

    def _poll_parcels(self) -> None:
        """Follow parcels this session is not running (started before a reopen, or by a
        colleague's backend) through their heartbeats."""
        campaign = self.campaign
        if campaign.read_only or self.busy or not any(p.status in UNFINISHED for p in campaign.state.parcels):
            return

        def work() -> None:
            for update in validate.refresh_parcels(campaign):
                self.emit(update)

        self.run_worker(work, thread=True, group="heartbeats", exclusive=True, exit_on_error=False)

    def _load_finished_parcels(self) -> None:
        """Bytes and heartbeats of the parcels that ended before this session, once: the
        Validators pane shows them, not blanks. Set without folding: no Log line each."""
        campaign = self.campaign

        def work() -> None:
            updates = queries.finished_parcels(campaign)
            with self.live.lock:
                for update in updates:
                    self.live.parcels.setdefault(update.label, update)

        self.run_worker(work, thread=True, group="parcels", exclusive=True, exit_on_error=False)

    def _poll_machines(self) -> None:
        """The machines an asynchronous submitter's parcels hold, for the Validators pane."""
        campaign = self.campaign
        if not campaign.config.submitter.submit:
            return

        def work() -> None:
            usage = queries.machine_usage(campaign)
            with self.live.lock:
                self.live.machines = usage

        self.run_worker(work, thread=True, group="machines", exclusive=True, exit_on_error=False)

    def _offer_recopy(self) -> None:
        open_paths = self.campaign.state.open_failed_paths()
        if len(open_paths) <= self._offered or self.busy or self.campaign.read_only:
            self._offered = min(self._offered, len(open_paths))
            return
        self._offered = len(open_paths)
        question = f"{len(open_paths)} failed paths, e.g. {open_paths[-1].url}.\nRe-copy them and re-validate just those datasets?"

        def answer(yes: bool | None) -> None:
            if yes:
                self.recopy()

        self.push_screen(ConfirmModal(question, yes="Re-copy", no="Later"), answer)

    def _load_diff(self) -> None:
        campaign = self.campaign
        if not queries.entries_path(campaign).exists():
            return

        def work() -> None:
            try:
                patch = queries.registry_patch(campaign)
            except LogcacheError as exc:
                self.say(f"registry diff: {exc.one_line()}")
                return
            self.call_from_thread(self.main.show_diff, patch.update.summary(), patch.diff)

        self.run_worker(work, thread=True, group="diff", exclusive=True, exit_on_error=False)

    def _load_results(self) -> None:
        """Every pair's current row, once validation has begun."""
        campaign = self.campaign

        def work() -> None:
            try:
                rows = queries.current_results(campaign) if campaign.state.parcels else []
            except (LogcacheError, OSError) as exc:
                self.say(f"results: {exc.one_line() if isinstance(exc, LogcacheError) else describe(exc)}")
                return
            self.call_from_thread(self.main.show_results, rows)

        self.run_worker(work, thread=True, group="results", exclusive=True, exit_on_error=False)

    def run_step_named(self, name: StepName, continue_run_all: bool = False) -> None:
        campaign = self.campaign
        if name in self.manual_steps:
            if not self.allowed(f"confirm {name.value}"):
                return
            prompt = SPECS[name].prompt
            assert prompt is not None, f"{name} is manual, so its spec asks for its note"

            def noted(note: str | None) -> None:
                if note:
                    self._continue_run_all = continue_run_all
                    self.start_work(f"confirm {name.value}", lambda: confirm_manual(campaign, name, note) or f"{SPECS[name].title}: done ({note})")
                elif continue_run_all:
                    self.log_line(f"run all: waiting at {SPECS[name].title}; Enter on it when it is done")

            self.push_screen(PromptModal(prompt.question, placeholder=prompt.placeholder), noted)
            return
        def work() -> str:
            run_step(campaign, name, self.emit, self.cancel)
            return f"{SPECS[name].title}: {campaign.state.step(name).note}"

        self.start_work(name.value, work)

    def run_all(self) -> None:
        campaign = self.campaign

        def work() -> str:
            outcome = run_campaign(campaign, str(self.campaign_path), self.emit, self.cancel)
            if outcome.stopped_at in self.manual_steps:
                # Its prompt opens when this work has ended; never a CLI command, since
                # Enter on the step does the same.
                self._manual_next = outcome.stopped_at
                return f"run all: stopped at {SPECS[outcome.stopped_at].title}, a manual step"
            return f"run all: {outcome.message}"

        self.start_work(RUN_ALL, work)

    def recopy(self) -> None:
        campaign = self.campaign
        self.start_work(StepName.RECOPY_FAILED.value, lambda: recopy_failed.run(campaign, self.emit, self.cancel))

    def export_patch(self, path: Path | None = None) -> None:
        """Export at once (no prompt for keys typed after `e` to land in) to the default
        path; the palette offers a chosen path."""
        campaign = self.campaign
        self.start_work("export the PR patch", lambda: f"exported the PR patch to {registry_export.run(campaign, out=path)}")

    def export_patch_to(self) -> None:
        if not self.allowed("export the PR patch"):
            return
        default = str(default_patch_path(self.campaign.config, datetime.now().date()))

        def chosen(path: str | None) -> None:
            if path:
                self.export_patch(Path(path).expanduser())

        self.push_screen(PromptModal("Export the registry patch to", value=default), chosen)

    def apply_patch(self) -> None:
        campaign = self.campaign
        if not self.allowed("apply the PR patch"):
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.start_work("apply the PR patch", lambda: f"applied the PR patch: {registry_export.apply_registry(campaign)}")

        self.push_screen(ConfirmModal("Apply the registry patch on a new branch of the registry's work tree?", yes="Apply"), confirmed)

    def split_stuck(self, label: str | None) -> None:
        campaign = self.campaign
        if not self.allowed("split a stuck parcel"):
            return
        if label is None:
            self.notify("select a parcel in the Validators pane (2) first", severity="warning")
            return

        def split() -> str:
            run = validate.split_stuck(campaign, label, 2, self.emit, self.cancel)
            return f"split parcel {label}: {run.pairs} pairs checked again"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.start_work(f"split parcel {label}", split)

        self.push_screen(ConfirmModal(f"Split what parcel {label} has not finished into 2 new parcels?", yes="Split"), confirmed)

    def open_detail(self, pair: str, load: DetailLoader | None = None) -> None:
        self.push_screen(DetailScreen(pair, load or campaign_detail_loader(self.campaign)))

    def show_help(self) -> None:
        groups: list[tuple[str, list[BindingType]]] = [
            ("Everywhere", [b for b in MainScreen.BINDINGS if not (self.campaign.read_only and isinstance(b, Binding) and b.key == "r")]),
            ("Checklist", list(Checklist.BINDINGS)),
            ("1 Copy", list(CopyPane.BINDINGS)),
            ("2 Validators", list(ValidatorsPane.BINDINGS)),
            ("3 Failed", list(FailedPane.BINDINGS)),
            ("4 PR diff", list(DiffPane.BINDINGS)),
            ("5 Results", list(ResultsPane.BINDINGS)),
            ("In tables", list(KeyedTable.BINDINGS) + [Binding("up,down,pageup,pagedown", "", "Move"), Binding("enter", "", "Open the row")]),
        ]
        notes = [
            "[b]Also[/b]",
            "  ctrl+p         command palette (themes, every step, export to a chosen path)",
            "  tab            next pane or widget",
            "",
            "[b]Notifications[/b]",
            # One line per paragraph: the help wraps it to the screen.
            (
                "  When a copy, a validation, a re-copy or run all ends, the terminal bell rings and a desktop notification"
                " is sent (OSC 9 and OSC 777; in tmux, set allow-passthrough on)."
            ),
            "  Every event is kept in the work dir's events.jsonl: `logcache log CAMPAIGN` prints it.",
        ]
        if self.campaign.read_only:
            notes.insert(0, f"[b]Read-only[/b]: {escape(self.holder)} drives this campaign; no key starts work.\n")
        self.push_screen(HelpScreen(groups, notes))

    # --- quitting -----------------------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.busy:
            self.exit()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.stopping = True
                self.log_line(f"stopping {self.busy}")
                self.cancel.set()
                self.refresh_views()
                # Polled, not awaited here, so the panes go on updating meanwhile.
                self.set_interval(0.05, self._exit_when_stopped)

        self.push_screen(ConfirmModal(f"{self.busy} is running. Stop it and quit? The next start resumes it.", yes="Stop and quit", no="Stay"), confirmed)

    def _exit_when_stopped(self) -> None:
        # Only the work matters: heartbeat, diff and results readers are short and
        # write nothing.
        if not any(w.group == "work" and not w.is_finished for w in self.workers):
            self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Keys":  # Textual's narrow keys panel: our help replaces it
                yield command
        yield SystemCommand("Help: every key", "keys by pane, notifications (also ? and F1)", self.show_help)
        yield SystemCommand("Run all", "every automatable step in order, up to the next manual one (r)", self.run_all)
        yield SystemCommand("Re-copy failed", "re-copy the failed paths and re-validate those datasets (c)", self.recopy)
        yield SystemCommand("Export PR patch", "write the registry patch to its default path (e)", self.export_patch)
        yield SystemCommand("Export PR patch to...", "write the registry patch to a path you choose", self.export_patch_to)
        yield SystemCommand("Apply PR patch", "apply the patch on a new branch of the registry (a)", self.apply_patch)
        yield SystemCommand("Split stuck parcel", "the parcel selected in Validators, in 2 (x)", lambda: self.split_stuck(self.main.selected_parcel()))
        for name in StepName:
            yield SystemCommand(f"Step: {SPECS[name].title}", "run or confirm this runbook step", partial(self.run_step_named, name))
