"""The Failed pane: every failed path (with its dataset and the error) and every invalid
pair of the latest validation; Enter on an invalid pair opens its detail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from logcache.runbook.queries import ResultRow
from state.model import CampaignState, FailedPath, FailedPathOrigin, Resolution
from tui.glyphs import Glyphs
from tui.live import Live
from tui.statuses import Verdict
from tui.widgets.pane import PaneDefaults
from tui.widgets.table import KeyedTable, styled

PAIR_PREFIX = "pair:"


def path_error(fp: FailedPath, reasons: dict[str, str]) -> str:
    if fp.note:
        return fp.note
    if reasons.get(fp.dataset_name):
        return reasons[fp.dataset_name]
    return {FailedPathOrigin.COPY: "copy failed", FailedPathOrigin.DISCOVER: "path does not exist at the source"}.get(fp.origin, "missing at the destination")


class FailedPane(PaneDefaults, Vertical):
    TAB: ClassVar[str] = "failed"
    TITLE: ClassVar[str] = "Failed"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "screen.recopy", "Re-copy failed"),
        Binding("enter", "choose", "Detail"),
    ]
    DEFAULT_CSS = """
    FailedPane { height: 1fr; }
    FailedPane > .summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    class PairChosen(Message):
        """Enter on an invalid pair: show its detail."""

        def __init__(self, pair: str) -> None:
            super().__init__()
            self.pair = pair

    class PathChosen(Message):
        """Enter on a failed path: show it in full."""

        def __init__(self, url: str, text: str) -> None:
            super().__init__()
            self.url, self.text = url, text

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self._invalid: list[ResultRow] = []
        self._results: list[ResultRow] | None = None
        self._errors: dict[str, str] = {}
        self._shape: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("no failed paths", id="failed-summary", classes="summary", markup=False)
        yield KeyedTable((("dataset", "dataset"), ("state", "state"), ("error", "error"), ("from", "origin"), ("path", "url")), id="failed-table")

    def focus_target(self) -> Widget:
        return self.query_one(KeyedTable)

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """Rebuilt only when the failed paths or the invalid pairs (of the latest results,
        aggregate or validation) change."""
        if live.results is not self._results:
            self._results = live.results
            self._invalid = [r for r in live.results if not r.is_valid]
        open_count = len(state.open_failed_paths())
        shape = (len(state.failed_paths), open_count, sum(fp.resolution is Resolution.REVALIDATED for fp in state.failed_paths), id(self._invalid))
        if shape == self._shape and not force:
            return
        self._shape = shape
        reasons = {d.name: d.reason for d in state.datasets if d.reason} if state.failed_paths else {}
        rows: list[tuple[str, Sequence[object]]] = []
        self._errors = {}
        for fp in state.failed_paths:
            error = path_error(fp, reasons)
            self._errors[fp.url] = error
            rows.append((fp.url, (fp.dataset_name, styled(fp.resolution), error, fp.origin, fp.url)))
        for r in self._invalid:
            pair = f"{r.dataset}/{r.validation}"
            rows.append((PAIR_PREFIX + pair, (pair, styled(Verdict.INVALID), f"{r.error_kind}: {r.error}" if r.error else r.error_kind, "validation", "Enter: detail")))
        self.query_one(KeyedTable).sync(rows)
        parts = []
        if state.failed_paths:
            parts.append(f"{open_count} open of {len(state.failed_paths)} failed paths" + ("  c: re-copy and re-validate" if open_count else ""))
        if self._invalid:
            parts.append(f"{len(self._invalid)} invalid pairs  Enter: detail")
        self.query_one("#failed-summary", Static).update("; ".join(parts) or "no failed paths, no invalid pairs")

    def action_choose(self) -> None:
        key = self.query_one(KeyedTable).selected_key()
        if key is None:
            return
        if key.startswith(PAIR_PREFIX):
            self.post_message(self.PairChosen(key.removeprefix(PAIR_PREFIX)))
        else:
            self.post_message(self.PathChosen(key, self._errors.get(key, "")))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()
