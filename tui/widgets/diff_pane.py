"""The PR diff pane: the registry patch the export writes, as a diff, under its counts
and the datasets left out of it with their reasons."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from state.model import CampaignState
from tui.glyphs import Glyphs
from tui.live import Live, RegistryDiff
from tui.widgets.pane import PaneDefaults


class DiffPane(PaneDefaults, VerticalScroll):
    TAB: ClassVar[str] = "diff"
    TITLE: ClassVar[str] = "PR diff"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "screen.export_patch", "Export PR"),
        Binding("a", "screen.apply_patch", "Apply PR"),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    DiffPane { height: 1fr; }
    DiffPane > #diff-summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DiffPane > #diff-excluded { height: auto; padding: 0 1; color: $warning; display: none; }
    DiffPane > #diff-excluded.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static("the registry diff appears after discovery", id="diff-summary", markup=False)
        yield Static("", id="diff-excluded", markup=False)
        yield Static("", id="diff-body")

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self._shown: RegistryDiff | None = None

    def focus_target(self) -> Widget:
        return self

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        if live.diff is not None and (live.diff is not self._shown or force):
            self._shown = live.diff
            self.query_one("#diff-summary", Static).update(live.diff.summary)
            left_out = live.diff.excluded
            excluded = self.query_one("#diff-excluded", Static)
            excluded.update("\n".join(["left out (they keep their previous cache entry):", *(f"- {name}: {reason}" for name, reason in left_out)]))
            excluded.set_class(bool(left_out), "-shown")
            self.query_one("#diff-body", Static).update(Syntax(live.diff.diff or "(no changes)", "diff", theme="ansi_dark", word_wrap=False))
