"""`?` and F1: every key of the app, grouped by where it works; Escape closes. Lines are
wrapped to the box with a hanging indent (a key's description under its description,
a note under its note), again when the terminal is resized."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {
    "question_mark": "?", "f1": "F1", "enter": "Enter", "escape": "Escape", "home": "Home", "end": "End", "pageup": "PgUp", "pagedown": "PgDn",
    "up": "Up", "down": "Down", "slash": "/",
}
KEY_WIDTH = 14
BOX_WIDTH = 96  # the box's width in DEFAULT_CSS
KEYED = re.compile(r"^ +\S+ {2,}")
# A line and the indent its wrapped continuation lines take.
HelpLine = tuple[str, int]


def key_lines(groups: Iterable[tuple[str, list[BindingType]]]) -> list[HelpLine]:
    lines: list[HelpLine] = []
    for title, bindings in groups:
        shown = [b for b in bindings if isinstance(b, Binding) and b.description]
        if not shown:
            continue
        lines.append((f"[b]{title}[/b]", 0))
        for b in shown:
            keys = ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in b.key.split(","))
            lines.append((f"  {keys:<{KEY_WIDTH}} {b.description}", KEY_WIDTH + 3))
        lines.append(("", 0))
    return lines


def note_lines(notes: Iterable[str]) -> list[HelpLine]:
    """A note continues under its first character; `  key    text`, under its text."""
    lines: list[HelpLine] = []
    for line in (line for note in notes for line in note.split("\n")):
        keyed = KEYED.match(line)
        lines.append((line, len(keyed.group(0)) if keyed else len(line) - len(line.lstrip(" "))))
    return lines


def wrapped(lines: Iterable[HelpLine], width: int) -> str:
    out: list[str] = []
    for line, hang in lines:
        if len(line) <= width or width <= hang + 10:
            out.append(line)
        else:
            out.extend(textwrap.wrap(line, width, subsequent_indent=" " * hang, break_on_hyphens=False))
    return "\n".join(out)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss_help", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, groups: list[tuple[str, list[BindingType]]], notes: list[str]) -> None:
        super().__init__()
        self.lines = [("[b]logcache keys[/b]  (Escape closes)", 0), ("", 0), *key_lines(groups), *note_lines(notes)]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(wrapped(self.lines, 10_000), id="help-text")

    def on_resize(self, event: events.Resize) -> None:
        # The box's frame (border and padding) and a scrollbar's room: the text is
        # longer than a 24-line screen.
        width = min(BOX_WIDTH, event.size.width) - 4 - 2
        if width > 0:
            self.query_one("#help-text", Static).update(wrapped(self.lines, width))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
