"""The runbook as a live checklist, with copy, validator, failed-path, PR-diff, results
and log panes.

The app holds the campaign, the live view, the work gate and the workers; the main
screen (tui/main_screen.py) owns the panes and the operator's actions, and reaches the
app only through `tui.host.Host`. The app holds no runbook logic: every piece of work
calls a `logcache.runbook` function in a thread worker, started through one gate
(`start_work`) that refuses it in a read-only session or while other work runs. Workers
report runbook events as typed messages; the app folds them into `Live`, and the screen
redraws the pane on screen from it a few times a second, touching only what is visible.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import datetime
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from logcache.campaign import Campaign, open_campaign
from logcache.cli.common import Exit
from logcache.errors import LogcacheError, describe
from logcache.runbook import SPECS, journal, queries
from logcache.runbook.events import RunbookEvent
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.steps import validate
from state.lock import LockHeld, LockState, LockStatus
from state.model import ParcelStatus, StepName, operator, utc_now
from tui import alerts, heap, signals
from tui.glyphs import Glyphs, ascii_scrollbars, terminal_glyphs
from tui.host import Work
from tui.live import Live, RegistryDiff
from tui.main_screen import MainScreen, ReadOnlyMainScreen
from tui.messages import LogLine, RunbookMessage, WorkEnded, replace_key
from tui.modals import ConfirmModal
from tui.settings import load_settings, save_setting
from tui.toasts import SEE_FAILED, step_toast
from tui.watch import POLL_S, Poll, Watched, Watcher

HEARTBEAT_POLL_S = 2.0
UNFINISHED = {ParcelStatus.PENDING, ParcelStatus.RUNNING, ParcelStatus.STUCK}
JOURNAL_RELOAD = 200


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
        self._journal_broken = False
        self._queued: set[object] = set()  # `replace_key`s of wake-ups waiting in the queue
        self._theme_ready = False
        self._main: MainScreen | None = None
        self._exit_code = 0
        self._signals = 0  # stop signals received
        self._previous_handlers: signals.Previous = {}
        self._work_thread: int | None = None  # the thread ident of the work in flight
        # Held while that ident is set, cleared or interrupted: the pool's thread must
        # never get the interrupt meant for work it has finished.
        self._work_thread_lock = threading.Lock()
        self._watcher: Watcher | None = None
        self._said_elsewhere = False
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

    def on_mount(self) -> None:
        """Fill the live view (the Log's history, what the readers load) and start the
        pollers; the screen shows it from its first refresh."""
        self._previous_handlers = signals.install(self.post_message)
        if self.campaign.read_only:
            # Before the history is read: a line appended meanwhile shows twice, never not.
            self._watcher = Watcher(self.campaign)
            self.set_interval(POLL_S, self._watch)
        try:
            for entry in journal.recent(self.campaign.config.work_dir, JOURNAL_RELOAD):
                self.live.add_log(entry)
        except OSError as exc:
            self._notices.append(f"the event log cannot be read: {describe(exc)}")
        for notice in self._notices:
            self.log_line(notice, "warning")
        self.set_interval(heap.FREEZE_EVERY_S, lambda: heap.settle(bool(self.busy)))
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
        heap.settle(working=False)
        signals.restore(self._previous_handlers)
        self._stack.close()

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready:
            save_setting("theme", theme)

    def refresh_views(self) -> None:
        """Redraw the main screen now rather than at its next tick."""
        if self._main is not None:
            self._main.refresh_panes()

    # --- the Log and the runbook's events -----------------------------------------------

    def log_line(self, text: str, level: str = "info", journal_it: bool = True) -> None:
        """A line in the Log pane and, in a session that drives the campaign, in the
        campaign's event log; the runbook journals the library's events itself
        (`journal_it=False`), so only the app's own lines are written here."""
        self.live.add_log((datetime.now(), text))
        if journal_it and not self.campaign.read_only and not self._journal_broken:
            try:
                journal.append(self.campaign.config.work_dir, journal.JournalEntry(utc_now(), self.operator, text, level))
            except OSError as exc:
                self._journal_broken = True  # said once; the Log pane goes on
                self.notify(f"the event log cannot be written: {describe(exc)}", severity="warning")

    def on_log_line(self, message: LogLine) -> None:
        if message.level == "toast":
            self.notify(message.text)
        self.log_line(message.text, "info" if message.level == "toast" else message.level)

    @on(RunbookMessage)
    def runbook_event(self, message: RunbookMessage) -> None:
        with self.live.lock:
            self._queued.discard(replace_key(message.event))
        if message.line:
            self.log_line(message.line, journal_it=False)
        if message.toast is not None:
            toast = message.toast
            # Never about the pane on screen.
            text = toast.text.removesuffix(SEE_FAILED) if self.main.active_tab == "failed" else toast.text
            self.log_line(text)
            self.notify(text, title=toast.title, timeout=10, severity=toast.severity)

    def emit(self, event: RunbookEvent) -> None:
        """The runbook's event sink, called in a worker thread: the event is folded here,
        before any widget sees it, and the app is told. A message with nothing for the
        Log is posted only when none of its kind waits in the queue: each post wakes the
        app's thread through a socket, 1.2 s of a 5,000-dataset copy's 13 s."""
        toast = step_toast(event, self.campaign)  # may read the entries: not under the lock
        with self.live.lock:
            message = RunbookMessage(event, self.live.fold(event), toast)
            key = replace_key(event)
            if message.droppable and key in self._queued:
                return
            self._queued.add(key)
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

    def start_work(self, what: str, work: Work, notify: bool = False) -> bool:
        """The one way work starts: refused (with the reason in a toast) in a read-only
        session or while other work runs; otherwise run in a thread worker. `work`
        returns a line worth a toast, or None; `notify` rings at its end."""
        if not self.allowed(what):
            return False
        self.busy = what
        self.cancel.clear()
        self.log_line(f"{what}: started")
        self.run_worker(partial(self._in_thread, what, work, notify), thread=True, group="work", name=what, exit_on_error=False)
        self.refresh_views()
        return True

    def _in_thread(self, what: str, work: Work, notify: bool) -> None:
        started = time.monotonic()
        error = ""
        with self._work_thread_lock:
            self._work_thread = threading.get_ident()
        try:
            summary = work()
            if summary:
                self.post_message(LogLine(summary, "toast"))
        except StepFailed as exc:
            # What was found, without the CLI's way on: the Failed pane has the keys.
            error = exc.finding
        except LogcacheError as exc:
            error = exc.one_line()
        except KeyboardInterrupt:
            error = "stopped; run it again to resume"
        except Exception as exc:  # noqa: BLE001 - never a dead app: the step shows the failure
            error = f"internal error: {describe(exc)}"
        finally:
            with self._work_thread_lock:
                self._work_thread = None
        self.post_message(WorkEnded(what, error, notify, time.monotonic() - started))

    def on_work_ended(self, message: WorkEnded) -> None:
        self.busy = ""
        self.log_line(f"{message.what}: " + (message.error or "finished") + f" ({message.elapsed_s:.1f} s)", "error" if message.error else "info")
        if message.error:
            self.notify(message.error, title=message.what, severity="error")
        if message.notify and not self.stopping:
            self.alert(message.what, message.error or "finished")
        if self.stopping:
            return
        self._load_diff()
        self._load_results()
        self.main.after_work(message)

    def alert(self, title: str, body: str) -> None:
        """The bell and a desktop notification, for the end of long work."""
        self.bell()
        self.write_escape(alerts.osc_notification(f"logcache: {title}", body, alerts.inside_tmux()))

    def write_escape(self, sequence: str) -> None:
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(sequence)

    # --- readers: what the panes show beside the state, loaded in threads ---------------

    def _poll_parcels(self) -> None:
        """Follow parcels this session is not running (started before a reopen, or by a
        colleague's backend) through their heartbeats. A read-only session only reads:
        the heartbeats update the state in memory and the Validators pane, and the Log
        gets the driver's lines from the journal rather than its own."""
        campaign = self.campaign
        if self.busy or not any(p.status in UNFINISHED for p in campaign.state.parcels):
            return

        def work() -> None:
            updates = validate.refresh_parcels(campaign)
            if not campaign.read_only:
                for update in updates:
                    self.emit(update)
                return
            with self.live.lock:
                for update in updates:
                    self.live.fold(update)

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

    # --- a read-only session follows the driver, and takes over when it is gone ---------

    def _watch(self) -> None:
        watcher = self._watcher
        if watcher is None or any(w.group == "watch" and not w.is_finished for w in self.workers):
            return

        def work() -> None:
            self.post_message(Watched(watcher.poll()))

        self.run_worker(work, thread=True, group="watch", exit_on_error=False)

    def on_watched(self, message: Watched) -> None:
        poll = message.poll
        for entry in poll.entries:
            self.live.add_log(entry)
        if poll.took_over:
            self._became_driver(poll)
        elif poll.held_by is not None:
            self._lock_moved(poll.held_by, f"{self.holder} is gone, but the campaign could not be taken over")
        else:
            self._lock_moved(poll.lock)
        if poll.reloaded:
            self._load_results()
            if self.live.diff is None:
                self._load_diff()

    def _lock_moved(self, status: LockStatus, why: str = "") -> None:
        """Keep naming who drives; say once how to break a lock held from another host."""
        if status.state is LockState.ELSEWHERE and status.holder is not None:
            self.holder = f"{status.holder.describe()} on host {status.holder.host}"
            if not self._said_elsewhere:
                self._said_elsewhere = True
                text = (
                    f"{self.holder} holds the campaign; this host cannot tell whether that session still runs, "
                    f"so it is never taken over by guessing. If it is gone: logcache tui {self.campaign_path} --break-lock"
                )
                self.log_line(text, "warning")
                self.notify(text, title="read-only", severity="warning", timeout=15)
            return
        if status.state is LockState.LIVE and status.holder is not None and status.holder.describe() != self.holder:
            self.holder = status.holder.describe()
            text = (why + ": " if why else "") + f"now driven by {self.holder}"
            self.log_line(text, "warning")
            self.notify(text, title="read-only", severity="warning")

    def _became_driver(self, poll: Poll) -> None:
        """The driver is gone and this session holds the lock now: it says so, and its
        screen becomes the driver's (the header, the footer's work keys)."""
        gone = "released the campaign" if poll.lock.state is LockState.FREE else "is no longer running"
        text = f"{self.holder or 'the previous driver'} {gone}: this session took the campaign over and drives it now"
        self.holder = ""
        self._watcher = None
        self.log_line(text)
        for notice in poll.notices:
            self.log_line(notice)
        self.notify(text, title="took over", timeout=10)
        while self._main is not None and self.screen is not self._main:
            self.pop_screen()  # the help or a detail: none of them holds work
        # The read-only screen stays at the bottom of the stack (Textual switches only
        # pushed screens), drawn over and no longer refreshed.
        self.main.retire()
        self._main = MainScreen(self.glyphs)
        self.push_screen(self._main)

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
            diff = RegistryDiff(patch.summary(), patch.diff, patch.excluded)
            with self.live.lock:
                self.live.diff = diff

        self.run_worker(work, thread=True, group="diff", exclusive=True, exit_on_error=False)

    def _load_results(self) -> None:
        """Every pair's current row, once validation has begun, and the next actions
        they and the failed paths call for."""
        campaign = self.campaign
        campaign_arg = str(self.campaign_path)

        def work() -> None:
            try:
                rows, actions = queries.findings(campaign, campaign_arg)
            except (LogcacheError, OSError) as exc:
                self.say(f"results: {exc.one_line() if isinstance(exc, LogcacheError) else describe(exc)}")
                return
            with self.live.lock:
                self.live.results, self.live.actions = rows, actions

        self.run_worker(work, thread=True, group="results", exclusive=True, exit_on_error=False)

    # --- quitting -----------------------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.busy:
            self.exit()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.stop_and_exit()

        self.push_screen(ConfirmModal(f"{self.busy} is running. Stop it and quit? The next start resumes it.", yes="Stop and quit", no="Stay"), confirmed)

    def stop_and_exit(self, return_code: int = 0) -> None:
        """Let the work in flight finish (its cancel event is set), then exit; the state
        is saved as the campaign closes."""
        self._exit_code = return_code
        if not self.busy:
            self.exit(return_code=return_code)
            return
        if self.stopping:
            return
        self.stopping = True
        self.log_line(f"stopping {self.busy}")
        self.cancel.set()
        self.refresh_views()
        # Polled, not awaited here, so the panes go on updating meanwhile.
        self.set_interval(0.05, self._exit_when_stopped)

    def _exit_when_stopped(self) -> None:
        # Only the work matters: heartbeat, diff and results readers are short and
        # write nothing.
        if not any(w.group == "work" and not w.is_finished for w in self.workers):
            self.exit(return_code=self._exit_code)

    # --- stop signals -------------------------------------------------------------------

    def on_stop_signalled(self, message: signals.StopSignalled) -> None:
        """The first signal lets the work in flight finish, then the app exits 130 with
        the state saved; a second one stops the work at once (still saved)."""
        signum = message.signum
        self._signals += 1
        if self._signals == 1:
            self.log_line(f"{signum.name}: letting work in flight finish, then quitting (again to stop now)", "warning")
            self.stop_and_exit(Exit.INTERRUPTED)
            return
        self.log_line(f"{signum.name} again: stopping now", "warning")
        self._interrupt_work()

    def _interrupt_work(self) -> None:
        """What a second Ctrl-C does to the CLI's work, done to the work's thread: a
        KeyboardInterrupt raised in it, which the runbook records as an interruption
        (the step left pending, its parcels interrupted) before the app exits."""
        with self._work_thread_lock:
            if self._work_thread is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._work_thread), ctypes.py_object(KeyboardInterrupt))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Keys":  # Textual's narrow keys panel: our help replaces it
                yield command
        yield from self.main.commands()
