"""The main screen: a header, the checklist, the tabbed panes and a footer that shows
the keys of the pane in focus. It routes keys and pane messages to the app's gate and
hands each pane the state and live progress to show; it never reaches into a pane."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tui.glyphs import Glyphs
from tui.widgets.checklist import Checklist, ChecklistLegend
from tui.widgets.copy_pane import CopyPane
from tui.widgets.diff_pane import DiffPane
from tui.widgets.failed_pane import FailedPane, failed_path_loader
from tui.widgets.lines import set_line
from tui.widgets.log_pane import LogPane
from tui.widgets.results_pane import ResultsPane
from tui.widgets.validators_pane import ValidatorsPane

if TYPE_CHECKING:
    from tui.app import LogcacheApp

# Below this width the checklist shows its icons only, so tables keep their room.
COLLAPSE_BELOW = 100
TABS = ("copy", "validators", "failed", "diff", "results", "log")


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
        Binding("1", "tab('copy')", "Copy", show=False),
        Binding("2", "tab('validators')", "Validators", show=False),
        Binding("3", "tab('failed')", "Failed", show=False),
        Binding("4", "tab('diff')", "PR diff", show=False),
        Binding("5", "tab('results')", "Results", show=False),
        Binding("6", "tab('log')", "Log", show=False),
    ]
    DEFAULT_CSS = """
    MainScreen > #header { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MainScreen > #main { height: 1fr; }
    MainScreen #tabs { width: 1fr; }
    MainScreen TabPane { padding: 0; }
    """

    # The pane classes this screen composes; a read-only screen swaps in variants.
    panes: ClassVar[dict[str, type[Widget]]] = {
        "copy": CopyPane, "validators": ValidatorsPane, "failed": FailedPane, "diff": DiffPane, "results": ResultsPane,
    }

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self.glyphs = glyphs
        self._auto_collapsed: bool | None = None

    @property
    def logcache(self) -> LogcacheApp:
        from tui.app import LogcacheApp

        assert isinstance(self.app, LogcacheApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static("", id="header")
        with Horizontal(id="main"):
            yield Checklist(self.glyphs, id="steps")
            with TabbedContent(id="tabs", initial="copy"):
                with TabPane("Copy", id="copy"):
                    yield self.panes["copy"](self.glyphs)  # type: ignore[call-arg]
                with TabPane("Validators", id="validators"):
                    yield self.panes["validators"](self.glyphs)  # type: ignore[call-arg]
                with TabPane("Failed", id="failed"):
                    yield self.panes["failed"]()
                with TabPane("PR diff", id="diff"):
                    yield self.panes["diff"]()
                with TabPane("Results", id="results"):
                    yield self.panes["results"]()
                with TabPane("Log", id="log"):
                    yield LogPane(id="log-view")
        yield ChecklistLegend(self.glyphs, id="legend")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.logcache.screen_ready()

    # --- the panes' public API, for the app ---------------------------------------------

    @property
    def checklist(self) -> Checklist:
        return self.query_one(Checklist)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def active_tab(self) -> str:
        return str(self.query_one(TabbedContent).active)

    def set_header(self, markup: str) -> None:
        set_line(self.query_one("#header", Static), markup)

    def refresh_panes(self, force: bool = False) -> None:
        """The header's and checklist's state, and the pane on screen (only that one)."""
        app = self.logcache
        campaign = app.campaign
        state = campaign.state
        self.set_header(app.header_markup())
        self.checklist.manual = app.manual_steps
        self.checklist.refresh_from(state)
        active = self.active_tab
        if active == "copy":
            self.query_one(CopyPane).refresh_from(state, app.live, force=force)
        elif active == "validators":
            self.query_one(ValidatorsPane).refresh_from(state, app.live)
        elif active == "failed":
            self.query_one(FailedPane).refresh_from(state)

    def show_results(self, rows: list) -> None:  # type: ignore[type-arg]
        state = self.logcache.campaign.state
        self.query_one(ResultsPane).show(state, rows)
        self.query_one(FailedPane).show_invalid(rows)

    def show_diff(self, summary: str, diff: str) -> None:
        self.query_one(DiffPane).show(summary, diff)

    def selected_parcel(self) -> str | None:
        return self.query_one(ValidatorsPane).selected()

    # --- layout -------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < COLLAPSE_BELOW
        if narrow != self._auto_collapsed:
            self._auto_collapsed = narrow
            self.checklist.collapsed = narrow
        # The footer lays its keys out again for the new width.
        self.query_one(Footer).refresh(recompose=True)

    def action_toggle_checklist(self) -> None:
        self.checklist.action_toggle()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(f"TabPane#{tab}").children[0]
        focus = getattr(pane, "focus_table", None)
        if focus is not None:
            focus()
        self.logcache.refresh_views()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.logcache.refresh_views()

    def action_help(self) -> None:
        self.logcache.show_help()

    # --- work: every key below goes through the app's gate ------------------------------

    def action_run_all(self) -> None:
        self.logcache.run_all()

    def action_recopy(self) -> None:
        self.logcache.recopy()

    def action_export_patch(self) -> None:
        self.logcache.export_patch()

    def action_apply_patch(self) -> None:
        self.logcache.apply_patch()

    def action_split_stuck(self) -> None:
        self.logcache.split_stuck(self.selected_parcel())

    def on_checklist_step_chosen(self, message: Checklist.StepChosen) -> None:
        self.logcache.run_step_named(message.name)

    def on_results_pane_pair_chosen(self, message: ResultsPane.PairChosen) -> None:
        self.logcache.open_detail(message.pair)

    def on_failed_pane_pair_chosen(self, message: FailedPane.PairChosen) -> None:
        self.logcache.open_detail(message.pair)

    def on_failed_pane_path_chosen(self, message: FailedPane.PathChosen) -> None:
        self.logcache.open_detail(message.url, failed_path_loader(self.logcache.campaign))


def without_work_keys(pane: type[Widget]) -> type[Widget]:
    """`pane` whose footer shows none of the keys that start work (those run screen
    actions): the keys still answer, through the gate, saying why nothing starts."""
    hidden = [
        replace(b, show=False) if isinstance(b, Binding) and b.action.startswith("screen.") else b for b in pane.BINDINGS
    ]
    return type(pane.__name__, (pane,), {"BINDINGS": hidden})


class ReadOnlyMainScreen(MainScreen):
    """The same screen for a campaign another operator drives: the footer offers no work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "run_all", "Run all", show=False)]
    panes: ClassVar[dict[str, type[Widget]]] = {name: without_work_keys(cls) for name, cls in MainScreen.panes.items()}

