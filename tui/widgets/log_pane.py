"""The Log pane: what happened, newest last; bounded, and reloaded from the campaign's
event log when the app opens. Its lines come from `Live.log`, which the app fills."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget

from logcache.runbook.journal import JournalEntry
from state.model import CampaignState
from tui.glyphs import Glyphs
from tui.live import LOG_LINES, Live, Logged
from tui.widgets.pane import PaneDefaults
from tui.widgets.wrapped_log import WrappedLog


def log_text(item: Logged) -> str:
    """A line of this session with its time; an entry of an earlier session in local
    time, with its day and operator."""
    if not isinstance(item, JournalEntry):
        when, text = item
        return f"{when:%H:%M:%S} {text}"
    try:
        at = datetime.strptime(item.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).astimezone()
        stamp = f"{at:%m-%d %H:%M:%S}"
    except ValueError:
        stamp = item.at
    return f"{stamp} {item.operator}: {item.text}"


class LogPane(PaneDefaults, WrappedLog):
    TAB: ClassVar[str] = "log"
    TITLE: ClassVar[str] = "Log"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__(id="log-view", max_lines=LOG_LINES)
        self._written = 0  # of `Live.logged`

    def focus_target(self) -> Widget:
        return self

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """The lines added since the last refresh (those still kept)."""
        new = min(live.logged - self._written, len(live.log))
        for item in islice(live.log, len(live.log) - new, None):
            self.add_line(log_text(item))
        self._written = live.logged
