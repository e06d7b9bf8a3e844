"""The Results pane: one row per (dataset, validation), a line per error kind, and Enter
for the detail of a pair."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from logcache.runbook.queries import ResultRow
from state.model import CampaignState
from tui.glyphs import Glyphs
from tui.live import Live
from tui.statuses import Verdict
from tui.widgets.pane import PaneDefaults
from tui.widgets.table import KeyedTable, styled

MAX_KIND_LINES = 4


def outcome(row: ResultRow) -> Verdict:
    """The pair's outcome: valid, invalid (what the data shows) or not checked."""
    return Verdict.VALID if row.is_valid else Verdict.INVALID if row.checked else Verdict.NOT_CHECKED


def kind_lines(rows: Sequence[ResultRow]) -> list[str]:
    """One line per error kind: how many, and the first pair of that kind."""
    invalid = [r for r in rows if not r.is_valid]
    counts = Counter(r.error_kind for r in invalid)
    first: dict[str, str] = {}
    for r in invalid:
        first.setdefault(r.error_kind, f"{r.dataset}/{r.validation}")
    return [f"{kind}: {n}, e.g. {first[kind]}" for kind, n in counts.most_common()]


class ResultsPane(PaneDefaults, Vertical):
    TAB: ClassVar[str] = "results"
    TITLE: ClassVar[str] = "Results"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "toggle_invalid", "Invalid only"),
        Binding("enter", "choose", "Detail"),
        Binding("s", "sort", "Sort"),
    ]
    DEFAULT_CSS = """
    ResultsPane { height: 1fr; }
    ResultsPane > .summary { height: auto; max-height: 5; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    class PairChosen(Message):
        """Enter on a row: show the pair's detail."""

        def __init__(self, pair: str) -> None:
            super().__init__()
            self.pair = pair

    def __init__(self, glyphs: Glyphs) -> None:
        super().__init__()
        self.invalid_only = False
        self._rows: list[ResultRow] = []
        self._state: CampaignState | None = None
        self._shape: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("no results yet", id="results-summary", classes="summary", markup=False)
        yield KeyedTable((("dataset", "dataset"), ("valid", "valid"), ("validation", "validation"), ("error", "error")), id="results-table")

    def focus_target(self) -> Widget:
        return self.query_one(KeyedTable)

    def refresh_from(self, state: CampaignState, live: Live, force: bool = False) -> None:
        """Rebuilt only when the app has read new results or the aggregate changed."""
        shape = (id(live.results), id(state.aggregate))
        if shape != self._shape or force:
            self._shape = shape
            self.show(state, live.results)

    def show(self, state: CampaignState, rows: list[ResultRow]) -> None:
        self._state, self._rows = state, rows
        shown = [r for r in rows if not (self.invalid_only and r.is_valid)]
        self.query_one(KeyedTable).sync(
            (f"{r.dataset}/{r.validation}", (r.dataset, styled(outcome(r)), r.validation, r.error_kind if not r.is_valid else ""))
            for r in shown
        )
        flag = "  (invalid only)" if self.invalid_only else ""
        a = state.aggregate
        if a is not None:
            unchecked = f", {a.not_checked} not checked" if a.not_checked else ""
            head = f"{a.valid}/{a.rows} valid: " + ("all valid" if a.all_valid else f"{a.invalid} invalid{unchecked}") + flag
        elif rows:
            valid = sum(r.is_valid for r in rows)
            not_checked = sum(not r.checked for r in rows)
            unchecked = f", {not_checked} not checked" if not_checked else ""
            head = f"{valid}/{len(rows)} valid so far{unchecked} (not aggregated yet)" + flag
        else:
            head = "no results yet"
        lines = kind_lines(rows)
        if len(lines) > MAX_KIND_LINES:
            lines = lines[: MAX_KIND_LINES - 1] + [f"and {len(lines) - MAX_KIND_LINES + 1} more kinds"]
        self.query_one("#results-summary", Static).update("\n".join([head, *lines]))

    def action_toggle_invalid(self) -> None:
        self.invalid_only = not self.invalid_only
        if self._state is not None:
            self.show(self._state, self._rows)

    def action_choose(self) -> None:
        key = self.query_one(KeyedTable).selected_key()
        if key is not None:
            self.post_message(self.PairChosen(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_sort(self) -> None:
        self.query_one(KeyedTable).action_sort_next()
