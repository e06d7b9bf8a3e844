"""`?` and F1: every key of the app, grouped by where it works; Escape closes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {"question_mark": "?", "f1": "F1", "enter": "Enter", "escape": "Escape", "home": "Home", "end": "End", "pageup": "PgUp", "pagedown": "PgDn", "up": "Up", "down": "Down"}


def key_lines(groups: Iterable[tuple[str, list[BindingType]]]) -> list[str]:
    lines: list[str] = []
    for title, bindings in groups:
        shown = [b for b in bindings if isinstance(b, Binding) and b.description]
        if not shown:
            continue
        lines.append(f"[b]{title}[/b]")
        for b in shown:
            keys = ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in b.key.split(","))
            lines.append(f"  {keys:<14} {b.description}")
        lines.append("")
    return lines


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss_help", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 72; max-width: 100%; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, groups: list[tuple[str, list[BindingType]]], notes: list[str]) -> None:
        super().__init__()
        self.groups, self.notes = groups, notes

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("\n".join(["[b]logcache keys[/b]  (Escape closes)", "", *key_lines(self.groups), *self.notes]), id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
