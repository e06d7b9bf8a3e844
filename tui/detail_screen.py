"""One validation pair in full (counts, T, max t, sample datoms and where they came
from, the command that reruns it), loaded in a thread; Escape goes back."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from logcache.campaign import Campaign
from logcache.errors import LogcacheError, describe
from logcache.runbook import queries

DetailLoader = Callable[[str], list[str]]


def campaign_detail_loader(campaign: Campaign) -> DetailLoader:
    """The runbook's detail of a pair (as `logcache show` gives it), as plain lines."""

    def load(pair: str) -> list[str]:
        return queries.detail_lines(campaign, pair)

    return load


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "back", "Back")]
    DEFAULT_CSS = """
    DetailScreen > #detail-title { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    DetailScreen > RichLog { height: 1fr; padding: 0 1; }
    """

    def __init__(self, pair: str, load: DetailLoader) -> None:
        super().__init__()
        self.pair, self.load = pair, load

    def compose(self) -> ComposeResult:
        yield Static(f"{self.pair}  (Escape: back)", id="detail-title", markup=False)
        yield RichLog(id="detail-body", wrap=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RichLog).write("loading ...")
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
        log = self.query_one(RichLog)
        log.clear()
        for line in lines:
            log.write(line)
        log.focus()

    @property
    def text(self) -> str:
        """What the screen shows, as plain text (for tests and screen readers)."""
        return "\n".join(strip.text for strip in self.query_one(RichLog).lines)

    def action_back(self) -> None:
        self.dismiss(None)
