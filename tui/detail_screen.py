"""One validation pair, or one failed path, in full (for a pair: counts, T, max t,
sample datoms and where they came from, the command that reruns it), loaded in a thread
and wrapped to the screen; `y` copies its command, Escape goes back."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from logcache.campaign import Campaign
from logcache.errors import LogcacheError, describe
from logcache.runbook import queries
from tui.widgets.wrapped_log import WrappedLog

DetailLoader = Callable[[str], list[str]]
COMMAND_LABELS = ("rerun", "fix")  # the line of a detail that holds its command


def campaign_detail_loader(campaign: Campaign) -> DetailLoader:
    """The runbook's detail of a pair (as `logcache show` gives it), as plain lines."""

    def load(pair: str) -> list[str]:
        return queries.detail_lines(campaign, pair)

    return load


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "back", "Back"), Binding("y", "copy", "Copy command")]
    DEFAULT_CSS = """
    DetailScreen > #detail-title { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    DetailScreen > WrappedLog { height: 1fr; padding: 0 1; }
    """

    def __init__(self, pair: str, load: DetailLoader) -> None:
        super().__init__()
        self.pair, self.load = pair, load

    def compose(self) -> ComposeResult:
        yield Static(f"{self.pair}  (Escape: back, y: copy command)", id="detail-title", markup=False)
        yield WrappedLog(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(WrappedLog).add_line("loading ...")
        self.run_worker(self._load, thread=True, exit_on_error=False, group="detail")

    def _load(self) -> None:
        try:
            lines = self.load(self.pair)
        except LogcacheError as exc:
            lines = [exc.one_line()]
        except Exception as exc:  # noqa: BLE001 - a bug in the detail must not kill the session
            lines = [f"internal error: {describe(exc)}"]
        self.app.call_from_thread(self._show, lines)

    def _show(self, lines: list[str]) -> None:
        log = self.query_one(WrappedLog)
        log.clear_lines()
        for line in lines:
            log.add_line(line)
        log.focus()

    @property
    def text(self) -> str:
        """What the screen shows, as plain text (for tests and screen readers): its
        lines as written, before they are wrapped to the screen."""
        return "\n".join(self.query_one(WrappedLog).texts)

    def command(self) -> str:
        """What `y` copies: the command the detail gives (its `rerun:` or `fix:` line),
        else the pair or path it shows."""
        for line in reversed(self.query_one(WrappedLog).texts):
            label, _, rest = line.strip().partition(": ")
            if label in COMMAND_LABELS and rest:
                return rest
        return self.pair

    def action_copy(self) -> None:
        text = self.command()
        self.app.copy_to_clipboard(text)
        self.notify(text, title="copied to the clipboard")

    def action_back(self) -> None:
        self.dismiss(None)
