"""The Log pane: what happened, newest last; bounded, and reloaded from the campaign's
event log when the app opens."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from textual.binding import Binding, BindingType

from logcache.runbook.journal import JournalEntry
from tui.widgets.wrapped_log import WrappedLog

MAX_LINES = 5000


class LogPane(WrappedLog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES)

    def focus_table(self) -> None:
        self.focus()

    def add(self, when: datetime, text: str) -> None:
        self.add_line(f"{when:%H:%M:%S} {text}")

    def add_past(self, entry: JournalEntry) -> None:
        """An entry of an earlier session, in local time, with its day and operator."""
        try:
            when = datetime.strptime(entry.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).astimezone()
            stamp = f"{when:%m-%d %H:%M:%S}"
        except ValueError:
            stamp = entry.at
        self.add_line(f"{stamp} {entry.operator}: {entry.text}")
