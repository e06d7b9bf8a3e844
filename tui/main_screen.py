"""The main screen: a header, the checklist, one tab per pane and a footer that shows the
keys of the pane in focus.

It owns its panes, their refresh and the operator's actions: a key or a palette command
asks a question if it needs to, then starts work through the app's gate (`Host`). Each
pane satisfies one protocol (`tui.widgets.pane.Pane`); the screen keeps the list of pane
classes, `PANES`, and knows nothing else of them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar, TypeGuard, cast

from rich.markup import escape
from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from logcache.errors import LogcacheError
from logcache.runbook import SPECS, queries
from logcache.runbook.driver import Stop, check_manual_note, confirm_manual, run_campaign, run_step
from logcache.runbook.steps import exclude, recopy_failed, registry_export, validate
from state.model import StepName, StepStatus
from tui import findings
from tui.detail_screen import DetailLoader, DetailScreen, campaign_detail_loader
from tui.glyphs import Glyphs
from tui.help_screen import HelpScreen
from tui.host import Host
from tui.messages import Question, WorkEnded
from tui.modals import ConfirmModal, PromptModal
from tui.widgets.checklist import Checklist, ChecklistLegend
from tui.widgets.copy_pane import CopyPane
from tui.widgets.diff_pane import DiffPane
from tui.widgets.failed_pane import FailedPane, failed_path_loader
from tui.widgets.lines import set_line
from tui.widgets.log_pane import LogPane
from tui.widgets.pane import Pane
from tui.widgets.results_pane import ResultsPane
from tui.widgets.table import KeyedTable
from tui.widgets.validators_pane import ValidatorsPane

REFRESH_S = 0.25
FAILED_SELECTION = "a dataset or pair in the Failed pane (3)"
# Below this width the checklist shows its icons only, so tables keep their room.
COLLAPSE_BELOW = 100
# The tabs, in order; the key of each is its position (1, 2, ...).
PANES: tuple[type[Pane], ...] = (CopyPane, ValidatorsPane, FailedPane, DiffPane, ResultsPane, LogPane)


def tab_bindings(panes: Sequence[type[Pane]]) -> list[BindingType]:
    return [Binding(str(i), f"tab('{pane.TAB}')", pane.TITLE, show=False) for i, pane in enumerate(panes, 1)]


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run_all", "Run all"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
        # Work keys that panes show when focused; they work from anywhere.
        Binding("c", "recopy", "Re-copy failed", show=False),
        Binding("e", "export_patch", "Export PR", show=False),
        Binding("a", "apply_patch", "Apply PR", show=False),
        Binding("x", "split_stuck", "Split stuck", show=False),
        Binding("b", "toggle_checklist", "Collapse checklist", show=False),
        *tab_bindings(PANES),
    ]
    DEFAULT_CSS = """
    MainScreen > #header { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MainScreen > #main { height: 1fr; }
    MainScreen #tabs { width: 1fr; }
    MainScreen TabPane { padding: 0; }
    """

    # The pane classes this screen composes; a read-only screen swaps in variants.
    panes: ClassVar[Sequence[type[Pane]]] = PANES

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self.glyphs = glyphs
        self._auto_collapsed: bool | None = None
        self._ready = False  # composed and mounted: the panes exist
        self._offered = 0  # open failed paths already offered for a re-copy
        self._continue_run_all = False
        self._manual_next: StepName | None = None

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="header")
        with Horizontal(id="main"):
            yield Checklist(self.glyphs, id="steps")
            with TabbedContent(id="tabs", initial=self.panes[0].TAB):
                for pane in self.panes:
                    with TabPane(pane.TITLE, id=pane.TAB):
                        yield cast(Widget, pane(self.glyphs))  # every pane is a widget
        yield ChecklistLegend(self.glyphs, id="legend")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._ready = True
        self._offered = len(self.host.campaign.state.open_failed_paths())
        self.checklist.select(self._current_step())
        self.refresh_panes()
        self.set_interval(REFRESH_S, self.refresh_panes)

    def retire(self) -> None:
        """Another main screen took this one's place (a take-over): no more refreshes."""
        self._ready = False

    # --- what the screen shows ----------------------------------------------------------

    @property
    def checklist(self) -> Checklist:
        return self.query_one(Checklist)

    @property
    def active_tab(self) -> str:
        return str(self.query_one(TabbedContent).active)

    def pane(self, tab: str) -> Pane:
        return cast(Pane, self.query_one(f"TabPane#{tab}").children[0])

    def refresh_panes(self, force: bool = False) -> None:
        """The header's and checklist's state, and the pane on screen (only that one),
        even under a dialog or the help. Not once the app is shutting down: the timer
        still ticks while the screens' widgets go."""
        if not self._ready or not self.app.is_running:
            return
        host = self.host
        with host.live.lock:
            state = host.campaign.state
            set_line(self.query_one("#header", Static), self.header_markup())
            self.checklist.manual = host.manual_steps
            self.checklist.refresh_from(state)
            self.pane(self.active_tab).refresh_from(state, host.live, force=force)

    def header_markup(self) -> str:
        host = self.host
        state = host.campaign.state
        sep = f" {self.glyphs.separator} "
        nxt = state.next_step()
        if host.holder:
            overall = f"[b red]read-only: driven by {escape(host.holder)}[/]"
        elif host.stopping:
            overall = f"[yellow]stopping {escape(host.busy)}{self.glyphs.ellipsis}[/]"
        elif host.busy:
            overall = f"[cyan]{escape(host.busy)}{self.glyphs.ellipsis}[/]"
        elif state.aggregate and state.aggregate.all_valid:
            overall = "[green]all valid[/]"
        elif nxt is not None and nxt.status is StepStatus.FAILED and host.live.actions:
            # The step again would fail again: the fix of its findings comes first.
            overall = f"[yellow]next: {escape(findings.short(host.live.actions[0]))}[/]"
        else:
            overall = f"next: {SPECS[nxt.name].title}" if nxt else "[green]done[/]"
        tx = f"tx {state.transaction_id[:8]}" if state.transaction_id else "no transaction"
        # What matters first: at 80 columns the end is cut, never the next step.
        return sep.join([f"[b]logcache[/b] {escape(state.campaign_name)}", overall, tx, escape(host.operator)])

    def _current_step(self) -> StepName:
        nxt = self.host.campaign.state.next_step()
        return nxt.name if nxt else list(StepName)[-1]

    # --- layout -------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < COLLAPSE_BELOW
        if narrow != self._auto_collapsed:
            self._auto_collapsed = narrow
            self.checklist.collapsed = narrow
        # The footer lays its keys out again for the new width.
        self.query_one(Footer).refresh(recompose=True)

    def action_toggle_checklist(self) -> None:
        self.checklist.action_toggle_collapsed()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.pane(tab).focus_target().focus()
        self.refresh_panes()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_panes()

    def action_help(self) -> None:
        self.show_help()

    def show_help(self) -> None:
        read_only = self.host.campaign.read_only
        # A pane's work key works from anywhere, but the help lists it under its pane only.
        pane_keys = {b.key for pane in PANES for b in pane.help_entries() if isinstance(b, Binding)}
        everywhere = [b for b in MainScreen.BINDINGS if isinstance(b, Binding) and b.key not in pane_keys and not (read_only and b.key == "r")]
        groups: list[tuple[str, list[BindingType]]] = [
            ("Everywhere", list(everywhere)),
            ("Checklist", list(Checklist.BINDINGS)),
            *((f"{i} {pane.TITLE}", pane.help_entries()) for i, pane in enumerate(PANES, 1)),
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
        if read_only:
            notes.insert(0, f"[b]Read-only[/b]: {escape(self.host.holder)} drives this campaign; no key starts work.\n")
        self.app.push_screen(HelpScreen(groups, notes))

    # --- work: every action below starts through the app's gate -------------------------

    def commands(self) -> Iterable[SystemCommand]:
        """The palette's commands for this screen's work."""
        yield SystemCommand("Help: every key", "keys by pane, notifications (also ? and F1)", self.show_help)
        yield SystemCommand("Run all", "every automatable step in order, up to the next manual one (r)", self.run_all)
        yield SystemCommand("Re-copy failed", "re-copy the failed paths and re-validate those datasets (c)", self.recopy)
        yield SystemCommand("Export PR patch", "write the registry patch to its default path (e)", self.export_patch)
        yield SystemCommand("Export PR patch to...", "write the registry patch to a path you choose", self.export_patch_to)
        yield SystemCommand("Apply PR patch", "apply the patch on a new branch of the registry (a)", self.apply_patch)
        yield SystemCommand("Split stuck parcel", "the parcel selected in Validators, in 2 (x)", self.action_split_stuck)
        for name in StepName:
            yield SystemCommand(f"Step: {SPECS[name].title}", "run or confirm this runbook step", partial(self.run_step_named, name))

    def action_run_all(self) -> None:
        self.run_all()

    def action_recopy(self) -> None:
        self.recopy()

    def action_export_patch(self) -> None:
        self.export_patch()

    def action_apply_patch(self) -> None:
        self.apply_patch()

    def action_split_stuck(self) -> None:
        self.split_stuck(self.query_one(ValidatorsPane).selected())

    def action_leave_out(self) -> None:
        self.leave_out(self.query_one(FailedPane).selected_pair())

    def action_revalidate(self) -> None:
        self.revalidate(self.query_one(FailedPane).selected_pair())

    def on_checklist_step_chosen(self, message: Checklist.StepChosen) -> None:
        self.run_step_named(message.name)

    def on_results_pane_pair_chosen(self, message: ResultsPane.PairChosen) -> None:
        self.open_detail(message.pair)

    def on_failed_pane_pair_chosen(self, message: FailedPane.PairChosen) -> None:
        self.open_detail(message.pair)

    def on_failed_pane_path_chosen(self, message: FailedPane.PathChosen) -> None:
        self.open_detail(message.url, failed_path_loader(self.host.campaign))

    def open_detail(self, pair: str, load: DetailLoader | None = None) -> None:
        self.app.push_screen(DetailScreen(pair, load or campaign_detail_loader(self.host.campaign)))

    def run_step_named(self, name: StepName, continue_run_all: bool = False) -> None:
        host = self.host
        campaign = host.campaign
        if name in host.manual_steps:
            if not host.allowed(f"confirm {name.value}"):
                return
            prompt = SPECS[name].prompt
            assert prompt is not None, f"{name} is manual, so its spec asks for its note"

            def confirm(note: str) -> str:
                confirm_manual(campaign, name, note)
                return f"{SPECS[name].title}: done ({note})"

            def noted(note: str | None) -> None:
                if note:
                    self._continue_run_all = continue_run_all
                    host.start_work(f"confirm {name.value}", partial(confirm, note))
                elif continue_run_all:
                    host.log_line(f"run all: waiting at {SPECS[name].title}; Enter on it when it is done")

            # The library's check of the note, asked before the dialog closes: a refusal
            # shows in it, and the operator types again.
            check = partial(check_manual_note, campaign.config, name)
            self.app.push_screen(PromptModal(prompt.question, placeholder=prompt.placeholder, check=check, needed=f"an answer ({prompt.placeholder})"), noted)
            return

        def work() -> str:
            run_step(campaign, name, host.emit, host.cancel)
            return f"{SPECS[name].title}: {campaign.state.step(name).note}"

        host.start_work(name.value, work, notify=SPECS[name].notify)

    def run_all(self) -> None:
        host = self.host
        campaign = host.campaign

        # The library asks before the first hook that costs or publishes; unless the
        # campaign says not to ([run] confirm = false), the operator answers in a dialog.
        ask = self._ask_from_work if campaign.config.confirm_run else None

        def work() -> str:
            outcome = run_campaign(campaign, str(host.campaign_path), host.emit, host.cancel, confirm=ask)
            if outcome.stopped_at in host.manual_steps:
                # Its prompt opens when this work has ended; never a CLI command, since
                # Enter on the step does the same.
                self._manual_next = outcome.stopped_at
                return f"run all: stopped at {SPECS[outcome.stopped_at].title}, a manual step"
            if outcome.stop is Stop.FAILED and outcome.stopped_at is not None:
                # Its fix is in the Failed pane, with keys; never a CLI command here.
                return f"run all: {SPECS[outcome.stopped_at].title} did not reach its goal; what to do next is in 3 Failed"
            return f"run all: {outcome.message}"

        host.start_work("run all", work, notify=True)

    def _ask_from_work(self, question: str) -> bool:
        """The run's question in a dialog, from the work's thread: it waits for the
        answer, and takes a stop (quit, a signal) for a no, so a quit never hangs."""
        answered = threading.Event()
        said: list[bool] = []

        def answer(yes: bool | None) -> None:
            said.append(bool(yes))
            answered.set()

        self.post_message(Question(question, answer))
        while not answered.wait(0.1):
            if self.host.cancel.is_set():
                return False
        return said[0]

    def on_question(self, message: Question) -> None:
        self.app.push_screen(ConfirmModal(f"{message.text}.\nGo on?", yes="Go on", no="Stop here"), message.answer)

    def _may_act_on(self, selected: str | None, what: str, selection: str) -> TypeGuard[str]:
        """Whether `what` may start on the selected row: not while other work runs or in
        a read-only session, and not with nothing selected (each said in a toast)."""
        if not self.host.allowed(what):
            return False
        if selected is None:
            self.app.notify(f"select {selection} first", severity="warning")
            return False
        return True

    def leave_out(self, name: str | None) -> None:
        """Leave the selected dataset out of the registry patch, with the operator's
        reason: it keeps its previous cache entry, and the next run exports again."""
        host = self.host
        campaign = host.campaign
        if not self._may_act_on(name, "leave a dataset out", FAILED_SELECTION):
            return

        def work(reason: str) -> str:
            left = exclude.run(campaign, [name], reason)
            return f"left {', '.join(left)} out of the registry patch ({reason}); run all exports it again"

        def chosen(reason: str | None) -> None:
            if reason:
                host.start_work(f"leave {name} out", partial(work, reason))

        question = f"Leave {name} out of the registry patch? It keeps its previous cache entry. Why?"
        self.app.push_screen(PromptModal(question, placeholder="the reason, for the patch and the PR", needed="a reason"), chosen)

    def revalidate(self, name: str | None) -> None:
        """Validate the selected pair (or a failed path's dataset's pairs) again, with
        --force: after its log store was fixed, or when it has no result."""
        host = self.host
        campaign = host.campaign
        if not self._may_act_on(name, "validate again", FAILED_SELECTION):
            return

        def work() -> str:
            pairs = queries.pairs_of(campaign, [name]) or [name]
            run = validate.run(campaign, host.emit, host.cancel, names=pairs, force=True, count=1, prefix="again-", step=None)
            valid = sum(r.is_valid for r in run.rows)
            return f"validated {', '.join(pairs)} again: {valid} of {len(run.rows)} rows valid"

        host.start_work(f"validate {name} again", work)

    def recopy(self) -> None:
        host = self.host
        campaign = host.campaign
        name = StepName.RECOPY_FAILED
        host.start_work(name.value, lambda: recopy_failed.run(campaign, host.emit, host.cancel), notify=SPECS[name].notify)

    def export_patch(self, path: Path | None = None) -> None:
        """Export at once (no prompt for keys typed after `e` to land in) to the default
        path; the palette offers a chosen path."""
        campaign = self.host.campaign
        self.host.start_work("export the PR patch", lambda: f"exported the PR patch to {registry_export.run(campaign, out=path)}")

    def export_patch_to(self) -> None:
        if not self.host.allowed("export the PR patch"):
            return
        default = str(queries.patch_path(self.host.campaign))

        def chosen(path: str | None) -> None:
            if path:
                self.export_patch(Path(path).expanduser())

        self.app.push_screen(PromptModal("Export the registry patch to", value=default), chosen)

    def apply_patch(self) -> None:
        """Refused in a toast where the library refuses (outside git); otherwise asked,
        naming what the registry would get unchecked. Both read in a thread."""
        host = self.host
        campaign = host.campaign
        if not host.allowed("apply the PR patch"):
            return

        def check() -> None:
            try:
                registry_export.check_apply(campaign)
                risks = queries.apply_risks(campaign)
            except LogcacheError as exc:
                self.app.call_from_thread(self._apply_refused, exc.one_line())
                return
            self.app.call_from_thread(self._ask_apply, risks)

        self.app.run_worker(check, thread=True, group="apply-check", exclusive=True, exit_on_error=False)

    def _apply_refused(self, why: str) -> None:
        self.host.log_line(f"apply the PR patch: refused: {why}", "warning")
        self.app.notify(why, title="not applied", severity="error", timeout=15)

    def _ask_apply(self, risks: list[str]) -> None:
        host = self.host
        campaign = host.campaign

        def confirmed(yes: bool | None) -> None:
            if yes:
                host.start_work("apply the PR patch", lambda: f"applied the PR patch: {registry_export.apply_registry(campaign)}")

        question = "Apply the registry patch on a new branch of the registry's work tree?"
        if risks:
            question = f"Not every row is known valid: {'; '.join(risks)}.\nThe registry would get them unchecked. {question}"
        self.app.push_screen(ConfirmModal(question, yes="Apply anyway" if risks else "Apply"), confirmed)

    def split_stuck(self, label: str | None) -> None:
        host = self.host
        campaign = host.campaign
        if not self._may_act_on(label, "split a stuck parcel", "a parcel in the Validators pane (2)"):
            return

        def split() -> str:
            run = validate.split_stuck(campaign, label, 2, host.emit, host.cancel)
            return f"split parcel {label}: {run.pairs} pairs checked again"

        def confirmed(yes: bool | None) -> None:
            if yes:
                host.start_work(f"split parcel {label}", split)

        self.app.push_screen(ConfirmModal(f"Split what parcel {label} has not finished into 2 new parcels?", yes="Split"), confirmed)

    def after_work(self, message: WorkEnded) -> None:
        """Work started through the gate ended (the app is idle again): show where the
        runbook stands, and go on with what the operator asked for."""
        self.checklist.select(self._current_step())
        self.refresh_panes(force=True)
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

    def _offer_recopy(self) -> None:
        host = self.host
        open_paths = host.campaign.state.open_failed_paths()
        if len(open_paths) <= self._offered or host.busy or host.campaign.read_only:
            self._offered = min(self._offered, len(open_paths))
            return
        self._offered = len(open_paths)
        question = f"{len(open_paths)} failed paths, e.g. {open_paths[-1].url}.\nRe-copy them and re-validate just those datasets?"

        def answer(yes: bool | None) -> None:
            if yes:
                self.recopy()

        self.app.push_screen(ConfirmModal(question, yes="Re-copy", no="Later"), answer)


def without_work_keys(pane: type[Pane]) -> type[Pane]:
    """`pane` whose footer shows none of the keys that start work (those run screen
    actions): the keys still answer, through the gate, saying why nothing starts."""
    hidden = [
        replace(b, show=False) if isinstance(b, Binding) and b.action.startswith("screen.") else b for b in pane.BINDINGS
    ]
    return type(pane.__name__, (pane,), {"BINDINGS": hidden})


class ReadOnlyMainScreen(MainScreen):
    """The same screen for a campaign another operator drives: the footer offers no work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "run_all", "Run all", show=False)]
    panes: ClassVar[Sequence[type[Pane]]] = tuple(without_work_keys(cls) for cls in PANES)
