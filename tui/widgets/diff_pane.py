"""The PR diff pane: the registry patch the export writes, as a diff."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static


class DiffPane(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "screen.export_patch", "Export PR"),
        Binding("a", "screen.apply_patch", "Apply PR"),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    DiffPane { height: 1fr; }
    DiffPane > #diff-summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def compose(self) -> ComposeResult:
        yield Static("the registry diff appears after discovery", id="diff-summary", markup=False)
        yield Static("", id="diff-body")

    def focus_table(self) -> None:
        self.focus()

    def show(self, summary: str, diff: str) -> None:
        self.query_one("#diff-summary", Static).update(summary)
        self.query_one("#diff-body", Static).update(Syntax(diff or "(no changes)", "diff", theme="ansi_dark", word_wrap=False))
